/// A config problem: one line naming the file, the key path, the bad value and why.
public struct ConfigError: Error, Equatable, CustomStringConvertible, Sendable {
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
        var s = file
        if !keyPath.isEmpty { s += ": \(keyPath)" }
        if let v = value { s += ": '\(v.replacingNewlines())'" }
        return s + ": " + reason
    }
}

extension String {
    func replacingNewlines() -> String {
        var out = ""
        for ch in self {
            if ch == "\n" { out += "\\n" } else if ch == "\r" { out += "\\r" } else { out.append(ch) }
        }
        return out.count > 80 ? String(out.prefix(77)) + "..." : out
    }
}

/// Parses Go-style durations (`300ms`, `5s`, `1m30s`, `2h`) into seconds.
public enum Duration {
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

import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
