import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }
private func pfx(_ s: String) -> XfrmPrefix { try! XfrmPrefix.parse(s).get() }
private let psk = XfrmKey(Array(0..<32))
private let A = ip("192.168.0.1"), B = ip("192.168.0.2"), C = ip("192.168.0.3")

/// Applies operations to a table the way the kernel does (the planner's contract with both backends).
private func simulate(_ t: XfrmTables, _ ops: [XfrmOperation]) throws -> XfrmTables {
    var t = t
    for op in ops {
        switch op {
        case .addState(let s):
            guard !t.states.contains(where: { $0.id.dst == s.id.dst && $0.id.spi == s.id.spi }) else { throw XfrmError(.exists, operation: "\(op)", detail: "") }
            t.states.append(s)
        case .deleteState(let id):
            guard let i = t.states.firstIndex(where: { $0.id.dst == id.dst && $0.id.spi == id.spi }) else { throw XfrmError(.notFound, operation: "\(op)", detail: "") }
            t.states.remove(at: i)
        case .addPolicy(let p):
            guard !t.policies.contains(where: { $0.id == p.id }) else { throw XfrmError(.exists, operation: "\(op)", detail: "") }
            t.policies.append(p)
        case .updatePolicy(let p):
            if let i = t.policies.firstIndex(where: { $0.id == p.id }) { t.policies[i] = p } else { t.policies.append(p) }
        case .deletePolicy(let id):
            guard let i = t.policies.firstIndex(where: { $0.id == id }) else { throw XfrmError(.notFound, operation: "\(op)", detail: "") }
            t.policies.remove(at: i)
        }
    }
    return t
}

final class XfrmKeysTests: XCTestCase {
    /// Known answers computed independently (Python hmac/hashlib HKDF) from the README's derivation.
    func testKnownAnswers() {
        let ab = XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 1, keyBits: 128)
        XCTAssertEqual(ab.spi, 0xaacb_d0c5)
        XCTAssertEqual(ab.key.bytes.map { String(format: "%02x", $0) }.joined(), "26715ce0c99bbe30ce1283d43d2012a9f9663e1e")
        let ba = XfrmKeys.derive(psk: psk, src: B, dst: A, generation: 1, keyBits: 128)
        XCTAssertEqual(ba.spi, 0x3d06_9901)
        XCTAssertEqual(ba.key.bytes.map { String(format: "%02x", $0) }.joined(), "70c414c74390a10c062b122d1dab6203f523d851")
        let ab2 = XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 2, keyBits: 256)
        XCTAssertEqual(ab2.spi, 0x4ead_3283)
        XCTAssertEqual(ab2.key.bytes.count, 36)
    }

    func testEveryInputChangesTheResult() {
        let base = XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 1, keyBits: 128)
        let variants = [
            XfrmKeys.derive(psk: psk, src: B, dst: A, generation: 1, keyBits: 128),
            XfrmKeys.derive(psk: psk, src: A, dst: C, generation: 1, keyBits: 128),
            XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 2, keyBits: 128),
            XfrmKeys.derive(psk: XfrmKey(Array(1..<33)), src: A, dst: B, generation: 1, keyBits: 128),
        ]
        for v in variants {
            XCTAssertNotEqual(v.spi, base.spi)
            XCTAssertNotEqual(v.key, base.key)
        }
        XCTAssertEqual(XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 1, keyBits: 128).key, base.key, "deterministic")
    }

    func testSPIsAreNeverReserved() {
        for g in 0..<2000 as Range<UInt32> {
            XCTAssertGreaterThanOrEqual(XfrmKeys.derive(psk: psk, src: A, dst: B, generation: g, keyBits: 128).spi, 0x100)
        }
    }

    func testKeysNeverPrint() {
        let k = XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 1, keyBits: 128).key
        XCTAssertEqual("\(k)", "<160-bit key>")
        XCTAssertEqual(String(reflecting: k), "<160-bit key>")
        let s = XfrmState(id: XfrmStateID(src: A, dst: B, spi: 0x1234), reqid: 1, aead: "rfc4106(gcm(aes))", key: k, icvBits: 128)
        let hex = k.bytes.map { String(format: "%02x", $0) }.joined()
        XCTAssertFalse("\(s)".contains(hex))
        XCTAssertFalse(XfrmPlanner.stateJSON(s).text.contains(hex))
    }
}

final class XfrmPlannerTests: XCTestCase {
    let rule = XfrmOwnershipRule()

    func intent(pods: [String] = ["10.244.1.0/28"], peers: [(IPAddress, [String])] = [(B, ["10.244.2.0/28"])],
                rotation: XfrmRotation = XfrmRotation(out: 1, outSince: 0, accepting: [.init(generation: 1, since: 0)]),
                reqids: [IPAddress: UInt32]? = nil) -> XfrmIntent {
        let r = reqids ?? XfrmPlanner.assignReqids(peers: peers.map(\.0), recorded: [:], local: A, kernel: XfrmTables())
        return XfrmIntent(local: A, pods: pods.map(pfx), peers: peers.map { XfrmIntent.Peer(address: $0.0, pods: $0.1.map(pfx)) },
                          psk: psk, rotation: rotation, reqids: r)
    }

    // MARK: aggregation

    func testAggregateMergesSiblingsAndDropsNested() {
        XCTAssertEqual(XfrmPlanner.aggregate((0..<16).map { pfx("10.0.0.\($0)") }), [pfx("10.0.0.0/28")])
        XCTAssertEqual(XfrmPlanner.aggregate((1..<16).map { pfx("10.0.0.\($0)") }),
                       [pfx("10.0.0.1/32"), pfx("10.0.0.2/31"), pfx("10.0.0.4/30"), pfx("10.0.0.8/29")])
        XCTAssertEqual(XfrmPlanner.aggregate([pfx("10.0.0.0/24"), pfx("10.0.0.5"), pfx("10.0.0.0/24")]), [pfx("10.0.0.0/24")])
        XCTAssertEqual(XfrmPlanner.aggregate([pfx("10.0.1.0/24"), pfx("10.0.0.0/24"), pfx("10.0.2.0/24")]),
                       [pfx("10.0.0.0/23"), pfx("10.0.2.0/24")])
        XCTAssertEqual(XfrmPlanner.aggregate([pfx("2001:db8::1"), pfx("2001:db8::"), pfx("10.0.0.1")]),
                       [pfx("10.0.0.1/32"), pfx("2001:db8::/127")])
        XCTAssertEqual(XfrmPlanner.aggregate([]), [])
    }

    /// Aggregation covers exactly the same addresses (random sets of /32s in a /24).
    func testAggregateIsExact() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let set = Set((0..<Int.random(in: 0...120, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            let agg = XfrmPlanner.aggregate(set.map { pfx("10.9.8.\($0)") })
            for b in 0...255 {
                let a = ip("10.9.8.\(b)")
                XCTAssertEqual(agg.contains { $0.contains(a) }, set.contains(UInt8(b)))
            }
            XCTAssertEqual(XfrmPlanner.aggregate(agg), agg, "already minimal")
        }
    }

    // MARK: reqids

    func testReqidsAreStableAndRecoverable() {
        let r1 = XfrmPlanner.assignReqids(peers: [C, B], recorded: [:], local: A, kernel: XfrmTables())
        XCTAssertEqual(r1, [B: 0x0E21_0001, C: 0x0E21_0002])
        // B leaves, a new peer D comes: C keeps its reqid, D gets the lowest free one.
        let D = ip("192.168.0.4")
        let r2 = XfrmPlanner.assignReqids(peers: [C, D], recorded: r1, local: A, kernel: XfrmTables())
        XCTAssertEqual(r2, [C: 0x0E21_0002, D: 0x0E21_0001])
        // State file lost: the reqid of ezlb's OUT state towards the peer is taken over.
        let k = XfrmTables(states: [XfrmState(id: XfrmStateID(src: A, dst: C, spi: 0x999), reqid: 0x0E21_0007, aead: "x", key: XfrmKey([]), icvBits: 128),
                                    XfrmState(id: XfrmStateID(src: A, dst: B, spi: 0x998), reqid: 7, aead: "x", key: XfrmKey([]), icvBits: 128)])
        XCTAssertEqual(XfrmPlanner.assignReqids(peers: [B, C], recorded: [:], local: A, kernel: k), [B: 0x0E21_0001, C: 0x0E21_0007])
        // A recorded reqid outside the range or taken twice is replaced.
        XCTAssertEqual(XfrmPlanner.assignReqids(peers: [B, C], recorded: [B: 5, C: 0x0E21_0001], local: A, kernel: XfrmTables()),
                       [C: 0x0E21_0001, B: 0x0E21_0002])
    }

    // MARK: rotation

    func testRotationIsMakeBeforeBreak() {
        var r = XfrmPlanner.advance(nil, target: 1, now: 100, delay: 60)
        XCTAssertEqual(r, XfrmRotation(out: 1, outSince: 100, accepting: [.init(generation: 1, since: 100)]))
        XCTAssertEqual(XfrmPlanner.advance(r, target: 1, now: 5000, delay: 60), r, "steady")
        // Bump: accept 2, OUT stays on 1.
        r = XfrmPlanner.advance(r, target: 2, now: 1000, delay: 60)
        XCTAssertEqual(r.out, 1)
        XCTAssertEqual(r.acceptedGenerations, [1, 2])
        // Too early: nothing moves.
        XCTAssertEqual(XfrmPlanner.advance(r, target: 2, now: 1059, delay: 60), r)
        // Delay passed: OUT switches, 1 still accepted.
        r = XfrmPlanner.advance(r, target: 2, now: 1060, delay: 60)
        XCTAssertEqual(r.out, 2)
        XCTAssertEqual(r.outSince, 1060)
        XCTAssertEqual(r.acceptedGenerations, [1, 2])
        XCTAssertEqual(XfrmPlanner.advance(r, target: 2, now: 1100, delay: 60), r)
        // Delay after the switch: 1 goes.
        r = XfrmPlanner.advance(r, target: 2, now: 1120, delay: 60)
        XCTAssertEqual(r, XfrmRotation(out: 2, outSince: 1060, accepting: [.init(generation: 2, since: 1000)]))
    }

    func testRotationWithZeroDelayStillTakesThreeRuns() {
        var r = XfrmPlanner.advance(nil, target: 1, now: 1, delay: 0)
        r = XfrmPlanner.advance(r, target: 2, now: 2, delay: 0)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "1 [1, 2]")
        r = XfrmPlanner.advance(r, target: 2, now: 3, delay: 0)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "2 [1, 2]")
        r = XfrmPlanner.advance(r, target: 2, now: 4, delay: 0)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "2 [2]")
    }

    func testDoubleBumpKeepsEveryGenerationAPeerMayUse() {
        var r = XfrmPlanner.advance(nil, target: 1, now: 0, delay: 10)
        r = XfrmPlanner.advance(r, target: 2, now: 100, delay: 10)
        r = XfrmPlanner.advance(r, target: 3, now: 105, delay: 10)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "1 [1, 2, 3]")
        r = XfrmPlanner.advance(r, target: 3, now: 120, delay: 10)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "3 [1, 2, 3]")
        r = XfrmPlanner.advance(r, target: 3, now: 131, delay: 10)
        XCTAssertEqual("\(r.out) \(r.acceptedGenerations)", "3 [3]")
    }

    // MARK: desired objects

    func testDesiredObjectsAndSelectors() {
        let d = XfrmPlanner.desired(intent(pods: ["10.244.1.0/28", "10.244.1.16/28"],
                                           peers: [(B, ["10.244.2.0/28"]), (C, ["10.244.3.4", "10.244.3.5", "10.244.3.9"])]))
        XCTAssertTrue(d.problems.isEmpty)
        XCTAssertEqual(d.states.count, 4, "one IN and one OUT state per peer")
        // Local /28+/28 -> /27; C's pods -> 10.244.3.4/31 + 10.244.3.9/32: 1*1 + 1*2 pairs, 3 directions each.
        XCTAssertEqual(d.policies.count, 9)
        let out = d.policies.filter { $0.dir == .out }.map { "\($0.selector)" }.sorted()
        XCTAssertEqual(out, ["src 10.244.1.0/27 dst 10.244.2.0/28", "src 10.244.1.0/27 dst 10.244.3.4/31", "src 10.244.1.0/27 dst 10.244.3.9/32"])
        for p in d.policies {
            XCTAssertEqual(p.priority, XfrmPlanner.priority)
            XCTAssertTrue(rule.owns(p))
            let t = p.templates[0]
            if p.dir == .out { XCTAssertEqual(t.src, A) } else { XCTAssertEqual(t.dst, A) }
        }
        // B's IN state carries what B's OUT state towards A carries (same derivation on both nodes).
        let inB = d.states.first { $0.id.src == B && $0.id.dst == A }!
        let bSide = XfrmKeys.derive(psk: psk, src: B, dst: A, generation: 1, keyBits: 128)
        XCTAssertEqual(inB.id.spi, bSide.spi)
        XCTAssertEqual(inB.key, bSide.key)
    }

    /// The kmesh regression, as a property: a packet matches an ezlb policy only when both ends are managed
    /// pods on the right nodes; unmanaged pods, hosts and node addresses never match.
    func testOnlyManagedPairsMatchAPolicy() {
        let localPods = (0..<10).map { "10.244.1.\($0 * 3)" }
        let peerPods = ["10.244.2.0/29", "10.244.2.17"]
        let d = XfrmPlanner.desired(intent(pods: localPods, peers: [(B, peerPods)]))
        let managedLocal = Set(localPods.map { ip($0) })
        let managedPeer: (IPAddress) -> Bool = { a in peerPods.map(pfx).contains { $0.contains(a) } }
        func matches(_ dir: XfrmDirection, _ s: IPAddress, _ t: IPAddress) -> Bool {
            d.policies.contains { $0.dir == dir && $0.selector.src.contains(s) && $0.selector.dst.contains(t) }
        }
        let candidatesLocal = (0..<32).map { ip("10.244.1.\($0)") } + [A, ip("10.0.0.1")]
        let candidatesPeer = (0..<24).map { ip("10.244.2.\($0)") } + [B, ip("10.0.0.2")]
        for l in candidatesLocal {
            for r in candidatesPeer {
                let both = managedLocal.contains(l) && managedPeer(r)
                XCTAssertEqual(matches(.out, l, r), both, "out \(l) -> \(r)")
                XCTAssertEqual(matches(.in, r, l), both, "in \(r) -> \(l)")
                XCTAssertEqual(matches(.fwd, r, l), both, "fwd \(r) -> \(l)")
            }
        }
    }

    func testPolicyCountFollowsPrefixesNotPods() {
        // 1,000 managed pods in 10 peers, each node's pods from one aligned block: 3 policies per peer.
        let peers = (0..<10).map { i in (ip("192.168.1.\(i + 10)"), (0..<100).map { "10.\(i + 10).0.\($0)" } + ["10.\(i + 10).0.100/30"]) }
        let d = XfrmPlanner.desired(intent(pods: (0..<64).map { "10.244.1.\($0)" }, peers: peers))
        // Each peer's 0..103 aggregates to /26 + /27 + /29; the local 64 pods to one /26: 3 pairs x 3 directions.
        XCTAssertEqual(d.policies.count, 10 * 3 * 3)
        XCTAssertEqual(d.states.count, 20)
    }

    func testSPICollisionIsReportedNotInstalled() {
        // Force a collision by giving two peers the same address family trick: the same peer twice under other reqids.
        var i = intent(peers: [(B, ["10.244.2.0/28"])])
        i.peers.append(XfrmIntent.Peer(address: B, pods: ["10.244.9.0/28"].map(pfx)))
        let d = XfrmPlanner.desired(i)
        XCTAssertEqual(d.problems.count, 1)
        XCTAssertTrue(d.problems[0].contains("collides"), d.problems[0])
    }

    // MARK: plans

    func testFreshPlanOrderAndConvergence() throws {
        let d = XfrmPlanner.desired(intent())
        let p = XfrmPlanner.plan(desired: d, actual: XfrmTables(), local: A)
        let kinds = p.operations.map { op -> String in
            switch op {
            case .addState(let s): return s.id.dst == A ? "in" : "out"
            case .addPolicy: return "policy"
            default: return "other"
            }
        }
        XCTAssertEqual(kinds, ["in", "out", "policy", "policy", "policy"], "states before the policies that need them")
        let after = try simulate(XfrmTables(), p.operations)
        XCTAssertEqual(XfrmPlanner.plan(desired: d, actual: after, local: A), XfrmPlan(), "converged: nothing to do")
    }

    func testForeignObjectsAreNeverTouched() throws {
        let foreignPolicy = XfrmPolicy(dir: .out, selector: XfrmSelector(src: pfx("10.1.0.0/16"), dst: pfx("10.2.0.0/16")), priority: 100,
                                       templates: [XfrmTemplate(src: A, dst: ip("10.9.9.9"), reqid: 1)])
        let sameSelectorForeign = XfrmPolicy(dir: .in, selector: XfrmSelector(src: pfx("10.244.2.0/28"), dst: pfx("10.244.1.0/28")),
                                             priority: XfrmPlanner.priority, templates: [XfrmTemplate(src: B, dst: A, reqid: 42)])
        let foreignState = XfrmState(id: XfrmStateID(src: A, dst: ip("10.9.9.9"), spi: 0x1000), reqid: 1, aead: "x", key: XfrmKey([1]), icvBits: 128)
        let actual = XfrmTables(policies: [foreignPolicy, sameSelectorForeign], states: [foreignState])
        let p = XfrmPlanner.plan(desired: XfrmPlanner.desired(intent()), actual: actual, local: A)
        XCTAssertEqual(p.conflicts.count, 1)
        XCTAssertTrue(p.conflicts[0].contains("not ezlb's"))
        for op in p.operations {
            if case .deletePolicy = op { XCTFail("deleted a foreign policy") }
            if case .deleteState = op { XCTFail("deleted a foreign state") }
            if case .updatePolicy = op { XCTFail("updated a foreign policy") }
        }
        let after = try simulate(actual, p.operations)
        XCTAssertTrue(after.policies.contains(foreignPolicy) && after.policies.contains(sameSelectorForeign) && after.states.contains(foreignState))
        // Cleanup (nothing desired): deletes exactly ezlb's, policies before states.
        let c = XfrmPlanner.plan(desired: XfrmDesired(), actual: after, local: A)
        let cleaned = try simulate(after, c.operations)
        XCTAssertEqual(cleaned, actual)
        let firstState = c.operations.firstIndex { if case .deleteState = $0 { return true }; return false }!
        let lastPolicy = c.operations.lastIndex { if case .deletePolicy = $0 { return true }; return false }!
        XCTAssertLessThan(lastPolicy, firstState)
    }

    func testChangedTemplateIsAnUpdateNotADeleteAndAdd() throws {
        let d1 = XfrmPlanner.desired(intent(reqids: [B: 0x0E21_0001]))
        let k = try simulate(XfrmTables(), XfrmPlanner.plan(desired: d1, actual: XfrmTables(), local: A).operations)
        let d2 = XfrmPlanner.desired(intent(reqids: [B: 0x0E21_0005]))
        let p = XfrmPlanner.plan(desired: d2, actual: k, local: A)
        XCTAssertEqual(p.operations.filter { if case .updatePolicy = $0 { return true }; return false }.count, 3)
        XCTAssertFalse(p.operations.contains { if case .deletePolicy = $0 { return true }; return false })
        // States with the same SPI and another reqid are replaced (delete, then add).
        XCTAssertEqual(p.changes.filter(\.replace).count, 2)
        let after = try simulate(k, p.operations)
        XCTAssertEqual(XfrmPlanner.plan(desired: d2, actual: after, local: A), XfrmPlan())
    }

    func testRotationPlansAddBeforeDelete() throws {
        var rot = XfrmPlanner.advance(nil, target: 1, now: 0, delay: 10)
        var k = try simulate(XfrmTables(), XfrmPlanner.plan(desired: XfrmPlanner.desired(intent(rotation: rot)), actual: XfrmTables(), local: A).operations)
        // Step 1: only a new IN state.
        rot = XfrmPlanner.advance(rot, target: 2, now: 100, delay: 10)
        var p = XfrmPlanner.plan(desired: XfrmPlanner.desired(intent(rotation: rot)), actual: k, local: A)
        XCTAssertEqual(p.changes.map(\.kind), [.add])
        guard case .addState(let in2) = p.operations[0] else { return XCTFail() }
        XCTAssertEqual(in2.id.dst, A)
        XCTAssertEqual(try rendered(p.changes[0], done: false, error: nil).json["note"], "in gen 2")
        k = try simulate(k, p.operations)
        // Step 2: new OUT state added, then the old OUT state deleted; IN states stay.
        rot = XfrmPlanner.advance(rot, target: 2, now: 111, delay: 10)
        p = XfrmPlanner.plan(desired: XfrmPlanner.desired(intent(rotation: rot)), actual: k, local: A)
        XCTAssertEqual(p.changes.map(\.kind), [.add, .delete])
        guard case .addState(let out2) = p.operations[0], case .deleteState(let out1) = p.operations[1] else { return XCTFail() }
        XCTAssertEqual(out2.id.src, A)
        XCTAssertEqual(out1.src, A)
        XCTAssertEqual(out2.reqid, k.states.first { $0.id == out1 }?.reqid, "same reqid: the policy picks the newer SA")
        k = try simulate(k, p.operations)
        XCTAssertEqual(k.states.filter { $0.id.dst == A }.count, 2)
        // Step 3: the old IN state goes.
        rot = XfrmPlanner.advance(rot, target: 2, now: 122, delay: 10)
        p = XfrmPlanner.plan(desired: XfrmPlanner.desired(intent(rotation: rot)), actual: k, local: A)
        XCTAssertEqual(p.changes.map(\.kind), [.delete])
        k = try simulate(k, p.operations)
        XCTAssertEqual(k.states.count, 2)
        XCTAssertEqual(Set(k.states.map(\.id.spi)), [XfrmKeys.derive(psk: psk, src: A, dst: B, generation: 2, keyBits: 128).spi,
                                                     XfrmKeys.derive(psk: psk, src: B, dst: A, generation: 2, keyBits: 128).spi])
    }

    /// Property: from any mix of foreign objects, stale ezlb objects and a partial install, one plan
    /// reaches the desired set (foreign objects kept) and a second plan is empty.
    func testRandomKernelsConvergeInOnePlan() throws {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<150 {
            let peerCount = Int.random(in: 0...4, using: &rng)
            let peers = (0..<peerCount).map { i in (ip("192.168.0.\(10 + i)"), (0..<Int.random(in: 1...5, using: &rng)).map { j in "10.\(50 + i).\(j).0/24" }) }
            let gen = UInt32.random(in: 1...3, using: &rng)
            let rot = XfrmRotation(out: gen, outSince: 0, accepting: [.init(generation: gen, since: 0)] + (gen > 1 && Bool.random(using: &rng) ? [.init(generation: gen - 1, since: 0)] : []))
            let d = XfrmPlanner.desired(intent(pods: ["10.244.1.0/26"], peers: peers, rotation: rot))
            // Kernel: some desired objects, some stale ezlb objects, some foreign ones.
            var k = XfrmTables()
            k.policies = d.policies.filter { _ in Bool.random(using: &rng) }
            k.states = d.states.filter { _ in Bool.random(using: &rng) }
            for j in 0..<Int.random(in: 0...3, using: &rng) {
                k.policies.append(XfrmPolicy(dir: .fwd, selector: XfrmSelector(src: pfx("172.16.\(j).0/24"), dst: pfx("10.244.1.0/26")),
                                             priority: XfrmPlanner.priority, templates: [XfrmTemplate(src: ip("192.168.9.9"), dst: A, reqid: 0x0E21_0100)]))
                k.states.append(XfrmState(id: XfrmStateID(src: ip("192.168.9.9"), dst: A, spi: 0x5000 + UInt32(j)), reqid: 0x0E21_0100,
                                          aead: "rfc4106(gcm(aes))", key: XfrmKey([UInt8](repeating: 1, count: 20)), icvBits: 128))
                k.policies.append(XfrmPolicy(dir: .out, selector: XfrmSelector(src: pfx("172.17.\(j).0/24"), dst: pfx("0.0.0.0/0")),
                                             priority: 5, templates: [XfrmTemplate(src: A, dst: ip("192.168.7.7"), reqid: 3)]))
                k.states.append(XfrmState(id: XfrmStateID(src: A, dst: ip("192.168.7.7"), spi: 0x7000 + UInt32(j)), reqid: 3,
                                          aead: "rfc4106(gcm(aes))", key: XfrmKey([UInt8](repeating: 2, count: 20)), icvBits: 128))
            }
            k.policies.shuffle(using: &rng)
            k.states.shuffle(using: &rng)
            let foreign = XfrmTables(policies: k.policies.filter { !rule.owns($0) }, states: k.states.filter { !rule.owns($0) })
            let p = XfrmPlanner.plan(desired: d, actual: k, local: A)
            XCTAssertEqual(p.conflicts, [], "round \(round)")
            let after = try simulate(k, p.operations)
            XCTAssertEqual(Set(after.policies), Set(d.policies + foreign.policies), "round \(round)")
            XCTAssertEqual(Set(after.states), Set(d.states + foreign.states), "round \(round)")
            XCTAssertEqual(XfrmPlanner.plan(desired: d, actual: after, local: A), XfrmPlan(), "round \(round)")
        }
    }

    func testPrefixParsing() {
        XCTAssertEqual(XfrmPrefix.parse("10.0.0.0/8").map(\.description), .success("10.0.0.0/8"))
        XCTAssertEqual(XfrmPrefix.parse("10.0.0.5").map(\.description), .success("10.0.0.5/32"))
        XCTAssertEqual(XfrmPrefix.parse("2001:db8::/32").map(\.description), .success("2001:db8::/32"))
        if case .success = XfrmPrefix.parse("10.0.0.1/24") { XCTFail("host bits set") }
        if case .success = XfrmPrefix.parse("10.0.0.0/33") { XCTFail("too long") }
        if case .success = XfrmPrefix.parse("nope") { XCTFail("not an address") }
        XCTAssertTrue(pfx("10.0.0.0/8").overlaps(pfx("10.1.0.0/16")))
        XCTAssertFalse(pfx("10.0.0.0/16").overlaps(pfx("10.1.0.0/16")))
        XCTAssertFalse(pfx("10.0.0.0/8").overlaps(pfx("::/0")))
    }
}
