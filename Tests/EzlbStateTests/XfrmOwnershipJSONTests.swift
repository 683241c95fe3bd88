import EzlbCore
@testable import EzlbState
import Foundation
import XCTest

/// xfrm.json's hand-written codec against the Codable layout it replaced.
final class XfrmOwnershipJSONTests: XCTestCase {
    func samples() -> [XfrmOwnership] {
        [
            XfrmOwnership(priority: 31000, reqidFirst: 0x0E21_0000, reqidLast: 0x0E21_FFFF),
            XfrmOwnership(priority: 31000, reqidFirst: 1, reqidLast: UInt32.max, local: IPAddress("2001:db8::1"),
                          peers: [.init(peer: IPAddress("192.168.1.11")!, reqid: 7), .init(peer: IPAddress("192.168.1.10")!, reqid: 9)],
                          rotation: XfrmRotation(out: 3, outSince: 1_763_716_800.25,
                                                 accepting: [.init(generation: 2, since: 1_763_716_000), .init(generation: 3, since: 1e-5)])),
        ]
    }

    func testRoundTripBothWays() throws {
        for s in samples() {
            XCTAssertEqual(try XfrmOwnership(json: s.json), s)
            let codable = try JSONEncoder().encode(s)
            XCTAssertEqual(try XfrmOwnership(json: JSONValue.parse([UInt8](codable))), s)
            XCTAssertEqual(try JSONDecoder().decode(XfrmOwnership.self, from: Data(s.json.prettyText.utf8)), s)
        }
    }

    func testThroughTheStateDirectory() throws {
        let dir = StateDirectory(path: NSTemporaryDirectory() + "xfrm-json-\(getpid())")
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        XCTAssertNil(try dir.readXfrmOwnership())
        for s in samples() {
            try dir.writeXfrmOwnership(s)
            XCTAssertEqual(try dir.readXfrmOwnership(), s)
        }
    }

    func testShapeErrors() {
        let cases: [(String, String)] = [
            (#"{"priority":1,"reqid_first":1,"peers":[]}"#, "missing key data.reqid_last"),
            (#"{"priority":-1,"reqid_first":1,"reqid_last":2,"peers":[]}"#, "invalid value at data.priority: out of range"),
            (#"{"priority":1,"reqid_first":1,"reqid_last":2,"peers":[{"peer":"x","reqid":1}]}"#,
             "invalid value at data.peers[0].peer: 'x' is not an IP address"),
            (#"{"priority":1,"reqid_first":1,"reqid_last":2,"peers":[],"rotation":{"out":1,"out_since":"a","accepting":[]}}"#,
             "wrong type at data.rotation.out_since"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try XfrmOwnership(json: JSONValue.parse(Array(text.utf8))), text) { e in
                XCTAssertEqual("\(e)", message, text)
            }
        }
    }
}
