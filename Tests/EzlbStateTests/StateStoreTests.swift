import EzlbCore
@testable import EzlbState
import Foundation
import XCTest

final class StateStoreTests: XCTestCase {
    var dir: StateDirectory!

    override func setUp() {
        let p = NSTemporaryDirectory() + "ezlb-state-\(UUID().uuidString)"
        dir = StateDirectory(path: p)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir.path)
    }

    func testRoundTripWithSchemaAndKind() throws {
        let o = IPVSOwnership(services: [.init(key: .fwmark(3, .ipv6), name: "b"),
                                         .init(key: .inet(.tcp, Endpoint(address: IPAddress("10.0.0.1")!, port: 80)), name: "a")])
        try dir.writeIPVSOwnership(o)
        XCTAssertEqual(try dir.readIPVSOwnership(), o)
        let text = try String(contentsOfFile: dir.file("ipvs.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"schema\" : 1"), text)
        XCTAssertTrue(text.contains("\"kind\" : \"ipvs\""), text)
        // No temp files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp") }, [])
    }

    func testMissingFileIsEmpty() throws {
        XCTAssertEqual(try dir.readIPVSOwnership(), IPVSOwnership())
    }

    func testTruncatedAndCorruptedFilesAreClearErrors() throws {
        try dir.writeIPVSOwnership(IPVSOwnership(services: [.init(key: .fwmark(1, .ipv4), name: "x")]))
        let full = try Data(contentsOf: URL(fileURLWithPath: dir.file("ipvs.json")))
        for bad in [full.prefix(full.count / 2), Data(), Data("{\"schema\":1,\"kind\":\"ipvs\",\"data\":{\"services\":[{\"name\":1}]}}".utf8),
                    Data("{\"schema\":1,\"kind\":\"bridge\",\"data\":{}}".utf8), Data([0xff, 0xfe, 0x00])] {
            try bad.write(to: URL(fileURLWithPath: dir.file("ipvs.json")))
            XCTAssertThrowsError(try dir.readIPVSOwnership()) { e in
                guard case .corrupted(let p, _, let recovery)? = e as? StateError else { return XCTFail("\(e)") }
                XCTAssertEqual(p, dir.file("ipvs.json"))
                XCTAssertTrue(recovery.contains("--adopt"))
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
    }

    func testNewerSchemaRefused() throws {
        try dir.ensureExists()
        try Data("{\"schema\":99,\"kind\":\"ipvs\",\"data\":{\"services\":[]}}".utf8).write(to: URL(fileURLWithPath: dir.file("ipvs.json")))
        XCTAssertThrowsError(try dir.readIPVSOwnership()) { e in
            XCTAssertEqual(e as? StateError, .newerSchema(path: dir.file("ipvs.json"), found: 99, supported: 1))
        }
    }

    func testLockIsExclusiveAcrossOpenFileDescriptions() throws {
        var l1: FileLock? = try dir.lock("ipvs", timeoutSeconds: 5)
        XCTAssertThrowsError(try dir.lock("ipvs", timeoutSeconds: 0)) { e in
            guard case .lockTimeout? = e as? StateError else { return XCTFail("\(e)") }
        }
        XCTAssertNotNil(l1)
        l1 = nil
        _ = try dir.lock("ipvs", timeoutSeconds: 0) // released with l1
    }

    func testQuarantineMovesFileAside() throws {
        try dir.writeIPVSOwnership(IPVSOwnership())
        let moved = dir.quarantine("ipvs.json")
        XCTAssertNotNil(moved)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ipvs.json")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: moved!))
    }
}
