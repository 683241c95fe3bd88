import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbState

struct BridgeDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a bridge ezlb created: the link, its MASQUERADE chain and the subnet's addresses.",
        discussion: "Refuses while containers are connected unless --force (which disconnects them first). Deleting a bridge ezlb does not know changes nothing."
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Flag(help: "Disconnect connected containers first.")
    var force = false

    func run() throws {
        try Runner.run(options, command: "bridge delete") { log in
            var report = CommandReport(command: "bridge delete", dryRun: options.dryRun)
            let name = try BridgeSession.bridgeName(self.name)
            let s = BridgeSession(options, log: log)
            try s.lock()
            var state = try s.readState()
            guard let bi = state.bridges.firstIndex(where: { $0.name == name }) else {
                report.summary = "no changes"
                return report
            }
            let b = state.bridges[bi]
            if !b.connections.isEmpty && !force {
                throw Failure(.failure, "bridge \(name) has \(b.connections.count) connected containers (\(b.connections.map(\.owner).joined(separator: ", "))); disconnect them or pass --force")
            }
            let subnet = try IPAMSession.subnet(b.subnet, flag: "bridges.json: \(name).subnet")
            var ipamState = try s.ipam.read()
            for c in b.connections { try s.disconnect(b, c, subnet: subnet, ipamState: &ipamState, report: &report) }
            let l = try s.links()
            if let k = try l.link(name), k.kind == "bridge" {
                if !options.dryRun {
                    do { try l.deleteLink(name) } catch let e as LinkError { throw e }
                }
                report.actions.append(BridgeSession.action("- bridge \(name) \(b.subnet)", ["action": "delete", "object": "bridge", "name": .string(name)]))
            }
            try s.commitFake()
            if let id = BridgeSession.natChainID(b) {
                try s.syncMasquerade(desired: [], owned: [id], report: &report)
                try s.commitFake()
            }
            let purged = IPAM.purge(&ipamState, subnet: subnet)
            for a in purged {
                report.actions.append(BridgeSession.action("- address \(a.ip)/\(subnet.prefixLength) owner \(a.owner ?? "-")",
                                                           ["action": "release", "object": "address", "ip": .string(a.ip.description)]))
            }
            if !options.dryRun {
                try s.ipam.write(ipamState)
                state.bridges.remove(at: bi)
                try s.writeState(state)
            }
            return report
        }
    }
}
