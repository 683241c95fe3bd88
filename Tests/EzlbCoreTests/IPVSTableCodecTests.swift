@testable import EzlbCore
import XCTest

final class IPVSTableCodecTests: XCTestCase {
    func sample() -> IPVSTableCodec.Table {
        let v4 = ServiceKey.inet(.sctp, try! Endpoint.parse("10.0.0.1:3868").get())
        let v6 = ServiceKey.inet(.tcp, try! Endpoint.parse("[2001:db8::1]:443").get())
        let fw = ServiceKey.fwmark(4_000_000_000, .ipv6)
        let d = { (s: String, w: UInt32, f: ForwardMethod) in
            RealServer(endpoint: try! Endpoint.parse(s, portOptional: true).get(), weight: w, forward: f, upperThreshold: 9, lowerThreshold: 3)
        }
        return IPVSTableCodec.Table(services: [
            ("a", IPVSServiceState(service: VirtualService(key: v4, scheduler: "wrr", flags: IPVSFlags.persistent, timeout: 300, netmask: 0xFFFF_FF00),
                                   destinations: [d("192.168.1.1:3868", 0, .masq), d("192.168.1.2:3868", 65535, .tunnel)])),
            ("b ü", IPVSServiceState(service: VirtualService(key: v6, scheduler: "sh", flags: IPVSFlags.sched1 | IPVSFlags.sched2), destinations: [])),
            ("c", IPVSServiceState(service: VirtualService(key: fw, scheduler: "mh"), destinations: [d("[2001:db8::9]:0", 1, .route)])),
        ], notes: ["Wfile: x: unknown key, ignored", "Ifile: global: accepted"], health: [
            "a": HealthCheckSpec(kind: .http, interval: 0.25, timeout: 1.5, failCount: 4, riseCount: 1, httpPath: "/healthz?x=1",
                                 httpExpectedStatus: 204, httpHost: "web.example", onUnhealthy: .remove,
                                 sorryServer: d("192.168.9.9:3868", 1, .masq)),
            "c": HealthCheckSpec(kind: .exec, command: ["/usr/local/bin/check", "--port", "ü"]),
        ])
    }

    func testRoundTrip() {
        let t = sample()
        let bytes = IPVSTableCodec.encode(t, tag: [1, 2, 3])
        XCTAssertEqual(IPVSTableCodec.decode(bytes, tag: [1, 2, 3]), t)
        XCTAssertEqual(IPVSTableCodec.decode(bytes, tag: [1, 2, 3])?.health["a"]?.sorryServer?.endpoint.port, 3868)
        var other = t
        other.health["c"]?.command = ["/usr/local/bin/check"]
        XCTAssertNotEqual(IPVSTableCodec.decode(bytes, tag: [1, 2, 3]), other, "health specs take part in equality")
    }

    func testOtherTagTruncationAndGarbageAreMisses() {
        let bytes = IPVSTableCodec.encode(sample(), tag: [1, 2, 3])
        XCTAssertNil(IPVSTableCodec.decode(bytes, tag: [1, 2, 4]))
        for cut in [0, 5, bytes.count / 2, bytes.count - 1] {
            XCTAssertNil(IPVSTableCodec.decode(Array(bytes.prefix(cut)), tag: [1, 2, 3]), "cut at \(cut)")
        }
        XCTAssertNil(IPVSTableCodec.decode(bytes + [0], tag: [1, 2, 3]), "trailing bytes")
        XCTAssertNil(IPVSTableCodec.decode(Array("{\"schema\":1}".utf8), tag: [1, 2, 3]))
    }
}

final class OwnershipCodecTests: XCTestCase {
    func testKeysRoundTripAndMisses() {
        let entries: [(key: ServiceKey, name: String)] = [
            (.inet(.tcp, try! Endpoint.parse("10.0.0.1:80").get()), "web"),
            (.fwmark(9, .ipv6), "m"),
            (.inet(.udp, try! Endpoint.parse("[2001:db8::1]:53").get()), "dns"),
        ]
        let bytes = IPVSTableCodec.encodeKeys(entries, tag: [7])
        let back = IPVSTableCodec.decodeKeys(bytes, tag: [7])
        XCTAssertEqual(back?.map(\.key), entries.map(\.key))
        XCTAssertEqual(back?.map(\.name), entries.map(\.name))
        XCTAssertNil(IPVSTableCodec.decodeKeys(bytes, tag: [8]))
        XCTAssertNil(IPVSTableCodec.decodeKeys(Array(bytes.dropLast()), tag: [7]))
        // A table file is not a key file, and the other way round.
        XCTAssertNil(IPVSTableCodec.decode(bytes, tag: [7]))
        XCTAssertNil(IPVSTableCodec.decodeKeys(IPVSTableCodec.encode(.init(services: [], notes: []), tag: [7]), tag: [7]))
    }
}
