import ArgumentParser
import EzlbReconcile

struct IPVSApply: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the kernel's IPVS table match the config (only services ezlb owns).",
        discussion: """
        Dumps the kernel's services and destinations, plans the smallest change and applies it. \
        Re-running with no change makes no kernel write and reports no changes. Services removed \
        from the config are deleted; managed services changed or deleted by hand are put back. \
        Services with a health check have their backends probed first (all at once, each within \
        its timeout; a backend probed less than its interval ago is skipped): unhealthy backends \
        get weight 0 (or are removed with on_unhealthy: remove), counters are kept in \
        <state-dir>/health.json across runs. --dry-run probes but stores nothing.

        Example:
          ezlb ipvs apply -c /etc/ezlb/ezlb.yaml -q   (cron: silent when converged)
        """
    )

    @OptionGroup var options: CommonOptions

    @Flag(help: "Take over services that exist in the kernel on a configured key but were not created by ezlb. Also rebuilds a corrupted ipvs.json from config ∩ kernel.")
    var adopt = false

    @Flag(name: .customLong("no-probe"), help: "Run no health probes: apply with the health state stored by earlier runs (<state-dir>/health.json).")
    var noProbe = false

    @Flag(name: .customLong("allow-empty"), help: "Accept a config that lists nothing to manage (services: []) and so removes everything ezlb manages. A missing or valueless services key is refused even so.")
    var allowEmpty = false

    var args: Args { Args(options: options.values, adopt: adopt, noProbe: noProbe, allowEmpty: allowEmpty) }

    struct Args: FastRunnable {
        var options: CommonValues
        var adopt: Bool
        var noProbe: Bool
        var allowEmpty: Bool

        func run() throws {
            try Runner.run(options.allowingEmpty(allowEmpty), command: "ipvs apply") { try IPVSReconciler($0).apply(adopt: adopt, probe: !noProbe) }
        }
    }
}
