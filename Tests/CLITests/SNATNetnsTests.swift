import EzlbCore
import EzlbState
import Foundation
import XCTest

/// `snat` on the real kernel through libiptc, inside network namespaces this test
/// creates and always deletes (never the host's own tables), with
/// iptables-legacy-save as the independent verifier. Needs root and the
/// iptables-legacy binaries; skipped otherwise.
final class SNATNetnsTests: NetnsCLITestCase {
    override class var netnsPrefix: String { "ezlb-snat" }

    // These tests are about the iptables backend (SNATNFTNetnsTests covers nftables).
    override func setUpWithError() throws {
        setenv("EZLB_FIREWALL", "iptables", 1)
        try super.setUpWithError()
    }

    override func tearDown() {
        unsetenv("EZLB_FIREWALL")
        super.tearDown()
    }

    override func checkTools() throws {
        for tool in ["/usr/sbin/iptables-legacy-save", "/usr/sbin/ip6tables-legacy-save", "/usr/sbin/iptables-legacy"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("\(tool) missing (apt-get install iptables)") }
        }
    }

    /// iptables-legacy-save of nat and filter without comments and counters (ip6 with six: true).
    func save(six: Bool = false) throws -> String {
        let tool = six ? "ip6tables-legacy-save" : "iptables-legacy-save"
        var out = ""
        for t in ["nat", "filter"] {
            let r = try inNS([tool, "-t", t])
            XCTAssertEqual(r.status, 0, r.stderr)
            out += r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0 + "\n" }.joined()
        }
        return out
    }

    func testMixedConfigAgainstIptablesLegacySave() throws {
        // Other tools' rules and a DROP policy first.
        for cmd in [["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE"],
                    ["iptables-legacy", "-A", "FORWARD", "-s", "10.9.0.0/16", "-j", "ACCEPT"],
                    ["iptables-legacy", "-P", "FORWARD", "DROP"]] {
            XCTAssertEqual(try inNS(cmd).status, 0)
        }
        let cfg = writeConfig(snatConfig)
        let r1 = try ezlbNS(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(r1.json["commits"] as? Int, 4)
        XCTAssertEqual(try save(), expectedSave4)
        XCTAssertEqual(try save(six: true), expectedSave6)

        // Second run: no commit.
        let r2 = try ezlbNS(["snat", "sync", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.json["commits"] as? Int, 0)

        // Flushed by hand: restored, and only the nat table is committed.
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-F", "EZLB-SNAT"]).status, 0)
        let r3 = try ezlbNS(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r3.json["commits"] as? Int, 1, r3.stdout)
        XCTAssertEqual(r3.actionTexts.count, 3)
        XCTAssertEqual(try save(), expectedSave4)

        // A rule inserted above our FORWARD jump: the jump goes back to the top, the foreign rule stays.
        XCTAssertEqual(try inNS(["iptables-legacy", "-I", "FORWARD", "1", "-s", "10.8.0.0/16", "-j", "DROP"]).status, 0)
        XCTAssertEqual(try ezlbNS(["snat", "sync", "-c", cfg]).status, 0)
        XCTAssertTrue(try save().contains("-A FORWARD -j EZLB-FORWARD\n-A FORWARD -s 10.8.0.0/16 -j DROP\n-A FORWARD -s 10.9.0.0/16 -j ACCEPT\n"))
        XCTAssertEqual(try inNS(["iptables-legacy", "-D", "FORWARD", "-s", "10.8.0.0/16", "-j", "DROP"]).status, 0)

        // show matches the kernel.
        let show = try ezlbNS(["snat", "show"])
        XCTAssertTrue(show.stdout.contains("-A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment \"ezlb:dns\" -j MASQUERADE\n"), show.stdout)

        // cleanup: nothing of ezlb, foreign rules byte for byte.
        let r4 = try ezlbNS(["snat", "cleanup", "-o", "json"])
        XCTAssertEqual(r4.status, 0, r4.stderr)
        XCTAssertEqual(try save(), """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -s 10.9.0.0/16 -j ACCEPT
        COMMIT

        """)
        XCTAssertFalse(try save(six: true).contains("EZLB"))
        XCTAssertEqual(try ezlbNS(["snat", "cleanup", "-o", "json"]).changed, false)
    }

    func testForeignRuleInOurChainIsRemovedAndStaleRulesGo() throws {
        let cfg = writeConfig(snatConfig)
        // Another tool's rule with live counters: kept, counters included, across our commits.
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.7.0.0/16", "-j", "MASQUERADE", "-c", "5", "100"]).status, 0)
        XCTAssertEqual(try ezlbNS(["snat", "sync", "-c", cfg]).status, 0)
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-A", "EZLB-SNAT", "-o", "eth0", "-j", "MASQUERADE"]).status, 0)
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-j", "EZLB-SNAT"]).status, 0)
        let r = try ezlbNS(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.actionTexts.contains("- ip4 -t nat -D POSTROUTING -j EZLB-SNAT"), "\(r.actionTexts)")
        XCTAssertEqual(r.actionTexts.count, 2, "\(r.actionTexts)")
        let s = try save()
        XCTAssertFalse(s.contains("-o eth0"))
        XCTAssertEqual(s.components(separatedBy: "-A POSTROUTING -j EZLB-SNAT").count, 2, "exactly one jump")
        let counted = try inNS(["iptables-legacy-save", "-c", "-t", "nat"]).stdout
        XCTAssertTrue(counted.contains("[5:100] -A POSTROUTING -s 10.7.0.0/16 -j MASQUERADE\n"), counted)
        XCTAssertEqual(try ezlbNS(["snat", "cleanup"]).status, 0)
        XCTAssertTrue(try inNS(["iptables-legacy-save", "-c", "-t", "nat"]).stdout.contains("[5:100] -A POSTROUTING -s 10.7.0.0/16 -j MASQUERADE\n"))
    }

    // MARK: the converged fast path (snat.converged)

    /// `snat sync -o json -vv` in the namespace, and whether it ended on the fast path
    /// (the kernel's tables as the last sync left them) or took the full one.
    func sync(_ cfg: String, file: StaticString = #filePath, line: UInt = #line) throws -> (r: CLIResult, fast: Bool) {
        let r = try ezlbNS(["snat", "sync", "-c", cfg, "-o", "json", "-vv"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return (r, r.stderr.contains("converged: snat.converged matches the kernel and the inputs"))
    }

    /// Other tools' rules and a DROP policy (the ones expectedSave4 lists), then a first sync.
    func convergedWithForeignRules() throws -> String {
        for cmd in [["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE"],
                    ["iptables-legacy", "-A", "FORWARD", "-s", "10.9.0.0/16", "-j", "ACCEPT"],
                    ["iptables-legacy", "-P", "FORWARD", "DROP"]] {
            XCTAssertEqual(try inNS(cmd).status, 0)
        }
        let cfg = writeConfig(snatConfig)
        let (r, fast) = try sync(cfg)
        XCTAssertFalse(fast)
        XCTAssertEqual(r.json["commits"] as? Int, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir + "/snat.converged"))
        return cfg
    }

    func assertConvergedFast(_ cfg: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (r, fast) = try sync(cfg, file: file, line: line)
        XCTAssertTrue(fast, "\(what): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.changed, false, "\(what)", file: file, line: line)
        XCTAssertEqual(r.json["commits"] as? Int, 0, "\(what)", file: file, line: line)
        XCTAssertEqual(r.actionTexts, [], "\(what)", file: file, line: line)
    }

    func testFastPathRepairsEveryHandEdit() throws {
        let cfg = try convergedWithForeignRules()
        // The first run after the commit already knows the tables (digest of what was committed).
        try assertConvergedFast(cfg, "after the first sync")
        XCTAssertEqual(try save(), expectedSave4)
        XCTAssertEqual(try save(six: true), expectedSave6)

        let ct = ["-m", "conntrack", "--ctproto", "6", "--ctorigdst", "10.0.0.1", "--ctorigdstport", "80"]
        let web10 = ["-d", "192.168.1.10/32", "-p", "tcp", "-m", "tcp", "--dport", "8080"] + ct + ["-m", "comment", "--comment", "ezlb:web"]
        let fwd10 = ["-s", "192.168.1.10/32", "-p", "tcp", "-m", "tcp", "--sport", "8080"] + ct + ["-m", "comment"]
        let edits: [(String, [[String]], Int)] = [
            ("a rule replaced (other target)", [["iptables-legacy", "-t", "nat", "-R", "EZLB-SNAT", "1"] + web10 + ["-j", "MASQUERADE"]], 1),
            ("a rule replaced (other SNAT address)", [["iptables-legacy", "-t", "nat", "-R", "EZLB-SNAT", "1"] + web10 + ["-j", "SNAT", "--to-source", "10.0.0.4"]], 1),
            ("a comment changed", [["iptables-legacy", "-R", "EZLB-FORWARD", "2"] + fwd10 + ["--comment", "ezlb:other", "-j", "ACCEPT"]], 1),
            ("the nat chain flushed", [["iptables-legacy", "-t", "nat", "-F", "EZLB-SNAT"]], 1),
            ("the FORWARD jump deleted", [["iptables-legacy", "-D", "FORWARD", "-j", "EZLB-FORWARD"]], 1),
            ("the POSTROUTING jump deleted", [["iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-j", "EZLB-SNAT"]], 1),
            ("a second POSTROUTING jump", [["iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-j", "EZLB-SNAT"]], 1),
            ("a foreign rule in our chain", [["iptables-legacy", "-A", "EZLB-FORWARD", "-s", "10.6.0.0/16", "-j", "ACCEPT"]], 1),
            ("two rules swapped", [["iptables-legacy", "-t", "nat", "-D", "EZLB-SNAT", "1"],
                                   ["iptables-legacy", "-t", "nat", "-A", "EZLB-SNAT"] + web10 + ["-j", "SNAT", "--to-source", "10.0.0.3"]], 1),
            ("the nat chain removed", [["iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-j", "EZLB-SNAT"],
                                       ["iptables-legacy", "-t", "nat", "-F", "EZLB-SNAT"], ["iptables-legacy", "-t", "nat", "-X", "EZLB-SNAT"]], 1),
            ("ip6: the nat chain flushed", [["ip6tables-legacy", "-t", "nat", "-F", "EZLB-SNAT"]], 1),
            ("ip6: the FORWARD jump deleted", [["ip6tables-legacy", "-D", "FORWARD", "-j", "EZLB-FORWARD"]], 1),
            ("ip6: a comment changed", [["ip6tables-legacy", "-R", "EZLB-FORWARD", "2", "-s", "2001:db8:1::10/128", "-p", "tcp", "-m", "tcp",
                                         "--sport", "8443", "-m", "conntrack", "--ctproto", "6", "--ctorigdst", "2001:db8::1", "--ctorigdstport", "443",
                                         "-m", "comment", "--comment", "ezlb:web7", "-j", "ACCEPT"]], 1),
        ]
        for (what, cmds, commits) in edits {
            for c in cmds { XCTAssertEqual(try inNS(c).status, 0, "\(what): \(c)") }
            let (r, fast) = try sync(cfg)
            XCTAssertFalse(fast, "\(what) went unseen: \(r.stderr)")
            XCTAssertEqual(r.changed, true, what)
            XCTAssertEqual(r.json["commits"] as? Int, commits, "\(what): \(r.actionTexts)")
            XCTAssertEqual(try save(), expectedSave4, what)
            XCTAssertEqual(try save(six: true), expectedSave6, what)
            try assertConvergedFast(cfg, "after repairing \(what)")
        }

        // A foreign rule above our FORWARD jump: the jump goes back to the top, the rule stays.
        XCTAssertEqual(try inNS(["iptables-legacy", "-I", "FORWARD", "1", "-s", "10.8.0.0/16", "-j", "DROP"]).status, 0)
        let (r1, fast1) = try sync(cfg)
        XCTAssertFalse(fast1)
        XCTAssertEqual(r1.actionTexts, ["- ip4 -t filter -D FORWARD -j EZLB-FORWARD", "+ ip4 -t filter -I FORWARD 1 -j EZLB-FORWARD"])
        XCTAssertTrue(try save().contains("-A FORWARD -j EZLB-FORWARD\n-A FORWARD -s 10.8.0.0/16 -j DROP\n-A FORWARD -s 10.9.0.0/16 -j ACCEPT\n"))
        try assertConvergedFast(cfg, "with a foreign rule below the jump")
        // Foreign rules below our jump, in chains we do not own, or moved ahead of an
        // `.append` jump change nothing ezlb cares about: no commit (the last one is
        // verified on the full path once, then known).
        XCTAssertEqual(try inNS(["iptables-legacy", "-D", "FORWARD", "-s", "10.8.0.0/16", "-j", "DROP"]).status, 0)
        try assertConvergedFast(cfg, "foreign rule below the jump deleted")
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-A", "PREROUTING", "-s", "10.5.0.0/16", "-j", "RETURN"]).status, 0)
        try assertConvergedFast(cfg, "a rule in another chain")
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-I", "POSTROUTING", "1", "-s", "10.4.0.0/16", "-j", "RETURN"]).status, 0)
        let (r2, fast2) = try sync(cfg)
        XCTAssertFalse(fast2, "the POSTROUTING jump moved: verified on the full path")
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.json["commits"] as? Int, 0)
        try assertConvergedFast(cfg, "after verifying the moved POSTROUTING jump")

        // The same table written by another tool (save, flush, restore): same rules, same digest.
        let saved = try inNS(["iptables-legacy-save"]).stdout
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-F", "EZLB-SNAT"]).status, 0)
        let restore = Process()
        restore.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        restore.arguments = ["netns", "exec", netns, "iptables-legacy-restore"]
        let input = Pipe()
        restore.standardInput = input
        try restore.run()
        input.fileHandleForWriting.write(Data(saved.utf8))
        try input.fileHandleForWriting.close()
        restore.waitUntilExit()
        XCTAssertEqual(restore.terminationStatus, 0)
        try assertConvergedFast(cfg, "after iptables-legacy-restore of the same rules")

        // cleanup removes everything; the next sync takes the full path (ownership changed) and rebuilds.
        XCTAssertEqual(try ezlbNS(["snat", "cleanup"]).status, 0)
        let (r3, fast3) = try sync(cfg)
        XCTAssertFalse(fast3)
        XCTAssertEqual(r3.json["commits"] as? Int, 4)
        try assertConvergedFast(cfg, "after cleanup and sync")
    }

    func testCountersDoNotCount() throws {
        let cfg = try convergedWithForeignRules()
        // Traffic through EZLB-SNAT: a UDP packet to the dns backend leaves through POSTROUTING.
        // (POSTROUTING comes before neighbour resolution: nobody needs to answer.)
        for cmd in [["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
                    ["ip", "addr", "add", "192.168.1.1/24", "dev", "v0"], ["ip", "link", "set", "v0", "up"], ["ip", "link", "set", "v1", "up"],
                    ["python3", "-c", "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('192.168.1.20', 53))"]] {
            let r = try inNS(cmd)
            XCTAssertEqual(r.status, 0, "\(cmd): \(r.stderr)")
        }
        // Without iptables-save's "# Generated/Completed on <time>" lines (a second may pass).
        let counted = { try self.inNS(["iptables-legacy-save", "-c", "-t", "nat"]).stdout
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n") }
        let before = try counted()
        // It went through EZLB-SNAT but was not masqueraded: it was not addressed to the VIP.
        XCTAssertTrue(before.contains("[1:29] -A POSTROUTING -j EZLB-SNAT"), before)
        XCTAssertTrue(before.contains("[0:0] -A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53"), before)
        try assertConvergedFast(cfg, "after traffic")
        XCTAssertEqual(try counted(), before, "counters kept: nothing was committed")
        // Counters zeroed, and set by replacing a rule with itself plus counters (a new table blob).
        XCTAssertEqual(try inNS(["iptables-legacy", "-Z"]).status, 0)
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-Z"]).status, 0)
        XCTAssertEqual(try inNS(["ip6tables-legacy", "-t", "nat", "-Z"]).status, 0)
        try assertConvergedFast(cfg, "after -Z")
        XCTAssertEqual(try inNS(["iptables-legacy", "-t", "nat", "-R", "EZLB-SNAT", "1", "-d", "192.168.1.10/32", "-p", "tcp", "-m", "tcp",
                                 "--dport", "8080", "-m", "conntrack", "--ctproto", "6", "--ctorigdst", "10.0.0.1", "--ctorigdstport", "80",
                                 "-m", "comment", "--comment", "ezlb:web", "-j", "SNAT", "--to-source", "10.0.0.3",
                                 "-c", "7", "700"]).status, 0)
        try assertConvergedFast(cfg, "after a replace that only set counters")
        XCTAssertTrue(try counted().contains("[7:700] -A EZLB-SNAT -d 192.168.1.10/32"))
    }

    func testCacheThatDoesNotMatchTakesTheFullPath() throws {
        let cfg = try convergedWithForeignRules()
        let cachePath = stateDir + "/snat.converged"
        let good = try XCTUnwrap(FileManager.default.contents(atPath: cachePath))
        // Corrupted, truncated, empty, another file's bytes: a miss; the full path verifies and records again.
        for bad in [Data(repeating: 0x41, count: good.count), good.prefix(good.count / 2), Data(),
                    try XCTUnwrap(FileManager.default.contents(atPath: stateDir + "/snat.json"))] {
            try bad.write(to: URL(fileURLWithPath: cachePath))
            let (r, fast) = try sync(cfg)
            XCTAssertFalse(fast)
            XCTAssertEqual(r.changed, false)
            XCTAssertEqual(r.json["commits"] as? Int, 0)
            XCTAssertEqual(FileManager.default.contents(atPath: cachePath), good, "recorded again, the same")
            try assertConvergedFast(cfg, "after a bad cache")
        }
        // A digest that is not the kernel's: the full path.
        var flipped = [UInt8](good)
        flipped[flipped.count - 1] ^= 0x01
        try Data(flipped).write(to: URL(fileURLWithPath: cachePath))
        XCTAssertFalse(try sync(cfg).fast)
        try assertConvergedFast(cfg, "after a wrong digest")

        // Another config's cache: its key does not match.
        let smaller = writeConfig(snatConfig.replacingOccurrences(of: "      - {address: \"192.168.1.11:8080\"}\n", with: ""), name: "smaller.yaml")
        let (r1, fast1) = try sync(smaller)
        XCTAssertFalse(fast1)
        XCTAssertEqual(r1.json["commits"] as? Int, 2)
        try good.write(to: URL(fileURLWithPath: cachePath))
        let (r2, fast2) = try sync(smaller)
        XCTAssertFalse(fast2, "a cache recorded for the other config")
        XCTAssertEqual(r2.changed, false)
        // The first config's cache is right for its key, but the kernel holds the smaller config: repaired.
        let (r3, fast3) = try sync(cfg)
        XCTAssertFalse(fast3)
        XCTAssertEqual(r3.json["commits"] as? Int, 2)
        XCTAssertEqual(try save(), expectedSave4)
        try assertConvergedFast(cfg, "back to the first config")

        // Ownership lost: the full path (takes the chains over, writes snat.json), then fast again.
        XCTAssertEqual(unlink(stateDir + "/snat.json"), 0)
        let (r4, fast4) = try sync(cfg)
        XCTAssertFalse(fast4)
        XCTAssertEqual(r4.changed, false)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir + "/snat.json"))
        try assertConvergedFast(cfg, "after ownership was recorded again")

        // Health: a backend `ipvs apply` found unhealthy loses its rules; the same inputs stay fast.
        let web11 = try Endpoint.parse("192.168.1.11:8080", portOptional: false).get()
        try StateDirectory(path: stateDir).store(HealthStateFile(HealthTable(records: [
            HealthKey(service: "web", backend: web11): BackendHealth(service: "web", backend: web11, healthy: false, failures: 3),
        ])))
        let (r5, fast5) = try sync(cfg)
        XCTAssertFalse(fast5)
        XCTAssertEqual(r5.json["commits"] as? Int, 2)
        XCTAssertFalse(try save().contains("192.168.1.11"))
        try assertConvergedFast(cfg, "with the unhealthy backend")
        XCTAssertEqual(unlink(stateDir + "/health.json"), 0)
        let (r6, fast6) = try sync(cfg)
        XCTAssertFalse(fast6)
        XCTAssertEqual(r6.json["commits"] as? Int, 2)
        XCTAssertEqual(try save(), expectedSave4)

        // --dry-run: reads, never records.
        XCTAssertEqual(unlink(cachePath), 0)
        let dry = try ezlbNS(["snat", "sync", "-c", cfg, "--dry-run", "-o", "json"])
        XCTAssertEqual(dry.changed, false)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cachePath))
    }

    func testXtablesLockIsHonoured() throws {
        let cfg = writeConfig(snatConfig)
        let lockPath = workDir + "/xtables.lock"
        let lock = try FileLockHolder(path: lockPath)
        let p = makeProcess(["netns", "exec", netns, Self.binary.path, "snat", "sync", "-c", cfg, "--backend", "kernel", "--state-dir", stateDir],
                            env: ["XTABLES_LOCKFILE": lockPath, "EZLB_LOCK_TIMEOUT": "1"])
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 75, e)
        XCTAssertTrue(e.contains("xtables lock"), e)
        XCTAssertFalse(try save().contains("EZLB"), "nothing written without the lock")
        withExtendedLifetime(lock) {}
    }

    func testFastPathWaitsForTheXtablesLock() throws {
        let cfg = writeConfig(snatConfig)
        let lockPath = workDir + "/xtables.lock"
        let env = ["XTABLES_LOCKFILE": lockPath, "EZLB_LOCK_TIMEOUT": "1"]
        func run() throws -> CLIResult {
            try command(["ip", "netns", "exec", netns, Self.binary.path, "snat", "sync", "-c", cfg, "--backend", "kernel",
                         "--state-dir", stateDir, "-vv"], env: env)
        }
        XCTAssertEqual(try run().status, 0)
        XCTAssertTrue(try run().stderr.contains("converged: snat.converged matches the kernel and the inputs"))
        // Another iptables holds the lock: even a converged run waits for it and gives up.
        let lock = try FileLockHolder(path: lockPath)
        let r = try run()
        XCTAssertEqual(r.status, 75, r.stderr)
        XCTAssertTrue(r.stderr.contains("xtables lock"), r.stderr)
        XCTAssertFalse(r.stderr.contains("converged: snat.converged"), "the tables are read only under the lock")
        withExtendedLifetime(lock) {}
    }
}

/// Holds an flock like `iptables -w` does while it runs.
final class FileLockHolder {
    let fd: Int32
    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else { throw NSError(domain: "lock", code: Int(errno)) }
    }
    deinit { close(fd) }
}
