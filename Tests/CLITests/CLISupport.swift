import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

/// Runs the built `ezlb` binary the way a script would.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
    }
    var actionTexts: [String] { (json["actions"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? [] }
    var changed: Bool? { json["changed"] as? Bool }
}

class CLITestCase: XCTestCase {
    var stateDir = ""
    var workDir = ""

    static var binary: URL {
        // The test bundle sits next to the products in .build/<triple>/debug.
        var dir = Bundle(for: CLITestCase.self).bundleURL
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("ezlb")
    }

    override func setUpWithError() throws {
        workDir = NSTemporaryDirectory() + "ezlb-cli-\(UUID().uuidString)"
        stateDir = workDir + "/state"
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: workDir)
    }

    /// A Process for the built binary with the test's state dir and the fake backend.
    func makeProcess(_ args: [String], env: [String: String] = [:]) -> Process {
        let p = Process()
        p.executableURL = Self.binary
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e["EZLB_STATE_DIR"] = stateDir
        e["EZLB_BACKEND"] = "fake"
        for (k, v) in env { e[k] = v }
        p.environment = e
        return p
    }

    /// Starts `ezlb` without waiting (for concurrency tests); output discarded.
    func spawn(_ args: [String]) throws -> Process {
        let p = makeProcess(args)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @discardableResult
    func ezlb(_ args: [String], env: [String: String] = [:]) throws -> CLIResult {
        try capture(makeProcess(args, env: env))
    }

    /// Runs any program (no shell; `/usr/bin/env` finds it in PATH when not absolute)
    /// with this process's environment plus `env`.
    @discardableResult
    func command(_ args: [String], env: [String: String] = [:]) throws -> CLIResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        return try capture(p)
    }

    /// Runs `p` to its end. Output goes to files, so large outputs cannot fill a pipe and deadlock.
    func capture(_ p: Process) throws -> CLIResult {
        let outPath = workDir + "/.out-\(UUID().uuidString)", errPath = workDir + "/.err-\(UUID().uuidString)"
        XCTAssertTrue(FileManager.default.createFile(atPath: outPath, contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: errPath, contents: nil))
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        let o = FileManager.default.contents(atPath: outPath) ?? Data()
        let er = FileManager.default.contents(atPath: errPath) ?? Data()
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: er, as: UTF8.self))
    }

    func writeConfig(_ yaml: String, name: String = "ezlb.yaml") -> String {
        let path = workDir + "/" + name
        try! yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Bytes of every file in the state dir (lock files excluded).
    func stateSnapshot() -> [String: Data] {
        var snap: [String: Data] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: stateDir)) ?? [] where !f.hasSuffix(".lock") {
            snap[f] = FileManager.default.contents(atPath: stateDir + "/" + f)
        }
        return snap
    }

    /// Edits the fake kernel directly, as another tool (ipvsadm, keepalived) would edit the real one.
    func withFakeKernel(_ body: (FakeIPVS) throws -> Void) throws {
        let k = try FakeKernel(dir: StateDirectory(path: stateDir))
        let ipvs = FakeIPVS(kernel: k)
        try body(ipvs)
        try ipvs.commit()
    }

    func fakeTable() throws -> [IPVSServiceState] {
        var t: [IPVSServiceState] = []
        try withFakeKernel { t = try $0.dump() }
        return t
    }
}

func endpoint(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

/// A CLI test that runs ezlb on the kernel backend inside one network namespace it
/// creates and always deletes (never the host's own namespace). Skipped without root,
/// without the tools `checkTools()` asks for, or where namespaces cannot be made.
class NetnsCLITestCase: CLITestCase {
    var netns = ""
    /// Prefix of the namespace's name (the test's pid and a random number follow).
    class var netnsPrefix: String { "ezlb" }
    /// Throws XCTSkip when a tool the subclass needs is missing.
    func checkTools() throws {}

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard geteuid() == 0 else { throw XCTSkip("needs root (ip netns)") }
        try checkTools()
        netns = "\(Self.netnsPrefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard try command(["ip", "netns", "add", netns]).status == 0 else { throw XCTSkip("cannot create a network namespace here") }
    }

    override func tearDown() {
        if !netns.isEmpty { _ = try? command(["ip", "netns", "del", netns]) }
        super.tearDown()
    }

    func inNS(_ args: [String]) throws -> CLIResult { try command(["ip", "netns", "exec", netns] + args) }

    /// ezlb in the namespace on the kernel backend.
    func ezlbNS(_ args: [String]) throws -> CLIResult {
        try inNS([Self.binary.path] + args + ["--backend", "kernel", "--state-dir", stateDir])
    }
}
