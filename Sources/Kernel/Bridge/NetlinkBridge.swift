import CNetlinkRoute
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Bridges, veths, addresses and routes over rtnetlink (libnl-route-3).
///
/// Owns one netlink socket in the host namespace (freed in deinit). Work inside a
/// container's namespace uses a socket opened by a dedicated thread that enters the
/// namespace with setns and exits right after: the process itself never runs in
/// another namespace, and a failure to enter it is an error before anything is sent.
public final class NetlinkBridge: BridgeBackend {
    private let sock: OpaquePointer

    public init() throws {
        sock = try Self.openSocket(operation: "open rtnetlink socket")
    }

    /// Treats the namespace at `netns` as the host (its socket is opened by a setns thread);
    /// for managing bridges of another namespace, and for tests that never touch the real host.
    public init(netns: NetnsRef) throws {
        sock = try Self.socket(in: netns)
    }

    deinit { nl_socket_free(sock) }

    static func openSocket(operation: String) throws -> OpaquePointer {
        guard let s = nl_socket_alloc() else { throw LinkError(.other, operation: operation, detail: "out of memory") }
        let r = nl_connect(s, Int32(NETLINK_ROUTE))
        if r < 0 {
            nl_socket_free(s)
            throw error(r, operation)
        }
        return s
    }

    static func error(_ code: Int32, _ operation: String) -> LinkError {
        let c = -code
        let kind: LinkError.Kind
        switch c {
        case NLE_EXIST: kind = .exists
        case NLE_OBJ_NOTFOUND, NLE_NODEV: kind = .notFound
        case NLE_PERM, NLE_NOACCESS: kind = .permission
        case NLE_INVAL, NLE_RANGE: kind = .invalid
        default: kind = .other
        }
        var detail = String(cString: nl_geterror(code))
        if kind == .permission { detail += " (needs CAP_NET_ADMIN: run as root)" }
        return LinkError(kind, operation: operation, detail: detail)
    }

    static func check(_ r: Int32, _ operation: String) throws {
        if r < 0 { throw error(r, operation) }
    }

    /// Parses `text` into an nl_addr (caller puts it).
    static func parseAddr(_ text: String, family: Int32, _ operation: String) throws -> OpaquePointer {
        var a: OpaquePointer?
        try check(nl_addr_parse(text, family, &a), operation)
        guard let a else { throw LinkError(.other, operation: operation, detail: "cannot parse \(text)") }
        return a
    }

    static func addrString(_ a: OpaquePointer?) -> String? {
        guard let a else { return nil }
        var buf = [CChar](repeating: 0, count: 128)
        guard let p = nl_addr2str(a, &buf, buf.count) else { return nil }
        return String(cString: p)
    }

    // MARK: reading

    /// The kernel's link object by name on `sock` (caller puts it), nil when absent.
    static func getLink(_ sock: OpaquePointer, _ name: String, _ operation: String) throws -> OpaquePointer? {
        var l: OpaquePointer?
        let r = rtnl_link_get_kernel(sock, 0, name, &l)
        if r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV { return nil }
        try check(r, operation)
        return l
    }

    static func info(_ sock: OpaquePointer, _ l: OpaquePointer, masterName: String?) throws -> LinkInfo {
        let name = String(cString: rtnl_link_get_name(l))
        let kind = rtnl_link_get_type(l).map { String(cString: $0) } ?? (name == "lo" ? "loopback" : "device")
        let idx = rtnl_link_get_ifindex(l)
        var addrs: [String] = []
        var cache: OpaquePointer?
        try check(rtnl_addr_alloc_cache(sock, &cache), "list addresses of \(name)")
        defer { nl_cache_free(cache) }
        var obj = nl_cache_get_first(cache)
        while let o = obj {
            let a = o
            if rtnl_addr_get_ifindex(a) == idx, let s = addrString(rtnl_addr_get_local(a)) {
                addrs.append(s.contains("/" as Character) ? s : "\(s)/\(rtnl_addr_get_prefixlen(a))")
            }
            obj = nl_cache_get_next(o)
        }
        return LinkInfo(name: name, kind: kind, mac: addrString(rtnl_link_get_addr(l)), mtu: Int(rtnl_link_get_mtu(l)),
                        up: rtnl_link_get_flags(l) & UInt32(IFF_UP) != 0, master: masterName, addresses: addrs)
    }

    /// The name of the link's master (one RTM_GETLINK by index, not a dump of every link).
    func masterName(_ l: OpaquePointer) throws -> String? {
        let m = rtnl_link_get_master(l)
        guard m > 0 else { return nil }
        var ml: OpaquePointer?
        let r = rtnl_link_get_kernel(sock, m, nil, &ml)
        if r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV { return nil }
        try Self.check(r, "get link #\(m)")
        defer { rtnl_link_put(ml) }
        return rtnl_link_get_name(ml).map { String(cString: $0) }
    }

    public func link(_ name: String) throws -> LinkInfo? {
        guard let l = try Self.getLink(sock, name, "get link \(name)") else { return nil }
        defer { rtnl_link_put(l) }
        return try Self.info(sock, l, masterName: try masterName(l))
    }

    public func ports(of bridge: String) throws -> [LinkInfo] {
        guard let b = try Self.getLink(sock, bridge, "get link \(bridge)") else { return [] }
        let bidx = rtnl_link_get_ifindex(b)
        rtnl_link_put(b)
        var cache: OpaquePointer?
        try Self.check(rtnl_link_alloc_cache(sock, AF_UNSPEC, &cache), "list links")
        defer { nl_cache_free(cache) }
        var out: [LinkInfo] = []
        var obj = nl_cache_get_first(cache)
        while let o = obj {
            let l = o
            if rtnl_link_get_master(l) == bidx { out.append(try Self.info(sock, l, masterName: bridge)) }
            obj = nl_cache_get_next(o)
        }
        return out
    }

    // MARK: changing

    public func createBridge(name: String, mac: String, mtu: Int) throws {
        let op = "create bridge \(name)"
        guard let l = rtnl_link_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_link_put(l) }
        rtnl_link_set_name(l, name)
        try Self.check(rtnl_link_set_type(l, "bridge"), op)
        let a = try Self.parseAddr(mac, family: Int32(AF_LLC), op)
        defer { nl_addr_put(a) }
        rtnl_link_set_addr(l, a)
        rtnl_link_set_mtu(l, UInt32(mtu))
        try Self.check(rtnl_link_add(sock, l, NLM_F_CREATE | NLM_F_EXCL), op)
    }

    /// Applies `changes` to link `name` on `sock`.
    static func change(_ sock: OpaquePointer, _ name: String, _ op: String, _ fill: (OpaquePointer) throws -> Void) throws {
        guard let orig = try getLink(sock, name, op) else { throw LinkError(.notFound, operation: op, detail: "no such device \(name)") }
        defer { rtnl_link_put(orig) }
        guard let ch = rtnl_link_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_link_put(ch) }
        try fill(ch)
        try check(rtnl_link_change(sock, orig, ch, 0), op)
    }

    public func setLink(_ name: String, mtu: Int?, mac: String?) throws {
        let op = "set link \(name)"
        try Self.change(sock, name, op) { ch in
            if let m = mtu { rtnl_link_set_mtu(ch, UInt32(m)) }
            if let m = mac {
                let a = try Self.parseAddr(m, family: Int32(AF_LLC), op)
                rtnl_link_set_addr(ch, a)
                nl_addr_put(a)
            }
        }
    }

    static func addAddress(_ sock: OpaquePointer, link: String, address: IPAddress, prefixLength: Int) throws {
        let op = "add address \(address)/\(prefixLength) to \(link)"
        guard let l = try getLink(sock, link, op) else { throw LinkError(.notFound, operation: op, detail: "no such device \(link)") }
        let idx = rtnl_link_get_ifindex(l)
        rtnl_link_put(l)
        guard let ra = rtnl_addr_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_addr_put(ra) }
        let fam = address.family == .ipv4 ? AF_INET : AF_INET6
        let a = try parseAddr("\(address)/\(prefixLength)", family: fam, op)
        defer { nl_addr_put(a) }
        rtnl_addr_set_ifindex(ra, idx)
        try check(rtnl_addr_set_local(ra, a), op)
        if address.family == .ipv6 { rtnl_addr_set_flags(ra, UInt32(IFA_F_NODAD)) }
        let r = rtnl_addr_add(sock, ra, 0)
        if r == -NLE_EXIST { return }
        try check(r, op)
    }

    public func addAddress(_ link: String, address: IPAddress, prefixLength: Int) throws {
        try Self.addAddress(sock, link: link, address: address, prefixLength: prefixLength)
    }

    static func setUp(_ sock: OpaquePointer, _ name: String) throws {
        try change(sock, name, "set \(name) up") { rtnl_link_set_flags($0, UInt32(IFF_UP)) }
    }

    public func setUp(_ name: String) throws { try Self.setUp(sock, name) }

    public func deleteLink(_ name: String) throws {
        let op = "delete link \(name)"
        guard let l = rtnl_link_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_link_put(l) }
        rtnl_link_set_name(l, name)
        try Self.check(rtnl_link_delete(sock, l), op)
    }

    /// Opens a netlink socket inside the namespace at `path`, on a dedicated thread that
    /// enters it with setns and exits right after. The socket stays bound to that namespace.
    static func socket(in netns: NetnsRef) throws -> OpaquePointer {
        let box = SocketBox()
        let path = netns.path
        let t = PosixThread {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                box.result = .failure(LinkError(.netns, operation: "open network namespace \(path)", detail: String(cString: strerror(errno))))
                return
            }
            defer { close(fd) }
            if setns(fd, EZLB_CLONE_NEWNET) != 0 {
                box.result = .failure(LinkError(.netns, operation: "enter network namespace \(path)", detail: String(cString: strerror(errno))))
                return
            }
            // This thread now lives in the namespace; it only opens the socket and ends.
            do { box.result = .success(SendablePointer(try openSocket(operation: "open rtnetlink socket in \(path)"))) }
            catch let e as LinkError { box.result = .failure(e) }
            catch { box.result = .failure(LinkError(.other, operation: "enter \(path)", detail: "\(error)")) }
        }
        t.startAndWait()
        switch box.result {
        case .success(let p): return p.pointer
        case .failure(let e): throw e
        case nil: throw LinkError(.netns, operation: "enter network namespace \(path)", detail: "thread did not report")
        }
    }

    public func createVeth(host: String, bridge: String, mtu: Int, netns: NetnsRef, interface c: ContainerInterface) throws {
        // Enter the namespace first: if that fails, nothing is created.
        let ns = try Self.socket(in: netns)
        defer { nl_socket_free(ns) }
        let fd = open(netns.path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw LinkError(.netns, operation: "open network namespace \(netns)", detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        let op = "create veth \(host) on \(bridge) with \(c.ifname) in \(netns)"
        guard let b = try Self.getLink(sock, bridge, op) else { throw LinkError(.notFound, operation: op, detail: "no such device \(bridge)") }
        let bidx = rtnl_link_get_ifindex(b)
        rtnl_link_put(b)
        guard let l = rtnl_link_veth_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_link_put(l) }
        guard let p = rtnl_link_veth_get_peer(l) else { throw LinkError(.other, operation: op, detail: "veth without a peer") }
        defer { rtnl_link_put(p) }
        rtnl_link_set_name(l, host)
        rtnl_link_set_mtu(l, UInt32(mtu))
        rtnl_link_set_master(l, bidx)
        rtnl_link_set_flags(l, UInt32(IFF_UP))
        // The container end is born in its namespace, already named and with its MAC
        // (one request; no move between namespaces, which costs an RCU grace period).
        rtnl_link_set_name(p, c.ifname)
        rtnl_link_set_mtu(p, UInt32(mtu))
        let mac = try Self.parseAddr(c.mac, family: Int32(AF_LLC), op)
        defer { nl_addr_put(mac) }
        rtnl_link_set_addr(p, mac)
        rtnl_link_set_ns_fd(p, fd)
        try Self.check(rtnl_link_add(sock, l, NLM_F_CREATE | NLM_F_EXCL), op)

        // Inside the namespace, through its socket.
        try Self.addAddress(ns, link: c.ifname, address: c.address, prefixLength: c.prefixLength)
        try Self.setUp(ns, c.ifname)
        try Self.setUp(ns, "lo")
        try Self.addRoute(ns, to: nil, via: c.gateway, dev: c.ifname, "in \(netns)")
        for r in c.routes {
            try Self.addRoute(ns, to: (r.destination, r.prefixLength), via: r.gateway, dev: c.ifname, "in \(netns)")
        }
    }

    /// A route to `to` (nil: the default route) via `gw` on `dev`; an equal existing one is fine.
    static func addRoute(_ sock: OpaquePointer, to: (IPAddress, Int)?, via gw: IPAddress, dev: String, _ where_: String) throws {
        let dstText = to.map { "\($0.0)/\($0.1)" } ?? "default"
        let op = "add route \(dstText) via \(gw) dev \(dev) \(where_)"
        guard let l = try getLink(sock, dev, op) else { throw LinkError(.notFound, operation: op, detail: "no such device \(dev)") }
        let idx = rtnl_link_get_ifindex(l)
        rtnl_link_put(l)
        let fam = gw.family == .ipv4 ? AF_INET : AF_INET6
        guard let r = rtnl_route_alloc(), let nh = rtnl_route_nh_alloc() else { throw LinkError(.other, operation: op, detail: "out of memory") }
        defer { rtnl_route_put(r) }
        let dst = try parseAddr(dstText, family: fam, op)
        defer { nl_addr_put(dst) }
        let g = try parseAddr(gw.description, family: fam, op)
        defer { nl_addr_put(g) }
        rtnl_route_set_family(r, UInt8(fam))
        rtnl_route_set_table(r, UInt32(RT_TABLE_MAIN.rawValue))
        rtnl_route_set_scope(r, UInt8(RT_SCOPE_UNIVERSE.rawValue))
        rtnl_route_set_protocol(r, UInt8(RTPROT_STATIC))
        try check(rtnl_route_set_dst(r, dst), op)
        rtnl_route_nh_set_gateway(nh, g)
        rtnl_route_nh_set_ifindex(nh, idx)
        rtnl_route_add_nexthop(r, nh) // the route owns nh now
        let res = rtnl_route_add(sock, r, NLM_F_CREATE | NLM_F_EXCL)
        if res == -NLE_EXIST { return }
        try check(res, op)
    }

    public func containerLink(netns: NetnsRef, ifname: String) throws -> LinkInfo? {
        let ns: OpaquePointer
        do { ns = try Self.socket(in: netns) } catch let e as LinkError where e.kind == .netns { return nil }
        defer { nl_socket_free(ns) }
        guard let l = try Self.getLink(ns, ifname, "get link \(ifname) in \(netns)") else { return nil }
        defer { rtnl_link_put(l) }
        return try Self.info(ns, l, masterName: nil)
    }

    public func hasDefaultRoute(netns: NetnsRef, family: IPFamily) throws -> Bool {
        let ns: OpaquePointer
        do { ns = try Self.socket(in: netns) } catch let e as LinkError where e.kind == .netns { return false }
        defer { nl_socket_free(ns) }
        var cache: OpaquePointer?
        try Self.check(rtnl_route_alloc_cache(ns, family == .ipv4 ? AF_INET : AF_INET6, 0, &cache), "list routes in \(netns)")
        defer { nl_cache_free(cache) }
        var obj = nl_cache_get_first(cache)
        while let r = obj {
            obj = nl_cache_get_next(r)
            if rtnl_route_get_table(r) == UInt32(RT_TABLE_MAIN.rawValue), let dst = rtnl_route_get_dst(r), nl_addr_get_prefixlen(dst) == 0 {
                return true
            }
        }
        return false
    }

    public func setContainerMTU(netns: NetnsRef, ifname: String, mtu: Int) throws {
        let ns = try Self.socket(in: netns)
        defer { nl_socket_free(ns) }
        try Self.change(ns, ifname, "set mtu \(mtu) on \(ifname) in \(netns)") { rtnl_link_set_mtu($0, UInt32(mtu)) }
    }
}

/// A raw pointer handed from the namespace thread back to the caller.
struct SendablePointer: @unchecked Sendable { let pointer: OpaquePointer; init(_ p: OpaquePointer) { pointer = p } }

final class SocketBox: @unchecked Sendable {
    var result: Result<SendablePointer, LinkError>?
}
