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
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .string(let s): JSONValue.quote(s, into: &out)
        case .raw(let r): out += r
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONValue.quote(k, into: &out)
                out += ":"
                o[k]!.write(into: &out)
            }
            out += "}"
        }
    }

    /// The same text as `text`, appended as UTF-8 bytes.
    public func write(into out: inout ByteText) {
        switch self {
        case .null: out.append("null" as StaticString)
        case .bool(let b): out.append(b ? "true" as StaticString : "false" as StaticString)
        case .int(let i): out.append(decimal: i)
        case .string(let s): out.appendJSONString(s)
        case .raw(let r): out.append(r)
        case .array(let a):
            out.bytes.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.bytes.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.bytes.append(UInt8(ascii: "]"))
        case .object(let o):
            out.bytes.append(UInt8(ascii: "{"))
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out.bytes.append(UInt8(ascii: ",")) }
                out.appendJSONString(k)
                out.bytes.append(UInt8(ascii: ":"))
                o[k]!.write(into: &out)
            }
            out.bytes.append(UInt8(ascii: "}"))
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
