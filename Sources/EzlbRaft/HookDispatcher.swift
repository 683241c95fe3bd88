import EzlbConfig
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What `raft status` shows about the hooks.
public struct HookStatus: Sendable, Equatable {
    public var role: RoleMachine.Role
    /// The hook running now, if any.
    public var running: HookEvent?
    /// The last hook that finished, and how.
    public var lastEvent: HookEvent?
    public var lastOutcome: HookOutcome?
    /// Wall-clock time the last hook finished.
    public var lastFinished: Date?
    /// Per event, since the daemon started (`raft serve --metrics-file`).
    public var results: [HookEvent: HookResult] = [:]
}

/// How one event's hook has done since the daemon started.
public struct HookResult: Sendable, Equatable {
    /// Completed runs (an event's retries are one run).
    public var runs = 0
    /// Runs that failed for good (after their retries; a cancelled ToMaster is not a failure).
    public var failures = 0
    public var lastOutcome: HookOutcome?
    public var lastFinished: Date?
    public var lastDurationSeconds = 0.0
}

/// Runs the hooks for the engine's leadership samples: the `RoleMachine` decides, a dedicated worker thread
/// runs one hook at a time in event order. `observe` (the engine's loop thread) only takes a lock the worker
/// holds for a few instructions — never while a hook runs — and never blocks on a hook.
public final class HookDispatcher: @unchecked Sendable {
    private let settings: RaftSettings
    private let log: Logger
    private let actions: DispatcherActions
    /// PATH, HOME and LANG of the daemon (PATH defaulted), taken once.
    private let inherited: [(String, String)]

    // Guarded by `lock`.
    private let lock = Condition()
    private var machine: RoleMachine
    private var hooks: HooksConfig
    private var threadStarted = false
    private var stopped = false
    private var cancelRunning = false
    private var lastOutcome: HookOutcome?
    private var lastFinished: Date?
    private var results: [HookEvent: HookResult] = [:]

    public init(settings: RaftSettings, log: Logger, actions: DispatcherActions) {
        self.settings = settings
        self.log = log
        self.actions = actions
        self.hooks = settings.hooks
        self.machine = RoleMachine(nodeID: settings.nodeID, guardMs: UInt64(settings.masterGuardMs),
                                   debounceMs: UInt64((settings.hooks.debounce * 1000).rounded()))
        let env = ProcessInfo.processInfo.environment
        var inh: [(String, String)] = [("PATH", env["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? HookExecutor.defaultPath)]
        for k in ["HOME", "LANG"] { if let v = env[k] { inh.append((k, v)) } }
        self.inherited = inh
    }

    /// Starts the worker and queues ToReady.
    public func start() {
        lock.withLock {
            machine.start()
            startThreadLocked()
            lock.broadcast()
        }
    }

    /// A leadership sample; cheap and non-blocking (called on every poll tick from the engine's loop thread).
    public func observe(_ sample: LeadershipSample) {
        let now = Self.nowMs()
        lock.withLock {
            if stopped { return }
            let before = machine.latest
            machine.observe(sample, now: now)
            if machine.shouldCancelRunning && !cancelRunning {
                cancelRunning = true
                log.warning("leadership lost while ToMaster runs: stopping it", metadata: ["event": "ToMaster", "term": "\(sample.term)"])
            }
            if before != sample { lock.broadcast() }
        }
    }

    /// Longest time one event's hook may take with its policy: every attempt with its timeout and the kill
    /// grace, plus the backoffs between retries. 0 when no hook is configured.
    public static func budget(_ spec: HookSpec?) -> Double {
        guard let spec else { return 0 }
        let attempts = spec.onFailure == .retry ? max(1, spec.retryAttempts) : 1
        return Double(attempts) * (spec.timeout + HookExecutor.killGrace) + Double(attempts - 1) * spec.retryBackoff
    }

    /// How long `raft serve` waits for the hooks before ToDestroy: the running hook, then a Master's ToSlave.
    public static func shutdownTimeout(_ hooks: HooksConfig) -> Double {
        let longest = HookEvent.allCases.filter { $0 != .ToDestroy }.map { budget(hooks[$0]) }.max() ?? 0
        return longest + budget(hooks[.ToSlave]) + 2
    }

    /// Blocks until the running hook finished, a Master ran ToSlave, and ToDestroy ran; stops the worker.
    /// When that takes longer than `timeout`, the running hook (its whole process group) is killed and
    /// ToDestroy still runs, with its own budget (`destroyTimeout`, default: its timeout and retries + 2 s).
    /// Returns false when the timeout was hit (or ToDestroy itself had to be killed).
    /// `timeout` nil: `shutdownTimeout` of the current hooks.
    public func shutdown(timeout: Swift.Duration? = nil, destroyTimeout: Swift.Duration? = nil) -> Bool {
        return lock.withLock {
            machine.requestShutdown()
            startThreadLocked()
            lock.broadcast()
            let first = timeout.map(Self.ms) ?? UInt64(Self.shutdownTimeout(hooks) * 1000)
            waitStoppedLocked(until: Self.nowMs() + first)
            if stopped { return true }
            let running = machine.running
            if running != .ToDestroy {
                log.error("shutdown: hooks did not finish in time: killing the running hook, then ToDestroy",
                          metadata: ["running": "\(running?.rawValue ?? "-")"])
                machine.forceDestroy()
                cancelRunning = true
                lock.broadcast()
                let grace = destroyTimeout.map(Self.ms) ?? UInt64((Self.budget(hooks[.ToDestroy]) + 2) * 1000)
                waitStoppedLocked(until: Self.nowMs() + grace)
                if stopped { return false }
            }
            cancelRunning = true
            log.error("shutdown: ToDestroy did not finish in time: killing it", metadata: ["running": "\(machine.running?.rawValue ?? "-")"])
            // Let the worker kill the process group before the process exits.
            waitStoppedLocked(until: Self.nowMs() + UInt64((HookExecutor.killGrace + 0.5) * 1000))
            return false
        }
    }

    /// Starts the shutdown without waiting for it (`shutdown` waits): a Master runs ToSlave first.
    /// Returns true when this node is Master, i.e. when `released` will report that ToSlave's outcome.
    public func beginShutdown() -> Bool {
        lock.withLock {
            let master = machine.role == .master
            machine.requestShutdown()
            startThreadLocked()
            lock.broadcast()
            return master
        }
    }

    /// Preemption: a Master runs ToSlave and stays leader until the transfer. False when not Master.
    public func beginHandover() -> Bool {
        lock.withLock {
            let ok = machine.requestHandover()
            if ok { lock.broadcast() }
            return ok
        }
    }

    /// The transfer did not happen: Master again (ToMaster at once, still leader).
    public func cancelHandover() {
        lock.withLock {
            machine.cancelHandover()
            lock.broadcast()
        }
    }

    /// After `beginShutdown` or `beginHandover` on a Master: nil until its ToSlave finished, then whether it succeeded.
    public var released: Bool? { lock.withLock { machine.released } }

    private func waitStoppedLocked(until deadline: UInt64) {
        while !stopped && Self.nowMs() < deadline { lock.wait(untilMs: deadline) }
    }

    static func ms(_ d: Swift.Duration) -> UInt64 {
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        return UInt64(max(0, seconds) * 1000)
    }

    /// New `hooks` section (SIGHUP). A running hook finishes with the old one.
    public func reload(hooks: HooksConfig) {
        lock.withLock {
            self.hooks = hooks
            machine.debounceMs = UInt64((hooks.debounce * 1000).rounded())
            lock.broadcast()
        }
        log.info("hooks reloaded", metadata: ["hooks": "\(hooks.specs.keys.map(\.rawValue).sorted().joined(separator: ","))"])
    }

    /// The last hook that completed.
    public var currentEvent: HookEvent? { lock.withLock { machine.lastEvent } }

    public var status: HookStatus {
        lock.withLock {
            HookStatus(role: machine.role, running: machine.running, lastEvent: machine.lastEvent,
                       lastOutcome: lastOutcome, lastFinished: lastFinished, results: results)
        }
    }

    // MARK: - worker

    private func startThreadLocked() {
        if threadStarted { return }
        threadStarted = true
        let t = PosixThread { [self] in worker() }
        t.name = "ezlb-hooks"
        if !t.start() { threadStarted = false } // EAGAIN: the next submit tries again
    }

    private func worker() {
        lock.lock()
        while true {
            let now = Self.nowMs()
            switch machine.next(now: now) {
            case .stopped:
                stopped = true
                lock.broadcast()
                lock.unlock()
                return
            case .idle:
                lock.wait()
            case .wait(let until):
                lock.wait(untilMs: until)
            case .run(let event):
                machine.begin(event, now: now)
                cancelRunning = false
                let spec = hooks[event]
                let sample = machine.latest
                lock.unlock()

                let t0 = monotonicSeconds()
                let (outcome, failed) = execute(event, spec: spec, sample: sample)
                let took = monotonicSeconds() - t0

                lock.lock()
                let effects = machine.finish(event, failed: failed, policy: spec?.onFailure ?? .continue, now: Self.nowMs())
                lastOutcome = outcome
                lastFinished = Date()
                if spec != nil {
                    var r = results[event] ?? HookResult()
                    r.runs += 1
                    if failed { r.failures += 1 }
                    r.lastOutcome = outcome
                    r.lastFinished = lastFinished
                    r.lastDurationSeconds = took
                    results[event] = r
                }
                cancelRunning = false
                lock.broadcast()
                if effects.contains(.abandonLeadership) {
                    lock.unlock()
                    log.error("ToMaster failed: handing leadership away", metadata: ["event": "ToMaster"])
                    actions.abandonLeadership()
                    lock.lock()
                }
            }
        }
    }

    /// Runs one event's hook with its policy (retries included). Returns the last outcome and whether it
    /// failed for good (a cancelled ToMaster did not "fail": its leadership went away).
    private func execute(_ event: HookEvent, spec: HookSpec?, sample: LeadershipSample?) -> (HookOutcome?, Bool) {
        let base: Logger.Metadata = ["event": .string(event.rawValue), "node": .string(settings.nodeID),
                                     "term": .string("\(sample?.term ?? 0)")]
        guard let spec else {
            log.info("hook start", metadata: base.merging(["command": "-"]) { $1 })
            log.info("hook done", metadata: base.merging(["status": "no hook configured", "duration_ms": "0"]) { $1 })
            return (nil, false)
        }
        let env = environment(for: event, spec: spec, sample: sample)
        let attempts = spec.onFailure == .retry ? max(1, spec.retryAttempts) : 1
        var outcome: HookOutcome = .exited(0)
        for attempt in 1...attempts {
            var md = base
            md["attempt"] = "\(attempt)/\(attempts)"
            log.info("hook start", metadata: md.merging(["command": .string(([spec.command] + spec.args).joined(separator: " "))]) { $1 })
            let t0 = monotonicSeconds()
            outcome = HookExecutor.run(command: spec.command, args: spec.args, environment: env, timeout: spec.timeout,
                                       log: log, metadata: base) { [self] in lock.withLock { cancelRunning } }
            let ms = Int(((monotonicSeconds() - t0) * 1000).rounded())
            md["status"] = .string(outcome.description)
            md["duration_ms"] = "\(ms)"
            if outcome.succeeded {
                log.info("hook done", metadata: md)
                return (outcome, false)
            }
            if outcome == .cancelled {
                log.warning("hook done", metadata: md)
                return (outcome, false)
            }
            let more = attempt < attempts
            log.error("hook done", metadata: md.merging(["on_failure": .string(spec.onFailure.rawValue)]) { $1 })
            if !more { break }
            // Wait the backoff; stop retrying when the reason for the hook is gone (ToMaster without leadership,
            // a shutdown for ToMaster/ToSlave retries is not a reason to stop: the VIP must leave).
            let until = Self.nowMs() + UInt64((spec.retryBackoff * 1000).rounded())
            let stop: Bool = lock.withLock {
                while Self.nowMs() < until && !cancelRunning { lock.wait(untilMs: until) }
                return cancelRunning
            }
            if stop {
                log.warning("hook retries stopped: leadership lost", metadata: base)
                return (.cancelled, false)
            }
        }
        return (outcome, true)
    }

    /// PATH/HOME/LANG of the daemon + EVENT_TYPE NODE_ID RAFT_ADDR LEADER_ID TERM (the seed's name; RAFT_TERM too,
    /// for scripts that run terminal tools, which read TERM) + the hook's `environment`
    /// (templates expanded); later entries win.
    func environment(for event: HookEvent, spec: HookSpec, sample: LeadershipSample?) -> [(String, String)] {
        let leader = event == .ToMaster ? settings.nodeID : (sample?.leaderID ?? "")
        let term = "\(sample?.term ?? 0)"
        let values = ["NodeID": settings.nodeID, "Event": event.rawValue, "RaftAddr": settings.raftAddr,
                      "LeaderID": leader, "Term": term]
        var env = inherited
        env += [("EVENT_TYPE", event.rawValue), ("NODE_ID", settings.nodeID), ("RAFT_ADDR", settings.raftAddr),
                ("LEADER_ID", leader), ("TERM", term), ("RAFT_TERM", term)]
        for e in spec.environment { env.append((e.name, HookTemplate.expand(e.template, values: values))) }
        var seen: Set<String> = []
        var out: [(String, String)] = []
        for (k, v) in env.reversed() where seen.insert(k).inserted { out.append((k, v)) }
        return out.reversed()
    }

    static func nowMs() -> UInt64 { monotonicMs() }
}
