import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbReconcile

struct BridgeDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a bridge ezlb created: the link, its MASQUERADE chain and the subnet's addresses.",
        discussion: "Refuses while containers are connected unless --force (which disconnects them first). Deleting a bridge ezlb does not know changes nothing.\n\nExample:\n  ezlb bridge delete ezbr0 --force"
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Flag(help: "Disconnect connected containers first.")
    var force = false

    func run() throws {
        try Runner.run(options.values, command: "bridge delete") { try BridgeReconciler($0).delete(name: try BridgeCommand.name(name), force: force) }
    }
}
