import ArgumentParser
import EzlbCore
import EzlbIPAM

struct IPAMRelease: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Release an address (by --ip or --owner).",
        discussion: "Idempotent: releasing an address nobody holds changes nothing and exits 0. With both --ip and --owner the address must be the owner's."
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
            try Runner.run(options, command: "ipam release") { log in
                var report = CommandReport(command: "ipam release", dryRun: options.dryRun)
                let s = IPAMSession(options, log: log)
                let subnet = try IPAMSession.subnet(self.subnet)
                let addr = try ip.map { try IPAMSession.address($0, flag: "--ip") }
                guard addr != nil || owner != nil else { throw Failure.usage("ipam release: give --ip or --owner") }
                let lock = try s.lock()
                defer { withExtendedLifetime(lock) {} }
                var state = try s.read()
                let released: [Allocation]
                do { released = try IPAM.release(&state, subnet: subnet, ip: addr, owner: owner) } catch let e as IPAMError { throw e }
                if !released.isEmpty && !options.dryRun { try s.write(state) }
                report.actions = released.map { a in
                    var j = IPAMSession.json(a, subnet: subnet)
                    let text = "- \(a.ip)/\(subnet.prefixLength)" + (a.owner.map { " owner \($0)" } ?? "")
                    j["action"] = "release"
                    j["text"] = .string(text)
                    return ActionRecord(text: text, json: j, error: nil)
                }
                if released.isEmpty { report.summary = "no changes" }
                return report
            }
        }
    }
}
