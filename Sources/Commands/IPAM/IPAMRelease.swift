import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbReconcile

struct IPAMRelease: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release an address (by --ip or --owner).",
        discussion: "Idempotent: releasing an address nobody holds changes nothing and exits 0. With both --ip and --owner the address must be the owner's.\n\nExample:\n  ezlb ipam release --subnet 10.88.0.0/24 --owner c1"
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var target: IPAMSubnetOption

    @Option(help: ArgumentHelp("The address to release.", valueName: "ip"))
    var ip: String?

    @Option(help: ArgumentHelp("Release the address this owner holds.", valueName: "id"))
    var owner: String?

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, subnet: target.subnet, ip: ip, owner: owner) }

    struct Args: FastRunnable {
        var options: CommonValues
        var subnet: String
        var ip: String?
        var owner: String?

        func run() throws {
            try Runner.run(options, command: "ipam release") { ctx in
                try IPAMReconciler(ctx).release(subnet: try FlagValue.subnet(subnet), ip: try ip.map { try FlagValue.address($0, flag: "--ip") },
                                                owner: owner)
            }
        }
    }
}
