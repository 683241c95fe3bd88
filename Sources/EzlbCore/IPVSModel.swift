/// The IPVS objects ezlb manages, independent of how they reach the kernel.

public enum IPVSProtocol: String, Codable, Sendable, CaseIterable, Comparable {
    case tcp, udp, sctp

    /// IPPROTO_* number.
    public var number: UInt16 {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .sctp: return 132
        }
    }

    public init?(number: UInt16) {
        switch number {
        case 6: self = .tcp
        case 17: self = .udp
        case 132: self = .sctp
        default: return nil
        }
    }

    /// The ipvsadm switch (`-t`, `-u`, `--sctp-service`).
    public var ipvsadmFlag: String {
        switch self {
        case .tcp: return "-t"
        case .udp: return "-u"
        case .sctp: return "--sctp-service"
        }
    }

    public static func < (l: IPVSProtocol, r: IPVSProtocol) -> Bool { l.number < r.number }
}

/// The 14 schedulers the Linux kernel ships.
public enum Scheduler: String, Codable, Sendable, CaseIterable {
    case rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos
}

/// Scheduler flags (IP_VS_SVC_F_SCHED1/2). Their meaning depends on the scheduler.
public enum SchedulerFlag: String, Codable, Sendable, CaseIterable, Comparable {
    case shFallback = "sh-fallback"
    case shPort = "sh-port"
    case mhFallback = "mh-fallback"
    case mhPort = "mh-port"

    public var scheduler: Scheduler {
        switch self {
        case .shFallback, .shPort: return .sh
        case .mhFallback, .mhPort: return .mh
        }
    }

    /// The kernel flag bit.
    public var bit: UInt32 {
        switch self {
        case .shFallback, .mhFallback: return IPVSFlags.sched1
        case .shPort, .mhPort: return IPVSFlags.sched2
        }
    }

    public static func < (l: SchedulerFlag, r: SchedulerFlag) -> Bool { l.rawValue < r.rawValue }
}

/// Service flag bits from linux/ip_vs.h.
public enum IPVSFlags {
    public static let persistent: UInt32 = 0x0001
    public static let hashed: UInt32 = 0x0002
    public static let onePacket: UInt32 = 0x0004
    public static let sched1: UInt32 = 0x0008
    public static let sched2: UInt32 = 0x0010
    public static let sched3: UInt32 = 0x0020
    /// The bits ezlb manages and compares; HASHED is kernel-internal.
    public static let managedMask: UInt32 = persistent | onePacket | sched1 | sched2 | sched3
}

/// Packet forwarding method of a real server (IP_VS_CONN_F_FWD_MASK values).
public enum ForwardMethod: String, Codable, Sendable, CaseIterable {
    case masq, route, tunnel

    public var connFlags: UInt32 {
        switch self {
        case .masq: return 0
        case .tunnel: return 2
        case .route: return 3
        }
    }

    public init?(connFlags: UInt32) {
        switch connFlags & 0x7 {
        case 0: self = .masq
        case 2: self = .tunnel
        case 3: self = .route
        default: return nil
        }
    }

    /// ipvsadm's switch: -m, -i, -g.
    public var ipvsadmFlag: String {
        switch self {
        case .masq: return "-m"
        case .tunnel: return "-i"
        case .route: return "-g"
        }
    }
}

/// Identity of a virtual service in the kernel.
public enum ServiceKey: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    case inet(IPVSProtocol, Endpoint)
    case fwmark(UInt32, IPFamily)

    public var family: IPFamily {
        switch self {
        case .inet(_, let e): return e.address.family
        case .fwmark(_, let f): return f
        }
    }

    public var isFwmark: Bool {
        if case .fwmark = self { return true }
        return false
    }

    /// `tcp 10.0.0.1:80`, `fwmark 7 ipv4`.
    public var description: String {
        switch self {
        case .inet(let p, let e): return "\(p.rawValue) \(e)"
        case .fwmark(let m, let f): return "fwmark \(m) \(f.rawValue)"
        }
    }

    /// Parses the `description` form back: `tcp 10.0.0.1:80`, `udp [2001:db8::1]:53`, `fwmark 7 ipv6`.
    public init?(text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        if parts[0] == "fwmark" {
            guard parts.count == 3, let m = UInt32(parts[1]), m > 0, let f = IPFamily(rawValue: String(parts[2])) else { return nil }
            self = .fwmark(m, f)
            return
        }
        guard parts.count == 2, let p = IPVSProtocol(rawValue: String(parts[0])),
              case .success(let e) = Endpoint.parse(String(parts[1])) else { return nil }
        self = .inet(p, e)
    }

    /// The ipvsadm service selector as `ipvsadm -S` prints it: `-t 10.0.0.1:80`,
    /// `-f 7`, `-f 7 -6`. ipvsadm formats a mark with %d, so marks above
    /// 2^31-1 come out negative.
    public var ipvsadmSelector: String {
        switch self {
        case .inet(let p, let e): return "\(p.ipvsadmFlag) \(e)"
        case .fwmark(let m, let f):
            let mark = Int32(bitPattern: m)
            return f == .ipv6 ? "-f \(mark) -6" : "-f \(mark)"
        }
    }

    /// Plain integers whose tuple order is exactly `<`: sorting thousands of
    /// keys compares these instead of matching enums.
    public var orderKey: (UInt64, UInt64, UInt64, UInt64) {
        switch self {
        case .inet(let p, let e):
            let (hi, lo) = e.address.words
            return ((e.address.family == .ipv4 ? 0 : 1) << 32 | UInt64(p.number), hi, lo, UInt64(e.port))
        case .fwmark(let m, let f):
            return (1 << 40, UInt64(m), UInt64(f.af), 0)
        }
    }

    /// One word into the hasher (see `IPAddress.hash(into:)`).
    public func hash(into h: inout Hasher) {
        switch self {
        case .inet(let p, let e): h.combine(e.address.hashWord &+ UInt64(e.port) &* 0x1_0000_0001 &+ UInt64(p.number) << 40)
        case .fwmark(let m, let f): h.combine(UInt64(m) << 8 | UInt64(f.af) | 1 << 63)
        }
    }

    /// ezlb's display order: inet services (IPv4 first, then by protocol, address,
    /// port) before fwmark services. (`ipvsadm -S`'s own order is replayed by
    /// `IPVSFormat.ipvsadmSave`.)
    public static func < (l: ServiceKey, r: ServiceKey) -> Bool {
        switch (l, r) {
        case (.fwmark(let a, let fa), .fwmark(let b, let fb)):
            return a != b ? a < b : fa.af < fb.af
        case (.fwmark, .inet): return false
        case (.inet, .fwmark): return true
        case (.inet(let pa, let ea), .inet(let pb, let eb)):
            if ea.address.family != eb.address.family { return ea.address.family == .ipv4 }
            if pa != pb { return pa < pb }
            return ea < eb
        }
    }

    // Codable as a tagged string-free object, stable across versions.
    private enum CodingKeys: String, CodingKey { case protocol_ = "protocol", address, port, fwmark, family }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let mark = try c.decodeIfPresent(UInt32.self, forKey: .fwmark) {
            self = .fwmark(mark, try c.decode(IPFamily.self, forKey: .family))
        } else {
            let p = try c.decode(IPVSProtocol.self, forKey: .protocol_)
            let a = try c.decode(IPAddress.self, forKey: .address)
            let port = try c.decode(UInt16.self, forKey: .port)
            self = .inet(p, Endpoint(address: a, port: port))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .inet(let p, let e):
            try c.encode(p, forKey: .protocol_)
            try c.encode(e.address, forKey: .address)
            try c.encode(e.port, forKey: .port)
        case .fwmark(let m, let f):
            try c.encode(m, forKey: .fwmark)
            try c.encode(f, forKey: .family)
        }
    }
}

/// A virtual service's settings (everything the kernel stores besides its key).
public struct VirtualService: Hashable, Sendable, Codable {
    public var key: ServiceKey
    public var scheduler: String
    /// Flag bits within `IPVSFlags.managedMask`.
    public var flags: UInt32
    /// Persistence timeout in seconds; meaningful with the persistent flag.
    public var timeout: UInt32
    /// IPv4: the netmask as a host-order 32-bit value (0xffffffff = /32); IPv6: the prefix length.
    public var netmask: UInt32

    public init(key: ServiceKey, scheduler: String, flags: UInt32 = 0, timeout: UInt32 = 0, netmask: UInt32? = nil) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags & IPVSFlags.managedMask
        self.timeout = timeout
        self.netmask = netmask ?? VirtualService.defaultNetmask(key.family)
    }

    public static func defaultNetmask(_ f: IPFamily) -> UInt32 { f == .ipv4 ? 0xFFFF_FFFF : 128 }

    public var isPersistent: Bool { flags & IPVSFlags.persistent != 0 }

    /// The scheduler flags set, by name for this service's scheduler.
    public var schedulerFlags: [SchedulerFlag] {
        SchedulerFlag.allCases.filter { $0.scheduler.rawValue == scheduler && flags & $0.bit != 0 }.sorted()
    }

    /// Netmask as printed by ipvsadm: dotted quad for IPv4, prefix length for IPv6.
    public var netmaskText: String {
        if key.family == .ipv4 {
            return "\(netmask >> 24 & 0xff).\(netmask >> 16 & 0xff).\(netmask >> 8 & 0xff).\(netmask & 0xff)"
        }
        return String(netmask)
    }

    /// Settings that only matter to the kernel when persistence is on are normalised,
    /// so a dump compares equal to the desired state.
    public var normalized: VirtualService {
        var s = self
        s.flags &= IPVSFlags.managedMask
        if !s.isPersistent {
            s.timeout = 0
            s.netmask = VirtualService.defaultNetmask(s.key.family)
        }
        return s
    }
}

/// A real server (destination) of a virtual service.
public struct RealServer: Hashable, Sendable, Codable {
    public var endpoint: Endpoint
    public var weight: UInt32
    public var forward: ForwardMethod
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32

    public init(endpoint: Endpoint, weight: UInt32 = 1, forward: ForwardMethod = .masq,
                upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0) {
        self.endpoint = endpoint
        self.weight = weight
        self.forward = forward
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
    }

    private enum CodingKeys: String, CodingKey { case address, port, weight, forward, upperThreshold = "upper_threshold", lowerThreshold = "lower_threshold" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        endpoint = Endpoint(address: try c.decode(IPAddress.self, forKey: .address), port: try c.decode(UInt16.self, forKey: .port))
        weight = try c.decode(UInt32.self, forKey: .weight)
        forward = try c.decode(ForwardMethod.self, forKey: .forward)
        upperThreshold = try c.decodeIfPresent(UInt32.self, forKey: .upperThreshold) ?? 0
        lowerThreshold = try c.decodeIfPresent(UInt32.self, forKey: .lowerThreshold) ?? 0
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(endpoint.address, forKey: .address)
        try c.encode(endpoint.port, forKey: .port)
        try c.encode(weight, forKey: .weight)
        try c.encode(forward, forKey: .forward)
        try c.encode(upperThreshold, forKey: .upperThreshold)
        try c.encode(lowerThreshold, forKey: .lowerThreshold)
    }
}

/// A service with its destinations: what the kernel holds or what the config wants.
public struct IPVSServiceState: Hashable, Sendable, Codable {
    public var service: VirtualService
    public var destinations: [RealServer]

    public init(service: VirtualService, destinations: [RealServer]) {
        self.service = service
        self.destinations = destinations
    }

    public var key: ServiceKey { service.key }
}

/// One kernel operation of a plan.
public enum IPVSOperation: Hashable, Sendable {
    case addService(VirtualService)
    case updateService(from: VirtualService, to: VirtualService)
    case deleteService(VirtualService)
    case addDestination(ServiceKey, RealServer)
    case updateDestination(ServiceKey, from: RealServer, to: RealServer)
    case deleteDestination(ServiceKey, RealServer)

    public var serviceKey: ServiceKey {
        switch self {
        case .addService(let s), .deleteService(let s): return s.key
        case .updateService(_, let s): return s.key
        case .addDestination(let k, _), .updateDestination(let k, _, _), .deleteDestination(let k, _): return k
        }
    }
}

/// The kernel's counters of one service or destination (`struct ip_vs_stats64`): totals since
/// it was created, and rates per second (the kernel's estimate over ~2 s), as
/// `ipvsadm -L -n --stats --exact` / `--rate` print them.
public struct IPVSStats: Hashable, Sendable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public var connectionsPerSecond: UInt64 = 0
    public var inPacketsPerSecond: UInt64 = 0
    public var outPacketsPerSecond: UInt64 = 0
    public var inBytesPerSecond: UInt64 = 0
    public var outBytesPerSecond: UInt64 = 0

    public init() {}
}

/// A tunnel destination's encapsulation (IPVS_DEST_ATTR_TUN_*, kernel >= 5.3): 0 ipip, 1 gue, 2 gre.
public struct IPVSTunnel: Hashable, Sendable {
    public var type: UInt8
    public var port: UInt16
    public var flags: UInt16

    public init(type: UInt8 = 0, port: UInt16 = 0, flags: UInt16 = 0) {
        self.type = type
        self.port = port
        self.flags = flags
    }
}

/// What `ipvs show` reads besides the table: per service and destination the counters, per
/// destination the connection counts and the tunnel encapsulation (nil: none reported).
public struct IPVSServiceDetail: Hashable, Sendable {
    public var state: IPVSServiceState
    public var stats: IPVSStats
    /// Parallel to `state.destinations`.
    public var destinations: [IPVSDestinationDetail]

    public init(state: IPVSServiceState, stats: IPVSStats = IPVSStats(), destinations: [IPVSDestinationDetail]? = nil) {
        self.state = state
        self.stats = stats
        self.destinations = destinations ?? state.destinations.map { d in
            IPVSDestinationDetail(tunnel: d.forward == .tunnel ? IPVSTunnel() : nil)
        }
    }
}

public struct IPVSDestinationDetail: Hashable, Sendable {
    public var activeConnections: UInt32 = 0
    public var inactiveConnections: UInt32 = 0
    public var persistentConnections: UInt32 = 0
    public var stats = IPVSStats()
    public var tunnel: IPVSTunnel?

    public init(activeConnections: UInt32 = 0, inactiveConnections: UInt32 = 0, persistentConnections: UInt32 = 0,
                stats: IPVSStats = IPVSStats(), tunnel: IPVSTunnel? = nil) {
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        self.stats = stats
        self.tunnel = tunnel
    }
}
