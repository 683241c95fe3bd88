import EzlbCore
import EzlbIPAM

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
        /// Where its MASQUERADE rule is: "nftables" (table inet ezlb-bridges) or "iptables"
        /// (its EZLB-* chain); nil in records from before the nftables backend (iptables).
        public var firewall: String?
        /// The CNI network whose first ADD created the bridge (its last DEL deletes it again);
        /// nil for a bridge made by `bridge create`, which stays.
        public var cni: String?
        /// Sorted by owner.
        public var connections: [Connection]
        public init(name: String, subnet: String, gateway: String, mtu: Int, mac: String, masquerade: Bool, firewall: String? = nil,
                    cni: String? = nil, connections: [Connection] = []) {
            self.firewall = firewall
            self.cni = cni
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
            var firewall: String? = nil
            if let f = b["firewall"] {
                let v = try f.string(at: bp + ".firewall")
                guard v == "nftables" || v == "iptables" else { throw .invalid(bp + ".firewall", "expected nftables or iptables") }
                firewall = v
            }
            let cni = try b["cni"].map { v throws(JSONShapeError) in try v.string(at: bp + ".cni") }
            let bridge = Bridge(name: try str("name"), subnet: try str("subnet"), gateway: try str("gateway"),
                                mtu: try b.required("mtu", at: bp).int(at: bp + ".mtu"), mac: try str("mac"),
                                masquerade: masquerade, firewall: firewall, cni: cni, connections: connections)
            try Self.check(bridge, at: bp)
            bridges.append(bridge)
        }
        self.init(bridges: bridges)
    }

    /// The values a bridge record must have (the file is read by root runs that act on them).
    static func check(_ b: Bridge, at bp: String) throws(JSONShapeError) {
        func ifname(_ n: String, _ key: String) throws(JSONShapeError) {
            guard (1...15).contains(n.utf8.count), n != ".", n != "..",
                  n.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && $0 != "/" }) else {
                throw .invalid(key, "not an interface name (1 to 15 printable ASCII characters)")
            }
        }
        func mac(_ m: String, _ key: String) throws(JSONShapeError) {
            let parts = m.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 6, parts.allSatisfy({ $0.utf8.count == 2 && UInt8($0, radix: 16) != nil }) else {
                throw .invalid(key, "not a MAC address")
            }
        }
        try ifname(b.name, bp + ".name")
        guard case .success(let net) = IPSubnet.parse(b.subnet) else { throw .invalid(bp + ".subnet", "not a subnet") }
        guard let gw = IPAddress(b.gateway), net.contains(gw) else { throw .invalid(bp + ".gateway", "not an address of \(b.subnet)") }
        guard (68...65535).contains(b.mtu) else { throw .invalid(bp + ".mtu", "\(b.mtu) is out of range 68..65535") }
        try mac(b.mac, bp + ".mac")
        for (j, c) in b.connections.enumerated() {
            let cp = "\(bp).connections[\(j)]"
            if c.owner.isEmpty { throw .invalid(cp + ".owner", "must not be empty") } // not re-checked further: see IPAMStateJSON
            guard let ip = IPAddress(c.ip), net.contains(ip) else { throw .invalid(cp + ".ip", "not an address of \(b.subnet)") }
            try ifname(c.ifname, cp + ".ifname")
            try ifname(c.hostVeth, cp + ".host_veth")
            try mac(c.mac, cp + ".mac")
            guard !c.netns.isEmpty, !c.netns.utf8.contains(0) else { throw .invalid(cp + ".netns", "not a namespace path") }
        }
    }

    public var stateJSON: JSONValue {
        .object(["bridges": .array(bridges.map { b in
            var o: [String: JSONValue] = [
                "name": .string(b.name), "subnet": .string(b.subnet), "gateway": .string(b.gateway), "mtu": .int(b.mtu),
                "mac": .string(b.mac), "masquerade": .bool(b.masquerade),
                "connections": .array(b.connections.map { c in
                    .object(["owner": .string(c.owner), "netns": .string(c.netns), "ifname": .string(c.ifname),
                             "host_veth": .string(c.hostVeth), "ip": .string(c.ip), "mac": .string(c.mac)])
                }),
            ]
            if let f = b.firewall { o["firewall"] = .string(f) }
            if let n = b.cni { o["cni"] = .string(n) }
            return .object(o)
        })])
    }
}
