import ArgumentParser
import EzlbPlanner
import Kernel

struct SNATSync: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make ezlb's FullNAT iptables chains match the config (full_nat services).",
        discussion: """
        Builds the desired EZLB-SNAT (nat) and EZLB-FORWARD (filter) chains in memory, reads what \
        the kernel holds and commits each table that differs once, atomically, under /run/xtables.lock. \
        Rules flushed or edited by hand are restored, stale ones removed; a re-run with no change \
        makes no commit. With no full_nat service left, the chains and jumps are removed. A run \
        that finds the tables exactly as the last sync left them (digests in \
        <state-dir>/snat-kernel.cache; counters do not count) stops there.
        """
    )

    @OptionGroup var options: CommonOptions

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values) }

    struct Args: FastRunnable {
        var options: CommonValues

        func run() throws {
            try Runner.run(options, command: "snat sync") { log in
                KernelBackends.tuneHeapForBatch()
                var report = CommandReport(command: "snat sync", dryRun: options.dryRun)
                let s = SNATSession(options, log: log)
                var clock = PhaseClock(log: log)
                let services = try s.fullNATServices(into: &report)
                clock.lap("load config")
                let lock = try s.dir.lock("snat", timeoutSeconds: options.lockTimeout)
                defer { withExtendedLifetime(lock) {} }
                let health = try s.health()
                let backend = try s.openBackend()
                clock.lap("lock, health, open backend")
                // Converged fast path: the kernel's tables as the last sync with these inputs
                // (and this snat.json) left them.
                let inputs = SNATRules.inputDigest(services, health: health)
                if let key = s.convergedKey(inputs: inputs), s.kernelIsAsRecorded(key: key, backend: backend) {
                    report.extra["commits"] = .int(0)
                    s.summarize(&report)
                    return report
                }
                // A desired chain that exists but is not recorded (state lost) is simply rewritten:
                // EZLB-* names are ezlb's own.
                clock.lap("compare with the last converged tables")
                let owned = try s.owned(takeOver: false)
                let desired = SNATRules.chains(services, health: health)
                clock.lap("build desired chains")
                try s.reconcile(desired: desired, owned: owned, backend: backend, report: &report, convergedInputs: inputs)
                return report
            }
        }
    }
}
