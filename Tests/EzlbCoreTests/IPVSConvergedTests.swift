import EzlbCore
import XCTest

final class IPVSConvergedTests: XCTestCase {
    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

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

    func testOrderDoesNotMatter() {
        var t = table
        let d = IPVSConverged.digest(t)
        XCTAssertEqual(d.count, 16)
        t.reverse()
        t[2].destinations.reverse()
        XCTAssertEqual(IPVSConverged.digest(t), d)
        XCTAssertEqual(IPVSConverged.digest(table), d, "deterministic")
    }

    /// Every field the planner compares changes the digest.
    func testEveryFieldCounts() {
        let base = IPVSConverged.digest(table)
        var variants: [(String, ([IPVSServiceState]) -> [IPVSServiceState])] = []
        func v(_ name: String, _ f: @escaping (inout [IPVSServiceState]) -> Void) {
            variants.append((name, { var t = $0; f(&t); return t }))
        }
        v("weight") { $0[0].destinations[0].weight = 4 }
        v("weight 0") { $0[0].destinations[1].weight = 0 }
        v("upper threshold") { $0[0].destinations[0].upperThreshold = 10 }
        v("lower threshold") { $0[0].destinations[0].lowerThreshold = 10 }
        v("forward") { $0[0].destinations[0].forward = .route }
        v("dest port") { $0[0].destinations[0].endpoint = self.ep("192.168.1.10:8081") }
        v("dest address") { $0[0].destinations[0].endpoint = self.ep("192.168.1.12:8080") }
        v("dest added") { $0[2].destinations.append(RealServer(endpoint: self.ep("1.2.3.4:9"))) }
        v("dest removed") { $0[0].destinations.removeLast() }
        v("dest moved to another service") { let d = $0[0].destinations.removeLast(); $0[2].destinations.append(d) }
        v("scheduler") { $0[0].service.scheduler = "rr" }
        v("flags") { $0[0].service.flags = IPVSFlags.persistent }
        v("timeout") { $0[0].service.timeout = 300 }
        v("netmask") { $0[0].service.netmask = 0xffff_ff00 }
        v("protocol") { $0[0].service.key = .inet(.sctp, self.ep("10.0.0.1:80")) }
        v("port") { $0[0].service.key = .inet(.tcp, self.ep("10.0.0.1:81")) }
        v("fwmark") { $0[2].service.key = .fwmark(8, .ipv4) }
        v("fwmark family") { $0[2].service.key = .fwmark(7, .ipv6) }
        v("service removed") { $0.removeLast() }
        v("service added") { $0.append(IPVSServiceState(service: VirtualService(key: .fwmark(9, .ipv4), scheduler: "rr"), destinations: [])) }
        v("v4 vs v4-mapped v6") { $0[0].destinations[0].endpoint = self.ep("[::ffff:192.168.1.10]:8080") }
        var seen: [[UInt8]: String] = [base: "base"]
        for (name, f) in variants {
            let d = IPVSConverged.digest(f(table))
            XCTAssertNil(seen[d], "\(name) collides with \(seen[d] ?? "")")
            seen[d] = name
        }
    }

    func testCacheRecordMatchesOnlyTheSameVersionsAndDigest() {
        let raw = IPVSConverged.encode(configTag: [1, 2], ownedTag: [3], digest: [9, 9])
        XCTAssertTrue(IPVSConverged.matches(raw, configTag: [1, 2], ownedTag: [3], digest: [9, 9]))
        XCTAssertFalse(IPVSConverged.matches(raw, configTag: [1, 2], ownedTag: [3], digest: [9, 8]))
        XCTAssertFalse(IPVSConverged.matches(raw, configTag: [1], ownedTag: [2, 3], digest: [9, 9]), "fields are length-prefixed")
        XCTAssertFalse(IPVSConverged.matches(Array(raw.dropLast()), configTag: [1, 2], ownedTag: [3], digest: [9, 9]))
        XCTAssertFalse(IPVSConverged.matches([], configTag: [], ownedTag: [], digest: []))
    }
}
