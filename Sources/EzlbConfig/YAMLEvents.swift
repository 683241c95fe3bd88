// Builds the flat `YAMLNodes` of a document straight from libyaml's event stream.
//
// Yams (which vendors libyaml as its CYaml module) composes a `Node` tree
// with a tag object and a mark per node; on a 25,000-line config that costs
// more than everything else ezlb does in a converged run. ezlb interprets
// every scalar itself, so it reads the events of the same libyaml directly.
// CYaml reaches this module through the Yams product; if a future Yams stops
// exposing it, `YAMLEvents` can be rebuilt on `Yams.compose`.
import CYaml

enum YAMLEvents {
    struct ParseError: Error {
        var problem: String
        var line: Int
        var column: Int
    }

    /// An open collection: where its items start on the shared item stack.
    private struct Frame {
        let isMap: Bool
        let start: Int
        let anchor: String?
        /// A mapping's key node waiting for its value (-1: none).
        var pendingKey: Int32 = -1
        /// Keys of a large mapping (duplicate check without a quadratic scan).
        var keys: Set<String>? = nil
    }

    /// Most nodes a document may have once aliases are expanded (alias bombs).
    static let maxNodes = 4_000_000
    /// Deepest nesting of collections a document may have. libyaml's scanner keeps a simple-key
    /// entry per open flow collection and walks them all on every token, so `[[[[…` is
    /// quadratic (100,000 levels: 30 s); stopping at the first event past this depth bounds it.
    static let maxDepth = 64

    /// Parses the first (and only) document of `text` (root -1 for an empty stream).
    static func parse(_ text: String) throws -> YAMLNodes {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw ParseError(problem: "out of memory", line: 0, column: 0) }
        defer { yaml_parser_delete(&parser) }
        var text = text // libyaml reads the string's own UTF-8 storage (no copy of a 1 MB config)
        var doc = YAMLNodes()
        doc.text.reserveCapacity(text.utf8.count / 2)
        try text.withUTF8 { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var stack: [Frame] = []
            /// Finished items of every open collection, innermost last.
            var items: [Int32] = []
            var anchors: [String: Int32] = [:]
            var documents = 0

            func fail(_ problem: String, _ mark: yaml_mark_t) -> ParseError {
                ParseError(problem: problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
            }

            /// Adds a finished node to the innermost open collection (or makes it the root).
            func attach(_ node: Int32, anchor: String?, mark: yaml_mark_t) throws {
                if let a = anchor { anchors[a] = node }
                guard !stack.isEmpty else {
                    doc.root = node
                    return
                }
                let top = stack.count - 1
                guard stack[top].isMap else {
                    items.append(node)
                    return
                }
                let key = stack[top].pendingKey
                if key >= 0 {
                    let start = stack[top].start
                    if items.count - start >= 32 {
                        var keys = stack[top].keys ?? Set(stride(from: start, to: items.count, by: 2).map { doc.string(items[$0]) })
                        stack[top].keys = nil // keep the set uniquely referenced while it grows
                        guard keys.insert(doc.string(key)).inserted else {
                            throw fail("duplicate key '\(doc.string(key))'", mark)
                        }
                        stack[top].keys = keys
                    } else {
                        for k in stride(from: start, to: items.count, by: 2) where doc.scalarEquals(items[k], key) {
                            throw fail("duplicate key '\(doc.string(key))'", mark)
                        }
                    }
                    items.append(key)
                    items.append(node)
                    stack[top].pendingKey = -1
                } else {
                    let kind = doc.kinds[Int(node)]
                    guard kind == .scalar || kind == .null else { throw fail("mapping keys must be scalars", mark) }
                    stack[top].pendingKey = node
                }
            }

            func cString(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                guard let p else { return nil }
                return String(cString: p)
            }

            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    throw fail(problem, parser.problem_mark)
                }
                defer { yaml_event_delete(&event) }
                let mark = event.start_mark
                if stack.count >= maxDepth, event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT {
                    throw fail("nested deeper than \(maxDepth) levels", mark)
                }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 { throw fail("expected a single document", mark) }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = UnsafeBufferPointer(start: s.value, count: s.value == nil ? 0 : s.length)
                    var isNull = false
                    if s.style == YAML_PLAIN_SCALAR_STYLE {
                        switch value.count {
                        case 0: isNull = true
                        case 1: isNull = value[0] == UInt8(ascii: "~")
                        case 4: isNull = ["null", "Null", "NULL"].contains { $0.utf8.elementsEqual(value) }
                        default: break
                        }
                    }
                    try attach(doc.addScalar(value, isNull: isNull), anchor: cString(s.anchor), mark: mark)
                case YAML_ALIAS_EVENT:
                    let name = cString(event.data.alias.anchor) ?? ""
                    guard let node = anchors[name] else { throw fail("unknown alias '\(name)'", mark) }
                    let copy: Int32
                    do { copy = try doc.copy(node, limit: maxNodes) } catch let e as ParseError { throw fail(e.problem, mark) }
                    try attach(copy, anchor: nil, mark: mark)
                case YAML_SEQUENCE_START_EVENT:
                    stack.append(Frame(isMap: false, start: items.count, anchor: cString(event.data.sequence_start.anchor)))
                case YAML_SEQUENCE_END_EVENT:
                    guard let f = stack.popLast(), !f.isMap else { throw fail("unbalanced sequence", mark) }
                    let node = doc.addCollection(.sequence, items[f.start...])
                    items.removeSubrange(f.start...)
                    try attach(node, anchor: f.anchor, mark: mark)
                case YAML_MAPPING_START_EVENT:
                    stack.append(Frame(isMap: true, start: items.count, anchor: cString(event.data.mapping_start.anchor)))
                case YAML_MAPPING_END_EVENT:
                    guard let f = stack.popLast(), f.isMap else { throw fail("unbalanced mapping", mark) }
                    let node = doc.addCollection(.mapping, items[f.start...])
                    items.removeSubrange(f.start...)
                    try attach(node, anchor: f.anchor, mark: mark)
                default:
                    break
                }
            }
        }
        return doc
    }
}
