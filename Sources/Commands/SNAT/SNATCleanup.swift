import ArgumentParser
import EzlbReconcile

struct SNATCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove ezlb's FullNAT chains, their rules and jumps, and nothing else.",
        discussion: "Does not read the config. Also removes EZLB-SNAT/EZLB-FORWARD left behind when snat.json was lost."
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "snat cleanup") { try SNATReconciler($0).cleanup() }
    }
}
