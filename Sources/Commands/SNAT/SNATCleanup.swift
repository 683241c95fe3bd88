import ArgumentParser
import EzlbPlanner

struct SNATCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove ezlb's FullNAT chains, their rules and jumps, and nothing else.",
        discussion: "Does not read the config. Also removes EZLB-SNAT/EZLB-FORWARD left behind when snat.json was lost."
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options, command: "snat cleanup") { log in
            var report = CommandReport(command: "snat cleanup", dryRun: options.dryRun)
            let s = SNATSession(options, log: log)
            let lock = try s.dir.lock("snat", timeoutSeconds: options.lockTimeout)
            defer { withExtendedLifetime(lock) {} }
            let owned = try s.owned(takeOver: true)
            let backend = try s.openBackend()
            try s.reconcile(desired: [], owned: owned, backend: backend, report: &report)
            return report
        }
    }
}
