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

/// What `raft serve` tells the outside from its event loop, on every tick: systemd (READY=1 is
/// sent by `RaftNode` once serving; here the watchdog ping, STATUS= on a change, STOPPING=1 once
/// a stop begins) and `--metrics-file` (role, term, leader, hook results as Prometheus text,
/// rewritten on a change and at least every `refreshSeconds`, so a stale timestamp shows a dead
/// daemon).
final class RaftReporter {
    private let notifier: SystemdNotifier?
    private let metricsFile: String?
    private let nodeID: String
    private let address: String
    private let log: Logger
    private unowned let server: RaftServer
    private let dispatcher: HookDispatcher
    static let refreshSeconds: UInt64 = 10

    private var lastStatus = ""
    private var lastMetricsKey = ""
    private var lastWrite: UInt64 = 0
    private var lastError = ""
    private var stopping = false

    init(notifier: SystemdNotifier?, metricsFile: String?, nodeID: String, address: String, server: RaftServer,
         dispatcher: HookDispatcher, log: Logger) {
        self.notifier = notifier
        self.metricsFile = metricsFile
        self.nodeID = nodeID
        self.address = address
        self.server = server
        self.dispatcher = dispatcher
        self.log = log
    }

    /// The event loop ended (a stop with no handover to wait for ends it at once): STOPPING=1
    /// if no tick sent it.
    func loopEnded() {
        guard !stopping, let n = notifier else { return }
        stopping = true
        n.send("STOPPING=1\nSTATUS=stopping")
    }

    func tick(_ st: EngineStatus) {
        notifier?.tick()
        let hooks = dispatcher.status
        let leader = st.leaderID.map { server.name(of: $0) }
        if let n = notifier {
            if !stopping, server.stoppedBySignal != nil {
                stopping = true
                n.send("STOPPING=1\nSTATUS=stopping: handing over")
            }
            let status = "\(hooks.role == .master ? "Master" : hooks.role.rawValue) (\(st.role.rawValue), term \(st.term), leader \(leader ?? "none"))"
            if !stopping, status != lastStatus {
                lastStatus = status
                n.send("STATUS=\(status)")
            }
        }
        guard let path = metricsFile else { return }
        let key = "\(st.role) \(st.term) \(leader ?? "") \(hooks.role) \(st.members.map { "\($0.id)\($0.reachable)" }) \(hooks.results)"
        let now = monotonicNs()
        guard key != lastMetricsKey || now &- lastWrite >= Self.refreshSeconds * 1_000_000_000 else { return }
        lastMetricsKey = key
        lastWrite = now
        do {
            try exposition(st, hooks: hooks, leader: leader).write(to: path, option: "--metrics-file")
            lastError = ""
        } catch {
            let e = "\(error)"
            if e != lastError { log.warning("--metrics-file \(path): not written: \(e)") }
            lastError = e
        }
    }

    func exposition(_ st: EngineStatus, hooks: HookStatus, leader: String?) -> PrometheusText {
        var p = PrometheusText()
        let n = [("node", nodeID)]
        p.add("ezlb_raft_up", "1 while raft serve runs (see ezlb_raft_last_update_timestamp_seconds for staleness).",
              [(n + [("address", address)], "1")])
        p.add("ezlb_raft_last_update_timestamp_seconds", "When raft serve last wrote this file (Unix time; rewritten at least every \(Self.refreshSeconds) s).",
              [(n, PrometheusText.now())])
        p.add("ezlb_raft_role", "1 for the node's Raft role (leader, follower, candidate, unavailable).",
              [EngineRole.leader, .follower, .candidate, .unavailable].map { (n + [("role", $0.rawValue)], st.role == $0 ? "1" : "0") })
        p.add("ezlb_raft_master", "1 while this node holds the Master role (its ToMaster ran; the VIP is bound here).",
              [(n, hooks.role == .master ? "1" : "0")])
        p.add("ezlb_raft_term", "The current Raft term.", [(n, "\(st.term)")])
        p.add("ezlb_raft_leader", "1, labelled with the leader this node knows (leader=\"\" when none).", [(n + [("leader", leader ?? "")], "1")])
        let voters = st.members.filter { $0.role == .voter }
        p.add("ezlb_raft_voters", "Voters in the cluster configuration.", [(n, "\(voters.count)")])
        p.add("ezlb_raft_voters_reachable", "Voters other than this node that answered within the election timeout (known on the leader).",
              [(n, "\(voters.filter { $0.reachable && $0.id != server.config.raftID }.count)")])
        let events = HookEvent.allCases.filter { hooks.results[$0] != nil }
        if !events.isEmpty {
            func samples(_ value: (HookResult) -> String) -> [(labels: [(String, String)], value: String)] {
                events.compactMap { e in hooks.results[e].map { (n + [("event", e.rawValue)], value($0)) } }
            }
            p.add("ezlb_raft_hook_runs_total", "Hook runs completed since start (an event's retries are one run).", type: "counter",
                  samples { "\($0.runs)" })
            p.add("ezlb_raft_hook_failures_total", "Hook runs that failed for good (after their retries).", type: "counter",
                  samples { "\($0.failures)" })
            p.add("ezlb_raft_hook_last_success", "1 when the event's last run succeeded.", samples { $0.lastOutcome?.succeeded == true ? "1" : "0" })
            p.add("ezlb_raft_hook_last_duration_seconds", "How long the event's last run took (retries included).",
                  samples { PrometheusText.fixed($0.lastDurationSeconds, 3) })
            p.add("ezlb_raft_hook_last_timestamp_seconds", "When the event's last run ended (Unix time).",
                  samples { PrometheusText.fixed($0.lastFinished.map { $0.timeIntervalSince1970 } ?? 0, 3) })
        }
        return p
    }
}
