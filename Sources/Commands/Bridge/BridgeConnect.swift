import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbReconcile
import Kernel

struct BridgeConnect: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect a network namespace to a bridge: veth, address from IPAM, default route via the gateway.",
        discussion: """
        The veth's host end is named from a hash of bridge and owner (ez + 12 hex digits) and joins the \
        bridge; the other end is created inside the namespace as --ifname with a stable MAC and gets the \
        address and the default route; lo is set up. Any failure rolls back everything created so far \
        (veth deleted, address released). Connecting the same owner again changes nothing.

        Example:
          ezlb bridge connect ezbr0 --netns /run/netns/c1 --owner c1 --ifname eth0
        """
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The namespace: a name under /run/netns, a path, or a PID.", valueName: "name|path|pid"),
            completion: .file())
    var netns: String

    @Option(help: ArgumentHelp("Who the connection belongs to (container id); one connection per owner and bridge.", valueName: "id"))
    var owner: String

    @Option(help: ArgumentHelp("Interface name inside the namespace.", valueName: "name"))
    var ifname: String = BridgeConnect.defaultIfname
    static let defaultIfname = "eth0"

    @Option(help: ArgumentHelp("Ask for this address.", valueName: "ip"))
    var ip: String?

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, name: name, netns: netns, owner: owner, ifname: ifname, ip: ip) }

    struct Args: FastRunnable {
        var options: CommonValues
        var name: String
        var netns: String
        var owner: String
        var ifname: String
        var ip: String?

        func run() throws {
            try Runner.run(options, command: "bridge connect") { ctx in
                let name = try BridgeCommand.name(self.name)
                if let why = BridgeNames.invalidInterfaceName(ifname) { throw Failure.usage("--ifname: '\(ifname)': \(why)") }
                guard let ns = NetnsRef.parse(netns) else { throw Failure.usage("--netns: '\(netns)': expected a name, a path or a PID") }
                return try BridgeReconciler(ctx).connect(name: name, netns: ns, owner: owner, ifname: ifname,
                                                         ip: try ip.map { try FlagValue.address($0, flag: "--ip") })
            }
        }
    }
}
