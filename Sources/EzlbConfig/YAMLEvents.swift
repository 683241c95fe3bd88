// Builds the plain `YNode` tree straight from libyaml's event stream.
//
// Yams (which vendors libyaml as its CYaml module) composes a `Node` tree
// with a tag object and a mark per node; on a 25,000-line config that costs
// more than everything else ezlb does in a converged run. ezlb interprets
// every scalar itself, so it reads the events of the same libyaml directly.
// CYaml reaches this module through the Yams product; if a future Yams stops
// exposing it, `YAMLCursor.document` can go back to `Yams.compose`.
import CYaml

enum YAMLEvents {
    struct ParseError: Error {
        var problem: String
        var line: Int
        var column: Int
    }

    /// An open collection. A class, so appending to it never copies what it holds.
    private final class Frame {
        var items: [YNode] = []
        let map: YMap?
        var pendingKey: String?
        let anchor: String?
        init(map: YMap?, anchor: String?) {
            self.map = map
            self.anchor = anchor
        }
    }

    /// Parses the first (and only) document of `text`; nil for an empty stream.
    static func parse(_ text: String, nextID: inout Int) throws -> YNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw ParseError(problem: "out of memory", line: 0, column: 0) }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBufferPointer { buf -> YNode? in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var stack: [Frame] = []
            var anchors: [String: YNode] = [:]
            var root: YNode? = nil
            var documents = 0

            func fail(_ problem: String, _ mark: yaml_mark_t) -> ParseError {
                ParseError(problem: problem, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
            }

            /// Adds a finished node to the innermost open collection (or makes it the root).
            func attach(_ node: YNode, anchor: String?, mark: yaml_mark_t) throws {
                if let a = anchor { anchors[a] = node }
                guard let top = stack.last else {
                    root = node
                    return
                }
                guard let map = top.map else {
                    top.items.append(node)
                    return
                }
                if let key = top.pendingKey {
                    guard map.index[key] == nil else { throw fail("duplicate key '\(key)'", mark) }
                    map.index[key] = map.keys.count
                    map.keys.append(key)
                    map.values.append(node)
                    top.pendingKey = nil
                } else {
                    guard case .scalar(let k, _) = node else { throw fail("mapping keys must be scalars", mark) }
                    top.pendingKey = k
                }
            }

            func string(_ p: UnsafeMutablePointer<yaml_char_t>?, _ n: Int) -> String {
                guard let p else { return "" }
                return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
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
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return root
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 { throw fail("expected a single document", mark) }
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    let value = string(s.value, s.length)
                    let isNull = s.style == YAML_PLAIN_SCALAR_STYLE
                        && (value.isEmpty || value == "~" || value == "null" || value == "Null" || value == "NULL")
                    try attach(.scalar(value, isNull: isNull), anchor: cString(s.anchor), mark: mark)
                case YAML_ALIAS_EVENT:
                    let name = cString(event.data.alias.anchor) ?? ""
                    guard let node = anchors[name] else { throw fail("unknown alias '\(name)'", mark) }
                    try attach(node, anchor: nil, mark: mark)
                case YAML_SEQUENCE_START_EVENT:
                    stack.append(Frame(map: nil, anchor: cString(event.data.sequence_start.anchor)))
                case YAML_SEQUENCE_END_EVENT:
                    guard let f = stack.popLast(), f.map == nil else { throw fail("unbalanced sequence", mark) }
                    try attach(.sequence(f.items), anchor: f.anchor, mark: mark)
                case YAML_MAPPING_START_EVENT:
                    stack.append(Frame(map: YMap(firstID: 0), anchor: cString(event.data.mapping_start.anchor)))
                case YAML_MAPPING_END_EVENT:
                    guard let f = stack.popLast(), let map = f.map else { throw fail("unbalanced mapping", mark) }
                    // A mapping's keys take consecutive document-wide ids once its size is known.
                    map.firstID = nextID
                    nextID += map.keys.count
                    try attach(.mapping(map), anchor: f.anchor, mark: mark)
                default:
                    break
                }
            }
        }
    }
}
