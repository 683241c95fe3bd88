import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// Applies operations to a table the way the kernel does, failing on the
/// kernel's errors, so the property checks the plan is executable as well as convergent.
func simulate(_ ops: [IPVSOperation], on table: [ServiceKey: IPVSServiceState]) throws -> [ServiceKey: IPVSServiceState] {
    var t = table
    struct SimError: Error { let op: IPVSOperation; let why: String }
    for op in ops {
        switch op {
        case .addService(let s):
            guard t[s.key] == nil else { throw SimError(op: op, why: "exists") }
            t[s.key] = IPVSServiceState(service: s, destinations: [])
        case .updateService(_, let s):
            guard t[s.key] != nil else { throw SimError(op: op, why: "missing") }
            t[s.key]!.service = s
        case .deleteService(let s):
            guard t.removeValue(forKey: s.key) != nil else { throw SimError(op: op, why: "missing") }
        case .addDestination(let k, let d):
            guard var st = t[k], !st.destinations.contains(where: { $0.endpoint == d.endpoint }) else { throw SimError(op: op, why: "bad add") }
            st.destinations.append(d)
            t[k] = st
        case .updateDestination(let k, _, let d):
            guard var st = t[k], let i = st.destinations.firstIndex(where: { $0.endpoint == d.endpoint }) else { throw SimError(op: op, why: "bad update") }
            st.destinations[i] = d
            t[k] = st
        case .deleteDestination(let k, let d):
            guard var st = t[k], let i = st.destinations.firstIndex(where: { $0.endpoint == d.endpoint }) else { throw SimError(op: op, why: "bad delete") }
            st.destinations.remove(at: i)
            t[k] = st
        }
    }
    return t
}

final class PlannerPropertyTests: XCTestCase {
    func randomKey(_ g: inout SplitMix64) -> ServiceKey {
        switch Int.random(in: 0..<4, using: &g) {
        case 0: return .fwmark(UInt32.random(in: 1...4, using: &g), Bool.random(using: &g) ? .ipv4 : .ipv6)
        case 1: return .inet(.udp, Endpoint(address: IPAddress("10.0.0.\(Int.random(in: 1...3, using: &g))")!, port: UInt16.random(in: 80...82, using: &g)))
        case 2: return .inet(.tcp, Endpoint(address: IPAddress("2001:db8::\(Int.random(in: 1...3, using: &g))")!, port: 80))
        default: return .inet(.tcp, Endpoint(address: IPAddress("10.0.0.\(Int.random(in: 1...3, using: &g))")!, port: UInt16.random(in: 80...82, using: &g)))
        }
    }

    func randomState(_ key: ServiceKey, _ g: inout SplitMix64) -> IPVSServiceState {
        let scheds = Scheduler.allCases
        let sched = scheds[Int.random(in: 0..<scheds.count, using: &g)].rawValue
        var flags: UInt32 = 0
        if Bool.random(using: &g) { flags |= IPVSFlags.persistent }
        if Int.random(in: 0..<4, using: &g) == 0 { flags |= IPVSFlags.sched1 }
        let s = VirtualService(key: key, scheduler: sched, flags: flags,
                               timeout: UInt32.random(in: 0...3, using: &g) * 100,
                               netmask: key.family == .ipv4 ? [0xFFFF_FFFF, 0xFFFF_FF00].randomElement(using: &g)! : [128, 64].randomElement(using: &g)!)
        var dests: [Endpoint: RealServer] = [:]
        for _ in 0..<Int.random(in: 0...4, using: &g) {
            let a = key.family == .ipv4 ? IPAddress("192.168.0.\(Int.random(in: 1...5, using: &g))")! : IPAddress("2001:db8:1::\(Int.random(in: 1...5, using: &g))")!
            let e = Endpoint(address: a, port: UInt16.random(in: 8080...8081, using: &g))
            dests[e] = RealServer(endpoint: e, weight: UInt32.random(in: 0...3, using: &g),
                                  forward: ForwardMethod.allCases.randomElement(using: &g)!,
                                  upperThreshold: [0, 100].randomElement(using: &g)!, lowerThreshold: 0)
        }
        return IPVSServiceState(service: s, destinations: Array(dests.values))
    }

    /// For random desired configs, kernel states and ownership: applying the plan
    /// succeeds against kernel semantics, planning again is empty, foreign
    /// services are untouched, and owned services end exactly as desired.
    func testApplyThenPlanIsEmpty() throws {
        for seed in UInt64(1)...UInt64(1500) {
            var g = SplitMix64(state: seed)
            var actual: [ServiceKey: IPVSServiceState] = [:]
            var desired: [ServiceKey: NamedService] = [:]
            var owned: [ServiceKey: String] = [:]
            for _ in 0..<Int.random(in: 0...6, using: &g) {
                let k = randomKey(&g)
                actual[k] = randomState(k, &g)
                if Bool.random(using: &g) { owned[k] = "old" }
            }
            for i in 0..<Int.random(in: 0...6, using: &g) {
                let k = randomKey(&g)
                desired[k] = NamedService(name: "s\(i)", state: randomState(k, &g))
            }
            // Owned keys may also be absent from the kernel (deleted by hand).
            if Bool.random(using: &g) { let k = randomKey(&g); if actual[k] == nil { owned[k] = "gone" } }
            let adopt = Int.random(in: 0..<3, using: &g) == 0

            let plan = IPVSPlanner.plan(desired: Array(desired.values), actual: Array(actual.values), owned: owned, adopt: adopt)
            let after: [ServiceKey: IPVSServiceState]
            do { after = try simulate(plan.operations, on: actual) } catch { return XCTFail("seed \(seed): plan not executable: \(error)") }

            let again = IPVSPlanner.plan(desired: Array(desired.values), actual: Array(after.values), owned: plan.ownedAfter, adopt: false)
            XCTAssertEqual(again.operations, [], "seed \(seed): not converged")
            for (k, st) in actual where owned[k] == nil && !(adopt && desired[k] != nil) {
                XCTAssertEqual(after[k], st, "seed \(seed): foreign service \(k) changed")
            }
            for (k, want) in desired where plan.ownedAfter[k] != nil {
                XCTAssertEqual(after[k]?.service.normalized, want.state.service.normalized, "seed \(seed)")
                XCTAssertEqual(Set(after[k]?.destinations ?? []), Set(want.state.destinations), "seed \(seed)")
            }
            for k in owned.keys where desired[k] == nil {
                XCTAssertNil(after[k], "seed \(seed): owned service \(k) left behind")
            }
        }
    }
}
