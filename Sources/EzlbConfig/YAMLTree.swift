import Foundation
import Yams

/// A plain tree of the YAML document. Yams' `Node` compares and hashes through
/// tag-resolution regexes; converting once keeps lookups O(1) on large configs.
indirect enum YNode {
    case scalar(String, isNull: Bool)
    case mapping([(key: String, value: YNode)], index: [String: Int])
    case sequence([YNode])

    init(_ node: Yams.Node) {
        switch node {
        case .scalar(let s):
            let isNull = s.style == .plain && (s.string.isEmpty || s.string == "~" || s.string == "null" || s.string == "Null" || s.string == "NULL")
            self = .scalar(s.string, isNull: isNull)
        case .mapping(let m):
            var pairs: [(key: String, value: YNode)] = []
            var index: [String: Int] = [:]
            pairs.reserveCapacity(m.count)
            for (k, v) in m {
                let key = k.string ?? "\(k)"
                index[key] = pairs.count
                pairs.append((key, YNode(v)))
            }
            self = .mapping(pairs, index: index)
        case .sequence(let seq):
            self = .sequence(seq.map(YNode.init))
        case .alias:
            self = .scalar("<alias>", isNull: false)
        }
    }
}

/// A cursor over the YAML tree that knows its key path, records which
/// keys were read, and turns every type mistake into a `ConfigError`.
final class YAMLCursor {
    let file: String
    let node: YNode?
    let path: String
    private let tracker: KeyTracker

    final class KeyTracker {
        /// Mapping key paths that exist in the file.
        var present: [String] = []
        /// Key paths some code looked up.
        var read: Set<String> = []
        /// Paths whose whole subtree counts as read.
        var subtrees: Set<String> = []
    }

    init(file: String, node: YNode?, path: String = "", tracker: KeyTracker = KeyTracker()) {
        self.file = file
        self.node = node
        self.path = path
        self.tracker = tracker
        if case .mapping(let pairs, _)? = node {
            for (k, _) in pairs { tracker.present.append(Self.join(path, k)) }
        }
    }

    /// Parses a whole config document; its top level must be a mapping (or empty).
    static func document(_ text: String, file: String) throws -> YAMLCursor {
        let node: YNode?
        do {
            // The basic resolver tags every scalar as a string: ezlb interprets
            // scalars itself, and skipping tag regexes keeps large configs fast.
            node = try Yams.compose(yaml: text, Resolver.basic).map(YNode.init)
        } catch {
            throw ConfigError.fromYAML(error, file: file)
        }
        let root = YAMLCursor(file: file, node: node)
        if !root.isNull {
            guard case .mapping? = node else { throw root.error("the top level must be a mapping", value: root.kindName) }
        }
        return root
    }

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }

    var isNull: Bool {
        switch node {
        case nil: return true
        case .scalar(_, let isNull)?: return isNull
        default: return false
        }
    }

    func error(_ reason: String, value: String? = nil) -> ConfigError {
        ConfigError(file: file, keyPath: path, value: value ?? scalarText, reason: reason)
    }

    var scalarText: String? {
        if case .scalar(let s, _)? = node { return s }
        return nil
    }

    /// The child at `key` (absent keys give a null cursor).
    subscript(key: String) -> YAMLCursor {
        let p = Self.join(path, key)
        tracker.read.insert(p)
        var child: YNode? = nil
        if case .mapping(let pairs, let index)? = node, let i = index[key] { child = pairs[i].value }
        return YAMLCursor(file: file, node: child, path: p, tracker: tracker)
    }

    func has(_ key: String) -> Bool { !self[key].isNull }

    /// Marks a whole subtree as read (for sections ezlb accepts but does not use).
    func markSubtreeRead() {
        tracker.subtrees.insert(path)
    }

    func requireMapping() throws {
        if isNull { return }
        guard case .mapping? = node else { throw error("expected a mapping", value: kindName) }
    }

    var kindName: String {
        switch node {
        case .mapping?: return "<mapping>"
        case .sequence?: return "<list>"
        case .scalar(let s, _)?: return s
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
        guard case .scalar(let s, _)? = node else { throw error("expected a string", value: kindName) }
        return s
    }

    func requiredString() throws -> String {
        guard let s = try string(), !s.isEmpty else { throw error("is required", value: nil) }
        return s
    }

    func bool() throws -> Bool? {
        if isNull { return nil }
        guard case .scalar(let s, _)? = node else { throw error("expected true or false", value: kindName) }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false")
        }
    }

    /// An integer within `range`; rejects fractions, hex typos and overflow instead of wrapping.
    func int(in range: ClosedRange<Int64>) throws -> Int64? {
        if isNull { return nil }
        guard case .scalar(let s, _)? = node else { throw error("expected an integer", value: kindName) }
        let t = s.trimmingCharacters(in: .whitespaces)
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

    /// Key paths present in the file that nothing looked up (nor lie in a subtree marked read).
    var unreadKeys: [String] {
        tracker.present.filter { p in
            if tracker.read.contains(p) { return false }
            // Ancestors end where a key path continues with '.' or '['.
            var prefix = ""
            for ch in p {
                if (ch == "." || ch == "[") && tracker.subtrees.contains(prefix) { return false }
                prefix.append(ch)
            }
            return !tracker.subtrees.contains(p)
        }
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
