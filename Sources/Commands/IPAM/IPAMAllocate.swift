import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbReconcile

struct IPAMAllocate: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "allocate",
        abstract: "Allocate an address and print it (10.1.0.5/24).",
        discussion: """
        The same --owner allocating again gets the same address and changes nothing. Default order: \
        the lowest free address; --round-robin continues after the last address it handed out (like \
        CNI host-local), so a just-released address is not reused at once. --ip asks for one address \
        (exit 1 if another owner holds it). A full subnet or range exits 69.

        Example:
          ezlb ipam allocate --subnet 10.88.0.0/24 --owner c1
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
            try Runner.run(options, command: "ipam allocate", optionalConfig: true) { ctx in
                let subnet = try FlagValue.subnet(self.subnet)
                var req = IPAM.Request(subnet: subnet, owner: owner, roundRobin: roundRobin, now: IPAMReconciler.now())
                req.ip = try ip.map { try FlagValue.address($0, flag: "--ip") }
                if rangeStart != nil || rangeEnd != nil {
                    let lo = try rangeStart.map { try FlagValue.address($0, flag: "--range-start") }
                    let hi = try rangeEnd.map { try FlagValue.address($0, flag: "--range-end") }
                    let fam = lo?.family ?? hi?.family ?? subnet.family
                    guard fam == subnet.family, (lo?.family ?? fam) == (hi?.family ?? fam) else {
                        throw Failure.usage("--range-start/--range-end: must be \(subnet.family.rawValue) like --subnet \(subnet)")
                    }
                    for (flag, v) in [("--range-start", lo), ("--range-end", hi)] {
                        if let v, !(subnet.network...subnet.last).contains(v.value) {
                            throw Failure.usage("\(flag): '\(v)': not in --subnet \(subnet)")
                        }
                    }
                    let a = lo?.value ?? subnet.network, b = hi?.value ?? subnet.last
                    guard a <= b else {
                        throw Failure.usage("--range-start/--range-end: '\(IPAddress(family: fam, value: a))-\(IPAddress(family: fam, value: b))': the range ends before it starts")
                    }
                    req.range = IPRange(family: fam, bounds: a...b)
                }
                return try IPAMReconciler(ctx).allocate(req, reserved: try reserve.map { try FlagValue.range($0, flag: "--reserve") })
            }
        }
    }
}
