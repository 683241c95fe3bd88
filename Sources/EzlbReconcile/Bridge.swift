import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbState
import Kernel
import Logging

/// `bridge create|delete|connect|disconnect|list`: Linux bridges for containers, the veths
/// that connect network namespaces to them, their addresses (from ipam.json) and the
/// bridges' MASQUERADE chains. Bridges and connections ezlb made are recorded in
/// bridges.json (intent first); only those are ever changed or deleted. Every run holds
/// `bridges.lock`, then `ipam.lock` (always in this order).
public final class BridgeReconciler {
    public let ctx: ReconcileContext
    private let ipam: IPAMReconciler
    private var locks: [FileLock] = []
    private var xtBackend: XTBackend?
    var log: Logger { ctx.log }

    public init(_ ctx: ReconcileContext) {
        self.ctx = ctx
        ipam = IPAMReconciler(ctx)
    }

    /// Takes `bridges.lock`, then `ipam.lock`, once: held until the reconciler goes away, so
    /// several operations of one run (the CNI plugin's) happen under one hold.
    public func lock() throws {
        guard locks.isEmpty else { return }
        locks.append(try ctx.lock("bridges"))
        locks.append(try ipam.lock())
    }

    /// The link backend (one netlink socket per run: `Backends` opens it once).
    private func links() throws -> BridgeBackend { try ctx.backends.bridge() }

    /// The x_tables backend, opened once (and with it the xtables lock). A run that will
    /// change a MASQUERADE chain opens it before its first change: a busy lock then stops the
    /// run before anything was done (exit 75), not half-way.
    private func xtables() throws -> XTBackend {
        if let x = xtBackend { return x }
        let x = try ctx.backends.xtables()
        xtBackend = x
        return x
    }

    private func readState() throws -> BridgeState { try ctx.stateDir.load(BridgeState.self) ?? BridgeState() }
    private func writeState(_ s: BridgeState) throws { try ctx.stateDir.store(BridgeState(bridges: s.bridges)) }

    /// The bridges ezlb created, with their connections.
    public func list() throws -> BridgeState { try readState() }

    /// `bridge create`: the bridge (stable MAC), the gateway address, up, and MASQUERADE for
    /// the subnet unless `masquerade` is false. Idempotent; repairs a bridge changed by hand.
    /// `cni`: the CNI network creating it (its last DEL deletes it again); nil from the CLI,
    /// which makes a bridge permanent.
    public func create(name: String, subnet net: IPSubnet, mtu: Int, masquerade: Bool, cni: String? = nil) throws -> CommandReport {
        var report = CommandReport(command: "bridge create", dryRun: ctx.dryRun)
        guard let gw = SubnetLayout(net).gatewayAddress else {
            throw Failure.usage("--subnet: '\(net)': a /\(net.prefixLength) has no room for a gateway and containers")
        }
        try lock()
        let state = try readState()
        let ipamState = try ipam.read(connected: ipam.connections(state))
        let fw: Firewall? = masquerade ? (ctx.firewall?.fixed ?? FirewallDetection.detect(ctx.backends).firewall) : nil
        let want = BridgeState.Bridge(name: name, subnet: net.description, gateway: gw.description, mtu: mtu,
                                      mac: BridgeNames.bridgeMAC(name), masquerade: masquerade, firewall: fw?.rawValue, cni: cni)
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
        let l = try links()
        if fw == .iptables || existing.flatMap(Self.natChainID) != nil { _ = try xtables() }
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
        if !ctx.dryRun && existing != record {
            var s = state
            s.bridges.removeAll { $0.name == name }
            s.bridges.append(record)
            try writeState(s)
        }
        let cidr = "\(gw)/\(net.prefixLength)"
        var created = false
        do {
            if let k = link {
                if k.mtu != mtu || k.mac?.lowercased() != record.mac {
                    if !ctx.dryRun { try l.setLink(name, mtu: k.mtu != mtu ? mtu : nil, mac: k.mac?.lowercased() != record.mac ? record.mac : nil) }
                    report.add(FieldAction("~ bridge \(name) mtu \(k.mtu) -> \(mtu) mac \(k.mac ?? "-") -> \(record.mac)",
                                           ["action": "update", "object": "bridge", "name": .string(name)]))
                }
            } else {
                if !ctx.dryRun { try l.createBridge(name: name, mac: record.mac, mtu: mtu); created = true }
                report.add(FieldAction("+ bridge \(name) \(net) mac \(record.mac) mtu \(mtu)",
                                       ["action": "add", "object": "bridge", "name": .string(name), "subnet": .string(net.description),
                                        "mac": .string(record.mac), "mtu": .int(mtu)]))
            }
            if !(link?.addresses.contains(cidr) ?? false) {
                if !ctx.dryRun { try l.addAddress(name, address: gw, prefixLength: net.prefixLength) }
                report.add(FieldAction("+ address \(cidr) on \(name)", ["action": "add", "object": "address", "link": .string(name), "address": .string(cidr)]))
            }
            if !(link?.up ?? false) {
                if !ctx.dryRun { try l.setUp(name) }
                report.add(FieldAction("+ link \(name) up", ["action": "update", "object": "link", "link": .string(name), "up": true]))
            }
            // Connected containers follow the bridge's MTU (both ends of each veth), only where
            // the host end is still ours on this bridge (a namespace path may have been reused
            // by another container since); one that fails is a warning, not the end of create.
            for c in record.connections {
                do {
                    guard let host = try l.link(c.hostVeth), host.master == name else { continue }
                    let inner = try l.containerLink(netns: NetnsRef(path: c.netns), ifname: c.ifname)
                    guard host.mtu != mtu || (inner.map { $0.mtu != mtu } ?? false) else { continue }
                    if !ctx.dryRun {
                        if host.mtu != mtu { try l.setLink(c.hostVeth, mtu: mtu, mac: nil) }
                        if let i = inner, i.mtu != mtu { try l.setContainerMTU(netns: NetnsRef(path: c.netns), ifname: c.ifname, mtu: mtu) }
                    }
                    report.add(FieldAction("~ veth \(c.hostVeth) (\(c.owner) \(c.ifname) in \(c.netns)) mtu \(host.mtu) -> \(mtu)",
                                           ["action": "update", "object": "veth", "bridge": .string(name), "owner": .string(c.owner),
                                            "name": .string(c.hostVeth), "mtu": .int(mtu)]))
                } catch {
                    report.warnings.append("bridge \(name): mtu of \(c.owner)'s veth \(c.hostVeth) not changed: \(error)")
                }
            }
        } catch {
            // Roll back this run's bridge (and the intent record of a new one).
            if created { try? l.deleteLink(name) }
            if existing == nil, !ctx.dryRun { try? writeState(state) }
            throw error
        }
        // MASQUERADE: on nftables the bridges' table with this bridge as recorded now; on iptables
        // this bridge's chain wanted or not; other bridges' rules untouched either way.
        if record.firewall == Firewall.nftables.rawValue || existing?.firewall == Firewall.nftables.rawValue {
            var s = state
            s.bridges.removeAll { $0.name == name }
            s.bridges.append(record)
            try syncNFTMasquerade(s.bridges, report: &report)
        }
        try syncMasquerade(desired: record.masquerade ? [record] : [], owned: existing.flatMap(Self.natChainID).map { [$0] } ?? [],
                           report: &report)
        report.extra = ["bridge": .string(name), "gateway": .string(gw.description), "subnet": .string(net.description)]
        report.summary = report.actions.isEmpty ? "no changes" : nil
        return report
    }

    /// `bridge delete`: its connections (with `force`), the link, its MASQUERADE chain and the
    /// subnet's addresses. A bridge ezlb does not know changes nothing.
    public func delete(name: String, force: Bool) throws -> CommandReport {
        var report = CommandReport(command: "bridge delete", dryRun: ctx.dryRun)
        try lock()
        var state = try readState()
        guard let bi = state.bridges.firstIndex(where: { $0.name == name }) else {
            report.summary = "no changes"
            return report
        }
        let b = state.bridges[bi]
        if !b.connections.isEmpty && !force {
            throw Failure(.failure, "bridge \(name) has \(b.connections.count) connected containers (\(b.connections.map(\.owner).joined(separator: ", "))); disconnect them or pass --force")
        }
        let subnet = try Self.subnet(of: b)
        if Self.natChainID(b) != nil { _ = try xtables() }
        var ipamState = try ipam.read(connected: ipam.connections(state))
        for c in b.connections { try disconnect(b, c, subnet: subnet, ipamState: &ipamState, report: &report) }
        let l = try links()
        if let k = try l.link(name), k.kind == "bridge" {
            if !ctx.dryRun { try l.deleteLink(name) }
            report.add(FieldAction("- bridge \(name) \(b.subnet)", ["action": "delete", "object": "bridge", "name": .string(name)]))
        }
        if let id = Self.natChainID(b) { try syncMasquerade(desired: [], owned: [id], report: &report) }
        if b.firewall == Firewall.nftables.rawValue { try syncNFTMasquerade(state.bridges.filter { $0.name != name }, report: &report) }
        for a in IPAM.purge(&ipamState, subnet: subnet) {
            report.add(FieldAction("- address \(a.ip)/\(subnet.prefixLength) owner \(a.owner ?? "-")",
                                   ["action": "release", "object": "address", "ip": .string(a.ip.description)]))
        }
        if !ctx.dryRun {
            try ipam.write(ipamState)
            state.bridges.remove(at: bi)
            try writeState(state)
        }
        return report
    }

    /// `bridge connect`: a veth whose host end joins the bridge and whose other end is
    /// `ifname` inside `netns`, with an address from IPAM and the default route via the
    /// gateway. Connecting an owner again changes nothing; a connection a killed run left
    /// half-made is made again. Any failure rolls back what was created (veth, address, record).
    /// `range`, `reserved`: where a new address may come from (CNI's rangeStart/rangeEnd and
    /// reservations); `routes`: routes besides the default one.
    public func connect(name: String, netns ns: NetnsRef, owner: String, ifname: String, ip want: IPAddress?,
                        range: IPRange? = nil, reserved: [IPRange] = [], routes: [ContainerRoute] = []) throws -> CommandReport {
        var report = CommandReport(command: "bridge connect", dryRun: ctx.dryRun)
        try IPAM.validateOwner(owner)
        try lock()
        var state = try readState()
        guard let bi = state.bridges.firstIndex(where: { $0.name == name }) else {
            throw Failure(.failure, "bridge \(name) was not created by ezlb (run 'ezlb bridge create \(name) --subnet CIDR')")
        }
        let bridge = state.bridges[bi]
        let subnet = try Self.subnet(of: bridge)
        let l = try links()
        guard try l.link(name) != nil else {
            throw Failure(.failure, "bridge \(name) is missing from the kernel; run 'ezlb bridge create \(name) --subnet \(bridge.subnet)' to restore it")
        }
        let hostVeth = BridgeNames.hostVeth(bridge: name, owner: owner)
        let mac = BridgeNames.containerMAC(bridge: name, owner: owner)
        func describe(_ ip: String) -> [String: JSONValue] {
            ["ip": .string(ip), "address": .string("\(ip)/\(subnet.prefixLength)"), "gateway": .string(bridge.gateway),
             "host_veth": .string(hostVeth), "ifname": .string(ifname), "mac": .string(mac)]
        }

        // Already connected and still there: nothing to do.
        if let c = bridge.connections.first(where: { $0.owner == owner }) {
            if c.netns != ns.path || c.ifname != ifname || (want != nil && IPAddress(c.ip) != want) {
                throw Failure(.failure, "owner '\(owner)' is already connected to \(name) (\(c.ifname) \(c.ip) in \(c.netns)); disconnect it first")
            }
            // Complete means: host end on the bridge and up, container end up with its address,
            // both ends at the bridge's MTU, and a default route in the namespace (ours, or one
            // it had before, which createVeth leaves alone). A run killed half-way leaves less;
            // then it is redone.
            if let h = try l.link(hostVeth), h.master == name, h.up, h.mtu == bridge.mtu,
               let inner = try l.containerLink(netns: ns, ifname: ifname), inner.up, inner.mtu == bridge.mtu,
               inner.addresses.contains("\(c.ip)/\(subnet.prefixLength)"), try l.hasDefaultRoute(netns: ns, family: subnet.family) {
                report.extra = describe(c.ip)
                report.body = "\(c.ip)/\(subnet.prefixLength)"
                return report
            }
            log.notice("connection of '\(owner)' (veth \(hostVeth)) is incomplete or gone; connecting again")
        }

        var ipamState = try ipam.read(connected: ipam.connections(state))
        let out = try IPAM.allocate(&ipamState, IPAM.Request(subnet: subnet, owner: owner, ip: want, range: range, reserved: reserved,
                                                            now: IPAMReconciler.now()))
        let addr = out.allocation.ip
        let cidr = "\(addr)/\(subnet.prefixLength)"
        report.extra = describe(addr.description)
        report.add(FieldAction("+ veth \(hostVeth) -> \(ifname) \(cidr) in \(ns) owner \(owner)",
                               ["action": "add", "object": "veth", "bridge": .string(name), "owner": .string(owner), "name": .string(hostVeth),
                                "netns": .string(ns.path), "ifname": .string(ifname), "ip": .string(addr.description), "mac": .string(mac)]))
        if ctx.dryRun { return report }

        // Intent first (address and connection), so a crash leaves nothing unowned. One
        // directory fsync (writeState's) makes both renames durable.
        var st = state
        st.bridges[bi].connections.removeAll { $0.owner == owner }
        st.bridges[bi].connections.append(BridgeState.Connection(owner: owner, netns: ns.path, ifname: ifname, hostVeth: hostVeth,
                                                                 ip: addr.description, mac: mac))
        st.bridges[bi].connections.sort { $0.owner < $1.owner }
        if out.created { try ipam.write(ipamState, syncDirectory: false) }
        try writeState(st)

        var made = false
        do {
            // A leftover from an interrupted run would make the create fail: clear it.
            if try l.link(hostVeth) != nil { try l.deleteLink(hostVeth) }
            made = true
            try l.createVeth(host: hostVeth, bridge: name, mtu: bridge.mtu, netns: ns, interface: ContainerInterface(
                ifname: ifname, mac: mac, address: addr, prefixLength: subnet.prefixLength,
                gateway: IPAddress(bridge.gateway) ?? addr, mtu: bridge.mtu, routes: routes))
        } catch {
            // Roll back: veth (its peer goes with it), address, record.
            if made, (try? l.link(hostVeth)) != nil { try? l.deleteLink(hostVeth) }
            var back = ipamState
            _ = try? IPAM.release(&back, subnet: subnet, ip: addr, owner: owner)
            try? ipam.write(back)
            state.bridges[bi].connections.removeAll { $0.owner == owner }
            try? writeState(state)
            // A namespace that cannot be entered keeps its kind (the CNI plugin's "unknown container").
            if let e = error as? LinkError, e.kind == .netns {
                throw LinkError(.netns, operation: e.operation,
                                detail: [e.detail, "rolled back: veth \(hostVeth) deleted, \(addr) released"].compactMap { $0 }.joined(separator: "; "))
            }
            throw Failure((error as? EzlbError)?.exitStatus ?? .failure,
                          "\(error) (rolled back: veth \(hostVeth) deleted, \(addr) released)")
        }
        return report
    }

    /// `bridge disconnect`: the owner's veth (if still there) and its address. Idempotent.
    public func disconnect(name: String, owner: String) throws -> CommandReport {
        var report = CommandReport(command: "bridge disconnect", dryRun: ctx.dryRun)
        try IPAM.validateOwner(owner)
        try lock()
        var state = try readState()
        guard let bi = state.bridges.firstIndex(where: { $0.name == name }) else {
            report.summary = "no changes"
            return report
        }
        var ipamState = try ipam.read(connected: ipam.connections(state))
        guard let c = state.bridges[bi].connections.first(where: { $0.owner == owner }) else {
            // No record (a connect killed between its ipam.json and bridges.json writes, or a
            // bridges.json restored from a backup): what the owner still holds on this bridge
            // goes, its address and its veth (the name is derived from bridge and owner).
            let subnet = try Self.subnet(of: state.bridges[bi])
            let orphan = BridgeState.Connection(owner: owner, netns: "", ifname: "", hostVeth: BridgeNames.hostVeth(bridge: name, owner: owner),
                                                ip: ipamState.subnets.first { $0.subnet == subnet }?.allocations.first { $0.owner == owner }?.ip.description ?? "",
                                                mac: "")
            try disconnect(state.bridges[bi], orphan, subnet: subnet, ipamState: &ipamState, report: &report)
            if !ctx.dryRun && !report.actions.isEmpty { try ipam.write(ipamState) }
            report.summary = report.actions.isEmpty ? "no changes" : nil
            return report
        }
        try disconnect(state.bridges[bi], c, subnet: try Self.subnet(of: state.bridges[bi]), ipamState: &ipamState, report: &report)
        if !ctx.dryRun {
            try ipam.write(ipamState, syncDirectory: false) // writeState's directory fsync covers it
            state.bridges[bi].connections.removeAll { $0.owner == owner }
            try writeState(state)
        }
        return report
    }

    /// Removes one connection: the veth (if still there), then the address.
    private func disconnect(_ b: BridgeState.Bridge, _ c: BridgeState.Connection, subnet: IPSubnet, ipamState: inout IPAMState,
                            report: inout CommandReport) throws {
        let l = try links()
        // A recorded connection's veth is ours wherever it is; without a record (c.netns ""),
        // only a link of the derived name that is a port of this bridge.
        if let k = try l.link(c.hostVeth), !c.netns.isEmpty || k.master == b.name {
            if !ctx.dryRun { try l.deleteLink(c.hostVeth) }
            report.add(FieldAction("- veth \(c.hostVeth) (\(c.owner) \(c.ifname) in \(c.netns))",
                                   ["action": "delete", "object": "veth", "bridge": .string(b.name), "owner": .string(c.owner), "name": .string(c.hostVeth)]))
        }
        for a in (try? IPAM.release(&ipamState, subnet: subnet, ip: IPAddress(c.ip), owner: c.owner)) ?? []
            + ((try? IPAM.release(&ipamState, subnet: subnet, ip: nil, owner: c.owner)) ?? []) {
            report.add(FieldAction("- address \(a.ip)/\(subnet.prefixLength) owner \(c.owner)",
                                   ["action": "release", "object": "address", "ip": .string(a.ip.description), "owner": .string(c.owner)]))
        }
    }

    static func subnet(of b: BridgeState.Bridge) throws -> IPSubnet {
        guard case .success(let s) = IPSubnet.parse(b.subnet) else {
            throw StateError.corrupted(path: BridgeState.fileName, detail: "bridges.\(b.name).subnet: '\(b.subnet)' is not a subnet",
                                       recovery: BridgeState.recovery)
        }
        return s
    }

    /// The nat chain of a bridge: everything from the subnet that leaves through another
    /// interface is masqueraded (`-s SUBNET ! -o NAME -j MASQUERADE`); traffic between
    /// containers on the bridge keeps its addresses.
    static func natChain(_ b: BridgeState.Bridge) -> ManagedChain? {
        guard b.masquerade, b.firewall != Firewall.nftables.rawValue, case .success(let s) = IPSubnet.parse(b.subnet) else { return nil }
        let rules = [XTRule(source: XTPrefix(s.networkAddress, length: s.prefixLength),
                            outInterface: XTInterface(b.name, invert: true), target: .masquerade)]
        return ManagedChain(ref: XTTableRef(s.family, .nat), name: BridgeNames.natChain(b.name), hook: "POSTROUTING",
                            position: .append, rules: rules)
    }

    static func natChainID(_ b: BridgeState.Bridge) -> ManagedChainID? { natChain(b)?.id }

    /// Makes `table inet ezlb-bridges` hold exactly the MASQUERADE rules of the bridges that
    /// masquerade through nftables (BridgeNFT; the whole table is ezlb's, rewritten in one
    /// transaction when it differs, deleted when no bridge needs it).
    private func syncNFTMasquerade(_ bridges: [BridgeState.Bridge], report: inout CommandReport) throws {
        let want = bridges.filter { $0.masquerade && $0.firewall == Firewall.nftables.rawValue }.compactMap { b -> (name: String, network: IPAddress, prefixLength: Int)? in
            guard case .success(let s) = IPSubnet.parse(b.subnet) else { return nil }
            return (b.name, s.networkAddress, s.prefixLength)
        }
        let backend = try ctx.backends.nftables()
        let desired = BridgeNFT.table(want)
        let current = try backend.read(BridgeNFT.family, BridgeNFT.tableName)
        let plan = NFTPlanner.plan(desired: desired, current: current, describe: { _, k, _ in hexBytes(k) })
        guard plan.needsCommit else { return }
        if !ctx.dryRun { try backend.commit(BridgeNFT.family, BridgeNFT.tableName, plan.ops) }
        // Reported per bridge: the rules by their comments.
        func names(_ t: NFTTable?) -> Set<String> {
            Set((t?.chains ?? []).flatMap(\.rules).map(\.comment).filter { $0.hasPrefix("ezlb: bridge ") }.map { String($0.dropFirst(13)) })
        }
        let had = names(current), has = names(desired)
        var any = false
        for b in want where !had.contains(b.name) {
            any = true
            report.add(FieldAction("+ nft masquerade \(b.network)/\(b.prefixLength) leaving other than \(b.name) (table inet \(BridgeNFT.tableName))",
                                   ["action": "add", "object": "masquerade", "bridge": .string(b.name), "firewall": "nftables"]))
        }
        for n in had.subtracting(has).sorted() {
            any = true
            report.add(FieldAction("- nft masquerade of \(n) (table inet \(BridgeNFT.tableName))",
                                   ["action": "delete", "object": "masquerade", "bridge": .string(n), "firewall": "nftables"]))
        }
        if !any {
            report.add(FieldAction("~ nft table inet \(BridgeNFT.tableName) repaired", ["action": "update", "object": "masquerade", "firewall": "nftables"]))
        }
    }

    /// Makes the nat chains match `desired` bridges and removes `owned` chains no longer
    /// wanted (the managed-chain reconcile FullNAT uses; ownership is bridges.json's).
    private func syncMasquerade(desired: [BridgeState.Bridge], owned: [ManagedChainID], report: inout CommandReport) throws {
        let want = desired.compactMap(Self.natChain)
        guard !want.isEmpty || !owned.isEmpty else { return }
        let chains = ManagedChains(backend: try xtables(), dryRun: ctx.dryRun, log: log)
        var tables = try chains.plan(desired: want, owned: owned)
        try chains.commit(&tables, digests: false)
        if let e = tables.first(where: { $0.error != nil })?.error { throw Failure(.failure, e) }
        ManagedChains.record(tables, into: &report)
    }
}
