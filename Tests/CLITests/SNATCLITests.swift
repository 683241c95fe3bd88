import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

let snatConfig = """
services:
  - name: web
    listen: 10.0.0.1:80
    full_nat: true
    snat_ip: 10.0.0.3
    backends:
      - {address: "192.168.1.10:8080"}
      - {address: "192.168.1.11:8080"}
  - name: dns
    listen: 10.0.0.1:53
    protocol: udp
    full_nat: true
    backends:
      - {address: "192.168.1.20:53"}
  - name: plain
    listen: 10.0.0.2:80
    backends:
      - {address: "192.168.1.30:80"}
  - name: web6
    listen: "[2001:db8::1]:443"
    full_nat: true
    snat_ip: "2001:db8::3"
    backends:
      - {address: "[2001:db8:1::10]:8443"}
"""

/// The managed rules of the mixed config, as iptables-legacy-save prints them (per family).
let expectedSave4 = """
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:EZLB-SNAT - [0:0]
-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE
-A POSTROUTING -j EZLB-SNAT
-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.3
-A EZLB-SNAT -d 192.168.1.11/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j SNAT --to-source 10.0.0.3
-A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment "ezlb:dns" -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:EZLB-FORWARD - [0:0]
-A FORWARD -j EZLB-FORWARD
-A FORWARD -s 10.9.0.0/16 -j ACCEPT
-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT
-A EZLB-FORWARD -s 192.168.1.10/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT
-A EZLB-FORWARD -s 192.168.1.11/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment "ezlb:web" -j ACCEPT
-A EZLB-FORWARD -s 192.168.1.20/32 -p udp -m udp --sport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment "ezlb:dns" -j ACCEPT
COMMIT

"""

let expectedSave6 = """
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:EZLB-SNAT - [0:0]
-A POSTROUTING -j EZLB-SNAT
-A EZLB-SNAT -d 2001:db8:1::10/128 -p tcp -m tcp --dport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j SNAT --to-source 2001:db8::3
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:EZLB-FORWARD - [0:0]
-A FORWARD -j EZLB-FORWARD
-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT
-A EZLB-FORWARD -s 2001:db8:1::10/128 -p tcp -m tcp --sport 8443 -m conntrack --ctproto 6 --ctorigdst 2001:db8::1 --ctorigdstport 443 -m comment --comment "ezlb:web6" -j ACCEPT
COMMIT

"""

/// `snat` and `doctor` on the fake kernel (no root).
final class SNATCLITests: CLITestCase {
    let nat4 = XTTableRef(.ipv4, .nat), filter4 = XTTableRef(.ipv4, .filter)
    let nat6 = XTTableRef(.ipv6, .nat), filter6 = XTTableRef(.ipv6, .filter)
    let foreignNat = XTRule(source: XTPrefix(IPAddress("10.9.0.0")!, length: 16), target: .masquerade)
    let foreignFwd = XTRule(source: XTPrefix(IPAddress("10.9.0.0")!, length: 16), target: .accept)

    /// Edits the fake kernel's iptables directly, as iptables would edit the real one.
    func withFakeXT(_ body: (inout FakeXTables) throws -> Void) throws {
        let k = try FakeKernel(dir: StateDirectory(path: stateDir))
        try body(&k.model.iptables)
        k.markDirty()
        try k.save()
    }

    func fakeXT() throws -> FakeXTables {
        var x = FakeXTables()
        try withFakeXT { x = $0 }
        return x
    }

    /// Foreign rules of other tools, and a DROP policy, before ezlb runs.
    func seedForeign() throws {
        try withFakeXT { x in
            var n = x.table(nat4)
            n.chains[3].rules = [foreignNat]
            x.setTable(n)
            var f = x.table(filter4)
            f.chains[1].policy = "DROP"
            f.chains[1].rules = [foreignFwd]
            x.setTable(f)
        }
    }

    func testSyncResyncRestoreCleanup() throws {
        try seedForeign()
        let cfg = writeConfig(snatConfig)
        let r1 = try ezlb(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(r1.changed, true)
        XCTAssertEqual(r1.json["commits"] as? Int, 4)
        XCTAssertEqual(r1.actionTexts.count, 18)
        XCTAssertEqual(r1.actionTexts.first, "+ ip4 -t nat -N EZLB-SNAT")
        XCTAssertTrue(r1.actionTexts.contains("+ ip4 -t filter -I FORWARD 1 -j EZLB-FORWARD"))
        var x = try fakeXT()
        XCTAssertEqual(x.table(nat4).save + x.table(filter4).save, expectedSave4)
        XCTAssertEqual(x.table(nat6).save + x.table(filter6).save, expectedSave6)
        XCTAssertEqual(x.commits, 4)

        // Converged: no commit, no write at all.
        let before = stateSnapshot()
        let r2 = try ezlb(["snat", "sync", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r2.status, 0)
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.json["commits"] as? Int, 0)
        XCTAssertEqual(stateSnapshot(), before)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).stdout, "no changes\n")

        // Someone flushes EZLB-SNAT and deletes the FORWARD jump: restored, one commit per table touched.
        try withFakeXT { x in
            var n = x.table(nat4)
            n.chains[n.chains.firstIndex { $0.name == "EZLB-SNAT" }!].rules = []
            x.setTable(n)
            var f = x.table(filter4)
            f.chains[1].rules.removeFirst()
            x.setTable(f)
        }
        let r3 = try ezlb(["snat", "sync", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r3.status, 2)
        XCTAssertEqual(r3.json["commits"] as? Int, 2)
        XCTAssertEqual(r3.actionTexts.count, 4)
        x = try fakeXT()
        XCTAssertEqual(x.table(nat4).save + x.table(filter4).save, expectedSave4)

        // Edit: drop a backend and the IPv6 service.
        let edited = writeConfig(snatConfig.replacingOccurrences(of: "      - {address: \"192.168.1.11:8080\"}\n", with: "")
            .components(separatedBy: "  - name: web6")[0], name: "edited.yaml")
        let r4 = try ezlb(["snat", "sync", "-c", edited, "-o", "json"])
        XCTAssertEqual(r4.status, 0, r4.stderr)
        XCTAssertEqual(Set(r4.actionTexts.filter { $0.hasPrefix("-") && $0.contains("192.168.1.11") }).count, 2)
        x = try fakeXT()
        XCTAssertNil(x.table(nat6).chains.first { $0.name == "EZLB-SNAT" })
        XCTAssertEqual(x.table(nat6).chains.flatMap(\.rules), [])

        // show: iptables-save syntax and JSON.
        let show = try ezlb(["snat", "show"])
        XCTAssertEqual(show.status, 0)
        XCTAssertTrue(show.stdout.contains("*nat\n:EZLB-SNAT - [0:0]\n-A POSTROUTING -j EZLB-SNAT\n-A EZLB-SNAT -d 192.168.1.10/32"), show.stdout)
        XCTAssertFalse(show.stdout.contains("10.9.0.0"), "show lists ezlb's rules only")
        let showJSON = try ezlb(["snat", "show", "-o", "json"])
        XCTAssertEqual(showJSON.json["rule_count"] as? Int, 5)

        // cleanup: nothing of ezlb left, foreign rules byte for byte.
        let r5 = try ezlb(["snat", "cleanup", "-o", "json"])
        XCTAssertEqual(r5.status, 0, r5.stderr)
        XCTAssertEqual(r5.changed, true)
        x = try fakeXT()
        XCTAssertEqual(x.table(nat4).chains.flatMap(\.rules), [foreignNat])
        XCTAssertEqual(x.table(filter4).chains.flatMap(\.rules), [foreignFwd])
        XCTAssertEqual(x.table(filter4).chains.map(\.name), ["INPUT", "FORWARD", "OUTPUT"])
        XCTAssertEqual(try ezlb(["snat", "cleanup", "-o", "json"]).changed, false)
        XCTAssertEqual(try ezlb(["snat", "show"]).stdout, "")
    }

    /// The text and JSON reports of a sync (rendered ahead on another thread) say the same
    /// thing, line for line, as each other and as a dry run of the same change.
    func testTextAndJSONReportsAgree() throws {
        let cfg = writeConfig(snatConfig)
        let dry = try ezlb(["snat", "sync", "-c", cfg, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let text = try ezlb(["snat", "sync", "-c", cfg])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(try ezlb(["snat", "cleanup"]).status, 0)
        let json = try ezlb(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        var lines = text.stdout.split(separator: "\n").map(String.init)
        let summary = lines.removeLast()
        XCTAssertEqual(lines, json.actionTexts)
        XCTAssertEqual(summary, "applied: \(lines.count) added, 0 deleted")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("+ ") })
        XCTAssertEqual(dry.stdout.split(separator: "\n").map(String.init), lines + ["plan: \(lines.count) to add, 0 to delete"])
        XCTAssertEqual(json.json["commits"] as? Int, 4)
    }

    /// A table whose commit fails (another tool jumps into EZLB-SNAT, so cleanup cannot
    /// delete it) reports its actions not done, with the error, while the other tables'
    /// actions are done; text and JSON say the same (the report made ahead of time for
    /// the all-committed case is not the one printed).
    func testFailedCommitIsReportedPerTable() throws {
        let cfg = writeConfig(snatConfig)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        try withFakeXT { x in
            var n = x.table(nat4)
            n.chains[n.chains.firstIndex { $0.name == "OUTPUT" }!].rules.append(.jump(to: "EZLB-SNAT"))
            x.setTable(n)
        }
        let r = try ezlb(["snat", "cleanup", "-o", "json"])
        XCTAssertEqual(r.status, 1, r.stdout)
        let actions = (r.json["actions"] as? [[String: Any]]) ?? []
        let failed = actions.filter { $0["done"] as? Bool == false }
        XCTAssertFalse(failed.isEmpty)
        XCTAssertTrue(failed.allSatisfy { $0["table"] as? String == "nat" && $0["family"] as? String == "ipv4" })
        XCTAssertTrue(failed.allSatisfy { ($0["error"] as? String)?.contains("still referenced") == true }, "\(failed)")
        XCTAssertTrue(actions.filter { $0["table"] as? String == "filter" }.allSatisfy { $0["done"] as? Bool == true && $0["error"] == nil })
        XCTAssertEqual(r.json["commits"] as? Int, 3)
        // Again in text: the failed lines marked, the errors on stderr, the summary counts them.
        let t = try ezlb(["snat", "cleanup"])
        XCTAssertEqual(t.status, 1)
        let lines = t.stdout.split(separator: "\n")
        XCTAssertTrue(lines.contains("! - ip4 -t nat -X EZLB-SNAT"), t.stdout)
        XCTAssertTrue(t.stderr.contains("ezlb: error: ip4 -t nat -X EZLB-SNAT: chain is still referenced"), t.stderr)
        XCTAssertTrue(lines.last?.hasPrefix("applied: 0 added, 0 deleted, ") == true && lines.last?.hasSuffix(" failed") == true, t.stdout)
    }

    /// Each table's actions go to stdout as soon as its commit succeeds (while the next
    /// table is committed); a later table that fails is reported after them in the same
    /// one JSON object or text, exactly as when nothing was streamed.
    func testStreamedTablesThenAFailure() throws {
        let cfg = writeConfig(snatConfig)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        let foreignJump = { (x: inout FakeXTables) in
            var f = x.table(self.filter4)
            f.chains[f.chains.firstIndex { $0.name == "INPUT" }!].rules.append(.jump(to: "EZLB-FORWARD"))
            x.setTable(f)
        }
        try withFakeXT(foreignJump)
        let r = try ezlb(["snat", "cleanup", "-o", "json"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertEqual(r.stdout.filter { $0 == "\n" }.count, 1, "one JSON object: \(r.stdout)")
        let actions = (r.json["actions"] as? [[String: Any]]) ?? []
        let tables = actions.map { "\($0["family"] as? String ?? "?")/\($0["table"] as? String ?? "?")" }
        XCTAssertEqual(tables.first, "ipv4/nat", "\(tables)")
        XCTAssertTrue(actions.filter { $0["table"] as? String == "nat" && $0["family"] as? String == "ipv4" }
            .allSatisfy { $0["done"] as? Bool == true && $0["error"] == nil }, "\(actions)")
        let failed = actions.filter { $0["done"] as? Bool == false }
        XCTAssertFalse(failed.isEmpty)
        XCTAssertTrue(failed.allSatisfy { $0["table"] as? String == "filter" && ($0["error"] as? String)?.contains("still referenced") == true }, "\(failed)")
        XCTAssertEqual(r.json["changed"] as? Bool, true)
        // A failed run is failed in `errors` too (it used to be [] with every action refused).
        let errors = r.json["errors"] as? [String] ?? []
        XCTAssertFalse(errors.isEmpty)
        XCTAssertLessThanOrEqual(errors.count, failed.count, "one entry per distinct error: \(errors)")
        XCTAssertTrue(errors.allSatisfy { $0.contains("still referenced") }, "\(errors)")

        // The same in text, from the same starting point.
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        try withFakeXT { x in
            var f = x.table(self.filter4)
            f.chains[f.chains.firstIndex { $0.name == "INPUT" }!].rules.removeAll { $0 == .jump(to: "EZLB-FORWARD") }
            x.setTable(f)
        }
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        try withFakeXT(foreignJump)
        let t = try ezlb(["snat", "cleanup"])
        XCTAssertEqual(t.status, 1)
        let lines = t.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, actions.count + 1, t.stdout) // every action, then the summary
        XCTAssertTrue(lines[0].hasPrefix("- ip4 -t nat "), t.stdout)
        XCTAssertTrue(lines.contains("! - ip4 -t filter -X EZLB-FORWARD"), t.stdout)
        XCTAssertTrue(lines.last?.hasPrefix("applied: 0 added, ") == true && lines.last?.hasSuffix(" failed") == true, t.stdout)
    }

    /// The converged fast path on the fake kernel (it digests its tables like the kernel
    /// backend): taken while inputs and tables are as the last sync left them, with the
    /// same warnings; any edit of the config or the tables takes the full path.
    func testConvergedFastPath() throws {
        let hit = "converged: snat.converged matches the kernel and the inputs"
        let cfg = writeConfig(snatConfig + "\ntypo_key: 1\n")
        let dry = try ezlb(["snat", "sync", "-c", cfg, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDir + "/snat.converged"), "a dry run records nothing")
        let r1 = try ezlb(["snat", "sync", "-c", cfg, "-vv"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertFalse(r1.stderr.contains(hit), r1.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stateDir + "/snat.converged"))
        let r2 = try ezlb(["snat", "sync", "-c", cfg, "-vv", "-o", "json"])
        XCTAssertTrue(r2.stderr.contains(hit), r2.stderr)
        XCTAssertTrue(r2.stderr.contains("typo_key: unknown key, ignored"), "warnings survive the fast path: \(r2.stderr)")
        XCTAssertEqual(r2.changed, false)

        // A flushed chain: not as recorded, restored by the full path.
        try withFakeXT { x in
            var n = x.table(nat4)
            n.chains[n.chains.firstIndex { $0.name == "EZLB-SNAT" }!].rules = []
            x.setTable(n)
        }
        let r3 = try ezlb(["snat", "sync", "-c", cfg, "-vv", "-o", "json"])
        XCTAssertFalse(r3.stderr.contains(hit), r3.stderr)
        XCTAssertEqual(r3.actionTexts.count, 3, r3.stdout)
        XCTAssertEqual(try fakeXT().table(nat4).chains.first { $0.name == "EZLB-SNAT" }?.rules.count, 3)
        XCTAssertTrue(try ezlb(["snat", "sync", "-c", cfg, "-vv"]).stderr.contains(hit))

        // An edit of the same size is seen at once.
        try (snatConfig + "\ntypo_key: 1\n").replacingOccurrences(of: "192.168.1.11:8080", with: "192.168.1.12:8080")
            .write(toFile: cfg, atomically: false, encoding: .utf8)
        let r4 = try ezlb(["snat", "sync", "-c", cfg, "-vv", "-o", "json"])
        XCTAssertFalse(r4.stderr.contains(hit), r4.stderr)
        XCTAssertTrue(r4.actionTexts.contains { $0.hasPrefix("+") && $0.contains("192.168.1.12") }, r4.stdout)
        XCTAssertTrue(r4.actionTexts.contains { $0.hasPrefix("-") && $0.contains("192.168.1.11") }, r4.stdout)

        // A corrupted cache is just a miss.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: stateDir + "/snat.converged"))
        let r5 = try ezlb(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r5.status, 0, r5.stderr)
        XCTAssertEqual(r5.changed, false)
    }

    func testDryRunChangesNothing() throws {
        let cfg = writeConfig(snatConfig)
        let before = stateSnapshot()
        let r = try ezlb(["snat", "sync", "-c", cfg, "--dry-run", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.changed, true)
        XCTAssertEqual(r.json["dry_run"] as? Bool, true)
        XCTAssertEqual((r.json["actions"] as? [[String: Any]])?.first?["done"] as? Bool, false)
        XCTAssertEqual(stateSnapshot(), before)
        let text = try ezlb(["snat", "sync", "-c", cfg, "--dry-run"])
        XCTAssertTrue(text.stdout.hasSuffix("plan: 18 to add, 0 to delete\n"), text.stdout)
    }

    func testStateLossTakesChainsOverAndFullNATRemoval() throws {
        let cfg = writeConfig(snatConfig)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        // snat.json lost: sync still converges without duplicates, cleanup still finds the chains.
        try FileManager.default.removeItem(atPath: stateDir + "/snat.json")
        let r = try ezlb(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.changed, false)
        try FileManager.default.removeItem(atPath: stateDir + "/snat.json")
        XCTAssertEqual(try ezlb(["snat", "cleanup", "-o", "json"]).actionTexts.filter { $0.contains("-X") }.count, 4)

        // No full_nat service: nothing created, tables untouched.
        let none = writeConfig(baseConfig, name: "none.yaml")
        let r2 = try ezlb(["snat", "sync", "-c", none, "-o", "json"])
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.json["commits"] as? Int, 0)
    }

    func testBadInputs() throws {
        let good = writeConfig(snatConfig, name: "good.yaml")
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", good]).status, 0)
        let svc = "services:\n  - name: a\n    listen: 10.0.0.1:80\n"
        struct Case { var name: String; var args: [String]; var env: [String: String] = [:]; var status: Int32; var mentions: [String]; var prepare: (() throws -> Void)? = nil }
        let cases: [Case] = [
            Case(name: "snat_ip not an IP", args: ["snat", "sync", "-c", writeConfig(svc + "    full_nat: true\n    snat_ip: 10.0.0.999\n", name: "b1.yaml")], status: 78, mentions: ["services[0].snat_ip", "10.0.0.999"]),
            Case(name: "snat_ip other family", args: ["snat", "sync", "-c", writeConfig(svc + "    full_nat: true\n    snat_ip: '2001:db8::1'\n", name: "b2.yaml")], status: 78, mentions: ["services[0].snat_ip", "ipv4"]),
            Case(name: "snat_ip without full_nat", args: ["snat", "sync", "-c", writeConfig(svc + "    snat_ip: 10.0.0.9\n", name: "b3.yaml")], status: 78, mentions: ["services[0].snat_ip", "full_nat"]),
            Case(name: "full_nat with route", args: ["snat", "sync", "-c", writeConfig(svc + "    full_nat: true\n    forward: route\n", name: "b4.yaml")], status: 78, mentions: ["services[0].full_nat", "masq"]),
            Case(name: "full_nat not a bool", args: ["snat", "sync", "-c", writeConfig(svc + "    full_nat: perhaps\n", name: "b5.yaml")], status: 78, mentions: ["services[0].full_nat", "perhaps"]),
            Case(name: "missing config", args: ["snat", "sync", "-c", workDir + "/nope.yaml"], status: 78, mentions: ["nope.yaml"]),
            Case(name: "unknown flag", args: ["snat", "sync", "-c", good, "--force"], status: 64, mentions: ["--force"]),
            Case(name: "bad -o", args: ["snat", "show", "-o", "xml"], status: 64, mentions: ["xml"]),
            Case(name: "bad --backend", args: ["snat", "cleanup", "--backend", "nft"], status: 64, mentions: ["nft"]),
            Case(name: "doctor stray argument", args: ["doctor", "extra"], status: 64, mentions: ["extra"]),
            Case(name: "garbage snat.json", args: ["snat", "sync", "-c", good], status: 78, mentions: ["snat.json", "corrupted"],
                 prepare: { try Data("nope".utf8).write(to: URL(fileURLWithPath: self.stateDir + "/snat.json")) }),
            Case(name: "newer snat.json", args: ["snat", "cleanup"], status: 78, mentions: ["snat.json", "schema 9"],
                 prepare: { try Data("{\"schema\":9,\"kind\":\"snat\",\"data\":{}}".utf8).write(to: URL(fileURLWithPath: self.stateDir + "/snat.json")) }),
            Case(name: "snat lock held", args: ["snat", "sync", "-c", good], env: ["EZLB_LOCK_TIMEOUT": "0"], status: 75, mentions: ["snat.lock"],
                 prepare: { self.heldLock = try FileLock(path: self.stateDir + "/snat.lock") }),
        ]
        for c in cases {
            let original = stateSnapshot()
            try c.prepare?()
            let before = stateSnapshot()
            let r = try ezlb(c.args, env: c.env)
            heldLock = nil
            XCTAssertEqual(r.status, c.status, "\(c.name): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(c.name): expected one line, got: \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezlb: error: "), "\(c.name): \(r.stderr)")
            for m in c.mentions { XCTAssertTrue(r.stderr.contains(m), "\(c.name): '\(m)' not in: \(r.stderr)") }
            XCTAssertEqual(stateSnapshot(), before, "\(c.name): changed the state or the fake kernel")
            // Restore for the next case.
            for (f, d) in original { try d.write(to: URL(fileURLWithPath: stateDir + "/" + f)) }
            for f in before.keys where original[f] == nil { try? FileManager.default.removeItem(atPath: stateDir + "/" + f) }
        }
    }

    var heldLock: FileLock?

    /// A fake /proc and /lib/modules so every doctor outcome is reachable without root.
    func fakeHost(forward: String, conntrack: String?, rpAll: String) throws -> [String: String] {
        let proc = workDir + "/proc", mods = workDir + "/modules"
        let fm = FileManager.default
        try? fm.removeItem(atPath: proc)
        for d in ["sys/net/ipv4/conf/all", "sys/net/ipv4/conf/eth0", "sys/net/ipv4/conf/lo", "sys/net/ipv6/conf/all"] {
            try fm.createDirectory(atPath: "\(proc)/\(d)", withIntermediateDirectories: true)
        }
        try (forward + "\n").write(toFile: "\(proc)/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
        try (forward + "\n").write(toFile: "\(proc)/sys/net/ipv6/conf/all/forwarding", atomically: false, encoding: .utf8)
        try (rpAll + "\n").write(toFile: "\(proc)/sys/net/ipv4/conf/all/rp_filter", atomically: false, encoding: .utf8)
        try "2\n".write(toFile: "\(proc)/sys/net/ipv4/conf/eth0/rp_filter", atomically: false, encoding: .utf8)
        try "0\n".write(toFile: "\(proc)/sys/net/ipv4/conf/lo/rp_filter", atomically: false, encoding: .utf8)
        if let ct = conntrack {
            try fm.createDirectory(atPath: "\(proc)/sys/net/ipv4/vs", withIntermediateDirectories: true)
            try (ct + "\n").write(toFile: "\(proc)/sys/net/ipv4/vs/conntrack", atomically: false, encoding: .utf8)
        }
        var u = utsname()
        uname(&u)
        let rel = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        try fm.createDirectory(atPath: "\(mods)/\(rel)", withIntermediateDirectories: true)
        try """
        kernel/net/netfilter/ipvs/ip_vs.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz
        kernel/net/netfilter/ipvs/ip_vs_rr.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz
        kernel/net/netfilter/ipvs/ip_vs_wlc.ko.xz: kernel/net/netfilter/ipvs/ip_vs.ko.xz
        kernel/net/ipv4/netfilter/iptable_nat.ko.xz:
        kernel/net/netfilter/xt_conntrack.ko.xz:
        kernel/net/netfilter/xt_comment.ko.xz:
        """.write(toFile: "\(mods)/\(rel)/modules.dep", atomically: false, encoding: .utf8)
        return ["EZLB_PROC_ROOT": proc, "EZLB_MODULES_ROOT": mods, "XTABLES_LOCKFILE": workDir + "/xtables.lock"]
    }

    func testDoctor() throws {
        let cfg = writeConfig(snatConfig.replacingOccurrences(of: "listen: 10.0.0.2:80\n", with: "listen: 10.0.0.2:80\n    scheduler: mh\n"))
        // Healthy host.
        var env = try fakeHost(forward: "1", conntrack: "1", rpAll: "0")
        var r = try ezlb(["doctor", "-c", cfg, "-o", "json"], env: env)
        var checks = (r.json["checks"] as? [[String: Any]]) ?? []
        func status(_ name: String) -> String? { checks.first { $0["name"] as? String == name }?["status"] as? String }
        XCTAssertEqual(status("net.ipv4.ip_forward"), "ok")
        XCTAssertEqual(status("net.ipv4.vs.conntrack"), "ok")
        XCTAssertEqual(status("rp_filter"), "ok")
        XCTAssertEqual(status("module ip_vs"), "ok")
        XCTAssertEqual(status("module ip_vs_mh"), "fail", "mh is not in the fake modules.dep")
        XCTAssertEqual(status("xtables lock"), "ok")
        XCTAssertNotNil(checks.first { $0["name"] as? String == "iptables variant" })
        XCTAssertEqual(r.status, 1, "a missing scheduler module fails")
        XCTAssertTrue(((r.json["errors"] as? [String]) ?? []).first?.contains("module ip_vs_mh") == true, r.stdout)

        // Broken sysctls: reported, fixed by --fix, then clean.
        let simple = writeConfig(snatConfig, name: "simple.yaml")
        env = try fakeHost(forward: "0", conntrack: "0", rpAll: "1")
        r = try ezlb(["doctor", "-c", simple], env: env)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("FAIL  net.ipv4.ip_forward: 0"), r.stdout)
        XCTAssertTrue(r.stdout.contains("FAIL  net.ipv4.vs.conntrack: 0"), r.stdout)
        XCTAssertTrue(r.stdout.contains("FAIL  net.ipv4.conf.all.rp_filter: 1"), r.stdout)
        XCTAssertTrue(r.stderr.contains("--fix"), r.stderr)
        r = try ezlb(["doctor", "-c", simple, "--fix", "--dry-run"], env: env)
        XCTAssertEqual(try String(contentsOfFile: env["EZLB_PROC_ROOT"]! + "/sys/net/ipv4/ip_forward", encoding: .utf8), "0\n")
        r = try ezlb(["doctor", "-c", simple, "--fix", "-o", "json", "--detailed-exitcode"], env: env)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.actionTexts, ["~ net.ipv4.ip_forward 0 -> 1", "~ net.ipv6.conf.all.forwarding 0 -> 1", "~ net.ipv4.vs.conntrack 0 -> 1", "~ net.ipv4.conf.all.rp_filter 1 -> 2"])
        XCTAssertEqual(try String(contentsOfFile: env["EZLB_PROC_ROOT"]! + "/sys/net/ipv4/conf/all/rp_filter", encoding: .utf8), "2\n")
        r = try ezlb(["doctor", "-c", simple, "-o", "json"], env: env)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        checks = (r.json["checks"] as? [[String: Any]]) ?? []
        XCTAssertFalse(checks.contains { $0["status"] as? String == "fail" })

        // IPVS not loaded: conntrack is not checked yet.
        env = try fakeHost(forward: "1", conntrack: nil, rpAll: "2")
        r = try ezlb(["doctor", "-c", simple, "-o", "json"], env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        checks = (r.json["checks"] as? [[String: Any]]) ?? []
        XCTAssertEqual(status("net.ipv4.vs.conntrack"), "info")
    }
}
