import EzlbCore
@testable import EzlbPlanner
import XCTest

/// The directly rendered JSON of report actions must be byte for byte what
/// the generic `JSONValue` rendering of the same object gives.
final class RenderingTests: XCTestCase {
    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

    func testIPVSActionJSONMatchesTheGenericRendering() {
        let k4 = ServiceKey.inet(.tcp, ep("10.0.0.1:80")), k6 = ServiceKey.inet(.udp, ep("[2001:db8::1]:53")), fw = ServiceKey.fwmark(7, .ipv4)
        let s1 = VirtualService(key: k4, scheduler: "wrr", flags: IPVSFlags.persistent, timeout: 300, netmask: 0xFFFF_FF00)
        let s2 = VirtualService(key: k6, scheduler: "sh", flags: IPVSFlags.sched1 | IPVSFlags.sched2)
        let s3 = VirtualService(key: fw, scheduler: "we\"ird")
        let d1 = RealServer(endpoint: ep("192.168.1.10:8080"), weight: 5, forward: .masq, upperThreshold: 100, lowerThreshold: 10)
        let d2 = RealServer(endpoint: ep("[2001:db8::10]:53"), weight: 0, forward: .tunnel, upperThreshold: 0, lowerThreshold: 0)
        let ops: [IPVSOperation] = [
            .addService(s1), .addService(s2), .addService(s3), .updateService(from: s1, to: s3), .deleteService(s2),
            .addDestination(k4, d1), .addDestination(k6, d2), .updateDestination(k4, from: d1, to: d2), .deleteDestination(fw, d1),
        ]
        for op in ops {
            for (done, error, reason) in [(true, nil, nil), (false, "kernel said \"no\"\n", nil), (true, nil, "unhealthy: 3 failures")] as [(Bool, String?, String?)] {
                var j = IPVSFormat.json(op, reason: reason)
                j["done"] = .bool(done)
                if let e = error { j["error"] = .string(e) }
                XCTAssertEqual(IPVSFormat.jsonText(op, done: done, error: error, reason: reason), JSONValue.object(j).text)
            }
        }
        for s in [s1, s2, s3] { XCTAssertEqual(IPVSFormat.serviceJSONText(s).text, IPVSFormat.serviceJSON(s).text) }
        for d in [d1, d2] { XCTAssertEqual(IPVSFormat.destJSONText(d).text, IPVSFormat.destJSON(d).text) }
        XCTAssertEqual(IPVSFormat.text(.addService(s1)), "+ service tcp 10.0.0.1:80 wrr persistent 300 netmask 255.255.255.0")
        XCTAssertEqual(IPVSFormat.text(.addDestination(k4, d1)), "+ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 masq weight 5 upper 100 lower 10")
        XCTAssertEqual(IPVSFormat.text(.addService(s2)), "+ service udp [2001:db8::1]:53 sh flags sh-fallback,sh-port")
    }

    func testXTChangeJSONMatchesTheGenericRendering() {
        let ref = XTTableRef(.ipv4, .nat)
        let r = XTRule(destination: XTPrefix(IPAddress("192.168.1.10")!), proto: .tcp, destinationPort: 8080, comment: "ezlb:we\"b", target: .snat(IPAddress("10.0.0.3")!))
        var first = XTChange(kind: .addJump, ref: XTTableRef(.ipv6, .filter), chain: "FORWARD", rule: .jump(to: "EZLB-FORWARD"))
        first.insertedFirst = true
        let changes = [XTChange(kind: .addChain, ref: ref, chain: "EZLB-SNAT", rule: nil), XTChange(kind: .addRule, ref: ref, chain: "EZLB-SNAT", rule: r),
                       XTChange(kind: .deleteRule, ref: ref, chain: "EZLB-SNAT", rule: r), first,
                       XTChange(kind: .deleteChain, ref: ref, chain: "EZLB-SNAT", rule: nil)]
        for c in changes {
            for (done, error) in [(true, nil), (false, "ip4 nat: iptc_commit: \"busy\"")] as [(Bool, String?)] {
                var j = c.json
                j["done"] = .bool(done)
                if let e = error { j["error"] = .string(e) }
                let rendered = c.rendered(done: done, error: error)
                XCTAssertEqual(rendered.json, JSONValue.object(j).text)
                XCTAssertEqual(rendered.text, c.text)
            }
        }
    }
}

final class FullNATCodecTests: XCTestCase {
    func sample() -> [FullNATService] {
        [FullNATService(name: "web ü", proto: .tcp, backends: [try! Endpoint.parse("192.168.1.10:8080").get(), try! Endpoint.parse("[2001:db8::1]:443").get()],
                        snatIP: IPAddress("10.0.0.3")),
         FullNATService(name: "marked", proto: nil, backends: [try! Endpoint.parse("192.168.5.10", portOptional: true).get()], snatIP: nil),
         FullNATService(name: "v6", proto: .sctp, backends: [], snatIP: IPAddress("2001:db8::3"))]
    }

    func testRoundTripAndMisses() {
        let bytes = FullNATCodec.encode(sample(), warnings: ["f: x: unknown key, ignored"], tag: [9, 8])
        let back = FullNATCodec.decode(bytes, tag: [9, 8])
        XCTAssertEqual(back?.services, sample())
        XCTAssertEqual(back?.warnings, ["f: x: unknown key, ignored"])
        XCTAssertNil(FullNATCodec.decode(bytes, tag: [9, 9]))
        for cut in [0, 7, bytes.count / 2, bytes.count - 1] { XCTAssertNil(FullNATCodec.decode(Array(bytes.prefix(cut)), tag: [9, 8]), "cut \(cut)") }
        XCTAssertNil(FullNATCodec.decode(bytes + [0], tag: [9, 8]))
        XCTAssertNil(FullNATCodec.decode(Array("garbage".utf8), tag: [9, 8]))
        XCTAssertEqual(FullNATCodec.decode(FullNATCodec.encode([], warnings: [], tag: []), tag: [])?.services, [])
    }
}
