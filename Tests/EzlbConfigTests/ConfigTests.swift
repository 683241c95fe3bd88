import EzlbCore
@testable import EzlbConfig
import XCTest

final class ConfigTests: XCTestCase {
    /// upstream easzlab/ezlb examples/ezlb.yaml, verbatim.
    static let upstream = """
    global:
      log_level: info

    services:
      - name: web-service
        listen: 10.0.0.1:80
        protocol: tcp
        scheduler: wrr
        health_check:
          enabled: true
          interval: 5s
          timeout: 3s
          fail_count: 3
          rise_count: 2
        backends:
          - address: 192.168.1.10:8080
            weight: 5
          - address: 192.168.1.11:8080
            weight: 3
          - address: 192.168.1.12:8080
            weight: 2

      - name: api-service
        listen: 10.0.0.1:443
        protocol: tcp
        scheduler: wlc
        health_check:
          enabled: true
          type: http
          interval: 10s
          timeout: 2s
          fail_count: 3
          rise_count: 2
          http_path: /healthz
          http_expected_status: 200
        backends:
          - address: 192.168.2.10:8443
            weight: 1
          - address: 192.168.2.11:8443
            weight: 1

      - name: dns-service
        listen: 10.0.0.3:53
        protocol: udp
        scheduler: rr
        full_nat: true           # Enable FullNAT (IPVS NAT + iptables SNAT)
        snat_ip: 10.0.0.3        # Source IP for SNAT; omit for MASQUERADE
        health_check:
          enabled: false
        backends:
          - address: 192.168.4.10:53
            weight: 1
    """

    func testUpstreamExampleLoadsUnchanged() throws {
        let c = try EzlbConfiguration.parse(Self.upstream, file: "ezlb.yaml")
        XCTAssertEqual(c.services.map(\.name), ["web-service", "api-service", "dns-service"])
        XCTAssertEqual(c.unknownKeys, [])
        XCTAssertTrue(c.unusedKeys.contains("global"))
        let web = c.services[0]
        XCTAssertEqual(web.key, .inet(.tcp, Endpoint(address: IPAddress("10.0.0.1")!, port: 80)))
        XCTAssertEqual(web.scheduler, .wrr)
        XCTAssertEqual(web.backends.map(\.weight), [5, 3, 2])
        XCTAssertEqual(c.services[1].healthCheck.type, .http)
        XCTAssertEqual(c.services[1].healthCheck.httpPath, "/healthz")
        XCTAssertEqual(c.services[1].healthCheck.interval, 10)
        XCTAssertEqual(c.services[2].fullNAT, true)
        XCTAssertEqual(c.services[2].snatIP, IPAddress("10.0.0.3"))
    }

    func testHealthCheckDefaultsByProtocolAndAdditions() throws {
        let c = try EzlbConfiguration.parse("""
        services:
          - {name: t, listen: '10.0.0.1:80', health_check: {enabled: true}}
          - {name: u, listen: '10.0.0.1:53', protocol: udp, health_check: {enabled: true}}
          - {name: s, listen: '10.0.0.1:3868', protocol: sctp}
          - {name: f, fwmark: 3, family: ipv4}
          - {name: off, listen: '10.0.0.2:80', health_check: {enabled: false}}
          - {name: none, listen: '10.0.0.3:80', health_check: {type: none}}
          - name: x
            listen: '10.0.0.4:80'
            sorry_server: '10.9.9.9:8080'
            health_check: {type: exec, command: /usr/local/bin/check, args: [--quick, "2"], on_unhealthy: remove, timeout: 250ms}
          - name: h
            listen: '10.0.0.5:80'
            forward: route
            sorry_server: 10.9.9.9
            health_check: {type: http, http_host: www.example, http_path: /hz, http_expected_status: 204}
          - {name: ut, listen: '10.0.0.1:54', protocol: udp, health_check: {type: tcp}}
          - {name: so, listen: '10.0.0.6:80', sorry_server: '10.9.9.9:80', health_check: {enabled: false}}
        """, file: "f.yaml")
        let byName = Dictionary(uniqueKeysWithValues: c.services.map { ($0.name, $0) })
        XCTAssertEqual(byName["t"]?.healthSpec?.kind, .tcp, "tcp services default to a tcp probe")
        XCTAssertEqual(byName["t"]?.healthSpec?.failCount, 3)
        XCTAssertNil(byName["u"]?.healthSpec, "udp services are not probed by default")
        XCTAssertNil(byName["s"]?.healthSpec, "nor sctp")
        XCTAssertNil(byName["f"]?.healthSpec, "nor fwmark")
        XCTAssertNil(byName["off"]?.healthSpec)
        XCTAssertNil(byName["none"]?.healthSpec)
        let x = byName["x"]?.healthSpec
        XCTAssertEqual(x?.kind, .exec)
        XCTAssertEqual(x?.command, ["/usr/local/bin/check", "--quick", "2"])
        XCTAssertEqual(x?.onUnhealthy, .remove)
        XCTAssertEqual(x?.timeout, 0.25)
        XCTAssertEqual(x?.sorryServer, RealServer(endpoint: Endpoint(address: IPAddress("10.9.9.9")!, port: 8080)))
        let h = byName["h"]?.healthSpec
        XCTAssertEqual(h?.httpHost, "www.example")
        XCTAssertEqual(h?.httpPath, "/hz")
        XCTAssertEqual(h?.httpExpectedStatus, 204)
        XCTAssertEqual(h?.sorryServer?.endpoint.port, 80, "route keeps the service port")
        XCTAssertEqual(h?.sorryServer?.forward, .route)
        XCTAssertEqual(byName["ut"]?.healthSpec?.kind, .tcp, "an explicit tcp probe on udp is kept...")
        XCTAssertEqual(c.warnings, [
            "f.yaml: services[8].health_check.type: tcp probes a udp service's backends over TCP; fine for servers that also listen on TCP (DNS), otherwise use exec or none",
            "f.yaml: services[9].sorry_server: unused: the service has no health check (enabled: false, or type none)",
        ], "...with a warning")
        XCTAssertFalse(c.unusedKeys.contains("services[].health_check"), "health checks are used now")
        XCTAssertEqual(c.unknownKeys, [])
    }

    func testShippedExampleLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/ezlb.yaml").path
        let c = try EzlbConfiguration.load(path: path)
        XCTAssertEqual(c.services.count, 6)
        XCTAssertEqual(c.unknownKeys, [])
    }

    func testIPv6IsCanonicalised() throws {
        let a = try EzlbConfiguration.parse("""
        services:
          - name: a
            listen: "[2001:DB8:0::1]:80"
            backends: [{address: "[2001:db8:0:0::a]:80"}]
        """, file: "f")
        XCTAssertEqual(a.services[0].key.description, "tcp [2001:db8::1]:80")
        XCTAssertEqual(a.services[0].backends[0].endpoint.description, "[2001:db8::a]:80")
        // Two spellings of one key are a duplicate.
        XCTAssertThrowsError(try EzlbConfiguration.parse("""
        services:
          - {name: a, listen: "[2001:db8::1]:80"}
          - {name: b, listen: "[2001:DB8:0:0::1]:80"}
        """, file: "f")) { e in
            XCTAssertEqual((e as? ConfigError)?.keyPath, "services[1].listen")
        }
    }

    func testAdditions() throws {
        let c = try EzlbConfiguration.parse("""
        services:
          - name: fw
            fwmark: 12
            family: ipv6
            scheduler: mh
            sched_flags: mh-port,mh-fallback
            persistence: 5m
            persistence_netmask: 64
            forward: tunnel
            backends:
              - {address: "2001:db8::5", weight: 0}
              - {address: "[2001:db8::6]:0", weight: 65535, upper_threshold: 10, lower_threshold: 5}
          - name: v4
            listen: 10.0.0.9:443
            protocol: SCTP
            scheduler: sh
            sched_flags: [sh-port]
            persistence: 60
            persistence_netmask: 255.255.255.0
            forward: route
            backends:
              - {address: 192.168.1.1}
              - {address: "192.168.1.2:443", forward: tunnel}
        """, file: "f")
        let fw = c.services[0].ipvsState
        XCTAssertEqual(fw.key, .fwmark(12, .ipv6))
        XCTAssertEqual(fw.service.flags, IPVSFlags.persistent | IPVSFlags.sched1 | IPVSFlags.sched2)
        XCTAssertEqual(fw.service.timeout, 300)
        XCTAssertEqual(fw.service.netmask, 64)
        XCTAssertEqual(fw.destinations.map(\.weight), [0, 65535])
        XCTAssertEqual(fw.destinations.map(\.forward), [.tunnel, .tunnel])
        let v4 = c.services[1].ipvsState
        XCTAssertEqual(v4.key.description, "sctp 10.0.0.9:443")
        XCTAssertEqual(v4.service.netmask, 0xFFFF_FF00)
        XCTAssertEqual(v4.destinations.map(\.endpoint.port), [443, 443], "route/tunnel backends take the service port")
        XCTAssertEqual(v4.destinations.map(\.forward), [.route, .tunnel])
    }

    func testAllSchedulersAccepted() throws {
        for s in ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"] {
            let c = try EzlbConfiguration.parse("services: [{name: a, listen: '10.0.0.1:80', scheduler: \(s)}]", file: "f")
            XCTAssertEqual(c.services[0].scheduler.rawValue, s)
        }
    }

    func testUnknownKeysAreReported() throws {
        let c = try EzlbConfiguration.parse("""
        services:
          - name: a
            listen: 10.0.0.1:80
            schedular: rr
            backends: [{address: "10.1.1.1:80", wieght: 3}]
        extra_section: {x: 1}
        """, file: "f")
        XCTAssertEqual(Set(c.unknownKeys), ["services[0].schedular", "services[0].backends[0].wieght", "extra_section"])
    }

    func testEmptyConfigMeansNoServices() throws {
        XCTAssertEqual(try EzlbConfiguration.parse("", file: "f").services, [])
        XCTAssertEqual(try EzlbConfiguration.parse("services: []", file: "f").services, [])
    }

    /// Each bad input names the key path, the value and why.
    func testValidationErrors() {
        let cases: [(String, String, String)] = [
            ("services: [{name: a, listen: '10.0.0.1:70000'}]", "services[0].listen", "out of range"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {timeout: 99999999999999999999h}}]", "services[0].health_check.timeout", "at most 168h"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {interval: 169h}}]", "services[0].health_check.interval", "at most 168h"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {type: http, http_path: \"/x\\r\\nX-Evil: 1\"}}]", "services[0].health_check.http_path", "control characters"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {type: http, http_path: '/a b'}}]", "services[0].health_check.http_path", "spaces"),
            ("services: [{name: a, listen: '10.0.0.1:0'}]", "services[0].listen", "out of range"),
            ("services: [{name: a, listen: '10.0.0.300:80'}]", "services[0].listen", "not an IP address"),
            ("services: [{name: a, listen: '10.0.0.1'}]", "services[0].listen", "expected IP:port"),
            ("services: [{name: a, listen: '10.0.0.1:80', protocol: icmp}]", "services[0].protocol", "tcp, udp or sctp"),
            ("services: [{name: a, listen: '10.0.0.1:80', scheduler: fastest}]", "services[0].scheduler", "unknown scheduler"),
            ("services: [{name: a, listen: '10.0.0.1:80', scheduler: rr, sched_flags: [sh-port]}]", "services[0].sched_flags[0]", "only valid with scheduler sh"),
            ("services: [{name: a, listen: '10.0.0.1:80'}, {name: a, listen: '10.0.0.1:81'}]", "services[1].name", "duplicate service name"),
            ("services: [{name: a, listen: '10.0.0.1:80'}, {name: b, listen: '10.0.0.1:80'}]", "services[1].listen", "duplicate service"),
            ("services: [{name: a, listen: '10.0.0.1:80', backends: [{address: '10.1.1.1:80'}, {address: '10.1.1.1:80'}]}]", "services[0].backends[1].address", "duplicate backend"),
            ("services: [{name: a, listen: '10.0.0.1:80', backends: [{address: '[2001:db8::1]:80'}]}]", "services[0].backends[0].address", "is ipv6 but the service is ipv4"),
            ("services: [{name: a, listen: '10.0.0.1:80', backends: [{address: '10.1.1.1:80', weight: 70000}]}]", "services[0].backends[0].weight", "between 0 and 65535"),
            ("services: [{name: a, listen: '10.0.0.1:80', backends: [{address: '10.1.1.1:80', weight: -1}]}]", "services[0].backends[0].weight", "between 0 and 65535"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {interval: 0s}}]", "services[0].health_check.interval", "greater than zero"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {timeout: -3s}}]", "services[0].health_check.timeout", "duration"),
            ("services: [{name: a, listen: '10.0.0.1:80', snat_ip: 10.0.0.5}]", "services[0].snat_ip", "requires full_nat"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {type: exec}}]", "services[0].health_check.command", "required with type exec"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {command: /bin/true}}]", "services[0].health_check.command", "only used with type exec"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {args: [x]}}]", "services[0].health_check.args", "requires command"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {http_host: a.example}}]", "services[0].health_check.http_host", "only used with type http"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {type: http, http_host: 'a b'}}]", "services[0].health_check.http_host", "host name"),
            ("services: [{name: a, listen: '10.0.0.1:80', health_check: {on_unhealthy: delete}}]", "services[0].health_check.on_unhealthy", "quiesce or remove"),
            ("services: [{name: a, listen: '10.0.0.1:80', sorry_server: '[2001:db8::1]:80'}]", "services[0].sorry_server", "is ipv6 but the service is ipv4"),
            ("services: [{name: a, listen: '10.0.0.1:80', sorry_server: '10.1.1.1:80', backends: [{address: '10.1.1.1:80'}]}]", "services[0].sorry_server", "also a backend"),
            ("services: [{name: a, listen: '10.0.0.1:80', forward: route, sorry_server: '10.1.1.1:81'}]", "services[0].sorry_server", "keeps the service port"),
            ("services: [{name: a, fwmark: 3, family: ipv4, health_check: {type: tcp}, backends: [{address: 10.1.1.1}]}]", "services[0].backends[0].address", "needs the backend's port"),
            ("services: [{name: a, listen: '10.0.0.1:80', full_nat: true, snat_ip: banana}]", "services[0].snat_ip", "not an IP address"),
            ("services: [{name: a, fwmark: 5}]", "services[0].family", "required with fwmark"),
            ("services: [{name: a, fwmark: 5, family: ipv4, listen: '10.0.0.1:80'}]", "services[0].listen", "not allowed with fwmark"),
            ("services: [{name: a, listen: '10.0.0.1:80', persistence_netmask: 24}]", "services[0].persistence_netmask", "requires persistence"),
            ("services: [{name: a, listen: '10.0.0.1:80', persistence: 0}]", "services[0].persistence", "between 1"),
            ("services: [{name: a, listen: '10.0.0.1:80', persistence: 60, persistence_netmask: 255.0.255.0}]", "services[0].persistence_netmask", "contiguous"),
            ("services: [{name: a, listen: '10.0.0.1:80', forward: route, backends: [{address: '10.1.1.1:8080'}]}]", "services[0].backends[0].address", "keeps the service port"),
            ("services: [{name: a, listen: '10.0.0.1:80', backends: [{address: '10.1.1.1:80', upper_threshold: 5, lower_threshold: 9}]}]", "services[0].backends[0].lower_threshold", "must not exceed"),
            ("services: [{listen: '10.0.0.1:80'}]", "services[0].name", "is required"),
            ("services: {name: a}", "services", "expected a list"),
            ("services: [{name: a, listen: '10.0.0.1:80', full_nat: maybe}]", "services[0].full_nat", "true or false"),
            ("services: [{name: a, listen: '10.0.0.1:80', forward: teleport}]", "services[0].forward", "masq, route or tunnel"),
        ]
        for (yaml, path, why) in cases {
            XCTAssertThrowsError(try EzlbConfiguration.parse(yaml, file: "t.yaml"), yaml) { e in
                guard let ce = e as? ConfigError else { return XCTFail("\(yaml): \(e)") }
                XCTAssertEqual(ce.keyPath, path, yaml)
                XCTAssertTrue(ce.description.contains(why), "\(ce.description) should contain \(why)")
                XCTAssertTrue(ce.description.hasPrefix("t.yaml: "), ce.description)
                XCTAssertFalse(ce.description.contains("\n"))
            }
        }
    }

    func testYAMLSyntaxErrorHasPosition() {
        XCTAssertThrowsError(try EzlbConfiguration.parse("services:\n  - name: [a\n", file: "t.yaml")) { e in
            let d = (e as? ConfigError)?.description ?? ""
            XCTAssertTrue(d.hasPrefix("t.yaml: line "), d)
            XCTAssertFalse(d.contains("\n"))
        }
    }

    func testAnchorsAliasesAndQuoting() throws {
        let c = try EzlbConfiguration.parse("""
        backends: &pool
          - {address: "10.1.1.1:80", weight: 2}
          - address: 10.1.1.2:80
        services:
          - name: "null"
            listen: 10.0.0.1:80
            backends: *pool
          - name: b
            listen: '10.0.0.2:80'
            backends: *pool
        """, file: "f")
        XCTAssertEqual(c.services.map(\.name), ["null", "b"], "a quoted null is a string")
        XCTAssertEqual(c.services[1].backends.map(\.weight), [2, 1])
        XCTAssertEqual(c.unknownKeys, ["backends"])
    }

    func testDuplicateKeysAndExtraDocumentsAreErrors() {
        for (yaml, why) in [("services: []\nservices: []\n", "duplicate key 'services'"),
                            ("services: []\n---\nservices: []\n", "single document"),
                            ("services: [{name: a, name: b}]\n", "duplicate key 'name'"),
                            ("services: *nope\n", "unknown alias")] {
            XCTAssertThrowsError(try EzlbConfiguration.parse(yaml, file: "t.yaml"), yaml) { e in
                let d = (e as? ConfigError)?.description ?? "\(e)"
                XCTAssertTrue(d.hasPrefix("t.yaml: line "), d)
                XCTAssertTrue(d.contains(why), d)
            }
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try EzlbConfiguration.load(path: "/nonexistent/ezlb.yaml")) { e in
            XCTAssertEqual((e as? ConfigError)?.description, "/nonexistent/ezlb.yaml: no such file (pass -c PATH)")
        }
    }

    /// Duplicate backends are found in short lists (looked through) and long ones (indexed
    /// from the 17th backend on), naming both positions.
    func testDuplicateBackendsInShortAndLongLists() {
        for (n, dup, of) in [(3, 2, 0), (16, 15, 3), (17, 16, 3), (40, 39, 20), (40, 39, 2)] {
            var items = (0..<n).map { "{address: '10.1.1.\($0 + 1):80'}" }
            items[dup] = "{address: '10.1.1.\(of + 1):80'}"
            let yaml = "services: [{name: a, listen: '10.0.0.1:80', backends: [\(items.joined(separator: ", "))]}]"
            XCTAssertThrowsError(try EzlbConfiguration.parse(yaml, file: "t.yaml"), "\(n)") { e in
                XCTAssertEqual((e as? ConfigError)?.description,
                               "t.yaml: services[0].backends[\(dup)].address: '10.1.1.\(of + 1):80': duplicate backend (also backends[\(of)])")
            }
            items[dup] = "{address: '10.1.2.1:80'}"
            let ok = "services: [{name: a, listen: '10.0.0.1:80', backends: [\(items.joined(separator: ", "))]}]"
            XCTAssertEqual(try EzlbConfiguration.parse(ok, file: "t.yaml").services.first?.backends.count, n)
        }
    }

    func testUnreadableFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ezlb-read-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try EzlbConfiguration.load(path: dir)) { e in
            XCTAssertEqual((e as? ConfigError)?.description, "\(dir): cannot read: not a regular file (a directory)")
        }
        let bad = dir + "/latin1.yaml"
        XCTAssertTrue(FileManager.default.createFile(atPath: bad, contents: Data([0x73, 0x3a, 0x20, 0xe9, 0x0a])))
        XCTAssertThrowsError(try EzlbConfiguration.load(path: bad)) { e in
            XCTAssertEqual((e as? ConfigError)?.description, "\(bad): not UTF-8 text")
        }
        // A file larger than its first read buffer, and an empty one.
        let big = dir + "/big.yaml"
        let text = "services: []\n" + String(repeating: "# comment line\n", count: 2_000)
        XCTAssertTrue(FileManager.default.createFile(atPath: big, contents: Data(text.utf8)))
        XCTAssertEqual(try EzlbConfiguration.readText(path: big), text)
        let empty = dir + "/empty.yaml"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertEqual(try EzlbConfiguration.readText(path: empty), "")
    }

    func testDurations() {
        XCTAssertEqual(Duration.parse("5s"), 5)
        XCTAssertEqual(Duration.parse("300ms"), 0.3)
        XCTAssertEqual(Duration.parse("1m30s"), 90)
        XCTAssertEqual(Duration.parse("2h"), 7200)
        XCTAssertNil(Duration.parse("5"))
        XCTAssertNil(Duration.parse("-5s"))
        XCTAssertNil(Duration.parse("5x"))
        XCTAssertFalse(Duration.isTooLong(168 * 3600))
        XCTAssertTrue(Duration.isTooLong(168 * 3600 + 1))
        XCTAssertTrue(Duration.isTooLong(Duration.parse(String(repeating: "9", count: 400) + "s")!), "an infinite value is too long")
    }
}
