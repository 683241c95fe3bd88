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

/// keepalived's track_script / track_interface on its own thread: every `interval` the
/// interfaces must be up and the command must exit 0 within `timeout`; `fall` failures in a
/// row make the node unhealthy, `rise` successes healthy again (the first check decides at
/// once). An unhealthy node is not Master: RaftServer hands the role to a healthy node.
public final class Tracker: @unchecked Sendable {
    private let config: TrackConfig
    private let environment: [(String, String)]
    private let log: Logger
    private let lock = Lock()
    private var state: Bool?
    private var reason = ""
    private var stopped = false

    public init(config: TrackConfig, nodeID: String, raftAddr: String, log: Logger) {
        self.config = config
        self.log = log
        let path = ProcessInfo.processInfo.environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? HookExecutor.defaultPath
        environment = [("PATH", path), ("NODE_ID", nodeID), ("RAFT_ADDR", raftAddr)]
    }

    /// nil until the first check finished.
    public var healthy: Bool? { lock.withLock { state } }

    public func start() {
        let t = PosixThread { [self] in run() }
        t.name = "ezlb-track"
        if !t.start() { log.error("track: cannot start its thread; this node counts as unhealthy") }
    }

    public func stop() { lock.withLock { stopped = true } }

    private func run() {
        var ok = 0, bad = 0
        while !lock.withLock({ stopped }) {
            let t0 = monotonicSeconds()
            let failure = check()
            if failure == nil { ok += 1; bad = 0 } else { bad += 1; ok = 0 }
            lock.withLock {
                let before = state
                let after: Bool = before == nil ? failure == nil : (before == true ? bad < config.fall : ok >= config.rise)
                if after != before {
                    state = after
                    if after {
                        log.notice("track: healthy\(before == nil ? "" : " again (\(config.rise) checks passed)")")
                    } else {
                        log.warning("track: unhealthy (\(failure ?? "?")): not fit to be Master")
                    }
                }
                reason = failure ?? ""
            }
            let rest = config.interval - (monotonicSeconds() - t0)
            var slept = 0.0
            while slept < rest && !lock.withLock({ stopped }) {
                let step = min(0.1, rest - slept)
                usleep(UInt32(step * 1e6))
                slept += step
            }
        }
    }

    /// nil when healthy, else why not.
    private func check() -> String? {
        for name in config.interfaces {
            func read(_ file: String) -> String? {
                guard case .success(let bytes) = FileBytes.read("/sys/class/net/\(name)/\(file)", limit: 4096) else { return nil }
                return String(decoding: bytes, as: UTF8.self).trimmed()
            }
            guard let flags = read("flags"), let state = read("operstate") else { return "interface \(name) does not exist" }
            // Administratively up (IFF_UP) and, where the driver reports it, with a link:
            // "unknown" is what devices without carrier reporting say (dummy, some tunnels).
            guard let f = Int(flags.hasPrefix("0x") ? String(flags.dropFirst(2)) : flags, radix: 16), f & 1 != 0 else {
                return "interface \(name) is down"
            }
            guard state == "up" || state == "unknown" else { return "interface \(name) is \(state)" }
        }
        guard let command = config.command else { return nil }
        let outcome = HookExecutor.run(command: command, args: config.args, environment: environment,
                                       timeout: config.timeout, log: log, metadata: ["event": "track"]) { [self] in
            lock.withLock { stopped }
        }
        return outcome.succeeded ? nil : "\(command): \(outcome)"
    }
}
