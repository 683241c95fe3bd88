import EzlbCore
@testable import EzlbReconcile
import EzlbState
import Foundation
import Kernel
import Logging
import XCTest

/// A state directory and config files of a test's own, on the fake kernel.
class ReconcileTestCase: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ezlb-reconcile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var state: StateDirectory { StateDirectory(path: dir + "/state") }

    func config(_ yaml: String, name: String = "ezlb.yaml") -> String {
        let p = dir + "/" + name
        XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(yaml.utf8)))
        return p
    }

    func context(_ config: String, dryRun: Bool = false) -> ReconcileContext {
        ReconcileContext(stateDir: dir + "/state", backend: .fake, configPath: config, dryRun: dryRun, lockTimeout: 5)
    }

    /// The fake kernel as it is on disk now (its lock is released when the value goes).
    func kernel() throws -> FakeKernel { try FakeKernel(dir: state) }

    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }
}
