import EzlbCore

/// FullNAT on nftables: everything in `table inet ezlb`, a fixed skeleton whose rules look
/// the packet up in sets, so the rule count never grows with the backends (docs/snat.md).
///
///     set svc4 { type ipv4_addr . inet_proto . inet_service . ipv4_addr . inet_service }
///                                 # VIP . protocol . VIP port . backend . backend port
///     map svc4_snat { … : ipv4_addr }                # the same keys, for services with snat_ip
///     set mark4 { type mark . ipv4_addr }            # fwmark services: mark . backend
///     map mark4_snat { type mark . ipv4_addr : ipv4_addr }
///     set markfwd4 { type ipv4_addr }                # fwmark services' backends (replies)
///     (and the same five for IPv6)
///     chain postrouting { type nat hook postrouting priority srcnat;
///         ct original ip daddr . meta l4proto . ct original proto-dst . ip daddr . th dport
///             → snat to the map's address, or masquerade when in svc4
///         meta mark . ip daddr → likewise for mark4_snat / mark4 }
///     chain forward { type filter hook forward priority mangle - 10;
///         replies of those connections (keys with ip saddr . th sport; for fwmark services
///         `ct direction reply ip saddr @markfwd4`) → meta mark |= forward_mark }
///
/// SNAT is scoped by conntrack's original destination, which IPVS leaves as client → VIP: a
/// client that talks to a backend directly keeps its address. The forward chain only marks:
/// an accept in ezlb's table cannot override a drop in another table's chain on the same
/// hook, so the host's policy admits ezlb's replies with one rule on the mark (`ezlb doctor`
/// prints it for each chain that would drop them).
public enum SNATNFT {
    public static let family = NFTFamily.inet
    public static let tableName = "ezlb"
    /// The packet mark bit the forward chain sets on FullNAT replies (0: none, no forward chain).
    public static let defaultForwardMark: UInt32 = 0x0020_0000
    /// mangle (-150) - 10: before the host's mangle and filter chains on the forward hook.
    public static let forwardPriority: Int32 = -160

    // nft's datatype ids.
    static let tIPv4: UInt32 = 7, tIPv6: UInt32 = 8, tProto: UInt32 = 12, tService: UInt32 = 13, tMark: UInt32 = 19

    static func concat(_ types: [UInt32]) -> UInt32 { types.reduce(0) { $0 << 6 | $1 } }

    static func suffix(_ f: IPFamily) -> String { f == .ipv4 ? "4" : "6" }
    static func addrType(_ f: IPFamily) -> UInt32 { f == .ipv4 ? tIPv4 : tIPv6 }
    static func addrLen(_ f: IPFamily) -> UInt32 { f == .ipv4 ? 4 : 16 }

    /// The table for these services (nil: none has FullNAT backends, so no table).
    public static func table(_ services: [FullNATService], health: BackendHealthView = AllBackendsHealthy(),
                             forwardMark: UInt32 = defaultForwardMark) -> NFTTable? {
        var t = NFTTable(family: family, name: tableName)
        var elements: [String: [[UInt8]: [UInt8]]] = [:]
        for f in IPFamily.allCases {
            let s = suffix(f), a = addrType(f), al = addrLen(f)
            t.sets += [
                NFTSetSpec(name: "svc" + s, keyType: concat([a, tProto, tService, a, tService]), keyLen: al * 2 + 12),
                NFTSetSpec(name: "svc\(s)_snat", keyType: concat([a, tProto, tService, a, tService]), keyLen: al * 2 + 12, dataType: a, dataLen: al),
                NFTSetSpec(name: "mark" + s, keyType: concat([tMark, a]), keyLen: 4 + al),
                NFTSetSpec(name: "mark\(s)_snat", keyType: concat([tMark, a]), keyLen: 4 + al, dataType: a, dataLen: al),
                NFTSetSpec(name: "markfwd" + s, keyType: a, keyLen: al),
            ]
            for n in ["svc" + s, "svc\(s)_snat", "mark" + s, "mark\(s)_snat", "markfwd" + s] { elements[n] = [:] }
        }
        var any = false
        for svc in services {
            let extra = health.extraBackends(service: svc.name)
            for b in (extra.isEmpty ? svc.backends : svc.backends + extra)
            where b.address.family == svc.key.family && health.isHealthy(service: svc.name, backend: b) {
                any = true
                let s = suffix(b.address.family)
                let snat = svc.snatIP.map(\.bytes) ?? []
                switch svc.key {
                case .inet(let p, let vip):
                    let k = serviceKey(vip: vip, proto: p, backend: b)
                    elements["svc" + s, default: [:]][k] = []
                    if !snat.isEmpty { elements["svc\(s)_snat", default: [:]][k] = snat }
                case .fwmark(let m, _):
                    let k = markKey(m, b.address)
                    elements["mark" + s, default: [:]][k] = []
                    if !snat.isEmpty { elements["mark\(s)_snat", default: [:]][k] = snat }
                    elements["markfwd" + s, default: [:]][b.address.bytes] = []
                }
            }
        }
        guard any else { return nil }
        t.elements = elements
        var post = NFTChain(name: "postrouting", hook: NFTHook(type: "nat", hook: NFTHook.postrouting, priority: 100), rules: [])
        var fwd = NFTChain(name: "forward", hook: NFTHook(type: "filter", hook: NFTHook.forward, priority: forwardPriority), rules: [])
        for f in IPFamily.allCases {
            let s = suffix(f)
            let svcKey = serviceKeyLoad(f, reply: false), markKeyLoad = [NFTExpr.meta(NFTExpr.Meta.mark, dreg: NFTExpr.reg0), daddr(f, reg: NFTExpr.reg0 + 1)]
            post.rules += [
                NFTRule(nfproto(f) + svcKey + [.lookup("svc\(s)_snat", sreg: NFTExpr.reg0, dreg: NFTExpr.reg0), .snat(f, addressReg: NFTExpr.reg0)],
                        comment: "ezlb: FullNAT SNAT to snat_ip"),
                NFTRule(nfproto(f) + svcKey + [.lookup("svc" + s, sreg: NFTExpr.reg0), .masquerade], comment: "ezlb: FullNAT masquerade"),
                NFTRule(nfproto(f) + markKeyLoad + [.lookup("mark\(s)_snat", sreg: NFTExpr.reg0, dreg: NFTExpr.reg0), .snat(f, addressReg: NFTExpr.reg0)],
                        comment: "ezlb: FullNAT SNAT to snat_ip (fwmark)"),
                NFTRule(nfproto(f) + markKeyLoad + [.lookup("mark" + s, sreg: NFTExpr.reg0), .masquerade], comment: "ezlb: FullNAT masquerade (fwmark)"),
            ]
            if forwardMark != 0 {
                fwd.rules += [
                    NFTRule(nfproto(f) + serviceKeyLoad(f, reply: true) + [.lookup("svc" + s, sreg: NFTExpr.reg0)] + setMark(forwardMark),
                            comment: "ezlb: mark FullNAT replies"),
                    NFTRule(nfproto(f) + [.ct(NFTExpr.CT.direction, original: false, dreg: NFTExpr.reg0), .cmp(NFTExpr.Cmp.eq, sreg: NFTExpr.reg0, [1]),
                                          saddr(f, reg: NFTExpr.reg0), .lookup("markfwd" + s, sreg: NFTExpr.reg0)] + setMark(forwardMark),
                            comment: "ezlb: mark FullNAT replies (fwmark)"),
                ]
            }
        }
        t.chains = forwardMark != 0 ? [post, fwd] : [post]
        return t
    }

    // MARK: keys

    static func port(_ p: UInt16) -> [UInt8] { [UInt8(p >> 8), UInt8(p & 0xff), 0, 0] }

    static func serviceKey(vip: Endpoint, proto: IPVSProtocol, backend: Endpoint) -> [UInt8] {
        vip.address.bytes + [UInt8(truncatingIfNeeded: proto.number), 0, 0, 0] + port(vip.port) + backend.address.bytes
            + port(backend.port == 0 ? vip.port : backend.port)
    }

    /// The mark as `meta mark` loads it: host byte order.
    static func markKey(_ mark: UInt32, _ a: IPAddress) -> [UInt8] {
        withUnsafeBytes(of: mark) { Array($0) } + a.bytes
    }

    // MARK: expressions

    static func nfproto(_ f: IPFamily) -> [NFTExpr] {
        [.meta(NFTExpr.Meta.nfproto, dreg: NFTExpr.reg0), .cmp(NFTExpr.Cmp.eq, sreg: NFTExpr.reg0, [UInt8(f.af)])]
    }

    static func daddr(_ f: IPFamily, reg: UInt32) -> NFTExpr {
        .payload(NFTExpr.Payload.network, offset: f == .ipv4 ? 16 : 24, len: addrLen(f), dreg: reg)
    }

    static func saddr(_ f: IPFamily, reg: UInt32) -> NFTExpr {
        .payload(NFTExpr.Payload.network, offset: f == .ipv4 ? 12 : 8, len: addrLen(f), dreg: reg)
    }

    /// `ct original ip daddr . meta l4proto . ct original proto-dst . ip daddr . th dport` into
    /// consecutive registers from reg0; for replies the last two are `ip saddr . th sport`.
    static func serviceKeyLoad(_ f: IPFamily, reply: Bool) -> [NFTExpr] {
        let words = addrLen(f) / 4
        var r = NFTExpr.reg0
        var out: [NFTExpr] = [.ct(f == .ipv4 ? NFTExpr.CT.dstIP : NFTExpr.CT.dstIP6, original: true, dreg: r)]
        r += words
        out.append(.meta(NFTExpr.Meta.l4proto, dreg: r)); r += 1
        out.append(.ct(NFTExpr.CT.protoDst, original: true, dreg: r)); r += 1
        out.append(reply ? saddr(f, reg: r) : daddr(f, reg: r)); r += words
        out.append(.payload(NFTExpr.Payload.transport, offset: reply ? 0 : 2, len: 2, dreg: r))
        return out
    }

    static func setMark(_ m: UInt32) -> [NFTExpr] {
        let host = withUnsafeBytes(of: m) { Array($0) }, keep = withUnsafeBytes(of: ~m) { Array($0) }
        return [.meta(NFTExpr.Meta.mark, dreg: NFTExpr.reg0), .bitwise(sreg: NFTExpr.reg0, dreg: NFTExpr.reg0, mask: keep, xor: host),
                .metaSet(NFTExpr.Meta.mark, sreg: NFTExpr.reg0)]
    }

    // MARK: rendering

    /// An element as nft prints it: `10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080 : 10.0.0.3`.
    public static func describe(set: String, key: [UInt8], data: [UInt8]) -> String {
        let six = set.firstRange(of: "6") != nil
        let al = six ? 16 : 4
        func addr(_ b: ArraySlice<UInt8>) -> String {
            let a = Array(b)
            return a.withUnsafeBytes { IPAddress(networkBytes: $0) }?.description ?? hexBytes(a)
        }
        func port(_ b: ArraySlice<UInt8>) -> String { b.count >= 2 ? "\(UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1]))" : "?" }
        var text: String
        if set.hasPrefix("svc"), key.count == al * 2 + 12 {
            let p = IPVSProtocol(number: UInt16(key[al])).map(\.rawValue) ?? "\(key[al])"
            text = "\(addr(key[0..<al])) . \(p) . \(port(key[(al + 4)...])) . \(addr(key[(al + 8)..<(al * 2 + 8)])) . \(port(key[(al * 2 + 8)...]))"
        } else if set.hasPrefix("markfwd"), key.count == al {
            text = addr(key[...])
        } else if set.hasPrefix("mark"), key.count == 4 + al {
            let m = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            text = "0x\(String(m, radix: 16)) . \(addr(key[4...]))"
        } else {
            text = hexBytes(key)
        }
        if !data.isEmpty { text += " : \(data.count == al ? addr(data[...]) : hexBytes(data))" }
        return text
    }
}

/// The bridges' MASQUERADE on nftables: `table inet ezlb-bridges`, one rule per bridge that
/// masquerades (`ip saddr SUBNET oifname != "NAME" masquerade`, as the iptables backend's
/// `-s SUBNET ! -o NAME -j MASQUERADE`). Bridges are few: a change rewrites the table in one
/// transaction.
public enum BridgeNFT {
    public static let family = NFTFamily.inet
    public static let tableName = "ezlb-bridges"

    /// The table for these bridges (name, subnet address, prefix length); nil when none.
    public static func table(_ bridges: [(name: String, network: IPAddress, prefixLength: Int)]) -> NFTTable? {
        guard !bridges.isEmpty else { return nil }
        var chain = NFTChain(name: "postrouting", hook: NFTHook(type: "nat", hook: NFTHook.postrouting, priority: 100), rules: [])
        for b in bridges.sorted(by: { $0.name < $1.name }) {
            let f = b.network.family
            let len = SNATNFT.addrLen(f)
            var mask = [UInt8](repeating: 0, count: Int(len))
            for i in 0..<b.prefixLength { mask[i / 8] |= 0x80 >> UInt8(i % 8) }
            var name = Array(b.name.utf8.prefix(15))
            name += [UInt8](repeating: 0, count: 16 - name.count)
            chain.rules.append(NFTRule(SNATNFT.nfproto(f) + [
                SNATNFT.saddr(f, reg: NFTExpr.reg0),
                .bitwise(sreg: NFTExpr.reg0, dreg: NFTExpr.reg0, mask: mask, xor: [UInt8](repeating: 0, count: Int(len))),
                .cmp(NFTExpr.Cmp.eq, sreg: NFTExpr.reg0, b.network.bytes),
                .meta(NFTExpr.Meta.oifname, dreg: NFTExpr.reg0),
                .cmp(NFTExpr.Cmp.neq, sreg: NFTExpr.reg0, name),
                .masquerade,
            ], comment: "ezlb: bridge \(b.name)"))
        }
        return NFTTable(family: family, name: tableName, chains: [chain])
    }
}
