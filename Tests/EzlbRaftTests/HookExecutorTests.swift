import EzlbConfig
@testable import EzlbRaft
import Foundation
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class HookExecutorTests: XCTestCase {
    var dir: ScratchDir!
    var capture: LogCapture!

    override func setUpWithError() throws {
        dir = try ScratchDir()
        capture = LogCapture()
    }

    let env: [(String, String)] = [("PATH", HookExecutor.defaultPath), ("EVENT_TYPE", "ToMaster")]

    func run(_ command: String, _ args: [String] = [], env: [(String, String)]? = nil, timeout: Double = 10,
             cancel: @escaping () -> Bool = { false }) -> HookOutcome {
        HookExecutor.run(command: command, args: args, environment: env ?? self.env, timeout: timeout,
                         log: capture.logger, metadata: ["event": "ToMaster"], cancel: cancel)
    }

    func testArgumentsArePassedLiterallyWithoutAShell() throws {
        let victim = dir.file("x")
        XCTAssertTrue(FileManager.default.createFile(atPath: victim, contents: Data("keep".utf8)))
        let s = try dir.script("args.sh", #"for a in "$@"; do printf '<%s>\n' "$a"; done"#)
        let args = ["; rm -rf \(victim)", "$(touch \(dir.file("pwned")))", "a b", "`id`", "*", "", "x\"y'z"]
        XCTAssertEqual(run(s, args), .exited(0))
        XCTAssertEqual(capture.lines("stdout"), args.map { "<\($0)>" })
        XCTAssertTrue(FileManager.default.fileExists(atPath: victim), "nothing ran the argument as a command")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("pwned")))
    }

    func testEnvironmentIsExactlyWhatWasGiven() throws {
        let e = [("PATH", "/usr/bin:/bin"), ("HOME", "/root"), ("NODE_ID", "n1"), ("WEIRD", "a=b c;d")]
        XCTAssertEqual(run("env", env: e), .exited(0), "found through the hook's PATH")
        XCTAssertEqual(capture.lines("stdout").sorted(), ["HOME=/root", "NODE_ID=n1", "PATH=/usr/bin:/bin", "WEIRD=a=b c;d"])
    }

    func testOutputIsStreamedLineByLineTaggedWithTheEvent() throws {
        let s = try dir.script("out.sh", """
        echo one
        echo two >&2
        printf 'partial'
        sleep 0.6
        echo ' line'
        printf 'no newline at end'
        """)
        XCTAssertEqual(run(s), .exited(0))
        let end = Date()
        let one = capture.records.first { $0.message == "one" }!
        XCTAssertLessThan(one.time, end.addingTimeInterval(-0.4), "'one' was logged while the hook still ran")
        XCTAssertEqual(capture.lines("stdout"), ["one", "partial line", "no newline at end"])
        XCTAssertEqual(capture.lines("stderr"), ["two"])
        let rec = capture.records.first { $0.message == "two" }!
        XCTAssertEqual(rec.metadata["event"], "ToMaster")
        XCTAssertEqual(rec.level, .warning)
    }

    func testLongLinesAreCut() throws {
        let s = try dir.script("long.sh", "head -c 10000 /dev/zero | tr '\\0' a; echo")
        XCTAssertEqual(run(s), .exited(0))
        XCTAssertEqual(capture.lines("stdout").map(\.count), [4096, 4096, 1808])
    }

    func testExitStatusesAndStartFailures() throws {
        XCTAssertEqual(run(try dir.script("e3.sh", "exit 3")), .exited(3))
        XCTAssertEqual(run(try dir.script("sig.sh", "kill -9 $$")), .signaled(9))
        guard case .spawnFailed(let why) = run(dir.file("missing.sh")) else { return XCTFail() }
        XCTAssertTrue(why.contains("missing.sh"), why)
        guard case .spawnFailed(let why2) = run("no-such-command-ezlb") else { return XCTFail() }
        XCTAssertTrue(why2.contains("not found in PATH"), why2)
        let p = dir.file("noexec.sh")
        try "#!/bin/sh\n".write(toFile: p, atomically: true, encoding: .utf8)
        chmod(p, 0o644)
        guard case .spawnFailed = run(p) else { return XCTFail("not executable") }
    }

    /// The hook, its children and grandchildren (one of them ignoring SIGTERM) all die on timeout.
    func testTimeoutKillsTheWholeProcessGroup() throws {
        let s = try dir.script("hang.sh", """
        sleep 300 &
        echo $! > \(dir.file("child.pid"))
        sh -c 'trap "" TERM; sleep 300 & echo $! > \(dir.file("grandchild.pid")); wait' &
        echo $$ > \(dir.file("main.pid"))
        echo started
        sleep 300
        """)
        let t0 = Date()
        XCTAssertEqual(run(s, timeout: 0.5), .timedOut)
        let took = Date().timeIntervalSince(t0)
        XCTAssertGreaterThanOrEqual(took, 0.5)
        XCTAssertLessThan(took, 0.5 + HookExecutor.killGrace + 1, "SIGKILL follows the grace")
        XCTAssertEqual(capture.lines("stdout"), ["started"])
        for f in ["main.pid", "child.pid", "grandchild.pid"] {
            let pid = Int32(dir.read(f).trimmingCharacters(in: .whitespacesAndNewlines))
            XCTAssertNotNil(pid, f)
            XCTAssertTrue(eventually(3) { !processAlive(pid!) }, "\(f) \(pid!) still alive")
        }
    }

    func testCancelKillsLikeATimeout() throws {
        let s = try dir.script("hang.sh", "sleep 300 & echo $! > \(dir.file("child.pid")); sleep 300")
        let t0 = Date()
        XCTAssertEqual(run(s, timeout: 30) { Date().timeIntervalSince(t0) > 0.3 }, .cancelled)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3)
        let pid = Int32(dir.read("child.pid").trimmingCharacters(in: .whitespacesAndNewlines))!
        XCTAssertTrue(eventually(3) { !processAlive(pid) })
    }

    func testBackgroundChildOfASuccessfulHookDoesNotHoldItUp() throws {
        // Like on-master.sh sending gratuitous ARPs in the background with stdout still attached.
        let s = try dir.script("bg.sh", "(sleep 5; echo late) & echo done")
        let t0 = Date()
        XCTAssertEqual(run(s), .exited(0))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2)
        XCTAssertEqual(capture.lines("stdout"), ["done"])
    }

    func testDaemonFileDescriptorsDoNotLeakIntoHooks() throws {
        let path = dir.file("secret-lock")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let fd = open(path, O_RDONLY)   // no O_CLOEXEC, like a careless library
        XCTAssertGreaterThan(fd, 2)
        defer { close(fd) }
        let s = try dir.script("fd.sh", "readlink /proc/$$/fd/\(fd) || echo closed")
        XCTAssertEqual(run(s), .exited(0))
        XCTAssertEqual(capture.lines("stdout"), ["closed"])
    }

    func testSignalDispositionsAreReset() throws {
        // A daemon ignoring SIGPIPE / SIGTERM must not hand that to its hooks.
        let old = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, old) }
        let s = try dir.script("sig.sh", "sleep 300 & p=$!; kill -TERM $p; wait $p; echo status=$?")
        XCTAssertEqual(run(s, timeout: 10), .exited(0))
        XCTAssertEqual(capture.lines("stdout"), ["status=143"])
    }
}
