/// Big-endian binary writing for the caches in the state directory.
public struct ByteWriter {
    public private(set) var out: [UInt8] = []
    public init() {}
    /// Empties `out`, keeping its storage (one writer reused for many small encodings).
    public mutating func reset() { out.removeAll(keepingCapacity: true) }
    public mutating func u8(_ v: UInt8) { out.append(v) }
    public mutating func u16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(v & 0xff)) }
    public mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    public mutating func bytes(_ b: [UInt8]) { out += b }
    /// Length (u32) and bytes.
    public mutating func blob(_ b: [UInt8]) { u32(UInt32(b.count)); out += b }
    public mutating func string(_ s: String) { u32(UInt32(s.utf8.count)); out += s.utf8 }
    /// A count (u32) and the strings.
    public mutating func strings(_ list: [String]) {
        u32(UInt32(list.count))
        for s in list { string(s) }
    }
    /// Family (4 or 6) and the address bytes.
    public mutating func address(_ a: IPAddress) {
        if let v = a.v4 { u8(4); u32(v) } else { u8(6); out += a.bytes }
    }
}

/// The reading side of `ByteWriter`: every read is bounds-checked and gives
/// nil past the end, and nothing is copied out but the values themselves.
public struct ByteReader {
    let data: [UInt8]
    var pos = 0
    public init(_ data: [UInt8]) { self.data = data }
    public var atEnd: Bool { pos == data.count }

    public mutating func u8() -> UInt8? {
        guard pos < data.count else { return nil }
        defer { pos += 1 }
        return data[pos]
    }
    public mutating func u16() -> UInt16? {
        guard pos + 2 <= data.count else { return nil }
        defer { pos += 2 }
        return UInt16(data[pos]) << 8 | UInt16(data[pos + 1])
    }
    public mutating func u32() -> UInt32? {
        guard pos + 4 <= data.count else { return nil }
        defer { pos += 4 }
        return UInt32(data[pos]) << 24 | UInt32(data[pos + 1]) << 16 | UInt32(data[pos + 2]) << 8 | UInt32(data[pos + 3])
    }
    /// True (and skips them) when the next bytes are `b`.
    public mutating func match(_ b: [UInt8]) -> Bool {
        guard pos + b.count <= data.count, data[pos..<pos + b.count].elementsEqual(b) else { return false }
        pos += b.count
        return true
    }
    /// True when the next blob holds exactly `b`.
    public mutating func match(blob b: [UInt8]) -> Bool {
        guard let n = u32(), Int(n) == b.count else { return false }
        return match(b)
    }
    /// The next `ByteWriter.blob`, when it holds at most `max` bytes.
    public mutating func blob(max: Int) -> [UInt8]? {
        guard let n = u32(), Int(n) <= max, pos + Int(n) <= data.count else { return nil }
        defer { pos += Int(n) }
        return Array(data[pos..<pos + Int(n)])
    }
    public mutating func string() -> String? {
        guard let n = u32(), pos + Int(n) <= data.count else { return nil }
        defer { pos += Int(n) }
        return data.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[pos..<pos + Int(n)]), as: UTF8.self) }
    }
    /// The next `ByteWriter.strings` (at most 4,096 of them).
    public mutating func strings() -> [String]? {
        guard let n = u32(), n <= 4096 else { return nil }
        var out: [String] = []
        for _ in 0..<n {
            guard let s = string() else { return nil }
            out.append(s)
        }
        return out
    }
    public mutating func address() -> IPAddress? {
        switch u8() {
        case 4?: return u32().map { IPAddress(v4: $0) }
        case 6?:
            guard pos + 16 <= data.count else { return nil }
            defer { pos += 16 }
            return IPAddress(bytes: Array(data[pos..<pos + 16]))
        default: return nil
        }
    }
}
