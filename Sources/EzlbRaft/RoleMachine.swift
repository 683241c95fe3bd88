import EzlbConfig

/// The pure decision logic: which hook runs next, given the engine's samples, the hooks that ran and the clock.
/// No threads, no I/O; time is passed in (monotonic milliseconds), so every sequence can be unit-tested.
///
/// Rules (docs/raft.md "Roles and hooks"):
/// - ToReady first (after `start()`), once.
/// - Leader, held without interruption (same term, no non-leader sample) for `guardMs` → ToMaster;
///   at once (no guard, no debounce) when the sample says the previous Master handed over (released
///   the VIP and recorded it before a graceful stop).
/// - Master that is no longer leader (follower, candidate, unavailable) or no longer eligible (its
///   `track` check fails) → ToSlave at once: no debounce. An ineligible leader never runs ToMaster.
/// - Follower that knows another node leads, while not Slave → ToSlave.
/// - Candidate, or no known leader, while not Master → nothing (no ToSlave storm during elections).
/// - Debounce: a transition that would start within `debounceMs` of the previous hook's end is deferred
///   to the end of the window and then re-decided from the latest sample (latest wins; nothing is dropped).
///   Demoting a Master, a handover's ToMaster and ToDestroy are never deferred.
/// - ToMaster during which leadership was lost (or the term changed) — killed or not — may have been partly
///   applied: ToSlave runs next to clean up, even if leadership came back meanwhile; ToMaster then runs
///   again after a fresh guard if this node is (still or again) leader.
/// - ToMaster that fails with abort (or retry, all attempts failed) → abandon leadership, ToSlave;
///   ToMaster is not tried again until leadership was lost or the term changed.
/// - Shutdown: a Master runs ToSlave first (its outcome is `released`); ToDestroy is always the last hook (after ToReady when the
///   dispatcher was started; alone when it never was).
public struct RoleMachine: Sendable {
    /// The node's role: changes when the hook of the transition starts.
    public enum Role: String, Sendable {
        case initial, ready, master, slave, destroyed
    }

    public enum Decision: Equatable, Sendable {
        /// Start this hook now (then call `begin`, run it, call `finish`).
        case run(HookEvent)
        /// Nothing to do before this time (ms), unless a new sample comes.
        case wait(until: UInt64)
        /// Nothing to do until a new sample or request comes.
        case idle
        /// ToDestroy ran: the worker stops.
        case stopped
    }

    public enum Effect: Equatable, Sendable {
        case abandonLeadership
    }

    public let nodeID: String
    public var guardMs: UInt64
    public var debounceMs: UInt64

    public private(set) var role: Role = .initial
    public private(set) var running: HookEvent?
    public private(set) var latest: LeadershipSample?
    public private(set) var lastEvent: HookEvent?
    public private(set) var started = false
    /// `start()` was called (ToReady is due even if a shutdown follows at once).
    var readyDue = false
    public private(set) var shutdownRequested = false
    var destroyForced = false
    /// ms when the current uninterrupted leadership began (nil when not leader).
    public private(set) var leaderSince: UInt64?
    var lastFinish: UInt64?
    var demotionPending = false
    /// Term in which a ToMaster was aborted: no new ToMaster until leadership is lost or the term changes.
    var suppressedTerm: UInt64?
    /// Term of the leadership the running ToMaster was started for.
    var runningTerm: UInt64?
    /// Leadership was lost (or the term changed) while the running ToMaster ran: it may have been killed
    /// half-way, so its end must be followed by a ToSlave (cleanup).
    var runningInterrupted = false
    /// The ToSlave of a Master that hands over (shutdown or `requestHandover`) is running.
    var releasing = false
    /// Handing the Master role over while staying leader until the transfer (preemption).
    var handingOver = false
    /// That ToSlave finished: true when it succeeded (the VIP is released).
    public private(set) var released: Bool?

    public init(nodeID: String, guardMs: UInt64, debounceMs: UInt64) {
        self.nodeID = nodeID
        self.guardMs = guardMs
        self.debounceMs = debounceMs
    }

    public mutating func start() {
        started = true
        readyDue = true
    }

    /// Release the VIP (ToSlave) while still leader, to hand the Master role to another node;
    /// no ToMaster in this term unless `cancelHandover`. False when this node is not Master.
    public mutating func requestHandover() -> Bool {
        guard role == .master, !shutdownRequested, let s = latest, s.role == .leader else { return false }
        handingOver = true
        released = nil
        demotionPending = true
        suppressedTerm = s.term
        return true
    }

    /// The transfer did not happen: this node may be Master again (after the guard, as any leader).
    public mutating func cancelHandover() {
        guard handingOver else { return }
        handingOver = false
        released = nil
        suppressedTerm = nil
        if let s = latest, s.role == .leader { leaderSince = nil; observe(s, now: 0) }
    }

    public mutating func requestShutdown() {
        started = true
        shutdownRequested = true
    }

    /// The shutdown ran out of time: the running hook is being killed; ToDestroy runs next, whatever the role
    /// (no ToReady, no ToSlave first).
    public mutating func forceDestroy() {
        requestShutdown()
        destroyForced = true
    }

    public mutating func observe(_ s: LeadershipSample, now: UInt64) {
        if s.role == .leader {
            if leaderSince == nil || latest?.role != .leader || latest?.term != s.term { leaderSince = now }
        } else {
            leaderSince = nil
        }
        if let t = suppressedTerm, s.role != .leader || s.term != t { suppressedTerm = nil }
        latest = s
        if shouldCancelRunning { runningInterrupted = true }
    }

    /// True when the running hook is a ToMaster whose leadership is gone: it should be killed, so ToSlave can run.
    public var shouldCancelRunning: Bool {
        guard running == .ToMaster, let s = latest else { return false }
        return s.role != .leader || !s.eligible || (runningTerm != nil && s.term != runningTerm)
    }

    var isLeader: Bool { latest?.role == .leader }
    var eligible: Bool { latest?.eligible ?? true }

    /// Another node is known to lead.
    var otherLeads: Bool {
        guard let s = latest, s.role == .follower, let l = s.leaderID, !l.isEmpty else { return false }
        return l != nodeID
    }

    public func next(now: UInt64) -> Decision {
        if running != nil { return .idle }
        if role == .destroyed { return .stopped }
        if !started { return .idle }
        if destroyForced { return .run(.ToDestroy) }
        if role == .initial && readyDue { return .run(.ToReady) }
        if shutdownRequested { return .run(role == .master ? .ToSlave : .ToDestroy) }
        if role == .initial { return .run(.ToReady) }
        if demotionPending { return .run(.ToSlave) }
        if role == .master {
            return isLeader && eligible ? .idle : .run(.ToSlave)
        }
        let windowEnd = (lastFinish ?? 0) + debounceMs
        if isLeader, eligible, let since = leaderSince, suppressedTerm == nil {
            // A handover: the VIP is bound nowhere, the old Master said so; neither guard nor debounce.
            let at = latest?.handover == true ? since : max(since + guardMs, lastFinish == nil ? 0 : windowEnd)
            return now >= at ? .run(.ToMaster) : .wait(until: at)
        }
        if otherLeads && role != .slave {
            let at = lastFinish == nil ? 0 : windowEnd
            return now >= at ? .run(.ToSlave) : .wait(until: at)
        }
        return .idle
    }

    /// The hook of `event` starts now (the role changes now).
    public mutating func begin(_ event: HookEvent, now: UInt64) {
        running = event
        switch event {
        case .ToReady: role = .ready
        case .ToMaster:
            role = .master
            runningTerm = latest?.term
            runningInterrupted = false
        case .ToSlave:
            releasing = (shutdownRequested || handingOver) && role == .master
            role = .slave
            demotionPending = false
        case .ToDestroy: break
        }
    }

    /// The hook finished. `failed` is true when it failed for good (after its retries) and was not cancelled;
    /// `policy` is its on_failure.
    public mutating func finish(_ event: HookEvent, failed: Bool, policy: FailurePolicy, now: UInt64) -> [Effect] {
        let interrupted = event == .ToMaster && runningInterrupted
        running = nil
        runningTerm = nil
        runningInterrupted = false
        lastFinish = now
        lastEvent = event
        var effects: [Effect] = []
        switch event {
        case .ToSlave where releasing:
            releasing = false
            released = !failed
        case .ToDestroy:
            role = .destroyed
        case .ToMaster where interrupted:
            // Killed (or finished) after leadership went away: maybe half applied, and another node may have
            // taken the VIP meanwhile. Clean up with ToSlave; a new ToMaster follows after the guard.
            // (Its failure, if any, belongs to the lost leadership: nothing to hand away.)
            demotionPending = true
        case .ToMaster where failed && policy != .continue:
            // A node that could not take the VIP must not stay Master.
            demotionPending = true
            if let s = latest, s.role == .leader {
                suppressedTerm = s.term
                effects.append(.abandonLeadership)
            }
        default: break
        }
        return effects
    }
}
