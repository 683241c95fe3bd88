import EzlbCore

/// A network interface as the bridge commands see it (host or container namespace).
public struct LinkInfo: Codable, Equatable, Sendable {
    public var name: String
    /// `bridge`, `veth`, `loopback`, `device`, …
    public var kind: String
    public var mac: String?
    public var mtu: Int
    public var up: Bool
    /// Name of the bridge it is enslaved to.
    public var master: String?
    /// Addresses as CIDR text (`10.1.0.1/24`).
    public var addresses: [String]

    public init(name: String, kind: String, mac: String? = nil, mtu: Int = 1500, up: Bool = false,
                master: String? = nil, addresses: [String] = []) {
        self.name = name
        self.kind = kind
        self.mac = mac
        self.mtu = mtu
        self.up = up
        self.master = master
        self.addresses = addresses
    }
}

/// Where a container's interface goes: a network namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`, any bind mount).
public struct NetnsRef: Codable, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public init(path: String) { self.path = path }

    /// `NAME` (→ /run/netns/NAME), `PATH` (contains '/') or `PID` (digits → /proc/PID/ns/net).
    public static func parse(_ text: String) -> NetnsRef? {
        // Characters, not strings: Foundation's String overloads (visible through swift-crypto)
        // are not in the release binary.
        if text.isEmpty || text.contains(Character("\0")) { return nil }
        if text.contains(Character("/")) { return NetnsRef(path: text) }
        if text.allSatisfy({ $0.isASCII && $0.isNumber }) { return NetnsRef(path: "/proc/\(text)/ns/net") }
        if text == "." || text == ".." { return nil }
        return NetnsRef(path: "/run/netns/\(text)")
    }
    public var description: String { path }
}

/// A route a container's interface gets besides the default one: `destination/prefixLength`
/// via `gateway`.
public struct ContainerRoute: Equatable, Sendable {
    public var destination: IPAddress
    public var prefixLength: Int
    public var gateway: IPAddress
    public init(destination: IPAddress, prefixLength: Int, gateway: IPAddress) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.gateway = gateway
    }
}

/// What a container's interface gets inside its namespace.
public struct ContainerInterface: Equatable, Sendable {
    public var ifname: String
    public var mac: String
    public var address: IPAddress
    public var prefixLength: Int
    public var gateway: IPAddress
    public var mtu: Int
    /// Routes besides the default route via `gateway` (CNI's `ipam.routes`).
    public var routes: [ContainerRoute]
    public init(ifname: String, mac: String, address: IPAddress, prefixLength: Int, gateway: IPAddress, mtu: Int,
                routes: [ContainerRoute] = []) {
        self.ifname = ifname
        self.mac = mac
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.mtu = mtu
        self.routes = routes
    }
}

/// A refused link/address/route/namespace operation, naming the operation.
public typealias LinkError = OperationError<LinkErrorKind>

public enum LinkErrorKind: String, OperationErrorKind {
    case exists = "already exists"
    case notFound = "not found"
    case permission = "permission denied (needs CAP_NET_ADMIN)"
    case netns = "cannot use the network namespace"
    case invalid = "invalid argument"
    case other = "netlink error"
}

/// The contract of the bridge backends (libnl-route-3 on the kernel, the fake kernel).
/// Every method changes one thing or reads; callers order and roll back.
public protocol BridgeBackend: AnyObject {
    /// A host link by name, nil when absent.
    func link(_ name: String) throws -> LinkInfo?
    /// Host links enslaved to `bridge`.
    func ports(of bridge: String) throws -> [LinkInfo]
    func createBridge(name: String, mac: String, mtu: Int) throws
    /// Sets MTU and MAC of an existing host link.
    func setLink(_ name: String, mtu: Int?, mac: String?) throws
    /// Adds `cidr` (`10.1.0.1/24`) to a host link; an existing equal address is fine.
    func addAddress(_ link: String, address: IPAddress, prefixLength: Int) throws
    func setUp(_ name: String) throws
    /// Deletes a host link (a veth takes its peer with it, wherever it is).
    func deleteLink(_ name: String) throws
    /// Creates a veth pair whose host end `host` joins `bridge` (up) and whose other end is
    /// created directly inside `netns` as `interface.ifname` (with its MAC; no move, no rename),
    /// then gives it the address, sets it and `lo` up and adds the default route and `routes`. Namespace work
    /// runs on a dedicated thread; a namespace that cannot be entered is an error (kind .netns)
    /// before anything is created. On a later failure the caller deletes `host` (the peer goes with it).
    func createVeth(host: String, bridge: String, mtu: Int, netns: NetnsRef, interface: ContainerInterface) throws
    /// The interface `ifname` inside the namespace, nil when absent (or the namespace is gone).
    func containerLink(netns: NetnsRef, ifname: String) throws -> LinkInfo?
    /// Whether the namespace's main table has a default route of `family` (any device: a
    /// namespace that had one before keeps it, and `createVeth` adds none then).
    func hasDefaultRoute(netns: NetnsRef, family: IPFamily) throws -> Bool
    /// Sets the MTU of `ifname` inside the namespace.
    func setContainerMTU(netns: NetnsRef, ifname: String, mtu: Int) throws
}
