import Foundation
import XCTest

/// examples/on-master-ipvs.sh (ToMaster of examples/raft-ipvs.yaml) with the built ezlb on the fake kernel:
/// it applies the IPVS services, then hands over to on-master.sh (a stub here: binding the VIP is covered
/// by EzlbRaftTests.VIPScriptsTests in a network namespace).
final class VIPHookExampleTests: CLITestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func runHook(_ env: [String: String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.repo + "/examples/on-master-ipvs.sh")
        p.environment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "EVENT_TYPE": "ToMaster",
                         "EZLB": Self.binary.path, "EZLB_BACKEND": "fake", "EZLB_STATE_DIR": stateDir].merging(env) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testToMasterAppliesIPVSThenBindsTheVIP() throws {
        let hooks = workDir + "/hooks"
        try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
        try "#!/bin/sh\necho \"on-master ran for $EVENT_TYPE\"\n".write(toFile: hooks + "/on-master.sh", atomically: true, encoding: .utf8)
        chmod(hooks + "/on-master.sh", 0o755)
        let (rc, out) = try runHook(["EZLB_CONFIG": Self.repo + "/examples/ezlb.yaml", "HOOKS_DIR": hooks])
        XCTAssertEqual(rc, 0, out)
        XCTAssertTrue(out.contains("+ service tcp 10.0.0.1:80"), out)
        XCTAssertTrue(out.hasSuffix("on-master ran for ToMaster\n"), "the VIP is taken after the services: \(out)")
        let show = try ezlb(["ipvs", "show", "--managed"])
        XCTAssertTrue(show.stdout.contains("10.0.0.1:80"), show.stdout)

        // A broken ezlb.yaml: the hook fails before touching the VIP (on_failure: abort moves leadership).
        let bad = workDir + "/bad.yaml"
        try "services: [{name: x}]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let (rc2, out2) = try runHook(["EZLB_CONFIG": bad, "HOOKS_DIR": hooks])
        XCTAssertNotEqual(rc2, 0)
        XCTAssertFalse(out2.contains("on-master ran"), out2)
    }
}
