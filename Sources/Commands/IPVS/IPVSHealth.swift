import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile
import EzlbState
#if canImport(Glibc)
import Glibc
#endif

struct IPVSHealth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show each backend's health: state, counters, last probe and last error.",
        discussion: """
        Reads the config and <state-dir>/health.json as the last 'ipvs apply' left it; probes \
        nothing and changes nothing. A backend not probed yet counts as healthy.

        Example:
          ezlb ipvs health -c /etc/ezlb/ezlb.yaml -o json
        """
    )

    @OptionGroup var options: CommonOptions

    func run() throws {
        try Runner.run(options.values, command: "ipvs health") { ctx in
            var report = CommandReport(command: "ipvs health", dryRun: false)
            let (desired, table) = try IPVSReconciler(ctx).healthView()
            report.warnings = desired.warnings
            for n in desired.notes { ctx.log.info("\(n)") }
            let now = Double(Glibc.time(nil))
            var services: [JSONValue] = []
            var out = ""
            var counts = (healthy: 0, unhealthy: 0, unknown: 0)
            for svc in desired.services {
                guard let spec = desired.health[svc.name] else {
                    out += "\(svc.name) \(svc.state.key): no health check\n"
                    services.append(.object(["name": .string(svc.name), "service": .string(svc.state.key.description),
                                             "check": .null, "sorry_server_in_use": .null, "backends": .array([])]))
                    continue
                }
                out += "\(svc.name) \(svc.state.key): \(spec.summary)\n"
                var backends: [JSONValue] = []
                let width = svc.state.destinations.map { $0.endpoint.description.count }.max() ?? 0
                for d in svc.state.destinations {
                    let rec = table[svc.name, d.endpoint]
                    let state: String
                    switch rec {
                    case nil: state = "unknown"; counts.unknown += 1
                    case let r? where r.healthy: state = "healthy"; counts.healthy += 1
                    default: state = "unhealthy"; counts.unhealthy += 1
                    }
                    var line = "  " + d.endpoint.description.padded(to: width)
                    line += "  " + state.padded(to: 9)
                    if let r = rec {
                        line += "  successes \(r.successes)  failures \(r.failures)"
                        if let t = r.lastProbe { line += "  last probe \(Self.time(t)) (\(Self.ago(now - t)))" }
                        if let t = r.since { line += "  since \(Self.time(t))" }
                        if let e = r.lastError { line += "  error: \(e)" }
                    } else {
                        line += "  not probed yet (counts as healthy)"
                    }
                    out += line + "\n"
                    backends.append(.object([
                        "address": .string(d.endpoint.description), "state": .string(state),
                        "healthy": .bool(rec?.healthy ?? true), "weight": .int(Int(d.weight)),
                        "successes": .int(rec?.successes ?? 0), "failures": .int(rec?.failures ?? 0),
                        "last_probe": rec?.lastProbe.map { .string(Self.time($0)) } ?? .null,
                        "last_error": rec?.lastError.map { .string($0) } ?? .null,
                        "since": rec?.since.map { .string(Self.time($0)) } ?? .null,
                    ]))
                }
                let sorry = table.sorry[svc.name]
                if let e = sorry { out += "  sorry server \(e) in use\n" }
                services.append(.object([
                    "name": .string(svc.name), "service": .string(svc.state.key.description),
                    "check": Self.checkJSON(spec), "sorry_server_in_use": sorry.map { .string($0.description) } ?? .null,
                    "backends": .array(backends),
                ]))
            }
            report.body = out
            report.summary = "\(counts.healthy + counts.unhealthy + counts.unknown) checked backends: \(counts.healthy) healthy, \(counts.unhealthy) unhealthy, \(counts.unknown) not probed yet"
            report.extra["services"] = .array(services)
            return report
        }
    }

    static func checkJSON(_ h: HealthCheckSpec) -> JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(h.kind.rawValue), "interval": .string(DurationText.format(h.interval)),
            "timeout": .string(DurationText.format(h.timeout)), "fail_count": .int(h.failCount), "rise_count": .int(h.riseCount),
            "on_unhealthy": .string(h.onUnhealthy.rawValue),
            "sorry_server": h.sorryServer.map { .string($0.endpoint.description) } ?? .null,
        ]
        switch h.kind {
        case .http:
            o["http_path"] = .string(h.httpPath)
            o["http_expected_status"] = .int(h.httpExpectedStatus)
            o["http_host"] = h.httpHost.map { .string($0) } ?? .null
        case .exec:
            o["command"] = .array(h.command.map { .string($0) })
        case .tcp: break
        }
        return .object(o)
    }

    /// `2026-11-21T07:40:01Z`
    static func time(_ t: Double) -> String {
        var tt = time_t(t.rounded(.down))
        var tm = tm()
        gmtime_r(&tt, &tm)
        return "\(zeroPadded(Int(tm.tm_year) + 1900, width: 4))-\(zeroPadded(tm.tm_mon + 1, width: 2))-\(zeroPadded(tm.tm_mday, width: 2))"
            + "T\(zeroPadded(tm.tm_hour, width: 2)):\(zeroPadded(tm.tm_min, width: 2)):\(zeroPadded(tm.tm_sec, width: 2))Z"
    }

    static func ago(_ d: Double) -> String {
        if d < 0 { return "in the future" }
        if d < 1 { return "just now" }
        return DurationText.format(d.rounded(.down)) + " ago"
    }
}
