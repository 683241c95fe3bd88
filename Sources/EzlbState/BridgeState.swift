import EzlbCore

/// What `<state-dir>/bridges.json` records: the bridges ezlb created and the
/// containers it connected to them. Only these are ever changed or deleted.
public struct BridgeState: Codable, Equatable, Sendable {
    public struct Connection: Codable, Equatable, Sendable {
        public var owner: String
        public var netns: String
        public var ifname: String
        public var hostVeth: String
        public var ip: String
        public var mac: String
        public init(owner: String, netns: String, ifname: String, hostVeth: String, ip: String, mac: String) {
            self.owner = owner
            self.netns = netns
            self.ifname = ifname
            self.hostVeth = hostVeth
            self.ip = ip
            self.mac = mac
        }
        enum CodingKeys: String, CodingKey {
            case owner, netns, ifname, ip, mac
            case hostVeth = "host_veth"
        }
    }

    public struct Bridge: Codable, Equatable, Sendable {
        public var name: String
        /// CIDR text.
        public var subnet: String
        public var gateway: String
        public var mtu: Int
        public var mac: String
        public var masquerade: Bool
        /// Sorted by owner.
        public var connections: [Connection]
        public init(name: String, subnet: String, gateway: String, mtu: Int, mac: String, masquerade: Bool, connections: [Connection] = []) {
            self.name = name
            self.subnet = subnet
            self.gateway = gateway
            self.mtu = mtu
            self.mac = mac
            self.masquerade = masquerade
            self.connections = connections
        }
    }

    /// Sorted by name.
    public var bridges: [Bridge]
    public init(bridges: [Bridge] = []) { self.bridges = bridges.sorted { $0.name < $1.name } }

    public static let fileName = "bridges.json"
    public static let kind = "bridges"
    public static let schema = 1
    public static let recovery = "repair it by hand or delete it (ezlb then forgets which bridges and veths it made; remove them with 'ip link del')"
}

extension StateDirectory {
    public func readBridgeState() throws -> BridgeState {
        try read(BridgeState.self, from: BridgeState.fileName, kind: BridgeState.kind,
                 schema: BridgeState.schema, recovery: BridgeState.recovery) ?? BridgeState()
    }

    public func writeBridgeState(_ s: BridgeState) throws {
        try write(BridgeState(bridges: s.bridges), to: BridgeState.fileName, kind: BridgeState.kind, schema: BridgeState.schema)
    }
}
