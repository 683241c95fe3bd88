import EzlbCore
import EzlbPlanner
@testable import EzlbReconcile
import EzlbState
import Kernel
import XCTest

/// `IPVSReconciler` in-process on the fake kernel: intent-first ownership, partial failures,
/// a run killed half-way, and the convergence cache.
final class IPVSReconcilerTests: ReconcileTestCase {
    let yaml = """
    services:
      - name: web
        listen: 10.0.0.1:80
        scheduler: wrr
        health_check: {enabled: false}
        backends: [{address: "192.168.1.10:8080", weight: 3}, {address: "192.168.1.11:8080"}]
      - name: dns
        listen: 10.0.0.3:53
        protocol: udp
        health_check: {enabled: false}
        backends: [{address: "192.168.1.20:53"}]
    """
    var web: ServiceKey { .inet(.tcp, ep("10.0.0.1:80")) }
    var dns: ServiceKey { .inet(.udp, ep("10.0.0.3:53")) }

    func owned() throws -> [ServiceKey: String] { try state.load(IPVSOwnership.self)?.services ?? [:] }

    /// A fake that refuses some operations and, like a process killed mid-run, stops after `limit`.
    final class Faulty: IPVSBackend {
        let inner: FakeIPVS
        var refuse: (IPVSOperation) -> IPVSError? = { _ in nil }
        var limit = Int.max
        var beforeApply: () -> Void = {}
        init(_ inner: FakeIPVS) { self.inner = inner }
        func dump() throws -> [IPVSServiceState] { try inner.dump() }
        func addService(_ s: VirtualService) throws { try inner.addService(s) }
        func updateService(_ s: VirtualService) throws { try inner.updateService(s) }
        func deleteService(_ k: ServiceKey) throws { try inner.deleteService(k) }
        func addDestination(_ k: ServiceKey, _ d: RealServer) throws { try inner.addDestination(k, d) }
        func updateDestination(_ k: ServiceKey, _ d: RealServer) throws { try inner.updateDestination(k, d) }
        func deleteDestination(_ k: ServiceKey, _ e: Endpoint) throws { try inner.deleteDestination(k, e) }
        func apply(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?] {
            beforeApply()
            return ops.enumerated().map { i, op in
                if i >= limit { return IPVSError(.other, operation: op.operationName, detail: "killed") }
                if let e = refuse(op) { return e }
                return inner.apply([op]).first ?? nil
            }
        }
        func commit() throws { try inner.commit() }
    }

    func testApplyConvergesAndAReRunWritesNothing() throws {
        let cfg = config(yaml)
        let r = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        XCTAssertFalse(r.failed)
        XCTAssertEqual(r.tally().added, 5)
        XCTAssertEqual(try owned(), [web: "web", dns: "dns"])
        let again = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        XCTAssertFalse(again.changed)
        XCTAssertEqual(again.summary, "no changes")
    }

    /// Ownership is written before the kernel is touched: whatever a killed run created is
    /// owned, and the next run finishes the job.
    func testARunKilledHalfWayIsFinishedByTheNext() throws {
        let cfg = config(yaml)
        let reconciler = IPVSReconciler(context(cfg))
        let desired = try reconciler.desired()
        let plan = IPVSPlanner.plan(desired: desired.services, actual: [], owned: [:], adopt: false)
        for killedAfter in 0..<plan.operations.count {
            try? FileManager.default.removeItem(atPath: state.path)
            do {
                let faulty = Faulty(FakeIPVS(kernel: try kernel()))
                faulty.limit = killedAfter
                var onDisk: [ServiceKey: String]? = nil
                faulty.beforeApply = { onDisk = try? self.owned() }
                var report = CommandReport(command: "ipvs apply", dryRun: false)
                try reconciler.execute(plan, backend: faulty, owned: [:], report: &report)
                XCTAssertEqual(onDisk, plan.ownedIntent, "the intent is on disk before the kernel is touched")
            }
            // Killed after `killedAfter` operations: its last write was the intent.
            try state.store(IPVSOwnership(services: plan.ownedIntent))
            let inKernel = Set(try FakeIPVS(kernel: try kernel()).dump().map(\.key))
            XCTAssertTrue(inKernel.isSubset(of: Set(plan.ownedIntent.keys)), "every created service is in the intent")
            let next = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
            XCTAssertFalse(next.failed, "after \(killedAfter): \(next.errors)")
            XCTAssertEqual(try FakeIPVS(kernel: try kernel()).dump().map(\.key).sorted(), [web, dns].sorted(), "after \(killedAfter)")
            XCTAssertEqual(try owned(), [web: "web", dns: "dns"])
        }
    }

    /// A refused add is not owned (another tool may have made it meanwhile); a refused delete
    /// stays owned (it still exists); the report names each refusal.
    func testPartialFailureBookkeeping() throws {
        let cfg = config(yaml)
        _ = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        let reconciler = IPVSReconciler(context(cfg))
        // dns goes, a new service comes; both refused.
        let extra = ServiceKey.inet(.tcp, ep("10.0.0.9:80"))
        let actual = try FakeIPVS(kernel: try kernel()).dump()
        var desired = try reconciler.desired().services.filter { $0.name == "web" }
        desired.append(NamedService(name: "new", state: IPVSServiceState(service: VirtualService(key: extra, scheduler: "rr"), destinations: [])))
        let plan = IPVSPlanner.plan(desired: desired, actual: actual, owned: try owned(), adopt: false)
        let faulty = Faulty(FakeIPVS(kernel: try kernel()))
        defer { withExtendedLifetime(faulty) {} }
        faulty.refuse = { op in
            switch op {
            case .addService(let s) where s.key == extra: return IPVSError(.serviceExists, operation: op.operationName)
            case .deleteService(let s) where s.key == self.dns: return IPVSError(.other, operation: op.operationName, detail: "busy")
            default: return nil
            }
        }
        var report = CommandReport(command: "ipvs apply", dryRun: false)
        try reconciler.execute(plan, backend: faulty, owned: try owned(), report: &report)
        XCTAssertEqual(try owned(), [web: "web", dns: "dns"], "the new one is not ours, dns still is")
        XCTAssertTrue(report.failed)
        XCTAssertEqual(report.actions.filter { $0.error != nil }.map(\.text).sorted(), ["+ service tcp 10.0.0.9:80 rr", "- service udp 10.0.0.3:53"])
    }

    func testConvergenceCache() throws {
        let cfg = config(yaml + "\nextra_key: 1\n")
        let first = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        XCTAssertFalse(first.fromConvergenceCache)
        let fast = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        XCTAssertTrue(fast.fromConvergenceCache, "recorded by the apply that made the table")
        XCTAssertEqual(fast.warnings, first.warnings, "the config's warnings are kept")
        XCTAssertFalse(fast.changed)
        // --adopt and a changed kernel take the full path; so does a dry run's plan after a hand edit.
        XCTAssertFalse(try IPVSReconciler(context(cfg)).apply(adopt: true, probe: false).fromConvergenceCache)
        do {
            let k = FakeIPVS(kernel: try kernel())
            try k.updateDestination(web, RealServer(endpoint: ep("192.168.1.10:8080"), weight: 7))
            try k.commit()
        }
        let dry = try IPVSReconciler(context(cfg, dryRun: true)).apply(adopt: false, probe: false)
        XCTAssertFalse(dry.fromConvergenceCache)
        XCTAssertEqual(dry.actions.map(\.text), ["~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 7 -> 3"])
        let repaired = try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false)
        XCTAssertEqual(repaired.actions.count, 1)
        XCTAssertTrue(try IPVSReconciler(context(cfg)).apply(adopt: false, probe: false).fromConvergenceCache)
        // Health checks: every run probes and plans.
        let hc = config(yaml.replacingOccurrences(of: "health_check: {enabled: false}", with: "health_check: {type: tcp, timeout: 100ms}"), name: "hc.yaml")
        for _ in 0..<2 { XCTAssertFalse(try IPVSReconciler(context(hc)).apply(adopt: false, probe: false).fromConvergenceCache) }
    }
}
