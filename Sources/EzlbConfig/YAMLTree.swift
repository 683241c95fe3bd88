import Foundation
import Yams

/// A cursor over a composed YAML node that knows its key path, records which
/// keys were read, and turns every type mistake into a `ConfigError`.
final class YAMLCursor {
    let file: String
    let node: Yams.Node?
    let path: String
    private let tracker: KeyTracker

    final class KeyTracker {
        /// Mapping key paths that exist in the file.
        var present: [String] = []
        /// Key paths some code looked up.
        var read: Set<String> = []
    }

    init(file: String, node: Yams.Node?, path: String = "", tracker: KeyTracker = KeyTracker()) {
        self.file = file
        self.node = node
        self.path = path
        self.tracker = tracker
        if case .mapping(let m)? = node {
            for (k, _) in m { if let ks = k.string { tracker.present.append(Self.join(path, ks)) } }
        }
    }

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }

    var isNull: Bool {
        guard let n = node else { return true }
        if case .scalar(let s) = n, s.tag.rawValue == Tag.Name.null.rawValue || (s.string == "~" || s.string == "null" || (s.string.isEmpty && s.style == .plain)) { return true }
        return false
    }

    func error(_ reason: String, value: String? = nil) -> ConfigError {
        ConfigError(file: file, keyPath: path, value: value ?? scalarText, reason: reason)
    }

    var scalarText: String? {
        if case .scalar(let s)? = node { return s.string }
        return nil
    }

    /// The child at `key` (absent keys give a null cursor).
    subscript(key: String) -> YAMLCursor {
        let p = Self.join(path, key)
        tracker.read.insert(p)
        var child: Yams.Node? = nil
        if case .mapping(let m)? = node { child = m[Yams.Node(key)] }
        return YAMLCursor(file: file, node: child, path: p, tracker: tracker)
    }

    func has(_ key: String) -> Bool { !self[key].isNull }

    /// Marks a whole subtree as read (for sections ezlb accepts but does not use).
    func markSubtreeRead() {
        for p in tracker.present where p == path || p.hasPrefix(path + ".") || p.hasPrefix(path + "[") {
            tracker.read.insert(p)
        }
    }

    func requireMapping() throws {
        if isNull { return }
        guard case .mapping? = node else { throw error("expected a mapping", value: kindName) }
    }

    var kindName: String {
        switch node {
        case .mapping?: return "<mapping>"
        case .sequence?: return "<list>"
        case .scalar(let s)?: return s.string
        case .alias?: return "<alias>"
        case nil: return "<missing>"
        }
    }

    func items() throws -> [YAMLCursor] {
        if isNull { return [] }
        guard case .sequence(let seq)? = node else { throw error("expected a list", value: kindName) }
        return seq.enumerated().map { i, n in YAMLCursor(file: file, node: n, path: "\(path)[\(i)]", tracker: tracker) }
    }

    func string() throws -> String? {
        if isNull { return nil }
        guard case .scalar(let s)? = node else { throw error("expected a string", value: kindName) }
        return s.string
    }

    func requiredString() throws -> String {
        guard let s = try string(), !s.isEmpty else { throw error("is required", value: nil) }
        return s
    }

    func bool() throws -> Bool? {
        if isNull { return nil }
        guard case .scalar(let s)? = node else { throw error("expected true or false", value: kindName) }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false")
        }
    }

    /// An integer within `range`; rejects fractions, hex typos and overflow instead of wrapping.
    func int(in range: ClosedRange<Int64>) throws -> Int64? {
        if isNull { return nil }
        guard case .scalar(let s)? = node else { throw error("expected an integer", value: kindName) }
        let t = s.string.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }), let v = Int64(t) else {
            throw error("expected an integer")
        }
        guard range.contains(v) else { throw error("must be between \(range.lowerBound) and \(range.upperBound)") }
        return v
    }

    /// A Go-style duration (`5s`, `300ms`) that must be > 0; returns seconds.
    func duration() throws -> Double? {
        if isNull { return nil }
        guard let t = try string() else { return nil }
        guard let d = Duration.parse(t) else { throw error("expected a duration like 5s, 300ms or 1m30s") }
        guard d > 0 else { throw error("must be greater than zero") }
        return d
    }

    /// Key paths present in the file that nothing looked up.
    var unreadKeys: [String] {
        tracker.present.filter { !tracker.read.contains($0) }
    }
}

extension ConfigError {
    /// Turns a Yams parse error into a one-line error with position.
    static func fromYAML(_ error: Error, file: String) -> ConfigError {
        if let y = error as? YamlError {
            switch y {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return ConfigError(file: file, keyPath: "line \(mark.line) column \(mark.column)", reason: "invalid YAML: \(problem)")
            case .reader(let problem, _, _, _):
                return ConfigError(file: file, keyPath: "", reason: "invalid YAML: \(problem)")
            case .duplicatedKeysInMapping(let dups, let ctx):
                return ConfigError(file: file, keyPath: "line \(ctx.mark.line)", value: dups.joined(separator: ", "), reason: "duplicate key")
            default:
                return ConfigError(file: file, keyPath: "", reason: "invalid YAML: \(y)".replacingNewlines())
            }
        }
        return ConfigError(file: file, keyPath: "", reason: "invalid YAML: \(error)".replacingNewlines())
    }
}
