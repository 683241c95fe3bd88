import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbReconcile

struct BridgeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a bridge with the subnet's gateway address, up, with MASQUERADE for the subnet.",
        discussion: "Idempotent: a second create changes nothing and adds no duplicate rule. The bridge gets a stable MAC derived from its name, so it never flaps as ports come and go. MASQUERADE goes through nftables (table inet ezlb-bridges) or iptables (an EZLB-* nat chain) as --firewall says (auto: what the host uses); a create with the other --firewall moves it.\n\nExample:\n  ezlb bridge create ezbr0 --subnet 10.88.0.0/24"
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name (at most 15 characters).", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The bridge's subnet; its first usable address becomes the gateway.", valueName: "cidr"))
    var subnet: String

    @Option(help: ArgumentHelp("MTU of the bridge and its veths.", valueName: "n"))
    var mtu: Int = 1500

    @Flag(name: .customLong("no-masquerade"), help: "Do not masquerade traffic leaving the subnet.")
    var noMasquerade = false

    @OptionGroup var firewall: FirewallOptions

    func run() throws {
        try Runner.run(options.values, command: "bridge create") { ctx in
            var ctx = ctx
            ctx.firewall = try FirewallOptions.resolve(firewall.firewall)
            let name = try BridgeCommand.name(self.name)
            let net = try FlagValue.subnet(subnet)
            guard (68...65535).contains(mtu) else { throw Failure.usage("--mtu: '\(mtu)': must be between 68 and 65535") }
            return try BridgeReconciler(ctx).create(name: name, subnet: net, mtu: mtu, masquerade: !noMasquerade)
        }
    }
}
