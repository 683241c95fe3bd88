import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// A prober that answers from a script: endpoint -> result (default success).
struct ScriptedProber {
    var answers: [Endpoint: ProbeResult] = [:]
    func probe(_ targets: [ProbeTarget]) -> [ProbeResult] { targets.map { answers[$0.backend] ?? .success } }
}

final class HealthPlannerTests: XCTestCase {
    let key = tcp("10.0.0.1:80")
    let b1 = ep("192.168.1.10:8080"), b2 = ep("192.168.1.11:8080")

    func web(_ weights: (UInt32, UInt32) = (3, 1)) -> NamedService {
        NamedService(name: "web", state: state(svc(key), [dst("192.168.1.10:8080", w: weights.0), dst("192.168.1.11:8080", w: weights.1)]))
    }

    func spec(fail: Int = 3, rise: Int = 2, interval: Double = 5, on: HealthCheckSpec.OnUnhealthy = .quiesce,
              sorry: RealServer? = nil) -> HealthCheckSpec {
        HealthCheckSpec(kind: .tcp, interval: interval, timeout: 1, failCount: fail, riseCount: rise, onUnhealthy: on, sorryServer: sorry)
    }

    /// One `ipvs apply` health phase: due -> probe -> record -> prune -> apply.
    @discardableResult
    func round(_ services: [NamedService], _ specs: [String: HealthCheckSpec], _ table: inout HealthTable,
               prober: ScriptedProber, now: Double) -> (HealthView, [HealthTransition], Int) {
        let due = HealthPlanner.due(services, specs: specs, table: table, now: now)
        let results = prober.probe(due)
        let tr = HealthPlanner.record(Array(zip(due, results)).map { ($0.0, $0.1) }, into: &table, now: now)
        HealthPlanner.prune(&table, services: services, specs: specs)
        return (HealthPlanner.apply(services, specs: specs, table: &table, transitions: tr), tr, due.count)
    }

    func testNoRecordMeansHealthyAndUntouched() {
        var t = HealthTable()
        let v = HealthPlanner.apply([web()], specs: ["web": spec()], table: &t)
        XCTAssertEqual(v.services, [web()])
        XCTAssertEqual(v.reasons, [:])
        XCTAssertEqual(v.unhealthy, 0)
    }

    func testFailCountFailuresQuiesceThenRiseCountSuccessesRestore() {
        var t = HealthTable()
        let specs = ["web": spec(fail: 3, rise: 2, interval: 1)]
        let down = ScriptedProber(answers: [b2: .failure("connect: connection refused")])
        for i in 1...2 {
            let (v, tr, n) = round([web()], specs, &t, prober: down, now: Double(i * 10))
            XCTAssertEqual(n, 2)
            XCTAssertEqual(tr, [], "failure \(i) of 3 changes nothing")
            XCTAssertEqual(v.services, [web()])
            XCTAssertEqual(t[ "web", b2]?.failures, i)
            XCTAssertEqual(t["web", b2]?.healthy, true)
        }
        let (v, tr, _) = round([web()], specs, &t, prober: down, now: 30)
        XCTAssertEqual(tr.map(\.healthy), [false])
        XCTAssertEqual(tr.first?.detail, "3 failures: connect: connection refused")
        XCTAssertEqual(tr.first?.text, "~ health tcp 10.0.0.1:80 -> 192.168.1.11:8080 healthy -> unhealthy (3 failures: connect: connection refused)")
        XCTAssertEqual(v.services[0].state.destinations, [dst("192.168.1.10:8080", w: 3), dst("192.168.1.11:8080", w: 0)])
        XCTAssertEqual(v.reasons, [DestinationRef(key, b2): "unhealthy: 3 failures: connect: connection refused"])
        XCTAssertEqual(t["web", b2]?.since, 30)
        XCTAssertEqual(t["web", b2]?.lastError, "connect: connection refused")

        // Stays drained across runs while it keeps failing (no transition, counter grows).
        let (v2, tr2, _) = round([web()], specs, &t, prober: down, now: 40)
        XCTAssertEqual(tr2, [])
        XCTAssertEqual(v2.services[0].state.destinations[1].weight, 0)
        XCTAssertEqual(t["web", b2]?.failures, 4)

        // One success is not enough with rise_count 2; a failure in between restarts the count.
        let up = ScriptedProber()
        round([web()], specs, &t, prober: up, now: 50)
        XCTAssertEqual(t["web", b2]?.healthy, false)
        XCTAssertEqual(t["web", b2]?.successes, 1)
        XCTAssertEqual(t["web", b2]?.failures, 0)
        XCTAssertNil(t["web", b2]?.lastError)
        round([web()], specs, &t, prober: down, now: 60)
        XCTAssertEqual(t["web", b2]?.successes, 0)
        round([web()], specs, &t, prober: up, now: 70)
        let (v3, tr3, _) = round([web()], specs, &t, prober: up, now: 80)
        XCTAssertEqual(tr3.map(\.healthy), [true])
        XCTAssertEqual(tr3.first?.detail, "2 successes")
        XCTAssertEqual(v3.services, [web()])
        XCTAssertEqual(v3.reasons, [DestinationRef(key, b2): "healthy: 2 successes"])
    }

    func testRemoveModeLeavesTheBackendOut() {
        var t = HealthTable(records: [HealthKey(service: "web", backend: b1): BackendHealth(service: "web", backend: b1, healthy: false, failures: 5, lastError: "x")])
        let v = HealthPlanner.apply([web()], specs: ["web": spec(on: .remove)], table: &t)
        XCTAssertEqual(v.services[0].state.destinations, [dst("192.168.1.11:8080", w: 1)])
        XCTAssertEqual(v.reasons[DestinationRef(key, b1)], "unhealthy: 5 failures: x")
        XCTAssertEqual(v.unhealthy, 1)
    }

    func testWeightEditedWhileDrainedComesBackWithTheNewWeight() {
        var t = HealthTable()
        let specs = ["web": spec(fail: 1, rise: 1, interval: 1)]
        round([web((3, 1))], specs, &t, prober: ScriptedProber(answers: [b1: .failure("down")]), now: 1)
        let (drained, _, _) = round([web((7, 1))], specs, &t, prober: ScriptedProber(answers: [b1: .failure("down")]), now: 2)
        XCTAssertEqual(drained.services[0].state.destinations[0].weight, 0, "still drained after the config edit")
        let (back, _, _) = round([web((7, 1))], specs, &t, prober: ScriptedProber(), now: 3)
        XCTAssertEqual(back.services[0].state.destinations[0].weight, 7)
    }

    func testSorryServerOnlyWhileAllBackendsAreDown() {
        let sorry = dst("192.168.9.9:8080", w: 1)
        let specs = ["web": spec(fail: 1, rise: 1, interval: 1, sorry: sorry)]
        var t = HealthTable()
        let oneDown = ScriptedProber(answers: [b1: .failure("refused")])
        var (v, _, _) = round([web()], specs, &t, prober: oneDown, now: 1)
        XCTAssertFalse(v.services[0].state.destinations.contains(sorry), "one backend still up")
        XCTAssertEqual(t.sorry, [:])

        let allDown = ScriptedProber(answers: [b1: .failure("refused"), b2: .failure("refused")])
        (v, _, _) = round([web()], specs, &t, prober: allDown, now: 2)
        XCTAssertEqual(v.services[0].state.destinations,
                       [dst("192.168.1.10:8080", w: 0), dst("192.168.1.11:8080", w: 0), sorry], "kept quiesced, sorry added, sorted")
        XCTAssertEqual(v.reasons[DestinationRef(key, sorry.endpoint)], "sorry server: all 2 backends are unhealthy")
        XCTAssertEqual(t.sorry, ["web": sorry.endpoint])

        (v, _, _) = round([web()], specs, &t, prober: oneDown, now: 3)
        XCTAssertFalse(v.services[0].state.destinations.contains(sorry))
        XCTAssertEqual(v.reasons[DestinationRef(key, sorry.endpoint)], "sorry server no longer needed: 1 healthy")
        XCTAssertEqual(t.sorry, [:])

        // Remove mode with all down: only the sorry server is left.
        var r = HealthTable()
        let removeSpecs = ["web": spec(fail: 1, rise: 1, interval: 1, on: .remove, sorry: sorry)]
        (v, _, _) = round([web()], removeSpecs, &r, prober: allDown, now: 1)
        XCTAssertEqual(v.services[0].state.destinations, [sorry])

        // A service without backends never "has all backends down".
        var e = HealthTable()
        let empty = NamedService(name: "web", state: state(svc(key), []))
        XCTAssertEqual(HealthPlanner.apply([empty], specs: specs, table: &e).services, [empty])
    }

    func testIntervalSkipsRecentlyProbedBackends() {
        var t = HealthTable()
        let specs = ["web": spec(interval: 10)]
        XCTAssertEqual(HealthPlanner.due([web()], specs: specs, table: t, now: 100).count, 2)
        round([web()], specs, &t, prober: ScriptedProber(), now: 100)
        XCTAssertEqual(HealthPlanner.due([web()], specs: specs, table: t, now: 105).count, 0, "probed 5s ago, interval 10s")
        XCTAssertEqual(HealthPlanner.due([web()], specs: specs, table: t, now: 109.4).count, 0)
        XCTAssertEqual(HealthPlanner.due([web()], specs: specs, table: t, now: 109.5).count, 2, "a timer firing 0.5s early still probes")
        XCTAssertEqual(HealthPlanner.due([web()], specs: specs, table: t, now: 50).count, 2, "a clock that went back probes")
        // A new backend is due at once while the others wait.
        let grown = NamedService(name: "web", state: state(svc(key), web().state.destinations + [dst("192.168.1.12:8080")]))
        XCTAssertEqual(HealthPlanner.due([grown], specs: specs, table: t, now: 101).map(\.backend), [ep("192.168.1.12:8080")])
        // Services without a check are never probed.
        XCTAssertEqual(HealthPlanner.due([web()], specs: [:], table: t, now: 1000).count, 0)
        XCTAssertEqual(HealthPlanner.slack(1), 0.1)
        XCTAssertEqual(HealthPlanner.slack(60), 0.5)
    }

    func testPruneDropsWhatTheConfigNoLongerChecks() {
        var t = HealthTable()
        let other = NamedService(name: "api", state: state(svc(tcp("10.0.0.2:80")), [dst("192.168.2.10:80")]))
        round([web(), other], ["web": spec(), "api": spec(sorry: dst("192.168.9.9:80"))], &t, prober: ScriptedProber(), now: 1)
        t.sorry["api"] = ep("192.168.9.9:80")
        XCTAssertEqual(t.records.count, 3)
        // b2 leaves web; api loses its check.
        let smaller = NamedService(name: "web", state: state(svc(key), [dst("192.168.1.10:8080", w: 3)]))
        HealthPlanner.prune(&t, services: [smaller, other], specs: ["web": spec()])
        XCTAssertEqual(t.records.keys.sorted(), [HealthKey(service: "web", backend: b1)])
        XCTAssertEqual(t.sorry, [:])
    }

    func testConfiguredWeightZeroStaysZeroAndServicesWithoutCheckPassThrough() {
        var t = HealthTable(records: [HealthKey(service: "web", backend: b2): BackendHealth(service: "web", backend: b2, healthy: false, failures: 3)])
        let plain = NamedService(name: "plain", state: state(svc(tcp("10.0.0.9:80")), [dst("192.168.1.11:8080", w: 4)]))
        let v = HealthPlanner.apply([web((3, 0)), plain], specs: ["web": spec()], table: &t)
        XCTAssertEqual(v.services[0].state.destinations[1].weight, 0)
        XCTAssertEqual(v.services[1], plain, "same backend, other service without a check: untouched")
    }

    func testAnnotateOnlyDestinationOperations() throws {
        let reasons = [DestinationRef(key, b1): "unhealthy: 3 failures"]
        XCTAssertEqual(HealthPlanner.annotate(.updateDestination(key, from: dst("192.168.1.10:8080", w: 3), to: dst("192.168.1.10:8080", w: 0)), reasons: reasons),
                       "unhealthy: 3 failures")
        XCTAssertNil(HealthPlanner.annotate(.addService(svc(key)), reasons: reasons))
        XCTAssertNil(HealthPlanner.annotate(.addDestination(key, dst("192.168.1.11:8080")), reasons: reasons))
        let op = IPVSOperation.updateDestination(key, from: dst("192.168.1.10:8080", w: 3), to: dst("192.168.1.10:8080", w: 0))
        XCTAssertEqual(IPVSFormat.text(op, reason: "unhealthy: 3 failures: connect: connection refused"),
                       "~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 0 (unhealthy: 3 failures: connect: connection refused)")
        let j = try rendered(IPVSAction(op, reason: "r"), done: true, error: nil).json
        XCTAssertEqual(j["reason"], .string("r"))
        XCTAssertEqual(j["text"], .string(IPVSFormat.text(op, reason: "r")))
    }

    /// Every sequence of 8 probe outcomes, for every fail/rise count 1...4,
    /// against a direct reading of the rule: the state flips to unhealthy at
    /// the fail_count-th consecutive failure and back at the rise_count-th
    /// consecutive success.
    func testEveryOutcomeSequenceAgainstTheRule() {
        for fail in 1...4 {
            for rise in 1...4 {
                let specs = ["web": spec(fail: fail, rise: rise, interval: 1)]
                let one = NamedService(name: "web", state: state(svc(key), [dst("192.168.1.10:8080", w: 5)]))
                for bits in 0..<256 {
                    var t = HealthTable()
                    var healthy = true
                    var run = 0, lastOK: Bool? = nil
                    for i in 0..<8 {
                        let ok = bits >> i & 1 == 1
                        run = lastOK == ok ? run + 1 : 1
                        lastOK = ok
                        let before = healthy
                        if ok && !healthy && run >= rise { healthy = true }
                        if !ok && healthy && run >= fail { healthy = false }
                        let prober = ScriptedProber(answers: ok ? [:] : [b1: .failure("no")])
                        let (v, tr, _) = round([one], specs, &t, prober: prober, now: Double(i * 2 + 2))
                        XCTAssertEqual(t["web", b1]?.healthy, healthy, "fail \(fail) rise \(rise) bits \(bits) step \(i)")
                        XCTAssertEqual(v.services[0].state.destinations[0].weight, healthy ? 5 : 0)
                        XCTAssertEqual(tr.count, before == healthy ? 0 : 1)
                        XCTAssertEqual(ok ? t["web", b1]?.successes : t["web", b1]?.failures, run)
                    }
                }
            }
        }
    }

    func testStoredHealthViewDrivesSNATRules() {
        let s = FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [b1, b2], snatIP: nil)
        var t = HealthTable(records: [HealthKey(service: "web", backend: b2): BackendHealth(service: "web", backend: b2, healthy: false, failures: 3)])
        var nat = SNATRules.chains([s], health: StoredHealthView(t)).first { $0.name == SNATRules.natChain }!
        XCTAssertEqual(nat.rules.map { $0.destination?.address }, [b1.address])
        // All down with a sorry server in use: the sorry server gets the rules.
        t.records[HealthKey(service: "web", backend: b1)] = BackendHealth(service: "web", backend: b1, healthy: false, failures: 3)
        t.sorry["web"] = ep("192.168.9.9:8080")
        nat = SNATRules.chains([s], health: StoredHealthView(t)).first { $0.name == SNATRules.natChain }!
        XCTAssertEqual(nat.rules.map { $0.destination?.address }, [ep("192.168.9.9:8080").address])
        XCTAssertEqual(nat.rules.first?.destinationPort, 8080)
    }
}
