import EzlbConfig
import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbState
import Kernel
import Logging

/// ezlb as a CNI plugin: the spec's ADD, DEL, CHECK, GC and STATUS on the bridge and IPAM
/// reconcilers (the same state files, locks and crash guarantees as `bridge connect` and
/// `ipam allocate`), as the main plugin (`type: ezlb`: bridge, veth, address, routes,
/// MASQUERADE) or as the IPAM plugin of another one (`ipam.type: ezlb`: addresses only).
/// An attachment is owned by `cni:<network>:<container id>:<ifname>`.
public final class CNIPlugin {
    public let request: CNIRequest
    public let network: CNINetwork
    let ctx: ReconcileContext

    public init(_ request: CNIRequest, network: CNINetwork, log: Logger) {
        self.request = request
        self.network = network
        var c = ReconcileContext(stateDir: network.stateDir, backend: BackendKind(rawValue: network.backend) ?? .kernel,
                                 configPath: "", log: log)
        c.firewall = network.firewall
        ctx = c
    }

    /// Runs the request: the result to print (nil: none, DEL/GC/STATUS), or a CNIError.
    public func run() throws(CNIError) -> JSONValue? {
        do {
            switch request.command {
            case .add: return network.isMain ? try add() : try ipamAdd()
            case .del:
                if network.isMain { try del() } else { try ipamDel() }
                return nil
            case .check:
                guard CNIVersion.atLeast(network.cniVersion, "0.4.0") else {
                    throw CNIError(.incompatibleVersion, "CHECK needs cniVersion 0.4.0 or later (the config says \(network.cniVersion))")
                }
                guard let prev = network.prevResult else {
                    throw CNIError(.invalidConfig, "network config: prevResult: missing (CHECK compares the attachment with it)")
                }
                if network.isMain { try check(prev) } else { try ipamCheck(prev) }
                return nil
            case .gc:
                guard CNIVersion.atLeast(network.cniVersion, "1.1.0") else {
                    throw CNIError(.incompatibleVersion, "GC needs cniVersion 1.1.0 (the config says \(network.cniVersion))")
                }
                try gc()
                return nil
            case .status:
                guard CNIVersion.atLeast(network.cniVersion, "1.1.0") else {
                    throw CNIError(.incompatibleVersion, "STATUS needs cniVersion 1.1.0 (the config says \(network.cniVersion))")
                }
                try status()
                return nil
            case .version:
                return nil   // answered before a network is parsed (CNIEntry)
            }
        } catch let e as CNIError {
            throw e
        } catch {
            throw Self.cniError(error)
        }
    }

    /// ezlb's errors as CNI errors: a busy lock is the spec's "try again later", an exhausted
    /// range and other failures are ezlb's own codes; the message is ezlb's one line.
    static func cniError(_ error: Error) -> CNIError {
        let text = "\(error)"
        switch (error as? EzlbError)?.exitStatus {
        case .busy?: return CNIError(.tryAgainLater, "another ezlb run holds the lock", details: text)
        case .unavailable?: return CNIError(.addressesExhausted, "no free address", details: text)
        case .config?: return CNIError(.ioFailure, "a state file cannot be used", details: text)
        case .usage?: return CNIError(.invalidConfig, "invalid request", details: text)
        default: return CNIError(.failed, "ezlb failed", details: text)
        }
    }

    var owner: String { request.owner }

    /// ezlb's record of bridge `name`, if it has one.
    func record(_ bridges: BridgeReconciler, _ name: String) throws -> BridgeState.Bridge? {
        try bridges.list().bridges.first { $0.name == name }
    }

    /// The address asked for: runtimeConfig.ips (the `ips` capability) or CNI_ARGS IP=. One
    /// network has one subnet: more addresses, or one outside it, are refused (as host-local does).
    func requestedIP() throws(CNIError) -> IPAddress? {
        let asked = network.requestedIPs + (request.args["IP"].flatMap { IPAddress($0) }.map { [$0] } ?? [])
        guard let ip = asked.first else { return nil }
        guard asked.count == 1, network.subnet.contains(ip) else {
            throw CNIError(.invalidConfig, "requested addresses \(asked.map(\.description).joined(separator: ", ")): ezlb gives one address of \(network.subnet) per network")
        }
        return ip
    }

    var extraRoutes: [ContainerRoute] {
        network.routes.compactMap { r in
            guard r.destination.prefixLength != 0 else { return nil } // the default route is always there
            return ContainerRoute(destination: r.destination.networkAddress, prefixLength: r.destination.prefixLength,
                                  gateway: r.gateway ?? network.gateway)
        }
    }

    // MARK: main plugin

    func add() throws -> JSONValue {
        let bridges = BridgeReconciler(ctx)
        try bridges.lock()
        let existing = try record(bridges, network.bridge)
        if let b = existing, b.subnet != network.subnet.description {
            throw CNIError(.invalidConfig, "network config: bridge: '\(network.bridge)': ezlb's bridge of that name has subnet \(b.subnet), not \(network.subnet)")
        }
        // Other attachments use the bridge as it is: a config that wants it otherwise is refused,
        // not applied under them (`ezlb bridge create` changes a bridge's MTU or MASQUERADE).
        if let b = existing, b.mtu != network.mtu || b.masquerade != network.ipMasq {
            throw CNIError(.invalidConfig, "network config: bridge: '\(network.bridge)': ezlb's bridge has mtu \(b.mtu), ipMasq \(b.masquerade); the config says mtu \(network.mtu), ipMasq \(network.ipMasq)")
        }
        let ip = try requestedIP()
        // Create it on first use, or repair it (gone from the kernel, down); a bridge of
        // `bridge create` stays the CLI's.
        let links = try ctx.backends.bridge()
        let link = try links.link(network.bridge)
        if existing == nil || link == nil || link?.up == false || link?.mtu != network.mtu {
            _ = try bridges.create(name: network.bridge, subnet: network.subnet, mtu: network.mtu, masquerade: network.ipMasq,
                                   cni: existing == nil ? network.name : existing?.cni)
        }
        let report: CommandReport
        do {
            report = try bridges.connect(name: network.bridge, netns: NetnsRef(path: request.netns), owner: owner, ifname: request.ifname,
                                         ip: ip, range: network.range, reserved: network.reserved, routes: extraRoutes)
        } catch {
            // connect rolled back its own part; a bridge this ADD created goes too (no DEL may
            // follow: after code 3 the runtime need not clean up).
            if existing == nil { try? deleteIfUnused(bridges, network.bridge) }
            if let e = error as? LinkError, e.kind == .netns {
                throw CNIError(.unknownContainer, "the container's network namespace cannot be used", details: "\(e)")
            }
            throw error
        }
        guard case .string(let ip)? = report.extra["ip"], let addr = IPAddress(ip),
              case .string(let hostVeth)? = report.extra["host_veth"], case .string(let mac)? = report.extra["mac"] else {
            throw CNIError(.failed, "ezlb failed", details: "bridge connect returned no address")
        }
        let hostMAC = try links.link(hostVeth)?.mac
        let interfaces: [JSONValue] = [
            .object(["name": .string(network.bridge), "mac": .string(BridgeNames.bridgeMAC(network.bridge))]),
            .object(["name": .string(hostVeth)].merging(hostMAC.map { ["mac": .string($0)] } ?? [:]) { a, _ in a }),
            .object(["name": .string(request.ifname), "mac": .string(mac), "sandbox": .string(request.netns)]),
        ]
        return CNIResult.render(version: network.cniVersion, prev: network.prevResult, interfaces: interfaces,
                                ip: addr, prefixLength: network.subnet.prefixLength, gateway: network.gateway,
                                interfaceIndex: 2, routes: resultRoutes, dns: network.dns)
    }

    /// What the result's `routes` list: the default route via the gateway, and ipam.routes.
    var resultRoutes: [(IPSubnet, IPAddress?)] {
        var out: [(IPSubnet, IPAddress?)] = []
        let any = network.subnet.family == .ipv4 ? "0.0.0.0/0" : "::/0"
        if network.isMain, let d = CNINetwork.routePrefix(any) { out.append((d, network.gateway)) }
        for r in network.routes where !(network.isMain && r.destination.prefixLength == 0) {
            out.append((r.destination, r.gateway))
        }
        return out
    }

    func del() throws {
        let bridges = BridgeReconciler(ctx)
        try bridges.lock()
        guard let b = try record(bridges, network.bridge) else { return }
        _ = try bridges.disconnect(name: network.bridge, owner: owner)
        try deleteIfUnused(bridges, b.name)
    }

    /// A bridge a CNI network created goes with its last attachment (`podman network rm`
    /// deletes only a `bridge` plugin's bridge); one made by `bridge create` stays.
    func deleteIfUnused(_ bridges: BridgeReconciler, _ name: String) throws {
        guard let b = try record(bridges, name), b.cni != nil, b.connections.isEmpty else { return }
        _ = try bridges.delete(name: name, force: false)
    }

    func check(_ prev: JSONValue) throws {
        let bridges = BridgeReconciler(ctx)
        guard let b = try record(bridges, network.bridge) else {
            throw CNIError(.unknownContainer, "no attachment of \(request.containerID) on \(network.bridge)", details: "bridge \(network.bridge) is not ezlb's")
        }
        guard let c = b.connections.first(where: { $0.owner == owner }) else {
            throw CNIError(.unknownContainer, "no attachment of \(request.containerID) \(request.ifname) on \(network.bridge)")
        }
        let links = try ctx.backends.bridge()
        let cidr = "\(c.ip)/\(network.subnet.prefixLength)"
        var problems: [String] = []
        if let h = try links.link(c.hostVeth) {
            if h.master != b.name { problems.append("veth \(c.hostVeth) is not a port of \(b.name)") }
            if !h.up { problems.append("veth \(c.hostVeth) is down") }
        } else {
            problems.append("veth \(c.hostVeth) is missing")
        }
        if c.netns != request.netns { problems.append("attached in \(c.netns), not \(request.netns)") }
        if let ns = NetnsRef.parse(request.netns), let inner = try links.containerLink(netns: ns, ifname: request.ifname) {
            if !inner.addresses.contains(cidr) { problems.append("\(request.ifname) lacks \(cidr)") }
            if !inner.up { problems.append("\(request.ifname) is down") }
            if try !links.hasDefaultRoute(netns: ns, family: network.subnet.family) { problems.append("no default route") }
        } else {
            problems.append("\(request.ifname) is missing in \(request.netns)")
        }
        if !CNIResult.addresses(prev).contains(cidr) { problems.append("prevResult does not list \(cidr)") }
        if !CNIResult.interfaces(prev).contains(where: { $0.name == request.ifname && $0.sandbox == request.netns }) {
            problems.append("prevResult has no interface \(request.ifname) in \(request.netns)")
        }
        if !problems.isEmpty {
            throw CNIError(.failed, "attachment of \(request.containerID) \(request.ifname) differs", details: problems.joined(separator: "; "))
        }
    }

    /// GC: every attachment of this network that the runtime's list no longer has goes (veth,
    /// address; the bridge with the last one if the network created it), and addresses of the
    /// network no attachment holds (a connect killed between its two writes). An error does not
    /// stop the others (SPEC.md: "remove as many resources as possible"); they are reported together.
    func gc() throws {
        guard let list = network.validAttachments else {
            throw CNIError(.invalidConfig, "network config: cni.dev/valid-attachments: missing (GC removes what it does not list)")
        }
        let valid = Set(list.map { CNIRequest.owner(network: network.name, containerID: $0.0, ifname: $0.1) })
        let prefix = "cni:\(network.name):"
        var errors: [String] = []
        if network.isMain {
            let bridges = BridgeReconciler(ctx)
            try bridges.lock()
            if let b = try record(bridges, network.bridge) {
                // disconnect also releases an address of the owner that no connection records.
                let owners = Set(b.connections.map(\.owner) + ((try? IPAMReconciler(ctx).state())?.subnets
                    .first { $0.subnet == network.subnet }?.allocations.compactMap(\.owner) ?? []))
                for o in owners.sorted() where o.hasPrefix(prefix) && !valid.contains(o) {
                    do { _ = try bridges.disconnect(name: b.name, owner: o) } catch { errors.append("\(o): \(error)") }
                }
                do { try deleteIfUnused(bridges, b.name) } catch { errors.append("bridge \(b.name): \(error)") }
            }
        } else {
            let ipam = IPAMReconciler(ctx)
            for a in try ipam.state().subnets.first(where: { $0.subnet == network.subnet })?.allocations ?? [] {
                guard let o = a.owner, o.hasPrefix(prefix), !valid.contains(o) else { continue }
                do { _ = try ipam.release(subnet: network.subnet, ip: nil, owner: o) } catch { errors.append("\(o): \(error)") }
            }
        }
        if !errors.isEmpty { throw CNIError(.failed, "GC left \(errors.count) attachments", details: errors.joined(separator: "; ")) }
    }

    /// STATUS: ready when the state files can be read (and the kernel's link interface
    /// opened); otherwise the spec's "plugin not available".
    func status() throws {
        do {
            _ = try BridgeReconciler(ctx).list()
            _ = try IPAMReconciler(ctx).state()
            if network.isMain { _ = try ctx.backends.bridge() }
        } catch {
            throw CNIError(.notAvailable, "ezlb cannot serve ADD", details: "\(error)")
        }
    }

    // MARK: IPAM plugin

    func ipamAdd() throws -> JSONValue {
        let ipam = IPAMReconciler(ctx)
        // The configured gateway is never a container's (host-local reserves it too).
        let report = try ipam.allocate(IPAM.Request(subnet: network.subnet, owner: owner, ip: try requestedIP(), range: network.range,
                                                    now: IPAMReconciler.now()), reserved: network.reserved + [IPRange(network.gateway)])
        guard case .string(let ip)? = report.extra["ip"], let addr = IPAddress(ip) else {
            throw CNIError(.failed, "ezlb failed", details: "ipam allocate returned no address")
        }
        return CNIResult.render(version: network.cniVersion, prev: nil, interfaces: [], ip: addr,
                                prefixLength: network.subnet.prefixLength, gateway: network.gateway, interfaceIndex: nil,
                                routes: resultRoutes, dns: network.dns)
    }

    func ipamDel() throws {
        _ = try IPAMReconciler(ctx).release(subnet: network.subnet, ip: nil, owner: owner)
    }

    func ipamCheck(_ prev: JSONValue) throws {
        let st = try IPAMReconciler(ctx).state()
        guard let a = st.subnets.first(where: { $0.subnet == network.subnet })?.allocations.first(where: { $0.owner == owner }) else {
            throw CNIError(.unknownContainer, "no address of \(request.containerID) \(request.ifname) in \(network.subnet)")
        }
        let cidr = "\(a.ip)/\(network.subnet.prefixLength)"
        if !CNIResult.addresses(prev).contains(cidr) {
            throw CNIError(.failed, "address of \(request.containerID) \(request.ifname) differs", details: "prevResult does not list \(cidr)")
        }
    }
}

/// The result JSON in the layout of the request's cniVersion (SPEC.md, "Success"; 0.3.x and
/// 0.4.0 carry `version` on each IP; 0.1.0/0.2.0 have `ip4`/`ip6` objects).
public enum CNIResult {
    public static func render(version: String, prev: JSONValue?, interfaces: [JSONValue], ip: IPAddress, prefixLength: Int,
                              gateway: IPAddress?, interfaceIndex: Int?, routes: [(IPSubnet, IPAddress?)], dns: JSONValue?) -> JSONValue {
        let cidr = "\(ip)/\(prefixLength)"
        func route(_ r: (IPSubnet, IPAddress?)) -> JSONValue {
            var o: [String: JSONValue] = ["dst": .string(r.0.description)]
            if let g = r.1 { o["gw"] = .string(g.description) }
            return .object(o)
        }
        if !CNIVersion.atLeast(version, "0.3.0") {
            var ipo: [String: JSONValue] = ["ip": .string(cidr), "routes": .array(routes.map(route))]
            if let g = gateway { ipo["gateway"] = .string(g.description) }
            return .object(["cniVersion": .string(version), ip.family == .ipv4 ? "ip4" : "ip6": .object(ipo), "dns": dns ?? .object([:])])
        }
        // Chained: this plugin's interfaces, IPs and routes go after the previous plugins'.
        var result: [String: JSONValue] = [:]
        if case .object(let p)? = prev { result = p }
        var ifaces: [JSONValue] = []
        if case .array(let a)? = result["interfaces"] { ifaces = a }
        let base = ifaces.count
        ifaces += interfaces
        var ips: [JSONValue] = []
        if case .array(let a)? = result["ips"] { ips = a }
        var ipo: [String: JSONValue] = ["address": .string(cidr)]
        if let g = gateway { ipo["gateway"] = .string(g.description) }
        if let i = interfaceIndex { ipo["interface"] = .int(base + i) }
        if !CNIVersion.atLeast(version, "1.0.0") { ipo["version"] = .string(ip.family == .ipv4 ? "4" : "6") }
        ips.append(.object(ipo))
        var rts: [JSONValue] = []
        if case .array(let a)? = result["routes"] { rts = a }
        for r in routes.map(route) where !rts.contains(r) { rts.append(r) }
        result["cniVersion"] = .string(version)
        if !ifaces.isEmpty { result["interfaces"] = .array(ifaces) }
        result["ips"] = .array(ips)
        result["routes"] = .array(rts)
        if result["dns"] == nil { result["dns"] = dns ?? .object([:]) }
        return .object(result)
    }

    /// The `name` and `sandbox` of every interface in a result (prevResult).
    public static func interfaces(_ result: JSONValue) -> [(name: String, sandbox: String?)] {
        guard case .object(let o) = result, case .array(let list)? = o["interfaces"] else { return [] }
        return list.compactMap { v in
            guard case .object(let i) = v, case .string(let n)? = i["name"] else { return nil }
            if case .string(let sb)? = i["sandbox"] { return (n, sb) }
            return (n, nil)
        }
    }

    /// The `address` of every IP in a result (prevResult).
    public static func addresses(_ result: JSONValue) -> [String] {
        guard case .object(let o) = result, case .array(let ips)? = o["ips"] else { return [] }
        return ips.compactMap { v in
            guard case .object(let i) = v, case .string(let a)? = i["address"] else { return nil }
            return a
        }
    }
}
