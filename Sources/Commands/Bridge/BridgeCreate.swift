import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbState

struct BridgeCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a bridge with the subnet's gateway address, up, with MASQUERADE for the subnet.",
        discussion: "Idempotent: a second create changes nothing and adds no duplicate rule. The bridge gets a stable MAC derived from its name, so it never flaps as ports come and go."
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name (at most 15 characters).", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The bridge's subnet; its first usable address becomes the gateway.", valueName: "cidr"))
    var subnet: String

    @Option(help: ArgumentHelp("MTU of the bridge and its veths.", valueName: "n"))
    var mtu: Int = 1500

    @Flag(name: .customLong("no-masquerade"), help: "Do not masquerade traffic leaving the subnet.")
    var noMasquerade = false

    func run() throws {
        try Runner.run(options, command: "bridge create") { log in
            var report = CommandReport(command: "bridge create", dryRun: options.dryRun)
            let name = try BridgeSession.bridgeName(self.name)
            let net = try IPAMSession.subnet(subnet)
            guard (68...65535).contains(mtu) else { throw Failure.usage("--mtu: '\(mtu)': must be between 68 and 65535") }
            let layout = SubnetLayout(net)
            guard let gw = layout.gatewayAddress else {
                throw Failure.usage("--subnet: '\(subnet)': a /\(net.prefixLength) has no room for a gateway and containers")
            }
            let s = BridgeSession(options, log: log)
            try s.lock()
            var state = try s.readState()
            let ipamState = try s.ipam.read()
            let want = BridgeState.Bridge(name: name, subnet: net.description, gateway: gw.description, mtu: mtu,
                                          mac: BridgeNames.bridgeMAC(name), masquerade: !noMasquerade)
            let existing = state.bridges.first { $0.name == name }
            if let e = existing, e.subnet != want.subnet {
                throw Failure(.failure, "bridge \(name) exists with subnet \(e.subnet); delete it first to use \(want.subnet)")
            }
            for b in state.bridges where b.name != name {
                if case .success(let o) = IPSubnet.parse(b.subnet), o.overlaps(net) {
                    throw Failure(.failure, "subnet \(net) overlaps bridge \(b.name) (\(b.subnet))")
                }
            }
            for r in ipamState.subnets where r.subnet != net && r.subnet.overlaps(net) && !r.allocations.isEmpty {
                throw Failure(.failure, "subnet \(net) overlaps \(r.subnet) in ipam.json, which has allocations")
            }
            let l = try s.links()
            let link = try l.link(name)
            if let k = link, existing == nil {
                throw Failure(.failure, "link \(name) (\(k.kind)) exists and was not created by ezlb; left alone")
            }
            if let k = link, k.kind != "bridge" {
                throw Failure(.failure, "link \(name) is a \(k.kind), not a bridge")
            }
            var record = want
            record.connections = existing?.connections ?? []
            // Intent first: a crash from here on leaves the bridge owned, and the next run finishes it.
            if !options.dryRun && existing != record {
                state.bridges.removeAll { $0.name == name }
                state.bridges.append(record)
                try s.writeState(state)
            }
            let cidr = "\(gw)/\(net.prefixLength)"
            var created = false
            do {
                if link == nil {
                    if !options.dryRun { try l.createBridge(name: name, mac: record.mac, mtu: mtu); created = true }
                    report.actions.append(BridgeSession.action("+ bridge \(name) \(net) mac \(record.mac) mtu \(mtu)",
                        ["action": "add", "object": "bridge", "name": .string(name), "subnet": .string(net.description), "mac": .string(record.mac), "mtu": .int(mtu)]))
                } else if let k = link {
                    if k.mtu != mtu || k.mac?.lowercased() != record.mac {
                        if !options.dryRun { try l.setLink(name, mtu: k.mtu != mtu ? mtu : nil, mac: k.mac?.lowercased() != record.mac ? record.mac : nil) }
                        report.actions.append(BridgeSession.action("~ bridge \(name) mtu \(k.mtu) -> \(mtu) mac \(k.mac ?? "-") -> \(record.mac)",
                            ["action": "update", "object": "bridge", "name": .string(name)]))
                    }
                }
                if !(link?.addresses.contains(cidr) ?? false) {
                    if !options.dryRun { try l.addAddress(name, address: gw, prefixLength: net.prefixLength) }
                    report.actions.append(BridgeSession.action("+ address \(cidr) on \(name)", ["action": "add", "object": "address", "link": .string(name), "address": .string(cidr)]))
                }
                if !(link?.up ?? false) {
                    if !options.dryRun { try l.setUp(name) }
                    report.actions.append(BridgeSession.action("+ link \(name) up", ["action": "update", "object": "link", "link": .string(name), "up": true]))
                }
            } catch let e as LinkError {
                // Roll back this run's bridge (and the intent record of a new one).
                if created { try? l.deleteLink(name) }
                try? s.commitFake()
                if existing == nil, !options.dryRun {
                    state.bridges.removeAll { $0.name == name }
                    try? s.writeState(state)
                }
                throw e
            }
            try s.commitFake()
            // MASQUERADE: this bridge's chain wanted or not; other bridges' chains untouched.
            let owned = existing.flatMap(BridgeSession.natChainID).map { [$0] } ?? []
            try s.syncMasquerade(desired: record.masquerade ? [record] : [], owned: Array(Set(owned)), report: &report)
            try s.commitFake()
            report.extra["bridge"] = .string(name)
            report.extra["gateway"] = .string(gw.description)
            report.extra["subnet"] = .string(net.description)
            report.summary = report.actions.isEmpty ? "no changes" : nil
            return report
        }
    }
}
