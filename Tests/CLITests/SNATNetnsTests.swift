import Foundation
import XCTest

/// `snat` on the real kernel through libiptc, inside network namespaces this test
/// creates and always deletes (never the host's own tables), with
/// iptables-legacy-save as the independent verifier. Needs root and the
/// iptables-legacy binaries; skipped otherwise.
final class SNATNetnsTests: NetnsCLITestCase {
    override class var netnsPrefix: String { "ezlb-snat" }

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
        XCTAssertTrue(show.stdout.contains("-A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53 -m comment --comment \"ezlb:dns\" -j MASQUERADE\n"), show.stdout)

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
