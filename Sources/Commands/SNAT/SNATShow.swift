import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile

struct SNATShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the iptables chains ezlb manages, in iptables-save syntax (or JSON).",
        discussion: """
        Prints, per table, ezlb's chains, the jumps into them and their rules as the kernel holds \
        them now, in the syntax of iptables-legacy-save (input for iptables-legacy-restore -n).
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
            report.body = text
            report.extra["tables"] = .array(tables)
            report.extra["rule_count"] = .int(ruleCount) // no summary line: the text stays iptables-restore input
            return report
        }
    }
}
