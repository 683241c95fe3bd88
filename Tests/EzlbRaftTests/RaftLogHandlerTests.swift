import EzlbConfig
@testable import EzlbRaft
import Foundation
import Logging
import XCTest

final class RaftLogHandlerTests: XCTestCase {
    let t = Date(timeIntervalSince1970: 1_795_247_400.125)   // 2026-11-21T07:50:00.125Z

    func testTextAndJSONLines() throws {
        let md: Logger.Metadata = ["event": "ToMaster", "status": "exit 1", "node": "n1"]
        XCTAssertEqual(RaftLogHandler.format(.text, time: t, level: .warning, message: "hook done", metadata: md),
                       "2026-11-21T07:50:00.125Z warn hook done event=ToMaster node=n1 status=\"exit 1\"")
        let json = RaftLogHandler.format(.json, time: t, level: .info, message: "say \"hi\"\n", metadata: md)
        XCTAssertEqual(json, #"{"time":"2026-11-21T07:50:00.125Z","level":"info","msg":"say \"hi\"\n","event":"ToMaster","node":"n1","status":"exit 1"}"#)
        let obj = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        XCTAssertEqual(obj?["msg"], "say \"hi\"\n")
        XCTAssertEqual(obj?["status"], "exit 1")
    }

    func testFileOutputAppendsAndFiltersByLevel() throws {
        let dir = try ScratchDir()
        var cfg = RaftLoggingConfig()
        cfg.format = .json
        cfg.output = dir.file("daemon.log")
        cfg.level = .info
        try "old line\n".write(toFile: cfg.output, atomically: true, encoding: .utf8)
        let log = try RaftLogHandler.logger(label: "t", config: cfg)
        log.debug("hidden")
        log.info("hook start", metadata: ["event": "ToReady"])
        log.error("boom")
        let lines = dir.read("daemon.log").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[0], "old line")
        XCTAssertTrue(lines[1].contains(#""msg":"hook start","event":"ToReady""#), lines[1])
        XCTAssertTrue(lines[2].contains(#""level":"error","msg":"boom""#), lines[2])

        // A missing directory is made (the seed's /var/log/vip-switch/daemon.log).
        cfg.output = dir.file("new/dir/x.log")
        let l2 = try RaftLogHandler.logger(label: "t", config: cfg)
        l2.error("made")
        XCTAssertTrue(dir.read("new/dir/x.log").contains("made"))
        // One that cannot be made (a file in the way) is a one-line error.
        cfg.output = dir.file("daemon.log/x.log")
        XCTAssertThrowsError(try RaftLogHandler.logger(label: "t", config: cfg)) {
            XCTAssertEqual("\($0)", "\(cfg.output): logging.output: cannot open log file: Not a directory")
        }
    }

    func testDispatcherLogThroughTheHandler() throws {
        let dir = try ScratchDir()
        var cfg = RaftLoggingConfig()
        cfg.output = dir.file("hooks.log")
        let log = try RaftLogHandler.logger(label: "t", config: cfg)
        let s = try dir.script("ready.sh", "echo hello from $EVENT_TYPE")
        var h = HooksConfig()
        h.specs = [.ToReady: HookSpec(command: s)]
        let settings = RaftSettings(file: "f", nodeID: "n1", raftAddr: "127.0.0.1:1", dataDir: dir.path,
                                    members: [.init(id: "n1", addr: "127.0.0.1:1")], hooks: h)
        let d = HookDispatcher(settings: settings, log: log, actions: FakeEngine())
        d.start()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        let text = dir.read("hooks.log")
        XCTAssertTrue(text.contains(" info hello from ToReady event=ToReady node=n1 stream=stdout term=0\n"), text)
        XCTAssertTrue(text.contains(" info hook done attempt=1/1 duration_ms="), text)
        XCTAssertTrue(text.contains("status=ok term=0\n"), text)
    }

    func testProblemsNameMissingCommands() {
        var h = HooksConfig()
        h.specs = [.ToMaster: HookSpec(command: "/nonexistent/on-master.sh"), .ToSlave: HookSpec(command: "sh"),
                   .ToReady: HookSpec(command: "no-such-hook-ezlb")]
        XCTAssertEqual(HookDispatcher.problems(h), ["hooks.ToReady.command: 'no-such-hook-ezlb': not found in PATH",
                                                    "hooks.ToMaster.command: '/nonexistent/on-master.sh': no such executable file"])
        h.enabled = false
        XCTAssertEqual(HookDispatcher.problems(h), [])
    }
}
