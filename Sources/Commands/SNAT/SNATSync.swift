import ArgumentParser
import EzlbCore
import EzlbReconcile

struct SNATSync: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make ezlb's FullNAT firewall rules match the config (full_nat services).",
        discussion: """
        Masquerades (or SNATs to snat_ip) the connections IPVS forwards to full_nat backends — only \
        those first addressed to the service's VIP and port, or carrying its fwmark. On nftables \
        everything is in `table inet ezlb`, one set element per backend, written in one transaction; \
        on iptables in the EZLB-SNAT (nat) and EZLB-FORWARD (filter) chains, each table committed \
        once, atomically, under /run/xtables.lock. What the kernel holds is read and compared: \
        hand edits are repaired, stale entries removed, and a re-run with no change writes nothing. \
        With no full_nat service left, ezlb's table or chains are removed; switching --firewall \
        removes them from the other interface. On iptables, a run whose inputs are those of the last \
        converged sync and whose tables still have its digests (<state-dir>/snat.converged) stops there.

        Example:
          ezlb snat sync -c /etc/ezlb/ezlb.yaml -v   (-v: which firewall and why)
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(name: .customLong("allow-empty"), help: "Accept a config that lists nothing to manage (services: []) and so removes everything ezlb manages. A missing or valueless services key is refused even so.")
    var allowEmpty = false

    @OptionGroup var firewall: FirewallOptions

    var args: Args { Args(options: options.values, allowEmpty: allowEmpty, firewall: firewall.firewall) }

    struct Args: FastRunnable {
        var options: CommonValues
        var allowEmpty: Bool
        var firewall: FirewallChoice?

        func run() throws {
            try Runner.run(options.allowingEmpty(allowEmpty), command: "snat sync") { ctx in
                var ctx = ctx
                ctx.firewall = try FirewallOptions.resolve(firewall)
                return try SNATReconciler(ctx).sync { Runner.prerender($0, format: options.output) }
            }
        }
    }
}
