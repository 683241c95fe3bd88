import ArgumentParser
import EzlbCore
import EzlbPlanner

/// `ezlb bridge …`: a Linux bridge for containers, their veths and addresses, and MASQUERADE.
public struct BridgeCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "Create bridges and connect network namespaces to them (veth, IPAM address, default route, MASQUERADE).",
        discussion: """
        Bridges and connections ezlb made are recorded in <state-dir>/bridges.json; addresses come from \
        <state-dir>/ipam.json (the gateway is the subnet's first usable address). The MASQUERADE rules live \
        in an ezlb-owned nat chain EZLB-BR-<name> jumped from POSTROUTING (libiptc: see them with \
        iptables-legacy-save). Links, addresses and routes go through netlink (libnl-route-3); namespace \
        work runs on a dedicated thread. Any failure while connecting rolls back what was created.
        """,
        subcommands: [BridgeCreate.self, BridgeDelete.self, BridgeConnect.self, BridgeDisconnect.self, BridgeList.self]
    )
}

extension BridgeCommand {
    /// A bridge name argument, checked like a link name.
    static func name(_ n: String) throws -> String {
        if let why = BridgeNames.invalidInterfaceName(n) { throw Failure.usage("bridge name: '\(n)': \(why)") }
        return n
    }
}
