/// A small JSON value for machine output with a stable key order.
public enum JSONValue: Equatable, Sendable, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
    /// Already-serialized JSON text, written as is (for hot paths that render
    /// thousands of small objects).
    case raw(String)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }

    /// Compact JSON text, object keys sorted.
    public var text: String {
        var w = ByteText(capacity: 256)
        write(into: &w)
        return w.string
    }

    /// Appends the compact text to a byte buffer (reports of thousands of actions are
    /// rendered here: bytes, not `String` appends).
    public func write(into w: inout ByteText) {
        switch self {
        case .null: w.append("null" as StaticString)
        case .bool(let b): w.append(b ? "true" as StaticString : "false" as StaticString)
        case .int(let i): w.append(decimal: i)
        case .string(let s): w.appendJSONString(s)
        case .raw(let r): w.append(r)
        case .array(let a):
            w.bytes.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { w.bytes.append(UInt8(ascii: ",")) }
                v.write(into: &w)
            }
            w.bytes.append(UInt8(ascii: "]"))
        case .object(let o):
            w.bytes.append(UInt8(ascii: "{"))
            for (i, (k, v)) in o.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { w.bytes.append(UInt8(ascii: ",")) }
                w.appendJSONString(k)
                w.bytes.append(UInt8(ascii: ":"))
                v.write(into: &w)
            }
            w.bytes.append(UInt8(ascii: "}"))
        }
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = ""
        quote(s, into: &out)
        return out
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Most strings need no escaping: append them whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += s
            out += "\""
            return
        }
        // Escaped byte by byte (UTF-8 sequences pass through whole).
        var w = ByteText(capacity: s.utf8.count + 8)
        w.appendJSONString(s)
        out += String(decoding: w.bytes.dropFirst(), as: UTF8.self)
    }
}
