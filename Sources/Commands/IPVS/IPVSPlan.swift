import ArgumentParser
import EzlbReconcile

struct IPVSPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print what 'ipvs apply' would change (same as 'ipvs apply --dry-run').",
        discussion: "Example:\n  ezlb ipvs plan -c /etc/ezlb/ezlb.yaml --detailed-exitcode   (2: would change)"
    )

    @OptionGroup var options: CommonOptions

    @Flag(help: "Plan as if --adopt were given.")
    var adopt = false

    @Flag(name: .customLong("no-probe"), help: "Run no health probes: plan with the stored health state.")
    var noProbe = false

    @Flag(name: .customLong("allow-empty"), help: "Accept a config that lists nothing to manage (services: []) and so removes everything ezlb manages. A missing or valueless services key is refused even so.")
    var allowEmpty = false

    func run() throws {
        var opts = options.values.allowingEmpty(allowEmpty)
        opts.dryRun = true
        try Runner.run(opts, command: "ipvs plan") { try IPVSReconciler($0).apply(adopt: adopt, probe: !noProbe, command: "ipvs plan") }
    }
}
