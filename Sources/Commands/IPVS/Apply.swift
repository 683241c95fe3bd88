import ArgumentParser
import EzlbCore
import EzlbPlanner
import Kernel

struct IPVSApply: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the kernel's IPVS table match the config (only services ezlb owns).",
        discussion: """
        Dumps the kernel's services and destinations, plans the smallest change and applies it. \
        Re-running with no change makes no kernel write and reports no changes. Services removed \
        from the config are deleted; managed services changed or deleted by hand are put back. \
        Services with a health check have their backends probed first (all at once, each within \
        its timeout; a backend probed less than its interval ago is skipped): unhealthy backends \
        get weight 0 (or are removed with on_unhealthy: remove), counters are kept in \
        <state-dir>/health.json across runs. --dry-run probes but stores nothing.
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(help: "Take over services that exist in the kernel on a configured key but were not created by ezlb. Also rebuilds a corrupted ipvs.json from config ∩ kernel.")
    var adopt = false

    @Flag(name: .customLong("no-probe"), help: "Run no health probes: apply with the health state stored by earlier runs (<state-dir>/health.json).")
    var noProbe = false

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, adopt: adopt, noProbe: noProbe) }

    struct Args: FastRunnable {
        var options: CommonValues
        var adopt: Bool
        var noProbe: Bool

        func run() throws {
            try Runner.run(options, command: "ipvs apply") { log in
                try IPVSApply.reconcile(options, adopt: adopt, probe: !noProbe, log: log, command: "ipvs apply")
            }
        }
    }

    static func reconcile(_ options: CommonValues, adopt: Bool, probe: Bool, log: Logger, command: String) throws -> CommandReport {
        KernelBackends.tuneHeapForBatch()
        var report = CommandReport(command: command, dryRun: options.dryRun)
        var clock = PhaseClock(log: log)
        let s = IPVSSession(options, log: log)
        let desired = try s.loadDesired(into: &report)
        clock.lap("load config")
        let lock = try s.dir.lock("ipvs", timeoutSeconds: options.lockTimeout)
        defer { withExtendedLifetime(lock) {} }
        let owned = try s.readOwnership(adopt: adopt, report: &report)
        clock.lap("lock and read ownership")
        let health = try s.health(desired, probe: probe)
        clock.lap("health")
        let backend = try s.openBackend()
        let actual = try backend.dump()
        clock.lap("dump kernel")
        // The kernel holds exactly the table a full plan last found converged, for this
        // config and ownership record: the plan is empty (IPVSConverged, ipvs-converged.cache).
        let useConverged = !adopt && !health.active
        let checked = useConverged ? s.convergedKey(actual) : nil
        if let c = checked, s.isKnownConverged(c) {
            log.debug("kernel table unchanged since it was last found converged: using \(IPVSSession.convergedCacheName)")
            clock.lap("compare with the last converged table")
            s.summarize(&report, verb: "applied")
            return report
        }
        let plan = IPVSPlanner.plan(desired: health.services, actual: actual, owned: owned, adopt: adopt)
        clock.lap("plan")
        for c in plan.conflicts {
            report.errors.append("service \(c.state.key) (\(c.name)) exists in the kernel but was not created by ezlb; left alone (use --adopt to take it over)")
        }
        for k in plan.adopted { log.notice("adopting service \(k)") }
        // Health state first: what the kernel is about to be made to reflect.
        if let t = health.write, !options.dryRun { try s.dir.writeHealth(t) }
        try s.execute(plan, backend: backend, owned: owned, reasons: health.reasons, report: &report)
        report.actions += s.healthActions(health, plan: plan)
        if health.active { report.extra["health"] = health.json }
        // Remember the table the kernel now holds when every step succeeded: the dump when
        // nothing had to change, else the dump with the plan applied (managed services as
        // desired, the rest as they were). Keyed on ownership as just written.
        if useConverged, !options.dryRun, plan.conflicts.isEmpty, report.errors.isEmpty,
           !report.actions.contains(where: { $0.error != nil }) {
            // Nothing changed and ipvs.json was not rewritten: the key checked above still holds.
            let unchanged = plan.operations.isEmpty && plan.ownedAfter == owned
            let after = plan.operations.isEmpty ? actual
                : actual.filter { owned[$0.key] == nil && plan.ownedAfter[$0.key] == nil } + health.services.map(\.state)
            if let c = unchanged ? checked : s.convergedKey(after) { s.recordConverged(c) }
        }
        clock.lap("apply and record state")
        s.summarize(&report, verb: "applied")
        return report
    }
}

import Logging
