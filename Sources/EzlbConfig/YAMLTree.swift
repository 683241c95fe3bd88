import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A parsed YAML document held in flat arrays: one entry per node, no object
/// per node, scalar text in one byte buffer (turned into a `String` only when
/// a caller asks for it). Built from libyaml's events by `YAMLEvents`. Every
/// node has exactly one parent (aliases are expanded into copies), so a node
/// knows its own key path, and read tracking is one bit per mapping key.
struct YAMLNodes {
    enum Kind: UInt8 { case scalar, null, mapping, sequence }

    /// Per node: its kind.
    var kinds: [Kind] = []
    /// Per node: a scalar's offset in `text`, a collection's offset in `children`.
    var starts: [Int32] = []
    /// Per node: a scalar's length in bytes, a collection's number of `children`
    /// entries (a mapping's are key, value, key, value, …).
    var counts: [Int32] = []
    /// Per node: the collection holding it (-1 for the root and unattached nodes).
    var parents: [Int32] = []
    /// Per node: a list item's index; a mapping value's key node; -2 for a mapping key.
    var slots: [Int32] = []
    var children: [Int32] = []
    var text: [UInt8] = []
    /// The root node, -1 for an empty document.
    var root: Int32 = -1

    var count: Int { kinds.count }

    mutating func addNode(_ kind: Kind, start: Int32, count: Int32) -> Int32 {
        let i = Int32(kinds.count)
        kinds.append(kind)
        starts.append(start)
        counts.append(count)
        parents.append(-1)
        slots.append(-1)
        return i
    }

    /// Appends a scalar whose text is `bytes`.
    mutating func addScalar(_ bytes: UnsafeBufferPointer<UInt8>, isNull: Bool) -> Int32 {
        let start = Int32(text.count)
        text.append(contentsOf: bytes)
        return addNode(isNull ? .null : .scalar, start: start, count: Int32(bytes.count))
    }

    /// Makes `items` (node indices; key/value pairs for a mapping) the children of a new collection node.
    mutating func addCollection(_ kind: Kind, _ items: ArraySlice<Int32>) -> Int32 {
        let node = addNode(kind, start: Int32(children.count), count: Int32(items.count))
        children.append(contentsOf: items)
        var j: Int32 = 0
        var k = items.startIndex
        while k < items.endIndex {
            let c = Int(items[k])
            parents[c] = node
            if kind == .mapping {
                slots[c] = -2
                let v = Int(items[k + 1])
                parents[v] = node
                slots[v] = Int32(c)
                k += 2
            } else {
                slots[c] = j
                j += 1
                k += 1
            }
        }
        return node
    }

    /// Copies the subtree at `i` (an alias), giving the copy its own nodes;
    /// scalar text is shared. Throws past `limit` nodes (alias bombs).
    mutating func copy(_ i: Int32, limit: Int) throws -> Int32 {
        guard count < limit else { throw YAMLEvents.ParseError(problem: "document too large after expanding aliases", line: 0, column: 0) }
        let kind = kinds[Int(i)]
        switch kind {
        case .scalar, .null:
            return addNode(kind, start: starts[Int(i)], count: counts[Int(i)])
        case .mapping, .sequence:
            let s = Int(starts[Int(i)]), n = Int(counts[Int(i)])
            var items: [Int32] = []
            items.reserveCapacity(n)
            for k in s..<s + n { items.append(try copy(children[k], limit: limit)) }
            return addCollection(kind, items[...])
        }
    }

    func string(_ i: Int32) -> String {
        let s = Int(starts[Int(i)]), n = Int(counts[Int(i)])
        return text.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[s..<s + n]), as: UTF8.self) }
    }

    /// True when scalar node `i` spells exactly `key`.
    func scalarEquals(_ i: Int32, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = Int(counts[Int(i)])
        guard n == key.count else { return false }
        if n == 0 { return true }
        let s = Int(starts[Int(i)])
        return text.withUnsafeBufferPointer { t in
            guard let a = t.baseAddress, let b = key.baseAddress else { return false }
            return memcmp(a + s, b, n) == 0
        }
    }

    func scalarEquals(_ i: Int32, _ j: Int32) -> Bool {
        let n = Int(counts[Int(j)]), s = Int(starts[Int(j)])
        return text.withUnsafeBufferPointer { scalarEquals(i, UnsafeBufferPointer(rebasing: $0[s..<s + n])) }
    }

    /// The key path of node `i`, e.g. `services[2].backends[0].address`.
    func path(_ i: Int32) -> String {
        let p = parents[Int(i)]
        if p < 0 { return "" }
        let slot = slots[Int(i)]
        if kinds[Int(p)] == .sequence { return "\(path(p))[\(slot)]" }
        return YAMLCursor.join(path(p), string(slot < 0 ? i : slot))
    }
}

/// A parsed document (immutable nodes) and which of its keys were read.
final class YAMLDocument {
    let file: String
    let nodes: YAMLNodes
    /// Bit per node: the mapping key was looked up.
    private var read: [UInt64]
    /// Bit per node: everything under this mapping key counts as read.
    private var subtrees: [UInt64]
    /// Key → (key, value) nodes of mappings too large for a linear scan, built on first lookup.
    private var largeMaps: [Int32: [String: (Int32, Int32)]] = [:]

    init(file: String, nodes: YAMLNodes) {
        self.file = file
        self.nodes = nodes
        read = [UInt64](repeating: 0, count: nodes.count / 64 + 1)
        subtrees = read
    }

    /// The key node and value node of `key` in mapping `map`, or nil.
    func lookup(_ map: Int32, _ key: String) -> (key: Int32, value: Int32)? {
        let start = Int(nodes.starts[Int(map)]), n = Int(nodes.counts[Int(map)])
        if n > 64 {
            if largeMaps[map] == nil {
                var index: [String: (Int32, Int32)] = [:]
                for k in stride(from: start, to: start + n, by: 2) { index[nodes.string(nodes.children[k])] = (nodes.children[k], nodes.children[k + 1]) }
                largeMaps[map] = index
            }
            return largeMaps[map]?[key]
        }
        func scan(_ kb: UnsafeBufferPointer<UInt8>) -> (key: Int32, value: Int32)? {
            var k = start
            while k < start + n {
                if nodes.scalarEquals(nodes.children[k], kb) { return (nodes.children[k], nodes.children[k + 1]) }
                k += 2
            }
            return nil
        }
        if let r = key.utf8.withContiguousStorageIfAvailable(scan) { return r }
        return Array(key.utf8).withUnsafeBufferPointer(scan)
    }

    func markRead(_ key: Int32) { read[Int(key) >> 6] |= 1 << UInt64(Int(key) & 63) }
    func markSubtree(_ key: Int32) { subtrees[Int(key) >> 6] |= 1 << UInt64(Int(key) & 63) }
    func wasRead(_ key: Int32) -> Bool { read[Int(key) >> 6] & (1 << UInt64(Int(key) & 63)) != 0 }
    func isSubtreeRead(_ key: Int32) -> Bool { subtrees[Int(key) >> 6] & (1 << UInt64(Int(key) & 63)) != 0 }
}

/// The kind of node under a cursor (`case .sequence? = cursor.node`).
enum YNode {
    case scalar(String, isNull: Bool)
    case mapping
    case sequence
}

/// A cursor over the YAML document that knows its key path, records which
/// keys were read, and turns every type mistake into a `ConfigError`. A small
/// value: moving through the document allocates nothing.
struct YAMLCursor {
    let doc: YAMLDocument
    /// The node, -1 when absent.
    let index: Int32
    /// For an absent node: the nearest present ancestor (-1: the root) and the
    /// key path below it; "" when the node is present.
    private let ancestor: Int32
    private let missing: String

    private init(doc: YAMLDocument, index: Int32, ancestor: Int32 = -1, missing: String = "") {
        self.doc = doc
        self.index = index
        self.ancestor = ancestor
        self.missing = missing
    }

    var file: String { doc.file }

    /// Parses a whole config document; its top level must be a mapping (or empty).
    static func document(_ text: String, file: String) throws -> YAMLCursor {
        let doc: YAMLDocument
        do {
            doc = YAMLDocument(file: file, nodes: try YAMLEvents.parse(text))
        } catch let e as YAMLEvents.ParseError {
            throw ConfigError(file: file, keyPath: "line \(e.line) column \(e.column)", reason: "invalid YAML: \(e.problem)")
        }
        let root = YAMLCursor(doc: doc, index: doc.nodes.root)
        if !root.isNull {
            guard case .mapping? = root.node else { throw root.error("the top level must be a mapping", value: root.kindName) }
        }
        return root
    }

    static func join(_ base: String, _ key: String) -> String { base.isEmpty ? key : "\(base).\(key)" }

    private var kind: YAMLNodes.Kind? { index < 0 ? nil : doc.nodes.kinds[Int(index)] }

    /// The node's kind (and a scalar's text).
    var node: YNode? {
        switch kind {
        case nil: return nil
        case .scalar?: return .scalar(doc.nodes.string(index), isNull: false)
        case .null?: return .scalar(doc.nodes.string(index), isNull: true)
        case .mapping?: return .mapping
        case .sequence?: return .sequence
        }
    }

    /// The key path, e.g. `services[2].backends[0].address` (built only when asked for).
    var path: String {
        if index >= 0 { return doc.nodes.path(index) }
        return Self.join(ancestor >= 0 ? doc.nodes.path(ancestor) : "", missing)
    }

    var isNull: Bool {
        switch kind {
        case nil, .null?: return true
        default: return false
        }
    }

    func error(_ reason: String, value: String? = nil) -> ConfigError {
        ConfigError(file: file, keyPath: path, value: value ?? scalarText, reason: reason)
    }

    var scalarText: String? {
        switch kind {
        case .scalar?, .null?: return doc.nodes.string(index)
        default: return nil
        }
    }

    /// The child at `key` (absent keys give a null cursor).
    subscript(key: String) -> YAMLCursor {
        if index >= 0 {
            if doc.nodes.kinds[Int(index)] == .mapping, let (k, v) = doc.lookup(index, key) {
                doc.markRead(k)
                return YAMLCursor(doc: doc, index: v)
            }
            return YAMLCursor(doc: doc, index: -1, ancestor: index, missing: key)
        }
        return YAMLCursor(doc: doc, index: -1, ancestor: ancestor, missing: Self.join(missing, key))
    }

    func has(_ key: String) -> Bool { !self[key].isNull }

    /// The keys of a mapping in document order (empty for anything else).
    var mappingKeys: [String] {
        guard kind == .mapping else { return [] }
        let nodes = doc.nodes
        let s = Int(nodes.starts[Int(index)]), n = Int(nodes.counts[Int(index)])
        return stride(from: s, to: s + n, by: 2).map { nodes.string(nodes.children[$0]) }
    }

    /// Marks a whole subtree as read (for sections ezlb accepts but does not use).
    func markSubtreeRead() {
        guard index >= 0 else { return }
        let p = doc.nodes.parents[Int(index)]
        if p >= 0 && doc.nodes.kinds[Int(p)] == .mapping { doc.markSubtree(doc.nodes.slots[Int(index)]) }
    }

    func requireMapping() throws {
        if isNull { return }
        guard kind == .mapping else { throw error("expected a mapping", value: kindName) }
    }

    var kindName: String {
        switch kind {
        case .mapping?: return "<mapping>"
        case .sequence?: return "<list>"
        case .scalar?, .null?: return doc.nodes.string(index)
        case nil: return "<missing>"
        }
    }

    func items() throws -> [YAMLCursor] {
        if isNull { return [] }
        guard kind == .sequence else { throw error("expected a list", value: kindName) }
        let s = Int(doc.nodes.starts[Int(index)]), n = Int(doc.nodes.counts[Int(index)])
        return (s..<s + n).map { YAMLCursor(doc: doc, index: doc.nodes.children[$0]) }
    }

    func string() throws -> String? {
        switch kind {
        case nil, .null?: return nil
        case .scalar?: return doc.nodes.string(index)
        default: throw error("expected a string", value: kindName)
        }
    }

    func requiredString() throws -> String {
        guard let s = try string(), !s.isEmpty else { throw error("is required", value: nil) }
        return s
    }

    func bool() throws -> Bool? {
        if isNull { return nil }
        guard let s = try? string() else { throw error("expected true or false", value: kindName) }
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false")
        }
    }

    /// An integer within `range`; rejects fractions, hex typos and overflow instead of wrapping.
    func int(in range: ClosedRange<Int64>) throws -> Int64? {
        if isNull { return nil }
        guard kind == .scalar else { throw error("expected an integer", value: kindName) }
        var v: Int64
        if let fast = plainDigits() {
            v = fast
        } else {
            let t = doc.nodes.string(index).trimmedSpaces()
            guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }), let n = Int64(t) else {
                throw error("expected an integer")
            }
            v = n
        }
        guard range.contains(v) else { throw error("must be between \(range.lowerBound) and \(range.upperBound)") }
        return v
    }

    /// The value of a scalar of 1 to 18 ASCII digits (the common case, no
    /// overflow possible), nil for anything else.
    private func plainDigits() -> Int64? {
        let s = Int(doc.nodes.starts[Int(index)]), n = Int(doc.nodes.counts[Int(index)])
        guard n >= 1 && n <= 18 else { return nil }
        return doc.nodes.text.withUnsafeBufferPointer { b -> Int64? in
            var v: Int64 = 0
            for i in s..<s + n {
                let c = b[i]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
    }

    /// A Go-style duration (`5s`, `300ms`) that must be > 0; returns seconds.
    func duration() throws -> Double? {
        if isNull { return nil }
        guard let t = try string() else { return nil }
        guard let d = Duration.parse(t) else { throw error("expected a duration like 5s, 300ms or 1m30s") }
        guard d > 0 else { throw error("must be greater than zero") }
        guard !Duration.isTooLong(d) else { throw error(Duration.tooLongReason) }
        return d
    }

    /// Key paths present in the file that nothing looked up (nor lie in a subtree marked read).
    var unreadKeys: [String] {
        guard index >= 0 else { return [] }
        var out: [String] = []
        let base = path
        /// The components below `base` of the node being walked; rendered only for unread keys.
        var trail: [Int32] = []   // >= 0: a key node; < 0: list item -(i + 1)
        func render() -> String {
            var p = base
            for t in trail { p = t >= 0 ? Self.join(p, doc.nodes.string(t)) : "\(p)[\(-(t + 1))]" }
            return p
        }
        let nodes = doc.nodes
        func walk(_ n: Int32) {
            let s = Int(nodes.starts[Int(n)]), c = Int(nodes.counts[Int(n)])
            switch nodes.kinds[Int(n)] {
            case .scalar, .null: return
            case .sequence:
                for k in 0..<c {
                    trail.append(-Int32(k) - 1)
                    walk(nodes.children[s + k])
                    trail.removeLast()
                }
            case .mapping:
                for k in stride(from: s, to: s + c, by: 2) {
                    let key = nodes.children[k]
                    if doc.isSubtreeRead(key) { continue }
                    trail.append(key)
                    if !doc.wasRead(key) { out.append(render()) } else { walk(nodes.children[k + 1]) }
                    trail.removeLast()
                }
            }
        }
        walk(index)
        return out
    }
}
