import Foundation
import XCTest

/// Every bad input gives one line on stderr naming what is wrong, a documented
/// exit code, and no change to the (fake) kernel or the state directory.
final class BadInputTests: CLITestCase {
    struct Case {
        var name: String
        var args: [String]
        var env: [String: String] = [:]
        var status: Int32
        var mentions: [String]
        var prepare: ((BadInputTests) throws -> Void)? = nil
    }

    func cfg(_ yaml: String) -> String { writeConfig(yaml, name: "bad-\(UUID().uuidString).yaml") }

    func testBadInputs() throws {
        let good = writeConfig(baseConfig, name: "good.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", good]).status, 0)

        let svc = "services:\n  - name: a\n    listen: 10.0.0.1:80\n"
        let cases: [Case] = [
            Case(name: "missing config", args: ["ipvs", "apply", "-c", workDir + "/nope.yaml"], status: 78, mentions: ["nope.yaml", "no such file"]),
            Case(name: "config is a directory", args: ["ipvs", "apply", "-c", workDir], status: 78, mentions: [workDir]),
            Case(name: "YAML syntax", args: ["ipvs", "apply", "-c", cfg("services:\n  - name: [a\n")], status: 78, mentions: ["line", "invalid YAML"]),
            Case(name: "top level list", args: ["ipvs", "apply", "-c", cfg("- a\n- b\n")], status: 78, mentions: ["top level must be a mapping"]),
            Case(name: "port out of range", args: ["ipvs", "apply", "-c", cfg("services: [{name: a, listen: '10.0.0.1:70000'}]")], status: 78, mentions: ["services[0].listen", "70000"]),
            Case(name: "bad IP", args: ["ipvs", "apply", "-c", cfg("services: [{name: a, listen: '10.0.0.999:80'}]")], status: 78, mentions: ["services[0].listen", "10.0.0.999"]),
            Case(name: "unknown scheduler", args: ["ipvs", "apply", "-c", cfg(svc + "    scheduler: fastest\n")], status: 78, mentions: ["services[0].scheduler", "fastest"]),
            Case(name: "weight wraps", args: ["ipvs", "apply", "-c", cfg(svc + "    backends: [{address: '10.1.1.1:80', weight: 65536}]\n")], status: 78, mentions: ["services[0].backends[0].weight", "65536"]),
            Case(name: "family mismatch", args: ["ipvs", "apply", "-c", cfg(svc + "    backends: [{address: '[2001:db8::1]:80'}]\n")], status: 78, mentions: ["services[0].backends[0].address", "ipv6"]),
            Case(name: "zero duration", args: ["ipvs", "apply", "-c", cfg(svc + "    health_check: {interval: 0s}\n")], status: 78, mentions: ["services[0].health_check.interval", "0s"]),
            Case(name: "duplicate names", args: ["ipvs", "apply", "-c", cfg(svc + "  - name: a\n    listen: 10.0.0.2:80\n")], status: 78, mentions: ["services[1].name", "duplicate"]),
            Case(name: "snat without full_nat", args: ["ipvs", "apply", "-c", cfg(svc + "    snat_ip: 10.0.0.9\n")], status: 78, mentions: ["services[0].snat_ip", "full_nat"]),
            Case(name: "sched flag for other scheduler", args: ["ipvs", "apply", "-c", cfg(svc + "    scheduler: rr\n    sched_flags: [mh-port]\n")], status: 78, mentions: ["sched_flags[0]", "mh-port"]),
            Case(name: "bad --backend", args: ["ipvs", "apply", "-c", good, "--backend", "xdp"], status: 64, mentions: ["xdp", "--backend"]),
            Case(name: "bad -o", args: ["ipvs", "apply", "-c", good, "-o", "yaml"], status: 64, mentions: ["yaml"]),
            Case(name: "unknown flag", args: ["ipvs", "apply", "-c", good, "--force-everything"], status: 64, mentions: ["--force-everything"]),
            Case(name: "stray argument", args: ["ipvs", "apply", "-c", good, "extra"], status: 64, mentions: ["extra"]),
            Case(name: "raft leave --timeout inf", args: ["raft", "leave", "-c", good, "--timeout", "inf"], status: 64, mentions: ["--timeout", "inf"]),
            Case(name: "raft leave --timeout 1e20", args: ["raft", "leave", "-c", good, "--timeout", "1e20"], status: 64, mentions: ["--timeout", "3600"]),
            Case(name: "raft leave --timeout 0", args: ["raft", "leave", "-c", good, "--timeout", "0"], status: 64, mentions: ["--timeout"]),
            Case(name: "raft join --timeout 3601", args: ["raft", "join", "-c", good, "--peer", "127.0.0.1:7946", "--timeout", "3601"], status: 64, mentions: ["--timeout", "3601"]),
            Case(name: "bad EZLB_BACKEND", args: ["ipvs", "apply", "-c", good], env: ["EZLB_BACKEND": "bpf"], status: 64, mentions: ["EZLB_BACKEND", "bpf"]),
            Case(name: "bad firewall key", args: ["snat", "sync", "-c", cfg(svc + "firewall: ebpf\n")], status: 78, mentions: ["firewall", "ebpf"]),
            Case(name: "bad forward_mark", args: ["snat", "sync", "-c", cfg(svc + "forward_mark: 0x3\n")], status: 78, mentions: ["forward_mark", "0x3"]),
            Case(name: "bad --firewall", args: ["snat", "sync", "-c", good, "--firewall", "pf"], status: 64, mentions: ["--firewall", "pf"]),
            Case(name: "empty EZLB_CONFIG", args: ["ipvs", "apply"], env: ["EZLB_CONFIG": ""], status: 64, mentions: ["EZLB_CONFIG"]),
            Case(name: "EZLB_CONFIG names no file", args: ["ipvs", "apply"], env: ["EZLB_CONFIG": "/nonexistent/ezlb.yaml"], status: 78, mentions: ["/nonexistent/ezlb.yaml"]),
            Case(name: "bad EZLB_FIREWALL", args: ["snat", "sync", "-c", good], env: ["EZLB_FIREWALL": "pf"], status: 64, mentions: ["EZLB_FIREWALL", "pf"]),
            Case(name: "state dir is a file", args: ["ipvs", "apply", "-c", good, "--state-dir", good], status: 64, mentions: ["--state-dir", "not a directory"]),
            Case(name: "bad EZLB_LOCK_TIMEOUT", args: ["ipvs", "apply", "-c", good], env: ["EZLB_LOCK_TIMEOUT": "soon"], status: 64, mentions: ["EZLB_LOCK_TIMEOUT", "soon"]),
            Case(name: "newer state schema", args: ["ipvs", "apply", "-c", good], status: 78, mentions: ["ipvs.json", "schema 7"],
                 prepare: { t in try Data("{\"schema\":7,\"kind\":\"ipvs\",\"data\":{}}".utf8).write(to: URL(fileURLWithPath: t.stateDir + "/ipvs.json")) }),
            Case(name: "garbage state", args: ["ipvs", "cleanup"], status: 78, mentions: ["ipvs.json", "corrupted"],
                 prepare: { t in try Data("not json".utf8).write(to: URL(fileURLWithPath: t.stateDir + "/ipvs.json")) }),
            Case(name: "corrupted fake kernel", args: ["ipvs", "apply", "-c", good], status: 78, mentions: ["fake-kernel.json", "corrupted"],
                 prepare: { t in try Data("{\"schema\":1,".utf8).write(to: URL(fileURLWithPath: t.stateDir + "/fake-kernel.json")) }),
        ]
        XCTAssertGreaterThanOrEqual(cases.count, 15)

        for c in cases {
            let original = stateSnapshot()
            try c.prepare?(self)
            let before = stateSnapshot()
            let r = try ezlb(c.args, env: c.env)
            XCTAssertEqual(r.status, c.status, "\(c.name): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(c.name): expected one line, got: \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezlb: error: "), "\(c.name): \(r.stderr)")
            for m in c.mentions { XCTAssertTrue(r.stderr.contains(m), "\(c.name): '\(m)' missing in: \(r.stderr)") }
            XCTAssertEqual(r.stdout, "", "\(c.name): stdout must stay empty in text mode")
            XCTAssertFalse(r.stderr.contains("Fatal error"), c.name)
            XCTAssertEqual(stateSnapshot(), before, "\(c.name): state or fake kernel changed")
            // Restore anything prepare() broke.
            for (f, d) in original { try d.write(to: URL(fileURLWithPath: stateDir + "/" + f)) }
        }
        // And the good config still converges with nothing to do.
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", good, "-o", "json"]).changed, false)
    }

    func testJSONOutputCarriesErrors() throws {
        let r = try ezlb(["ipvs", "apply", "-c", cfg("services: [{name: a, listen: '10.0.0.1:70000'}]"), "-o", "json"])
        XCTAssertEqual(r.status, 78)
        XCTAssertEqual(r.changed, false)
        XCTAssertEqual((r.json["errors"] as? [String])?.count, 1)
    }
}

/// Cron-friendly output: `-q` and `EZLB_CONFIG`.
final class QuietAndEnvTests: CLITestCase {
    func testQuietPrintsNothingWhenNothingChanged() throws {
        let cfg = writeConfig(baseConfig)
        // A run that changes something prints as usual, -q or not.
        let first = try ezlb(["ipvs", "apply", "-c", cfg, "-q"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(first.stdout.isEmpty)
        // Converged: nothing at all, on either stream, in text and JSON, long and short flag.
        for args in [["-q"], ["--quiet"], ["-q", "-o", "json"]] {
            let r = try ezlb(["ipvs", "apply", "-c", cfg] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "", "\(args)")
            XCTAssertEqual(r.stderr, "", "\(args)")
        }
        // Without -q the converged run says so.
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout, "no changes\n")
        // Errors still reach stderr with their exit status.
        let bad = try ezlb(["ipvs", "apply", "-c", workDir + "/missing.yaml", "-q"])
        XCTAssertEqual(bad.status, 78)
        XCTAssertTrue(bad.stderr.hasPrefix("ezlb: error: "), bad.stderr)
    }

    func testEZLBConfigIsTheDefaultOfDashC() throws {
        let cfg = writeConfig(baseConfig)
        let r = try ezlb(["ipvs", "apply", "-o", "json"], env: ["EZLB_CONFIG": cfg])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.changed, true)
        // -c wins over the variable.
        let other = writeConfig("services: []\n", name: "empty.yaml")
        let r2 = try ezlb(["ipvs", "plan", "-c", cfg, "-o", "json"], env: ["EZLB_CONFIG": other])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(r2.changed, false)
    }
}

/// `--metrics-file`: Prometheus text exposition, checked by a strict parser of the format
/// (HELP/TYPE before samples, metric and label names, escapes, values, no duplicate series).
/// Without /proc (a chroot, a minimal container) the arguments still reach the parser: the
/// Swift runtime reads them from /proc/self/cmdline, ezlb from what the kernel passed to main.
final class NoProcTests: CLITestCase {
    func testArgumentsWithoutProcAreStillParsed() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            throw XCTSkip("needs root and unshare (a private mount namespace without /proc)")
        }
        let r = try command(["/usr/bin/unshare", "--mount", "--fork", "sh", "-c",
                             "umount -l /proc && exec \"$0\" ipvs apply -c /nonexistent --backend fake --state-dir \"$1\"",
                             Self.binary.path, stateDir])
        XCTAssertEqual(r.status, 78, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent: no such file"), r.stderr)
        XCTAssertFalse(r.stdout.contains("SUBCOMMANDS"), "not the help")
    }
}

final class MetricsFileTests: CLITestCase {
    struct Sample: Hashable { var name: String; var labels: [String: String]; var value: Double }

    static func parse(_ text: String) throws -> [Sample] {
        struct Bad: Error, CustomStringConvertible { var description: String }
        guard text.hasSuffix("\n") else { throw Bad(description: "no final newline") }
        func isName(_ s: Substring, colon: Bool) -> Bool {
            guard let f = s.first, f.isASCII, f.isLetter || f == "_" || (colon && f == ":") else { return false }
            return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || (colon && $0 == ":")) }
        }
        var typed = Set<String>(), helped = Set<String>(), seen = Set<String>(), out: [Sample] = []
        for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3, isName(parts[2], colon: true) else { throw Bad(description: "bad comment: \(line)") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["gauge", "counter", "untyped"].contains(parts[3]), typed.insert(String(parts[2])).inserted
                    else { throw Bad(description: "bad TYPE: \(line)") }
                } else {
                    guard helped.insert(String(parts[2])).inserted else { throw Bad(description: "second HELP: \(line)") }
                }
                continue
            }
            guard let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { throw Bad(description: "no labels: \(line)") }
            let name = line[..<brace]
            guard isName(name, colon: true), typed.contains(String(name)) else { throw Bad(description: "untyped or bad name: \(line)") }
            var labels: [String: String] = [:]
            var rest = line[line.index(after: brace)..<close]
            while !rest.isEmpty {
                guard let eq = rest.firstIndex(of: "="), isName(rest[..<eq], colon: false),
                      rest[rest.index(after: eq)...].first == "\"" else { throw Bad(description: "bad label: \(line)") }
                var i = rest.index(eq, offsetBy: 2), value = ""
                while true {
                    guard i < rest.endIndex else { throw Bad(description: "unterminated label value: \(line)") }
                    let ch = rest[i]
                    if ch == "\"" { break }
                    if ch == "\\" {
                        let n = rest.index(after: i)
                        guard n < rest.endIndex else { throw Bad(description: "bad escape: \(line)") }
                        switch rest[n] { case "\\": value += "\\"; case "\"": value += "\""; case "n": value += "\n"
                        default: throw Bad(description: "bad escape: \(line)") }
                        i = rest.index(after: n)
                        continue
                    }
                    value.append(ch)
                    i = rest.index(after: i)
                }
                guard labels.updateValue(value, forKey: String(rest[..<eq])) == nil else { throw Bad(description: "repeated label: \(line)") }
                rest = rest[rest.index(after: i)...]
                if rest.first == "," { rest = rest.dropFirst() } else if !rest.isEmpty { throw Bad(description: "bad separator: \(line)") }
            }
            let after = line[line.index(after: close)...]
            guard after.first == " ", let v = Double(after.dropFirst()) else { throw Bad(description: "bad value: \(line)") }
            guard seen.insert("\(name)\(labels.sorted { $0.key < $1.key })").inserted else { throw Bad(description: "duplicate series: \(line)") }
            out.append(Sample(name: String(name), labels: labels, value: v))
        }
        return out
    }

    func value(_ s: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        s.first { sample in sample.name == name && labels.allSatisfy { l in sample.labels[l.key] == l.value } }?.value
    }

    func testMetricsFileAfterEachRun() throws {
        let cfg = writeConfig(baseConfig)
        let path = workDir + "/prom/ezlb-ipvs.prom"
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "--metrics-file", path]).status, 0)
        var attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o644, "readable by node_exporter's user")
        var s = try Self.parse(try String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(value(s, "ezlb_last_run_success", ["command": "ipvs apply"]), 1)
        XCTAssertEqual(value(s, "ezlb_last_run_changed"), 1)
        XCTAssertGreaterThan(value(s, "ezlb_last_run_actions", ["kind": "added"]) ?? 0, 0)
        XCTAssertGreaterThan(value(s, "ezlb_last_run_timestamp_seconds") ?? 0, 1_700_000_000)
        XCTAssertEqual(value(s, "ezlb_managed_objects", ["command": "ipvs apply", "kind": "ipvs_service"]), 2)
        // Another subsystem's file counts its own objects.
        let ipam = workDir + "/prom/ezlb-ipam.prom"
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.9.0.0/24", "--owner", "c1", "--metrics-file", ipam]).status, 0)
        let si = try Self.parse(try String(contentsOfFile: ipam, encoding: .utf8))
        XCTAssertEqual(value(si, "ezlb_managed_objects", ["kind": "ipam_allocation"]), 1)
        try FileManager.default.removeItem(atPath: ipam)
        // Converged (and -q: nothing printed, metrics still written), then a failing run.
        let q = try ezlb(["ipvs", "apply", "-c", cfg, "-q"], env: ["EZLB_METRICS_FILE": path])
        XCTAssertEqual(q.stdout, "")
        s = try Self.parse(try String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(value(s, "ezlb_last_run_changed"), 0)
        XCTAssertEqual(value(s, "ezlb_last_run_actions", ["kind": "added"]), 0)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", workDir + "/missing.yaml", "--metrics-file", path]).status, 78)
        s = try Self.parse(try String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(value(s, "ezlb_last_run_exit_status"), 78)
        XCTAssertEqual(value(s, "ezlb_last_run_success"), 0)
        attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workDir + "/prom"), ["ezlb-ipvs.prom"], "no temp file left")
        // The parser refuses what the format does not allow.
        for bad in ["x{a=\"1\"} 1\n", "# TYPE x gauge\nx{a=\"1\\q\"} 1\n", "# TYPE x gauge\nx{a=\"1\"} one\n", "# TYPE x gauge\nx{a=\"1\"} 1"] {
            XCTAssertThrowsError(try Self.parse(bad), bad)
        }
    }
}
