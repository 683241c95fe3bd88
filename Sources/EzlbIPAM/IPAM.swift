import EzlbCore

/// Which addresses of a subnet are special and which may be handed out.
///
/// IPv4 with 2+ host bits: network and broadcast are never handed out, the
/// gateway is the first usable address (network+1). /31 (RFC 3021): both
/// addresses usable, gateway the first. /32: the one address, no gateway.
/// IPv6 with 2+ host bits: the network address (subnet-router anycast) is not
/// handed out, the gateway is network+1, there is no broadcast. /127 (RFC 6164)
/// and /128 as /31 and /32.
public struct SubnetLayout: Equatable, Sendable {
    public let subnet: IPSubnet
    public let gateway: UInt128?
    /// Addresses that may be allocated (gateway excluded); always contiguous.
    public let pool: ClosedRange<UInt128>

    public init(_ s: IPSubnet) {
        subnet = s
        switch s.hostBits {
        case 0:
            gateway = nil
            pool = s.network...s.network
        case 1:
            gateway = s.network
            pool = s.last...s.last
        default:
            gateway = s.network + 1
            let end = s.family == .ipv4 ? s.last - 1 : s.last
            pool = (s.network + 2)...end
        }
    }

    public var gatewayAddress: IPAddress? { gateway.map { IPAddress(family: subnet.family, value: $0) } }

    /// Why `v` can never be allocated in this subnet, or nil.
    public func refusal(_ v: UInt128) -> String? {
        if v == gateway { return "is the gateway of \(subnet)" }
        if v == subnet.network && !pool.contains(v) { return "is the network address of \(subnet)" }
        if subnet.family == .ipv4 && v == subnet.last && !pool.contains(v) { return "is the broadcast address of \(subnet)" }
        return nil
    }
}

/// One handed-out address.
public struct Allocation: Codable, Equatable, Sendable {
    public var ip: IPAddress
    /// Who holds it (container id, bridge:port, ...); nil for anonymous allocations.
    public var owner: String?
    /// RFC 3339 UTC.
    public var allocatedAt: String

    public init(ip: IPAddress, owner: String?, allocatedAt: String) {
        self.ip = ip
        self.owner = owner
        self.allocatedAt = allocatedAt
    }

    enum CodingKeys: String, CodingKey {
        case ip, owner
        case allocatedAt = "allocated_at"
    }
}

/// Allocations of one subnet. Size grows with allocations, never with the subnet.
public struct SubnetAllocations: Codable, Equatable, Sendable {
    public var subnet: IPSubnet
    /// Sorted by address.
    public var allocations: [Allocation]
    /// Where `--round-robin` continues (the last address it handed out).
    public var roundRobinLast: IPAddress?

    public init(subnet: IPSubnet, allocations: [Allocation] = [], roundRobinLast: IPAddress? = nil) {
        self.subnet = subnet
        self.allocations = allocations
        self.roundRobinLast = roundRobinLast
    }

    enum CodingKeys: String, CodingKey {
        case subnet, allocations
        case roundRobinLast = "round_robin_last"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .subnet)
        guard case .success(let s) = IPSubnet.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .subnet, in: c, debugDescription: "not a subnet: \(text)")
        }
        subnet = s
        allocations = try c.decode([Allocation].self, forKey: .allocations)
        roundRobinLast = try c.decodeIfPresent(IPAddress.self, forKey: .roundRobinLast)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subnet.description, forKey: .subnet)
        try c.encode(allocations, forKey: .allocations)
        try c.encodeIfPresent(roundRobinLast, forKey: .roundRobinLast)
    }

    public var isEmpty: Bool { allocations.isEmpty && roundRobinLast == nil }
}

/// Everything `<state-dir>/ipam.json` holds.
public struct IPAMState: Codable, Equatable, Sendable {
    /// Sorted by subnet.
    public var subnets: [SubnetAllocations]

    public init(subnets: [SubnetAllocations] = []) {
        self.subnets = subnets
    }

    public static let fileName = "ipam.json"
    public static let kind = "ipam"
    public static let schema = 1
    public static let recovery = "restore it from a backup or repair it by hand (ezlb will not guess which addresses are in use)"

    /// The first broken invariant, or nil: addresses inside their subnet, no
    /// address or owner twice, no overlapping subnets.
    public func invariantViolation() -> String? {
        var prev: IPSubnet? = nil
        for (i, s) in subnets.enumerated() {
            if let p = prev, p.overlaps(s.subnet) || !(p < s.subnet) { return "subnets[\(i)]: \(s.subnet) overlaps or repeats \(p)" }
            prev = s.subnet
            var owners: Set<String> = []
            var last: UInt128? = nil
            for (j, a) in s.allocations.enumerated() {
                guard s.subnet.contains(a.ip) else { return "subnets[\(i)].allocations[\(j)]: \(a.ip) is outside \(s.subnet)" }
                if let l = last, a.ip.value <= l { return "subnets[\(i)].allocations[\(j)]: \(a.ip) repeated or out of order" }
                last = a.ip.value
                if let o = a.owner, !owners.insert(o).inserted { return "subnets[\(i)].allocations[\(j)]: owner '\(o)' holds two addresses" }
            }
            if let r = s.roundRobinLast, !s.subnet.contains(r) { return "subnets[\(i)].round_robin_last: \(r) is outside \(s.subnet)" }
        }
        return nil
    }
}

/// Why an allocation or release was refused.
public enum IPAMError: EzlbError, Equatable, Sendable {
    /// A value the caller passed is unusable (usage error).
    case badInput(flag: String, value: String, reason: String)
    /// The address is held by someone else, or the owner already holds another one.
    case conflict(String)
    /// No free address is left in the requested range.
    case full(subnet: IPSubnet, range: IPRange, size: String)

    public var description: String {
        switch self {
        case .badInput(let f, let v, let r): return "\(f): '\(v)': \(r)"
        case .conflict(let m): return m
        case .full(let s, let r, let n):
            return "subnet \(s) is full: all \(n) addresses of \(r) are allocated or reserved"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .badInput: return .usage
        case .conflict: return .failure
        case .full: return .unavailable
        }
    }
}

/// Pure allocation logic over `IPAMState`.
public enum IPAM {
    public struct Request: Sendable {
        public var subnet: IPSubnet
        public var owner: String?
        /// A specific address (`--ip`).
        public var ip: IPAddress?
        /// Restricts where new addresses come from (`--range-start`/`--range-end`).
        public var range: IPRange?
        /// Never handed out automatically; `--ip` of one is refused.
        public var reserved: [IPRange]
        /// Continue after the last address handed out by round-robin instead of the lowest free one.
        public var roundRobin: Bool
        /// RFC 3339 time stamp for new allocations.
        public var now: String

        public init(subnet: IPSubnet, owner: String? = nil, ip: IPAddress? = nil, range: IPRange? = nil,
                    reserved: [IPRange] = [], roundRobin: Bool = false, now: String) {
            self.subnet = subnet
            self.owner = owner
            self.ip = ip
            self.range = range
            self.reserved = reserved
            self.roundRobin = roundRobin
            self.now = now
        }
    }

    public struct Outcome: Equatable, Sendable {
        public var allocation: Allocation
        /// False when the owner already held this address (nothing to write).
        public var created: Bool
        public var layout: SubnetLayout
    }

    /// Checks an owner id: 1..256 printable characters, no whitespace.
    public static func validateOwner(_ o: String, flag: String = "--owner") throws(IPAMError) {
        if o.count > 256 || TerminalText.nameProblem(o, maxLength: 1024) != nil || o.unicodeScalars.contains(where: { $0.properties.isWhitespace }) {
            throw .badInput(flag: flag, value: o, reason: "expected 1 to 256 printable characters without spaces")
        }
    }

    /// Allocates (or returns the owner's existing) address; mutates `state` only when created.
    public static func allocate(_ state: inout IPAMState, _ r: Request) throws(IPAMError) -> Outcome {
        let s = r.subnet
        let layout = SubnetLayout(s)
        if let o = r.owner { try validateOwner(o) }

        // Where new addresses may come from.
        var pool = layout.pool
        if let rg = r.range {
            guard rg.family == s.family, s.network <= rg.bounds.lowerBound, rg.bounds.upperBound <= s.last else {
                throw .badInput(flag: "--range-start/--range-end", value: "\(rg)", reason: "must lie inside \(s)")
            }
            let lo = max(pool.lowerBound, rg.bounds.lowerBound), hi = min(pool.upperBound, rg.bounds.upperBound)
            guard lo <= hi else {
                throw .badInput(flag: "--range-start/--range-end", value: "\(rg)", reason: "holds no allocatable address of \(s) (network, gateway and broadcast are never handed out)")
            }
            pool = lo...hi
        }
        let reserved = r.reserved.filter { $0.family == s.family && $0.bounds.overlaps(s.network...s.last) }

        if let ip = r.ip {
            guard s.contains(ip) else { throw .badInput(flag: "--ip", value: "\(ip)", reason: "is outside \(s)") }
            if let why = layout.refusal(ip.value) { throw .badInput(flag: "--ip", value: "\(ip)", reason: why) }
            if let rv = reserved.first(where: { $0.bounds.contains(ip.value) }) {
                throw .badInput(flag: "--ip", value: "\(ip)", reason: "is reserved (\(rv))")
            }
            if r.range != nil && !pool.contains(ip.value) {
                throw .badInput(flag: "--ip", value: "\(ip)", reason: "is outside --range-start..--range-end")
            }
        }

        for other in state.subnets where other.subnet != s && other.subnet.overlaps(s) && !other.allocations.isEmpty {
            throw .conflict("subnet \(s) overlaps \(other.subnet), which has \(other.allocations.count) allocations; release them first")
        }

        var idx = state.subnets.firstIndex { $0.subnet == s }
        var rec = idx.map { state.subnets[$0] } ?? SubnetAllocations(subnet: s)

        // Idempotent owner.
        if let o = r.owner, let held = rec.allocations.first(where: { $0.owner == o }) {
            if let ip = r.ip, ip != held.ip {
                throw .conflict("owner '\(o)' already holds \(held.ip) in \(s); release it before asking for \(ip)")
            }
            return Outcome(allocation: held, created: false, layout: layout)
        }

        let chosen: UInt128
        if let ip = r.ip {
            if let held = rec.allocations.first(where: { $0.ip == ip }) {
                throw .conflict("\(ip) in \(s) is already allocated to \(held.owner.map { "'\($0)'" } ?? "an anonymous owner")")
            }
            chosen = ip.value
        } else {
            var occupied: [ClosedRange<UInt128>] = rec.allocations.map { $0.ip.value...$0.ip.value }
            occupied += reserved.map(\.bounds)
            occupied.sort { $0.lowerBound < $1.lowerBound }
            var found: UInt128? = nil
            if r.roundRobin, let last = rec.roundRobinLast?.value, pool.contains(last), last < pool.upperBound {
                found = lowestFree(in: (last + 1)...pool.upperBound, occupied: occupied)
                    ?? lowestFree(in: pool.lowerBound...last, occupied: occupied)
            } else {
                found = lowestFree(in: pool, occupied: occupied)
            }
            guard let f = found else {
                throw .full(subnet: s, range: IPRange(family: s.family, bounds: pool), size: IPSubnet.count(pool))
            }
            chosen = f
        }

        let a = Allocation(ip: IPAddress(family: s.family, value: chosen), owner: r.owner, allocatedAt: r.now)
        let pos = rec.allocations.firstIndex { $0.ip.value > chosen } ?? rec.allocations.endIndex
        rec.allocations.insert(a, at: pos)
        if r.roundRobin && r.ip == nil { rec.roundRobinLast = a.ip }
        if idx == nil {
            // Overlapping subnets without allocations only remember a round-robin position: drop them.
            state.subnets.removeAll { $0.subnet != s && $0.subnet.overlaps(s) && $0.allocations.isEmpty }
            idx = state.subnets.firstIndex { $0.subnet == s }
        }
        if let i = idx {
            state.subnets[i] = rec
        } else {
            let at = state.subnets.firstIndex { s < $0.subnet } ?? state.subnets.endIndex
            state.subnets.insert(rec, at: at)
        }
        return Outcome(allocation: a, created: true, layout: layout)
    }

    /// The lowest address of `range` not covered by `occupied` (sorted by lower bound).
    public static func lowestFree(in range: ClosedRange<UInt128>, occupied: [ClosedRange<UInt128>]) -> UInt128? {
        var cur = range.lowerBound
        for o in occupied {
            if o.upperBound < cur { continue }
            if o.lowerBound > cur { return cur }
            if o.upperBound >= range.upperBound { return nil }
            cur = o.upperBound + 1
        }
        return cur
    }

    /// Releases the address `ip` and/or the owner's address in `subnet`; returns what was released
    /// (empty: nothing held, nothing changed). A subnet left with nothing to remember is dropped.
    public static func release(_ state: inout IPAMState, subnet s: IPSubnet, ip: IPAddress?, owner: String?) throws(IPAMError) -> [Allocation] {
        if let ip, !s.contains(ip) { throw .badInput(flag: "--ip", value: "\(ip)", reason: "is outside \(s)") }
        if let o = owner { try validateOwner(o) }
        if ip == nil && owner == nil { throw .badInput(flag: "--ip/--owner", value: "", reason: "give the address or the owner to release") }
        guard let idx = state.subnets.firstIndex(where: { $0.subnet == s }) else { return [] }
        var rec = state.subnets[idx]
        let matches = rec.allocations.indices.filter { i in
            let a = rec.allocations[i]
            if let ip { return a.ip == ip }
            return a.owner == owner
        }
        guard let i = matches.first else { return [] }
        let a = rec.allocations[i]
        if let ip, let owner, a.owner != owner {
            throw .conflict("\(ip) in \(s) is held by \(a.owner.map { "'\($0)'" } ?? "an anonymous owner"), not '\(owner)'")
        }
        rec.allocations.remove(at: i)
        if rec.isEmpty { state.subnets.remove(at: idx) } else { state.subnets[idx] = rec }
        return [a]
    }

    /// Forgets a subnet entirely (bridge delete); returns the allocations it held.
    public static func purge(_ state: inout IPAMState, subnet s: IPSubnet) -> [Allocation] {
        guard let idx = state.subnets.firstIndex(where: { $0.subnet == s }) else { return [] }
        return state.subnets.remove(at: idx).allocations
    }
}
