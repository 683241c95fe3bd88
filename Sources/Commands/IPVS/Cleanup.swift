import ArgumentParser
import EzlbPlanner

struct IPVSCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Delete every IPVS service ezlb owns, and nothing else.",
        discussion: "Does not read the config. Services created by other tools are never touched."
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options, command: "ipvs cleanup") { log in
            var report = CommandReport(command: "ipvs cleanup", dryRun: options.dryRun)
            let s = IPVSSession(options, log: log)
            let lock = try s.dir.lock("ipvs", timeoutSeconds: options.lockTimeout)
            defer { withExtendedLifetime(lock) {} }
            let owned = try s.readOwnership(adopt: false, report: &report)
            let backend = try s.openBackend()
            let plan = IPVSPlanner.cleanup(actual: try backend.dump(), owned: owned)
            try s.execute(plan, backend: backend, owned: owned, report: &report)
            s.summarize(&report, verb: "cleaned up")
            return report
        }
    }
}
