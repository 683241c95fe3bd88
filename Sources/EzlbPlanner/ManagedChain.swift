import EzlbCore

/// A chain ezlb owns: its whole content, and the one jump in a built-in chain
/// that enters it. Reusable by every feature that writes iptables rules
/// (FullNAT's SNAT/FORWARD chains, a bridge's MASQUERADE chain, …).
public struct ManagedChain: Hashable, Codable, Sendable {
    public enum Position: String, Codable, Sendable {
        /// The jump must come before every rule of other tools in the hook chain
        /// (`-I HOOK 1`); only jumps to other managed chains may precede it.
        case first
        /// The jump may be anywhere; added with `-A HOOK`.
        case append
    }

    public var ref: XTTableRef
    public var name: String
    /// The built-in chain holding the jump (POSTROUTING, FORWARD, …).
    public var hook: String
    public var position: Position
    public var rules: [XTRule]

    public init(ref: XTTableRef, name: String, hook: String, position: Position, rules: [XTRule]) {
        self.ref = ref
        self.name = name
        self.hook = hook
        self.position = position
        self.rules = rules
    }

    public var jump: XTRule { .jump(to: name) }
    public var id: ManagedChainID { ManagedChainID(ref: ref, name: name, hook: hook) }
}

/// One reportable change.
public struct XTChange: ReportAction, Equatable, Sendable {
    public enum Kind: String, Sendable { case addChain = "add_chain", deleteChain = "delete_chain", addRule = "add_rule", deleteRule = "delete_rule", addJump = "add_jump", deleteJump = "delete_jump" }
    public var kind: Kind
    public var ref: XTTableRef
    public var chain: String
    public var rule: XTRule?
    /// For a jump inserted at the top: `-I CHAIN 1`.
    public var insertedFirst = false

    /// `+` for additions, `-` for removals: the first byte of `text`.
    public var sign: UInt8 {
        switch kind {
        case .addChain, .addRule, .addJump: return UInt8(ascii: "+")
        case .deleteChain, .deleteRule, .deleteJump: return UInt8(ascii: "-")
        }
    }

    /// Appends `text` (`+ ip4 -t nat -A CHAIN ARGS`) and returns where ` ARGS` starts in `t`
    /// (the end, for chain changes).
    @discardableResult
    public func appendText(to t: inout ByteText) -> Int {
        t.bytes.append(sign)
        t.append(ref.family == .ipv4 ? " ip4 -t " as StaticString : " ip6 -t " as StaticString)
        t.append(ref.table.rawValue)
        switch kind {
        case .addChain: t.append(" -N " as StaticString)
        case .deleteChain: t.append(" -X " as StaticString)
        case .addJump where insertedFirst: t.append(" -I " as StaticString)
        case .addRule, .addJump: t.append(" -A " as StaticString)
        case .deleteRule, .deleteJump: t.append(" -D " as StaticString)
        }
        t.append(chain)
        if kind == .addJump && insertedFirst { t.append(" 1" as StaticString) }
        let argsAt = t.bytes.count
        if kind != .addChain && kind != .deleteChain {
            t.append(" " as StaticString)
            rule?.writeSaveArguments(into: &t)
        }
        return argsAt
    }

    /// Appends the JSON object (keys sorted) without building a string for it; `scratch` is
    /// working space the caller may reuse from one change to the next. For reports of tens
    /// of thousands of rules.
    public func appendJSON(to w: inout ByteText, done: Bool, error: String?, scratch t: inout ByteText) {
        // The text line once, in bytes; the rule's save line is `-A CHAIN` + its tail.
        t.bytes.removeAll(keepingCapacity: true)
        let argsAt = appendText(to: &t)
        let add = sign == UInt8(ascii: "+")
        w.append(add ? "{\"action\":\"add\",\"chain\":" as StaticString : "{\"action\":\"delete\",\"chain\":" as StaticString)
        w.appendJSONString(chain)
        w.append(done ? ",\"done\":true" as StaticString : ",\"done\":false" as StaticString)
        if let e = error { w.append(",\"error\":" as StaticString); w.appendJSONString(e) }
        w.append(",\"family\":" as StaticString); w.appendJSONString(ref.family.rawValue)
        switch kind {
        case .addChain, .deleteChain: w.append(",\"object\":\"chain\"" as StaticString)
        case .addRule, .deleteRule: w.append(",\"object\":\"rule\"" as StaticString)
        case .addJump, .deleteJump: w.append(",\"object\":\"jump\"" as StaticString)
        }
        // ` ARGS` escaped once, in `w`, for both the rule and the text (escaping is per
        // byte, so the pieces of one string may be escaped one after the other).
        var args = 0..<0
        if rule != nil {
            // `-A CHAIN ARGS`: the save line, whatever the change's own verb.
            w.append(",\"rule\":\"-A " as StaticString)
            w.appendJSONEscaped(chain)
            let start = w.bytes.count
            t.bytes.withUnsafeBufferPointer { w.appendJSONEscaped(buffer: UnsafeBufferPointer(rebasing: $0[argsAt...])) }
            args = start..<w.bytes.count
            w.bytes.append(UInt8(ascii: "\""))
        }
        w.append(",\"table\":" as StaticString); w.appendJSONString(ref.table.rawValue)
        w.append(",\"text\":\"" as StaticString)
        if rule != nil {
            t.bytes.withUnsafeBufferPointer { w.appendJSONEscaped(buffer: UnsafeBufferPointer(rebasing: $0[..<argsAt])) }
            w.appendCopy(of: args)
        } else {
            t.bytes.withUnsafeBufferPointer { w.appendJSONEscaped(buffer: $0) }
        }
        w.append("\"}" as StaticString)
    }
}

/// The plan for one table: operations for a single commit, and what they change.
public struct XTTablePlan: Equatable, Sendable {
    public var ref: XTTableRef
    public var operations: [XTOperation] = []
    public var changes: [XTChange] = []
    /// The table as it will be after the commit (the chains the planner read).
    public var after: XTTableState
    public var needsCommit: Bool { !operations.isEmpty }
}

/// Pure: desired managed chains vs the kernel's table → ordered operations.
public enum ManagedChainPlanner {
    /// The chains to read for planning `desired` and removing `owned`.
    public static func chainsToRead(desired: [ManagedChain], owned: [ManagedChainID]) -> [String] {
        var names: [String] = []
        for n in desired.flatMap({ [$0.name, $0.hook] }) + owned.flatMap({ [$0.name, $0.hook] }) where !names.contains(n) {
            names.append(n)
        }
        return names
    }

    /// What a table digest must cover for the plan of `desired` and `owned` to be
    /// known from it: the managed chains' names (desired, then owned) and the hooks
    /// that jump into them. The plan is a function of exactly these chains' rules.
    public static func digestScope(desired: [ManagedChain], owned: [ManagedChainID]) -> XTDigestScope {
        var chains: [String] = [], hooks: [String] = []
        for (name, hook) in desired.map({ ($0.name, $0.hook) }) + owned.map({ ($0.name, $0.hook) }) {
            if !chains.contains(name) { chains.append(name) }
            if !hooks.contains(hook) { hooks.append(hook) }
        }
        return XTDigestScope(chains: chains, hooks: hooks)
    }

    /// Plans one table. `desired` and `owned` must belong to `actual.ref`. Owned
    /// chains that are not desired lose their jumps and are deleted; desired chains
    /// are created or rewritten (flush + append, committed atomically) when their
    /// content differs, and their jump is put in place. Nothing else is touched.
    public static func plan(desired: [ManagedChain], owned: [ManagedChainID], actual: XTTableState) -> XTTablePlan {
        var b = Builder(state: actual, plan: XTTablePlan(ref: actual.ref, after: actual))
        // Sized up front: a from-empty plan of 10,000 rules would otherwise regrow (and copy) both arrays.
        let expected = desired.reduce(0) { $0 + $1.rules.count + 3 } + owned.reduce(0) { $0 + (actual.chains[$1.name]?.count ?? 0) + 3 }
        b.plan.operations.reserveCapacity(expected)
        b.plan.changes.reserveCapacity(expected)
        let ref = actual.ref
        let desiredNames = Set(desired.map(\.name))

        // 1. Owned chains no longer wanted: jumps out, then the chain.
        for o in owned.sorted() where !desiredNames.contains(o.name) {
            b.removeJumps(to: o.name, in: o.hook, keeping: nil, report: true)
            if let rules = b.state.chains[o.name] {
                if !rules.isEmpty { b.emit(.flushChain(o.name)) }
                for r in rules { b.change(.deleteRule, o.name, r) }
                b.emit(.deleteChain(o.name))
                b.change(.deleteChain, o.name, nil)
            }
        }

        // 2. Desired chains: content first, so the jump never enters a missing chain.
        let managedJumps = Set(desired.map(\.jump))
        for d in desired {
            if let have = b.state.chains[d.name] {
                if have != d.rules {
                    b.emit(.flushChain(d.name))
                    b.emitAppends(d.name, d.rules)
                    var remaining = have
                    var added: [XTRule] = []
                    for r in d.rules {
                        if let i = remaining.firstIndex(of: r) { remaining.remove(at: i) } else { added.append(r) }
                    }
                    if remaining.isEmpty && added.isEmpty {
                        // Same rules in another order: report a rewrite of the chain.
                        remaining = have
                        added = d.rules
                    }
                    for r in remaining { b.change(.deleteRule, d.name, r) }
                    for r in added { b.change(.addRule, d.name, r) }
                }
            } else {
                b.emit(.createChain(d.name))
                b.change(.addChain, d.name, nil)
                b.emitAppends(d.name, d.rules)
                for r in d.rules { b.change(.addRule, d.name, r) }
            }
            // The jump.
            let hookRules = b.state.chains[d.hook] ?? []
            let at = hookRules.indices.filter { hookRules[$0] == d.jump }
            switch d.position {
            case .first:
                // At the top: only other managed chains' jumps may come before it
                // (several `.first` chains in one hook must not fight over index 0).
                if at.count == 1, hookRules[..<at[0]].allSatisfy({ managedJumps.contains($0) }) { break }
                b.removeJumps(to: d.name, in: d.hook, keeping: nil, report: true)
                b.emit(.insertRule(d.hook, d.jump, 0))
                b.change(.addJump, d.hook, d.jump)
                b.plan.changes[b.plan.changes.count - 1].insertedFirst = true
            case .append:
                if at.count == 1 { break }
                if at.isEmpty {
                    b.emit(.appendRule(d.hook, d.jump))
                    b.change(.addJump, d.hook, d.jump)
                } else {
                    b.removeJumps(to: d.name, in: d.hook, keeping: at[0], report: true)
                }
            }
        }
        _ = ref
        b.plan.after = b.state
        return b.plan
    }

    private struct Builder {
        var state: XTTableState
        var plan: XTTablePlan

        mutating func emit(_ op: XTOperation) {
            plan.operations.append(op)
            // Planned against what was read; the simulation keeps later indices right.
            try? state.apply(op)
        }

        /// `emit(.appendRule(chain, r))` for each rule of `rules` into a chain that is empty
        /// now: the simulated chain is set at once (to the rules whose append the
        /// simulation would take), not grown one rule at a time.
        mutating func emitAppends(_ chain: String, _ rules: [XTRule]) {
            for r in rules { plan.operations.append(.appendRule(chain, r)) }
            guard state.chains[chain]?.isEmpty == true else {
                for r in rules { try? state.apply(.appendRule(chain, r)) }
                return
            }
            let simulated = Self.accepted(rules, by: state)
            state.chains[chain] = simulated
        }

        /// The rules whose append `XTTableState.apply` takes.
        static func accepted(_ rules: [XTRule], by state: XTTableState) -> [XTRule] {
            func ok(_ r: XTRule) -> Bool {
                if r.hasInvalidInterface { return false }
                if case .jump(let t) = r.target, state.chains[t] == nil || state.isBuiltin(t) { return false }
                return true
            }
            return rules.allSatisfy(ok) ? rules : rules.filter(ok)
        }

        mutating func change(_ kind: XTChange.Kind, _ chain: String, _ rule: XTRule?) {
            plan.changes.append(XTChange(kind: kind, ref: plan.ref, chain: chain, rule: rule))
        }

        /// Deletes exact jumps to `chain` from `hook`, highest index first, except `keeping`.
        mutating func removeJumps(to chain: String, in hook: String, keeping: Int?, report: Bool) {
            let rules = state.chains[hook] ?? []
            let jump = XTRule.jump(to: chain)
            for i in rules.indices.reversed() where rules[i] == jump && i != keeping {
                emit(.deleteRule(hook, i, jump))
                if report { change(.deleteJump, hook, jump) }
            }
        }
    }
}
