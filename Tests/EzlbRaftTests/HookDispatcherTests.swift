import EzlbConfig
@testable import EzlbRaft
import Foundation
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Stands in for the engine: records abandonLeadership calls and can react to them.
final class FakeEngine: DispatcherActions, @unchecked Sendable {
    private let lock = NSLock()
    private var _abandoned = 0
    var onAbandon: (@Sendable () -> Void)?
    var abandoned: Int { lock.withLock { _abandoned } }
    func abandonLeadership() {
        lock.withLock { _abandoned += 1 }
        onAbandon?()
    }
}

final class HookDispatcherTests: XCTestCase {
    var dir: ScratchDir!
    var capture: LogCapture!
    var engine: FakeEngine!

    override func setUpWithError() throws {
        dir = try ScratchDir()
        capture = LogCapture()
        engine = FakeEngine()
    }

    /// A hook that appends "start EVENT" / "end EVENT" to a journal, sleeping `sleep` in between.
    func journaling(_ event: HookEvent, sleep: Double = 0, exit: Int = 0, policy: FailurePolicy = .continue,
                    timeout: Double = 10) throws -> HookSpec {
        let s = try dir.script("\(event).sh", """
        echo "start $EVENT_TYPE" >> \(dir.file("journal"))
        sleep \(sleep)
        echo "end $EVENT_TYPE" >> \(dir.file("journal"))
        exit \(exit)
        """)
        return HookSpec(command: s, timeout: timeout, onFailure: policy)
    }

    func settings(_ specs: [HookEvent: HookSpec], guardMs: UInt32 = 0, debounce: Double = 0) -> RaftSettings {
        var h = HooksConfig()
        h.specs = specs
        h.debounce = debounce
        var s = RaftSettings(file: "t.yaml", nodeID: "n1", raftAddr: "127.0.0.1:7946", dataDir: dir.path,
                             members: [.init(id: "n1", addr: "127.0.0.1:7946"), .init(id: "n2", addr: "127.0.0.2:7946")],
                             hooks: h)
        s.masterGuardMs = guardMs
        return s
    }

    var journal: [String] { dir.read("journal").split(separator: "\n").map(String.init) }

    func allJournaled() throws -> [HookEvent: HookSpec] {
        var specs: [HookEvent: HookSpec] = [:]
        for e in HookEvent.allCases { specs[e] = try journaling(e) }
        return specs
    }

    func testLifecycleRunsHooksInOrderOneAtATime() throws {
        var specs: [HookEvent: HookSpec] = [:]
        for e in HookEvent.allCases { specs[e] = try journaling(e, sleep: 0.2) }
        let d = HookDispatcher(settings: settings(specs), log: capture.logger, actions: engine)
        d.start()
        // Samples keep flowing while hooks run: only the latest state counts.
        XCTAssertTrue(eventually { self.journal == ["start ToReady"] })
        for _ in 0..<5 { d.observe(.init(role: .follower, leaderID: "n2", term: 1)); usleep(10_000) }
        XCTAssertEqual(d.status.running, .ToReady)
        XCTAssertTrue(eventually { self.journal.last == "start ToSlave" })
        for _ in 0..<5 { d.observe(.init(role: .leader, leaderID: "n1", term: 2)); usleep(10_000) }
        XCTAssertTrue(eventually { self.journal.last == "end ToMaster" })
        XCTAssertEqual(d.status.role, .master)
        // Shutdown as Master: ToSlave, then ToDestroy.
        XCTAssertTrue(d.shutdown(timeout: .seconds(10)))
        XCTAssertEqual(journal, ["start ToReady", "end ToReady", "start ToSlave", "end ToSlave", "start ToMaster", "end ToMaster",
                                 "start ToSlave", "end ToSlave", "start ToDestroy", "end ToDestroy"])
        XCTAssertEqual(d.currentEvent, .ToDestroy)
        XCTAssertEqual(d.status.role, .destroyed)
        XCTAssertEqual(capture.done, ["ToReady:ok", "ToSlave:ok", "ToMaster:ok", "ToSlave:ok", "ToDestroy:ok"])
        // After shutdown nothing runs any more.
        d.observe(.init(role: .leader, leaderID: "n1", term: 3))
        usleep(200_000)
        XCTAssertEqual(journal.count, 10)
    }

    func testObserveNeverWaitsForARunningHook() throws {
        let d = HookDispatcher(settings: settings([.ToReady: try journaling(.ToReady, sleep: 1)]), log: capture.logger, actions: engine)
        d.start()
        XCTAssertTrue(eventually { self.journal == ["start ToReady"] })
        var worst = 0.0
        for i in 0..<200 {
            let t0 = Date()
            d.observe(.init(role: i % 2 == 0 ? .leader : .candidate, leaderID: nil, term: UInt64(i)))
            worst = max(worst, Date().timeIntervalSince(t0))
        }
        XCTAssertLessThan(worst, 0.05, "observe took \(worst) s while a hook ran")
        XCTAssertEqual(journal, ["start ToReady"], "still running")
        XCTAssertTrue(d.shutdown(timeout: .seconds(10)))
    }

    func testEnvironmentAndTemplates() throws {
        let s = try dir.script("env.sh", "env | sort > \(dir.file("env-$EVENT_TYPE"))")
        var spec = HookSpec(command: s)
        spec.environment = [.init(name: "EVENT_TYPE", template: "{{.Event}}"),
                            .init(name: "DESC", template: "{{.NodeID}}@{{ .RaftAddr }} {{.Event}} by {{.LeaderID}} in {{.Term}}")]
        let d = HookDispatcher(settings: settings([.ToReady: spec, .ToSlave: spec]), log: capture.logger, actions: engine)
        d.start()
        d.observe(.init(role: .follower, leaderID: "n2", term: 7))
        XCTAssertTrue(eventually { self.capture.done.count == 2 })
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        let lines = Set(dir.read("env-ToSlave").split(separator: "\n").map(String.init))
        for want in ["EVENT_TYPE=ToSlave", "NODE_ID=n1", "RAFT_ADDR=127.0.0.1:7946", "LEADER_ID=n2", "TERM=7", "RAFT_TERM=7",
                     "DESC=n1@127.0.0.1:7946 ToSlave by n2 in 7"] {
            XCTAssertTrue(lines.contains(want), "\(want) missing in \(lines.sorted())")
        }
        let names = Set(lines.compactMap { $0.split(separator: "=").first.map(String.init) })
        let allowed: Set = ["PATH", "HOME", "LANG", "EVENT_TYPE", "NODE_ID", "RAFT_ADDR", "LEADER_ID", "TERM", "RAFT_TERM", "DESC", "PWD", "SHLVL", "_", "OLDPWD"]
        XCTAssertTrue(names.isSubset(of: allowed), "unexpected: \(names.subtracting(allowed).sorted())")
        XCTAssertTrue(lines.contains { $0.hasPrefix("PATH=") })
    }

    /// on_failure abort on ToMaster: the engine is asked to hand leadership away and ToSlave runs.
    func testAbortOnToMasterHandsLeadershipAwayAndRunsToSlave() throws {
        var specs = try allJournaled()
        specs[.ToMaster] = try journaling(.ToMaster, exit: 1, policy: .abort)
        let d = HookDispatcher(settings: settings(specs, guardMs: 100), log: capture.logger, actions: engine)
        // The engine transfers leadership when asked: from then on its samples say follower.
        let leader = Locked(true)
        engine.onAbandon = { leader.set(false) }
        d.start()
        let poller = Poller(d) { leader.get() ? .init(role: .leader, leaderID: "n1", term: 3) : .init(role: .follower, leaderID: "n2", term: 4) }
        XCTAssertTrue(eventually { self.capture.done.count >= 3 })
        usleep(300_000)
        poller.stop()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(engine.abandoned, 1)
        XCTAssertEqual(capture.done, ["ToReady:ok", "ToMaster:exit 1", "ToSlave:ok", "ToDestroy:ok"])
    }

    /// A slow transfer: leadership stays for a while after abort; ToMaster is not retried in that term.
    func testAbortWithSlowTransferDoesNotLoop() throws {
        var specs = try allJournaled()
        specs[.ToMaster] = try journaling(.ToMaster, exit: 2, policy: .abort)
        let d = HookDispatcher(settings: settings(specs, guardMs: 50), log: capture.logger, actions: engine)
        d.start()
        let poller = Poller(d) { .init(role: .leader, leaderID: "n1", term: 3) }
        usleep(1_000_000)
        poller.stop()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(engine.abandoned, 1)
        XCTAssertEqual(capture.done, ["ToReady:ok", "ToMaster:exit 2", "ToSlave:ok", "ToDestroy:ok"])
    }

    /// Retry: each attempt has its own full timeout (the seed reused an expired one).
    func testRetryGivesEachAttemptAFreshTimeout() throws {
        let s = try dir.script("flaky.sh", """
        n=$(cat \(dir.file("count")) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(dir.file("count"))
        if [ $n -lt 3 ]; then sleep 30; fi
        sleep 0.3
        echo attempt $n ok
        """)
        var spec = HookSpec(command: s, timeout: 0.5, onFailure: .retry)
        spec.retryAttempts = 4
        spec.retryBackoff = 0.1
        let d = HookDispatcher(settings: settings([.ToMaster: spec]), log: capture.logger, actions: engine)
        d.start()
        let poller = Poller(d) { .init(role: .leader, leaderID: "n1", term: 1) }
        XCTAssertTrue(eventually(15) { self.capture.done.contains("ToMaster:ok") })
        poller.stop()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(capture.done, ["ToReady:no hook configured", "ToMaster:timed out", "ToMaster:timed out", "ToMaster:ok",
                                      "ToSlave:no hook configured", "ToDestroy:no hook configured"])
        XCTAssertEqual(dir.read("count"), "3\n")
        XCTAssertEqual(capture.lines("stdout", event: "ToMaster"), ["attempt 3 ok"])
        XCTAssertEqual(engine.abandoned, 0)
        let attempts = capture.records.filter { $0.message == "hook start" && "\($0.metadata["event"]!)" == "ToMaster" }
        XCTAssertEqual(attempts.map { "\($0.metadata["attempt"]!)" }, ["1/4", "2/4", "3/4"])
    }

    func testRetryExhaustedOnToMasterAbandons() throws {
        var spec = try journaling(.ToMaster, exit: 1, policy: .retry)
        spec.retryAttempts = 2
        spec.retryBackoff = 0.05
        let leader = Locked(true)
        engine.onAbandon = { leader.set(false) }
        let d = HookDispatcher(settings: settings([.ToMaster: spec]), log: capture.logger, actions: engine)
        d.start()
        let poller = Poller(d) { leader.get() ? .init(role: .leader, leaderID: "n1", term: 3) : .init(role: .follower, leaderID: "n2", term: 4) }
        XCTAssertTrue(eventually { self.capture.done.count >= 4 })
        poller.stop()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(engine.abandoned, 1)
        XCTAssertEqual(Array(capture.done.prefix(4)), ["ToReady:no hook configured", "ToMaster:exit 1", "ToMaster:exit 1", "ToSlave:no hook configured"])
    }

    /// A ToMaster still running when leadership goes is killed, and ToSlave follows at once.
    func testLostLeadershipCancelsRunningToMaster() throws {
        var specs = try allJournaled()
        specs[.ToMaster] = try journaling(.ToMaster, sleep: 30, policy: .abort)
        let d = HookDispatcher(settings: settings(specs), log: capture.logger, actions: engine)
        d.start()
        let leader = Locked(true)
        let poller = Poller(d) { leader.get() ? .init(role: .leader, leaderID: "n1", term: 3) : .init(role: .candidate, leaderID: nil, term: 4) }
        XCTAssertTrue(eventually { self.journal.last == "start ToMaster" })
        let t0 = Date()
        leader.set(false)
        XCTAssertTrue(eventually { self.journal.last == "end ToSlave" })
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2.5)
        poller.stop()
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(engine.abandoned, 0, "a cancelled ToMaster is not a failure")
        XCTAssertEqual(capture.done, ["ToReady:ok", "ToMaster:cancelled", "ToSlave:ok", "ToDestroy:ok"])
    }

    func testShutdownTimesOutOnAHangingDestroyHook() throws {
        let d = HookDispatcher(settings: settings([.ToDestroy: try journaling(.ToDestroy, sleep: 30)]), log: capture.logger, actions: engine)
        d.start()
        let t0 = Date()
        XCTAssertFalse(d.shutdown(timeout: .milliseconds(500)))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.5)
        XCTAssertTrue(eventually { self.capture.done.contains("ToDestroy:cancelled") }, "the hanging hook was killed")
    }

    /// A hook that hangs past the shutdown budget: its whole process group is killed (a background child
    /// too) and ToDestroy still runs before shutdown returns.
    func testShutdownTimeoutKillsTheHangingHookGroupAndStillRunsToDestroy() throws {
        let hang = try dir.script("hang.sh", """
        echo "start $EVENT_TYPE" >> \(dir.file("journal"))
        sleep 30 &
        echo $! > \(dir.file("child.pid"))
        sleep 30
        echo "end $EVENT_TYPE" >> \(dir.file("journal"))
        """)
        let specs: [HookEvent: HookSpec] = [.ToSlave: HookSpec(command: hang, timeout: 60, onFailure: .continue),
                                            .ToDestroy: try journaling(.ToDestroy)]
        let d = HookDispatcher(settings: settings(specs), log: capture.logger, actions: engine)
        d.start()
        d.observe(.init(role: .follower, leaderID: "n2", term: 1))
        XCTAssertTrue(eventually { self.journal == ["start ToSlave"] && !self.dir.read("child.pid").isEmpty })
        let child = pid_t(dir.read("child.pid").trimmingCharacters(in: .whitespacesAndNewlines))!
        let t0 = Date()
        XCTAssertFalse(d.shutdown(timeout: .milliseconds(500)))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        XCTAssertEqual(journal, ["start ToSlave", "start ToDestroy", "end ToDestroy"], "ToDestroy ran before shutdown returned")
        XCTAssertEqual(Array(capture.done.suffix(2)), ["ToSlave:cancelled", "ToDestroy:ok"])
        XCTAssertTrue(eventually(3) {
            // Gone, or a zombie nobody reaps yet (its parent, the hook, was killed too).
            guard let st = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8) else { return true }
            return st.split(separator: ")").last?.split(separator: " ").first == "Z"
        }, "the hook's background child was killed with its group")
    }

    func testShutdownBudgetCountsRetries() {
        XCTAssertEqual(HookDispatcher.budget(nil), 0)
        XCTAssertEqual(HookDispatcher.budget(HookSpec(command: "/bin/true", timeout: 10, onFailure: .abort)), 10 + HookExecutor.killGrace)
        let retry = HookSpec(command: "/bin/true", timeout: 10, onFailure: .retry, retryAttempts: 3, retryBackoff: 2)
        XCTAssertEqual(HookDispatcher.budget(retry), 3 * (10 + HookExecutor.killGrace) + 2 * 2)
        var h = HooksConfig()
        h.specs = [.ToMaster: retry, .ToSlave: HookSpec(command: "/bin/true", timeout: 5, onFailure: .continue),
                   .ToDestroy: HookSpec(command: "/bin/true", timeout: 100, onFailure: .continue)]
        XCTAssertEqual(HookDispatcher.shutdownTimeout(h), HookDispatcher.budget(retry) + 5 + HookExecutor.killGrace + 2,
                       "the running hook (retries included) + ToSlave; ToDestroy has its own budget")
    }

    func testShutdownWithoutStartRunsToDestroy() throws {
        let d = HookDispatcher(settings: settings(try allJournaled()), log: capture.logger, actions: engine)
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(journal, ["start ToDestroy", "end ToDestroy"])
    }

    func testDisabledHooksStillTrackRoles() throws {
        var s = settings(try allJournaled())
        s.hooks.enabled = false
        let d = HookDispatcher(settings: s, log: capture.logger, actions: engine)
        d.start()
        d.observe(.init(role: .follower, leaderID: "n2", term: 1))
        XCTAssertTrue(eventually { d.status.role == .slave })
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(journal, [])
    }

    func testReloadSwapsHooks() throws {
        let d = HookDispatcher(settings: settings([:]), log: capture.logger, actions: engine)
        d.start()
        XCTAssertTrue(eventually { d.currentEvent == .ToReady })
        var h = HooksConfig()
        h.debounce = 0
        h.specs = try allJournaled()
        d.reload(hooks: h)
        d.observe(.init(role: .follower, leaderID: "n2", term: 1))
        XCTAssertTrue(eventually { self.journal.last == "end ToSlave" })
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
        XCTAssertEqual(journal, ["start ToSlave", "end ToSlave", "start ToDestroy", "end ToDestroy"])
    }

    func testGuardDelaysToMaster() throws {
        let d = HookDispatcher(settings: settings(try allJournaled(), guardMs: 600), log: capture.logger, actions: engine)
        d.start()
        XCTAssertTrue(eventually { d.currentEvent == .ToReady })
        let t0 = Date()
        let poller = Poller(d) { .init(role: .leader, leaderID: "n1", term: 1) }
        XCTAssertTrue(eventually { self.journal.contains("start ToMaster") })
        let waited = Date().timeIntervalSince(t0)
        poller.stop()
        XCTAssertGreaterThanOrEqual(waited, 0.55)
        XCTAssertLessThan(waited, 1.5)
        XCTAssertTrue(d.shutdown(timeout: .seconds(5)))
    }
}

final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
}

/// Feeds the dispatcher a sample every 20 ms from its own thread, like the engine's uv timer.
final class Poller: @unchecked Sendable {
    private let running = Locked(true)
    private let done = DispatchSemaphore(value: 0)
    init(_ d: HookDispatcher, _ sample: @escaping @Sendable () -> LeadershipSample) {
        let t = Thread { [running, done] in
            while running.get() {
                d.observe(sample())
                usleep(20_000)
            }
            done.signal()
        }
        t.start()
    }
    func stop() {
        running.set(false)
        done.wait()
    }
}
