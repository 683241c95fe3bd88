import ArgumentParser
import EzlbReconcile

struct XfrmCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove ezlb's xfrm policies and ESP states, and nothing else (never a flush).",
        discussion: "Does not read the config. Policies go first, then states, so no packet matches a policy whose SA is gone.\n\nExample:\n  ezlb xfrm cleanup --dry-run"
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "xfrm cleanup") { try XfrmReconciler($0).cleanup() }
    }
}
