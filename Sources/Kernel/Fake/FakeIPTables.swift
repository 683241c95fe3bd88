import EzlbCore

/// The fake kernel's x_tables: per family and table, chains in order with their
/// rules (built-in chains with a policy). A table appears with its built-in
/// chains the first time it is used, as the kernel loads a table module.
public struct FakeXTables: Codable, Equatable, Sendable {
    public struct Chain: Codable, Equatable, Sendable {
        public var name: String
        /// ACCEPT/DROP for built-in chains, nil for user chains.
        public var policy: String?
        public var rules: [XTRule]
        public init(name: String, policy: String?, rules: [XTRule] = []) {
            self.name = name
            self.policy = policy
            self.rules = rules
        }
    }

    public struct Table: Codable, Equatable, Sendable {
        public var ref: XTTableRef
        public var chains: [Chain]
        public init(ref: XTTableRef) {
            self.ref = ref
            chains = ref.table.builtinChains.map { Chain(name: $0, policy: "ACCEPT") }
        }

        public var state: XTTableState {
            XTTableState(ref: ref, chains: Dictionary(uniqueKeysWithValues: chains.map { ($0.name, $0.rules) }))
        }

        /// Takes `s`'s chain contents, keeping chain order (new chains last, as the kernel lists them by name after built-ins).
        mutating func update(from s: XTTableState) {
            chains = chains.compactMap { c in s.chains[c.name].map { var c = c; c.rules = $0; return c } }
            let known = Set(chains.map(\.name))
            for name in s.chains.keys.sorted() where !known.contains(name) {
                chains.append(Chain(name: name, policy: nil, rules: s.chains[name]!))
            }
            let builtins = chains.filter { $0.policy != nil }
            chains = builtins + chains.filter { $0.policy == nil }.sorted { $0.name < $1.name }
        }

        /// The table in iptables-save syntax (no counters, no header comments).
        public var save: String {
            var out = "*\(ref.table.rawValue)\n"
            for c in chains { out += ":\(c.name) \(c.policy ?? "-") [0:0]\n" }
            for c in chains { for r in c.rules { out += r.save(chain: c.name) + "\n" } }
            return out + "COMMIT\n"
        }
    }

    public var tables: [Table]
    /// Table commits made (the fake's iptc_commit), for "no commit when converged" checks.
    public var commits: Int

    public init(tables: [Table] = [], commits: Int = 0) {
        self.tables = tables
        self.commits = commits
    }

    public func table(_ ref: XTTableRef) -> Table {
        tables.first { $0.ref == ref } ?? Table(ref: ref)
    }

    public mutating func setTable(_ t: Table) {
        if let i = tables.firstIndex(where: { $0.ref == t.ref }) { tables[i] = t } else {
            tables.append(t)
            tables.sort { $0.ref < $1.ref }
        }
    }
}

/// iptables on the fake kernel: libiptc's semantics (atomic commit per table,
/// the same errors), persisted in the fake kernel's file.
public final class FakeXTBackend: XTBackend {
    private let kernel: FakeKernel

    public init(kernel: FakeKernel) {
        self.kernel = kernel
    }

    public var commits: Int { kernel.model.iptables.commits }

    public func read(_ ref: XTTableRef, chains: [String]) throws -> XTTableState {
        let all = kernel.model.iptables.table(ref).state
        var st = XTTableState(ref: ref)
        for c in chains { st.chains[c] = all.chains[c] }
        return st
    }

    public func commit(_ ref: XTTableRef, _ ops: [XTOperation]) throws {
        guard !ops.isEmpty else { return }
        var t = kernel.model.iptables.table(ref)
        var st = t.state
        for op in ops { try st.apply(op) } // all or nothing, as one IPT_SO_SET_REPLACE
        t.update(from: st)
        kernel.model.iptables.setTable(t)
        kernel.model.iptables.commits += 1
        kernel.markDirty()
        try kernel.save()
    }
}
