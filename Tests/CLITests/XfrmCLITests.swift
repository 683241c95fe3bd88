import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

/// `xfrm sync|show|cleanup` on the fake kernel: the same scenario the VM runs on a real one.
final class XfrmCLITests: CLITestCase {
    let pskHex = String(repeating: "5a", count: 32)

    func writeKey(_ text: String? = nil, mode: Int = 0o600, name: String = "psk") {
        let p = workDir + "/" + name
        try! (text ?? pskHex).write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, mode_t(mode))
    }

    func config(generation: Int = 1, delay: String = "0s", peers: String? = nil, extra: String = "") -> String {
        writeKey()
        return writeConfig("""
        ipsec:
          local: 192.168.0.1
          key_file: psk
          generation: \(generation)
          rotation_delay: \(delay)
          pods: [10.244.1.0/28]
        \(extra)
          peers:
        \(peers ?? """
            - address: 192.168.0.2
              pods: [10.244.2.0/28]
            - address: 192.168.0.3
              pods: [10.244.3.0/29, 10.244.3.8/29]
        """)
        """)
    }

    func fakeXfrm() throws -> FakeXfrmModel {
        try FakeKernel(dir: StateDirectory(path: stateDir)).model.xfrm
    }

    /// Adds objects another tool made (strongSwan, kmesh, ip xfrm) to the fake kernel.
    func addForeign() throws {
        let k = try FakeKernel(dir: StateDirectory(path: stateDir))
        let b = FakeXfrmBackend(kernel: k)
        try b.apply(.addPolicy(XfrmPolicy(dir: .out, selector: XfrmSelector(src: XfrmPrefix(IPAddress("10.0.0.0")!, length: 8), dst: XfrmPrefix(IPAddress("172.16.0.0")!, length: 12)),
                                          priority: 100, templates: [XfrmTemplate(src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.9.9")!, reqid: 7)])))
        try b.apply(.addState(XfrmState(id: XfrmStateID(src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.9.9")!, spi: 0x77),
                                        reqid: 7, aead: "rfc4106(gcm(aes))", key: XfrmKey([UInt8](repeating: 9, count: 20)), icvBits: 128)))
        try b.commit()
    }

    /// Adds another tool's out policy on exactly the selector ezlb's config wants (10.244.1.0/28 → 10.244.2.0/28).
    func addForeignOnOurSelector() throws {
        let b = FakeXfrmBackend(kernel: try FakeKernel(dir: StateDirectory(path: stateDir)))
        try b.apply(.addPolicy(XfrmPolicy(dir: .out, selector: XfrmSelector(src: XfrmPrefix(IPAddress("10.244.1.0")!, length: 28), dst: XfrmPrefix(IPAddress("10.244.2.0")!, length: 28)),
                                          priority: 5, templates: [XfrmTemplate(src: IPAddress("192.168.0.1")!, dst: IPAddress("192.168.0.2")!, reqid: 1)])))
        try b.commit()
    }

    func testSyncResyncShowCleanup() throws {
        try addForeign()
        let cfg = config()
        let r1 = try ezlb(["xfrm", "sync", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r1.status, 2, r1.stderr)
        XCTAssertEqual(r1.changed, true)
        // 2 peers: 2 IN + 2 OUT states; 1 local prefix x (1 + 1 aggregated /28) x 3 directions.
        XCTAssertEqual(r1.actionTexts.count, 10)
        XCTAssertEqual(r1.json["writes"] as? Int, 10)
        XCTAssertTrue(r1.actionTexts[0].hasPrefix("+ state src 192.168.0.2 dst 192.168.0.1"), r1.actionTexts[0])
        XCTAssertTrue(r1.actionTexts[2].hasPrefix("+ state src 192.168.0.1 dst 192.168.0.2"), "IN states first, then OUT")
        XCTAssertTrue(r1.actionTexts.contains("+ policy src 10.244.3.0/28 dst 10.244.1.0/28 dir fwd priority 31000 tmpl src 192.168.0.3 dst 192.168.0.1 proto esp reqid 0x0e210002 mode tunnel"), "\(r1.actionTexts)")
        XCTAssertFalse(r1.stdout.contains(pskHex) || r1.stdout.contains("5a5a"))

        // Second run: no netlink write, changed false, exit 0 even with --detailed-exitcode.
        let writes = try fakeXfrm().writes
        let r2 = try ezlb(["xfrm", "sync", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.json["writes"] as? Int, 0)
        XCTAssertEqual(try fakeXfrm().writes, writes)
        let text = try ezlb(["xfrm", "sync", "-c", cfg])
        XCTAssertEqual(text.stdout, "no changes\n")

        // show: ezlb's objects only, keys hidden; --all adds the foreign ones, marked.
        let show = try ezlb(["xfrm", "show"])
        XCTAssertEqual(show.status, 0)
        let lines = show.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "# generation: out 1, accepting 1")
        XCTAssertEqual(lines.filter { $0.hasPrefix("policy ") }.count, 6)
        XCTAssertEqual(lines.filter { $0.hasPrefix("state ") }.count, 4)
        XCTAssertTrue(show.stdout.contains("aead rfc4106(gcm(aes)) <160-bit key> 128"))
        XCTAssertFalse(show.stdout.contains("192.168.9.9"))
        let all = try ezlb(["xfrm", "show", "--all"])
        XCTAssertEqual(all.stdout.components(separatedBy: "# foreign").count - 1, 2)
        let js = try ezlb(["xfrm", "show", "-o", "json"])
        XCTAssertEqual((js.json["states"] as? [[String: Any]])?.count, 4)
        XCTAssertEqual((js.json["states"] as? [[String: Any]])?.first?["key_bits"] as? Int, 160)
        XCTAssertFalse(js.stdout.contains("5a5a"))
        for t in try fakeXfrm().tables.states where t.reqid != 7 {
            XCTAssertFalse(js.stdout.contains(t.key.bytes.map { String(format: "%02x", $0) }.joined()))
        }

        // A policy deleted by hand is put back; a state edited by hand (other key) is replaced.
        let victim: XfrmPolicy
        do { // the fake kernel's lock is held while `k` lives
            let k = try FakeKernel(dir: StateDirectory(path: stateDir))
            victim = k.model.xfrm.tables.policies.first { $0.priority == 31000 }!
            k.model.xfrm.tables.policies.removeAll { $0 == victim }
            k.markDirty()
            try k.save()
        }
        let r3 = try ezlb(["xfrm", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r3.actionTexts, ["+ policy \(victim)"])

        // cleanup: only ezlb's objects go; the foreign policy and state stay.
        let c = try ezlb(["xfrm", "cleanup", "-o", "json"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(c.actionTexts.count, 10)
        XCTAssertTrue(c.actionTexts.prefix(6).allSatisfy { $0.hasPrefix("- policy") }, "policies before states")
        let left = try fakeXfrm().tables
        XCTAssertEqual(left.policies.map(\.priority), [100])
        XCTAssertEqual(left.states.map(\.reqid), [7])
        XCTAssertEqual(try ezlb(["xfrm", "cleanup", "-o", "json"]).changed, false)
    }

    func testRotationTakesThreeSyncsAndNeverDropsTheActiveKeys() throws {
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config(generation: 1)]).status, 0)
        let gen1 = Set(try fakeXfrm().tables.states.map(\.id.spi))
        // Bump: only IN states for generation 2 are added.
        let r1 = try ezlb(["xfrm", "sync", "-c", config(generation: 2), "-o", "json"])
        XCTAssertEqual(r1.actionTexts.count, 2, "\(r1.actionTexts)")
        XCTAssertTrue(r1.actionTexts.allSatisfy { $0.hasPrefix("+ state") && $0.hasSuffix("(in gen 2)") }, "\(r1.actionTexts)")
        XCTAssertTrue(r1.stderr.contains("key rotation in progress: out generation 1, accepting 1 2"), r1.stderr)
        XCTAssertTrue(gen1.isSubset(of: Set(try fakeXfrm().tables.states.map(\.id.spi))))
        // Switch: new OUT states added before the old ones go.
        let r2 = try ezlb(["xfrm", "sync", "-c", config(generation: 2), "-o", "json"])
        XCTAssertEqual(r2.actionTexts.map { String($0.prefix(7)) }, ["+ state", "+ state", "- state", "- state"], "\(r2.actionTexts)")
        XCTAssertTrue(r2.actionTexts[0].hasSuffix("(out gen 2)"))
        // Retire: the old IN states go.
        let r3 = try ezlb(["xfrm", "sync", "-c", config(generation: 2), "-o", "json"])
        XCTAssertEqual(r3.actionTexts.count, 2)
        XCTAssertTrue(r3.actionTexts.allSatisfy { $0.hasPrefix("- state src 192.168.0.") && $0.contains("dst 192.168.0.1 ") })
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config(generation: 2), "-o", "json"]).changed, false)
        XCTAssertTrue(gen1.isDisjoint(with: Set(try fakeXfrm().tables.states.map(\.id.spi))))
        XCTAssertEqual(try fakeXfrm().tables.policies.count, 6, "policies never changed during rotation")
    }

    func testRotationWaitsForTheDelay() throws {
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config(generation: 1, delay: "1h")]).status, 0)
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config(generation: 2, delay: "1h"), "-o", "json"]).actionTexts.count, 2)
        let r = try ezlb(["xfrm", "sync", "-c", config(generation: 2, delay: "1h"), "-o", "json"])
        XCTAssertEqual(r.changed, false, "OUT does not switch before rotation_delay")
        XCTAssertTrue(r.stderr.contains("OUT switches to generation 2 on a sync at least 3600s from now"), r.stderr)
    }

    func testPeerRemovedAndDryRun() throws {
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config()]).status, 0)
        let before = stateSnapshot()
        let onePeer = config(peers: """
            - address: 192.168.0.2
              pods: [10.244.2.0/28]
        """)
        let d = try ezlb(["xfrm", "sync", "-c", onePeer, "--dry-run", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(d.status, 2)
        XCTAssertEqual(d.json["dry_run"] as? Bool, true)
        XCTAssertEqual(d.actionTexts.count, 5, "3 policies and 2 states of 192.168.0.3: \(d.actionTexts)")
        XCTAssertEqual(stateSnapshot(), before, "dry run writes nothing")
        let r = try ezlb(["xfrm", "sync", "-c", onePeer, "-o", "json"])
        XCTAssertEqual(r.actionTexts, d.actionTexts)
        XCTAssertFalse(try fakeXfrm().tables.states.contains { $0.id.src.description == "192.168.0.3" || $0.id.dst.description == "192.168.0.3" })
    }

    func testStateFileLostIsHarmless() throws {
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config()]).status, 0)
        try FileManager.default.removeItem(atPath: stateDir + "/xfrm.json")
        let r = try ezlb(["xfrm", "sync", "-c", config(), "-o", "json"])
        XCTAssertEqual(r.changed, false, "reqids recovered from the kernel: \(r.actionTexts)")
        try FileManager.default.removeItem(atPath: stateDir + "/xfrm.json")
        let c = try ezlb(["xfrm", "cleanup", "-o", "json"])
        XCTAssertEqual(c.actionTexts.count, 10, "found by priority and reqid range")
    }

    func testForeignPolicyOnOurSelectorIsAConflict() throws {
        try addForeignOnOurSelector()
        let r = try ezlb(["xfrm", "sync", "-c", config(), "-o", "json"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual((r.json["errors"] as? [String])?.count, 1)
        XCTAssertTrue(((r.json["errors"] as? [String])?.first ?? "").contains("is not ezlb's (priority 5); left alone"))
        XCTAssertTrue(try fakeXfrm().tables.policies.contains { $0.priority == 5 })
        XCTAssertEqual(r.actionTexts.count, 9, "everything else installed")
    }

    func testBadInputsChangeNothing() throws {
        XCTAssertEqual(try ezlb(["xfrm", "sync", "-c", config()]).status, 0)
        let before = stateSnapshot()
        writeKey("abcd", name: "short")
        writeKey(mode: 0o644, name: "open")
        let base = "  local: 192.168.0.1\n  pods: [10.244.1.0/28]\n"
        let cases: [(String, String)] = [
            ("ipsec:\n\(base)  key_file: short\n", "key is too short (2 bytes; at least 16)"),
            ("ipsec:\n\(base)  key_file: open\n", "key file is accessible by group or others (mode 644); chmod 600 it"),
            ("ipsec:\n\(base)  key_file: nothere\n", "key file does not exist"),
            ("ipsec:\n\(base)  key_file: psk\n  peers: [{address: 192.168.0.1}]\n", "a peer cannot be the local node"),
            ("ipsec:\n\(base)  key_file: psk\n  peers: [{address: 192.168.0.2, pods: [10.244.1.8/29]}]\n", "overlaps 10.244.1.0/28"),
        ]
        for (yaml, want) in cases {
            let r = try ezlb(["xfrm", "sync", "-c", writeConfig(yaml, name: "bad.yaml")])
            XCTAssertEqual(r.status, 78, r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("ezlb: error: ") && r.stderr.contains(want), r.stderr)
            XCTAssertEqual(r.stdout, "")
            XCTAssertEqual(stateSnapshot(), before, "nothing changed: \(want)")
        }
        // Unreadable key file (not as root: root reads anything).
        if geteuid() != 0 {
            writeKey(mode: 0o000, name: "locked")
            let r = try ezlb(["xfrm", "sync", "-c", writeConfig("ipsec:\n\(base)  key_file: locked\n", name: "bad.yaml")])
            XCTAssertEqual(r.status, 78)
        }
        let json = try ezlb(["xfrm", "sync", "-c", writeConfig("ipsec:\n\(base)  key_file: short\n", name: "bad.yaml"), "-o", "json"])
        XCTAssertEqual(json.changed, false)
        XCTAssertEqual((json.json["errors"] as? [String])?.count, 1)
        XCTAssertFalse(json.stdout.contains("abcd"))
    }

    // MARK: converged fast path (xfrm.converged)

    static let hit = "converged: xfrm.converged matches the kernel and the inputs"
    var cacheFile: String { stateDir + "/xfrm.converged" }

    /// A sync with `-vv`: its result and which path it took.
    func sync(_ cfg: String, _ extra: [String] = []) throws -> (r: CLIResult, fast: Bool) {
        let r = try ezlb(["xfrm", "sync", "-c", cfg, "-o", "json", "-vv"] + extra)
        return (r, r.stderr.contains(Self.hit))
    }

    /// A hit reports what the full path would, byte for byte, without planning or writing.
    func testConvergedRunTakesTheFastPathWithTheSameReport() throws {
        try addForeign()
        let cfg = config(extra: "  typo: 1")
        let first = try sync(cfg)
        XCTAssertFalse(first.fast)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cacheFile), "recorded after applying (verified by a second dump)")
        let writes = try fakeXfrm().writes
        let hit = try sync(cfg)
        XCTAssertTrue(hit.fast, hit.r.stderr)
        XCTAssertFalse(hit.r.stderr.contains("states wanted"), "no plan on the fast path")
        XCTAssertEqual(hit.r.changed, false)
        XCTAssertEqual(try fakeXfrm().writes, writes)
        // The same report as the full path (cache removed), in JSON and text, warnings included.
        for format in ["json", "text"] {
            let fast = try ezlb(["xfrm", "sync", "-c", cfg, "-o", format])
            try FileManager.default.removeItem(atPath: cacheFile)
            let full = try ezlb(["xfrm", "sync", "-c", cfg, "-o", format])
            XCTAssertEqual(fast.stdout, full.stdout)
            XCTAssertEqual(fast.stderr, full.stderr)
            XCTAssertEqual(fast.status, full.status)
            XCTAssertTrue(fast.stderr.contains("ipsec.typo: unknown key, ignored"), fast.stderr)
        }
        let json = try ezlb(["xfrm", "sync", "-c", cfg, "-o", "json"]).json
        XCTAssertEqual(json["writes"] as? Int, 0)
        XCTAssertEqual(json["policies"] as? Int, 6)
        XCTAssertEqual(json["states"] as? Int, 4)
        XCTAssertNotNil(json["rotation"] as? [String: Any])
        // A dry run takes it too, and records nothing either way.
        XCTAssertTrue(try sync(cfg, ["--dry-run"]).fast)
        try FileManager.default.removeItem(atPath: cacheFile)
        XCTAssertFalse(try sync(cfg, ["--dry-run"]).fast)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheFile), "a dry run never records")
        XCTAssertFalse(try sync(cfg).fast)
        XCTAssertTrue(try sync(cfg).fast, "a converged full path (nothing applied) records too")
        // The cache holds no key material.
        let cache = try Data(contentsOf: URL(fileURLWithPath: cacheFile))
        for st in try fakeXfrm().tables.states {
            XCTAssertNil(cache.range(of: Data(st.key.bytes.prefix(8))))
        }
        XCTAssertNil(cache.range(of: Data([UInt8](repeating: 0x5a, count: 8))))
    }

    /// Anything the full path would see differently takes it, with the full path's result.
    func testAnyChangeTakesTheFullPath() throws {
        let cfg = config()
        XCTAssertFalse(try sync(cfg).fast)
        XCTAssertTrue(try sync(cfg).fast)

        // Another tool's policy added: full path, nothing of ours to do, recorded again.
        try addForeign()
        var s = try sync(cfg)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.changed, false)
        XCTAssertTrue(try sync(cfg).fast)

        // One of ezlb's policies deleted by hand: put back.
        let victim: XfrmPolicy
        do {
            let k = try FakeKernel(dir: StateDirectory(path: stateDir))
            victim = k.model.xfrm.tables.policies.first { $0.priority == 31000 }!
            k.model.xfrm.tables.policies.removeAll { $0 == victim }
            k.markDirty()
            try k.save()
        }
        s = try sync(cfg)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.actionTexts, ["+ policy \(victim)"])
        XCTAssertTrue(try sync(cfg).fast)

        // A state edited by hand (another key): replaced.
        do {
            let k = try FakeKernel(dir: StateDirectory(path: stateDir))
            let i = k.model.xfrm.tables.states.firstIndex { $0.reqid != 7 }!
            k.model.xfrm.tables.states[i].key = XfrmKey([UInt8](repeating: 1, count: 20))
            k.markDirty()
            try k.save()
        }
        s = try sync(cfg)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.actionTexts.count, 2, "\(s.r.actionTexts)")
        XCTAssertTrue(try sync(cfg).fast)

        // The config changed, even by a comment only: full path (which finds nothing to do).
        let commented = writeConfig(try String(contentsOfFile: cfg, encoding: .utf8) + "\n# a comment\n")
        s = try sync(commented)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.changed, false)
        XCTAssertTrue(try sync(commented).fast)

        // A peer removed from the config: full path, its objects go.
        let onePeer = config(peers: """
            - address: 192.168.0.2
              pods: [10.244.2.0/28]
        """)
        s = try sync(onePeer)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.actionTexts.count, 5, "\(s.r.actionTexts)")
        XCTAssertTrue(try sync(onePeer).fast)

        // xfrm.json changed (here: lost): full path, reqids recovered from the kernel.
        try FileManager.default.removeItem(atPath: stateDir + "/xfrm.json")
        s = try sync(onePeer)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.changed, false)
        XCTAssertTrue(try sync(onePeer).fast)

        // The key changed: every SA is replaced.
        writeKey(String(repeating: "6b", count: 32))
        s = try sync(onePeer)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.actionTexts.filter { $0.hasPrefix("+ state") }.count, 2, "\(s.r.actionTexts)")
        XCTAssertTrue(try sync(onePeer).fast)

        // The key file became unusable: full path, which reports the config error.
        chmod(workDir + "/psk", 0o644)
        s = try sync(onePeer)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.status, 78, s.r.stderr)
        XCTAssertTrue(s.r.stdout.contains("key file is accessible by group or others"), s.r.stdout)
    }

    /// A pods file the orchestrator rewrites: each new content takes the full path.
    func testPodsFileChangeTakesTheFullPath() throws {
        let pods = workDir + "/pods.json"
        try #"{"peers": {"192.168.0.2": ["10.244.2.0/28"]}}"#.write(toFile: pods, atomically: true, encoding: .utf8)
        let cfg = config(peers: """
            - address: 192.168.0.2
        """, extra: "  pods_file: pods.json")
        XCTAssertEqual(try sync(cfg).r.actionTexts.count, 5)
        XCTAssertTrue(try sync(cfg).fast)
        try #"{"peers": {"192.168.0.2": ["10.244.2.0/28", "10.244.2.16/28"]}}"#.write(toFile: pods, atomically: true, encoding: .utf8)
        let s = try sync(cfg)
        XCTAssertFalse(s.fast)
        XCTAssertEqual(s.r.actionTexts.count, 6, "the /27's 3 policies replace the /28's: \(s.r.actionTexts)")
        XCTAssertTrue(try sync(cfg).fast)
        try FileManager.default.removeItem(atPath: pods)
        let gone = try sync(cfg)
        XCTAssertFalse(gone.fast)
        XCTAssertEqual(gone.r.status, 78, gone.r.stderr)
    }

    /// Errors (here a conflict with a foreign policy) never record.
    func testARunWithErrorsRecordsNothing() throws {
        try addForeignOnOurSelector()
        let cfg = config()
        XCTAssertEqual(try sync(cfg).r.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cacheFile))
        let again = try sync(cfg)
        XCTAssertFalse(again.fast)
        XCTAssertEqual(again.r.status, 1, "the conflict is reported on every run")
    }

    /// A rotation in progress: the fast path until its next step is due, then the full path.
    func testRotationStepDueTakesTheFullPath() throws {
        XCTAssertEqual(try sync(config(generation: 1, delay: "1s")).r.status, 0)
        let gen2 = config(generation: 2, delay: "1s")
        let step1 = try sync(gen2)
        XCTAssertEqual(step1.r.actionTexts.count, 2)
        let wait = try sync(gen2)
        XCTAssertTrue(wait.fast, "before the delay: nothing to do")
        XCTAssertEqual(wait.r.changed, false)
        XCTAssertTrue(wait.r.stderr.contains("OUT switches to generation 2 on a sync at least 1s from now"), wait.r.stderr)
        XCTAssertEqual((wait.r.json["rotation"] as? [String: Any])?["out"] as? Int, 1)
        Thread.sleep(forTimeInterval: 1.1)
        let step2 = try sync(gen2)
        XCTAssertFalse(step2.fast)
        XCTAssertEqual(step2.r.actionTexts.map { String($0.prefix(7)) }, ["+ state", "+ state", "- state", "- state"], "\(step2.r.actionTexts)")
        XCTAssertTrue(try sync(gen2).fast)
        Thread.sleep(forTimeInterval: 1.1)
        let step3 = try sync(gen2)
        XCTAssertFalse(step3.fast)
        XCTAssertEqual(step3.r.actionTexts.count, 2)
        XCTAssertFalse(step3.r.stderr.contains("key rotation in progress"))
        let done = try sync(gen2)
        XCTAssertTrue(done.fast)
        XCTAssertEqual((done.r.json["rotation"] as? [String: Any])?["accepting"] as? [Int], [2])
    }

    func testHelpListsTheGroup() throws {
        let r = try ezlb(["--help"])
        XCTAssertTrue(r.stdout.contains("xfrm"), r.stdout)
        let h = try ezlb(["xfrm", "--help"])
        for sub in ["sync", "show", "cleanup"] { XCTAssertTrue(h.stdout.contains(sub)) }
    }
}
