import EzlbCore

/// A FullNAT service as `snat sync` needs it (built from the config by the command).
public struct FullNATService: Equatable, Sendable {
    public var name: String
    /// The virtual service: its VIP, protocol and port, or its firewall mark.
    public var key: ServiceKey
    public var backends: [Endpoint]
    /// nil → MASQUERADE.
    public var snatIP: IPAddress?

    public init(name: String, key: ServiceKey, backends: [Endpoint], snatIP: IPAddress?) {
        self.name = name
        self.key = key
        self.backends = backends
        self.snatIP = snatIP
    }

    /// The protocol the rules match: nil for fwmark services (the mark selected the traffic;
    /// rules match every protocol).
    public var proto: IPVSProtocol? {
        if case .inet(let p, _) = key { return p }
        return nil
    }
}

/// Which backends get rules: `snat sync` passes the health view the last
/// `ipvs apply` stored (`StoredHealthView`), so rules exist only for healthy
/// backends, plus a service's sorry server while it is in use.
public protocol BackendHealthView: Sendable {
    func isHealthy(service: String, backend: Endpoint) -> Bool
    /// Destinations IPVS has for the service beyond its backends (a sorry server in use).
    func extraBackends(service: String) -> [Endpoint]
}

extension BackendHealthView {
    public func extraBackends(service: String) -> [Endpoint] { [] }
}

public struct AllBackendsHealthy: BackendHealthView {
    public init() {}
    public func isHealthy(service: String, backend: Endpoint) -> Bool { true }
}

/// The rules FullNAT needs, as managed chains.
///
/// Packet path on the director (verified on a real kernel by Tests/vm/snat-fullnat.sh,
/// which counts both directions with probe rules):
/// Rules are scoped to the service: SNAT applies only to connections whose original
/// destination (conntrack's original tuple, which IPVS leaves as client → VIP) was the
/// service's VIP, protocol and port — a client talking to the backend directly keeps its
/// address — and for fwmark services only to packets carrying the service's mark.
///
///  - request client → VIP: PREROUTING, then INPUT (the VIP is local), where IPVS
///    (LOCAL_IN hook) DNATs it to the backend and sends it out through the LOCAL_OUT
///    hook and POSTROUTING. It never traverses FORWARD, so a FORWARD rule matching
///    `-d backend --dport port` (upstream's per-backend accept) never matches anything.
///    POSTROUTING's nat chain sees it with the backend as destination: that is where
///    `-d backend -p proto --dport port -j SNAT/MASQUERADE` applies (needs
///    net.ipv4.vs.conntrack=1 so the connection is tracked after IPVS's DNAT).
///  - reply backend → snat_ip: conntrack un-SNATs it in PREROUTING (destination back to
///    the client), the route is not local, so it goes through FORWARD; filter FORWARD
///    (priority 0) sees it before IPVS's reply hook (FORWARD, priority 100) rewrites
///    the source, i.e. as `-s backend --sport port`. With vs.conntrack=1 it is
///    ESTABLISHED; with conntrack off it is a NEW flow — hence the per-backend
///    `-s backend -p proto --sport port -j ACCEPT` after the ESTABLISHED,RELATED accept.
///    A host with FORWARD policy DROP needs exactly these.
public enum SNATRules {
    public static let natChain = "EZLB-SNAT"
    public static let forwardChain = "EZLB-FORWARD"
    /// Comment on rules that belong to no single service.
    public static let commonComment = "ezlb"

    public static func comment(_ service: String) -> String { XTRule.fitComment("ezlb:\(service)") }

    /// Managed chains for both families (a family without FullNAT backends gets none,
    /// so its chains and jumps are removed).
    public static func chains(_ services: [FullNATService], health: BackendHealthView = AllBackendsHealthy()) -> [ManagedChain] {
        var out: [ManagedChain] = []
        for family in IPFamily.allCases {
            // Sized up front: XTRule is large, and growing arrays and sets of 10,000 of them copies megabytes.
            let n = services.reduce(0) { $0 + $1.backends.count }
            var nat: [XTRule] = [], fwd: [XTRule] = []
            nat.reserveCapacity(n); fwd.reserveCapacity(n + 1)
            // Rules already listed (a backend listed twice, a sorry server that is also a
            // backend, comments cut to the same 255 bytes) are skipped: found by their full
            // hash, then `==` against the rules with that hash (a set of the rules themselves
            // would copy megabytes of them).
            var seenNat = RuleIndex(capacity: n), seenFwd = RuleIndex(capacity: n + 1)
            seenFwd.append(XTRule(ctstate: [.established, .related], comment: commonComment, target: .accept), to: &fwd)
            for s in services {
                let extra = health.extraBackends(service: s.name)
                for b in (extra.isEmpty ? s.backends : s.backends + extra)
                where b.address.family == family && health.isHealthy(service: s.name, backend: b) {
                    let proto = b.port == 0 ? nil : s.proto
                    let port = proto == nil ? nil : b.port
                    let c = comment(s.name)
                    var origin: XTConntrackOrigin? = nil, mark: XTMark? = nil
                    switch s.key {
                    case .inet(let p, let vip): origin = XTConntrackOrigin(proto: p, address: vip.address, port: vip.port == 0 ? nil : vip.port)
                    case .fwmark(let m, _): mark = XTMark(m)
                    }
                    let snat = XTRule(destination: XTPrefix(b.address), proto: proto, destinationPort: port, ctOrigin: origin, mark: mark,
                                      comment: c, target: s.snatIP.map { .snat($0) } ?? .masquerade)
                    // Replies carry no mark: a fwmark service's are accepted by their source.
                    let accept = XTRule(source: XTPrefix(b.address), proto: proto, sourcePort: port, ctOrigin: origin, comment: c, target: .accept)
                    seenNat.append(snat, to: &nat)
                    seenFwd.append(accept, to: &fwd)
                }
            }
            if nat.isEmpty { continue }
            out.append(ManagedChain(ref: XTTableRef(family, .nat), name: natChain, hook: "POSTROUTING", position: .append, rules: nat))
            out.append(ManagedChain(ref: XTTableRef(family, .filter), name: forwardChain, hook: "FORWARD", position: .first, rules: fwd))
        }
        return out
    }

    /// Positions of rules in an array, by their full hash.
    struct RuleIndex {
        private var first: [Int: Int32]
        /// Further positions of distinct rules whose hash was taken.
        private var more: [Int: [Int32]] = [:]
        init(capacity: Int) { first = Dictionary(minimumCapacity: capacity) }

        /// Appends `r` to `rules` unless an equal rule is there already.
        mutating func append(_ r: XTRule, to rules: inout [XTRule]) {
            let h = r.fullHash
            if let i = first[h] {
                if rules[Int(i)] == r || (more[h]?.contains { rules[Int($0)] == r } ?? false) { return }
                more[h, default: []].append(Int32(rules.count))
            } else {
                first[h] = Int32(rules.count)
            }
            rules.append(r)
        }
    }

    /// Every table FullNAT may touch, in commit order.
    public static let tables: [XTTableRef] = [
        XTTableRef(.ipv4, .nat), XTTableRef(.ipv4, .filter), XTTableRef(.ipv6, .nat), XTTableRef(.ipv6, .filter),
    ]
}
