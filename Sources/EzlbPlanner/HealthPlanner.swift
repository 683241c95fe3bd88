import EzlbCore

/// A backend that changed between healthy and unhealthy in this run.
public struct HealthTransition: Equatable, Sendable {
    public var key: HealthKey
    public var serviceKey: ServiceKey
    /// The new state.
    public var healthy: Bool
    /// `3 failures: connect: connection refused`, `2 successes`.
    public var detail: String

    public var text: String {
        "~ health \(serviceKey) -> \(key.backend) \(healthy ? "unhealthy -> healthy" : "healthy -> unhealthy") (\(detail))"
    }
}

/// The desired table after health was applied, and why destinations differ from the config.
public struct HealthView: Sendable {
    /// The desired services with unhealthy backends quiesced or removed and sorry servers added.
    public var services: [NamedService]
    /// Why a destination was changed by health, for the report: `unhealthy: 3 failures: timeout after 1s`.
    public var reasons: [DestinationRef: String]
    public var unhealthy: Int
}

/// A destination of a service, as the report refers to it.
public struct DestinationRef: Hashable, Sendable {
    public var service: ServiceKey
    public var endpoint: Endpoint
    public init(_ service: ServiceKey, _ endpoint: Endpoint) {
        self.service = service
        self.endpoint = endpoint
    }
}

/// The health state machine, pure: which backends are due for a probe, how
/// probe results move the consecutive counters and the healthy flag, and how
/// the health table turns the configured IPVS table into the one to apply.
///
/// A backend starts healthy (no record = healthy). `fail_count` consecutive
/// failures make a healthy backend unhealthy; `rise_count` consecutive
/// successes make an unhealthy one healthy again. The counters and the flag
/// survive between runs (the health table is persisted by the caller).
public enum HealthPlanner {
    /// A timer that fires a little early still probes: a backend is skipped only
    /// when it was probed less than `interval - slack` ago (slack: 10 % of the
    /// interval, at most 0.5 s).
    public static func slack(_ interval: Double) -> Double { min(0.5, interval * 0.1) }

    /// The backends to probe now: every backend of a checked service not probed
    /// within its interval.
    public static func due(_ services: [NamedService], specs: [String: HealthCheckSpec], table: HealthTable,
                           now: Double) -> [ProbeTarget] {
        var out: [ProbeTarget] = []
        for s in services {
            guard let spec = specs[s.name] else { continue }
            for d in s.state.destinations {
                if let last = table[s.name, d.endpoint]?.lastProbe, now - last < spec.interval - slack(spec.interval), now >= last {
                    continue
                }
                out.append(ProbeTarget(service: s.name, serviceKey: s.state.key, backend: d.endpoint, spec: spec))
            }
        }
        return out
    }

    /// Folds probe results into the table; returns the transitions, in target order.
    public static func record(_ results: [(target: ProbeTarget, result: ProbeResult)], into table: inout HealthTable,
                              now: Double) -> [HealthTransition] {
        var transitions: [HealthTransition] = []
        for (t, r) in results {
            var rec = table.records[t.key] ?? BackendHealth(service: t.service, backend: t.backend)
            rec.lastProbe = now
            if r.ok {
                rec.successes = min(rec.successes + 1, BackendHealth.maxCounter)
                rec.failures = 0
                rec.lastError = nil
                if !rec.healthy && rec.successes >= t.spec.riseCount {
                    rec.healthy = true
                    rec.since = now
                    transitions.append(HealthTransition(key: t.key, serviceKey: t.serviceKey, healthy: true,
                                                        detail: successes(rec.successes)))
                }
            } else {
                rec.failures = min(rec.failures + 1, BackendHealth.maxCounter)
                rec.successes = 0
                rec.lastError = r.error
                if rec.healthy && rec.failures >= t.spec.failCount {
                    rec.healthy = false
                    rec.since = now
                    transitions.append(HealthTransition(key: t.key, serviceKey: t.serviceKey, healthy: false,
                                                        detail: failures(rec)))
                }
            }
            table.records[t.key] = rec
        }
        return transitions
    }

    static func successes(_ n: Int) -> String { n == 1 ? "1 success" : "\(n) successes" }

    /// `3 failures: connect: connection refused`
    public static func failures(_ r: BackendHealth) -> String {
        (r.failures == 1 ? "1 failure" : "\(r.failures) failures") + (r.lastError.map { ": \($0)" } ?? "")
    }

    /// Drops what the config no longer checks: records of backends that left
    /// their service, of services without a check, and sorry-server marks of
    /// services without a sorry server.
    public static func prune(_ table: inout HealthTable, services: [NamedService], specs: [String: HealthCheckSpec]) {
        var keep = Set<HealthKey>()
        for s in services where specs[s.name] != nil {
            for d in s.state.destinations { keep.insert(HealthKey(service: s.name, backend: d.endpoint)) }
        }
        if table.records.keys.contains(where: { !keep.contains($0) }) {
            table.records = table.records.filter { keep.contains($0.key) }
        }
        table.sorry = table.sorry.filter { specs[$0.key]?.sorryServer != nil }
    }

    /// The table to apply: each checked service's unhealthy backends get
    /// weight 0 (`quiesce`: existing connections finish, no new ones) or are
    /// left out (`remove`); a service whose backends are all unhealthy keeps
    /// them (quiesced) and gets its sorry server, if it has one. Healthy
    /// backends keep their configured weight, so a backend whose weight was
    /// edited while it was drained comes back with the new weight. Updates
    /// `table.sorry` to the sorry servers now in use.
    public static func apply(_ services: [NamedService], specs: [String: HealthCheckSpec], table: inout HealthTable,
                             transitions: [HealthTransition] = []) -> HealthView {
        var reasons: [DestinationRef: String] = [:]
        var unhealthy = 0
        var out: [NamedService] = []
        out.reserveCapacity(services.count)
        let recovered = Dictionary(transitions.filter(\.healthy).map { ($0.key, $0.detail) }, uniquingKeysWith: { a, _ in a })
        for s in services {
            guard let spec = specs[s.name] else {
                out.append(s)
                continue
            }
            let key = s.state.key
            var dests: [RealServer] = []
            dests.reserveCapacity(s.state.destinations.count + 1)
            var healthyCount = 0
            for d in s.state.destinations {
                let hk = HealthKey(service: s.name, backend: d.endpoint)
                guard let rec = table.records[hk], !rec.healthy else {
                    healthyCount += 1
                    dests.append(d)
                    if let r = recovered[hk] { reasons[DestinationRef(key, d.endpoint)] = "healthy: \(r)" }
                    continue
                }
                unhealthy += 1
                reasons[DestinationRef(key, d.endpoint)] = "unhealthy: " + failures(rec)
                if spec.onUnhealthy == .quiesce {
                    var q = d
                    q.weight = 0
                    dests.append(q)
                }
            }
            let n = s.state.destinations.count
            if n > 0, healthyCount == 0, let sorry = spec.sorryServer {
                dests.append(sorry)
                dests.sort { $0.endpoint < $1.endpoint }
                reasons[DestinationRef(key, sorry.endpoint)] = "sorry server: \(n == 1 ? "the backend is" : "all \(n) backends are") unhealthy"
                table.sorry[s.name] = sorry.endpoint
            } else if let was = table.sorry.removeValue(forKey: s.name) {
                reasons[DestinationRef(key, was)] = "sorry server no longer needed: \(healthyCount) healthy"
            }
            out.append(NamedService(name: s.name, state: IPVSServiceState(service: s.state.service, destinations: dests)))
        }
        return HealthView(services: out, reasons: reasons, unhealthy: unhealthy)
    }

    /// `text` with the health reason of the destination it touches appended.
    public static func annotate(_ op: IPVSOperation, reasons: [DestinationRef: String]) -> String? {
        switch op {
        case .addDestination(let k, let d), .updateDestination(let k, _, let d), .deleteDestination(let k, let d):
            return reasons[DestinationRef(k, d.endpoint)]
        default:
            return nil
        }
    }
}

/// The health view `snat sync` uses: what the last `ipvs apply` decided
/// (`health.json`). Backends without a record are healthy; a service's sorry
/// server gets rules while it is in use.
public struct StoredHealthView: BackendHealthView {
    public let table: HealthTable
    public init(_ table: HealthTable) { self.table = table }
    public func isHealthy(service: String, backend: Endpoint) -> Bool { table[service, backend]?.healthy ?? true }
    public func extraBackends(service: String) -> [Endpoint] { table.sorry[service].map { [$0] } ?? [] }
}
