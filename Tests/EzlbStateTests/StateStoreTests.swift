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
        let o = IPVSOwnership(services: [.fwmark(3, .ipv6): "b",
                                         .inet(.tcp, Endpoint(address: IPAddress("10.0.0.1")!, port: 80)): "a"])
        try dir.store(o)
        XCTAssertEqual((try dir.load(IPVSOwnership.self) ?? IPVSOwnership()), o)
        let text = try String(contentsOfFile: dir.file("ipvs.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"schema\" : 2"), text)
        XCTAssertTrue(text.contains("\"kind\" : \"ipvs\""), text)
        // No temp files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp") }, [])
    }

    /// Nothing planted in the directory redirects a write or a lock: the temp file has a fresh
    /// name and is created O_EXCL|O_NOFOLLOW, a symlinked lock or state file is refused.
    func testPlantedLinksAreNeverFollowed() throws {
        try dir.ensureExists()
        let victim = dir.path + "-victim"
        defer { unlink(victim) }
        XCTAssertTrue(FileManager.default.createFile(atPath: victim, contents: Data("precious".utf8)))
        // Links at every temp name a process with this pid could use before the change.
        for n in [".ipvs.json.tmp.\(getpid())", ".ipvs.json.tmp.\(getpid()).0"] { XCTAssertEqual(symlink(victim, dir.file(n)), 0) }
        try dir.store(IPVSOwnership(services: [.fwmark(1, .ipv4): "x"]))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
        XCTAssertEqual(symlink(victim, dir.file("snat.lock")), 0)
        XCTAssertThrowsError(try dir.lock("snat")) { XCTAssertEqual(($0 as? StateError)?.exitStatus, .config, "\($0)") }
        XCTAssertEqual(unlink(dir.file("ipvs.json")), 0)
        XCTAssertEqual(symlink(victim, dir.file("ipvs.json")), 0)
        XCTAssertThrowsError(try dir.load(IPVSOwnership.self)) { XCTAssertTrue("\($0)".contains("refusing"), "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
    }

    /// A directory others can write, or that another user owns, is refused before any use.
    func testAnUnsafeDirectoryIsRefused() throws {
        try dir.ensureExists()
        XCTAssertEqual(chmod(dir.path, 0o777), 0)
        XCTAssertThrowsError(try dir.store(IPVSOwnership())) {
            XCTAssertTrue("\($0)".contains("writable by group or others (mode 777)"), "\($0)")
        }
        XCTAssertThrowsError(try dir.load(IPVSOwnership.self))
        XCTAssertThrowsError(try dir.lock("ipvs"))
        XCTAssertEqual(chmod(dir.path, 0o755), 0)
        if geteuid() == 0 {
            XCTAssertEqual(chown(dir.path, 4242, 4242), 0)
            XCTAssertThrowsError(try dir.lock("ipvs")) { XCTAssertTrue("\($0)".contains("owned by uid 4242"), "\($0)") }
            XCTAssertEqual(chown(dir.path, 0, 0), 0)
        }
        XCTAssertNoThrow(try dir.store(IPVSOwnership()))
    }

    /// A killed writer's temp file goes with the next lock taken in the directory; a live one's stays.
    func testDeadWritersTempFilesAreRemoved() throws {
        try dir.ensureExists()
        let dead = dir.file(".ipvs.json.tmp.999999999.abc"), live = dir.file(".ipvs.json.tmp.1.abc")
        for p in [dead, live] { XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data())) }
        _ = try dir.lock("ipvs") // every writer takes one first
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "pid 1 is alive")
    }

    /// Only regular files of bounded size are read, without blocking on a FIFO.
    func testReadsAreBounded() throws {
        try dir.ensureExists()
        XCTAssertEqual(FileBytes.read("/dev/zero"), .failure(.notRegular(kind: "device")))
        XCTAssertEqual(FileBytes.read(dir.path), .failure(.notRegular(kind: "directory")))
        let fifo = dir.file("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(FileBytes.read(fifo), .failure(.notRegular(kind: "FIFO")))
        let big = dir.file("big")
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: Data()))
        XCTAssertEqual(truncate(big, off_t(FileBytes.configLimit + 1)), 0)
        XCTAssertEqual(FileBytes.read(big), .failure(.tooLarge(limit: FileBytes.configLimit)))
        XCTAssertEqual(chmod(big, 0o644), 0)
        XCTAssertEqual(truncate(big, 20), 0)
        if case .failure(.insecure(let why)) = FileBytes.read(big, secret: true) {
            XCTAssertTrue(why.contains("chmod 600"), why)
        } else {
            XCTFail("a 0644 secret was read")
        }
    }

    func testMissingFileIsEmpty() throws {
        XCTAssertEqual((try dir.load(IPVSOwnership.self) ?? IPVSOwnership()), IPVSOwnership())
    }

    func testTruncatedAndCorruptedFilesAreClearErrors() throws {
        try dir.store(IPVSOwnership(services: [.fwmark(1, .ipv4): "x"]))
        let full = try Data(contentsOf: URL(fileURLWithPath: dir.file("ipvs.json")))
        for bad in [full.prefix(full.count / 2), Data(), Data("{\"schema\":1,\"kind\":\"ipvs\",\"data\":{\"services\":[{\"name\":1}]}}".utf8),
                    Data("{\"schema\":1,\"kind\":\"bridge\",\"data\":{}}".utf8), Data([0xff, 0xfe, 0x00])] {
            try bad.write(to: URL(fileURLWithPath: dir.file("ipvs.json")))
            XCTAssertThrowsError(try dir.load(IPVSOwnership.self)) { e in
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
        XCTAssertThrowsError(try dir.load(IPVSOwnership.self)) { e in
            XCTAssertEqual(e as? StateError, .newerSchema(path: dir.file("ipvs.json"), found: 99, supported: 2))
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
        try dir.store(IPVSOwnership())
        let moved = dir.quarantine("ipvs.json")
        XCTAssertNotNil(moved)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("ipvs.json")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: moved!))
    }
}

final class OwnershipFormatTests: XCTestCase {
    func testSchema2IsAFlatMapAndSchema1StillReads() throws {
        let dir = StateDirectory(path: NSTemporaryDirectory() + "ezlb-own-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: dir.path) }
        let o = IPVSOwnership(services: [.inet(.udp, try Endpoint.parse("[2001:db8::1]:53").get()): "dns",
                                         .fwmark(7, .ipv4): "m"])
        try dir.store(o)
        let text = try String(contentsOfFile: dir.file("ipvs.json"), encoding: .utf8)
        XCTAssertTrue(text.contains("\"udp [2001:db8::1]:53\" : \"dns\""), text)
        XCTAssertTrue(text.contains("\"fwmark 7 ipv4\" : \"m\""), text)
        XCTAssertTrue(text.contains("\"schema\" : 2"), text)
        XCTAssertEqual((try dir.load(IPVSOwnership.self) ?? IPVSOwnership()), o)

        let v1 = """
        {"schema": 1, "kind": "ipvs", "data": {"services": [
          {"key": {"protocol": "tcp", "address": "10.0.0.1", "port": 80}, "name": "web"},
          {"key": {"fwmark": 3, "family": "ipv6"}, "name": "f"}]}}
        """
        try Data(v1.utf8).write(to: URL(fileURLWithPath: dir.file("ipvs.json")))
        XCTAssertEqual((try dir.load(IPVSOwnership.self) ?? IPVSOwnership()).services.values.sorted(), ["f", "web"])

        try Data("{\"schema\":2,\"kind\":\"ipvs\",\"data\":{\"services\":{\"tcp nonsense\":\"x\"}}}".utf8)
            .write(to: URL(fileURLWithPath: dir.file("ipvs.json")))
        XCTAssertThrowsError(try dir.load(IPVSOwnership.self))
    }

    func testServiceKeyTextRoundTrip() throws {
        for k in [ServiceKey.inet(.sctp, try Endpoint.parse("10.0.0.1:3868").get()), .inet(.tcp, try Endpoint.parse("[::1]:80").get()),
                  .fwmark(4_000_000_000, .ipv6)] {
            XCTAssertEqual(ServiceKey(text: k.description), k)
        }
        for bad in ["", "tcp", "tcp 10.0.0.1", "icmp 10.0.0.1:1", "fwmark 0 ipv4", "fwmark 7", "tcp 10.0.0.1:80 x"] {
            XCTAssertNil(ServiceKey(text: bad), bad)
        }
    }
}
