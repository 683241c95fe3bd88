import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `raft serve` under systemd's `Type=notify` protocol (a datagram socket in $NOTIFY_SOCKET, as
/// systemd passes it) and with --metrics-file.
final class RaftSystemdTests: RaftClusterTestCase {
    /// The test's stand-in for systemd: a bound datagram socket collecting what arrives.
    final class NotifySocket {
        let fd: Int32
        let path: String
        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &a.sun_path) { p in for (i, b) in path.utf8.enumerated() { p[i] = b } }
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard fd >= 0, rc == 0 else { throw POSIXError(.EADDRINUSE) }
        }
        deinit { close(fd); unlink(path) }

        /// Datagrams with their arrival time (monotonic seconds) until `seconds` pass.
        func read(for seconds: Double) -> [(Double, String)] {
            var out: [(Double, String)] = []
            let end = Date().addingTimeInterval(seconds)
            var buf = [UInt8](repeating: 0, count: 4096)
            while Date() < end {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 50) > 0 else { continue }
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 { out.append((Date().timeIntervalSince1970, String(decoding: buf[0..<n], as: UTF8.self))) }
            }
            return out
        }
    }

    func testNotifyReadyWatchdogStatusStoppingAndMetricsFile() throws {
        makeCluster(1, electionMs: 300, heartbeatMs: 30)
        let sock = try NotifySocket(path: workDir + "/notify.sock")
        let metrics = workDir + "/raft.prom"
        try start(0, bootstrap: true, extraArgs: ["--metrics-file", metrics],
                  env: ["NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "400000"])
        // ToReady, then leader, then ToMaster after master_guard (1.5 x 300 ms).
        var got = sock.read(for: 3)
        let texts = got.map(\.1)
        XCTAssertTrue(texts.first?.hasPrefix("READY=1\nSTATUS=started: node n1") == true, "\(texts)")
        XCTAssertTrue(texts.contains { $0.hasPrefix("STATUS=Master (leader, term ") }, "\(texts)")
        // WATCHDOG=1 every 200 ms (half of WATCHDOG_USEC) from the event loop.
        got = sock.read(for: 2)
        let pings = got.filter { $0.1 == "WATCHDOG=1" }.map(\.0)
        XCTAssertGreaterThanOrEqual(pings.count, 7, "\(got.map(\.1))")
        XCTAssertLessThanOrEqual(pings.count, 12, "\(got.map(\.1))")
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        XCTAssertLessThan(gaps.max() ?? 1, 0.35, "\(gaps)")

        // The metrics file: role, Master, term, leader and the hooks that ran.
        let s = try MetricsFileTests.parse(try String(contentsOfFile: metrics, encoding: .utf8))
        func v(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            s.first { x in x.name == name && labels.allSatisfy { x.labels[$0.key] == $0.value } }?.value
        }
        XCTAssertEqual(v("ezlb_raft_role", ["node": "n1", "role": "leader"]), 1)
        XCTAssertEqual(v("ezlb_raft_role", ["role": "follower"]), 0)
        XCTAssertEqual(v("ezlb_raft_master", ["node": "n1"]), 1)
        XCTAssertGreaterThanOrEqual(v("ezlb_raft_term") ?? 0, 1)
        XCTAssertEqual(v("ezlb_raft_leader", ["leader": "n1"]), 1)
        XCTAssertEqual(v("ezlb_raft_voters"), 1)
        XCTAssertEqual(v("ezlb_raft_hook_runs_total", ["event": "ToReady"]), 1)
        XCTAssertEqual(v("ezlb_raft_hook_runs_total", ["event": "ToMaster"]), 1)
        XCTAssertEqual(v("ezlb_raft_hook_last_success", ["event": "ToMaster"]), 1)
        XCTAssertEqual(v("ezlb_raft_hook_failures_total", ["event": "ToMaster"]), 0)
        let written = v("ezlb_raft_last_update_timestamp_seconds") ?? 0
        XCTAssertLessThan(abs(Date().timeIntervalSince1970 - written), 15)
        let attrs = try FileManager.default.attributesOfItem(atPath: metrics)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o644)

        // SIGTERM: STOPPING=1 first, then a clean exit.
        let p = try XCTUnwrap(nodes[0].process)
        kill(p.processIdentifier, SIGTERM)
        got = sock.read(for: 1)
        p.waitUntilExit()
        nodes[0].process = nil
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(got.contains { $0.1.hasPrefix("STOPPING=1") }, "\(got.map(\.1))")
        XCTAssertFalse(got.contains { $0.1.hasPrefix("STATUS=Master") }, "no status after STOPPING=1")
    }

    /// Without NOTIFY_SOCKET nothing is sent and nothing fails; a metrics file that cannot be
    /// written is a warning, not a stop.
    func testUnwritableMetricsFileWarnsAndServes() throws {
        makeCluster(1, electionMs: 300, heartbeatMs: 30)
        // A directory that is a file: cannot be created.
        try start(0, bootstrap: true, extraArgs: ["--metrics-file", hookLog + "/raft.prom"])
        try waitFor("n1 to lead", timeout: 10) { (status(0)?["role"] as? String) == "leader" }
        let log = (try? String(contentsOfFile: nodes[0].logFile, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("--metrics-file \(hookLog)/raft.prom: not written"), log)
        XCTAssertEqual(log.components(separatedBy: "not written").count, 2, "warned once, not on every tick")
    }
}
