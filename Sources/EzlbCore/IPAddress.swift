#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Address family of an IP address or service.
public enum IPFamily: String, Codable, Sendable, CaseIterable {
    case ipv4, ipv6

    /// The kernel's AF_* number.
    public var af: UInt16 { self == .ipv4 ? 2 : 10 }

    public init?(af: UInt16) {
        switch af {
        case 2: self = .ipv4
        case 10: self = .ipv6
        default: return nil
        }
    }
}

/// An IPv4 or IPv6 address held as two 64-bit words (no heap storage), so
/// that every spelling of the same address compares equal (`2001:DB8::1` ==
/// `2001:db8::1`), hashing and copying are cheap on tables of tens of
/// thousands of addresses, and it prints in one canonical form (RFC 5952 via
/// inet_ntop).
public struct IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let family: IPFamily
    /// The address bytes in network order, left-aligned: IPv4 uses the top 32 bits of `hi`.
    private let hi: UInt64
    private let lo: UInt64

    private init(family: IPFamily, hi: UInt64, lo: UInt64) {
        self.family = family
        self.hi = hi
        self.lo = lo
    }

    /// The address as a number (IPv4 in the low 32 bits).
    public var value: UInt128 {
        family == .ipv4 ? UInt128(hi >> 32) : UInt128(hi) << 64 | UInt128(lo)
    }

    /// The address of `family` whose number is `value` (bits beyond the family's width are dropped).
    public init(family: IPFamily, value: UInt128) {
        if family == .ipv4 {
            self.init(family: .ipv4, hi: UInt64(UInt32(truncatingIfNeeded: value)) << 32, lo: 0)
        } else {
            self.init(family: .ipv6, hi: UInt64(truncatingIfNeeded: value >> 64), lo: UInt64(truncatingIfNeeded: value))
        }
    }

    /// 0.0.0.0 or ::.
    public static func zero(_ family: IPFamily) -> IPAddress { IPAddress(family: family, hi: 0, lo: 0) }

    /// From 4 or 16 bytes in network order at `raw` (netlink attributes) without an array.
    public init?(networkBytes raw: UnsafeRawBufferPointer) {
        switch raw.count {
        case 4: self.init(family: .ipv4, hi: UInt64(UInt32(bigEndian: raw.loadUnaligned(as: UInt32.self))) << 32, lo: 0)
        case 16: self.init(family: .ipv6, hi: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                           lo: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        default: return nil
        }
    }

    /// The address with every bit after the first `length` cleared (a prefix's network address).
    public func masked(to length: Int) -> IPAddress {
        let len = min(max(length, 0), family == .ipv4 ? 32 : 128)
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? ~0 : ~0 << UInt64(64 - bits) }
        return IPAddress(family: family, hi: hi & mask(len), lo: lo & mask(len - 64))
    }

    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public var bytes: [UInt8] {
        if family == .ipv4 {
            let v = hi >> 32
            return [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
                    UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
        }
        var out = [UInt8](repeating: 0, count: family == .ipv4 ? 4 : 16)
        for i in 0..<out.count {
            let word = i < 8 ? hi : lo
            out[i] = UInt8(truncatingIfNeeded: word >> (8 * (7 - UInt64(i % 8))))
        }
        return out
    }

    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: family = .ipv4
        case 16: family = .ipv6
        default: return nil
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h |= UInt64(b) << (8 * (7 - UInt64(i))) } else { l |= UInt64(b) << (8 * (15 - UInt64(i))) }
        }
        hi = h
        lo = l
    }

    /// Parses a literal IPv4 or IPv6 address (no brackets, no port, no zone). Scans the
    /// UTF-8 bytes (configs list thousands of addresses; Character-wise `contains` and
    /// byte arrays cost several times inet_pton itself).
    public init?(_ text: String) {
        if let v4 = Self.dottedQuad(text.utf8) {
            self = v4
            return
        }
        var dot = false, colon = false, n = 0
        for b in text.utf8 {
            n += 1
            if b == UInt8(ascii: ".") { dot = true } else if b == UInt8(ascii: ":") { colon = true } else if b == 0 { return nil }
        }
        if n == 0 || n > 45 { return nil }
        if dot && !colon {
            var v4 = in_addr()
            guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
            self.init(family: .ipv4, hi: UInt64(UInt32(bigEndian: v4.s_addr)) << 32, lo: 0)
            return
        }
        var v6 = in6_addr()
        guard colon, inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let (h, l) = withUnsafeBytes(of: &v6) { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
        self.init(family: .ipv6, hi: h, lo: l)
    }

    /// The common case of `init?(_:)` without libc: exactly four decimal parts
    /// 0…255 without leading zeros (what inet_pton accepts and prints back);
    /// nil for anything else, which then takes the general path.
    static func dottedQuad<S: Collection>(_ utf8: S) -> IPAddress? where S.Element == UInt8 {
        if utf8.count < 7 || utf8.count > 15 { return nil }
        var value: UInt64 = 0, part: UInt64 = 0, digits = 0, dots = 0
        for c in utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | part
                part = 0
                digits = 0
                dots += 1
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if digits > 0 && part == 0 { return nil } // leading zero
                part = part * 10 + UInt64(c - UInt8(ascii: "0"))
                digits += 1
                guard part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return IPAddress(v4: UInt32(value << 8 | part))
    }

    /// An IPv4 address's 32-bit value (host order); nil for IPv6.
    public var v4: UInt32? { family == .ipv4 ? UInt32(truncatingIfNeeded: hi >> 32) : nil }

    /// Both words (and the family) folded into one, for cheap hashing of large tables.
    var hashWord: UInt64 { hi ^ (lo &* 0x9E37_79B9_7F4A_7C15) ^ (family == .ipv6 ? 0x5555 : 0) }

    /// The two words, for order keys (`(family, words)` order is `<`).
    var words: (UInt64, UInt64) { (hi, lo) }

    /// One word into the hasher instead of three (family, hi, lo): tables of
    /// tens of thousands of addresses are hashed on every run. Equal addresses
    /// have equal words, so this agrees with `==`.
    public func hash(into h: inout Hasher) { h.combine(hashWord) }

    /// An IPv4 address from its 32-bit value (host order).
    public init(v4: UInt32) {
        family = .ipv4
        hi = UInt64(v4) << 32
        lo = 0
    }

    public var description: String {
        if family == .ipv4 {
            // Written byte by byte: this runs for every address of every report line.
            let v = UInt32(truncatingIfNeeded: hi >> 32)
            return String(unsafeUninitializedCapacity: 15) { buf in
                var n = 0
                for shift in stride(from: 24, through: 0, by: -8) {
                    let b = Int(v >> UInt32(shift) & 0xff)
                    if b >= 100 { buf[n] = UInt8(0x30 + b / 100); n += 1 }
                    if b >= 10 { buf[n] = UInt8(0x30 + b / 10 % 10); n += 1 }
                    buf[n] = UInt8(0x30 + b % 10)
                    n += 1
                    if shift > 0 { buf[n] = UInt8(ascii: "."); n += 1 }
                }
                return n
            }
        }
        var buf = [CChar](repeating: 0, count: 64)
        let ok: Bool = bytes.withUnsafeBytes { raw in
            inet_ntop(family == .ipv4 ? AF_INET : AF_INET6, raw.baseAddress, &buf, socklen_t(buf.count)) != nil
        }
        guard ok else { return "?" }
        return String(cBuffer: buf)
    }

    /// `1.2.3.4` or `[2001:db8::1]`, the form used before `:port`.
    public var bracketed: String { family == .ipv6 ? "[\(description)]" : description }

    /// The 16-byte form the IPVS netlink ADDR attribute carries (IPv4 in the first 4 bytes).
    public var netlinkBytes: [UInt8] { bytes + [UInt8](repeating: 0, count: 16 - bytes.count) }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        if lhs.family != rhs.family { return lhs.family == .ipv4 }
        return lhs.hi != rhs.hi ? lhs.hi < rhs.hi : lhs.lo < rhs.lo
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s)")
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// An `IP:port` pair as written in configs: `10.0.0.1:80`, `[2001:db8::1]:80`.
public struct Endpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case missingPort, badAddress(String), badPort(String), portOutOfRange(String)
        public var description: String {
            switch self {
            case .missingPort: return "expected IP:port (IPv6 as [addr]:port)"
            case .badAddress(let a): return "'\(a)' is not an IP address"
            case .badPort(let p): return "port '\(p)' is not a number"
            case .portOutOfRange(let p): return "port \(p) is out of range 1..65535"
            }
        }
    }

    /// Parses `IP:port`; with `portOptional`, a bare IP gives port 0.
    public static func parse(_ text: String, portOptional: Bool = false) -> Result<Endpoint, ParseError> {
        if let e = fastIPv4(text.utf8, portOptional: portOptional) { return .success(e) }
        var host = text
        var portText: String? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.badAddress(text)) }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { portText = String(rest.dropFirst()) } else if !rest.isEmpty { return .failure(.badAddress(text)) }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        }
        guard let addr = IPAddress(host) else { return .failure(.badAddress(host)) }
        guard let p = portText else {
            return portOptional ? .success(Endpoint(address: addr, port: 0)) : .failure(.missingPort)
        }
        guard !p.isEmpty, p.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .failure(.badPort(p)) }
        guard p.count <= 5, let n = Int(p), n >= (portOptional ? 0 : 1), n <= 65535 else { return .failure(.portOutOfRange(p)) }
        return .success(Endpoint(address: addr, port: UInt16(n)))
    }

    /// `a.b.c.d:port` (the common case of `parse`) straight from the bytes; nil
    /// for anything else or anything invalid, which then takes the general path
    /// (and its error messages).
    static func fastIPv4(_ utf8: String.UTF8View, portOptional: Bool) -> Endpoint? {
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")),
              let a = IPAddress.dottedQuad(utf8[..<colon]) else { return nil }
        let digits = utf8[utf8.index(after: colon)...]
        guard !digits.isEmpty, digits.count <= 5 else { return nil }
        var n = 0
        for c in digits {
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            n = n * 10 + Int(c - UInt8(ascii: "0"))
        }
        guard n >= (portOptional ? 0 : 1), n <= 65535 else { return nil }
        return Endpoint(address: a, port: UInt16(n))
    }

    public var description: String { "\(address.bracketed):\(port)" }

    /// One word into the hasher (see `IPAddress.hash(into:)`).
    public func hash(into h: inout Hasher) { h.combine(address.hashWord &+ UInt64(port) &* 0x1_0000_0001) }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        if lhs.address != rhs.address { return lhs.address < rhs.address }
        return lhs.port < rhs.port
    }
}
