import ArgumentParser
import EzlbCore
import EzlbReconcile

struct BridgeList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Show bridges ezlb created, their subnets and connected owners with addresses.",
        discussion: "Example:\n  ezlb bridge list -o json"
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "bridge list") { ctx in
            var report = CommandReport(command: "bridge list", dryRun: false)
            let state = try BridgeReconciler(ctx).list()
            var text = ""
            report.extra["bridges"] = .array(state.bridges.map { b in
                text += "\(b.name) \(b.subnet) gateway \(b.gateway) mtu \(b.mtu) mac \(b.mac)\(b.masquerade ? " masquerade (\(b.firewall ?? "iptables"))" : "")\n"
                for c in b.connections { text += "  \(c.owner)  \(c.ip)  \(c.ifname) in \(c.netns)  (\(c.hostVeth))\n" }
                return .object([
                    "name": .string(b.name), "subnet": .string(b.subnet), "gateway": .string(b.gateway), "mtu": .int(b.mtu),
                    "mac": .string(b.mac), "masquerade": .bool(b.masquerade), "firewall": b.masquerade ? .string(b.firewall ?? "iptables") : .null,
                    "connections": .array(b.connections.map { c in .object([
                        "owner": .string(c.owner), "ip": .string(c.ip), "netns": .string(c.netns), "ifname": .string(c.ifname),
                        "host_veth": .string(c.hostVeth), "mac": .string(c.mac)]) }),
                ])
            })
            report.body = text
            report.summary = "\(state.bridges.count) bridges, \(state.bridges.reduce(0) { $0 + $1.connections.count }) connections"
            return report
        }
    }
}
