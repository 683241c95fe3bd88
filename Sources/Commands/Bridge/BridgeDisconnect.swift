import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbReconcile

struct BridgeDisconnect: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "disconnect",
        abstract: "Delete an owner's veth and release its address (idempotent).",
        discussion: "Example:\n  ezlb bridge disconnect ezbr0 --owner c1"
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The owner given to connect.", valueName: "id"))
    var owner: String

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, name: name, owner: owner) }

    struct Args: FastRunnable {
        var options: CommonValues
        var name: String
        var owner: String

        func run() throws {
            try Runner.run(options, command: "bridge disconnect") { ctx in
                try BridgeReconciler(ctx).disconnect(name: try BridgeCommand.name(name), owner: owner)
            }
        }
    }
}
