import ArgumentParser
import EzlbReconcile

struct XfrmSync: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make ezlb's xfrm policies and ESP states match the ipsec: section of the config.",
        discussion: """
        Dumps the kernel's policies and SAs, plans and applies the smallest change in make-before-break \
        order (new IN states, new OUT states, policies, then stale policies and states). A re-run with no \
        change makes no netlink write. A run that finds every policy and SA exactly as the last converged \
        sync left them, with the same config, key, pods file and xfrm.json and no rotation step due \
        (<state-dir>/xfrm.converged; counters do not count), stops there. Key rotation (a new \
        ipsec.generation) takes three runs spaced by ipsec.rotation_delay: accept the new keys, switch OUT \
        to them, drop the old ones.

        Example:
          ezlb xfrm sync -c /etc/ezlb/ezlb.yaml -q
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(name: .customLong("allow-empty"), help: "Accept a config that lists nothing to manage (no ipsec peers, local pods or peer pods) and so removes everything ezlb manages. A missing or valueless ipsec.peers key is refused even so.")
    var allowEmpty = false

    var args: Args { Args(options: options.values, allowEmpty: allowEmpty) }

    struct Args: FastRunnable {
        var options: CommonValues
        var allowEmpty: Bool

        func run() throws {
            try Runner.run(options.allowingEmpty(allowEmpty), command: "xfrm sync") { try XfrmReconciler($0).sync() }
        }
    }
}
