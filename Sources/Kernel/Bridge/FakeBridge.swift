import EzlbCore

/// The fake kernel's links, namespaces and routes (section `net` of fake-kernel.json).
public struct FakeNet: Codable, Equatable, Sendable {
    public struct Link: Codable, Equatable, Sendable {
        public var info: LinkInfo
        /// Namespace path; nil = the host namespace.
        public var netns: String?
        /// The other end of a veth (name and namespace travel with it).
        public var peer: String?
        public init(info: LinkInfo, netns: String? = nil, peer: String? = nil) {
            self.info = info
            self.netns = netns
            self.peer = peer
        }
    }
    public struct Route: Codable, Equatable, Sendable {
        public var netns: String?
        public var destination: String
        public var gateway: String
        public var device: String
        public init(netns: String?, destination: String, gateway: String, device: String) {
            self.netns = netns
            self.destination = destination
            self.gateway = gateway
            self.device = device
        }
    }
    public var links: [Link] = []
    /// Existing namespace paths (`ip netns add` in the fake world); each has its own `lo`.
    public var namespaces: [String] = []
    public var routes: [Route] = []
    public init() {}

    /// Adds a namespace (tests and demos).
    public mutating func addNamespace(_ path: String) {
        guard !namespaces.contains(path) else { return }
        namespaces.append(path)
        links.append(Link(info: LinkInfo(name: "lo", kind: "loopback", mtu: 65536), netns: path))
    }

    /// Removes a namespace and everything in it (a veth's peer in the host goes too).
    public mutating func deleteNamespace(_ path: String) {
        namespaces.removeAll { $0 == path }
        let gone = links.filter { $0.netns == path }
        links.removeAll { $0.netns == path }
        for g in gone { if let p = g.peer { links.removeAll { $0.info.name == p && $0.netns == nil } } }
        routes.removeAll { $0.netns == path }
    }
}

/// The bridge contract on the fake kernel, with the kernel's errors. Every change is saved
/// at once (the kernel has no commit either).
public final class FakeBridge: BridgeBackend {
    public let kernel: FakeKernel
    public init(kernel: FakeKernel) { self.kernel = kernel }

    private var net: FakeNet { kernel.model.net }

    /// Applies `body` to the model and saves it; nothing changes when it throws.
    private func change(_ body: (inout FakeNet) throws -> Void) throws {
        var n = kernel.model.net
        try body(&n)
        kernel.model.net = n
        kernel.markDirty()
        try kernel.save()
    }

    func index(_ name: String, netns: String? = nil) -> Int? {
        net.links.firstIndex { $0.info.name == name && $0.netns == netns }
    }

    func need(_ name: String, _ op: String, netns: String? = nil) throws -> Int {
        guard let i = index(name, netns: netns) else { throw LinkError(.notFound, operation: op, detail: "no such device \(name)") }
        return i
    }

    public func link(_ name: String) throws -> LinkInfo? { index(name).map { net.links[$0].info } }

    public func ports(of bridge: String) throws -> [LinkInfo] {
        net.links.filter { $0.netns == nil && $0.info.master == bridge }.map(\.info)
    }

    public func createBridge(name: String, mac: String, mtu: Int) throws {
        if index(name) != nil { throw LinkError(.exists, operation: "create bridge \(name)", detail: "File exists") }
        try change { $0.links.append(.init(info: LinkInfo(name: name, kind: "bridge", mac: mac, mtu: mtu))) }
    }

    public func setLink(_ name: String, mtu: Int?, mac: String?) throws {
        let i = try need(name, "set link \(name)")
        try change { n in
            if let m = mtu { n.links[i].info.mtu = m }
            if let m = mac { n.links[i].info.mac = m }
        }
    }

    public func addAddress(_ link: String, address: IPAddress, prefixLength: Int) throws {
        let i = try need(link, "add address \(address)/\(prefixLength) to \(link)")
        let cidr = "\(address)/\(prefixLength)"
        guard !net.links[i].info.addresses.contains(cidr) else { return }
        try change { $0.links[i].info.addresses.append(cidr) }
    }

    public func setUp(_ name: String) throws {
        let i = try need(name, "set \(name) up")
        guard !net.links[i].info.up else { return }
        try change { $0.links[i].info.up = true }
    }

    public func deleteLink(_ name: String) throws {
        let i = try need(name, "delete link \(name)")
        try change { n in
            let l = n.links.remove(at: i)
            n.routes.removeAll { $0.device == name && $0.netns == nil }
            // A veth takes its peer (wherever it is) and the peer's routes with it.
            if let p = l.peer, let j = n.links.firstIndex(where: { $0.info.name == p && $0.peer == l.info.name }) {
                let peer = n.links.remove(at: j)
                n.routes.removeAll { $0.device == p && $0.netns == peer.netns }
            }
            // Ports of a deleted bridge are released.
            for j in n.links.indices where n.links[j].info.master == name && n.links[j].netns == nil { n.links[j].info.master = nil }
        }
    }

    public func createVeth(host: String, bridge: String, mtu: Int, netns: NetnsRef, interface c: ContainerInterface) throws {
        guard net.namespaces.contains(netns.path) else {
            throw LinkError(.netns, operation: "enter network namespace \(netns)", detail: "No such file or directory")
        }
        let op = "create veth \(host) on \(bridge) with \(c.ifname) in \(netns)"
        if index(host) != nil { throw LinkError(.exists, operation: op, detail: "\(host): File exists") }
        if index(c.ifname, netns: netns.path) != nil { throw LinkError(.exists, operation: op, detail: "\(c.ifname): File exists") }
        _ = try need(bridge, op)
        try change { n in
            n.links.append(.init(info: LinkInfo(name: host, kind: "veth", mac: BridgeFakeMAC.next(host), mtu: mtu, up: true, master: bridge), peer: c.ifname))
            n.links.append(.init(info: LinkInfo(name: c.ifname, kind: "veth", mac: c.mac, mtu: mtu, up: true,
                                                addresses: ["\(c.address)/\(c.prefixLength)"]), netns: netns.path, peer: host))
            if let lo = n.links.firstIndex(where: { $0.info.name == "lo" && $0.netns == netns.path }) { n.links[lo].info.up = true }
            // As the kernel: an existing default route stays, and no second one is added.
            if !n.routes.contains(where: { $0.netns == netns.path && $0.destination == "default" && IPAddress($0.gateway)?.family == c.gateway.family }) {
                n.routes.append(.init(netns: netns.path, destination: "default", gateway: c.gateway.description, device: c.ifname))
            }
            for r in c.routes where !n.routes.contains(where: { $0.netns == netns.path && $0.destination == "\(r.destination)/\(r.prefixLength)" }) {
                n.routes.append(.init(netns: netns.path, destination: "\(r.destination)/\(r.prefixLength)", gateway: r.gateway.description, device: c.ifname))
            }
        }
    }

    public func containerLink(netns: NetnsRef, ifname: String) throws -> LinkInfo? {
        index(ifname, netns: netns.path).map { net.links[$0].info }
    }

    public func hasDefaultRoute(netns: NetnsRef, family: IPFamily) throws -> Bool {
        net.routes.contains { $0.netns == netns.path && $0.destination == "default" && IPAddress($0.gateway)?.family == family }
    }

    public func setContainerMTU(netns: NetnsRef, ifname: String, mtu: Int) throws {
        let op = "set mtu \(mtu) on \(ifname) in \(netns)"
        guard let i = index(ifname, netns: netns.path) else { throw LinkError(.notFound, operation: op, detail: "no such device \(ifname)") }
        try change { $0.links[i].info.mtu = mtu }
    }
}

/// Deterministic MACs for fake veths (the kernel picks random ones).
enum BridgeFakeMAC {
    static func next(_ name: String) -> String {
        var h: UInt64 = 1469598103934665603
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 1099511628211 }
        return (["06"] + (0..<5).map { i in
            let v = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i)))
            return v < 16 ? "0" + String(v, radix: 16) : String(v, radix: 16)
        }).joined(separator: ":")
    }
}
