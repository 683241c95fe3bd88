import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A plain tree of the YAML document, built from libyaml's events
/// (`YAMLEvents`); lookups are O(1). Every mapping key gets a document-wide
/// id, so tracking which keys were read costs an integer insert rather than a
/// key-path string.
indirect enum YNode {
    case scalar(String, isNull: Bool)
    case mapping(YMap)
    case sequence([YNode])
}

/// A mapping's keys in document order; key i has id `firstID + i`.
final class YMap {
    var keys: [String] = []
    var values: [YNode] = []
    var index: [String: Int] = [:]
    var firstID: Int
    init(firstID: Int) { self.firstID = firstID }
}

/// A cursor over the YAML tree that knows its key path, records which
/// keys were read, and turns every type mistake into a `ConfigError`.
final class YAMLCursor {
    let file: String
    let node: YNode?
    private let tracker: KeyTracker
    private let parent: YAMLCursor?
    private let component: Component
    /// Id of the mapping key that leads here (nil for the root and list items).
    private let keyID: Int?

    enum Component { case root, key(String), item(Int) }

    final class KeyTracker {
        /// Ids of mapping keys some code looked up.
        var read: Set<Int> = []
        /// Ids of keys whose whole subtree counts as read.
        var subtrees: Set<Int> = []
    }

    private init(file: String, node: YNode?, tracker: KeyTracker, parent: YAMLCursor?, component: Component, keyID: Int?) {
        self.file = file
        self.node = node
        self.tracker = tracker
        self.parent = parent
        self.component = component
        self.keyID = keyID
    }

    /// Parses a whole config document; its top level must be a mapping (or empty).
    static func document(_ text: String, file: String) throws -> YAMLCursor {
        let node: YNode?
        do {
            var next = 0
            node = try YAMLEvents.parse(text, nextID: &next)
        } catch let e as YAMLEvents.ParseError {
            throw ConfigError(file: file, keyPath: "line \(e.line) column \(e.column)", reason: "invalid YAML: \(e.problem)")
        }
        let root = YAMLCursor(file: file, node: node, tracker: KeyTracker(), parent: nil, component: .root, keyID: nil)
        if !root.isNull {
            guard case .mapping? = node else { throw root.error("the top level must be a mapping", value: root.kindName) }
        }
        return root
    }

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }

    /// The key path, e.g. `services[2].backends[0].address` (built only when asked for).
    var path: String {
        switch component {
        case .root: return ""
        case .key(let k): return Self.join(parent?.path ?? "", k)
        case .item(let i): return "\(parent?.path ?? "")[\(i)]"
        }
    }

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
        var child: YNode? = nil
        var id: Int? = nil
        if case .mapping(let m)? = node, let i = m.index[key] {
            child = m.values[i]
            id = m.firstID + i
            tracker.read.insert(m.firstID + i)
        }
        return YAMLCursor(file: file, node: child, tracker: tracker, parent: self, component: .key(key), keyID: id)
    }

    func has(_ key: String) -> Bool { !self[key].isNull }

    /// The keys of a mapping in document order (empty for anything else).
    var mappingKeys: [String] {
        if case .mapping(let m)? = node { return m.keys }
        return []
    }

    /// Marks a whole subtree as read (for sections ezlb accepts but does not use).
    func markSubtreeRead() {
        if let id = keyID { tracker.subtrees.insert(id) }
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
        return seq.enumerated().map { i, n in
            YAMLCursor(file: file, node: n, tracker: tracker, parent: self, component: .item(i), keyID: nil)
        }
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
        let t = s.trimmedSpaces()
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
        var out: [String] = []
        func walk(_ n: YNode, _ prefix: String) {
            switch n {
            case .scalar: return
            case .sequence(let items):
                for (i, v) in items.enumerated() { walk(v, "\(prefix)[\(i)]") }
            case .mapping(let m):
                for i in m.keys.indices {
                    let id = m.firstID + i
                    if tracker.subtrees.contains(id) { continue }
                    let p = Self.join(prefix, m.keys[i])
                    if !tracker.read.contains(id) { out.append(p); continue }
                    walk(m.values[i], p)
                }
            }
        }
        if let n = node { walk(n, path) }
        return out
    }
}
