import EzlbCore
import EzlbIPAM
@testable import EzlbPlanner
@testable import EzlbReconcile
import EzlbState
import Kernel
import XCTest

/// FullNAT's managed chains and xfrm in-process on the fake kernel: intent before the first
/// commit, what is owned after a refused commit, make-before-break stops, the fast paths.
final class SNATReconcilerTests: ReconcileTestCase {
    let yaml = """
    services:
      - name: web
        listen: 10.0.0.1:80
        full_nat: true
        snat_ip: 10.0.0.3
        backends: [{address: "192.168.1.10:8080"}, {address: "192.168.1.11:8080"}]
    """

    /// The fake, with one table's commit refused and the ownership on disk noted at each commit.
    final class Refusing: XTBackend {
        let inner: FakeXTBackend
        var refused: XTTableRef?
        var ownershipAtCommit: [SNATOwnership?] = []
        let state: StateDirectory
        init(_ inner: FakeXTBackend, state: StateDirectory) {
            self.inner = inner
            self.state = state
        }
        func read(_ ref: XTTableRef, chains: [String]) throws -> XTTableState { try inner.read(ref, chains: chains) }
        func readAll(_ ref: XTTableRef) throws -> (state: XTTableState, policies: [String: String]) { try inner.readAll(ref) }
        func commit(_ ref: XTTableRef, _ ops: [XTOperation], digest scope: XTDigestScope?) throws -> [UInt8]? {
            ownershipAtCommit.append(try? state.load(SNATOwnership.self))
            if ref == refused { throw XTError(.concurrentChange, operation: "\(ref): iptc_commit") }
            return try inner.commit(ref, ops, digest: scope)
        }
        func readDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? { inner.readDigest(ref, scope: scope) }
        func currentDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? { inner.currentDigest(ref, scope: scope) }
    }

    func testIntentFirstAndARefusedTable() throws {
        let cfg = config(yaml)
        let r = SNATReconciler(context(cfg))
        let desired = SNATRules.chains([FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080")], snatIP: IPAddress("10.0.0.3"))])
        var backend: Refusing? = Refusing(FakeXTBackend(kernel: try kernel()), state: state)
        backend?.refused = XTTableRef(.ipv4, .filter)
        var report = CommandReport(command: "snat sync", dryRun: false)
        var planned: CommandReport? = nil
        let tables = try r.reconcile(desired: desired, owned: [], backend: backend!, report: &report, onPlanned: { planned = $0 })
        let commitsSeen = backend!.ownershipAtCommit
        backend = nil
        XCTAssertEqual(tables.count, 2)
        XCTAssertEqual(commitsSeen.count, 2)
        for o in commitsSeen { XCTAssertEqual(Set(o?.chains ?? []), Set(desired.map(\.id)), "intent on disk before every commit") }
        XCTAssertEqual(planned?.actions.count, report.actions.count, "the planned report had every action")
        XCTAssertTrue(report.failed)
        XCTAssertEqual(report.actions.filter { $0.error != nil }.count, tables[1].plan.changes.count, "the filter table's changes failed")
        XCTAssertEqual(report.extra["commits"], .int(1))
        // Owned after: the nat chain (committed) and, still, the filter chain of the intent.
        XCTAssertEqual(Set(try state.load(SNATOwnership.self)?.chains ?? []), Set(desired.map(\.id)))
        // The next sync repairs the filter table.
        let again = try SNATReconciler(context(cfg)).sync()
        XCTAssertFalse(again.failed)
        XCTAssertEqual(again.extra["commits"], .int(2))
    }

    func testConvergedFastPathOnTheFake() throws {
        let cfg = config(yaml)
        XCTAssertFalse(try SNATReconciler(context(cfg)).sync().fromConvergenceCache)
        let fast = try SNATReconciler(context(cfg)).sync()
        XCTAssertTrue(fast.fromConvergenceCache)
        XCTAssertEqual(fast.extra["commits"], .int(0))
        XCTAssertEqual(fast.summary, "no changes")
        // A health verdict the chains depend on: another key.
        var t = HealthTable()
        let b = ep("192.168.1.11:8080")
        t.records[HealthKey(service: "web", backend: b)] = BackendHealth(service: "web", backend: b, healthy: false, failures: 3)
        try state.store(HealthStateFile(t))
        let unhealthy = try SNATReconciler(context(cfg)).sync()
        XCTAssertFalse(unhealthy.fromConvergenceCache)
        XCTAssertEqual(unhealthy.tally().deleted, 2)
        // Probe times and counters change health.json but not the chains: still fast.
        t.records[HealthKey(service: "web", backend: b)]?.lastProbe = 1_800_000_000
        t.records[HealthKey(service: "web", backend: b)]?.failures = 4
        try state.store(HealthStateFile(t))
        XCTAssertTrue(try SNATReconciler(context(cfg)).sync().fromConvergenceCache)
    }
}

final class XfrmReconcilerTests: ReconcileTestCase {
    /// Refuses one operation; every batch is logged.
    final class Refusing: XfrmBackend {
        let inner: FakeXfrmBackend
        var refuse: (XfrmOperation) -> Bool = { _ in false }
        var batches: [[XfrmOperation]] = []
        init(_ inner: FakeXfrmBackend) { self.inner = inner }
        func dump() throws -> XfrmTables { try inner.dump() }
        func applyBatch(_ ops: [XfrmOperation]) -> [XfrmError?] {
            batches.append(ops)
            return ops.map { op in refuse(op) ? XfrmError(.invalid, operation: op.description, detail: "refused") : (inner.applyBatch([op]).first ?? nil) }
        }
        func commit() throws { try inner.commit() }
        var writes: Int { inner.writes }
        func currentDigest() -> [UInt8]? { inner.currentDigest() }
        var dumpDigest: [UInt8]? { inner.dumpDigest }
    }

    func yaml() throws -> String {
        let key = dir + "/ipsec.key"
        XCTAssertTrue(FileManager.default.createFile(atPath: key, contents: Data(String(repeating: "5a", count: 32).utf8), attributes: [.posixPermissions: 0o600]))
        return """
        ipsec:
          local: 192.168.0.1
          key_file: \(key)
          pods: [10.244.1.0/28]
          peers:
            - {address: 192.168.0.2, pods: [10.244.2.0/28]}
            - {address: 192.168.0.3, pods: [10.244.3.0/28]}
        """
    }

    /// Make-before-break: one batch per phase, and nothing after a refused operation.
    func testARefusalStopsTheLaterPhases() throws {
        let cfg = config(try yaml())
        let r = XfrmReconciler(context(cfg))
        // The plan of a first sync, from an empty kernel.
        let dry = try XfrmReconciler(context(cfg, dryRun: true)).sync()
        XCTAssertEqual(dry.tally().added, 10)
        let plan = XfrmPlan(changes: dry.actions.map { $0.action as! XfrmChange })
        var report = CommandReport(command: "xfrm sync", dryRun: false)
        do {
            let backend = Refusing(FakeXfrmBackend(kernel: try kernel()))
            backend.refuse = { if case .addState(let s) = $0 { return s.id.dst == IPAddress("192.168.0.3") } else { return false } }
            try r.execute(plan, backend: backend, old: nil, new: nil, report: &report)
            XCTAssertEqual(backend.batches.count, 2, "the IN and OUT SA phases; no policy after the refusal")
        }
        XCTAssertTrue(report.actions.filter { $0.error?.hasPrefix("not attempted") == true }.allSatisfy { $0.text.contains("policy") })
        XCTAssertEqual(try FakeXfrmBackend(kernel: try kernel()).dump().policies.count, 0, "no policy points at a missing SA")
    }

    func testConvergedFastPath() throws {
        let cfg = config(try yaml())
        let first = try XfrmReconciler(context(cfg)).sync()
        XCTAssertFalse(first.fromConvergenceCache)
        XCTAssertEqual(first.tally().added, 10)
        let fast = try XfrmReconciler(context(cfg)).sync()
        XCTAssertTrue(fast.fromConvergenceCache)
        XCTAssertEqual(fast.extra["policies"], first.extra["policies"])
        XCTAssertEqual(fast.extra["states"], first.extra["states"])
        XCTAssertEqual(fast.extra["writes"], .int(0))
        // Another tool's policy: the full path (nothing of ours to do), then fast again.
        do {
            let k = try kernel()
            k.model.xfrm.tables.policies.append(XfrmPolicy(dir: .out, selector: XfrmSelector(src: try XfrmPrefix.parse("10.9.0.0/24").get(),
                                                                                            dst: try XfrmPrefix.parse("10.8.0.0/24").get()),
                                                           priority: 5, templates: []))
            k.markDirty()
            try k.save()
        }
        let foreign = try XfrmReconciler(context(cfg)).sync()
        XCTAssertFalse(foreign.fromConvergenceCache)
        XCTAssertFalse(foreign.changed)
        XCTAssertTrue(try XfrmReconciler(context(cfg)).sync().fromConvergenceCache)
    }
}

final class BridgeReconcilerTests: ReconcileTestCase {
    func testAFailedConnectRollsEverythingBack() throws {
        _ = try BridgeReconciler(context("")).create(name: "ezbr0", subnet: try IPSubnet.parse("10.88.0.0/24").get(), mtu: 1500, masquerade: true)
        XCTAssertThrowsError(try BridgeReconciler(context("")).connect(name: "ezbr0", netns: NetnsRef(path: "/run/netns/absent"), owner: "c1",
                                                               ifname: "eth0", ip: nil)) { e in
            XCTAssertEqual((e as? EzlbError)?.exitStatus, .failure)
            XCTAssertTrue("\(e)".contains("rolled back"), "\(e)")
        }
        XCTAssertEqual(try state.load(BridgeState.self)?.bridges.first?.connections, [], "no connection recorded")
        XCTAssertEqual(try state.load(IPAMState.self)?.subnets.first?.allocations ?? [], [], "the address was released")
        XCTAssertNil(try FakeBridge(kernel: try kernel()).link(BridgeNames.hostVeth(bridge: "ezbr0", owner: "c1")), "no veth left")
    }

    /// A run killed after recording its intent (connection and address) left no veth: the
    /// next connect of that owner makes it, with the same address.
    func testAConnectKilledAfterItsIntentIsFinished() throws {
        _ = try BridgeReconciler(context("")).create(name: "ezbr0", subnet: try IPSubnet.parse("10.88.0.0/24").get(), mtu: 1500, masquerade: false)
        do {
            let k = try kernel()
            k.model.net.addNamespace("/run/netns/c1")
            k.markDirty()
            try k.save()
        }
        let first = try BridgeReconciler(context("")).connect(name: "ezbr0", netns: NetnsRef(path: "/run/netns/c1"), owner: "c1", ifname: "eth0", ip: nil)
        let ip = first.extra["ip"]
        let veth = BridgeNames.hostVeth(bridge: "ezbr0", owner: "c1")
        try FakeBridge(kernel: try kernel()).deleteLink(veth) // what a kill before createVeth leaves
        let again = try BridgeReconciler(context("")).connect(name: "ezbr0", netns: NetnsRef(path: "/run/netns/c1"), owner: "c1", ifname: "eth0", ip: nil)
        XCTAssertEqual(again.extra["ip"], ip)
        XCTAssertTrue(again.changed)
        XCTAssertNotNil(try FakeBridge(kernel: try kernel()).link(veth))
        XCTAssertFalse(try BridgeReconciler(context("")).connect(name: "ezbr0", netns: NetnsRef(path: "/run/netns/c1"), owner: "c1", ifname: "eth0", ip: nil).changed)
    }

    func bridgeWithNamespaces(_ names: [String], mtu: Int = 1500) throws -> BridgeReconciler {
        _ = try BridgeReconciler(context("")).create(name: "ezbr0", subnet: try IPSubnet.parse("10.88.0.0/24").get(), mtu: mtu, masquerade: false)
        let k = try kernel()
        for n in names { k.model.net.addNamespace("/run/netns/\(n)") }
        k.markDirty()
        try k.save()
        return BridgeReconciler(context(""))
    }

    func connect(_ owner: String) throws -> CommandReport {
        try BridgeReconciler(context("")).connect(name: "ezbr0", netns: NetnsRef(path: "/run/netns/\(owner)"), owner: owner, ifname: "eth0", ip: nil)
    }

    /// Killed after the address but before the default route: the re-run is not "no
    /// changes" but makes the connection again, route included.
    func testAConnectKilledBeforeItsRouteIsRedone() throws {
        _ = try bridgeWithNamespaces(["c1"])
        let first = try connect("c1")
        do {
            let k = try kernel()
            k.model.net.routes.removeAll { $0.netns == "/run/netns/c1" }
            k.markDirty()
            try k.save()
        }
        let again = try connect("c1")
        XCTAssertTrue(again.changed)
        XCTAssertEqual(again.extra["ip"], first.extra["ip"])
        XCTAssertTrue(try FakeBridge(kernel: try kernel()).hasDefaultRoute(netns: NetnsRef(path: "/run/netns/c1"), family: .ipv4))
        XCTAssertFalse(try connect("c1").changed)
    }

    /// Killed between ipam.json and bridges.json: disconnect still releases the address
    /// (and a re-run of connect would have finished it instead).
    func testADisconnectReleasesWhatOnlyIpamJsonShows() throws {
        _ = try bridgeWithNamespaces(["c1"])
        let bridgesBefore = try XCTUnwrap(state.readRaw(BridgeState.fileName))
        _ = try connect("c1")
        try state.writeRaw(bridgesBefore, to: BridgeState.fileName) // the connection record never made it
        XCTAssertEqual(try state.load(IPAMState.self)?.subnets.first?.allocations.map(\.owner), ["c1"])
        let r = try BridgeReconciler(context("")).disconnect(name: "ezbr0", owner: "c1")
        XCTAssertTrue(r.changed)
        XCTAssertEqual(try state.load(IPAMState.self)?.subnets.first?.allocations ?? [], [])
        XCTAssertNil(try FakeBridge(kernel: try kernel()).link(BridgeNames.hostVeth(bridge: "ezbr0", owner: "c1")))
        XCTAssertFalse(try BridgeReconciler(context("")).disconnect(name: "ezbr0", owner: "c1").changed)
    }

    /// A lost ipam.json must not hand out a connected container's address again.
    func testALostIpamJsonIsRebuiltFromBridgesJson() throws {
        _ = try bridgeWithNamespaces(["c1", "c2"])
        let a = try connect("c1").extra["ip"]
        XCTAssertEqual(unlink(state.file(IPAMState.fileName)), 0)
        let b = try connect("c2").extra["ip"]
        XCTAssertNotNil(a)
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(Set(try state.load(IPAMState.self)?.subnets.first?.allocations.compactMap(\.owner) ?? []), ["c1", "c2"])
        // And plain `ipam allocate` on the bridge's subnet sees them too.
        XCTAssertEqual(unlink(state.file(IPAMState.fileName)), 0)
        let r = try IPAMReconciler(context("")).allocate(IPAM.Request(subnet: try IPSubnet.parse("10.88.0.0/24").get(), owner: "x", now: "2026-12-06T16:00:00Z"), reserved: [])
        XCTAssertFalse([a, b].contains(r.extra["ip"]), "\(r.extra)")
        // A connected container's address is released by disconnect, not by ipam release.
        XCTAssertThrowsError(try IPAMReconciler(context("")).release(subnet: try IPSubnet.parse("10.88.0.0/24").get(), ip: nil, owner: "c1")) {
            XCTAssertTrue("\($0)".contains("ezlb bridge disconnect ezbr0 --owner c1"), "\($0)")
        }
    }

    /// `create` with another MTU changes both ends of connected veths in place.
    func testConnectedVethsFollowTheBridgeMTU() throws {
        _ = try bridgeWithNamespaces(["c1"])
        _ = try connect("c1")
        let r = try BridgeReconciler(context("")).create(name: "ezbr0", subnet: try IPSubnet.parse("10.88.0.0/24").get(), mtu: 1400, masquerade: false)
        XCTAssertTrue(r.actions.contains { $0.action.text.contains("mtu 1500 -> 1400") }, "\(r.actions.map(\.action.text))")
        do {
            let fake = FakeBridge(kernel: try kernel()) // holds the fake kernel's lock until the block ends
            XCTAssertEqual(try fake.link(BridgeNames.hostVeth(bridge: "ezbr0", owner: "c1"))?.mtu, 1400)
            XCTAssertEqual(try fake.containerLink(netns: NetnsRef(path: "/run/netns/c1"), ifname: "eth0")?.mtu, 1400)
        }
        XCTAssertFalse(try connect("c1").changed)
    }
}

/// `snat sync` on the nftables backend, in-process on the fake kernel.
final class SNATNFTReconcilerTests: ReconcileTestCase {
    let yaml = """
    services:
      - name: web
        listen: 10.0.0.1:80
        full_nat: true
        snat_ip: 10.0.0.3
        backends: [{address: "192.168.1.10:8080"}, {address: "192.168.1.11:8080"}]
      - name: marked
        fwmark: 7
        family: ipv4
        full_nat: true
        backends: [{address: "192.168.5.10"}]
    """

    func nftContext(_ cfg: String, dryRun: Bool = false) -> ReconcileContext {
        var c = context(cfg, dryRun: dryRun)
        c.firewall = .nftables
        return c
    }

    func table() throws -> NFTTable? { try kernel().model.nftables.table(.inet, "ezlb") }

    func testFromEmptyConvergedOneBackendAndRemoval() throws {
        let cfg = config(yaml)
        let dry = try SNATReconciler(nftContext(cfg, dryRun: true)).sync()
        XCTAssertTrue(dry.changed)
        XCTAssertNil(try table(), "a dry run writes nothing")
        let r = try SNATReconciler(nftContext(cfg)).sync()
        XCTAssertFalse(r.failed)
        XCTAssertEqual(r.extra["firewall"], .string("nftables"))
        let t = try XCTUnwrap(try table())
        XCTAssertEqual(t.elements["svc4"]?.count, 2)
        XCTAssertEqual(t.elements["svc4_snat"]?.count, 2)
        XCTAssertEqual(t.elements["mark4"]?.count, 1)
        XCTAssertEqual(t.elements["markfwd4"]?.count, 1)
        XCTAssertEqual(try state.load(SNATOwnership.self)?.nftTables, ["inet ezlb"])
        let commits = try kernel().model.nftables.commits
        // Converged: no transaction, and known from the generation alone (no config parse).
        let again = try SNATReconciler(nftContext(cfg)).sync()
        XCTAssertFalse(again.changed)
        XCTAssertTrue(again.fromConvergenceCache)
        XCTAssertEqual(try kernel().model.nftables.commits, commits)
        // A hand edit changes the generation: the full path repairs it.
        do {
            let k = try kernel()
            k.model.nftables.tables[0].elements["svc4"] = [:]
            k.markDirty()
            try k.save()
        }
        let repaired = try SNATReconciler(nftContext(cfg)).sync()
        XCTAssertFalse(repaired.fromConvergenceCache)
        XCTAssertEqual(repaired.tally().added, 2)
        XCTAssertTrue(try SNATReconciler(nftContext(cfg)).sync().fromConvergenceCache)
        // One backend replaced: its element in each set it is in, nothing else.
        let edited = config(yaml.replacingOccurrences(of: "192.168.1.11:8080", with: "192.168.1.12:8080"), name: "edited.yaml")
        let beforeOne = try kernel().model.nftables.commits
        let one = try SNATReconciler(nftContext(edited)).sync()
        XCTAssertEqual(one.actions.map(\.text), [
            "- nft delete element inet ezlb svc4 { 10.0.0.1 . tcp . 80 . 192.168.1.11 . 8080 }",
            "+ nft add element inet ezlb svc4 { 10.0.0.1 . tcp . 80 . 192.168.1.12 . 8080 }",
            "- nft delete element inet ezlb svc4_snat { 10.0.0.1 . tcp . 80 . 192.168.1.11 . 8080 : 10.0.0.3 }",
            "+ nft add element inet ezlb svc4_snat { 10.0.0.1 . tcp . 80 . 192.168.1.12 . 8080 : 10.0.0.3 }",
        ])
        XCTAssertEqual(try kernel().model.nftables.commits, beforeOne + 1, "one transaction")
        // An unhealthy backend leaves the sets.
        var h = HealthTable()
        let b = ep("192.168.1.10:8080")
        h.records[HealthKey(service: "web", backend: b)] = BackendHealth(service: "web", backend: b, healthy: false, failures: 3)
        try state.store(HealthStateFile(h))
        XCTAssertEqual(try SNATReconciler(nftContext(edited)).sync().tally().deleted, 2)
        // No full_nat service left: the table goes, and so does the record.
        let none = config("services:\n  - name: plain\n    listen: 10.0.0.2:80\n    backends: [{address: \"192.168.1.30:80\"}]\n", name: "none.yaml")
        let gone = try SNATReconciler(nftContext(none)).sync()
        XCTAssertEqual(gone.actions.map(\.text), ["- nft delete table inet ezlb"])
        XCTAssertNil(try table())
        XCTAssertEqual(try state.load(SNATOwnership.self)?.nftTables, [])
    }

    func testHandEditedSkeletonIsRewrittenWhole() throws {
        let cfg = config(yaml)
        _ = try SNATReconciler(nftContext(cfg)).sync()
        do {
            let k = try kernel()
            k.model.nftables.tables[0].chains[0].rules.removeLast()
            k.markDirty()
            try k.save()
        }
        let r = try SNATReconciler(nftContext(cfg)).sync()
        XCTAssertEqual(r.actions.first?.text, "~ nft replace table inet ezlb (its sets or chains differ from ezlb's)")
        let now = try XCTUnwrap(try table())
        let want = try XCTUnwrap(SNATNFT.table([
            FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080"), ep("192.168.1.11:8080")], snatIP: IPAddress("10.0.0.3")),
            FullNATService(name: "marked", key: .fwmark(7, .ipv4), backends: [ep("192.168.5.10")], snatIP: nil),
        ]))
        XCTAssertTrue(now.sameSkeleton(as: want))
        XCTAssertEqual(now.elements, want.elements)
        XCTAssertFalse(try SNATReconciler(nftContext(cfg)).sync().changed)
    }

    func testSwitchingBackendsMovesTheRules() throws {
        let cfg = config(yaml)
        _ = try SNATReconciler(context(cfg)).sync() // auto on the fake: iptables
        XCTAssertFalse(try state.load(SNATOwnership.self)?.chains.isEmpty ?? true)
        let toNFT = try SNATReconciler(nftContext(cfg)).sync()
        XCTAssertFalse(toNFT.failed)
        XCTAssertTrue(toNFT.actions.contains { $0.text == "- ip4 -t nat -X EZLB-SNAT" }, "\(toNFT.actions.map(\.text))")
        XCTAssertEqual(try state.load(SNATOwnership.self), SNATOwnership(chains: [], nftTables: ["inet ezlb"]))
        XCTAssertFalse(try kernel().model.iptables.tables.contains { $0.chains.contains { $0.name.hasPrefix("EZLB") } })
        let toXT = try SNATReconciler({ var c = context(cfg); c.firewall = .iptables; return c }()).sync()
        XCTAssertTrue(toXT.actions.contains { $0.text == "- nft delete table inet ezlb" })
        XCTAssertNil(try table())
        XCTAssertEqual(try state.load(SNATOwnership.self)?.nftTables, [])
        // cleanup finds both kinds (none left here) and nothing else.
        _ = try SNATReconciler(nftContext(cfg)).sync()
        let clean = try SNATReconciler(context(cfg)).cleanup()
        XCTAssertEqual(clean.actions.map(\.text), ["- nft delete table inet ezlb"])
        XCTAssertEqual(try state.load(SNATOwnership.self), SNATOwnership())
    }

    /// The table is recorded before the transaction; a refused transaction changes nothing.
    func testIntentBeforeTheTransaction() throws {
        let cfg = config(yaml)
        var recordedAtPlan: SNATOwnership? = nil
        let r = try SNATReconciler(nftContext(cfg)).sync { _ in recordedAtPlan = try? self.state.load(SNATOwnership.self) }
        XCTAssertFalse(r.failed)
        XCTAssertEqual(recordedAtPlan?.nftTables, ["inet ezlb"], "the table is recorded before the transaction")
        // A foreign table with a forward drop is never touched.
        do {
            let k = try kernel()
            try k.model.nftables.apply(.inet, "filter", [.addTable, .addChain(NFTChain(name: "forward", hook: NFTHook(type: "filter", hook: NFTHook.forward, priority: 0, policy: 0), rules: []))])
            k.markDirty()
            try k.save()
        }
        _ = try SNATReconciler(nftContext(cfg)).cleanup()
        XCTAssertNotNil(try kernel().model.nftables.table(.inet, "filter"))
        XCTAssertNil(try table())
    }

    func testForwardPathFindsTheDropsAndTheirFixes() throws {
        let mark = SNATNFT.defaultForwardMark
        var filter = NFTTable(family: .inet, name: "filter")
        filter.chains = [NFTChain(name: "forward", hook: NFTHook(type: "filter", hook: NFTHook.forward, priority: 0, policy: 0), rules: [])]
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark).map(\.fix),
                       ["nft insert rule inet filter forward meta mark & 0x200000 == 0x200000 accept"])
        // ct state established,related accept admits; so does the mark rule; a verdict map cannot be read.
        let maskBytes = withUnsafeBytes(of: UInt32(6)) { Array($0) }
        filter.chains[0].rules = [NFTRule([.ct(NFTExpr.CT.state, original: false, dreg: 8), .bitwise(sreg: 8, dreg: 8, mask: maskBytes, xor: [0, 0, 0, 0]),
                                           .cmp(NFTExpr.Cmp.neq, sreg: 8, [0, 0, 0, 0]), .verdict(NFTExpr.Verdict.accept)])]
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark), [])
        let m = withUnsafeBytes(of: mark) { Array($0) }
        filter.chains[0].rules = [NFTRule([.meta(NFTExpr.Meta.mark, dreg: 8), .bitwise(sreg: 8, dreg: 8, mask: m, xor: [0, 0, 0, 0]),
                                           .cmp(NFTExpr.Cmp.eq, sreg: 8, m), .counter, .verdict(NFTExpr.Verdict.accept)])]
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark), [])
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .iptables, mark: mark).count, 1, "the iptables backend sets no mark")
        // An unconditional jump into a chain that drops; a conditional accept of other traffic changes nothing.
        filter.chains[0].rules = [NFTRule([.meta(NFTExpr.Meta.l4proto, dreg: 8), .cmp(NFTExpr.Cmp.eq, sreg: 8, [17]), .verdict(NFTExpr.Verdict.accept)]),
                                  NFTRule([.verdict(NFTExpr.Verdict.jump, chain: "sub")])]
        filter.chains[0].hook?.policy = 1
        filter.chains.append(NFTChain(name: "sub", hook: nil, rules: [NFTRule([.counter, .verdict(NFTExpr.Verdict.drop)])]))
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark).map(\.verdict), [.drops("rule 1 of sub drops everything")])
        // iptables-nft's -j REJECT is an xt target; a verdict map cannot be read; a chain that runs
        // before ezlb's marking chain never sees the mark.
        filter.chains = [NFTChain(name: "forward", hook: NFTHook(type: "filter", hook: NFTHook.forward, priority: 0, policy: 1),
                                  rules: [NFTRule([.counter, { var e = NFTExpr(name: "target"); e.ref = "REJECT"; return e }()])])]
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark).map(\.verdict), [.drops("rule 1 of forward rejects everything")])
        var vmap = NFTExpr.lookup("__map0", sreg: 8)
        vmap.vmap = true
        filter.chains[0].rules = [NFTRule([.ct(NFTExpr.CT.state, original: false, dreg: 8), vmap])]
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark).map(\.verdict), [.unknown("rule 1 of forward decides through a verdict map")])
        filter.chains[0].rules = [NFTRule([.meta(NFTExpr.Meta.mark, dreg: 8), .bitwise(sreg: 8, dreg: 8, mask: m, xor: [0, 0, 0, 0]),
                                           .cmp(NFTExpr.Cmp.eq, sreg: 8, m), .verdict(NFTExpr.Verdict.accept)])]
        filter.chains[0].hook = NFTHook(type: "filter", hook: NFTHook.forward, priority: -200, policy: 0)
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark).count, 1, "runs before the mark is set")
        filter.chains[0].hook?.priority = -150
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark), [])
        filter.chains = [NFTChain(name: "forward", hook: NFTHook(type: "filter", hook: NFTHook.forward, priority: 0, policy: 0), rules: [])]
        // ezlb's own table is never a finding; other hooks do not count.
        var own = filter
        own.name = "ezlb"
        XCTAssertEqual(ForwardPath.check(nft: [own], firewall: .nftables, mark: mark), [])
        filter.chains[0].hook?.hook = NFTHook.input
        XCTAssertEqual(ForwardPath.check(nft: [filter], firewall: .nftables, mark: mark), [])
        // Legacy: a DROP policy; the EZLB-FORWARD jump (iptables backend) or a masked mark accept admit.
        var st = XTTableState(ref: XTTableRef(.ipv4, .filter), chains: ["FORWARD": [XTRule(source: XTPrefix(IPAddress("10.9.0.0")!, length: 16), target: .accept)]])
        XCTAssertEqual(ForwardPath.check(legacy: st, policy: "DROP", firewall: .nftables, mark: mark)?.fix,
                       "iptables-legacy -I FORWARD 1 -m mark --mark 0x200000/0x200000 -j ACCEPT")
        st.chains["FORWARD"]!.insert(XTRule(mark: XTMark(mark, mask: mark), target: .accept), at: 0)
        XCTAssertNil(ForwardPath.check(legacy: st, policy: "DROP", firewall: .nftables, mark: mark))
        // A foreign rule that drops on conditions ezlb cannot read, a conditional jump: cannot tell.
        st.chains["FORWARD"] = [XTRule(target: .other("(not an ezlb rule) -j DROP"))]
        XCTAssertEqual(ForwardPath.check(legacy: st, policy: "ACCEPT", firewall: .nftables, mark: mark)?.verdict,
                       .unknown("rule 1 of FORWARD drops or rejects on conditions ezlb cannot read"))
        st.chains["FORWARD"] = [XTRule(outInterface: XTInterface("docker0"), target: .jump("DOCKER"))]
        st.chains["DOCKER"] = []
        XCTAssertEqual(ForwardPath.check(legacy: st, policy: "DROP", firewall: .nftables, mark: mark)?.verdict,
                       .unknown("rule 1 of FORWARD jumps to DOCKER on a condition"))
        st.chains["FORWARD"] = [.jump(to: "EZLB-FORWARD")]
        st.chains["EZLB-FORWARD"] = []
        XCTAssertNil(ForwardPath.check(legacy: st, policy: "DROP", firewall: .iptables, mark: mark))
        XCTAssertNotNil(ForwardPath.check(legacy: st, policy: "DROP", firewall: .nftables, mark: mark))
    }
}
