import EzlbConfig
@testable import EzlbRaft
import TestSupport
import XCTest

/// A discrete-time simulation around the pure RoleMachine: samples arrive at given times, every hook takes
/// `hookMs` (or a per-event duration) and succeeds unless told otherwise; ticks are 10 ms like a fast poll.
struct Sim {
    var m: RoleMachine
    var now: UInt64 = 0
    var hookMs: [HookEvent: UInt64] = [:]
    var failing: Set<HookEvent> = []
    var policy: FailurePolicy = .abort
    /// (start ms, event) of every hook started.
    var started: [(UInt64, HookEvent)] = []
    var effects: [RoleMachine.Effect] = []
    var running: (HookEvent, UInt64)?

    init(guardMs: UInt64 = 1000, debounceMs: UInt64 = 500, hookMs: UInt64 = 50) {
        m = RoleMachine(nodeID: "n1", guardMs: guardMs, debounceMs: debounceMs)
        for e in HookEvent.allCases { self.hookMs[e] = hookMs }
    }

    var events: [HookEvent] { started.map(\.1) }

    mutating func step() {
        if let (e, end) = running, now >= end {
            effects += m.finish(e, failed: failing.contains(e), policy: policy, now: now)
            running = nil
        }
        if running == nil, case .run(let e) = m.next(now: now) {
            m.begin(e, now: now)
            started.append((now, e))
            running = (e, now + hookMs[e]!)
        }
    }

    /// Advances the clock to `t`, ticking every 10 ms.
    mutating func run(until t: UInt64) {
        while now < t {
            step()
            now += 10
        }
        step()
    }

    /// Times a Master saw its leadership go while idle and did not start ToSlave in the same tick.
    var lateDemotions: [UInt64] = []

    mutating func sample(_ role: RaftRole, _ leader: String?, term: UInt64) {
        let mustDemote = m.role == .master && running == nil && role != .leader
        m.observe(LeadershipSample(role: role, leaderID: leader, term: term), now: now)
        step()
        if mustDemote && !(started.last?.0 == now && started.last?.1 == .ToSlave) { lateDemotions.append(now) }
    }

    /// Keeps sending `role` every `every` ms until `t` (like the engine's poll).
    mutating func hold(_ role: RaftRole, _ leader: String?, term: UInt64, until t: UInt64, every: UInt64 = 50) {
        while now < t {
            sample(role, leader, term: term)
            run(until: min(t, now + every))
        }
        sample(role, leader, term: term)
    }

    func start(of e: HookEvent, after t: UInt64 = 0) -> UInt64? { started.first { $0.1 == e && $0.0 >= t }?.0 }
}

final class RoleMachineTests: XCTestCase {
    func started() -> Sim {
        var s = Sim()
        s.m.start()
        s.run(until: 100)
        return s
    }

    func testReadyFirstAndOnlyOnce() {
        var s = Sim()
        s.run(until: 1000)
        XCTAssertEqual(s.events, [], "nothing before start()")
        s.m.start()
        s.run(until: 3000)
        XCTAssertEqual(s.events, [.ToReady])
        XCTAssertEqual(s.m.role, .ready)
    }

    func testAnotherLeaderMakesSlaveOnce() {
        var s = started()
        s.hold(.follower, "n2", term: 1, until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
        XCTAssertEqual(s.m.role, .slave)
        // A new leader elsewhere: still Slave, no second ToSlave.
        s.hold(.follower, "n3", term: 2, until: 8000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
    }

    func testNoSlaveStormDuringElections() {
        var s = started()
        // Ready node: elections, unknown leader, candidate, unavailable: nothing.
        s.hold(.follower, nil, term: 1, until: 1000)
        s.hold(.candidate, nil, term: 2, until: 2000)
        s.hold(.follower, nil, term: 3, until: 3000)
        s.hold(.unavailable, nil, term: 3, until: 4000)
        s.hold(.candidate, nil, term: 4, until: 5000)
        XCTAssertEqual(s.events, [.ToReady])
        // A Slave going through many elections: no hook either.
        s.hold(.follower, "n2", term: 4, until: 6000)
        for t in UInt64(5)...UInt64(20) {
            s.hold(.candidate, nil, term: t, until: s.now + 300)
            s.hold(.follower, nil, term: t, until: s.now + 300)
        }
        s.hold(.follower, "n3", term: 21, until: s.now + 1000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
    }

    func testLeaderBecomesMasterAfterGuard() {
        var s = started()
        let since = s.now
        s.hold(.leader, "n1", term: 1, until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster])
        let at = s.start(of: .ToMaster)!
        XCTAssertGreaterThanOrEqual(at, since + 1000, "guard: leadership held 1 s first")
        XCTAssertLessThanOrEqual(at, since + 1000 + 10, "and not later than one tick after")
        XCTAssertEqual(s.m.role, .master)
    }

    /// The previous Master released the VIP and said so (graceful stop): ToMaster at once.
    func testHandoverSkipsTheGuardOnlyWhileTheSampleSaysSo() {
        var s = started()
        s.hold(.follower, "n2", term: 1, until: 1000)
        let since = s.now
        s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 2, handover: false), now: s.now)
        s.run(until: since + 100)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave], "no handover yet: the guard holds")
        s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 2, handover: true), now: s.now)
        s.step()
        XCTAssertEqual(s.events.last, .ToMaster)
        XCTAssertLessThanOrEqual(s.start(of: .ToMaster)!, since + 110, "well inside the 1 s guard")
    }

    func testShutdownReleaseOutcome() {
        var s = started()
        s.hold(.leader, "n1", term: 1, until: 2000)
        XCTAssertNil(s.m.released)
        s.m.requestShutdown()
        s.run(until: 3000)
        XCTAssertEqual(s.m.released, true, "a Master's shutdown ToSlave succeeded")
        var f = started()
        f.failing = [.ToSlave]
        f.hold(.leader, "n1", term: 1, until: 2000)
        f.m.requestShutdown()
        f.run(until: 3000)
        XCTAssertEqual(f.m.released, false)
        var slave = started()
        slave.hold(.follower, "n2", term: 1, until: 2000)
        slave.m.requestShutdown()
        slave.run(until: 3000)
        XCTAssertNil(slave.m.released, "a Slave has nothing to release")
    }

    /// Preemption: the Master releases (ToSlave) and stays leader without ToMaster until the
    /// transfer; when the transfer fails it is Master again.
    func testHandoverReleasesAndCancelRestoresMaster() {
        var s = started()
        s.hold(.leader, "n1", term: 1, until: 2000)
        XCTAssertEqual(s.m.role, .master)
        XCTAssertTrue(s.m.requestHandover())
        s.hold(.leader, "n1", term: 1, until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave], "released, no ToMaster while handing over")
        XCTAssertEqual(s.m.released, true)
        s.m.cancelHandover()
        s.hold(.leader, "n1", term: 1, until: 7000)
        XCTAssertEqual(s.events.last, .ToMaster, "Master again once the handover is off")
        var f = started()
        f.hold(.follower, "n2", term: 1, until: 1000)
        XCTAssertFalse(f.m.requestHandover(), "only a Master hands over")
    }

    /// track: an ineligible leader never runs ToMaster; a Master that becomes ineligible steps down
    /// at once; eligible again, it is Master again (still leader).
    func testEligibility() {
        var s = started()
        for _ in 0..<40 {
            s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 1, eligible: false), now: s.now)
            s.run(until: s.now + 50)
        }
        XCTAssertEqual(s.events, [.ToReady], "no ToMaster while the track check fails")
        for _ in 0..<30 {
            s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 1), now: s.now)
            s.run(until: s.now + 50)
        }
        XCTAssertEqual(s.events, [.ToReady, .ToMaster])
        s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 1, eligible: false), now: s.now)
        s.step()
        XCTAssertEqual(s.events.last, .ToSlave, "an unfit Master steps down in the same tick")
    }

    func testShortLeadershipNeverBecomesMaster() {
        var s = started()
        s.hold(.leader, "n1", term: 1, until: 800)
        s.hold(.follower, "n2", term: 2, until: 3000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
    }

    func testTermChangeRestartsGuard() {
        var s = started()
        s.hold(.leader, "n1", term: 1, until: 700)
        let t2 = s.now
        s.hold(.leader, "n1", term: 2, until: 3000)
        XCTAssertGreaterThanOrEqual(s.start(of: .ToMaster)!, t2 + 1000, "a new term is a new leadership")
    }

    func testMasterLosingLeadershipDemotesAtOnceEvenInsideDebounce() {
        for lost in [RaftRole.candidate, .follower, .unavailable] {
            var s = started()
            s.hold(.leader, "n1", term: 1, until: 2000)
            XCTAssertEqual(s.events.last, .ToMaster)
            let masterEnd = s.start(of: .ToMaster)! + 50
            s.run(until: masterEnd + 20)
            let t = s.now
            s.sample(lost, nil, term: 2)   // inside the 500 ms debounce window after ToMaster finished
            XCTAssertEqual(s.events.last, .ToSlave, "\(lost)")
            XCTAssertEqual(s.start(of: .ToSlave)!, t, "demotion is not debounced (\(lost))")
        }
    }

    func testDebounceDefersAndLatestWins() {
        var s = started()
        s.m.guardMs = 0
        s.hold(.follower, "n2", term: 1, until: 1000)          // ToSlave at ~500 (debounce after ToReady)
        let slaveEnd = s.start(of: .ToSlave)! + 50
        XCTAssertGreaterThanOrEqual(s.start(of: .ToSlave)!, 100 + 50 - 10)
        s.run(until: slaveEnd + 100)
        // Inside the window: leader, then back to follower: latest wins → no hook.
        s.sample(.leader, "n1", term: 2)
        s.run(until: slaveEnd + 200)
        s.sample(.follower, "n3", term: 3)
        s.run(until: slaveEnd + 2000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave], "a flap inside the window collapses")
        // Leader inside a window and staying leader: deferred to the window's end, not dropped.
        s.sample(.leader, "n1", term: 4)
        s.run(until: s.now + 2000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave, .ToMaster])
    }

    func testDeferredTransitionRunsAtWindowEnd() {
        var s = Sim(guardMs: 0, debounceMs: 500, hookMs: 50)
        s.m.start()
        s.run(until: 10)         // ToReady 0..50
        s.run(until: 60)
        s.sample(.follower, "n2", term: 1)
        s.run(until: 2000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
        let ready = s.start(of: .ToReady)!
        XCTAssertGreaterThanOrEqual(s.start(of: .ToSlave)!, ready + 50 + 500, "deferred by the window")
        XCTAssertLessThanOrEqual(s.start(of: .ToSlave)!, ready + 50 + 500 + 10, "run as soon as the window ends")
    }

    func testSamplesDuringARunningHookAreNotLost() {
        var s = Sim(guardMs: 0, debounceMs: 0, hookMs: 1000)
        s.m.start()
        s.run(until: 100)            // ToReady runs 0..1000
        s.sample(.leader, "n1", term: 1)
        s.sample(.follower, "n2", term: 2)   // latest wins: Slave
        s.run(until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
        s.sample(.leader, "n1", term: 3)
        s.run(until: 5100)
        s.sample(.follower, nil, term: 4)    // ToMaster running, leadership lost
        XCTAssertTrue(s.m.shouldCancelRunning)
        s.run(until: 9000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave, .ToMaster, .ToSlave], "the Master that lost leadership is demoted")
    }

    func testCancelOnTermChange() {
        var m = RoleMachine(nodeID: "n1", guardMs: 0, debounceMs: 0)
        m.start()
        m.begin(.ToReady, now: 0)
        _ = m.finish(.ToReady, failed: false, policy: .continue, now: 1)
        m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 5), now: 2)
        XCTAssertEqual(m.next(now: 2), .run(.ToMaster))
        m.begin(.ToMaster, now: 2)
        XCTAssertFalse(m.shouldCancelRunning)
        m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 5), now: 3)
        XCTAssertFalse(m.shouldCancelRunning)
        m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 7), now: 4)
        XCTAssertTrue(m.shouldCancelRunning, "lost and regained between two polls")
    }

    /// A ToMaster killed because leadership was lost may have stopped half-way (before `ip addr replace`).
    /// If leadership comes back before it ends, the node must not stay "Master" without the VIP:
    /// ToSlave cleans up, then ToMaster runs again after a fresh guard.
    func testToMasterInterruptedThenLeadershipRegainedBeforeFinishRunsSlaveThenMasterAgain() {
        var m = RoleMachine(nodeID: "n1", guardMs: 1000, debounceMs: 500)
        m.start()
        m.begin(.ToReady, now: 0)
        _ = m.finish(.ToReady, failed: false, policy: .continue, now: 10)
        m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 1), now: 10)
        XCTAssertEqual(m.next(now: 1010), .run(.ToMaster))
        m.begin(.ToMaster, now: 1010)
        m.observe(LeadershipSample(role: .follower, leaderID: "n2", term: 2), now: 1020)
        XCTAssertTrue(m.shouldCancelRunning)
        m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 3), now: 1030)   // back before the kill landed
        // The hook ends as cancelled (not failed).
        XCTAssertEqual(m.finish(.ToMaster, failed: false, policy: .abort, now: 1040), [], "nothing to hand away")
        XCTAssertEqual(m.next(now: 1040), .run(.ToSlave), "cleanup at once, not idle as a VIP-less Master")
        m.begin(.ToSlave, now: 1040)
        _ = m.finish(.ToSlave, failed: false, policy: .continue, now: 1050)
        XCTAssertEqual(m.role, .slave)
        XCTAssertEqual(m.next(now: 1100), .wait(until: 2030), "ToMaster again after a fresh guard from the regain")
        XCTAssertEqual(m.next(now: 2030), .run(.ToMaster))
        m.begin(.ToMaster, now: 2030)
        _ = m.finish(.ToMaster, failed: false, policy: .abort, now: 2040)
        XCTAssertEqual(m.role, .master)
        XCTAssertEqual(m.next(now: 5000), .idle, "an uninterrupted ToMaster is not repeated")
    }

    func testLostAndRegainedDuringToMasterInSimulation() {
        var s = Sim(guardMs: 500, debounceMs: 300, hookMs: 400)
        s.m.start()
        s.run(until: 500)
        s.hold(.leader, "n1", term: 1, until: 1100)       // ToMaster starts at ~1000
        XCTAssertEqual(s.events, [.ToReady, .ToMaster])
        s.hold(.candidate, nil, term: 2, until: 1200)     // lost while it runs
        s.hold(.leader, "n1", term: 2, until: 4000)       // regained before it ends
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave, .ToMaster])
        XCTAssertEqual(s.m.role, .master)
        let again = s.started.last!.0
        XCTAssertGreaterThanOrEqual(again, 1200 + 500, "the guard restarts at the regain")
    }

    func testAbortedToMasterAbandonsLeadershipAndRunsSlave() {
        var s = started()
        s.failing = [.ToMaster]
        s.policy = .abort
        s.hold(.leader, "n1", term: 1, until: 1500)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave], "failed ToMaster → ToSlave at once")
        XCTAssertEqual(s.effects, [.abandonLeadership])
        XCTAssertEqual(s.start(of: .ToSlave)!, s.start(of: .ToMaster)! + 50, "no debounce for it")
        // The transfer is slow: still leader in the same term → no new ToMaster.
        s.hold(.leader, "n1", term: 1, until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave])
        XCTAssertEqual(s.m.role, .slave)
        // Re-elected later (new term): tries again after the guard.
        s.failing = []
        let t = s.now
        s.hold(.leader, "n1", term: 2, until: 8000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave, .ToMaster])
        XCTAssertGreaterThanOrEqual(s.start(of: .ToMaster, after: t)!, t + 1000)
        XCTAssertEqual(s.effects, [.abandonLeadership])
    }

    func testRetryExhaustedActsLikeAbortForToMaster() {
        var s = started()
        s.failing = [.ToMaster]
        s.policy = .retry
        s.hold(.leader, "n1", term: 1, until: 1500)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave])
        XCTAssertEqual(s.effects, [.abandonLeadership])
    }

    func testContinueKeepsMaster() {
        var s = started()
        s.failing = [.ToMaster]
        s.policy = .continue
        s.hold(.leader, "n1", term: 1, until: 4000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster])
        XCTAssertEqual(s.effects, [])
        XCTAssertEqual(s.m.role, .master)
    }

    func testFailedToMasterAfterLeadershipLossDoesNotAbandon() {
        var s = Sim(guardMs: 0, debounceMs: 0, hookMs: 500)
        s.failing = [.ToMaster]
        s.m.start()
        s.run(until: 600)
        s.sample(.leader, "n1", term: 1)
        s.run(until: 700)
        s.sample(.follower, "n2", term: 2)
        s.run(until: 3000)
        XCTAssertEqual(s.effects, [], "nothing to hand away")
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave])
    }

    func testSlaveFailureKeepsSlave() {
        var s = started()
        s.failing = [.ToSlave]
        s.hold(.follower, "n2", term: 1, until: 3000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave])
        XCTAssertEqual(s.m.role, .slave)
        XCTAssertEqual(s.effects, [])
    }

    func testShutdownAsMasterRunsSlaveThenDestroyLast() {
        var s = started()
        s.hold(.leader, "n1", term: 1, until: 2000)
        s.m.requestShutdown()
        s.run(until: 3000)
        XCTAssertEqual(s.events, [.ToReady, .ToMaster, .ToSlave, .ToDestroy])
        XCTAssertEqual(s.m.next(now: s.now), .stopped)
        // Nothing after ToDestroy, whatever comes.
        s.hold(.leader, "n1", term: 1, until: 6000)
        s.hold(.follower, "n2", term: 2, until: 7000)
        XCTAssertEqual(s.events.last, .ToDestroy)
        XCTAssertEqual(s.events.count, 4)
    }

    func testShutdownAsSlaveOrReady() {
        var s = started()
        s.hold(.follower, "n2", term: 1, until: 2000)
        s.m.requestShutdown()
        s.run(until: 3000)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave, .ToDestroy])

        var r = started()
        r.m.requestShutdown()
        r.run(until: 1000)
        XCTAssertEqual(r.events, [.ToReady, .ToDestroy])
    }

    func testShutdownBeforeStartRunsOnlyDestroy() {
        var s = Sim()
        s.m.requestShutdown()
        s.run(until: 1000)
        XCTAssertEqual(s.events, [.ToDestroy])
    }

    func testShutdownRightAfterStartStillRunsReadyFirst() {
        var s = Sim()
        s.m.start()
        s.m.observe(LeadershipSample(role: .leader, leaderID: "n1", term: 1), now: 0)
        s.m.requestShutdown()
        s.run(until: 1000)
        XCTAssertEqual(s.events, [.ToReady, .ToDestroy])
    }

    func testShutdownWhileHookRunsWaitsForIt() {
        var s = Sim(guardMs: 0, debounceMs: 0, hookMs: 1000)
        s.m.start()
        s.run(until: 100)
        s.m.requestShutdown()
        s.run(until: 5000)
        XCTAssertEqual(s.events, [.ToReady, .ToDestroy])
        XCTAssertEqual(s.start(of: .ToDestroy)!, 1000)
    }

    func testShutdownIgnoresGuardAndDebounce() {
        var s = started()
        s.hold(.follower, "n2", term: 1, until: 2000)
        s.sample(.leader, "n1", term: 2)   // guard pending
        let t = s.now
        s.m.requestShutdown()
        s.run(until: t + 100)
        XCTAssertEqual(s.events, [.ToReady, .ToSlave, .ToDestroy], "no ToMaster while shutting down")
        XCTAssertEqual(s.start(of: .ToDestroy)!, t)
    }

    /// Random leadership histories: the invariants hold for every one.
    func testRandomHistoriesKeepInvariants() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<300 {
            let guardMs = UInt64(rng.next() % 3) * 500
            let debounce = UInt64(rng.next() % 3) * 300
            var s = Sim(guardMs: guardMs, debounceMs: debounce, hookMs: UInt64(10 + rng.next() % 200))
            s.policy = [.abort, .continue, .retry][Int(rng.next() % 3)]
            if rng.next() % 4 == 0 { s.failing = [.ToMaster] }
            s.m.start()
            var term: UInt64 = 1
            var history: [(UInt64, LeadershipSample)] = []
            for _ in 0..<40 {
                let r = rng.next() % 5
                if rng.next() % 2 == 0 { term += 1 }
                let sample: LeadershipSample
                switch r {
                case 0: sample = .init(role: .leader, leaderID: "n1", term: term)
                case 1: sample = .init(role: .follower, leaderID: "n\(2 + rng.next() % 2)", term: term)
                case 2: sample = .init(role: .follower, leaderID: nil, term: term)
                case 3: sample = .init(role: .candidate, leaderID: nil, term: term)
                default: sample = .init(role: .unavailable, leaderID: nil, term: term)
                }
                let until = s.now + 10 + rng.next() % 2500
                while s.now < until {
                    s.sample(sample.role, sample.leaderID, term: sample.term)
                    history.append((s.now, sample))
                    s.run(until: min(until, s.now + 50))
                }
            }
            // Quiesce on a stable final state.
            let last = history.last!.1
            s.hold(last.role, last.leaderID, term: last.term, until: s.now + 5000)
            let ctx = "round \(round) \(s.events)"

            // 1. ToReady first, once.
            XCTAssertEqual(s.events.first, .ToReady, ctx)
            XCTAssertEqual(s.events.filter { $0 == .ToReady }.count, 1, ctx)
            // 2. Roles alternate: no ToMaster twice in a row, no ToSlave twice in a row.
            for (a, b) in zip(s.events.dropFirst(), s.events.dropFirst(2)) {
                XCTAssertNotEqual(a, b, ctx)
            }
            // 3. Every ToMaster started while leader without interruption for the guard.
            for (t, e) in s.started where e == .ToMaster {
                // Samples of the guard window before t (one at t itself may come after the tick that started it).
                let window = history.filter { $0.0 + guardMs >= t && $0.0 < t }
                XCTAssertTrue(history.contains { $0.0 <= t && $0.1.role == .leader }, ctx)
                XCTAssertTrue(window.allSatisfy { $0.1.role == .leader }, "\(ctx): ToMaster at \(t) without \(guardMs) ms of leadership")
            }
            // 4. A Master that is not leader is demoted at once (when no hook runs).
            XCTAssertEqual(s.lateDemotions, [], ctx)
            // 5. Converged: the last state wins, nothing dropped.
            switch last.role {
            case .leader where s.failing.isEmpty || s.policy == .continue:
                XCTAssertEqual(s.m.role, .master, ctx)
            case .leader:
                XCTAssertNotEqual(s.m.role, .ready, ctx)
            case .follower where last.leaderID != nil:
                XCTAssertEqual(s.m.role, .slave, ctx)
            default:
                XCTAssertNotEqual(s.m.role, .master, "\(ctx): Master without leadership")
            }
            // 6. Shutdown: ToDestroy last.
            s.m.requestShutdown()
            s.run(until: s.now + 2000)
            XCTAssertEqual(s.events.last, .ToDestroy, ctx)
            XCTAssertEqual(s.events.filter { $0 == .ToDestroy }.count, 1, ctx)
        }
    }
}

