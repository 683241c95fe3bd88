import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbReconcile

struct IPAMList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show allocations with owners and times.",
        discussion: "Example:\n  ezlb ipam list -o json"
    )

    @OptionGroup var options: CommonOptions

    @Option(help: ArgumentHelp("Only this subnet.", valueName: "cidr"))
    var subnet: String?

    @Option(help: ArgumentHelp("Only this owner's addresses.", valueName: "id"))
    var owner: String?

    func run() throws {
        try Runner.run(options.values, command: "ipam list") { ctx in
            var report = CommandReport(command: "ipam list", dryRun: false)
            let only = try subnet.map { try FlagValue.subnet($0) }
            let state = try IPAMReconciler(ctx).state()
            var rows: [JSONValue] = []
            var subnets: [JSONValue] = []
            var text = ""
            for rec in state.subnets where only == nil || rec.subnet == only {
                let layout = SubnetLayout(rec.subnet)
                let allocs = rec.allocations.filter { owner == nil || $0.owner == owner }
                if owner != nil && allocs.isEmpty { continue }
                subnets.append(.object([
                    "subnet": .string(rec.subnet.description),
                    "gateway": layout.gatewayAddress.map { .string($0.description) } ?? .null,
                    "allocated": .int(rec.allocations.count),
                    "size": .string(IPSubnet.count(layout.pool)),
                    "round_robin_last": rec.roundRobinLast.map { .string($0.description) } ?? .null,
                ]))
                text += "\(rec.subnet) gateway \(layout.gatewayAddress.map(\.description) ?? "-") \(rec.allocations.count)/\(IPSubnet.count(layout.pool)) allocated\n"
                for a in allocs {
                    rows.append(.object(IPAMReconciler.json(a, subnet: rec.subnet)))
                    text += "  \(a.ip)/\(rec.subnet.prefixLength)  \(a.owner ?? "-")  \(a.allocatedAt)\n"
                }
            }
            report.extra["subnets"] = .array(subnets)
            report.extra["allocations"] = .array(rows)
            report.body = text
            report.summary = "\(rows.count) allocations in \(subnets.count) subnets"
            return report
        }
    }
}
