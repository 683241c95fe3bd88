import EzlbCore
import EzlbPlanner
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Kernel
import Logging

/// The configured IPVS table (configured weights) and each checked service's health check.
struct DesiredTable {
    var services: [NamedService]
    /// Service name -> health check; only services that have one.
    var health: [String: HealthCheckSpec]
}

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
}

extension IPVSSession {
    /// The health phase: read `health.json`, probe the backends that are due
    /// (unless `probe` is false), fold the results in, drop records the config
    /// no longer has, and turn the configured table into the one to apply.
    /// Runs under the ipvs lock. Nothing is written here (see `HealthRound.write`).
    func health(_ desired: DesiredTable, probe: Bool, prober: HealthProber = SocketProber()) throws -> HealthRound {
        var round = HealthRound(services: desired.services)
        if desired.health.isEmpty && !FileManager.default.fileExists(atPath: dir.file(HealthStateFile.fileName)) {
            return round
        }
        round.active = true
        let stored = try dir.readHealth()
        var table = stored
        HealthPlanner.prune(&table, services: desired.services, specs: desired.health)
        if probe {
            let now = Date().timeIntervalSince1970
            let due = HealthPlanner.due(desired.services, specs: desired.health, table: table, now: now)
            let checked = desired.services.reduce(0) { $0 + (desired.health[$1.name] == nil ? 0 : $1.state.destinations.count) }
            round.probed = due.count
            round.skipped = checked - due.count
            if !due.isEmpty {
                let clock = ContinuousClock()
                let t0 = clock.now
                let results = prober.probe(due)
                log.debug("health: probed \(due.count) backends in \(clock.now - t0), skipped \(round.skipped) (interval)")
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

    /// Health transitions that no kernel operation shows (a backend configured
    /// with weight 0, a conflicting service, ...), as actions of their own.
    func healthActions(_ round: HealthRound, plan: IPVSPlan) -> [ActionRecord] {
        guard !round.transitions.isEmpty else { return [] }
        var touched = Set<DestinationRef>()
        for op in plan.operations {
            switch op {
            case .addDestination(let k, let d), .updateDestination(let k, _, let d), .deleteDestination(let k, let d):
                touched.insert(DestinationRef(k, d.endpoint))
            default: break
            }
        }
        return round.transitions.filter { !touched.contains(DestinationRef($0.serviceKey, $0.key.backend)) }.map { t in
            ActionRecord(text: t.text, json: [
                "action": "update", "object": "health", "service": .string(t.serviceKey.description),
                "name": .string(t.key.service), "destination": .string(t.key.backend.description),
                "from": t.healthy ? "unhealthy" : "healthy", "to": t.healthy ? "healthy" : "unhealthy",
                "reason": .string(t.detail), "text": .string(t.text),
            ], error: nil)
        }
    }
}
