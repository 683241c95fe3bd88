import EzlbCore
import EzlbState
#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-file PATH`: after every run, the Prometheus text exposition of how it went,
/// for node_exporter's textfile collector (give each command or timer a file of its own:
/// the file holds the last run of the command that wrote it). Written atomically (a temp
/// file renamed over it), mode 0644 so the exporter's user can read it.
enum Metrics {
    static func write(path: String, command: String, report: CommandReport, status: ExitStatus, started: UInt64,
                      health: HealthTable?) throws {
        var t = ""
        func metric(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            t += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for s in samples {
                let labels = s.labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
                t += "\(name){\(labels)} \(s.value)\n"
            }
        }
        let c = [("command", command)]
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let ended = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        let duration = Double(monotonicNs() &- started) / 1e9
        let (added, changed, deleted, failed) = report.tally()
        metric("ezlb_last_run_timestamp_seconds", "When the command's last run ended (Unix time).", [(c, fixed(ended, 3))])
        metric("ezlb_last_run_duration_seconds", "How long the command's last run took.", [(c, fixed(duration, 6))])
        metric("ezlb_last_run_exit_status", "The last run's exit status (docs/cli.md: 0 ok, 1 failure, 2 changed with --detailed-exitcode, 64 usage, 69 unavailable, 75 busy, 78 config).",
               [(c, "\(status.rawValue)")])
        metric("ezlb_last_run_success", "1 when the last run ended without an error.", [(c, status == .success || status == .changed ? "1" : "0")])
        metric("ezlb_last_run_changed", "1 when the last run changed something (or would have, for a dry run).", [(c, report.changed ? "1" : "0")])
        metric("ezlb_last_run_dry_run", "1 when the last run was a dry run.", [(c, report.dryRun ? "1" : "0")])
        metric("ezlb_last_run_actions", "The last run's actions by kind (failed: refused by the kernel).",
               [(c + [("kind", "added")], "\(added)"), (c + [("kind", "changed")], "\(changed)"),
                (c + [("kind", "deleted")], "\(deleted)"), (c + [("kind", "failed")], "\(failed)")])
        if let health, !health.records.isEmpty {
            let recs = health.records.values.sorted { ($0.service, $0.backend) < ($1.service, $1.backend) }
            metric("ezlb_backend_healthy", "1 when the backend's health check passes, as the last ipvs apply left it (health.json).",
                   recs.map { ([("service", $0.service), ("backend", $0.backend.description)], $0.healthy ? "1" : "0") })
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw Failure.usage("--metrics-file: '\(path)': not a file name") }
        try StateDirectory(path: dir.isEmpty ? "/" : dir).writeRaw(Array(t.utf8), to: name, durable: false, mode: 0o644)
    }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    /// `v` with `digits` decimals, without Foundation's String(format:).
    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = (v * scale).rounded()
        let whole = Int64(n / scale)
        var frac = String(Int64(abs(n - Double(whole) * scale)))
        while frac.count < digits { frac = "0" + frac }
        return "\(whole).\(frac)"
    }
}
