import EzlbCore

/// The fake kernel's nftables: tables with sets, elements, chains and rules.
public struct FakeNFTables: Codable, Equatable, Sendable {
    public var tables: [NFTTable]
    /// Transactions committed (for "no write when converged" checks).
    public var commits: Int
    public init(tables: [NFTTable] = [], commits: Int = 0) {
        self.tables = tables
        self.commits = commits
    }

    public func table(_ family: NFTFamily, _ name: String) -> NFTTable? {
        tables.first { $0.family == family && $0.name == name }
    }

    /// Applies one transaction with nf_tables' semantics and errors; nothing changes when an
    /// operation fails.
    public mutating func apply(_ family: NFTFamily, _ name: String, _ ops: [NFTOperation]) throws {
        var all = tables
        func fail(_ k: NFTErrorKind, _ what: String) -> NFTError { NFTError(k, operation: "\(family) \(name): \(what)") }
        func index() throws -> Int {
            guard let i = all.firstIndex(where: { $0.family == family && $0.name == name }) else { throw fail(.notFound, "no such table") }
            return i
        }
        for op in ops {
            switch op {
            case .addTable:
                if all.contains(where: { $0.family == family && $0.name == name }) { continue }
                all.append(NFTTable(family: family, name: name))
            case .deleteTable:
                all.remove(at: try index())
            case .addSet(let s):
                let i = try index()
                if let old = all[i].sets.first(where: { $0.name == s.name }) {
                    if old != s { throw fail(.exists, "add set \(s.name)") }
                    continue
                }
                if s.keyLen == 0 || s.keyLen > 64 || s.dataLen > 16 { throw fail(.invalidArgument, "add set \(s.name)") }
                all[i].sets.append(s)
                all[i].elements[s.name] = [:]
            case .addChain(let c):
                let i = try index()
                if let old = all[i].chains.first(where: { $0.name == c.name }) {
                    if old.hook != c.hook { throw fail(.exists, "add chain \(c.name)") }
                    continue
                }
                all[i].chains.append(NFTChain(name: c.name, hook: c.hook, rules: []))
                all[i].handles[c.name] = []
            case .addRule(let chain, let r):
                let i = try index()
                guard let ci = all[i].chains.firstIndex(where: { $0.name == chain }) else { throw fail(.notFound, "add rule to \(chain)") }
                for e in r.exprs where e.name == "lookup" {
                    guard let s = all[i].sets.first(where: { $0.name == e.ref }) else { throw fail(.notFound, "add rule to \(chain): set \(e.ref)") }
                    if (e.dreg != 0) != s.isMap { throw fail(.invalidArgument, "add rule to \(chain): lookup of \(e.ref)") }
                }
                let next = (all[i].handles.values.flatMap { $0 }.max() ?? 0) + 1
                all[i].chains[ci].rules.append(r)
                all[i].handles[chain, default: []].append(next)
            case .deleteRule(let chain, let h):
                let i = try index()
                guard let ci = all[i].chains.firstIndex(where: { $0.name == chain }),
                      let ri = all[i].handles[chain]?.firstIndex(of: h) else { throw fail(.notFound, "delete rule \(h) of \(chain)") }
                all[i].chains[ci].rules.remove(at: ri)
                all[i].handles[chain]?.remove(at: ri)
            case .addElements(let set, let elems):
                let i = try index()
                guard let s = all[i].sets.first(where: { $0.name == set }) else { throw fail(.notFound, "add elements to \(set)") }
                for e in elems {
                    if e.key.count != Int(s.keyLen) || e.data.count != Int(s.dataLen) { throw fail(.invalidArgument, "add elements to \(set)") }
                    if let old = all[i].elements[set]?[e.key] {
                        if old != e.data { throw fail(.exists, "add elements to \(set)") }
                        continue
                    }
                    all[i].elements[set, default: [:]][e.key] = e.data
                }
            case .deleteElements(let set, let keys):
                let i = try index()
                guard all[i].sets.contains(where: { $0.name == set }) else { throw fail(.notFound, "delete elements from \(set)") }
                for k in keys {
                    guard all[i].elements[set]?.removeValue(forKey: k) != nil else { throw fail(.notFound, "delete elements from \(set)") }
                }
            }
        }
        tables = all
        commits += 1
    }
}

/// nftables on the fake kernel, persisted in the fake kernel's file.
public final class FakeNFTBackend: NFTBackend {
    private let kernel: FakeKernel
    public init(kernel: FakeKernel) { self.kernel = kernel }

    public var commits: Int { kernel.model.nftables.commits }

    public func read(_ family: NFTFamily, _ name: String) throws -> NFTTable? {
        kernel.model.nftables.table(family, name)
    }

    public func commit(_ family: NFTFamily, _ name: String, _ ops: [NFTOperation]) throws {
        guard !ops.isEmpty else { return }
        try kernel.model.nftables.apply(family, name, ops)
        kernel.markDirty()
        try kernel.save()
    }

    /// A digest of every table (a hand edit of the fake's file changes it, as a transaction
    /// changes the kernel's generation id).
    public func generation() -> [UInt8]? {
        let d = StateDigest()
        var w = ByteWriter()
        for t in kernel.model.nftables.tables {
            w.reset()
            w.string("\(t.family) \(t.name) \(t.sets) \(t.chains)")
            for s in t.elements.keys.sorted() {
                w.string(s)
                for (k, v) in (t.elements[s] ?? [:]).sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) { w.blob(k); w.blob(v) }
            }
            d.update(w.out)
        }
        return d.finish("nftables")
    }

    /// The fake kernel's file is locked for the whole run: no other program commits in between.
    public func generation(advancedFrom before: [UInt8]?, by transactions: Int) -> [UInt8]? {
        before == nil ? nil : generation()
    }

    public func ruleset() throws -> [NFTTable] {
        kernel.model.nftables.tables.map { t in
            var t = t
            t.sets = []
            t.elements = [:]
            return t
        }
    }
}
