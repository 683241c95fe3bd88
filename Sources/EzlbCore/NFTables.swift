/// nftables model shared by the planner, the libnftnl backend and the fake kernel: a table
/// with its sets (and their elements) and its chains (and their rules), rules as the kernel's
/// expressions. What ezlb builds and what the kernel holds compare as plain values.

/// An nftables family (NFPROTO_*).
public enum NFTFamily: UInt16, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case inet = 1, ip = 2, arp = 3, netdev = 5, bridge = 7, ip6 = 10
    public var description: String {
        switch self {
        case .inet: return "inet"
        case .ip: return "ip"
        case .arp: return "arp"
        case .netdev: return "netdev"
        case .bridge: return "bridge"
        case .ip6: return "ip6"
        }
    }
}

/// One expression of a rule, in the flat form libnftnl gives (CEzlbShim's ezlb_nft_expr):
/// only the attributes of the kinds ezlb writes or the doctor reads are kept; any other kind
/// keeps its name. Registers are the 32-bit ones (NFT_REG32_00 = 8 …), as the kernel dumps them.
public struct NFTExpr: Hashable, Codable, Sendable, CustomStringConvertible {
    public var name: String
    public var key: UInt32 = 0
    public var dreg: UInt32 = 0
    public var sreg: UInt32 = 0
    public var dir: Int32 = -1
    public var base: UInt32 = 0
    public var offset: UInt32 = 0
    public var len: UInt32 = 0
    public var op: UInt32 = 0
    public var data: [UInt8] = []
    public var xor: [UInt8] = []
    public var natType: UInt32 = 0
    public var natFamily: UInt32 = 0
    public var flags: UInt32 = 0
    public var verdict: Int32 = 0
    /// lookup: the set; immediate: the jump target; match/target: the xt extension's name.
    public var ref: String = ""
    public var rev: UInt32 = 0
    public var info: [UInt8] = []
    /// lookup: writes the verdict register (a verdict map: `vmap`).
    public var vmap = false

    public init(name: String) { self.name = name }

    // Kernel constants (linux/netfilter/nf_tables.h) ezlb uses.
    public static let reg0: UInt32 = 8 // NFT_REG32_00
    public enum Meta { public static let mark: UInt32 = 3, nfproto: UInt32 = 15, l4proto: UInt32 = 16, oifname: UInt32 = 7 }
    public enum CT { public static let state: UInt32 = 0, direction: UInt32 = 1, mark: UInt32 = 3, l4proto: UInt32 = 10,
                     protoDst: UInt32 = 12, dstIP: UInt32 = 20, dstIP6: UInt32 = 22 }
    public enum Payload { public static let network: UInt32 = 1, transport: UInt32 = 2 }
    public enum Cmp { public static let eq: UInt32 = 0, neq: UInt32 = 1 }
    public enum Verdict { public static let drop: Int32 = 0, accept: Int32 = 1, jump: Int32 = -3, goto: Int32 = -4, `return`: Int32 = -5 }

    public static func meta(_ key: UInt32, dreg: UInt32) -> NFTExpr { var e = NFTExpr(name: "meta"); e.key = key; e.dreg = dreg; return e }
    public static func metaSet(_ key: UInt32, sreg: UInt32) -> NFTExpr { var e = NFTExpr(name: "meta"); e.key = key; e.sreg = sreg; return e }
    /// `ct original KEY` (dir 0) or `ct KEY` (dir nil).
    public static func ct(_ key: UInt32, original: Bool, dreg: UInt32) -> NFTExpr {
        var e = NFTExpr(name: "ct"); e.key = key; e.dreg = dreg; e.dir = original ? 0 : -1; return e
    }
    public static func payload(_ base: UInt32, offset: UInt32, len: UInt32, dreg: UInt32) -> NFTExpr {
        var e = NFTExpr(name: "payload"); e.base = base; e.offset = offset; e.len = len; e.dreg = dreg; return e
    }
    public static func cmp(_ op: UInt32, sreg: UInt32, _ data: [UInt8]) -> NFTExpr {
        var e = NFTExpr(name: "cmp"); e.op = op; e.sreg = sreg; e.data = data; return e
    }
    /// `reg = (reg & mask) ^ xor`.
    public static func bitwise(sreg: UInt32, dreg: UInt32, mask: [UInt8], xor: [UInt8]) -> NFTExpr {
        var e = NFTExpr(name: "bitwise"); e.sreg = sreg; e.dreg = dreg; e.len = UInt32(mask.count); e.data = mask; e.xor = xor; return e
    }
    public static func lookup(_ set: String, sreg: UInt32, dreg: UInt32 = 0) -> NFTExpr {
        var e = NFTExpr(name: "lookup"); e.ref = set; e.sreg = sreg; e.dreg = dreg; return e
    }
    public static var masquerade: NFTExpr { NFTExpr(name: "masq") }
    public static func snat(_ family: IPFamily, addressReg: UInt32) -> NFTExpr {
        // flags: NF_NAT_RANGE_MAP_IPS, which the kernel sets (and dumps) for an address register.
        var e = NFTExpr(name: "nat"); e.natType = 0; e.natFamily = UInt32(family.af); e.sreg = addressReg; e.flags = 1; return e
    }
    public static func verdict(_ code: Int32, chain: String = "") -> NFTExpr {
        var e = NFTExpr(name: "immediate"); e.dreg = 0; e.verdict = code; e.ref = chain; return e
    }
    public static var counter: NFTExpr { NFTExpr(name: "counter") }

    /// libnftnl's debug form, roughly (`[ lookup reg 8 set svc4 ]`), for reports and failures.
    public var description: String {
        switch name {
        case "meta": return sreg != 0 ? "[ meta set \(key) with reg \(sreg) ]" : "[ meta load \(key) => reg \(dreg) ]"
        case "ct": return "[ ct load \(key)\(dir >= 0 ? " dir \(dir)" : "") => reg \(dreg) ]"
        case "payload": return "[ payload load \(len)b @ base \(base) + \(offset) => reg \(dreg) ]"
        case "cmp": return "[ cmp \(op == 0 ? "eq" : "op\(op)") reg \(sreg) \(hexBytes(data)) ]"
        case "bitwise": return "[ bitwise reg \(dreg) = (reg \(sreg) & \(hexBytes(data))) ^ \(hexBytes(xor)) ]"
        case "lookup": return "[ lookup reg \(sreg) set \(ref)\(dreg != 0 ? " dreg \(dreg)" : "")\(flags != 0 ? " flags \(flags)" : "") ]"
        case "nat": return "[ nat \(natType == 0 ? "snat" : "dnat") family \(natFamily) addr reg \(sreg) flags \(flags) ]"
        case "immediate": return dreg == 0 ? "[ immediate verdict \(verdict)\(ref.isEmpty ? "" : " " + ref) ]" : "[ immediate reg \(dreg) \(hexBytes(data)) ]"
        case "match", "target": return "[ \(name) name \(ref) rev \(rev) ]"
        default: return "[ \(name) ]"
        }
    }
}

/// Bytes as lowercase hex, no separator.
public func hexBytes(_ b: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var s = "0x"
    for x in b { s.append(digits[Int(x >> 4)]); s.append(digits[Int(x & 15)]) }
    return s
}

/// A rule: its expressions and its comment (the rule's userdata).
public struct NFTRule: Hashable, Codable, Sendable {
    public var exprs: [NFTExpr]
    public var comment: String
    public init(_ exprs: [NFTExpr], comment: String = "") {
        self.exprs = exprs
        self.comment = comment
    }
}

/// A base chain's hook: `type nat hook postrouting priority 100; policy accept;`.
public struct NFTHook: Hashable, Codable, Sendable {
    public var type: String
    /// NF_INET_*: 0 prerouting, 1 input, 2 forward, 3 output, 4 postrouting.
    public var hook: UInt32
    public var priority: Int32
    /// NF_ACCEPT (1) or NF_DROP (0).
    public var policy: UInt32
    public init(type: String, hook: UInt32, priority: Int32, policy: UInt32 = 1) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }
    public static let forward: UInt32 = 2, postrouting: UInt32 = 4, input: UInt32 = 1
    public var hookName: String { ["prerouting", "input", "forward", "output", "postrouting"][safe: Int(hook)] ?? "hook\(hook)" }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}

public struct NFTChain: Hashable, Codable, Sendable {
    public var name: String
    public var hook: NFTHook?
    public var rules: [NFTRule]
    public init(name: String, hook: NFTHook?, rules: [NFTRule]) {
        self.name = name
        self.hook = hook
        self.rules = rules
    }
}

/// A set (dataLen 0) or a map, as created: types are nft's datatype ids (a concatenation
/// packs them 6 bits each, the first field highest), lengths in bytes.
public struct NFTSetSpec: Hashable, Codable, Sendable {
    public var name: String
    public var keyType: UInt32
    public var keyLen: UInt32
    public var dataType: UInt32
    public var dataLen: UInt32
    public init(name: String, keyType: UInt32, keyLen: UInt32, dataType: UInt32 = 0, dataLen: UInt32 = 0) {
        self.name = name
        self.keyType = keyType
        self.keyLen = keyLen
        self.dataType = dataType
        self.dataLen = dataLen
    }
    public var isMap: Bool { dataLen != 0 }
}

/// A whole table: what ezlb wants, or what the kernel holds (then rules carry handles).
public struct NFTTable: Equatable, Codable, Sendable {
    public var family: NFTFamily
    public var name: String
    public var sets: [NFTSetSpec]
    public var chains: [NFTChain]
    /// Per set: key → data (empty for a set's elements).
    public var elements: [String: [[UInt8]: [UInt8]]]
    /// Per chain, the kernel's handle of each rule (read tables only; same order as the rules).
    public var handles: [String: [UInt64]]

    public init(family: NFTFamily, name: String, sets: [NFTSetSpec] = [], chains: [NFTChain] = [],
                elements: [String: [[UInt8]: [UInt8]]] = [:], handles: [String: [UInt64]] = [:]) {
        self.family = family
        self.name = name
        self.sets = sets
        self.chains = chains
        self.elements = elements
        self.handles = handles
    }

    /// Everything but the elements and handles: sets as declared, chains with their rules.
    public func sameSkeleton(as other: NFTTable) -> Bool {
        family == other.family && name == other.name && Set(sets) == Set(other.sets)
            && chains.sorted { $0.name < $1.name } == other.chains.sorted { $0.name < $1.name }
    }

    /// The first difference in skeleton from `other` (the kernel's), in words; nil when the same.
    public func skeletonDifference(from other: NFTTable) -> String? {
        for s in sets where !other.sets.contains(s) {
            return "set \(s.name): \(other.sets.first { $0.name == s.name }.map { "declared \($0)" } ?? "missing")"
        }
        for s in other.sets where !sets.contains(where: { $0.name == s.name }) { return "set \(s.name) is not ezlb's" }
        for c in chains {
            guard let o = other.chains.first(where: { $0.name == c.name }) else { return "chain \(c.name) missing" }
            if o.hook != c.hook { return "chain \(c.name): hook \(String(describing: o.hook))" }
            if o.rules.count != c.rules.count { return "chain \(c.name): \(o.rules.count) rules, not \(c.rules.count)" }
            for (i, (a, b)) in zip(c.rules, o.rules).enumerated() where a != b {
                if a.comment != b.comment { return "chain \(c.name) rule \(i + 1): comment \"\(b.comment)\"" }
                if a.exprs.count == b.exprs.count, let j = a.exprs.indices.first(where: { a.exprs[$0] != b.exprs[$0] }) {
                    return "chain \(c.name) rule \(i + 1) expression \(j + 1): \(String(reflecting: b.exprs[j])) instead of \(String(reflecting: a.exprs[j]))"
                }
                return "chain \(c.name) rule \(i + 1): \(b.exprs.map(\.description).joined(separator: " ")) instead of \(a.exprs.map(\.description).joined(separator: " "))"
            }
        }
        for c in other.chains where !chains.contains(where: { $0.name == c.name }) { return "chain \(c.name) is not ezlb's" }
        return nil
    }

    /// `nft` names it `inet ezlb`.
    public var description: String { "\(family) \(name)" }
}

/// One change in a table's transaction.
public enum NFTOperation: Equatable, Sendable {
    case addTable
    case deleteTable
    case addSet(NFTSetSpec)
    case addChain(NFTChain)
    case addRule(chain: String, NFTRule)
    case deleteRule(chain: String, handle: UInt64)
    case addElements(set: String, [(key: [UInt8], data: [UInt8])])
    case deleteElements(set: String, [[UInt8]])

    public static func == (a: NFTOperation, b: NFTOperation) -> Bool {
        switch (a, b) {
        case (.addTable, .addTable), (.deleteTable, .deleteTable): return true
        case (.addSet(let x), .addSet(let y)): return x == y
        case (.addChain(let x), .addChain(let y)): return x == y
        case (.addRule(let c, let r), .addRule(let d, let s)): return c == d && r == s
        case (.deleteRule(let c, let h), .deleteRule(let d, let i)): return c == d && h == i
        case (.addElements(let s, let e), .addElements(let t, let f)):
            return s == t && e.count == f.count && zip(e, f).allSatisfy { $0.key == $1.key && $0.data == $1.data }
        case (.deleteElements(let s, let e), .deleteElements(let t, let f)): return s == t && e == f
        default: return false
        }
    }
}

/// What an nftables operation can fail with, on libnftnl and on the fake alike.
public typealias NFTError = OperationError<NFTErrorKind>

public enum NFTErrorKind: String, OperationErrorKind {
    case exists = "object exists"
    case notFound = "no such table, chain, set or element"
    case busy = "device or resource busy"
    case invalidArgument = "invalid argument"
    case unsupported = "not supported by this kernel (nf_tables or a needed expression missing)"
    case permissionDenied = "permission denied (needs CAP_NET_ADMIN)"
    case other = "nftables error"
}

/// Which firewall interface ezlb writes its FullNAT (and bridge masquerade) rules through.
public enum Firewall: String, Sendable, CaseIterable {
    case nftables, iptables
}

/// `--firewall`, `EZLB_FIREWALL`, the config's `firewall:`: a backend, or `auto` (what the host uses).
public enum FirewallChoice: String, Sendable, CaseIterable {
    case auto, nftables, iptables
    public var fixed: Firewall? { Firewall(rawValue: rawValue) }
}
