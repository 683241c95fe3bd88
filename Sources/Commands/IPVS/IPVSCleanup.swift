import ArgumentParser
import EzlbReconcile

struct IPVSCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Delete every IPVS service ezlb owns, and nothing else.",
        discussion: "Does not read the config. Services created by other tools are never touched.\n\nExample:\n  ezlb ipvs cleanup --dry-run"
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "ipvs cleanup") { try IPVSReconciler($0).cleanup() }
    }
}
