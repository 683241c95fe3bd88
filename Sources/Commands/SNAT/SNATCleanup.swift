import ArgumentParser
import EzlbReconcile

struct SNATCleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove ezlb's FullNAT rules (table inet ezlb; EZLB-* chains and their jumps), and nothing else.",
        discussion: "Does not read the config. Works on both firewall interfaces whatever --firewall says; also removes EZLB-SNAT/EZLB-FORWARD and table inet ezlb left behind when snat.json was lost.\n\nExample:\n  ezlb snat cleanup --dry-run"
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "snat cleanup") { try SNATReconciler($0).cleanup() }
    }
}
