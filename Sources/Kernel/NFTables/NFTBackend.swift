import CEzlbShim
import EzlbCore
#if canImport(Glibc)
import Glibc
#endif

/// The contract every nftables backend (libnftnl, fake) fulfils.
public protocol NFTBackend: AnyObject {
    /// The table with its sets, elements, chains and rules (with handles); nil when absent.
    func read(_ family: NFTFamily, _ name: String) throws -> NFTTable?
    /// Applies `ops` to the table as one transaction: all or nothing.
    func commit(_ family: NFTFamily, _ name: String, _ ops: [NFTOperation]) throws
    /// Every table with its chains and rules (no sets or elements): what the doctor inspects.
    func ruleset() throws -> [NFTTable]
    /// Transactions committed by this backend object.
    var commits: Int { get }
    /// What identifies the ruleset's state now: equal bytes mean no transaction happened in
    /// between (the generation id, with the boot and the network namespace it counts in); nil
    /// when it cannot be read.
    func generation() -> [UInt8]?
    /// The generation now when it is `before` advanced by exactly `transactions` (this
    /// process's own; no other program's in between); nil otherwise.
    func generation(advancedFrom before: [UInt8]?, by transactions: Int) -> [UInt8]?
}

/// nftables through libnftnl/libmnl (CEzlbShim's nft.c), in the process's network namespace.
public final class LibNftnlBackend: NFTBackend {
    private let n: OpaquePointer
    public private(set) var commits = 0

    public init() throws {
        var err: Int32 = 0
        guard let n = ezlb_nft_open(&err) else { throw Self.error(err, operation: "open nftables netlink socket") }
        self.n = n
    }

    deinit { ezlb_nft_close(n) }

    static func error(_ e: Int32, operation: String) -> NFTError {
        let kind: NFTErrorKind
        switch e {
        case EEXIST: kind = .exists
        case ENOENT: kind = .notFound
        case EBUSY: kind = .busy
        case EINVAL, ERANGE, E2BIG: kind = .invalidArgument
        case EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT: kind = .unsupported
        case EPERM, EACCES: kind = .permissionDenied
        default: kind = .other
        }
        return NFTError(kind, operation: operation, detail: String(cString: strerror(e)))
    }

    // MARK: reading

    /// Collects what a dump's callbacks hand over.
    private final class Sink {
        var tables: [(UInt16, String)] = []
        var chains: [(family: UInt16, table: String, chain: NFTChain)] = []
        var rules: [(family: UInt16, table: String, chain: String, handle: UInt64, rule: NFTRule)] = []
        var sets: [NFTSetSpec] = []
        var elements: [[UInt8]: [UInt8]] = [:]
    }

    /// A dump the ruleset changed under (EINTR): the whole read starts over.
    private struct Interrupted: Error {}

    private func dump(_ what: String, _ body: (UnsafeMutableRawPointer) -> Int32) throws -> Sink {
        let sink = Sink()
        let r = withExtendedLifetime(sink) { body(Unmanaged.passUnretained(sink).toOpaque()) }
        if r == EINTR { throw Interrupted() }
        if r != 0 { throw Self.error(r, operation: "list \(what)") }
        return sink
    }

    /// `body` again when a dump was interrupted by a concurrent change (at most 5 times).
    private func consistent<T>(_ what: String, _ body: () throws -> T) throws -> T {
        for _ in 0..<5 {
            do { return try body() } catch is Interrupted { continue }
        }
        throw NFTError(.busy, operation: "list \(what)", detail: "the ruleset kept changing during the dump")
    }

    /// The sink a dump's callback was given (nil only if the C side broke its contract).
    private static func sink(_ p: UnsafeMutableRawPointer?) -> Sink? { p.map { Unmanaged<Sink>.fromOpaque($0).takeUnretainedValue() } }
    /// A C string from libnftnl ("" for an attribute the kernel did not send).
    private static func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    func tables() throws -> [(UInt16, String)] {
        try dump("tables") { ctx in
            ezlb_nft_list_tables(n, { ctx, fam, name in
                LibNftnlBackend.sink(ctx)?.tables.append((fam, LibNftnlBackend.str(name)))
            }, ctx)
        }.tables
    }

    private func chains(_ family: UInt16, _ table: String?) throws -> Sink {
        try dump("chains") { ctx in
            ezlb_nft_list_chains(n, family, table, { ctx, fam, table, chain, type, base, hook, prio, policy in
                let h = base != 0 ? NFTHook(type: LibNftnlBackend.str(type), hook: hook, priority: prio, policy: policy) : nil
                LibNftnlBackend.sink(ctx)?.chains.append((fam, LibNftnlBackend.str(table), NFTChain(name: LibNftnlBackend.str(chain), hook: h, rules: [])))
            }, ctx)
        }
    }

    private func rules(_ family: UInt16, _ table: String?) throws -> Sink {
        try dump("rules") { ctx in
            ezlb_nft_list_rules(n, family, table, { ctx, fam, table, chain, handle, exprs, count, comment in
                var rule = NFTRule([], comment: LibNftnlBackend.str(comment))
                if let exprs { for i in 0..<Int(count) { rule.exprs.append(LibNftnlBackend.expr(exprs[i])) } }
                LibNftnlBackend.sink(ctx)?.rules.append((fam, LibNftnlBackend.str(table), LibNftnlBackend.str(chain), handle, rule))
            }, ctx)
        }
    }

    public func read(_ family: NFTFamily, _ name: String) throws -> NFTTable? {
        try consistent("table \(family) \(name)") { try readOnce(family, name) }
    }

    private func readOnce(_ family: NFTFamily, _ name: String) throws -> NFTTable? {
        guard try tables().contains(where: { $0.0 == family.rawValue && $0.1 == name }) else { return nil }
        var t = NFTTable(family: family, name: name)
        let cs = try chains(family.rawValue, name).chains
        let rs = try rules(family.rawValue, name).rules
        for c in cs {
            var chain = c.chain
            let mine = rs.filter { $0.chain == chain.name }
            chain.rules = mine.map(\.rule)
            t.handles[chain.name] = mine.map(\.handle)
            t.chains.append(chain)
        }
        t.sets = try dump("sets") { ctx in
            ezlb_nft_list_sets(n, family.rawValue, name, { ctx, set, kt, kl, dt, dl, _ in
                LibNftnlBackend.sink(ctx)?.sets.append(NFTSetSpec(name: LibNftnlBackend.str(set), keyType: kt, keyLen: kl, dataType: dt, dataLen: dl))
            }, ctx)
        }.sets
        for s in t.sets {
            t.elements[s.name] = try dump("elements of \(s.name)") { ctx in
                ezlb_nft_list_elems(n, family.rawValue, name, s.name, { ctx, key, klen, data, dlen in
                    let k = Array(UnsafeBufferPointer(start: key, count: Int(klen)))
                    let d = data.map { Array(UnsafeBufferPointer(start: $0, count: Int(dlen))) } ?? []
                    LibNftnlBackend.sink(ctx)?.elements[k] = d
                }, ctx)
            }.elements
        }
        return t
    }

    public func ruleset() throws -> [NFTTable] {
        try consistent("ruleset") { try rulesetOnce() }
    }

    private func rulesetOnce() throws -> [NFTTable] {
        var out: [NFTTable] = []
        let cs = try chains(0, nil).chains
        let rs = try rules(0, nil).rules
        for (fam, name) in try tables() {
            guard let f = NFTFamily(rawValue: fam) else { continue }
            var t = NFTTable(family: f, name: name)
            for c in cs where c.family == fam && c.table == name {
                var chain = c.chain
                let mine = rs.filter { $0.family == fam && $0.table == name && $0.chain == chain.name }
                chain.rules = mine.map(\.rule)
                t.handles[chain.name] = mine.map(\.handle)
                t.chains.append(chain)
            }
            out.append(t)
        }
        return out
    }

    public func generation() -> [UInt8]? {
        var id: UInt32 = 0
        guard ezlb_nft_genid(n, &id) == 0 else { return nil }
        // The id restarts with each boot and counts per namespace: both are part of it.
        guard case .success(let boot) = FileBytes.read("/proc/sys/kernel/random/boot_id") else { return nil }
        var st = stat()
        guard stat("/proc/self/ns/net", &st) == 0 else { return nil }
        var w = ByteWriter()
        w.blob(boot)
        w.u32(UInt32(truncatingIfNeeded: UInt64(st.st_ino) >> 32))
        w.u32(UInt32(truncatingIfNeeded: UInt64(st.st_ino)))
        w.u32(id)
        return w.out
    }

    public func generation(advancedFrom before: [UInt8]?, by transactions: Int) -> [UInt8]? {
        guard let before, before.count >= 4, let now = generation(), now.count == before.count,
              now.dropLast(4) == before.dropLast(4) else { return nil }
        func id(_ b: [UInt8]) -> UInt32 { b.suffix(4).reduce(0) { $0 << 8 | UInt32($1) } }
        // The kernel's id skips 0 when it wraps.
        var want = id(before)
        for _ in 0..<transactions { want &+= 1; if want == 0 { want = 1 } }
        return id(now) == want ? now : nil
    }

    // MARK: writing

    public func commit(_ family: NFTFamily, _ name: String, _ ops: [NFTOperation]) throws {
        guard !ops.isEmpty else { return }
        ezlb_nft_batch_reset(n)
        let f = family.rawValue
        func check(_ r: Int32, _ what: String) throws {
            if r != 0 { ezlb_nft_batch_reset(n); throw Self.error(r, operation: "\(family) \(name): \(what)") }
        }
        var setID: UInt32 = 1
        for op in ops {
            switch op {
            case .addTable: try check(ezlb_nft_b_table(n, 0, f, name), "add table")
            case .deleteTable: try check(ezlb_nft_b_table(n, 1, f, name), "delete table")
            case .addSet(let s):
                try check(ezlb_nft_b_set(n, f, name, s.name, setID, s.keyType, s.keyLen, s.dataType, s.dataLen), "add set \(s.name)")
                setID += 1
            case .addChain(let c):
                try check(ezlb_nft_b_chain(n, f, name, c.name, c.hook?.type, c.hook?.hook ?? 0, c.hook?.priority ?? 0, c.hook?.policy ?? 1),
                          "add chain \(c.name)")
            case .addRule(let chain, let r):
                var cs = r.exprs.map(Self.cExpr)
                try check(ezlb_nft_b_rule(n, f, name, chain, &cs, UInt32(cs.count), r.comment), "add rule to \(chain)")
            case .deleteRule(let chain, let h): try check(ezlb_nft_b_del_rule(n, f, name, chain, h), "delete rule \(h) of \(chain)")
            case .addElements(let set, let elems):
                guard let first = elems.first else { continue }
                var keys: [UInt8] = [], data: [UInt8] = []
                keys.reserveCapacity(elems.count * first.key.count)
                data.reserveCapacity(elems.count * first.data.count)
                for e in elems { keys += e.key; data += e.data }
                try check(ezlb_nft_b_elems(n, 0, f, name, set, keys, UInt32(first.key.count), data, UInt32(first.data.count), UInt32(elems.count)),
                          "add elements to \(set)")
            case .deleteElements(let set, let keys):
                guard let first = keys.first else { continue }
                let flat = keys.flatMap { $0 }
                try check(ezlb_nft_b_elems(n, 1, f, name, set, flat, UInt32(first.count), nil, 0, UInt32(keys.count)), "delete elements from \(set)")
            }
        }
        var what = [CChar](repeating: 0, count: 64)
        let r = ezlb_nft_commit(n, &what, what.count)
        if r != 0 {
            throw Self.error(r, operation: "\(family) \(name): commit (\(String(decoding: what.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))")
        }
        commits += 1
    }

    // MARK: expressions

    static func expr(_ c: ezlb_nft_expr) -> NFTExpr {
        var c = c
        var e = NFTExpr(name: withUnsafeBytes(of: &c.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        // The kernel dumps a register that starts a 16-byte one as NFT_REG_1…4: back to NFT_REG32_*.
        func reg32(_ r: UInt32) -> UInt32 { (1...4).contains(r) ? 4 + 4 * r : r }
        e.key = c.key; e.dreg = reg32(c.dreg); e.sreg = reg32(c.sreg); e.dir = c.dir
        e.base = c.base; e.offset = c.offset; e.len = c.len; e.op = c.op
        e.data = withUnsafeBytes(of: &c.data) { Array($0.prefix(Int(c.data_len))) }
        e.xor = withUnsafeBytes(of: &c.xor_) { Array($0.prefix(Int(c.xor_len))) }
        e.natType = c.nat_type; e.natFamily = c.nat_family; e.flags = c.flags; e.verdict = c.verdict
        e.ref = withUnsafeBytes(of: &c.ref) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        e.rev = c.rev
        e.info = withUnsafeBytes(of: &c.info) { Array($0.prefix(Int(c.info_len))) }
        e.vmap = c.vmap != 0
        return e
    }

    static func cExpr(_ e: NFTExpr) -> ezlb_nft_expr {
        var c = ezlb_nft_expr()
        func put(_ s: String, _ p: UnsafeMutableRawBufferPointer) {
            let b = Array(s.utf8.prefix(p.count - 1))
            p.copyBytes(from: b)
        }
        withUnsafeMutableBytes(of: &c.name) { put(e.name, $0) }
        c.key = e.key; c.dreg = e.dreg; c.sreg = e.sreg; c.dir = e.dir
        c.base = e.base; c.offset = e.offset; c.len = e.len; c.op = e.op
        withUnsafeMutableBytes(of: &c.data) { $0.copyBytes(from: e.data.prefix($0.count)) }
        c.data_len = UInt32(min(e.data.count, 16))
        withUnsafeMutableBytes(of: &c.xor_) { $0.copyBytes(from: e.xor.prefix($0.count)) }
        c.xor_len = UInt32(min(e.xor.count, 16))
        c.nat_type = e.natType; c.nat_family = e.natFamily; c.flags = e.flags; c.verdict = e.verdict
        withUnsafeMutableBytes(of: &c.ref) { put(e.ref, $0) }
        c.rev = e.rev
        return c
    }
}

extension LibNftnlBackend {
    /// Every table as `family name` (`inet filter`), for `--firewall auto`.
    public func tableNames() throws -> [String] {
        try tables().map { "\(NFTFamily(rawValue: $0.0).map(\.description) ?? "family\($0.0)") \($0.1)" }
    }
}
