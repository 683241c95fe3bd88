import ArgumentParser
import EzlbReconcile

struct SNATSync: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make ezlb's FullNAT iptables chains match the config (full_nat services).",
        discussion: """
        Builds the desired EZLB-SNAT (nat) and EZLB-FORWARD (filter) chains in memory, reads what \
        the kernel holds and commits each table that differs once, atomically, under /run/xtables.lock. \
        Rules flushed or edited by hand are restored, stale ones removed; a re-run with no change \
        makes no commit. With no full_nat service left, the chains and jumps are removed. A run \
        whose inputs (config, health verdicts, snat.json) are those of the last converged sync and \
        whose tables still have that sync's digests (<state-dir>/snat.converged; counters do not \
        count) stops there.
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(name: .customLong("allow-empty"), help: "Accept a config that lists nothing to manage (services: []) and so removes everything ezlb manages. A missing or valueless services key is refused even so.")
    var allowEmpty = false

    var args: Args { Args(options: options.values, allowEmpty: allowEmpty) }

    struct Args: FastRunnable {
        var options: CommonValues
        var allowEmpty: Bool

        func run() throws {
            try Runner.run(options.allowingEmpty(allowEmpty), command: "snat sync") { ctx in
                try SNATReconciler(ctx).sync { Runner.prerender($0, format: options.output) }
            }
        }
    }
}
