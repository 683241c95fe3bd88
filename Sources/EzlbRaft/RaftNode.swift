import EzlbConfig
import EzlbCore
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Feeds the hook dispatcher from the engine and carries its requests back.
final class DispatcherBridge: LeadershipObserver, DispatcherActions, @unchecked Sendable {
    var dispatcher: HookDispatcher?
    weak var server: RaftServer?
    let configPath: String
    let log: Logger

    init(configPath: String, log: Logger) {
        self.configPath = configPath
        self.log = log
    }

    func observe(role: EngineRole, leaderName: String?, term: UInt64, handover: Bool, eligible: Bool) {
        dispatcher?.observe(LeadershipSample(role: RaftRole(rawValue: role.rawValue) ?? .unavailable, leaderID: leaderName,
                                             term: term, handover: handover, eligible: eligible))
    }

    func beginRelease() -> Bool { dispatcher?.beginShutdown() ?? false }
    func beginHandover() -> Bool { dispatcher?.beginHandover() ?? false }
    func cancelHandover() { dispatcher?.cancelHandover() }
    var released: Bool? { dispatcher?.released }

    var lastEvent: String? { dispatcher?.currentEvent?.rawValue }

    func reload() {
        do {
            let hooks = try RaftSettings.parseHooks(path: configPath)
            dispatcher?.reload(hooks: hooks)
            log.notice("hooks reloaded from \(configPath)")
        } catch {
            log.error("SIGHUP: hooks not reloaded, keeping the previous ones: \(error)")
        }
    }

    func abandonLeadership() { server?.requestAbandonLeadership() }
}

/// `raft serve`: one node — the libraft engine, the hook dispatcher, the control endpoint —
/// until SIGTERM/SIGINT or its removal from the cluster.
public enum RaftNode {
    /// Leadership poll interval (libraft 0.15 has no leadership callback).
    static let pollMs: UInt32 = 50

    /// Runs the node until it stops; returns the signal that stopped it, if one did.
    @discardableResult
    public static func serve(_ settings: RaftSettings, bootstrap: Bool, metricsFile: String? = nil, log: Logger) throws -> Int32? {
        try settings.requireSecretBeyondLoopback()
        let dir = settings.dataDir
        // mkdir -p with mode 0700 (errno text on failure).
        var prefix = dir.hasPrefix("/") ? "" : "."
        for part in dir.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw Failure(.failure, "node.data_dir: '\(dir)': \(String(cString: strerror(errno)))")
            }
        }
        // The state directory's rule: root's raft log and control socket live here.
        try StateDirectory(path: dir).checkSafe()
        let lock: FileLock
        do { lock = try FileLock(path: RaftPaths.lock(dir), timeoutSeconds: 0) } catch StateError.lockTimeout {
            throw Failure(.busy, "another `ezlb raft serve` is running on \(dir)")
        }
        defer { withExtendedLifetime(lock) {} }
        let existing = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !RaftPaths.own.contains($0) }
        if bootstrap && !existing.isEmpty {
            throw Failure(.config, "--bootstrap: \(dir) already holds Raft data (\(existing.sorted().prefix(3).joined(separator: ", "))); a cluster is bootstrapped once, on one node — start without --bootstrap")
        }
        if !bootstrap && existing.isEmpty {
            log.notice("\(dir) is empty: waiting to be added with `ezlb raft join --peer <member>` on this node")
        }

        // libuv does not ignore SIGPIPE: a write to a peer that just died would kill
        // the daemon. (Hooks get default dispositions back in the child.)
        signal(SIGPIPE, SIG_IGN)
        // Both ports free before libraft tries (its raft_start says only "I/O error").
        let control = settings.controlAddr.flatMap(splitHostPort).map { ControlEndpoint.tcp(host: $0.0, port: $0.1) }
        try checkBindable(settings.raftAddr, what: "node.raft_addr")
        let listenControl = settings.secret != nil || control.map { if case .tcp(let h, _) = $0 { return isLoopbackHost(h) } else { return false } } == true
        if listenControl, let c = settings.controlAddr { try checkBindable(c, what: "the control endpoint (node.control_addr, default raft port + 1)") }
        let engine = try LibRaftEngine(dataDir: dir, id: settings.numericID, address: settings.raftAddr, secret: settings.secret,
                                       electionTimeoutMs: settings.electionTimeoutMs, heartbeatMs: settings.heartbeatMs,
                                       bootstrap: bootstrap)
        var names: [UInt64: (name: String, addr: String)] = [:]
        for m in settings.members { names[raftNumericID(m.id)] = (m.id, m.addr) }
        let server = RaftServer(engine: engine,
                                config: .init(nodeName: settings.nodeID, raftID: settings.numericID, address: settings.raftAddr,
                                              electionTimeoutMs: settings.electionTimeoutMs, configNames: names,
                                              numericID: raftNumericID, controlAddress: settings.controlAddress(forRaftAddress:),
                                              priorities: Dictionary(settings.members.map { (raftNumericID($0.id), $0.priority) }) { a, _ in a },
                                              preempt: settings.preempt, preemptDelayMs: settings.preemptDelayMs),
                                secret: settings.secret, controlAddress: control, log: log)
        let bridge = DispatcherBridge(configPath: settings.file, log: log)
        let dispatcher = HookDispatcher(settings: settings, log: log, actions: bridge)
        bridge.dispatcher = dispatcher
        bridge.server = server
        server.releaseBudget = HookDispatcher.budget(settings.hooks[.ToSlave]) + 2
        let tracker = settings.track.map { Tracker(config: $0, nodeID: settings.nodeID, raftAddr: settings.raftAddr, log: log) }
        server.tracker = tracker
        server.observer = bridge

        try engine.listenUnix(path: RaftPaths.socket(dir))
        if let c = control, case .tcp(let host, let port) = c {
            if listenControl {
                do { try engine.listenTCP(host: host, port: port) } catch {
                    throw Failure(.failure, "control endpoint \(c): \(error)")
                }
                log.info("control endpoint: \(c)\(settings.secret != nil ? " (signed requests only)" : " (loopback, no secret)")")
            } else {
                log.notice("no cluster secret: the control endpoint listens only on \(RaftPaths.socket(dir)); set cluster.secret_file to join or leave over the network")
            }
        }
        do { try engine.start(pollMs: Self.pollMs) } catch {
            throw Failure(.failure, "raft on \(settings.raftAddr): \(error)")
        }
        log.notice("raft serve: node \(settings.nodeID) at \(settings.raftAddr), data \(dir)\(bootstrap ? " (bootstrapped)" : "")")
        dispatcher.start()
        tracker?.start()
        let notifier = SystemdNotifier()
        // Only a node under systemd or with --metrics-file does anything per tick.
        let reporter = notifier == nil && metricsFile == nil ? nil
            : RaftReporter(notifier: notifier, metricsFile: metricsFile, nodeID: settings.nodeID, address: settings.raftAddr,
                           server: server, dispatcher: dispatcher, log: log)
        if let reporter { server.onTick = { reporter.tick($0) } }
        // Serving: raft runs, the control endpoint answers, ToReady is under way.
        notifier?.send("READY=1\nSTATUS=started: node \(settings.nodeID) at \(settings.raftAddr)")
        engine.run()
        reporter?.loopEnded()
        tracker?.stop()
        let stopSignal = server.stoppedBySignal
        // Running hook + a Master's ToSlave (retries included); past that the hook's process group is
        // killed and ToDestroy still runs with its own budget.
        let ok = dispatcher.shutdown()
        log.notice("raft serve: stopped\(stopSignal.map { " (signal \($0))" } ?? "")\(ok ? "" : "; hooks did not finish in time")")
        return stopSignal
    }
}
