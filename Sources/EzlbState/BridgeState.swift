import EzlbCore

/// What `<state-dir>/bridges.json` records: the bridges ezlb created and the
/// containers it connected to them. Only these are ever changed or deleted.
public struct BridgeState: StateFile, Equatable, Sendable {
    public struct Connection: Equatable, Sendable {
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
    }

    public struct Bridge: Equatable, Sendable {
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

extension BridgeState {
    public init(stateJSON json: JSONValue) throws(JSONShapeError) {
        let path = "data"
        let o = try json.object(at: path)
        var bridges: [Bridge] = []
        for (i, v) in try o.required("bridges", at: path).array(at: path + ".bridges").enumerated() {
            let bp = "\(path).bridges[\(i)]"
            let b = try v.object(at: bp)
            func str(_ k: String) throws(JSONShapeError) -> String { try b.required(k, at: bp).string(at: bp + "." + k) }
            var connections: [Connection] = []
            for (j, cv) in try b.required("connections", at: bp).array(at: bp + ".connections").enumerated() {
                let cp = "\(bp).connections[\(j)]"
                let c = try cv.object(at: cp)
                func cstr(_ k: String) throws(JSONShapeError) -> String { try c.required(k, at: cp).string(at: cp + "." + k) }
                connections.append(Connection(owner: try cstr("owner"), netns: try cstr("netns"), ifname: try cstr("ifname"),
                                              hostVeth: try cstr("host_veth"), ip: try cstr("ip"), mac: try cstr("mac")))
            }
            guard case .bool(let masquerade) = try b.required("masquerade", at: bp) else { throw .wrongType(bp + ".masquerade") }
            bridges.append(Bridge(name: try str("name"), subnet: try str("subnet"), gateway: try str("gateway"),
                                  mtu: try b.required("mtu", at: bp).int(at: bp + ".mtu"), mac: try str("mac"),
                                  masquerade: masquerade, connections: connections))
        }
        self.init(bridges: bridges)
    }

    public var stateJSON: JSONValue {
        .object(["bridges": .array(bridges.map { b in
            .object([
                "name": .string(b.name), "subnet": .string(b.subnet), "gateway": .string(b.gateway), "mtu": .int(b.mtu),
                "mac": .string(b.mac), "masquerade": .bool(b.masquerade),
                "connections": .array(b.connections.map { c in
                    .object(["owner": .string(c.owner), "netns": .string(c.netns), "ifname": .string(c.ifname),
                             "host_veth": .string(c.hostVeth), "ip": .string(c.ip), "mac": .string(c.mac)])
                }),
            ])
        })])
    }
}
