import EzlbCore

// Address arithmetic for IPAM. Addresses are numbers (UInt128 holds both
// families), so nothing here ever needs a structure as large as a subnet.

extension IPFamily {
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }
}

/// A CIDR subnet such as `10.1.0.0/24` or `2001:db8::/64`, host bits zero.
public struct IPSubnet: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let family: IPFamily
    public let network: UInt128
    public let prefixLength: Int

    public init?(family: IPFamily, network: UInt128, prefixLength: Int) {
        guard (0...family.bitWidth).contains(prefixLength) else { return nil }
        self.family = family
        self.network = network
        self.prefixLength = prefixLength
        guard network & hostMask == 0, network <= Self.maxValue(family) else { return nil }
    }

    static func maxValue(_ f: IPFamily) -> UInt128 { f == .ipv4 ? UInt128(UInt32.max) : UInt128.max }

    public var hostBits: Int { family.bitWidth - prefixLength }
    public var hostMask: UInt128 { hostBits >= 128 ? UInt128.max : (UInt128(1) << hostBits) - 1 }
    /// The last address (IPv4 broadcast).
    public var last: UInt128 { network | hostMask }
    public var networkAddress: IPAddress { IPAddress(family: family, value: network) }

    public func contains(_ a: IPAddress) -> Bool {
        a.family == family && a.value & ~hostMask == network
    }

    public func overlaps(_ o: IPSubnet) -> Bool {
        o.family == family && o.network <= last && network <= o.last
    }

    public var description: String { "\(networkAddress)/\(prefixLength)" }

    public static func < (l: IPSubnet, r: IPSubnet) -> Bool {
        if l.family != r.family { return l.family == .ipv4 }
        if l.network != r.network { return l.network < r.network }
        return l.prefixLength < r.prefixLength
    }

    /// Parses `ADDRESS/PREFIX`. The reason is one phrase, for `--subnet: '<text>': <reason>`.
    public static func parse(_ text: String) -> Result<IPSubnet, InputError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.init("expected a CIDR like 10.1.0.0/24 or 2001:db8::/64")) }
        guard let a = IPAddress(String(parts[0])) else {
            return .failure(.init("'\(parts[0])' is not an IP address"))
        }
        let p = String(parts[1])
        guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p),
              n <= a.family.bitWidth else {
            return .failure(.init("prefix length '\(p)' is out of range 1..\(a.family.bitWidth)"))
        }
        guard n >= 1 else { return .failure(.init("a /0 subnet is the whole address space")) }
        let hostBits = a.family.bitWidth - n
        let mask: UInt128 = hostBits >= 128 ? UInt128.max : (UInt128(1) << hostBits) - 1
        guard a.value & mask == 0 else {
            let net = IPAddress(family: a.family, value: a.value & ~mask)
            return .failure(.init("host bits are set (the subnet is \(net)/\(n))"))
        }
        guard let s = IPSubnet(family: a.family, network: a.value, prefixLength: n) else {
            return .failure(.init("not a subnet"))
        }
        return .success(s)
    }

    /// Number of addresses as text (IPv6 counts do not fit in 64 bits).
    public static func count(_ r: ClosedRange<UInt128>) -> String {
        r.upperBound - r.lowerBound == UInt128.max ? "340282366920938463463374607431768211456" : String(r.upperBound - r.lowerBound + 1)
    }
}

/// A contiguous run of addresses: `10.1.0.10`, `10.1.0.10-10.1.0.20` or a CIDR.
public struct IPRange: Hashable, Sendable, CustomStringConvertible {
    public let family: IPFamily
    public let bounds: ClosedRange<UInt128>

    public init(family: IPFamily, bounds: ClosedRange<UInt128>) {
        self.family = family
        self.bounds = bounds
    }

    public init(_ a: IPAddress) {
        family = a.family
        bounds = a.value...a.value
    }

    public var first: IPAddress { IPAddress(family: family, value: bounds.lowerBound) }
    public var last: IPAddress { IPAddress(family: family, value: bounds.upperBound) }

    public var description: String {
        bounds.lowerBound == bounds.upperBound ? "\(first)" : "\(first)-\(last)"
    }

    public static func parse(_ text: String) -> Result<IPRange, InputError> {
        if text.contains("/") {
            switch IPSubnet.parse(text) {
            case .success(let s): return .success(IPRange(family: s.family, bounds: s.network...s.last))
            case .failure(let e): return .failure(e)
            }
        }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, let a = IPAddress(String(parts[0])) else {
            return .failure(.init("expected an address, a range A-B or a CIDR"))
        }
        guard parts.count == 2 else { return .success(IPRange(a)) }
        guard let b = IPAddress(String(parts[1])) else { return .failure(.init("'\(parts[1])' is not an IP address")) }
        guard b.family == a.family else { return .failure(.init("mixes IPv4 and IPv6")) }
        guard a.value <= b.value else { return .failure(.init("the range ends before it starts")) }
        return .success(IPRange(family: a.family, bounds: a.value...b.value))
    }
}

