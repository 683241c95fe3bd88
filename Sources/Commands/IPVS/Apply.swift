import ArgumentParser
import EzlbCore
import EzlbPlanner

struct IPVSApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the kernel's IPVS table match the config (only services ezlb owns).",
        discussion: """
        Dumps the kernel's services and destinations, plans the smallest change and applies it. \
        Re-running with no change makes no kernel write and reports no changes. Services removed \
        from the config are deleted; managed services changed or deleted by hand are put back.
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(help: "Take over services that exist in the kernel on a configured key but were not created by ezlb. Also rebuilds a corrupted ipvs.json from config ∩ kernel.")
    var adopt = false

    func run() throws {
        try Runner.run(options, command: "ipvs apply") { log in
            try IPVSApply.reconcile(options, adopt: adopt, log: log, command: "ipvs apply")
        }
    }

    static func reconcile(_ options: CommonOptions, adopt: Bool, log: Logger, command: String) throws -> CommandReport {
        var report = CommandReport(command: command, dryRun: options.dryRun)
        var clock = PhaseClock(log: log)
        let s = IPVSSession(options, log: log)
        let desired = try s.loadDesired(into: &report)
        clock.lap("load config")
        let lock = try s.dir.lock("ipvs", timeoutSeconds: options.lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        let owned = try s.readOwnership(adopt: adopt, report: &report)
        clock.lap("lock and read ownership")
        let backend = try s.openBackend()
        let actual = try backend.dump()
        clock.lap("dump kernel")
        let plan = IPVSPlanner.plan(desired: desired, actual: actual, owned: owned, adopt: adopt)
        clock.lap("plan")
        for c in plan.conflicts {
            report.errors.append("service \(c.state.key) (\(c.name)) exists in the kernel but was not created by ezlb; left alone (use --adopt to take it over)")
        }
        for k in plan.adopted { log.notice("adopting service \(k)") }
        try s.execute(plan, backend: backend, owned: owned, report: &report)
        clock.lap("apply and record state")
        s.summarize(&report, verb: "applied")
        return report
    }
}

import Logging
