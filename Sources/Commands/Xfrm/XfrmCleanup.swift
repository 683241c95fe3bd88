import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbState

struct XfrmCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove ezlb's xfrm policies and ESP states, and nothing else (never a flush).",
        discussion: "Does not read the config. Policies go first, then states, so no packet matches a policy whose SA is gone."
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options, command: "xfrm cleanup") { log in
            var report = CommandReport(command: "xfrm cleanup", dryRun: options.dryRun)
            let s = XfrmSession(options, log: log)
            let (lock, old, rule, backend, actual) = try s.begin()
            defer { withExtendedLifetime(lock) {} }
            // Any local address works: with nothing desired every owned object is deleted.
            let local = old?.local ?? IPAddress("0.0.0.0")!
            let plan = XfrmPlanner.plan(desired: XfrmDesired(), actual: actual, local: local, rule: rule)
            let new = old.map { XfrmOwnership(priority: $0.priority, reqidFirst: $0.reqidFirst, reqidLast: $0.reqidLast) }
            try s.execute(plan, backend: backend, old: old, new: new, report: &report)
            return report
        }
    }
}
