import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel

/// What the health phase of `ipvs apply` decided.
struct HealthRound {
    /// The table to plan with: unhealthy backends quiesced or removed, sorry servers added.
    var services: [NamedService]
    var reasons: [DestinationRef: String] = [:]
    var transitions: [HealthTransition] = []
    /// The health table to store, when it differs from the stored one.
    var write: HealthTable? = nil
    var probed = 0
    var skipped = 0
    var unhealthy = 0
    /// False when no service has a check and nothing is stored (the health phase did nothing).
    var active = false

    var json: JSONValue {
        .object(["probed": .int(probed), "skipped": .int(skipped), "unhealthy": .int(unhealthy),
                 "transitions": .int(transitions.count)])
    }

    /// Transitions that no kernel operation of `plan` shows (a backend configured with weight
    /// 0, a conflicting service, ...), as actions of their own.
    func transitionsNotShown(by plan: IPVSPlan) -> [FieldAction] {
        guard !transitions.isEmpty else { return [] }
        var touched = Set<DestinationRef>()
        for op in plan.operations {
            switch op {
            case .addDestination(let k, let d), .updateDestination(let k, _, let d), .deleteDestination(let k, let d):
                touched.insert(DestinationRef(k, d.endpoint))
            default: break
            }
        }
        return transitions.filter { !touched.contains(DestinationRef($0.serviceKey, $0.key.backend)) }.map { t in
            FieldAction(t.text, [
                "action": "update", "object": "health", "service": .string(t.serviceKey.description),
                "name": .string(t.key.service), "destination": .string(t.key.backend.description),
                "from": t.healthy ? "unhealthy" : "healthy", "to": t.healthy ? "healthy" : "unhealthy",
                "reason": .string(t.detail),
            ])
        }
    }
}

extension IPVSReconciler {
    /// The health phase: read the stored table (`stored`: health.json's bytes), probe the
    /// backends that are due (unless `probe` is false), fold the results in, drop records the
    /// config no longer has, and turn the configured table into the one to apply. Runs under
    /// the ipvs lock; nothing is written here (see `HealthRound.write`).
    func healthRound(_ desired: Desired, probe: Bool, stored bytes: [UInt8]?) throws -> HealthRound {
        var round = HealthRound(services: desired.services)
        if desired.health.isEmpty && bytes == nil { return round }
        let stored = try bytes.map { try ctx.stateDir.load(HealthStateFile.self, bytes: $0).table } ?? HealthTable()
        // No check configured and nothing stored (an earlier config's health.json, pruned
        // empty): no health phase, so the run can be recorded as converged.
        if desired.health.isEmpty && stored.records.isEmpty && stored.sorry.isEmpty { return round }
        round.active = true
        var table = stored
        HealthPlanner.prune(&table, services: desired.services, specs: desired.health)
        if probe {
            let now = unixTime()
            let due = HealthPlanner.due(desired.services, specs: desired.health, table: table, now: now)
            let checked = desired.services.reduce(0) { $0 + (desired.health[$1.name] == nil ? 0 : $1.state.destinations.count) }
            round.probed = due.count
            round.skipped = checked - due.count
            if !due.isEmpty {
                var clock = PhaseClock(log: log)
                let results = prober.probe(due)
                clock.lap("health: probed \(due.count) backends, skipped \(round.skipped) (interval)")
                round.transitions = HealthPlanner.record(Array(zip(due, results)).map { ($0.0, $0.1) }, into: &table, now: now)
                for t in round.transitions {
                    log.notice("health: \(t.key.service) \(t.key.backend) is \(t.healthy ? "healthy" : "unhealthy") (\(t.detail))")
                }
            }
        }
        let view = HealthPlanner.apply(desired.services, specs: desired.health, table: &table, transitions: round.transitions)
        round.services = view.services
        round.reasons = view.reasons
        round.unhealthy = view.unhealthy
        if table != stored { round.write = table }
        return round
    }

    /// What `ipvs health` shows: the config's services and checks, and health.json as the last
    /// `ipvs apply` left it. Probes nothing, changes nothing.
    public func healthView() throws -> (desired: Desired, table: HealthTable) {
        (try desired(), try ctx.stateDir.readHealth())
    }
}
