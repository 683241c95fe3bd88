import EzlbCore
import EzlbIPAM
import EzlbState
#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-file PATH`: after every run, the Prometheus text exposition of how it went,
/// for node_exporter's textfile collector (give each command or timer a file of its own:
/// the file holds the last run of the command that wrote it).
enum Metrics {
    /// The objects ezlb's state records it owns after the run, by kind, for the command's
    /// subsystem (read only when a metrics file is asked for; an unreadable record: none).
    static func managed(command: String, stateDir: StateDirectory) -> [(String, Int)] {
        switch command.split(separator: " ").first {
        case "ipvs":
            return [("ipvs_service", (try? stateDir.load(IPVSOwnership.self))??.services.count ?? 0)]
        case "snat":
            let o = (try? stateDir.load(SNATOwnership.self)) ?? nil
            return [("iptables_chain", o?.chains.count ?? 0), ("nftables_table", o?.nftTables.count ?? 0)]
        case "xfrm":
            return [("xfrm_peer", (try? stateDir.load(XfrmOwnership.self))??.peers.count ?? 0)]
        case "bridge":
            let b = (try? stateDir.load(BridgeState.self)) ?? nil
            return [("bridge", b?.bridges.count ?? 0), ("bridge_connection", b?.bridges.reduce(0) { $0 + $1.connections.count } ?? 0)]
        case "ipam":
            let st = (try? stateDir.load(IPAMState.self)) ?? nil
            return [("ipam_allocation", st?.subnets.reduce(0) { $0 + $1.allocations.count } ?? 0)]
        default:
            return []
        }
    }

    static func write(path: String, command: String, report: CommandReport, status: ExitStatus, started: UInt64,
                      health: HealthTable?, managed: [(String, Int)] = []) throws {
        var p = PrometheusText()
        let c = [("command", command)]
        let duration = Double(monotonicNs() &- started) / 1e9
        let (added, changed, deleted, failed) = report.tally()
        p.add("ezlb_last_run_timestamp_seconds", "When the command's last run ended (Unix time).", [(c, PrometheusText.now())])
        p.add("ezlb_last_run_duration_seconds", "How long the command's last run took.", [(c, PrometheusText.fixed(duration, 6))])
        p.add("ezlb_last_run_exit_status", "The last run's exit status (docs/cli.md: 0 ok, 1 failure, 2 changed with --detailed-exitcode, 64 usage, 69 unavailable, 75 busy, 78 config).",
              [(c, "\(status.rawValue)")])
        p.add("ezlb_last_run_success", "1 when the last run ended without an error.", [(c, status == .success || status == .changed ? "1" : "0")])
        p.add("ezlb_last_run_changed", "1 when the last run changed something (or would have, for a dry run).", [(c, report.changed ? "1" : "0")])
        p.add("ezlb_last_run_dry_run", "1 when the last run was a dry run.", [(c, report.dryRun ? "1" : "0")])
        p.add("ezlb_last_run_actions", "The last run's actions by kind (failed: refused by the kernel).",
              [(c + [("kind", "added")], "\(added)"), (c + [("kind", "changed")], "\(changed)"),
               (c + [("kind", "deleted")], "\(deleted)"), (c + [("kind", "failed")], "\(failed)")])
        if !managed.isEmpty {
            p.add("ezlb_managed_objects", "Objects ezlb owns after the run, by kind, as its state directory records them.",
                  managed.map { (c + [("kind", $0.0)], "\($0.1)") })
        }
        if let health, !health.records.isEmpty {
            let recs = health.records.values.sorted { ($0.service, $0.backend) < ($1.service, $1.backend) }
            p.add("ezlb_backend_healthy", "1 when the backend's health check passes, as the last ipvs apply left it (health.json).",
                  recs.map { ([("service", $0.service), ("backend", $0.backend.description)], $0.healthy ? "1" : "0") })
        }
        try p.write(to: path, option: "--metrics-file")
    }
}
