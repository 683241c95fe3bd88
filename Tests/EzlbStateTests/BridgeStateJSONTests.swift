import EzlbCore
@testable import EzlbState
import Foundation
import XCTest

/// bridges.json's hand-written codec against the Codable layout it replaced.
final class BridgeStateJSONTests: XCTestCase {
    let sample = BridgeState(bridges: [
        .init(name: "ezbr1", subnet: "10.88.0.0/16", gateway: "10.88.0.1", mtu: 1500, mac: "02:00:00:00:00:01", masquerade: true,
              connections: [.init(owner: "c\"1", netns: "/run/netns/a", ifname: "eth0", hostVeth: "vethab12", ip: "10.88.0.2/16", mac: "02:aa:00:00:00:02")]),
        .init(name: "ezbr0", subnet: "fd00::/64", gateway: "fd00::1", mtu: 9000, mac: "02:00:00:00:00:02", masquerade: false),
    ])

    func testRoundTripBothWays() throws {
        XCTAssertEqual(try BridgeState(json: sample.json), sample)
        let codable = try JSONEncoder().encode(sample)
        XCTAssertEqual(try BridgeState(json: JSONValue.parse([UInt8](codable))), sample)
        XCTAssertEqual(try JSONDecoder().decode(BridgeState.self, from: Data(sample.json.prettyText.utf8)), sample)
        let dir = StateDirectory(path: NSTemporaryDirectory() + "bridge-json-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        XCTAssertEqual(try dir.readBridgeState(), BridgeState())
        try dir.writeBridgeState(sample)
        XCTAssertEqual(try dir.readBridgeState(), sample)
    }

    func testShapeErrors() {
        let cases: [(String, String)] = [
            (#"{"bridges":[{"name":"b","subnet":"s","gateway":"g","mtu":"1500","mac":"m","masquerade":true,"connections":[]}]}"#,
             "wrong type at data.bridges[0].mtu"),
            (#"{"bridges":[{"name":"b","subnet":"s","gateway":"g","mtu":1500,"mac":"m","masquerade":1,"connections":[]}]}"#,
             "wrong type at data.bridges[0].masquerade"),
            (#"{"bridges":[{"name":"b","subnet":"s","gateway":"g","mtu":1500,"mac":"m","masquerade":true,"connections":[{"owner":"o"}]}]}"#,
             "missing key data.bridges[0].connections[0].netns"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try BridgeState(json: JSONValue.parse(Array(text.utf8))), text) { e in
                XCTAssertEqual("\(e)", message, text)
            }
        }
    }
}
