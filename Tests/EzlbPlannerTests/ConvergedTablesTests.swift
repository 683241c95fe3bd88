@testable import EzlbPlanner
import EzlbCore
import XCTest

/// What `snat-kernel.cache` is keyed on and holds.
final class ConvergedTablesTests: XCTestCase {
    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

    func services() -> [FullNATService] {
        [FullNATService(name: "web", proto: .tcp, backends: [ep("192.168.1.10:8080"), ep("192.168.1.11:8080")], snatIP: IPAddress("10.0.0.3")),
         FullNATService(name: "dns", proto: .udp, backends: [ep("192.168.1.20:53")], snatIP: nil),
         FullNATService(name: "v6", proto: .sctp, backends: [ep("[2001:db8::10]:3868")], snatIP: nil)]
    }

    struct Health: BackendHealthView {
        var unhealthy: Set<Endpoint> = []
        var sorry: [String: Endpoint] = [:]
        func isHealthy(service: String, backend: Endpoint) -> Bool { !unhealthy.contains(backend) }
        func extraBackends(service: String) -> [Endpoint] { sorry[service].map { [$0] } ?? [] }
    }

    func testInputDigestFollowsEveryInputOfTheChains() {
        let base = SNATRules.inputDigest(services(), health: Health())
        XCTAssertEqual(base.count, 32)
        XCTAssertEqual(SNATRules.inputDigest(services(), health: Health()), base, "deterministic")
        XCTAssertEqual(SNATRules.inputDigest(services(), health: AllBackendsHealthy()), base)
        var variants: [(String, [FullNATService], Health)] = []
        func edit(_ what: String, _ change: (inout [FullNATService]) -> Void) {
            var s = services()
            change(&s)
            variants.append((what, s, Health()))
        }
        edit("name") { $0[0].name = "web2" }
        edit("proto") { $0[1].proto = .tcp }
        edit("no proto (fwmark)") { $0[1].proto = nil }
        edit("snat ip") { $0[0].snatIP = IPAddress("10.0.0.4") }
        edit("masquerade") { $0[0].snatIP = nil }
        edit("backend address") { $0[0].backends[1] = self.ep("192.168.1.12:8080") }
        edit("backend port") { $0[0].backends[1] = self.ep("192.168.1.11:8081") }
        edit("backend removed") { $0[0].backends.removeLast() }
        edit("backends reordered") { $0[0].backends.reverse() }
        edit("services reordered") { $0.swapAt(0, 1) }
        edit("service removed") { $0.removeLast() }
        variants.append(("unhealthy backend", services(), Health(unhealthy: [ep("192.168.1.11:8080")])))
        variants.append(("sorry server in use", services(), Health(sorry: ["web": ep("192.168.9.9:8080")])))
        var seen: [[UInt8]: String] = [:]
        for (what, s, h) in variants {
            let d = SNATRules.inputDigest(s, health: h)
            XCTAssertNotEqual(d, base, what)
            XCTAssertNil(seen[d], "\(what) and \(seen[d] ?? "") collide")
            seen[d] = what
        }
        // The health of a backend of another service, or of no service, is not an input.
        XCTAssertEqual(SNATRules.inputDigest(services(), health: Health(unhealthy: [ep("10.1.1.1:1")])), base)
    }

    func testDigestScopeNamesManagedChainsAndHooks() {
        let ref = XTTableRef(.ipv4, .nat)
        let d = [ManagedChain(ref: ref, name: "EZLB-SNAT", hook: "POSTROUTING", position: .append, rules: [])]
        let o = [ManagedChainID(ref: ref, name: "EZLB-SNAT", hook: "POSTROUTING"), ManagedChainID(ref: ref, name: "EZLB-OLD", hook: "PREROUTING")]
        XCTAssertEqual(ManagedChainPlanner.digestScope(desired: d, owned: o),
                       XTDigestScope(chains: ["EZLB-SNAT", "EZLB-OLD"], hooks: ["POSTROUTING", "PREROUTING"]))
        XCTAssertEqual(ManagedChainPlanner.digestScope(desired: [], owned: []), XTDigestScope(chains: [], hooks: []))
    }

    func testCacheRoundTripAndMisses() {
        let tables = [
            ConvergedTables.Table(ref: XTTableRef(.ipv4, .nat), scope: XTDigestScope(chains: ["EZLB-SNAT"], hooks: ["POSTROUTING"]),
                                  digest: Array(0..<16)),
            ConvergedTables.Table(ref: XTTableRef(.ipv6, .filter), scope: XTDigestScope(chains: ["EZLB-FORWARD"], hooks: ["FORWARD"]),
                                  digest: Array(16..<32)),
        ]
        let key: [UInt8] = [1, 2, 3]
        let bytes = ConvergedTables(key: key, tables: tables).encode()
        XCTAssertEqual(ConvergedTables.decode(bytes, key: key), tables)
        XCTAssertNil(ConvergedTables.decode(bytes, key: [1, 2, 4]), "another key")
        XCTAssertNil(ConvergedTables.decode(bytes, key: [1, 2]))
        for cut in [0, 8, bytes.count / 2, bytes.count - 1] { XCTAssertNil(ConvergedTables.decode(Array(bytes.prefix(cut)), key: key), "cut \(cut)") }
        XCTAssertNil(ConvergedTables.decode(bytes + [0], key: key))
        XCTAssertNil(ConvergedTables.decode(Array("garbage".utf8), key: key))
        XCTAssertNil(ConvergedTables.decode(ConvergedTables(key: key, tables: []).encode(), key: key), "no table: nothing to vouch for")
        var bad = bytes
        bad[bytes.count - 17] = 7 // the last table's digest length (u32 before its 16 bytes): one no one writes
        XCTAssertNil(ConvergedTables.decode(bad, key: key))
    }
}
