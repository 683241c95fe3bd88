/// An append-only UTF-8 buffer for text rendered by the ten thousand (report
/// lines, JSON actions): numbers, addresses and keys are written as bytes,
/// without a `String` per piece. What it writes is exactly what the types'
/// `description`s print.
public struct ByteText {
    public var bytes: [UInt8] = []

    @inlinable public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    @inlinable public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inlinable public mutating func append(_ s: String) {
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) { return done }
        bytes.append(contentsOf: s.utf8)
    }

    @inlinable public mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Decimal digits of `v`.
    @inlinable public mutating func append<T: BinaryInteger>(decimal v: T) {
        if v < 0 {
            bytes.append(UInt8(ascii: "-"))
            append(decimal: v.magnitude)
            return
        }
        var n = UInt64(v)
        if n < 10 {
            bytes.append(0x30 + UInt8(n))
            return
        }
        // Least significant digit first, then reversed in place: no temporary buffer.
        let start = bytes.count
        while n > 0 {
            bytes.append(0x30 + UInt8(truncatingIfNeeded: n % 10))
            n /= 10
        }
        var i = start, j = bytes.count - 1
        while i < j {
            bytes.swapAt(i, j)
            i += 1
            j -= 1
        }
    }

    /// `IPAddress.description`.
    @inlinable public mutating func append(_ a: IPAddress) {
        guard let v = a.v4 else { return append(a.description) }
        appendOctet(v >> 24)
        bytes.append(UInt8(ascii: "."))
        appendOctet((v >> 16) & 0xff)
        bytes.append(UInt8(ascii: "."))
        appendOctet((v >> 8) & 0xff)
        bytes.append(UInt8(ascii: "."))
        appendOctet(v & 0xff)
    }

    /// 0...255 in decimal.
    @inlinable mutating func appendOctet(_ v: UInt32) {
        if v >= 100 {
            bytes.append(0x30 + UInt8(truncatingIfNeeded: v / 100))
            bytes.append(0x30 + UInt8(truncatingIfNeeded: v / 10 % 10))
        } else if v >= 10 {
            bytes.append(0x30 + UInt8(truncatingIfNeeded: v / 10))
        }
        bytes.append(0x30 + UInt8(truncatingIfNeeded: v % 10))
    }

    /// `Endpoint.description`: `1.2.3.4:80`, `[2001:db8::1]:80`.
    @inlinable public mutating func append(_ e: Endpoint) {
        if e.address.family == .ipv6 {
            bytes.append(UInt8(ascii: "["))
            append(e.address)
            bytes.append(UInt8(ascii: "]"))
        } else {
            append(e.address)
        }
        bytes.append(UInt8(ascii: ":"))
        append(decimal: e.port)
    }

    /// `ServiceKey.description`: `tcp 10.0.0.1:80`, `fwmark 7 ipv4`.
    @inlinable public mutating func append(_ k: ServiceKey) {
        switch k {
        case .inet(let p, let e):
            append(p.rawValue)
            bytes.append(UInt8(ascii: " "))
            append(e)
        case .fwmark(let m, let f):
            append("fwmark " as StaticString)
            append(decimal: m)
            bytes.append(UInt8(ascii: " "))
            append(f.rawValue)
        }
    }

    /// `s` as a JSON string literal, escaped exactly as `JSONValue.quoted`.
    @inlinable public mutating func appendJSONString(_ s: String) {
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ appendJSONString(bytes: $0) }) { return done }
        appendJSONString(bytes: Array(s.utf8))
    }

    /// UTF-8 `text` as a JSON string literal, escaped exactly as `JSONValue.quoted`.
    @inlinable public mutating func appendJSONString<C: Collection>(bytes text: C) where C.Element == UInt8 {
        if let done: Void = text.withContiguousStorageIfAvailable({ appendJSONString(buffer: $0) }) { return done }
        Array(text).withUnsafeBufferPointer { appendJSONString(buffer: $0) }
    }

    /// UTF-8 `text` as a JSON string literal (quotes included).
    @inlinable public mutating func appendJSONString(buffer text: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        appendJSONEscaped(buffer: text)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The escaping itself, without the quotes: runs that need none are copied whole,
    /// found eight bytes at a time. Escaping is byte by byte, so the pieces of one
    /// string may be escaped apart.
    @inlinable public mutating func appendJSONEscaped(buffer text: UnsafeBufferPointer<UInt8>) {
        guard let base = text.baseAddress else { return }
        let n = text.count
        var runStart = 0
        var i = 0
        while i < n {
            // Whole words with no byte below 0x20, no '"' and no '\\' (SWAR: a flag may
            // also be set above a flagged byte, which only ends the word loop early).
            while i + 8 <= n {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
                let quote = w ^ 0x2222_2222_2222_2222, slash = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let control = (w &- 0x2020_2020_2020_2020) & ~w & high  // a byte below 0x20
                let quotes = (quote &- ones) & ~quote & high, slashes = (slash &- ones) & ~slash & high
                if control | quotes | slashes != 0 { break }
                i += 8
            }
            if i >= n { break }
            let b = base[i]
            if b >= 0x20 && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            if i > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
            switch b {
            case UInt8(ascii: "\""): append("\\\"" as StaticString)
            case UInt8(ascii: "\\"): append("\\\\" as StaticString)
            case UInt8(ascii: "\n"): append("\\n" as StaticString)
            case UInt8(ascii: "\r"): append("\\r" as StaticString)
            case UInt8(ascii: "\t"): append("\\t" as StaticString)
            default:
                let hex: StaticString = "0123456789abcdef"
                append("\\u00" as StaticString)
                bytes.append(hex.utf8Start[Int(b >> 4)])
                bytes.append(hex.utf8Start[Int(b & 0xf)])
            }
            i += 1
            runStart = i
        }
        if n > runStart { bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n - runStart)) }
    }

    /// Appends a copy of `bytes[range]` (no copy of the whole buffer, which appending a
    /// slice of the array to itself would make).
    @inlinable public mutating func appendCopy(of range: Range<Int>) {
        let at = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: range.count))
        bytes.withUnsafeMutableBufferPointer { b in
            guard let base = b.baseAddress else { return }
            (base + at).update(from: base + range.lowerBound, count: range.count)
        }
    }

    /// `s` escaped for the inside of a JSON string literal (no quotes).
    @inlinable public mutating func appendJSONEscaped(_ s: String) {
        if let done: Void = s.utf8.withContiguousStorageIfAvailable({ appendJSONEscaped(buffer: $0) }) { return done }
        Array(s.utf8).withUnsafeBufferPointer { appendJSONEscaped(buffer: $0) }
    }
}
