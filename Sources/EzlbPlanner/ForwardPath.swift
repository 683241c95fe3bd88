import EzlbCore

/// `ezlb doctor`'s forward-path check: would a chain on the forward hook drop FullNAT's replies?
///
/// Every base chain on the hook sees every forwarded packet, whatever the other chains decided
/// (an accept ends only its own chain; a drop is final). So each one is walked from the top as a
/// FullNAT reply (an established connection, carrying ezlb's forward mark on the nftables
/// backend) would walk it:
///  - a rule that accepts on nothing but `ct state` including established, or ezlb's mark bit,
///    or unconditionally, admits the reply: the chain is fine;
///  - an unconditional drop or reject, or the end of a chain whose policy is drop, drops it;
///  - an unconditional jump or goto is followed into its chain;
///  - any other rule matches something else and is passed over — except a rule the check
///    cannot read (a verdict map, a conditional jump, an xt match other than conntrack state):
///    from there on the verdict is "cannot tell", which the doctor reports as a warning.
/// The legacy x_tables FORWARD chains are walked the same way (ezlb's own EZLB-FORWARD jump
/// admits on the iptables backend).
public enum ForwardPath {
    public enum Verdict: Equatable, Sendable {
        case admits
        case drops(String)
        case unknown(String)
    }

    /// One chain's finding: where, what, and the command that lets ezlb's replies through.
    public struct Finding: Equatable, Sendable {
        public var chain: String
        public var verdict: Verdict
        public var fix: String
    }

    // MARK: nftables

    /// Every forward-hook base chain of `tables` (ezlb's own skipped) that does not admit.
    public static func check(nft tables: [NFTTable], firewall: Firewall, mark: UInt32, ownTable: String = "ezlb") -> [Finding] {
        var out: [Finding] = []
        for t in tables where !(t.family == .inet && t.name == ownTable) && [.ip, .ip6, .inet].contains(t.family) {
            for c in t.chains where c.hook?.hook == NFTHook.forward {
                // A chain that runs before ezlb's marking chain never sees the mark.
                let marked = firewall == .nftables && (c.hook?.priority ?? 0) > SNATNFT.forwardPriority
                let v = walk(c, in: t, mark: marked ? mark : 0, depth: 0)
                if v == .admits { continue }
                out.append(Finding(chain: "table \(t.family) \(t.name) chain \(c.name)", verdict: v,
                                   fix: fixCommand(t, c, firewall: firewall, mark: mark)))
            }
        }
        return out
    }

    static func walk(_ c: NFTChain, in t: NFTTable, mark: UInt32, depth: Int) -> Verdict {
        guard depth < 16 else { return .unknown("jumps nested too deep in \(c.name)") }
        for (i, r) in c.rules.enumerated() {
            let where_ = "rule \(i + 1) of \(c.name)"
            let verdict = r.exprs.last { $0.name == "immediate" && $0.dreg == 0 }
            // iptables-nft keeps -j REJECT as an xt target.
            let rejects = r.exprs.contains { $0.name == "reject" || ($0.name == "target" && $0.ref == "REJECT") }
            if r.exprs.contains(where: { $0.name == "lookup" && $0.vmap }) {
                return .unknown("\(where_) decides through a verdict map")
            }
            let conditions = matches(r.exprs, mark: mark)
            switch conditions {
            case .unreadable(let what): if verdict != nil || rejects { return .unknown("\(where_): \(what)") } else { continue }
            case .otherTraffic: if let v = verdict, v.verdict == NFTExpr.Verdict.jump || v.verdict == NFTExpr.Verdict.goto {
                    return .unknown("\(where_) jumps to \(v.ref) on a condition")
                }
                continue
            case .admitsReplies:
                if let v = verdict, v.verdict == NFTExpr.Verdict.accept { return .admits }
                if rejects || verdict?.verdict == NFTExpr.Verdict.drop { return .drops("\(where_) drops established connections") }
                if let v = verdict, v.verdict == NFTExpr.Verdict.jump || v.verdict == NFTExpr.Verdict.goto {
                    return .unknown("\(where_) jumps to \(v.ref) on a condition")
                }
                continue
            case .always:
                if rejects { return .drops("\(where_) rejects everything") }
                guard let v = verdict else { continue }
                switch v.verdict {
                case NFTExpr.Verdict.accept: return .admits
                case NFTExpr.Verdict.drop: return .drops("\(where_) drops everything")
                case NFTExpr.Verdict.return: return c.hook == nil ? .drops("") : policy(c)
                case NFTExpr.Verdict.jump, NFTExpr.Verdict.goto:
                    guard let target = t.chains.first(where: { $0.name == v.ref }) else { return .unknown("\(where_) jumps to a missing chain") }
                    let sub = walk(target, in: t, mark: mark, depth: depth + 1)
                    switch sub {
                    case .admits: return .admits
                    case .drops(let w) where !w.isEmpty: return sub
                    case .unknown: return sub
                    default: if v.verdict == NFTExpr.Verdict.goto { return c.hook == nil ? .drops("") : policy(c) }
                    }
                default: continue
                }
            }
        }
        // The end of a regular chain returns to its caller (empty reason: fall through).
        return c.hook == nil ? .drops("") : policy(c)
    }

    static func policy(_ c: NFTChain) -> Verdict {
        c.hook?.policy == 0 ? .drops("policy drop at the end of \(c.name)") : .admits
    }

    enum Conditions { case always, admitsReplies, otherTraffic, unreadable(String) }

    /// What a rule's matches say about a FullNAT reply (established, marked on the nftables backend).
    static func matches(_ exprs: [NFTExpr], mark: UInt32 = 0) -> Conditions {
        // Statements (an xt target too: -j REJECT, -j LOG) are not matches.
        let body = exprs.filter { !["counter", "log", "limit", "immediate", "reject", "quota", "target"].contains($0.name) }
        if body.isEmpty { return .always }
        // ct state … (native) — load, mask, compare not-equal to zero.
        if body.count == 3, body[0].name == "ct", body[0].key == NFTExpr.CT.state, body[1].name == "bitwise", body[2].name == "cmp",
           body[2].op == NFTExpr.Cmp.neq, body[2].data.allSatisfy({ $0 == 0 }) {
            let m = body[1].data.count == 4 ? body[1].data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0
            return m & 2 != 0 ? .admitsReplies : .otherTraffic
        }
        // ct state established (a single value compared equal).
        if body.count == 2, body[0].name == "ct", body[0].key == NFTExpr.CT.state, body[1].name == "cmp", body[1].op == NFTExpr.Cmp.eq,
           body[1].data.count == 4 {
            return body[1].data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } == 2 ? .admitsReplies : .otherTraffic
        }
        // meta mark & M == V: admits when ezlb's bit is what it tests.
        if body.count == 3, body[0].name == "meta", body[0].key == NFTExpr.Meta.mark, body[1].name == "bitwise", body[2].name == "cmp",
           body[1].data.count == 4, body[2].data.count == 4 {
            let m = body[1].data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            let v = body[2].data.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            return mark != 0 && m == mark && ((body[2].op == NFTExpr.Cmp.eq && v == mark) || (body[2].op == NFTExpr.Cmp.neq && v == 0))
                ? .admitsReplies : .otherTraffic
        }
        // iptables-nft: -m conntrack --ctstate / -m state through xt_conntrack rev 3.
        if body.count == 1, body[0].name == "match", body[0].ref == "conntrack" {
            let info = body[0].info
            guard body[0].rev == 3, info.count >= 152 else { return .unreadable("an xt conntrack match of revision \(body[0].rev)") }
            func u16(_ o: Int) -> UInt16 { UInt16(info[o]) | UInt16(info[o + 1]) << 8 }
            let flags = u16(146), invert = u16(148), state = u16(150)
            if flags == 1, invert == 0 { return state & 2 != 0 ? .admitsReplies : .otherTraffic }
            return .otherTraffic
        }
        if body.contains(where: { $0.name == "match" || $0.name == "target" }) {
            return .otherTraffic
        }
        return .otherTraffic
    }

    static func fixCommand(_ t: NFTTable, _ c: NFTChain, firewall: Firewall, mark: UInt32) -> String {
        let hex = "0x" + String(mark, radix: 16)
        let iptablesNFT = (t.family == .ip || t.family == .ip6) && ["filter"].contains(t.name) && c.name == "FORWARD"
        if firewall == .nftables && mark != 0 {
            if iptablesNFT {
                return "\(t.family == .ip ? "iptables-nft" : "ip6tables-nft") -I FORWARD 1 -m mark --mark \(hex)/\(hex) -j ACCEPT"
            }
            var cmd = "nft insert rule \(t.family) \(t.name) \(c.name) meta mark & \(hex) == \(hex) accept"
            if t.name == "firewalld" { cmd += " (firewalld rewrites its table on reload: make it a firewalld policy)" }
            return cmd
        }
        // The iptables backend marks nothing: FullNAT replies are established connections.
        if iptablesNFT {
            return "\(t.family == .ip ? "iptables-nft" : "ip6tables-nft") -I FORWARD 1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        }
        return "nft insert rule \(t.family) \(t.name) \(c.name) ct state established,related accept"
    }

    // MARK: legacy x_tables

    /// The legacy FORWARD chain of one family's filter table: its rules, its policy, and the
    /// user chains it may jump to.
    public static func check(legacy st: XTTableState, policy: String, firewall: Firewall, mark: UInt32) -> Finding? {
        let v = walkLegacy("FORWARD", st, firewall: firewall, mark: mark, depth: 0, policy: policy)
        if v == .admits { return nil }
        let tool = st.ref.family == .ipv4 ? "iptables-legacy" : "ip6tables-legacy"
        let fix = firewall == .nftables && mark != 0
            ? "\(tool) -I FORWARD 1 -m mark --mark 0x\(String(mark, radix: 16))/0x\(String(mark, radix: 16)) -j ACCEPT"
            : "\(tool) -I FORWARD 1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT (or run ezlb snat sync --firewall iptables, which inserts EZLB-FORWARD first)"
        return Finding(chain: "\(st.ref.family == .ipv4 ? "ip" : "ip6") filter FORWARD (legacy x_tables)", verdict: v, fix: fix)
    }

    static func walkLegacy(_ name: String, _ st: XTTableState, firewall: Firewall, mark: UInt32, depth: Int, policy: String) -> Verdict {
        guard depth < 16 else { return .unknown("jumps nested too deep in \(name)") }
        guard let rules = st.chains[name] else { return .unknown("chain \(name) was not read") }
        for (i, r) in rules.enumerated() {
            let where_ = "rule \(i + 1) of \(name)"
            if r.isForeign {
                // A rule ezlb cannot read that drops or rejects may drop the replies.
                if r.saveArguments.hasSuffix("-j DROP") || r.saveArguments.hasSuffix("-j REJECT") {
                    return .unknown("\(where_) drops or rejects on conditions ezlb cannot read")
                }
                continue
            }
            var bare = r
            bare.comment = nil
            let bareNoMark = bare.source == nil && bare.destination == nil && bare.inInterface == nil && bare.outInterface == nil
                && bare.proto == nil && bare.ctOrigin == nil
            let onlyState = bare.source == nil && bare.destination == nil && bare.inInterface == nil && bare.outInterface == nil
                && bare.proto == nil && bare.ctOrigin == nil && bare.mark == nil
            switch r.target {
            case .accept:
                if onlyState, r.ctstate?.contains(.established) ?? true { return .admits }
                if firewall == .nftables, mark != 0, bareNoMark, r.ctstate == nil, let m = r.mark, m.mask == mark, m.value == mark { return .admits }
            case .drop:
                if onlyState && r.ctstate == nil { return .drops("\(where_) drops everything") }
                if onlyState, let s = r.ctstate, s.contains(.established) { return .drops("\(where_) drops established connections") }
            case .jump(let to):
                guard onlyState && r.ctstate == nil else { return .unknown("\(where_) jumps to \(to) on a condition") }
                if to == SNATRules.forwardChain && firewall == .iptables { return .admits }
                let sub = walkLegacy(to, st, firewall: firewall, mark: mark, depth: depth + 1, policy: "")
                if sub == .admits { return .admits }
                if case .drops(let w) = sub, !w.isEmpty { return sub }
                if case .unknown = sub { return sub }
            case .return:
                if onlyState && r.ctstate == nil { return depth == 0 ? (policy == "DROP" ? .drops("policy DROP of FORWARD") : .admits) : .drops("") }
            default: continue
            }
        }
        if depth > 0 { return .drops("") }
        return policy == "DROP" ? .drops("policy DROP of FORWARD") : .admits
    }
}
