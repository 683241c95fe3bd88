import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile

struct XfrmShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show ezlb's xfrm policies and ESP states as the kernel holds them (keys are never printed).",
        discussion: """
        One line per object, in the words of ip xfrm policy / ip xfrm state, with the key replaced by \
        its length. Objects of other tools are not shown; --all shows them too (marked foreign). Does not \
        read the config.

        Example:
          ezlb xfrm show -o json
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(name: .customLong("all"), help: "Also list policies and states ezlb does not own.")
    var all = false

    func run() throws {
        try Runner.run(options.values, command: "xfrm show") { ctx in
            var report = CommandReport(command: "xfrm show", dryRun: false)
            let (own, rule, t) = try XfrmReconciler(ctx).tables()
            var lines: [String] = []
            if let r = own?.rotation {
                lines.append("# generation: out \(r.out), accepting \(r.acceptedGenerations.map(String.init).joined(separator: " "))")
            }
            var policies: [JSONValue] = [], states: [JSONValue] = []
            let ps = t.policies.filter { all || rule.owns($0) }.sorted { $0.id < $1.id }
            for p in ps {
                let mine = rule.owns(p)
                lines.append("policy \(p)" + (mine ? "" : " # foreign"))
                var j = XfrmPlanner.policyJSON(p)
                if case .object(var o) = j { o["managed"] = .bool(mine); j = .object(o) }
                policies.append(j)
            }
            let ss = t.states.filter { all || rule.owns($0) }.sorted { $0.id < $1.id }
            for st in ss {
                let mine = rule.owns(st)
                lines.append("state \(st)" + (mine ? "" : " # foreign"))
                var j = XfrmPlanner.stateJSON(st)
                if case .object(var o) = j { o["managed"] = .bool(mine); j = .object(o) }
                states.append(j)
            }
            report.body = lines.map { $0 + "\n" }.joined()
            report.extra["policies"] = .array(policies)
            report.extra["states"] = .array(states)
            report.extra["rotation"] = XfrmReconciler.rotationJSON(own?.rotation)
            return report
        }
    }
}
