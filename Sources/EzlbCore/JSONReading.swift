/// Reading JSON into `JSONValue`, and the typed accessors state-file decoders use.
///
/// Why not Foundation's JSONDecoder for the small state files the per-operation
/// commands read and write (`ipam.json`): a Codable decode goes through generic
/// containers whose first use per type makes the Swift runtime scan the binary's
/// whole protocol-conformance table (about 7,000 records) several times; that and
/// the page faults it causes were 18 % of an `ipam allocate` process
/// (docs/benchmarks.md, bench/ipam). Parsing here is concrete code.
///
/// The reader is strict RFC 8259: one value, no trailing data, no duplicate object
/// keys, no raw control characters in strings, valid UTF-8, nesting at most
/// `maxDepth` levels (a deeper document is an error, not a stack overflow).
/// Integers that fit in `Int` become `.int`; other numbers keep their text as `.raw`
/// (they are written back unchanged).
extension JSONValue {
    public struct ParseError: Error, Equatable, CustomStringConvertible, Sendable {
        /// Byte offset of the problem.
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 128) throws(ParseError) -> JSONValue {
        let r: Result<JSONValue, ParseError> = bytes.withUnsafeBufferPointer { buf in
            var p = JSONByteParser(buf, maxDepth: maxDepth)
            do throws(ParseError) {
                p.skipSpace()
                let v = try p.value(depth: 0)
                p.skipSpace()
                if p.i != buf.count { throw p.error("unexpected data after the value") }
                return .success(v)
            } catch {
                return .failure(error)
            }
        }
        return try r.get()
    }

    /// Indented JSON text (two spaces, `"key" : value`, keys sorted, ending in a newline):
    /// the layout Foundation's `.prettyPrinted` + `.sortedKeys` produce, so state files
    /// look the same whichever writer made them.
    public var prettyText: String {
        var w = ByteText(capacity: 256)
        writePretty(into: &w, indent: 0)
        w.append("\n")
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private func writePretty(into w: inout ByteText, indent: Int) {
        func pad(_ n: Int) { for _ in 0..<n { w.append("  ") } }
        switch self {
        case .array(let a) where !a.isEmpty:
            w.append("[\n")
            for (i, v) in a.enumerated() {
                pad(indent + 1)
                v.writePretty(into: &w, indent: indent + 1)
                w.append(i + 1 < a.count ? ",\n" : "\n")
            }
            pad(indent)
            w.append("]")
        case .object(let o) where !o.isEmpty:
            w.append("{\n")
            let members = o.sorted { $0.key < $1.key }
            for (i, (k, v)) in members.enumerated() {
                pad(indent + 1)
                w.appendJSONString(k)
                w.append(" : ")
                v.writePretty(into: &w, indent: indent + 1)
                w.append(i + 1 < members.count ? ",\n" : "\n")
            }
            pad(indent)
            w.append("}")
        default:
            w.append(text)
        }
    }
}

/// A value that has the wrong shape for what a decoder expects, with the key path
/// (`data.subnets[0].allocations[2].ip`) in the style of the Codable errors.
public struct JSONShapeError: Error, Equatable, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { problem.isEmpty ? path : "\(problem) \(path)" }

    public static func missing(_ path: String) -> JSONShapeError { JSONShapeError(path: path, problem: "missing key") }
    public static func wrongType(_ path: String) -> JSONShapeError { JSONShapeError(path: path, problem: "wrong type at") }
    public static func invalid(_ path: String, _ why: String) -> JSONShapeError {
        JSONShapeError(path: "\(path): \(why)", problem: "invalid value at")
    }
}

/// Typed access for decoders. Paths are built only when something is wrong.
extension JSONValue {
    public func object(at path: @autoclosure () -> String) throws(JSONShapeError) -> [String: JSONValue] {
        guard case .object(let o) = self else { throw .wrongType(path()) }
        return o
    }

    public func array(at path: @autoclosure () -> String) throws(JSONShapeError) -> [JSONValue] {
        guard case .array(let a) = self else { throw .wrongType(path()) }
        return a
    }

    public func string(at path: @autoclosure () -> String) throws(JSONShapeError) -> String {
        guard case .string(let s) = self else { throw .wrongType(path()) }
        return s
    }

    /// A finite number (an integer, or a number kept as text).
    public func double(at path: @autoclosure () -> String) throws(JSONShapeError) -> Double {
        switch self {
        case .int(let i): return Double(i)
        case .raw(let t): if let d = Double(t), d.isFinite { return d }
        default: break
        }
        throw .wrongType(path())
    }

    /// A finite Double as JSON: whole numbers as integers (as JSONEncoder writes them), others
    /// in Swift's shortest round-tripping form.
    public static func number(_ d: Double) -> JSONValue {
        guard d.isFinite else { return .null }
        if d.rounded() == d, let i = Int(exactly: d) { return .int(i) }
        return .raw("\(d)")
    }

    public func int(at path: @autoclosure () -> String) throws(JSONShapeError) -> Int {
        guard case .int(let i) = self else { throw .wrongType(path()) }
        return i
    }
}

extension IPAddress {
    /// An address written as a JSON string; anything else is an error naming `path`.
    public init(json: JSONValue, at path: @autoclosure () -> String) throws(JSONShapeError) {
        let text = try json.string(at: path())
        guard let a = IPAddress(text) else { throw .invalid(path(), "'\(text)' is not an IP address") }
        self = a
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The value under `key`; a missing key (or null) is an error naming `path.key`.
    public func required(_ key: String, at path: @autoclosure () -> String) throws(JSONShapeError) -> JSONValue {
        guard let v = self[key], v != .null else { throw .missing(Self.join(path(), key)) }
        return v
    }

    /// The value under `key`, nil when missing or null.
    public func optional(_ key: String) -> JSONValue? {
        guard let v = self[key], v != .null else { return nil }
        return v
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
}

/// Recursive descent over a byte buffer.
private struct JSONByteParser {
    let b: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0

    init(_ b: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    func error(_ reason: String) -> JSONValue.ParseError { JSONValue.ParseError(offset: i, reason: reason) }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard i < b.count else { throw error("unexpected end of data") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONValue.ParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw error("unexpected end of data") }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { throw error("unexpected character") }
        i += n
    }

    mutating func object(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        if depth > maxDepth { throw error("nested more than \(maxDepth) levels") }
        i += 1
        var o: [String: JSONValue] = [:]
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyAt = i
            let k = try string()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipSpace()
            let v = try value(depth: depth)
            if o.updateValue(v, forKey: k) != nil {
                throw JSONValue.ParseError(offset: keyAt, reason: "duplicate key \"\(k)\"")
            }
            skipSpace()
            guard i < b.count else { throw error("unexpected end of data") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        if depth > maxDepth { throw error("nested more than \(maxDepth) levels") }
        i += 1
        var a: [JSONValue] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
        while true {
            skipSpace()
            a.append(try value(depth: depth))
            skipSpace()
            guard i < b.count else { throw error("unexpected end of data") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func string() throws(JSONValue.ParseError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
        guard i < b.count else { throw error("unterminated string") }
        if b[i] == UInt8(ascii: "\"") {
            let s = try utf8(UnsafeBufferPointer(rebasing: b[start..<i]), at: start)
            i += 1
            return s
        }
        var out = [UInt8](b[start..<i])
        while true {
            guard i < b.count else { throw error("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw error("unterminated string") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: String(Character(u)).utf8)
            default:
                throw error("invalid escape")
            }
        }
        return try out.withUnsafeBufferPointer { p throws(JSONValue.ParseError) in try utf8(p, at: start) }
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("unterminated string") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    func utf8(_ p: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONValue.ParseError) -> String {
        guard let s = String(validating: p, as: UTF8.self) else {
            throw JSONValue.ParseError(offset: offset, reason: "invalid UTF-8 in a string")
        }
        return s
    }

    mutating func number() throws(JSONValue.ParseError) -> JSONValue {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ p: inout JSONByteParser) -> Int {
            let s = p.i
            while p.i < p.b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.b[p.i]) { p.i += 1 }
            return p.i - s
        }
        guard i < b.count else { throw error("unexpected end of data") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else if digits(&self) == 0 {
            throw error("expected a digit")
        }
        var integral = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            integral = false
            if digits(&self) == 0 { throw error("expected a digit") }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            integral = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            if digits(&self) == 0 { throw error("expected a digit") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral, let v = Int(text) { return .int(v) }
        return .raw(text)
    }
}
