@testable import EzlbPlanner
import XCTest

final class BridgeNamesTests: XCTestCase {
    func testVethNamesAreShortStableAndDistinct() {
        XCTAssertEqual(BridgeNames.hostVeth(bridge: "br0", owner: "c1"), BridgeNames.hostVeth(bridge: "br0", owner: "c1"))
        var seen: Set<String> = []
        for b in ["br0", "br1", "a-very-long-br"] {
            for i in 0..<30_000 {
                let owner = i % 2 == 0 ? "c\(i)" : String(repeating: "f", count: 64) + "\(i)"
                let h = BridgeNames.hostVeth(bridge: b, owner: owner)
                XCTAssertLessThanOrEqual(h.utf8.count, 15)
                XCTAssertNil(BridgeNames.invalidInterfaceName(h))
                XCTAssertTrue(seen.insert(h).inserted, "collision \(h)")
            }
        }
        // Owners that differ in one character give unrelated names.
        let a = BridgeNames.hostVeth(bridge: "br0", owner: "c1"), b = BridgeNames.hostVeth(bridge: "br0", owner: "c2")
        XCTAssertGreaterThan(zip(a, b).filter { $0 != $1 }.count, 6)
    }

    func testMACsAreLocallyAdministeredUnicast() {
        for s in ["br0", "docker0", "x"] {
            let m = BridgeNames.bridgeMAC(s)
            XCTAssertEqual(m, BridgeNames.bridgeMAC(s))
            let parts = m.split(separator: ":")
            XCTAssertEqual(parts.count, 6)
            XCTAssertEqual(parts[0], "02")
        }
        XCTAssertNotEqual(BridgeNames.containerMAC(bridge: "br0", owner: "a"), BridgeNames.containerMAC(bridge: "br0", owner: "b"))
    }

    func testInterfaceNameRules() {
        XCTAssertNil(BridgeNames.invalidInterfaceName("eth0"))
        XCTAssertNil(BridgeNames.invalidInterfaceName("br-123456789012"))
        for bad in ["", "br-1234567890123", "a/b", "a b", "a:b", ".", "..", "é"] {
            XCTAssertNotNil(BridgeNames.invalidInterfaceName(bad), bad)
        }
        XCTAssertEqual(BridgeNames.natChain("br0"), "EZLB-BR-br0")
    }
}
