import EzlbCore
import EzlbIPAM
@testable import EzlbState
import Foundation
import XCTest

/// Every state file through the one mechanism (`StateFile`): round trips, the files an
/// earlier ezlb (f81f4c7, Codable writers) left still read, and bad values named by key path.
final class StateFileTests: XCTestCase {
    var dir: StateDirectory!

    override func setUp() {
        dir = StateDirectory(path: NSTemporaryDirectory() + "ezlb-statefile-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir.path) }

    func roundTrip<F: StateFile & Equatable>(_ value: F) throws {
        XCTAssertNil(try dir.load(F.self))
        try dir.store(value)
        XCTAssertEqual(try dir.load(F.self), value)
        XCTAssertEqual(try F(stateJSON: value.stateJSON), value)
    }

    func testRoundTrips() throws {
        try roundTrip(IPVSOwnership(services: [.fwmark(3, .ipv6): "b", .inet(.tcp, try Endpoint.parse("10.0.0.1:80").get()): "a"]))
        try roundTrip(SNATOwnership(chains: [ManagedChainID(ref: XTTableRef(.ipv6, .filter), name: "EZLB-FORWARD", hook: "FORWARD")]))
        var t = HealthTable()
        let e = try Endpoint.parse("10.0.0.2:80").get()
        t.records[HealthKey(service: "web", backend: e)] = BackendHealth(service: "web", backend: e, healthy: false, successes: 0,
                                                                         failures: 3, lastProbe: 1_764_000_000.5, lastError: "refused", since: 1_764_000_000)
        t.sorry["web"] = try Endpoint.parse("10.0.0.9:80").get()
        try roundTrip(HealthStateFile(t))
        try roundTrip(XfrmOwnership(priority: 31000, reqidFirst: 1, reqidLast: UInt32.max, local: IPAddress("2001:db8::1"),
                                    peers: [.init(peer: IPAddress("192.168.1.11")!, reqid: 7)],
                                    rotation: XfrmRotation(out: 3, outSince: 1_763_716_800.25,
                                                           accepting: [.init(generation: 2, since: 1_763_716_000), .init(generation: 3, since: 1e-5)])))
        try roundTrip(BridgeState(bridges: [
            .init(name: "ezbr1", subnet: "10.88.0.0/16", gateway: "10.88.0.1", mtu: 1500, mac: "02:00:00:00:00:01", masquerade: true,
                  connections: [.init(owner: "c\"1", netns: "/run/netns/a", ifname: "eth0", hostVeth: "ezab12", ip: "10.88.0.2", mac: "02:aa:00:00:00:02")]),
        ]))
    }

    /// Files as ezlb f81f4c7 wrote them.
    func testFilesOfTheEarlierWritersRead() throws {
        try dir.ensureExists()
        let files: [(String, String)] = [
            ("ipvs.json", #"{"data":{"services":{"tcp 10.0.0.1:80":"web"}},"kind":"ipvs","schema":2}"#),
            ("ipvs.json", #"{"schema":1,"kind":"ipvs","data":{"services":[{"key":{"protocol":"tcp","address":"10.0.0.1","port":80},"name":"web"}]}}"#),
            ("snat.json", #"{"data":{"chains":[{"hook":"POSTROUTING","name":"EZLB-SNAT","ref":{"family":"ipv4","table":"nat"}}]},"kind":"snat","schema":1}"#),
            ("health.json", #"{"data":{"backends":[{"backend":"127.0.0.1:1","failures":1,"healthy":true,"last_error":"connect: connection refused","last_probe":1796562506.6330924,"service":"web","successes":0}],"sorry":{}},"kind":"health","schema":1}"#),
        ]
        for (name, text) in files {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir.file(name)))
            switch name {
            case "ipvs.json": XCTAssertEqual(try dir.load(IPVSOwnership.self)?.services.values.sorted(), ["web"])
            case "snat.json": XCTAssertEqual(try dir.load(SNATOwnership.self)?.chains.map(\.name), ["EZLB-SNAT"])
            default: XCTAssertEqual(try dir.readHealth().records.first?.value.lastProbe, 1796562506.6330924)
            }
        }
    }

    func testBadValuesNameTheirKeyPath() throws {
        let cases: [(String, String)] = [
            (#"{"priority":1,"reqid_first":1,"peers":[]}"#, "missing key data.reqid_last"),
            (#"{"priority":-1,"reqid_first":1,"reqid_last":2,"peers":[]}"#, "invalid value at data.priority: out of range"),
            (#"{"priority":1,"reqid_first":1,"reqid_last":2,"peers":[{"peer":"x","reqid":1}]}"#,
             "invalid value at data.peers[0].peer: 'x' is not an IP address"),
            (#"{"priority":1,"reqid_first":1,"reqid_last":2,"peers":[],"rotation":{"out":1,"out_since":"a","accepting":[]}}"#,
             "wrong type at data.rotation.out_since"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try XfrmOwnership(stateJSON: JSONValue.parse(Array(text.utf8))), text) { e in XCTAssertEqual("\(e)", message, text) }
        }
        let bridges: [(String, String)] = [
            (#"{"bridges":[{"name":"b","subnet":"s","gateway":"g","mtu":"1500","mac":"m","masquerade":true,"connections":[]}]}"#,
             "wrong type at data.bridges[0].mtu"),
            (#"{"bridges":[{"name":"b","subnet":"s","gateway":"g","mtu":1500,"mac":"m","masquerade":true,"connections":[{"owner":"o"}]}]}"#,
             "missing key data.bridges[0].connections[0].netns"),
        ]
        for (text, message) in bridges {
            XCTAssertThrowsError(try BridgeState(stateJSON: JSONValue.parse(Array(text.utf8))), text) { e in XCTAssertEqual("\(e)", message, text) }
        }
        XCTAssertThrowsError(try HealthStateFile(stateJSON: JSONValue.parse(Array(#"{"backends":[{"service":"w","backend":"1.2.3.4:1","healthy":true,"successes":-1,"failures":0}]}"#.utf8)))) { e in
            XCTAssertEqual("\(e)", "invalid value at data.backends[0].successes: -1 is not a count in 0...1000000")
        }
    }
}
