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
            for (name, rules) in s.chains.sorted(by: { $0.key < $1.key }) where !known.contains(name) {
                chains.append(Chain(name: name, policy: nil, rules: rules))
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
    /// Each table as its last `read` saw it (for `readDigest`).
    private var reads: [XTTableRef: XTTableState] = [:]

    public func read(_ ref: XTTableRef, chains: [String]) throws -> XTTableState {
        let all = kernel.model.iptables.table(ref).state
        reads[ref] = all
        var st = XTTableState(ref: ref)
        for c in chains { st.chains[c] = all.chains[c] }
        return st
    }

    public func readAll(_ ref: XTTableRef) throws -> (state: XTTableState, policies: [String: String]) {
        let t = kernel.model.iptables.table(ref)
        var policies: [String: String] = [:]
        for c in t.chains { if let p = c.policy { policies[c.name] = p } }
        return (t.state, policies)
    }

    @discardableResult
    public func commit(_ ref: XTTableRef, _ ops: [XTOperation], digest scope: XTDigestScope?) throws -> [UInt8]? {
        defer { reads[ref] = nil }
        guard !ops.isEmpty else { return scope.flatMap { readDigest(ref, scope: $0) } }
        var t = kernel.model.iptables.table(ref)
        var st = t.state
        for op in ops { try st.apply(op) } // all or nothing, as one IPT_SO_SET_REPLACE
        t.update(from: st)
        kernel.model.iptables.setTable(t)
        kernel.model.iptables.commits += 1
        kernel.markDirty()
        try kernel.save()
        return scope.map { Self.digest(t.state, ref: ref, scope: $0) }
    }

    public func readDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? {
        reads[ref].map { Self.digest($0, ref: ref, scope: scope) }
    }

    public func currentDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? {
        Self.digest(kernel.model.iptables.table(ref).state, ref: ref, scope: scope)
    }

    /// What the kernel's digest covers, from the model: each managed chain (absent, or its
    /// rules), and in each hook chain the rules that jump to a managed chain with their
    /// positions; every rule by all its fields (`XTRule.save` names them all).
    static func digest(_ st: XTTableState, ref: XTTableRef, scope: XTDigestScope) -> [UInt8] {
        let d = StateDigest()
        var w = ByteWriter()
        for (name, hook) in scope.chains.map({ ($0, false) }) + scope.hooks.map({ ($0, true) }) {
            w.reset()
            w.u8(hook ? 1 : 0)
            w.string(name)
            if let rules = st.chains[name] {
                w.u32(UInt32(rules.count))
                for (i, r) in rules.enumerated() {
                    if hook {
                        guard case .jump(let to) = r.target, scope.chains.contains(to) else { continue }
                        w.u32(UInt32(i))
                    }
                    w.string(r.save(chain: name))
                }
            } else {
                w.u32(.max)
            }
            d.update(w.out)
        }
        return d.finish(ref.description)
    }
}
