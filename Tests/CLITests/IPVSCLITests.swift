import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

let baseConfig = """
services:
  - name: web
    listen: 10.0.0.1:80
    scheduler: wrr
    backends:
      - {address: "192.168.1.10:8080", weight: 3}
      - {address: "192.168.1.11:8080", weight: 1}
  - name: dns
    listen: 10.0.0.3:53
    protocol: udp
    scheduler: rr
    backends:
      - {address: "192.168.4.10:53"}
"""

final class IPVSCLITests: CLITestCase {
    func testApplyReapplyEditCleanup() throws {
        let cfg = writeConfig(baseConfig)
        let r1 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(r1.changed, true)
        XCTAssertEqual(r1.actionTexts, [
            "+ service tcp 10.0.0.1:80 wrr",
            "+ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 masq weight 3",
            "+ destination tcp 10.0.0.1:80 -> 192.168.1.11:8080 masq weight 1",
            "+ service udp 10.0.0.3:53 rr",
            "+ destination udp 10.0.0.3:53 -> 192.168.4.10:53 masq weight 1",
        ])
        XCTAssertEqual((r1.json["errors"] as? [Any])?.count, 0)

        // Converged: no change, and no write to the (fake) kernel or state.
        let before = stateSnapshot()
        let r2 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r2.status, 0)
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.actionTexts, [])
        XCTAssertEqual(stateSnapshot(), before, "a converged apply must not write")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout, "no changes\n")

        // Edit: one weight, one new backend, one removed service.
        let edited = writeConfig("""
        services:
          - name: web
            listen: 10.0.0.1:80
            scheduler: wrr
            backends:
              - {address: "192.168.1.10:8080", weight: 5}
              - {address: "192.168.1.11:8080", weight: 1}
              - {address: "192.168.1.12:8080", weight: 1}
        """, name: "edited.yaml")
        let r3 = try ezlb(["ipvs", "apply", "-c", edited, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r3.status, 2, "detailed exit code when changed")
        XCTAssertEqual(r3.actionTexts, [
            "- destination udp 10.0.0.3:53 -> 192.168.4.10:53",
            "- service udp 10.0.0.3:53",
            "+ destination tcp 10.0.0.1:80 -> 192.168.1.12:8080 masq weight 1",
            "~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 5",
        ])
        let t = try fakeTable()
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t[0].destinations.count, 3)

        let r4 = try ezlb(["ipvs", "cleanup", "-o", "json"])
        XCTAssertEqual(r4.status, 0)
        XCTAssertEqual(r4.changed, true)
        XCTAssertEqual(try fakeTable(), [])
        XCTAssertEqual(try ezlb(["ipvs", "cleanup", "-o", "json"]).changed, false)
    }

    func testTextOutputAndSummary() throws {
        let cfg = writeConfig(baseConfig)
        let r = try ezlb(["ipvs", "apply", "-c", cfg])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("+ service tcp 10.0.0.1:80 wrr\n"), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("applied: 5 added, 0 changed, 0 deleted\n"), r.stdout)
        XCTAssertEqual(r.stderr, "")
    }

    func testDryRunAndPlanChangeNothing() throws {
        let cfg = writeConfig(baseConfig)
        let before = stateSnapshot()
        let r = try ezlb(["ipvs", "apply", "--dry-run", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.changed, true)
        XCTAssertEqual(r.json["dry_run"] as? Bool, true)
        XCTAssertEqual(r.actionTexts.count, 5)
        let p = try ezlb(["ipvs", "plan", "-c", cfg])
        XCTAssertTrue(p.stdout.hasSuffix("plan: 5 to add, 0 to change, 0 to delete\n"), p.stdout)
        XCTAssertEqual(try fakeTable(), [])
        XCTAssertEqual(stateSnapshot().filter { $0.key != "fake-kernel.json" }, before)
    }

    func testForeignServiceUntouchedConflictAndAdopt() throws {
        let foreignKey = ServiceKey.inet(.tcp, endpoint("10.9.9.9:80"))
        let webKey = ServiceKey.inet(.tcp, endpoint("10.0.0.1:80"))
        try withFakeKernel { k in
            try k.addService(VirtualService(key: foreignKey, scheduler: "rr"))
            try k.addDestination(foreignKey, RealServer(endpoint: endpoint("10.9.9.10:80")))
            try k.addService(VirtualService(key: webKey, scheduler: "lc")) // keepalived made this one
        }
        let cfg = writeConfig(baseConfig)
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.status, 1, "a conflict means the config was not applied")
        XCTAssertEqual((r.json["errors"] as? [String])?.first,
                       "service tcp 10.0.0.1:80 (web) exists in the kernel but was not created by ezlb; left alone (use --adopt to take it over)")
        XCTAssertEqual(r.actionTexts, ["+ service udp 10.0.0.3:53 rr", "+ destination udp 10.0.0.3:53 -> 192.168.4.10:53 masq weight 1"])
        var t = try fakeTable()
        XCTAssertEqual(t.first { $0.key == webKey }?.service.scheduler, "lc")

        let a = try ezlb(["ipvs", "apply", "-c", cfg, "--adopt", "-o", "json"])
        XCTAssertEqual(a.status, 0, a.stdout)
        XCTAssertEqual(a.actionTexts.first, "~ service tcp 10.0.0.1:80 scheduler lc -> wrr")

        // Cleanup removes what ezlb owns (now including the adopted one), never the foreign one.
        XCTAssertEqual(try ezlb(["ipvs", "cleanup"]).status, 0)
        t = try fakeTable()
        XCTAssertEqual(t.map(\.key), [foreignKey])
        XCTAssertEqual(t[0].destinations.count, 1)
    }

    func testHandChangesAreRepaired() throws {
        let cfg = writeConfig(baseConfig)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let webKey = ServiceKey.inet(.tcp, endpoint("10.0.0.1:80"))
        let dnsKey = ServiceKey.inet(.udp, endpoint("10.0.0.3:53"))
        try withFakeKernel { k in
            try k.deleteService(dnsKey)                                   // ipvsadm -D
            try k.updateService(VirtualService(key: webKey, scheduler: "rr"))  // ipvsadm -E
            try k.addDestination(webKey, RealServer(endpoint: endpoint("6.6.6.6:80"))) // stray real server
        }
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.actionTexts, [
            "~ service tcp 10.0.0.1:80 scheduler rr -> wrr",
            "- destination tcp 10.0.0.1:80 -> 6.6.6.6:80",
            "+ service udp 10.0.0.3:53 rr",
            "+ destination udp 10.0.0.3:53 -> 192.168.4.10:53 masq weight 1",
        ])
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"]).changed, false)
    }

    /// `services: []` needs --allow-empty only when it would remove something ezlb manages.
    func testAnEmptyListOnANodeThatManagesNothingIsFine() throws {
        let r = try ezlb(["ipvs", "apply", "-c", writeConfig("services: []", name: "empty.yaml")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", writeConfig("", name: "zero.yaml")]).status, 78, "a missing key is refused even so")
    }

    func testOwnershipSurvivesRunsAndRemovedServicesAreDeleted() throws {
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", writeConfig(baseConfig)]).status, 0)
        let before = try fakeTable()
        // A config that states nothing (empty, comments only, `services:` with no value: what
        // a failed deploy leaves) is refused and changes nothing, even with --allow-empty.
        for text in ["", "# only a comment\n", "services:\n", "global:\n  log_level: info\n"] {
            let r = try ezlb(["ipvs", "apply", "-c", writeConfig(text, name: "truncated.yaml"), "--allow-empty"])
            XCTAssertEqual(r.status, 78, text)
            XCTAssertTrue(r.stderr.hasSuffix("truncated.yaml: services: missing or without a value (an empty or truncated config?); to remove every service write 'services: []' and pass --allow-empty, or run 'ezlb ipvs cleanup'\n"), r.stderr)
            XCTAssertEqual(try fakeTable(), before)
        }
        // `services: []` alone is refused too; with --allow-empty it deletes what ezlb made.
        let empty = writeConfig("services: []", name: "empty.yaml")
        let refused = try ezlb(["ipvs", "apply", "-c", empty])
        XCTAssertEqual(refused.status, 78)
        XCTAssertTrue(refused.stderr.contains("services: '[]': would remove every service ezlb manages; pass --allow-empty"), refused.stderr)
        XCTAssertEqual(try fakeTable(), before)
        let r = try ezlb(["ipvs", "apply", "-c", empty, "--allow-empty", "-o", "json"])
        XCTAssertEqual(r.actionTexts.filter { $0.hasPrefix("- service") }.count, 2)
        XCTAssertEqual(try fakeTable(), [])
    }

    func testCorruptedStateStopsAndAdoptRecovers() throws {
        let cfg = writeConfig(baseConfig)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let path = stateDir + "/ipvs.json"
        let data = FileManager.default.contents(atPath: path)!
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        let before = stateSnapshot()
        let r = try ezlb(["ipvs", "apply", "-c", cfg])
        XCTAssertEqual(r.status, 78)
        XCTAssertTrue(r.stderr.contains("ipvs.json: state file is corrupted"), r.stderr)
        XCTAssertTrue(r.stderr.contains("ezlb ipvs apply --adopt"), r.stderr)
        XCTAssertEqual(stateSnapshot(), before)

        let a = try ezlb(["ipvs", "apply", "-c", cfg, "--adopt", "-o", "json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.changed, false, "kernel already matched")
        XCTAssertTrue(a.stderr.contains("rebuilding ownership"), a.stderr)
        let o = try StateDirectory(path: stateDir).load(IPVSOwnership.self)
        XCTAssertEqual(o?.services.values.sorted(), ["dns", "web"])
    }

    func testShowFormats() throws {
        let cfg = writeConfig(baseConfig)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let s = try ezlb(["ipvs", "show", "--format", "ipvsadm"])
        XCTAssertEqual(s.stdout, """
        -A -t 10.0.0.1:80 -s wrr
        -a -t 10.0.0.1:80 -r 192.168.1.10:8080 -m -w 3
        -a -t 10.0.0.1:80 -r 192.168.1.11:8080 -m -w 1
        -A -u 10.0.0.3:53 -s rr
        -a -u 10.0.0.3:53 -r 192.168.4.10:53 -m -w 1

        """)
        let j = try ezlb(["ipvs", "show", "-o", "json"])
        let svcs = j.json["services"] as? [[String: Any]] ?? []
        XCTAssertEqual(svcs.count, 2)
        XCTAssertEqual(svcs.first?["managed"] as? Bool, true)
        XCTAssertEqual(svcs.first?["name"] as? String, "web")
        let t = try ezlb(["ipvs", "show"])
        XCTAssertTrue(t.stdout.contains("tcp 10.0.0.1:80 wrr  [managed: web]"), t.stdout)
        XCTAssertTrue(t.stdout.contains("  -> 192.168.1.10:8080 masq weight 3 active 0 inactive 0\n"), t.stdout)
        // The counters: the fake kernel carries no traffic, so they are zeros, with every key present.
        let stats = svcs.first?["stats"] as? [String: Any]
        XCTAssertEqual(stats?.keys.sorted(), ["connections", "connections_per_second", "in_bytes", "in_bytes_per_second", "in_packets",
                                              "in_packets_per_second", "out_bytes", "out_bytes_per_second", "out_packets",
                                              "out_packets_per_second"])
        let dest = (svcs.first?["destinations"] as? [[String: Any]])?.first
        XCTAssertEqual(dest?["active_connections"] as? Int, 0)
        XCTAssertEqual((dest?["stats"] as? [String: Any])?["in_packets"] as? Int, 0)
        XCTAssertNil(dest?["tunnel"])
        let st = try ezlb(["ipvs", "show", "--stats"])
        XCTAssertTrue(st.stdout.contains("tcp 10.0.0.1:80 wrr  [managed: web]  conns 0 inpkts 0 outpkts 0 inbytes 0 outbytes 0 cps 0 "), st.stdout)
    }

    /// `--version` names the version and the commit (scripts/build-release sets it; "unknown" otherwise).
    func testVersionNamesVersionAndCommit() throws {
        let v = try ezlb(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertNotNil(v.stdout.range(of: #"^ezlb [0-9]+\.[0-9]+\.[0-9]+ \([0-9A-Za-z._-]+\)\n$"#, options: .regularExpression), v.stdout)
    }

    func testLockBusyExitsWith75AndConcurrentRunsNeverInterleave() throws {
        let cfgA = writeConfig(baseConfig, name: "a.yaml")
        let cfgB = writeConfig("""
        services:
          - name: other
            listen: 10.0.0.7:80
            backends: [{address: "192.168.7.1:80"}, {address: "192.168.7.2:80"}]
        """, name: "b.yaml")
        // Hold the lock: a run with a short timeout gives up with 75 and changes nothing.
        let dir = StateDirectory(path: stateDir)
        var held: FileLock? = try dir.lock("ipvs")
        let busy = try ezlb(["ipvs", "apply", "-c", cfgA], env: ["EZLB_LOCK_TIMEOUT": "1"])
        XCTAssertEqual(busy.status, 75, busy.stderr)
        XCTAssertTrue(busy.stderr.contains("another ezlb holds the lock"), busy.stderr)
        XCTAssertNotNil(held)
        held = nil

        // Many concurrent runs alternating two configs: every run succeeds, and the
        // end state is exactly one config's, with ownership matching the kernel.
        let procs = try (0..<8).map { i in try spawn(["ipvs", "apply", "-c", i % 2 == 0 ? cfgA : cfgB]) }
        let statuses = procs.map { p -> Int32 in
            p.waitUntilExit()
            return p.terminationStatus
        }
        XCTAssertEqual(statuses, [Int32](repeating: 0, count: 8))
        let last = try ezlb(["ipvs", "apply", "-c", cfgB, "-o", "json"])
        let keys = Set(try fakeTable().map(\.key))
        let owned = Set(try dir.load(IPVSOwnership.self)?.services.keys.map { $0 } ?? [])
        XCTAssertEqual(keys, owned, "ownership matches the kernel after concurrent runs")
        XCTAssertEqual(keys, [.inet(.tcp, endpoint("10.0.0.7:80"))])
        XCTAssertEqual(last.status, 0)
    }
}

/// Edits of the config and of ipvs.json are seen at once, whatever is cached.
final class EditsCLITests: CLITestCase {
    func testUnknownKeyWarningsSurviveTheFastPath() throws {
        let cfg = writeConfig(baseConfig.replacingOccurrences(of: "    scheduler: wrr\n", with: "    scheduler: wrr\n    health_check: {enabled: false}\n") + "\nextra_key: 1\n")
        for _ in 0..<3 {
            let r = try ezlb(["ipvs", "apply", "-c", cfg])
            XCTAssertTrue(r.stderr.contains("extra_key: unknown key, ignored"), r.stderr)
        }
    }

    /// ipvs.json stays the record: editing it by hand (or restoring a backup) is seen at once.
    func testHandEditedOwnershipWins() throws {
        let cfg = writeConfig(baseConfig)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        // Forget the dns service in the record: ezlb must now treat it as foreign.
        let path = stateDir + "/ipvs.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = text.split(separator: "\n").filter { !$0.contains("udp 10.0.0.3:53") }.joined(separator: "\n")
            .replacingOccurrences(of: "\"web\",", with: "\"web\"")
        try edited.write(toFile: path, atomically: false, encoding: .utf8)
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(((r.json["errors"] as? [String]) ?? []).first?.contains("udp 10.0.0.3:53 (dns) exists in the kernel but was not created by ezlb") == true, r.stdout)
    }
}

/// ipvs.converged: a converged re-apply skips planning only while the kernel's
/// table, the config and ipvs.json are exactly what was last known converged.
final class ConvergedCacheCLITests: CLITestCase {
    let config = baseConfig.replacingOccurrences(of: "    scheduler: wrr\n", with: "    scheduler: wrr\n    health_check: {enabled: false}\n")
    let webKey = ServiceKey.inet(.tcp, endpoint("10.0.0.1:80"))
    let dnsKey = ServiceKey.inet(.udp, endpoint("10.0.0.3:53"))
    var cache: String { stateDir + "/ipvs.converged" }
    let hit = "converged: ipvs.converged matches the kernel and the inputs"

    func apply(_ cfg: String, _ extra: [String] = []) throws -> CLIResult {
        try ezlb(["ipvs", "apply", "-c", cfg, "-vv"] + extra)
    }

    func testRecordedByTheApplyAndSameOutputAsAFullPlan() throws {
        let cfg = writeConfig(config)
        XCTAssertEqual(try apply(cfg).status, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache), "the apply that made the changes records the table it made")
        for format in [["-o", "json"], ["-o", "text"], ["-o", "json", "--detailed-exitcode"]] {
            let fast = try apply(cfg, format)
            XCTAssertTrue(fast.stderr.contains(hit), fast.stderr)
            try FileManager.default.removeItem(atPath: cache)
            let slow = try apply(cfg, format)
            XCTAssertFalse(slow.stderr.contains(hit), slow.stderr)
            XCTAssertEqual(fast.status, 0)
            XCTAssertEqual(fast.stdout, slow.stdout, "\(format)")
            XCTAssertEqual(slow.status, fast.status)
            XCTAssertTrue(FileManager.default.fileExists(atPath: cache), "a converged full plan records it too")
        }
    }

    func testEveryHandChangeIsSeenAndRepaired() throws {
        let cfg = writeConfig(config)
        XCTAssertEqual(try apply(cfg).status, 0)
        let changes: [(String, (FakeIPVS) throws -> Void)] = [
            ("weight", { try $0.updateDestination(self.webKey, RealServer(endpoint: endpoint("192.168.1.10:8080"), weight: 7)) }),
            ("threshold", { try $0.updateDestination(self.webKey, RealServer(endpoint: endpoint("192.168.1.10:8080"), weight: 3, upperThreshold: 5)) }),
            ("forward", { try $0.updateDestination(self.webKey, RealServer(endpoint: endpoint("192.168.1.10:8080"), weight: 3, forward: .route)) }),
            ("deleted destination", { try $0.deleteDestination(self.webKey, endpoint("192.168.1.11:8080")) }),
            ("stray destination", { try $0.addDestination(self.dnsKey, RealServer(endpoint: endpoint("6.6.6.6:53"))) }),
            ("scheduler", { try $0.updateService(VirtualService(key: self.webKey, scheduler: "rr")) }),
            ("persistence", { try $0.updateService(VirtualService(key: self.webKey, scheduler: "wrr", flags: IPVSFlags.persistent, timeout: 60)) }),
            ("deleted service", { try $0.deleteService(self.dnsKey) }),
        ]
        for (name, change) in changes {
            XCTAssertTrue(try apply(cfg).stderr.contains(hit), "\(name): converged before")
            try withFakeKernel(change)
            let r = try apply(cfg, ["-o", "json"])
            XCTAssertFalse(r.stderr.contains(hit), "\(name): \(r.stderr)")
            XCTAssertEqual(r.changed, true, "\(name) repaired")
        }
        // A foreign service needs no change, but it is not the table last seen: planned in full once.
        try withFakeKernel { try $0.addService(VirtualService(key: .inet(.tcp, endpoint("10.9.9.9:80")), scheduler: "rr")) }
        let foreign = try apply(cfg, ["-o", "json"])
        XCTAssertFalse(foreign.stderr.contains(hit), foreign.stderr)
        XCTAssertEqual(foreign.changed, false)
        XCTAssertTrue(try apply(cfg).stderr.contains(hit), "and remembered with it")
    }

    func testConfigOwnershipHealthAdoptAndDryRun() throws {
        let cfg = writeConfig(config)
        XCTAssertEqual(try apply(cfg).status, 0)
        // The config is edited: a full plan (and the change it asks for).
        try config.replacingOccurrences(of: "weight: 3", with: "weight: 4").write(toFile: cfg, atomically: false, encoding: .utf8)
        let edited = try apply(cfg, ["-o", "json"])
        XCTAssertFalse(edited.stderr.contains(hit))
        XCTAssertEqual(edited.actionTexts, ["~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 4"])
        XCTAssertTrue(try apply(cfg).stderr.contains(hit))
        // ipvs.json rewritten with the same content: the same key (content, not file versions).
        let owned = try String(contentsOfFile: stateDir + "/ipvs.json", encoding: .utf8)
        try owned.write(toFile: stateDir + "/ipvs.json", atomically: false, encoding: .utf8)
        XCTAssertTrue(try apply(cfg).stderr.contains(hit))
        // ... and with other content (a service forgotten): a full plan.
        try owned.replacingOccurrences(of: "\"udp 10.0.0.3:53\" : \"dns\"", with: "\"udp 10.0.0.3:53\" : \"dns2\"")
            .write(toFile: stateDir + "/ipvs.json", atomically: false, encoding: .utf8)
        XCTAssertFalse(try apply(cfg).stderr.contains(hit))
        // --adopt always plans.
        XCTAssertFalse(try apply(cfg, ["--adopt"]).stderr.contains(hit))
        // A dry run may use it but never writes it.
        try FileManager.default.removeItem(atPath: cache)
        XCTAssertEqual(try ezlb(["ipvs", "plan", "-c", cfg]).status, 0)
        XCTAssertEqual(try apply(cfg, ["--dry-run"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache))
        // A broken cache is a miss.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: cache))
        let junk = try apply(cfg, ["-o", "json"])
        XCTAssertEqual(junk.status, 0)
        XCTAssertFalse(junk.stderr.contains(hit))
        XCTAssertEqual(junk.changed, false)
        // Health checks make every run plan (probe results change the desired weights).
        let hc = writeConfig(baseConfig, name: "hc.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", hc, "--no-probe"]).status, 0)
        try FileManager.default.removeItem(atPath: cache)
        for _ in 0..<2 { XCTAssertFalse(try ezlb(["ipvs", "apply", "-c", hc, "--no-probe", "-vv"]).stderr.contains(hit)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache))
    }
}
