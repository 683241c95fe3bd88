import EzlbCore
import EzlbState
import Foundation
@testable import Kernel
import XCTest

/// The one digest of kernel state: what it is made of, and that every field a planner
/// compares is in it. The field lists come from the models themselves (Mirror): a field added
/// to a model without a mutation here fails `testEveryFieldOf…`, so it cannot be forgotten in
/// the digest.
final class StateDigestTests: XCTestCase {
    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

    /// A model's stored fields, by name.
    func fields(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }

    /// Each mutation changes `base`'s digest; the mutations cover exactly the model's fields.
    func assertEveryFieldCounts<T>(_ base: T, _ mutations: [String: (inout T) -> Void], digest: (T) -> [UInt8],
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(mutations.keys), fields(base), "a field without a mutation (add one) or a mutation of no field", file: file, line: line)
        let d = digest(base)
        for (name, m) in mutations {
            var v = base
            m(&v)
            XCTAssertNotEqual(digest(v), d, "\(T.self).\(name) is not in the digest", file: file, line: line)
        }
    }

    var table: [IPVSServiceState] {
        [
            IPVSServiceState(service: VirtualService(key: .inet(.tcp, ep("10.0.0.1:80")), scheduler: "wrr"),
                             destinations: [RealServer(endpoint: ep("192.168.1.10:8080"), weight: 3),
                                            RealServer(endpoint: ep("192.168.1.11:8080"), weight: 1)]),
            IPVSServiceState(service: VirtualService(key: .inet(.udp, ep("[2001:db8::1]:53")), scheduler: "rr"),
                             destinations: [RealServer(endpoint: ep("[2001:db8::10]:53"))]),
            IPVSServiceState(service: VirtualService(key: .fwmark(7, .ipv4), scheduler: "sh"), destinations: []),
        ]
    }

    func testIPVSOrderDoesNotMatter() {
        var t = table
        let d = StateDigest.ipvs(t)
        XCTAssertEqual(d.count, 32)
        t.reverse()
        t[2].destinations.reverse()
        XCTAssertEqual(StateDigest.ipvs(t), d)
        XCTAssertEqual(StateDigest.ipvs(table), d, "deterministic")
        // A destination moved to another service is another table.
        t = table
        let moved = t[0].destinations.removeLast()
        t[2].destinations.append(moved)
        XCTAssertNotEqual(StateDigest.ipvs(t), d)
        XCTAssertNotEqual(StateDigest.ipvs(Array(table.dropLast())), d)
    }

    func testEveryFieldOfAnIPVSTableCounts() {
        let one = table[0]
        assertEveryFieldCounts(one.service, [
            "key": { $0.key = .inet(.tcp, self.ep("10.0.0.1:81")) },
            "scheduler": { $0.scheduler = "rr" },
            "flags": { $0.flags = IPVSFlags.persistent },
            "timeout": { $0.timeout = 300 },
            "netmask": { $0.netmask = 0xffff_ff00 },
        ], digest: { StateDigest.ipvs([IPVSServiceState(service: $0, destinations: one.destinations)]) })
        assertEveryFieldCounts(one.destinations[0], [
            "endpoint": { $0.endpoint = self.ep("192.168.1.10:8081") },
            "weight": { $0.weight = 0 },
            "forward": { $0.forward = .route },
            "upperThreshold": { $0.upperThreshold = 10 },
            "lowerThreshold": { $0.lowerThreshold = 10 },
        ], digest: { StateDigest.ipvs([IPVSServiceState(service: one.service, destinations: [$0])]) })
        // Every part of a key.
        var seen: Set<[UInt8]> = []
        for k: ServiceKey in [.inet(.tcp, ep("10.0.0.1:80")), .inet(.sctp, ep("10.0.0.1:80")), .inet(.tcp, ep("10.0.0.2:80")),
                              .inet(.tcp, ep("[::ffff:10.0.0.1]:80")), .fwmark(7, .ipv4), .fwmark(7, .ipv6), .fwmark(8, .ipv4)] {
            XCTAssertTrue(seen.insert(StateDigest.ipvs([IPVSServiceState(service: VirtualService(key: k, scheduler: "rr"), destinations: [])])).inserted, "\(k)")
        }
    }

    func testEveryFieldOfAnXTRuleCounts() throws {
        let ref = XTTableRef(.ipv4, .nat)
        let scope = XTDigestScope(chains: ["EZLB-SNAT"], hooks: ["POSTROUTING"])
        let base = XTRule(source: XTPrefix(IPAddress("10.0.0.0")!, length: 8), destination: XTPrefix(IPAddress("192.168.1.10")!),
                          inInterface: XTInterface("eth0", invert: false), outInterface: XTInterface("br0", invert: true), proto: .tcp,
                          sourcePort: 1000, destinationPort: 8080, ctstate: [.established], comment: "ezlb:web",
                          target: .snat(IPAddress("10.0.0.3")!))
        func digest(_ r: XTRule) -> [UInt8] {
            FakeXTBackend.digest(XTTableState(ref: ref, chains: ["EZLB-SNAT": [r], "POSTROUTING": [.jump(to: "EZLB-SNAT")]]),
                                 ref: ref, scope: scope)
        }
        assertEveryFieldCounts(base, [
            "source": { $0.source = XTPrefix(IPAddress("10.0.0.0")!, length: 9) },
            "destination": { $0.destination = XTPrefix(IPAddress("192.168.1.11")!) },
            "inInterface": { $0.inInterface = XTInterface("eth0", invert: true) },
            "outInterface": { $0.outInterface = XTInterface("br1", invert: true) },
            "proto": { $0.proto = .udp },
            "sourcePort": { $0.sourcePort = 1001 },
            "destinationPort": { $0.destinationPort = 8081 },
            "ctstate": { $0.ctstate = [.related] },
            "ctOrigin": { $0.ctOrigin = XTConntrackOrigin(proto: .tcp, address: IPAddress("10.0.0.1")!, port: 80) },
            "mark": { $0.mark = XTMark(7, mask: 0xff) },
            "comment": { $0.comment = "ezlb:db" },
            "target": { $0.target = .masquerade },
        ], digest: digest)
        // The hook's jumps count, by position too; other chains and other rules of the hook do not.
        let st = XTTableState(ref: ref, chains: ["EZLB-SNAT": [base], "POSTROUTING": [.jump(to: "EZLB-SNAT")], "OTHER": [base]])
        var moved = st
        moved.chains["POSTROUTING"] = [XTRule(target: .accept), .jump(to: "EZLB-SNAT")]
        var foreign = st
        foreign.chains["OTHER"] = []
        let d = FakeXTBackend.digest(st, ref: ref, scope: scope)
        XCTAssertNotEqual(FakeXTBackend.digest(moved, ref: ref, scope: scope), d)
        XCTAssertEqual(FakeXTBackend.digest(foreign, ref: ref, scope: scope), d)
        var gone = st
        gone.chains["EZLB-SNAT"] = nil
        var empty = st
        empty.chains["EZLB-SNAT"] = []
        XCTAssertNotEqual(FakeXTBackend.digest(gone, ref: ref, scope: scope), FakeXTBackend.digest(empty, ref: ref, scope: scope), "absent is not empty")
    }

    func testEveryFieldOfAnXfrmObjectCounts() {
        let ip = { (s: String) in IPAddress(s)! }
        let pfx = { (s: String) in try! XfrmPrefix.parse(s).get() }
        let policy = XfrmPolicy(dir: .out, selector: XfrmSelector(src: pfx("10.244.1.0/26"), dst: pfx("10.10.0.0/24")), priority: 31_000,
                                templates: [XfrmTemplate(src: ip("192.168.0.1"), dst: ip("192.168.1.10"), reqid: 1)])
        let state = XfrmState(id: XfrmStateID(src: ip("192.168.1.10"), dst: ip("192.168.0.1"), spi: 0x1234), reqid: 1,
                              aead: "rfc4106(gcm(aes))", key: XfrmKey(Array(0..<20)), icvBits: 128)
        assertEveryFieldCounts(policy, [
            "dir": { $0.dir = .in },
            "selector": { $0.selector.dst = pfx("10.10.1.0/24") },
            "priority": { $0.priority = 31_001 },
            "templates": { $0.templates[0].reqid = 2 },
            "other": { $0.other = "mark 1" },
        ], digest: { FakeXfrmBackend.digest(XfrmTables(policies: [$0], states: [state]))! })
        assertEveryFieldCounts(state, [
            "id": { $0.id.spi = 0x1235 },
            "reqid": { $0.reqid = 2 },
            "aead": { $0.aead = "rfc4106(gcm(aes))x" },
            "key": { $0.key = XfrmKey(Array(1..<21)) },
            "icvBits": { $0.icvBits = 96 },
            "replayWindow": { $0.replayWindow = 64 },
            "other": { $0.other = "x" },
        ], digest: { FakeXfrmBackend.digest(XfrmTables(policies: [policy], states: [$0]))! })
        XCTAssertEqual(FakeXfrmBackend.digest(XfrmTables(policies: [policy, policy.with(priority: 1)], states: [state])),
                       FakeXfrmBackend.digest(XfrmTables(policies: [policy.with(priority: 1), policy], states: [state])), "order does not count")
    }

    /// The construction itself: the ordered part depends on order and framing, the multiset
    /// part does not depend on order but on every element and on how many there are.
    func testConstruction() {
        func ordered(_ parts: [[UInt8]]) -> [UInt8] { let d = StateDigest(); for p in parts { d.update(p) }; return d.finish("t") }
        func unordered(_ parts: [[UInt8]]) -> [UInt8] { let d = StateDigest(); for p in parts { d.element(p) }; return d.finish("t") }
        XCTAssertNotEqual(ordered([[1], [2]]), ordered([[2], [1]]))
        XCTAssertEqual(unordered([[1], [2]]), unordered([[2], [1]]))
        XCTAssertNotEqual(unordered([[1], [2]]), unordered([[1, 2]]))
        XCTAssertNotEqual(unordered([[1]]), unordered([[1], [1]]))
        XCTAssertNotEqual(unordered([]), unordered([[]]))
        XCTAssertNotEqual(ordered([[1]]), unordered([[1]]))
        let d = StateDigest()
        d.update([1])
        XCTAssertNotEqual(d.finish("a"), ordered([[1]]), "the label counts")
        let long = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var flipped = long
        flipped[9_999] ^= 1
        XCTAssertNotEqual(ordered([long]), ordered([flipped]))
        XCTAssertNotEqual(unordered([long]), unordered([flipped]))
    }
}

extension XfrmPolicy {
    func with(priority: UInt32) -> XfrmPolicy {
        var p = self
        p.priority = priority
        return p
    }
}
