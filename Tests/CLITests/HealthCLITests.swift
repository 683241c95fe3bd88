import EzlbCore
import EzlbState
import Foundation
import XCTest

/// Health checks end to end: real TCP/HTTP listeners on 127.0.0.1 started and
/// stopped by the test across repeated `ezlb ipvs apply` runs on the fake kernel.
final class HealthCLITests: CLITestCase {
    func config(_ backends: [String], weights: [Int]? = nil, check: String, extra: String = "", name: String = "ezlb.yaml") -> String {
        var y = """
        services:
          - name: web
            listen: 10.0.0.1:80
            scheduler: wrr
            health_check: {\(check)}

        """
        if !extra.isEmpty { y += "    \(extra)\n" }
        y += "    backends:\n"
        for (i, b) in backends.enumerated() { y += "      - {address: \"\(b)\", weight: \(weights?[i] ?? i + 2)}\n" }
        return writeConfig(y, name: name)
    }

    func weights() throws -> [String: UInt32] {
        var w: [String: UInt32] = [:]
        for s in try fakeTable() { for d in s.destinations { w[d.endpoint.description] = d.weight } }
        return w
    }

    func healthJSON() throws -> [[String: Any]] {
        let r = try ezlb(["ipvs", "health", "-c", workDir + "/ezlb.yaml", "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let services = r.json["services"] as? [[String: Any]] ?? []
        return services.flatMap { $0["backends"] as? [[String: Any]] ?? [] }
    }

    func backend(_ ep: String) throws -> [String: Any] {
        try healthJSON().first { $0["address"] as? String == ep } ?? [:]
    }

    func testTCPCountersThresholdsQuiesceAndRecovery() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        let cfg = config([a.endpoint, b.endpoint], check: "interval: 1ms, timeout: 2s, fail_count: 2, rise_count: 2")
        let r1 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(r1.actionTexts.count, 3)
        XCTAssertEqual((r1.json["health"] as? [String: Any])?["probed"] as? Int, 2)
        XCTAssertEqual(try backend(b.endpoint)["successes"] as? Int, 1)

        b.stop()
        // First failure: a counter moves, nothing else: not a change.
        let r2 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r2.status, 0, r2.stdout + r2.stderr)
        XCTAssertEqual(r2.changed, false)
        XCTAssertEqual(r2.actionTexts, [])
        var hb = try backend(b.endpoint)
        XCTAssertEqual(hb["failures"] as? Int, 1)
        XCTAssertEqual(hb["state"] as? String, "healthy")
        XCTAssertEqual(hb["last_error"] as? String, "connect: connection refused")
        XCTAssertNotNil(hb["last_probe"] as? String)

        // Second failure: fail_count reached, weight 0, shown as a change with its reason.
        let r3 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r3.status, 2)
        XCTAssertEqual(r3.actionTexts, ["~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 3 -> 0 (unhealthy: 2 failures: connect: connection refused)"])
        let action = (r3.json["actions"] as? [[String: Any]])?.first
        XCTAssertEqual(action?["reason"] as? String, "unhealthy: 2 failures: connect: connection refused")
        XCTAssertEqual(try weights(), [a.endpoint: 2, b.endpoint: 0])
        hb = try backend(b.endpoint)
        XCTAssertEqual(hb["state"] as? String, "unhealthy")
        XCTAssertNotNil(hb["since"] as? String)

        // Stays drained across runs; --no-probe keeps the stored view.
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "--detailed-exitcode"]).status, 0)
        let before = stateSnapshot()
        let np = try ezlb(["ipvs", "apply", "-c", cfg, "--no-probe", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(np.status, 0, np.stdout)
        XCTAssertEqual((np.json["health"] as? [String: Any])?["probed"] as? Int, 0)
        XCTAssertEqual(stateSnapshot(), before, "--no-probe on a converged table writes nothing")
        XCTAssertEqual(try weights()[b.endpoint], 0)
        let text = try ezlb(["ipvs", "health", "-c", cfg])
        XCTAssertTrue(text.stdout.contains("\(b.endpoint)  unhealthy  successes 0  failures 3"), text.stdout)
        XCTAssertTrue(text.stdout.contains("error: connect: connection refused"), text.stdout)
        XCTAssertTrue(text.stdout.hasSuffix("2 checked backends: 1 healthy, 1 unhealthy, 0 not probed yet\n"), text.stdout)

        // A hand edit is repaired to the drained weight, not the configured one.
        try withFakeKernel { k in try k.updateDestination(.inet(.tcp, endpoint("10.0.0.1:80")), RealServer(endpoint: endpoint(b.endpoint), weight: 9)) }
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "--no-probe"]).stdout,
                       "~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 9 -> 0 (unhealthy: 3 failures: connect: connection refused)\napplied: 0 added, 1 changed, 0 deleted\n")

        // Back up: one success is not enough (rise_count 2), the second restores the weight.
        try b.start()
        let r5 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r5.changed, false, r5.stdout)
        XCTAssertEqual(try weights()[b.endpoint], 0)
        let r6 = try ezlb(["ipvs", "apply", "-c", cfg])
        XCTAssertEqual(r6.stdout, "~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 0 -> 3 (healthy: 2 successes)\napplied: 0 added, 1 changed, 0 deleted\n")
        XCTAssertEqual(try weights(), [a.endpoint: 2, b.endpoint: 3])
    }

    func testWeightEditedWhileDrainedComesBackWithTheNewWeight() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        let check = "interval: 1ms, fail_count: 1, rise_count: 1"
        let cfg = config([a.endpoint, b.endpoint], check: check)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        b.stop()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        XCTAssertEqual(try weights()[b.endpoint], 0)
        let edited = config([a.endpoint, b.endpoint], weights: [2, 7], check: check)
        let r = try ezlb(["ipvs", "apply", "-c", edited, "-o", "json"])
        XCTAssertEqual(r.changed, false, "still drained: the edit changes nothing in the kernel")
        XCTAssertEqual(try weights()[b.endpoint], 0)
        try b.start()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", edited]).stdout,
                       "~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 0 -> 7 (healthy: 1 success)\napplied: 0 added, 1 changed, 0 deleted\n")
    }

    func testHTTPStatusPathAndHostHeader() throws {
        let a = try LoopbackServer(.http), b = try LoopbackServer(.http)
        let cfg = config([a.endpoint, b.endpoint],
                         check: "type: http, http_path: /healthz, http_host: web.example, http_expected_status: 200, interval: 1ms, fail_count: 1, rise_count: 1")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let req = try XCTUnwrap(b.requests.first)
        XCTAssertTrue(req.hasPrefix("GET /healthz HTTP/1.1\r\n"), req)
        XCTAssertTrue(req.contains("\r\nHost: web.example\r\n"), req)
        b.status = 503
        let r = try ezlb(["ipvs", "apply", "-c", cfg])
        XCTAssertEqual(r.stdout, "~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 3 -> 0 (unhealthy: 1 failure: http: status 503, expected 200)\napplied: 0 added, 1 changed, 0 deleted\n")
        b.status = 200
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout,
                       "~ destination tcp 10.0.0.1:80 -> \(b.endpoint) weight 0 -> 3 (healthy: 1 success)\napplied: 0 added, 1 changed, 0 deleted\n")
        // Without http_host the backend's own address is the Host.
        let plain = config([a.endpoint], check: "type: http, interval: 1ms", name: "plain.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", plain]).status, 0)
        XCTAssertTrue(a.requests.last?.contains("\r\nHost: \(a.endpoint)\r\n") ?? false, a.requests.last ?? "")
        // A TCP listener that is not HTTP fails an http probe.
        let notHTTP = try LoopbackServer(.tcp)
        let c2 = config([notHTTP.endpoint], check: "type: http, interval: 1ms, fail_count: 1, timeout: 2s", name: "c2.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", c2]).status, 0)
        let h = try ezlb(["ipvs", "health", "-c", c2]).stdout
        // Closed before a status line, or reset while the request was sent: either way not HTTP.
        XCTAssertTrue(h.contains("unhealthy") && h.contains("error: http: "), h)
    }

    func testRemoveModeAndSorryServer() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        let sorry = "127.0.0.1:9"
        let cfg = config([a.endpoint, b.endpoint], check: "interval: 1ms, fail_count: 1, rise_count: 1, on_unhealthy: remove",
                         extra: "sorry_server: \"\(sorry)\"")
        let r1 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertFalse(r1.actionTexts.contains { $0.contains(sorry) }, "no sorry server while backends are up")
        a.stop()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout,
                       "- destination tcp 10.0.0.1:80 -> \(a.endpoint) (unhealthy: 1 failure: connect: connection refused)\napplied: 0 added, 0 changed, 1 deleted\n")
        b.stop()
        let r3 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(Set(r3.actionTexts), [
            "+ destination tcp 10.0.0.1:80 -> \(sorry) masq weight 1 (sorry server: all 2 backends are unhealthy)",
            "- destination tcp 10.0.0.1:80 -> \(b.endpoint) (unhealthy: 1 failure: connect: connection refused)",
        ])
        XCTAssertEqual(r3.actionTexts.first?.hasPrefix("+"), true, "the sorry server goes in before the last backend leaves")
        XCTAssertEqual(try weights(), [sorry: 1], "the service stays, with its sorry server")
        XCTAssertTrue(try ezlb(["ipvs", "health", "-c", cfg]).stdout.contains("sorry server \(sorry) in use"))
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"]).changed, false)
        try a.start()
        let r4 = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(Set(r4.actionTexts), [
            "+ destination tcp 10.0.0.1:80 -> \(a.endpoint) masq weight 2 (healthy: 1 success)",
            "- destination tcp 10.0.0.1:80 -> \(sorry) (sorry server no longer needed: 1 healthy)",
        ])
        XCTAssertEqual(try weights(), [a.endpoint: 2])
    }

    func testTransitionWithoutKernelChangeIsAHealthAction() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        // b is configured at weight 0: draining it changes nothing in the kernel.
        let cfg = config([a.endpoint, b.endpoint], weights: [1, 0], check: "interval: 1ms, fail_count: 1, rise_count: 1")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        b.stop()
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r.status, 2, "a health transition is a change")
        XCTAssertEqual(r.actionTexts, ["~ health tcp 10.0.0.1:80 -> \(b.endpoint) healthy -> unhealthy (1 failure: connect: connection refused)"])
        let action = try XCTUnwrap((r.json["actions"] as? [[String: Any]])?.first)
        XCTAssertEqual(action["object"] as? String, "health")
        XCTAssertEqual(action["name"] as? String, "web")
        XCTAssertEqual(action["from"] as? String, "healthy")
        XCTAssertEqual(action["to"] as? String, "unhealthy")
        XCTAssertEqual(action["done"] as? Bool, true)
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg, "--detailed-exitcode"]).status, 0, "still down: no change")
        XCTAssertEqual(try weights(), [a.endpoint: 1, b.endpoint: 0])
        try b.start()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout,
                       "~ health tcp 10.0.0.1:80 -> \(b.endpoint) unhealthy -> healthy (1 success)\napplied: 0 added, 1 changed, 0 deleted\n")
    }

    func testAllDownQuiescedServiceStaysWithoutSorryServer() throws {
        let a = try LoopbackServer(.tcp)
        let cfg = config([a.endpoint], check: "interval: 1ms, fail_count: 1")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        a.stop()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let t = try fakeTable()
        XCTAssertEqual(t.count, 1, "the service stays")
        XCTAssertEqual(t.first?.destinations.map(\.weight), [0])
    }

    func testUDPServicesAreNotProbedByDefault() throws {
        let closed = try LoopbackServer(.tcp)
        closed.stop() // a TCP probe to this port would fail
        let cfg = writeConfig("""
        services:
          - name: dns
            listen: 10.0.0.3:53
            protocol: udp
            health_check: {enabled: true, interval: 1ms, fail_count: 1}
            backends: [{address: "\(closed.endpoint)", weight: 4}]
        """)
        for _ in 0..<3 { XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0) }
        XCTAssertEqual(try weights()[closed.endpoint], 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDir + "/health.json"))
        let h = try ezlb(["ipvs", "health", "-c", cfg])
        XCTAssertTrue(h.stdout.hasPrefix("dns udp 10.0.0.3:53: no health check\n"), h.stdout)

        // An explicit tcp probe on a udp service is honoured, with a warning.
        let explicit = writeConfig("""
        services:
          - name: dns
            listen: 10.0.0.3:53
            protocol: udp
            health_check: {type: tcp, interval: 1ms, fail_count: 1}
            backends: [{address: "\(closed.endpoint)", weight: 4}]
        """, name: "explicit.yaml")
        let r = try ezlb(["ipvs", "apply", "-c", explicit])
        XCTAssertTrue(r.stderr.contains("services[0].health_check.type: tcp probes a udp service's backends over TCP"), r.stderr)
        XCTAssertEqual(try weights()[closed.endpoint], 0)
    }

    func testIntervalSkipsAndDryRunDoesNotPersist() throws {
        let a = try LoopbackServer(.tcp)
        let cfg = config([a.endpoint], check: "interval: 1h, fail_count: 1")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        a.stop()
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.json["health"] as? [String: Int], ["probed": 0, "skipped": 1, "unhealthy": 0, "transitions": 0])
        XCTAssertEqual(r.changed, false)

        let often = config([a.endpoint], check: "interval: 1ms, fail_count: 1", name: "often.yaml")
        let before = stateSnapshot()
        let d = try ezlb(["ipvs", "apply", "-c", often, "--dry-run", "-o", "json"])
        XCTAssertEqual(d.actionTexts, ["~ destination tcp 10.0.0.1:80 -> \(a.endpoint) weight 2 -> 0 (unhealthy: 1 failure: connect: connection refused)"])
        XCTAssertEqual(d.changed, true)
        let p = try ezlb(["ipvs", "plan", "-c", often])
        XCTAssertTrue(p.stdout.hasSuffix("plan: 0 to add, 1 to change, 0 to delete\n"), p.stdout)
        XCTAssertEqual(stateSnapshot(), before, "a dry run probes but stores nothing")
        XCTAssertEqual(try ezlb(["ipvs", "plan", "-c", often, "--no-probe"]).stdout, "no changes\n")
    }

    func testExecProbeEnvironmentExitStatusAndTimeout() throws {
        let flag = workDir + "/down"
        let script = workDir + "/check.sh"
        try """
        #!/bin/sh
        echo "$EZLB_CHECK_SERVICE $EZLB_CHECK_ADDRESS $EZLB_CHECK_PORT $EZLB_CHECK_ENDPOINT" >> \(workDir)/calls
        if [ -e \(flag) ]; then echo "backend said no"; exit 3; fi
        exit 0
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let cfg = config(["192.0.2.10:8080"], check: "type: exec, command: \(script), interval: 1ms, fail_count: 1, rise_count: 1")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: workDir + "/calls", encoding: .utf8), "web 192.0.2.10 8080 192.0.2.10:8080\n")
        XCTAssertTrue(FileManager.default.createFile(atPath: flag, contents: nil))
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).stdout,
                       "~ destination tcp 10.0.0.1:80 -> 192.0.2.10:8080 weight 2 -> 0 (unhealthy: 1 failure: exec: exit status 3: backend said no)\napplied: 0 added, 1 changed, 0 deleted\n")

        // A hanging command is killed at the timeout, with whatever it started.
        let hang = config(["192.0.2.11:8080"], check: "type: exec, command: /bin/sh, args: [-c, 'sleep 30 & sleep 30'], timeout: 300ms, fail_count: 1, interval: 1ms", name: "hang.yaml")
        let t0 = Date()
        let r = try ezlb(["ipvs", "apply", "-c", hang, "-o", "json"])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(try ezlb(["ipvs", "health", "-c", hang]).stdout.contains("error: exec: killed after the 300ms timeout"))
        let missing = config(["192.0.2.12:8080"], check: "type: exec, command: /nonexistent/check, fail_count: 1, interval: 1ms", name: "missing.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", missing]).status, 0)
        XCTAssertTrue(try ezlb(["ipvs", "health", "-c", missing]).stdout.contains("error: exec: cannot run '/nonexistent/check': no such file or directory"))
    }

    func testManyBackendsAreProbedConcurrently() throws {
        // 40 backends whose probe takes 400 ms each (sequentially 16 s).
        var backends: [String] = []
        for i in 0..<40 { backends.append("192.0.2.\(i + 1):8080") }
        let cfg = config(backends, weights: Array(repeating: 1, count: 40),
                         check: "type: exec, command: /bin/sleep, args: ['0.4'], timeout: 5s, interval: 1ms")
        let t0 = Date()
        let r = try ezlb(["ipvs", "apply", "-c", cfg, "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual((r.json["health"] as? [String: Any])?["probed"] as? Int, 40)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 8, "probes run in parallel")
        XCTAssertEqual(try healthJSON().filter { $0["successes"] as? Int == 1 }.count, 40)
    }

    func testStaleRecordsDroppedAndCorruptFileRefused() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        let cfg = config([a.endpoint, b.endpoint], check: "interval: 1ms")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let s1 = try StateDirectory(path: stateDir).readHealth()
        XCTAssertEqual(s1.records.count, 2)
        let smaller = config([a.endpoint], check: "interval: 1ms", name: "smaller.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", smaller]).status, 0)
        XCTAssertEqual(try StateDirectory(path: stateDir).readHealth().records.keys.map(\.backend.description), [a.endpoint])
        let off = config([a.endpoint], check: "enabled: false", name: "off.yaml")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", off]).status, 0)
        XCTAssertEqual(try StateDirectory(path: stateDir).readHealth().records.count, 0)

        try "{\"schema\":1,\"kind\":\"health\",\"data\":{\"backends\":[{]}}".write(toFile: stateDir + "/health.json", atomically: true, encoding: .utf8)
        let r = try ezlb(["ipvs", "apply", "-c", cfg])
        XCTAssertEqual(r.status, 78)
        XCTAssertTrue(r.stderr.contains("health.json: state file is corrupted"), r.stderr)
        XCTAssertTrue(r.stderr.contains("delete it"), r.stderr)

        // Well-formed JSON with absurd values (hand edits): refused the same way, not an overflow trap.
        for bad in ["\"successes\":9223372036854775807,\"failures\":0", "\"successes\":0,\"failures\":-1",
                    "\"successes\":0,\"failures\":0,\"last_probe\":1e300"] {
            try "{\"schema\":1,\"kind\":\"health\",\"data\":{\"backends\":[{\"service\":\"web\",\"backend\":\"\(a.endpoint)\",\"healthy\":true,\(bad)}]}}"
                .write(toFile: stateDir + "/health.json", atomically: true, encoding: .utf8)
            for args in [["ipvs", "apply", "-c", cfg], ["ipvs", "health", "-c", cfg]] {
                let r2 = try ezlb(args)
                XCTAssertEqual(r2.status, 78, "\(args) with \(bad): \(r2.stderr)")
                XCTAssertTrue(r2.stderr.contains("health.json: state file is corrupted"), r2.stderr)
            }
        }
    }

    func testSNATSyncGetsRulesOnlyForHealthyBackends() throws {
        let a = try LoopbackServer(.tcp), b = try LoopbackServer(.tcp)
        let cfg = config([a.endpoint, b.endpoint], check: "interval: 1ms, fail_count: 1, rise_count: 1", extra: "full_nat: true")
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg]).status, 0)
        XCTAssertTrue(try ezlb(["snat", "show"]).stdout.contains("-d 127.0.0.1/32 -p tcp -m tcp --dport \(b.port)"))
        b.stop()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        let s = try ezlb(["snat", "sync", "-c", cfg, "-o", "json"])
        XCTAssertEqual(s.changed, true)
        let show = try ezlb(["snat", "show"]).stdout
        XCTAssertFalse(show.contains("--dport \(b.port)"), show)
        XCTAssertTrue(show.contains("--dport \(a.port)"), show)
        try b.start()
        XCTAssertEqual(try ezlb(["ipvs", "apply", "-c", cfg]).status, 0)
        XCTAssertEqual(try ezlb(["snat", "sync", "-c", cfg, "-o", "json"]).changed, true)
        XCTAssertTrue(try ezlb(["snat", "show"]).stdout.contains("--dport \(b.port)"))
    }
}
