import EzlbCore

/// Plans one nftables table ezlb owns whole: the smallest transaction that makes the kernel's
/// table (`current`, nil when absent) the desired one (nil: no table).
///
/// The table's skeleton (sets as declared, chains and their rules) changes only with ezlb's
/// version or a hand edit; when it differs the table is deleted and written again in the same
/// transaction, so nothing is ever half there. Otherwise only set elements change: one
/// backend more or less is one element (two for an SNAT address: its map entry too).
public struct NFTPlan {
    public var ops: [NFTOperation] = []
    public var changes: [FieldAction] = []
    public var needsCommit: Bool { !ops.isEmpty }
    /// The table was missing or its skeleton differed (written whole).
    public var rewritesTable = false
}

public enum NFTPlanner {
    /// `describe(set, key, data)` renders an element as nft prints it.
    public static func plan(desired: NFTTable?, current: NFTTable?,
                            describe: (String, [UInt8], [UInt8]) -> String) -> NFTPlan {
        var p = NFTPlan()
        let name = (desired ?? current).map(\.description) ?? ""
        func change(_ sign: String, _ kind: String, _ text: String, set: String? = nil) {
            var f: [String: JSONValue] = ["kind": .string(kind), "table": .string(name)]
            if let set { f["set"] = .string(set) }
            p.changes.append(FieldAction("\(sign) nft \(text)", f))
        }
        guard let desired else {
            if current != nil {
                p.ops = [.deleteTable]
                change("-", "delete_table", "delete table \(name)")
            }
            return p
        }
        if let current, current.sameSkeleton(as: desired) {
            // Elements only: deletions first (a map entry whose data changed is deleted, then added).
            for s in desired.sets {
                let want = desired.elements[s.name] ?? [:], have = current.elements[s.name] ?? [:]
                // The differences only are sorted (the transaction and the report are the same from
                // run to run); sorting 10,000 unchanged keys cost more than the rest of the plan.
                var del: [[UInt8]] = [], add: [(key: [UInt8], data: [UInt8])] = []
                for (k, d) in have where want[k] != d { del.append(k) }
                for (k, d) in want where have[k] != d { add.append((k, d)) }
                del.sort { $0.lexicographicallyPrecedes($1) }
                add.sort { $0.key.lexicographicallyPrecedes($1.key) }
                for k in del where want[k] == nil {
                    change("-", "delete_element", "delete element \(name) \(s.name) { \(describe(s.name, k, have[k] ?? [])) }", set: s.name)
                }
                for (k, d) in add {
                    change(have[k] == nil ? "+" : "~", have[k] == nil ? "add_element" : "change_element",
                           "add element \(name) \(s.name) { \(describe(s.name, k, d)) }", set: s.name)
                }
                if !del.isEmpty { p.ops.append(.deleteElements(set: s.name, del)) }
                if !add.isEmpty { p.ops.append(.addElements(set: s.name, add)) }
            }
            return p
        }
        p.rewritesTable = true
        if current != nil {
            p.ops.append(.deleteTable)
            change("~", "replace_table", "replace table \(name) (its sets or chains differ from ezlb's)")
        } else {
            change("+", "add_table", "add table \(name)")
        }
        p.ops.append(.addTable)
        for s in desired.sets { p.ops.append(.addSet(s)) }
        for c in desired.chains { p.ops.append(.addChain(NFTChain(name: c.name, hook: c.hook, rules: []))) }
        for c in desired.chains { for r in c.rules { p.ops.append(.addRule(chain: c.name, r)) } }
        for s in desired.sets {
            let elems = desired.elements[s.name] ?? [:]
            guard !elems.isEmpty else { continue }
            // Sorted: the transaction and the report are the same from run to run.
            let sorted = elems.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            p.ops.append(.addElements(set: s.name, sorted.map { ($0.key, $0.value) }))
            for (k, d) in sorted { change("+", "add_element", "add element \(name) \(s.name) { \(describe(s.name, k, d)) }", set: s.name) }
        }
        return p
    }
}
