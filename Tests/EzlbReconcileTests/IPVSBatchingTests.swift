@testable import EzlbReconcile
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
import Foundation
import Logging
import XCTest

/// A plan reaches the backend as one batch: through `any IPVSBackend` the backend's own
/// `apply` runs (the kernel backend pipelines it), never one operation at a time.
final class IPVSBatchingTests: XCTestCase {
    final class CountingBackend: IPVSBackend {
        var batches: [[IPVSOperation]] = []
        var singles = 0
        func dump() throws -> [IPVSServiceState] { [] }
        func addService(_ service: VirtualService) throws { singles += 1 }
        func updateService(_ service: VirtualService) throws { singles += 1 }
        func deleteService(_ key: ServiceKey) throws { singles += 1 }
        func addDestination(_ key: ServiceKey, _ dest: RealServer) throws { singles += 1 }
        func updateDestination(_ key: ServiceKey, _ dest: RealServer) throws { singles += 1 }
        func deleteDestination(_ key: ServiceKey, _ endpoint: Endpoint) throws { singles += 1 }
        func apply(_ ops: [IPVSOperation]) -> [IPVSError?] {
            batches.append(ops)
            return ops.map { _ in nil }
        }
        func apply(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?] { apply(ops) }
        func commit() throws {}
    }

    func testAPlanArrivesAsOneBatch() throws {
        let dir = NSTemporaryDirectory() + "ezlb-batch-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var desired: [NamedService] = []
        for i in 0..<2500 { // more than any chunk or window size
            let key = ServiceKey.inet(.tcp, Endpoint(address: IPAddress("10.1.\(i / 250).\(i % 250)")!, port: 80))
            let dests = (1...2).map { RealServer(endpoint: Endpoint(address: IPAddress("10.2.\(i / 250).\(i % 250 + $0)")!, port: 8080)) }
            desired.append(NamedService(name: "s\(i)", state: IPVSServiceState(service: VirtualService(key: key, scheduler: "wlc"), destinations: dests)))
        }
        let plan = IPVSPlanner.plan(desired: desired, actual: [], owned: [:], adopt: false)
        XCTAssertEqual(plan.operations.count, 7500)
        let backend = CountingBackend()
        let reconciler = IPVSReconciler(ReconcileContext(stateDir: dir, backend: .fake, configPath: ""))
        var report = CommandReport(command: "ipvs apply", dryRun: false)
        try reconciler.execute(plan, backend: backend, owned: [:], report: &report)
        XCTAssertEqual(backend.singles, 0, "operations went one at a time")
        XCTAssertEqual(backend.batches.count, 1)
        XCTAssertTrue(backend.batches.first == plan.operations, "the batch is the plan, in order")
        XCTAssertEqual(report.actions.count, 7500)
    }
}
