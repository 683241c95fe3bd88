#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EzlbCore

/// A config problem: one line naming the file, the key path, the bad value and why. A flag
/// that overrides a key (`--node-id` for `node.id`) is checked by the same code: its key path
/// is the flag, and then the error is a usage error that does not name the file.
public struct ConfigError: EzlbError, Equatable, Sendable {
    public var exitStatus: ExitStatus { isFlag ? .usage : .config }
    var isFlag: Bool { keyPath.hasPrefix("--") }
    public var file: String
    public var keyPath: String
    public var value: String?
    public var reason: String

    public init(file: String, keyPath: String, value: String? = nil, reason: String) {
        self.file = file
        self.keyPath = keyPath
        self.value = value
        self.reason = reason
    }

    public var description: String {
        var s = isFlag ? keyPath : file
        if !keyPath.isEmpty && !isFlag { s += ": \(keyPath)" }
        if let v = value { s += ": '\(v.replacingNewlines())'" }
        return s + ": " + reason
    }
}

extension String {
    /// The value as a config error quotes it: escaped for a terminal, at most 80 characters.
    func replacingNewlines() -> String {
        let out = TerminalText.escaped(self)
        return out.count > 80 ? String(out.prefix(77)) + "..." : out
    }
}
/// Parses Go-style durations (`300ms`, `5s`, `1m30s`, `2h`) into seconds.
public enum Duration {
    /// The longest duration any setting accepts (one week): every duration
    /// becomes a timer, a sleep or an integer of milliseconds somewhere, and
    /// `99999999999999999999h` must be a config error, not an overflow.
    public static let maximum: Double = 7 * 24 * 3600
    public static let tooLongReason = "too long (at most 168h)"

    /// True when `seconds` cannot be used as a duration (infinite or above `maximum`).
    public static func isTooLong(_ seconds: Double) -> Bool { !seconds.isFinite || seconds > maximum }

    public static func parse(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(text.trimmedSpaces())
        if rest.isEmpty { return nil }
        if rest == "0" { return 0 }
        var total = 0.0
        while !rest.isEmpty {
            let num = rest.prefix { $0.isNumber || $0 == "." }
            guard !num.isEmpty, let v = Double(num) else { return nil }
            rest = rest.dropFirst(num.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += v * unit.1
        }
        return total
    }
}
