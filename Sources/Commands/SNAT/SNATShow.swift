import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile

struct SNATShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show ezlb's FullNAT rules as the kernel holds them: nftables elements or iptables chains (or JSON).",
        discussion: """
        On nftables, prints each element of table inet ezlb's sets as an `add element` command (nft \
        list table inet ezlb shows the whole table). On iptables, prints per table ezlb's chains, the \
        jumps into them and their rules, in the syntax of iptables-legacy-save (input for \
        iptables-legacy-restore -n).

        Example:
          ezlb snat show -o json
        """
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "snat show") { ctx in
            var report = CommandReport(command: "snat show", dryRun: false)
            var text = ""
            var tables: [JSONValue] = []
            var ruleCount = 0
            for (ids, st) in try SNATReconciler(ctx).tables() {
                let ref = st.ref
                var lines: [String] = []
                var chains: [JSONValue] = []
                let present = ids.filter { st.chains[$0.name] != nil }
                for id in present { lines.append(":\(id.name) - [0:0]") }
                for id in ids {
                    lines += (st.chains[id.hook] ?? []).filter { $0 == .jump(to: id.name) }.map { $0.save(chain: id.hook) }
                }
                for id in present {
                    let rules = st.chains[id.name] ?? []
                    lines += rules.map { $0.save(chain: id.name) }
                    ruleCount += rules.count
                    let jumps = (st.chains[id.hook] ?? []).filter { $0 == .jump(to: id.name) }.count
                    chains.append(.object([
                        "name": .string(id.name), "hook": .string(id.hook), "jumps": .int(jumps),
                        "rules": .array(rules.map { .string($0.save(chain: id.name)) }),
                    ]))
                }
                for id in ids where st.chains[id.name] == nil {
                    chains.append(.object(["name": .string(id.name), "hook": .string(id.hook), "missing": .bool(true)]))
                }
                text += "# \(ref) (\(ref.saveCommand))\n*\(ref.table.rawValue)\n" + lines.map { $0 + "\n" }.joined() + "COMMIT\n"
                tables.append(.object(["family": .string(ref.family.rawValue), "table": .string(ref.table.rawValue),
                                       "chains": .array(chains)]))
            }
            if let t = try SNATReconciler(ctx).nftTable() {
                text += "# \(t.description) (nft list table \(t.description))\n"
                var sets: [String: JSONValue] = [:]
                for s in t.sets {
                    let elems = (t.elements[s.name] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }
                        .map { SNATNFT.describe(set: s.name, key: $0.key, data: $0.value) }
                    for e in elems { text += "add element \(t.description) \(s.name) { \(e) }\n" }
                    sets[s.name] = .array(elems.map { .string($0) })
                }
                ruleCount += t.chains.reduce(0) { $0 + $1.rules.count }
                report.extra["nftables"] = .object(["table": .string(t.description), "sets": .object(sets),
                                                    "chains": .array(t.chains.map { .string($0.name) })])
            }
            report.body = text
            report.extra["tables"] = .array(tables)
            report.extra["rule_count"] = .int(ruleCount) // no summary line: the text stays iptables-restore input
            return report
        }
    }
}
