import ArgumentParser
import EzlbCore
import EzlbIPAM

struct IPAMAllocate: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocate",
        abstract: "Allocate an address and print it (10.1.0.5/24).",
        discussion: """
        The same --owner allocating again gets the same address and changes nothing. Default order: \
        the lowest free address; --round-robin continues after the last address it handed out (like \
        CNI host-local), so a just-released address is not reused at once. --ip asks for one address \
        (exit 1 if another owner holds it). A full subnet or range exits 69.
        """
    )

    @OptionGroup var options: CommonOptions
    @OptionGroup var target: IPAMSubnetOption

    @Option(help: ArgumentHelp("Who holds the address (container id, ...). Allocation is idempotent per owner and subnet.", valueName: "id"))
    var owner: String?

    @Option(help: ArgumentHelp("Ask for this address.", valueName: "ip"))
    var ip: String?

    @Option(name: .customLong("range-start"), help: ArgumentHelp("First address new allocations may use.", valueName: "ip"))
    var rangeStart: String?

    @Option(name: .customLong("range-end"), help: ArgumentHelp("Last address new allocations may use.", valueName: "ip"))
    var rangeEnd: String?

    @Option(help: ArgumentHelp("Never hand out these addresses (IP, A-B or CIDR; repeatable; adds to the config's ipam.reserved).", valueName: "range"))
    var reserve: [String] = []

    @Flag(name: .customLong("round-robin"), help: "Continue after the last address handed out instead of taking the lowest free one.")
    var roundRobin = false

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args {
        Args(options: options.values, subnet: target.subnet, owner: owner, ip: ip, rangeStart: rangeStart,
             rangeEnd: rangeEnd, reserve: reserve, roundRobin: roundRobin)
    }

    struct Args: FastRunnable {
        var options: CommonValues
        var subnet: String
        var owner: String?
        var ip: String?
        var rangeStart: String?
        var rangeEnd: String?
        var reserve: [String]
        var roundRobin: Bool

        func run() throws {
            try Runner.run(options, command: "ipam allocate") { log in
                var report = CommandReport(command: "ipam allocate", dryRun: options.dryRun)
                let s = IPAMSession(options, log: log)
                let subnet = try IPAMSession.subnet(self.subnet)
                var req = IPAM.Request(subnet: subnet, owner: owner, roundRobin: roundRobin, now: IPAMSession.now())
                if let t = ip { req.ip = try IPAMSession.address(t, flag: "--ip") }
                if rangeStart != nil || rangeEnd != nil {
                    let lo = try rangeStart.map { try IPAMSession.address($0, flag: "--range-start") }
                    let hi = try rangeEnd.map { try IPAMSession.address($0, flag: "--range-end") }
                    let fam = lo?.family ?? hi?.family ?? subnet.family
                    guard fam == subnet.family, (lo?.family ?? fam) == (hi?.family ?? fam) else {
                        throw Failure.usage("--range-start/--range-end: must be \(subnet.family.rawValue) like --subnet \(subnet)")
                    }
                    let a = lo?.value ?? subnet.network, b = hi?.value ?? subnet.last
                    guard a <= b else { throw Failure.usage("--range-start/--range-end: '\(lo!)-\(hi!)': the range ends before it starts") }
                    req.range = IPRange(family: fam, bounds: a...b)
                }
                req.reserved = try s.reserved(flags: reserve, report: &report)

                let lock = try s.lock()
                defer { withExtendedLifetime(lock) {} }
                var state = try s.read()
                let out: IPAM.Outcome
                do { out = try IPAM.allocate(&state, req) } catch let e as IPAMError { throw e }
                let fields = IPAMSession.json(out.allocation, subnet: subnet)
                report.extra = fields
                let line = "\(out.allocation.ip)/\(subnet.prefixLength)"
                if out.created {
                    if !options.dryRun { try s.write(state) }
                    var j = fields
                    j["action"] = "allocate"
                    j["text"] = .string(line)
                    report.actions = [ActionRecord(text: line, json: j, error: nil)]
                } else {
                    report.body = line
                }
                log.info("\(out.created ? "allocated" : "already held") \(line) owner \(out.allocation.owner ?? "-")")
                return report
            }
        }
    }
}
