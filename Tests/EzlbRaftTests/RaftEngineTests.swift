import CEzlbShim
import Foundation
@testable import EzlbRaft
import XCTest

final class RaftControlAuthTests: XCTestCase {
    let secret = "0123456789abcdef-secret"
    let me = ControlEndpoint.tcp(host: "10.0.0.1", port: 7947)

    /// A request signed for one node is refused by every other (a capture replayed at the
    /// next leader removed a node again); the target may be written in any form of the address.
    func testARequestSignedForAnotherNodeIsRefused() {
        let a = RequestAuthenticator(secret: secret, address: .tcp(host: "2001:db8::1", port: 7947))
        let other = ControlRequest.signed(method: "remove", body: "{\"id\":\"n3\"}", secret: secret, to: .tcp(host: "2001:db8::2", port: 7947))
        XCTAssertTrue(a.check(other, remote: true)?.contains("signed for [2001:db8::2]:7947, not for this node") == true)
        let mine = ControlRequest.signed(method: "remove", body: "{\"id\":\"n3\"}", secret: secret, to: .tcp(host: "2001:0db8:0::1", port: 7947))
        XCTAssertNil(a.check(mine, remote: true))
        var unbound = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: .tcp(host: "2001:db8::1", port: 7947))
        unbound.to = nil
        XCTAssertNotNil(a.check(unbound, remote: true))
    }

    func testSignedRequestPassesOnceThenReplayIsRefused() {
        let a = RequestAuthenticator(secret: secret, address: me)
        let r = ControlRequest.signed(method: "join", body: "{\"id\":\"n4\"}", secret: secret, to: me)
        XCTAssertNil(a.check(r, remote: true))
        XCTAssertEqual(a.check(r, remote: true), "replayed request refused")
    }

    func testUnsignedWrongSecretStaleAndTamperedAreRefused() {
        let a = RequestAuthenticator(secret: secret, address: me)
        XCTAssertNotNil(a.check(ControlRequest(method: "status", body: "{}"), remote: true))
        XCTAssertTrue(a.check(ControlRequest.signed(method: "status", body: "{}", secret: "another-secret-of-16+", to: me), remote: true)!.contains("bad signature"))
        let stale = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me, now: Date().addingTimeInterval(-31))
        XCTAssertTrue(a.check(stale, remote: true)!.contains("outside"))
        let future = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me, now: Date().addingTimeInterval(40))
        XCTAssertTrue(a.check(future, remote: true)!.contains("outside"))
        var t = ControlRequest.signed(method: "remove", body: "{\"id\":\"n2\"}", secret: secret, to: me)
        t.body = "{\"id\":\"n1\"}"
        XCTAssertTrue(a.check(t, remote: true)!.contains("bad signature"))
        var m = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me)
        m.method = "remove"
        XCTAssertTrue(a.check(m, remote: true)!.contains("bad signature"))
        var short = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me)
        short.sig = "abcd"
        XCTAssertEqual(a.check(short, remote: true), "malformed signature")
    }

    /// A client-chosen timestamp must never trap (abs(now - Int64.min) overflowed before the
    /// HMAC was checked and killed `raft serve`): absurd values are an ordinary auth refusal.
    func testAbsurdTimestampsAreRefusedWithoutTrapping() {
        let a = RequestAuthenticator(secret: secret, address: me)
        for ts in [Int64.min, Int64.min + 1, Int64.max, Int64.max - 1, -1, 0] {
            var r = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me)
            r.ts = ts
            XCTAssertTrue(a.check(r, remote: true)?.contains("outside") == true, "ts \(ts)")
        }
        // Extreme server clocks too.
        var r = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me)
        r.ts = Int64.max
        XCTAssertTrue(a.check(r, remote: true, now: Int64.min)?.contains("outside") == true)
        r.ts = Int64.min
        XCTAssertTrue(a.check(r, remote: true, now: Int64.max)?.contains("outside") == true)
        // The window edges still pass (signature covers ts, so sign at that time).
        let edge = ControlRequest.signed(method: "status", body: "{}", secret: secret, to: me, now: Date().addingTimeInterval(-29))
        XCTAssertNil(a.check(edge, remote: true))
    }

    func testUnixSocketAndNoSecretNeedNoSignature() {
        XCTAssertNil(RequestAuthenticator(secret: secret, address: me).check(ControlRequest(method: "status", body: "{}"), remote: false))
        XCTAssertNil(RequestAuthenticator(secret: nil, address: me).check(ControlRequest(method: "join", body: "{}"), remote: true))
    }

    func testAddresses() {
        XCTAssertEqual(splitHostPort("10.0.0.1:7946")?.host, "10.0.0.1")
        XCTAssertEqual(splitHostPort("[2001:db8::1]:7946")?.port, 7946)
        XCTAssertNil(splitHostPort("2001:db8::1:7946"))
        XCTAssertNil(splitHostPort("host:70000"))
        XCTAssertNil(splitHostPort(":80"))
        XCTAssertEqual(controlEndpoint(forRaftAddress: "127.0.0.1:7946"), .tcp(host: "127.0.0.1", port: 7947))
        XCTAssertEqual(controlEndpoint(forRaftAddress: "[::1]:7946")?.description, "[::1]:7947")
        XCTAssertNil(controlEndpoint(forRaftAddress: "127.0.0.1:65535"))
        XCTAssertTrue(isLoopbackHost("127.0.3.4"))
        XCTAssertFalse(isLoopbackHost("10.0.0.1"))
    }
}

/// The libraft engine in-process: a one-voter cluster on loopback.
final class LibRaftEngineTests: XCTestCase, ConsensusEngineDelegate {
    var engine: LibRaftEngine!
    var applied: [String] = []
    var ticks = 0
    var onTick: (() -> Void)?
    var dir = ""

    override func setUp() {
        dir = NSTemporaryDirectory() + "ezlb-raft-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        engine = nil
        try? FileManager.default.removeItem(atPath: dir)
    }

    func engineTick() { ticks += 1; onTick?() }
    func engineApply(_ entry: [UInt8]) { applied.append(String(decoding: entry, as: UTF8.self)) }
    func engineSnapshot() -> [UInt8] { [] }
    func engineRestore(_ snapshot: [UInt8]) {}
    func engineSignal(_ signal: Int32) {}
    func engineWakeup() {}
    func engineControlRequest(conn: UInt64, remote: Bool, peer: String, line: String) {
        engine.respond(conn: conn, line: "{\"ok\":true,\"changed\":false,\"echo\":\(line.count)}")
    }

    func port() -> Int { Int.random(in: 30000...60000) }

    func testBootstrapLeadsAppliesEntriesAndRefusesASecondBootstrap() throws {
        let addr = "127.0.0.1:\(port())"
        engine = try LibRaftEngine(dataDir: dir, id: 7, address: addr, electionTimeoutMs: 200, heartbeatMs: 20, bootstrap: true)
        engine.delegate = self
        try engine.listenUnix(path: dir + "/c.sock")
        try engine.start(pollMs: 10)
        var phase = 0
        var applyError: RaftEngineError?? = .none
        var status: EngineStatus?
        onTick = { [self] in
            let st = engine.status()
            if phase == 0 && st.role == .leader {
                phase = 1
                // Odd lengths on purpose: entries are padded to 8 bytes for libraft.
                engine.apply(Array("{\"a\":1}".utf8)) { _ in }
                engine.apply(Array("{\"bb\":22}".utf8)) { e in applyError = .some(e) }
            } else if phase == 1, case .some = applyError {
                status = st
                phase = 2
                engine.stop()
            } else if ticks > 500 {
                engine.stop()
            }
        }
        engine.run()
        XCTAssertEqual(phase, 2)
        XCTAssertNil(applyError ?? nil)
        XCTAssertEqual(status?.role, .leader)
        XCTAssertEqual(status?.leaderID, 7)
        XCTAssertEqual(status?.leaderAddress, addr)
        XCTAssertEqual(status?.members, [EngineMember(id: 7, address: addr, role: .voter, reachable: true)])
        XCTAssertEqual(status?.leaderLease, true)
        XCTAssertEqual(applied.map { $0.trimmingCharacters(in: .whitespaces) }, ["{\"a\":1}", "{\"bb\":22}"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/c.sock"), "the socket is removed on stop")
        engine = nil

        // Bootstrapping again over that log: RAFT_CANTBOOTSTRAP, named.
        XCTAssertThrowsError(try LibRaftEngine(dataDir: dir, id: 7, address: addr, electionTimeoutMs: 200, heartbeatMs: 20, bootstrap: true)) { e in
            let err = e as? RaftEngineError
            XCTAssertEqual(err?.call, "raft_bootstrap")
            XCTAssertEqual(err?.code, 10)
        }
        // Restarting replays the log: the entries are applied again, the node leads again.
        applied = []
        ticks = 0
        engine = try LibRaftEngine(dataDir: dir, id: 7, address: addr, electionTimeoutMs: 200, heartbeatMs: 20, bootstrap: false)
        engine.delegate = self
        try engine.start(pollMs: 10)
        onTick = { [self] in
            if (engine.status().role == .leader && applied.count >= 2) || ticks > 500 { engine.stop() }
        }
        engine.run()
        XCTAssertEqual(applied.map { $0.trimmingCharacters(in: .whitespaces) }, ["{\"a\":1}", "{\"bb\":22}"])
    }

    func testControlSocketAnswersOneLine() throws {
        engine = try LibRaftEngine(dataDir: dir, id: 9, address: "127.0.0.1:\(port())", electionTimeoutMs: 200, heartbeatMs: 20, bootstrap: true)
        engine.delegate = self
        let sock = dir + "/c.sock"
        try engine.listenUnix(path: sock)
        try engine.start(pollMs: 10)
        final class Box: @unchecked Sendable { var answer, inf, huge: ControlResponse? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            box.answer = try? ControlClient.call(.unix(sock), ControlRequest(method: "status", body: "{}"), timeout: 5)
            // Absurd timeouts are clamped, not trapped on (Int(inf), Int32(1e23)).
            box.inf = try? ControlClient.call(.unix(sock), ControlRequest(method: "status", body: "{}"), timeout: .infinity)
            box.huge = try? ControlClient.call(.unix(sock), ControlRequest(method: "status", body: "{}"), timeout: 1e20)
            done.signal()
        }
        onTick = { [self] in
            if done.wait(timeout: .now()) == .success || ticks > 500 { engine.stop() }
        }
        engine.run()
        XCTAssertEqual(box.answer?.ok, true)
        XCTAssertEqual(box.answer?.changed, false)
        XCTAssertEqual(box.inf?.ok, true)
        XCTAssertEqual(box.huge?.ok, true)
    }

    func testClientTimeoutsAreClamped() {
        XCTAssertEqual(ControlClient.clamped(.infinity), 3600)
        XCTAssertEqual(ControlClient.clamped(1e20), 3600)
        XCTAssertEqual(ControlClient.clamped(-.infinity), 0.001)
        XCTAssertEqual(ControlClient.clamped(.nan), 0.001)
        XCTAssertEqual(ControlClient.clamped(-5), 0.001)
        XCTAssertEqual(ControlClient.clamped(2.5), 2.5)
        // A TCP connect with an infinite timeout to a closed port fails normally.
        XCTAssertThrowsError(try ControlClient.call(.tcp(host: "127.0.0.1", port: 1), ControlRequest(method: "status", body: "{}"), timeout: .infinity))
    }

    /// Idle remote TCP connections have their own budget and a short idle timeout: they never lock the local
    /// control socket out (they shared 64 slots with a 10 s timeout before).
    func testIdleTCPConnectionsDoNotLockTheUnixSocketOut() throws {
        let raftPort = port()
        engine = try LibRaftEngine(dataDir: dir, id: 9, address: "127.0.0.1:\(raftPort)", electionTimeoutMs: 200, heartbeatMs: 20, bootstrap: true)
        engine.delegate = self
        let sock = dir + "/c.sock"
        try engine.listenUnix(path: sock)
        try engine.listenTCP(host: "127.0.0.1", port: raftPort + 1)
        try engine.start(pollMs: 10)
        final class Box: @unchecked Sendable {
            var fds: [Int32] = []
            var answer: ControlResponse?
            var closedByServer = 0
            var error: String?
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            do {
                for _ in 0..<80 { box.fds.append(try ControlClient.connect(.tcp(host: "127.0.0.1", port: raftPort + 1), timeout: 2)) }
            } catch { box.error = "\(error)"; return }
            box.answer = try? ControlClient.call(.unix(sock), ControlRequest(method: "status", body: "{}"), timeout: 2)
            // The idle TCP connections are dropped after ~2 s.
            Thread.sleep(forTimeInterval: 3)
            for fd in box.fds {
                var tv = timeval(tv_sec: 1, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var b: UInt8 = 0
                let r = recv(fd, &b, 1, 0)
                if r == 0 || (r < 0 && errno != EAGAIN) { box.closedByServer += 1 }
                close(fd)
            }
        }
        onTick = { [self] in
            if done.wait(timeout: .now()) == .success || ticks > 2000 { engine.stop() }
        }
        engine.run()
        XCTAssertNil(box.error)
        XCTAssertEqual(box.fds.count, 80)
        XCTAssertEqual(box.answer?.ok, true, "the unix socket answers while 80 idle TCP connections are open")
        XCTAssertEqual(box.closedByServer, 80, "idle TCP connections are closed by the server (over budget at once, others after 2 s)")
    }

    /// The lease table keeps working after more than 64 distinct peer ids were seen.
    func testLeaseSlotReusesDepartedThenOldest() {
        var ids = (0..<64).map { UInt64(100 + $0) }
        var ats = (0..<64).map { UInt64(1000 + $0) }
        let config: [UInt64] = Array(ids[10..<64])   // 100...109 left the configuration
        XCTAssertEqual(ezlb_lease_slot(ids, ats, 3, 64, config, UInt32(config.count), 102), 2, "its own slot")
        XCTAssertEqual(ezlb_lease_slot(ids, ats, 3, 64, config, UInt32(config.count), 500), 3, "room: append")
        let s = ezlb_lease_slot(ids, ats, 64, 64, config, UInt32(config.count), 500)
        XCTAssertTrue((0..<10).contains(s), "full: a departed member's slot, got \(s)")
        // Everyone is still a member: the one heard from longest ago.
        ats[37] = 5
        XCTAssertEqual(ezlb_lease_slot(ids, ats, 64, 64, ids, 64, 500), 37)
        ids[37] = 500
        XCTAssertEqual(ezlb_lease_slot(ids, ats, 64, 64, ids, 64, 500), 37, "found again")
    }

    func testBadAddressIsATypedError() {
        XCTAssertThrowsError(try LibRaftEngine(dataDir: dir + "/missing/dir", id: 1, address: "127.0.0.1:1", electionTimeoutMs: 200,
                                               heartbeatMs: 20, bootstrap: true)) { e in
            XCTAssertTrue((e as? RaftEngineError)?.call.hasPrefix("raft_") ?? false, "\(e)")
        }
    }
}
