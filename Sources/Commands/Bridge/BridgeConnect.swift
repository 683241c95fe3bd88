import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbState

struct BridgeConnect: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect a network namespace to a bridge: veth, address from IPAM, default route via the gateway.",
        discussion: """
        The veth's host end is named from a hash of bridge and owner (ez + 12 hex digits) and joins the \
        bridge; the other end is created inside the namespace as --ifname with a stable MAC and gets the \
        address and the default route; lo is set up. Any failure rolls back everything created so far \
        (veth deleted, address released). Connecting the same owner again changes nothing.
        """
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The namespace: a name under /run/netns, a path, or a PID.", valueName: "name|path|pid"))
    var netns: String

    @Option(help: ArgumentHelp("Who the connection belongs to (container id); one connection per owner and bridge.", valueName: "id"))
    var owner: String

    @Option(help: ArgumentHelp("Interface name inside the namespace.", valueName: "name"))
    var ifname: String = "eth0"

    @Option(help: ArgumentHelp("Ask for this address.", valueName: "ip"))
    var ip: String?

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, name: name, netns: netns, owner: owner, ifname: ifname, ip: ip) }

    struct Args: FastRunnable {
        var options: CommonValues
        var name: String
        var netns: String
        var owner: String
        var ifname: String
        var ip: String?

        func run() throws {
            try Runner.run(options, command: "bridge connect") { log in
                var report = CommandReport(command: "bridge connect", dryRun: options.dryRun)
                let name = try BridgeSession.bridgeName(self.name)
                if let why = BridgeNames.invalidInterfaceName(ifname) { throw Failure.usage("--ifname: '\(ifname)': \(why)") }
                guard let ns = NetnsRef.parse(netns) else { throw Failure.usage("--netns: '\(netns)': expected a name, a path or a PID") }
                do { try IPAM.validateOwner(owner) } catch let e as IPAMError { throw e }
                let want = try ip.map { try IPAMSession.address($0, flag: "--ip") }

                let s = BridgeSession(options, log: log)
                try s.lock()
                var state = try s.readState()
                guard let bi = state.bridges.firstIndex(where: { $0.name == name }) else {
                    throw Failure(.failure, "bridge \(name) was not created by ezlb (run 'ezlb bridge create \(name) --subnet CIDR')")
                }
                let bridge = state.bridges[bi]
                let subnet = try IPAMSession.subnet(bridge.subnet, flag: "bridges.json: \(name).subnet")
                let l = try s.links()
                guard try l.link(name) != nil else {
                    throw Failure(.failure, "bridge \(name) is missing from the kernel; run 'ezlb bridge create \(name) --subnet \(bridge.subnet)' to restore it")
                }
                let hostVeth = BridgeNames.hostVeth(bridge: name, owner: owner)
                let mac = BridgeNames.containerMAC(bridge: name, owner: owner)

                // Already connected and still there: nothing to do.
                if let c = bridge.connections.first(where: { $0.owner == owner }) {
                    if c.netns != ns.path || c.ifname != ifname || (want != nil && IPAddress(c.ip) != want) {
                        throw Failure(.failure, "owner '\(owner)' is already connected to \(name) (\(c.ifname) \(c.ip) in \(c.netns)); disconnect it first")
                    }
                    // Complete means: host end on the bridge and up, container end up with its address
                    // (a run killed half-way leaves less; then it is redone).
                    let cidr = "\(c.ip)/\(subnet.prefixLength)"
                    if let h = try l.link(hostVeth), h.master == name, h.up,
                       let inner = try l.containerLink(netns: ns, ifname: ifname), inner.up, inner.addresses.contains(cidr) {
                        report.extra = ["ip": .string(c.ip), "address": .string("\(c.ip)/\(subnet.prefixLength)"), "gateway": .string(bridge.gateway),
                                        "host_veth": .string(hostVeth), "ifname": .string(ifname), "mac": .string(c.mac)]
                        report.body = "\(c.ip)/\(subnet.prefixLength)"
                        return report
                    }
                    log.notice("connection of '\(owner)' (veth \(hostVeth)) is incomplete or gone; connecting again")
                }

                var ipamState = try s.ipam.read()
                let out: IPAM.Outcome
                do {
                    out = try IPAM.allocate(&ipamState, IPAM.Request(subnet: subnet, owner: owner, ip: want, now: IPAMSession.now()))
                } catch let e as IPAMError { throw e }
                let addr = out.allocation.ip
                let conn = BridgeState.Connection(owner: owner, netns: ns.path, ifname: ifname, hostVeth: hostVeth, ip: addr.description, mac: mac)
                let cidr = "\(addr)/\(subnet.prefixLength)"
                report.extra = ["ip": .string(addr.description), "address": .string(cidr), "gateway": .string(bridge.gateway),
                                "host_veth": .string(hostVeth), "ifname": .string(ifname), "mac": .string(mac)]
                report.actions.append(BridgeSession.action("+ veth \(hostVeth) -> \(ifname) \(cidr) in \(ns) owner \(owner)",
                    ["action": "add", "object": "veth", "bridge": .string(name), "owner": .string(owner), "name": .string(hostVeth),
                     "netns": .string(ns.path), "ifname": .string(ifname), "ip": .string(addr.description), "mac": .string(mac)]))
                if options.dryRun { return report }

                // Intent first (address and connection), so a crash leaves nothing unowned.
                var st = state
                st.bridges[bi].connections.removeAll { $0.owner == owner }
                st.bridges[bi].connections.append(conn)
                st.bridges[bi].connections.sort { $0.owner < $1.owner }
                // One directory fsync (in writeState) makes both renames durable.
                if out.created { try s.ipam.write(ipamState, syncDirectory: false) }
                try s.writeState(st)

                var made = false
                do {
                    // A leftover from an interrupted run would make the create fail: clear it.
                    if try l.link(hostVeth) != nil { try l.deleteLink(hostVeth) }
                    made = true
                    try l.createVeth(host: hostVeth, bridge: name, mtu: bridge.mtu, netns: ns, interface: ContainerInterface(
                        ifname: ifname, mac: mac, address: addr, prefixLength: subnet.prefixLength,
                        gateway: IPAddress(bridge.gateway)!, mtu: bridge.mtu))
                    try s.commitFake()
                } catch let e as LinkError {
                    // Roll back: veth (its peer goes with it), address, record.
                    if made, (try? l.link(hostVeth)) != nil { try? l.deleteLink(hostVeth) }
                    try? s.commitFake()
                    var ipamBack = ipamState
                    _ = try? IPAM.release(&ipamBack, subnet: subnet, ip: addr, owner: owner)
                    try? s.ipam.write(ipamBack)
                    state.bridges[bi].connections.removeAll { $0.owner == owner }
                    try? s.writeState(state)
                    throw Failure(.failure, "\(e.description) (rolled back: veth \(hostVeth) deleted, \(addr) released)")
                }
                return report
            }
        }
    }
}
