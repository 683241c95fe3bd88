@testable import EzlbConfig
import Foundation
import XCTest

final class RaftConfigTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ezlb-raftcfg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    var file: String { dir + "/config.yaml" }

    func parse(_ yaml: String, _ o: RaftOverrides = RaftOverrides(), joining: Bool = false) throws -> RaftSettings {
        try RaftSettings.parse(yaml, file: file, overrides: o, joining: joining)
    }

    func error(_ yaml: String, _ o: RaftOverrides = RaftOverrides(), joining: Bool = false) -> String {
        do { _ = try parse(yaml, o, joining: joining); return "no error" } catch { return "\(error)" }
    }

    /// The seed's config.yaml (seeds/003), verbatim.
    let seed = """
    # Node Configuration
    node:
      id: "node1"                      # Unique node ID
      raft_addr: "192.168.1.10:7946"   # Raft RPC address
      data_dir: "/var/lib/vip-switch"  # Raft data directory

    # Cluster Configuration
    cluster:
      nodes:
        - id: "node1"
          addr: "192.168.1.10:7946"
        - id: "node2"
          addr: "192.168.1.11:7946"
        - id: "node3"
          addr: "192.168.1.12:7946"

    # Hook Configuration
    hooks:
      enabled: true
      timeout: 60s                     # Default hook timeout
      on_failure: "abort"              # abort | continue | retry

      ToMaster:
        command: "/usr/local/bin/on-master.sh"
        args: []                        # 无参数，脚本自行获取配置
        timeout: 30s
        on_failure: "abort"
        environment:
          EVENT_TYPE: "ToMaster"
          NODE_ID: "{{.NodeID}}"        # 仅传递节点信息

      ToSlave:
        command: "/usr/local/bin/on-slave.sh"
        args: []
        timeout: 30s
        on_failure: "abort"
        environment:
          EVENT_TYPE: "ToSlave"
          NODE_ID: "{{.NodeID}}"

      ToReady:
        command: "/usr/local/bin/on-ready.sh"
        args: []
        timeout: 10s
        on_failure: "continue"
        environment:
          EVENT_TYPE: "ToReady"
          NODE_ID: "{{.NodeID}}"

      ToDestroy:
        command: "/usr/local/bin/on-destroy.sh"
        args: []
        timeout: 10s
        on_failure: "continue"
        environment:
          EVENT_TYPE: "ToDestroy"
          NODE_ID: "{{.NodeID}}"

    # Logging Configuration
    logging:
      level: "info"                    # debug | info | warn | error
      format: "json"                   # json | text
      output: "/var/log/vip-switch/daemon.log"
    """

    let minimal = """
    node: {id: a, raft_addr: "10.0.0.1:7946", data_dir: /var/lib/ezlb/raft}
    cluster:
      nodes:
        - {id: a, addr: "10.0.0.1:7946"}
        - {id: b, addr: "10.0.0.2:7946"}
    """

    func testSeedConfigLoadsUnchanged() throws {
        let s = try parse(seed)
        XCTAssertEqual(s.nodeID, "node1")
        XCTAssertEqual(s.raftAddr, "192.168.1.10:7946")
        XCTAssertEqual(s.dataDir, "/var/lib/vip-switch")
        XCTAssertEqual(s.members.map(\.id), ["node1", "node2", "node3"])
        XCTAssertEqual(s.members.map(\.addr), ["192.168.1.10:7946", "192.168.1.11:7946", "192.168.1.12:7946"])
        XCTAssertTrue(s.hooks.enabled)
        XCTAssertEqual(s.hooks.timeout, 60)
        XCTAssertEqual(s.hooks.onFailure, .abort)
        let m = try XCTUnwrap(s.hooks[.ToMaster])
        XCTAssertEqual(m.command, "/usr/local/bin/on-master.sh")
        XCTAssertEqual(m.args, [])
        XCTAssertEqual(m.timeout, 30)
        XCTAssertEqual(m.onFailure, .abort)
        XCTAssertEqual(m.environment, [.init(name: "EVENT_TYPE", template: "ToMaster"), .init(name: "NODE_ID", template: "{{.NodeID}}")])
        XCTAssertEqual(s.hooks[.ToReady]?.timeout, 10)
        XCTAssertEqual(s.hooks[.ToReady]?.onFailure, .continue)
        XCTAssertEqual(s.hooks[.ToDestroy]?.command, "/usr/local/bin/on-destroy.sh")
        XCTAssertEqual(s.hooks[.ToSlave]?.onFailure, .abort)
        XCTAssertEqual(s.logging, { var l = RaftLoggingConfig(); l.format = .json; l.output = "/var/log/vip-switch/daemon.log"; return l }())
        XCTAssertEqual(s.unknownKeys, [])
        // ezlb defaults
        XCTAssertEqual(s.electionTimeoutMs, 1000)
        XCTAssertEqual(s.heartbeatMs, 100)
        XCTAssertEqual(s.masterGuardMs, 1500)
        XCTAssertEqual(s.hooks.debounce, 1)
        XCTAssertEqual(s.hooks.retryAttempts, 3)
        XCTAssertNil(s.secret)
    }

    func testExampleConfigLoads() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/config.yaml").path
        // Both examples name /etc/ezlb/raft.secret: loaded with a secret file of the test's.
        try String(repeating: "k", count: 32).write(toFile: dir + "/raft.secret", atomically: false, encoding: .utf8)
        chmod(dir + "/raft.secret", 0o600)
        func load(_ name: String) throws -> RaftSettings {
            let text = try String(contentsOfFile: example.replacingOccurrences(of: "config.yaml", with: name), encoding: .utf8)
            XCTAssertTrue(text.contains("secret_file: /etc/ezlb/raft.secret"), name)
            let path = dir + "/" + name
            try text.replacingOccurrences(of: "/etc/ezlb/raft.secret", with: dir + "/raft.secret").write(toFile: path, atomically: false, encoding: .utf8)
            let s = try RaftSettings.load(path: path)
            XCTAssertNoThrow(try s.requireSecretBeyondLoopback())
            return s
        }
        let s = try load("config.yaml")
        XCTAssertEqual(s.unknownKeys, [])
        XCTAssertEqual(s.members.count, 3)
        XCTAssertNotNil(s.hooks[.ToMaster])
        let ipvs = try load("raft-ipvs.yaml")
        XCTAssertEqual(ipvs.unknownKeys, [])
        XCTAssertEqual(ipvs.hooks[.ToMaster]?.command, "/usr/local/lib/ezlb/on-master-ipvs.sh")
        XCTAssertEqual(ipvs.hooks[.ToMaster]?.onFailure, .abort)
        XCTAssertEqual(ipvs.hooks[.ToSlave]?.onFailure, .retry)
    }

    func testEzlbKeys() throws {
        try String(repeating: "k", count: 32).write(toFile: dir + "/secret", atomically: false, encoding: .utf8)
        chmod(dir + "/secret", 0o600)
        let s = try parse(minimal + """

          election_timeout: 2s
          heartbeat: 200ms
          secret_file: secret
        hooks:
          debounce: 0s
          retry_attempts: 5
          retry_backoff: 250ms
          on_failure: retry
          ToMaster:
            command: on-master.sh
            args: ["--vip", "10.0.0.100/32"]
            retry_attempts: 2
            environment:
              VIP_CONF: /etc/ezlb/vip.conf
              WHO: "{{ .NodeID }} {{.Event}} {{.RaftAddr}} {{.LeaderID}} {{.Term}}"
          ToSlave: {command: /bin/true, on_failure: continue}
        logging: {level: WARNING, format: text, output: stdout}
        """)
        XCTAssertEqual(s.electionTimeoutMs, 2000)
        XCTAssertEqual(s.heartbeatMs, 200)
        XCTAssertEqual(s.masterGuardMs, 3000, "1.5 x election_timeout")
        XCTAssertEqual(s.secret, String(repeating: "k", count: 32))
        XCTAssertEqual(s.secretFile, dir + "/secret", "relative to the config file")
        XCTAssertEqual(s.hooks.debounce, 0)
        let m = try XCTUnwrap(s.hooks[.ToMaster])
        XCTAssertEqual(m.args, ["--vip", "10.0.0.100/32"])
        XCTAssertEqual(m.onFailure, .retry)
        XCTAssertEqual(m.retryAttempts, 2)
        XCTAssertEqual(m.retryBackoff, 0.25)
        XCTAssertEqual(m.timeout, 60)
        XCTAssertEqual(s.hooks[.ToSlave]?.retryAttempts, 5)
        XCTAssertEqual(s.hooks[.ToSlave]?.onFailure, .continue)
        XCTAssertEqual(s.logging.level, .warn)
        XCTAssertEqual(s.logging.output, "stdout")
        XCTAssertEqual(try parse(minimal + "\n  master_guard: 0s").masterGuardMs, 0)
        XCTAssertEqual(try parse(minimal + "\n  master_guard: 250ms").masterGuardMs, 250)
        var off = try parse(minimal + "\nhooks: {enabled: false, ToMaster: {command: /bin/false}}")
        XCTAssertNil(off.hooks[.ToMaster], "disabled hooks do not run")
        off.hooks.enabled = true
        XCTAssertNotNil(off.hooks[.ToMaster])
    }

    func testOverridesAndJoining() throws {
        // Flags win over the file; node b with its own address.
        let s = try parse(minimal, RaftOverrides(nodeID: "b", raftAddr: "10.0.0.2:7946", dataDir: "/tmp/b", logLevel: "debug", logFormat: "JSON"))
        XCTAssertEqual(s.nodeID, "b")
        XCTAssertEqual(s.raftAddr, "10.0.0.2:7946")
        XCTAssertEqual(s.dataDir, "/tmp/b")
        XCTAssertEqual(s.logging.level, .debug)
        XCTAssertEqual(s.logging.format, .json)
        XCTAssertEqual(error(minimal, RaftOverrides(nodeID: "b")),
                       "\(file): cluster.nodes[1].addr: '10.0.0.2:7946': this node (b) is listed with another address than node.raft_addr 10.0.0.1:7946")
        // A joining node need not be listed.
        XCTAssertEqual(error(minimal, RaftOverrides(nodeID: "c", raftAddr: "10.0.0.3:7946")),
                       "\(file): cluster.nodes: 'c': this node is not listed (add {id: c, addr: 10.0.0.3:7946}, or use raft join)")
        let j = try parse(minimal, RaftOverrides(nodeID: "c", raftAddr: "10.0.0.3:7946"), joining: true)
        XCTAssertEqual(j.nodeID, "c")
        XCTAssertEqual(j.members.count, 2)
        XCTAssertEqual(error(minimal, RaftOverrides(nodeID: "c"), joining: true),
                       "\(file): cluster.nodes[0].addr: '10.0.0.1:7946': is this node's raft_addr but listed for node 'a', not 'c'")
        XCTAssertEqual(error(minimal, RaftOverrides(logLevel: "loud")), "--log-level: 'loud': expected debug, info, warn or error")
        XCTAssertEqual(error(minimal, RaftOverrides(logFormat: "xml")), "--log-format: 'xml': expected json or text")
        XCTAssertEqual(error(minimal, RaftOverrides(raftAddr: "10.0.0.1")), "--raft-addr: '10.0.0.1': expected IP:port (IPv6 as [addr]:port)")
        XCTAssertEqual(error(minimal, RaftOverrides(nodeID: "a b")), "--node-id: 'a b': may hold only letters, digits, '.', '_' and '-'")
    }

    func testIPv6AddressesAreCanonical() throws {
        let s = try parse("""
        node: {id: a, raft_addr: "[2001:db8:0::1]:7946", data_dir: /d}
        cluster: {nodes: [{id: a, addr: "[2001:DB8::1]:7946"}, {id: b, addr: "[2001:db8::2]:7946"}]}
        """)
        XCTAssertEqual(s.raftAddr, "[2001:db8::1]:7946")
        XCTAssertEqual(s.members.map(\.addr), ["[2001:db8::1]:7946", "[2001:db8::2]:7946"])
        XCTAssertEqual(error("""
        node: {id: a, raft_addr: "[2001:db8::1]:7946", data_dir: /d}
        cluster: {nodes: [{id: a, addr: "[2001:db8::1]:7946"}, {id: b, addr: "[2001:db8:0:0::1]:7946"}]}
        """), "\(file): cluster.nodes[1].addr: '[2001:db8:0:0::1]:7946': duplicate address (also cluster.nodes[0])")
    }

    /// Every mistake: one line naming the file, the key path and the value.
    func testBadConfigsGiveOneLineErrors() throws {
        let node = "node: {id: a, raft_addr: \"10.0.0.1:7946\", data_dir: /d}\n"
        let nodes = "cluster:\n  nodes: [{id: a, addr: \"10.0.0.1:7946\"}]\n"
        let cases: [(String, String)] = [
            ("node: [1]\n", "node: '<list>': expected a mapping"),
            ("cluster: {}\n", "node.id: is required (or pass --node-id)"),
            ("node: {id: a}\n", "node.raft_addr: is required (or pass --raft-addr)"),
            ("node: {id: a, raft_addr: \"10.0.0.1:7946\"}\n", "node.data_dir: is required (or pass --data-dir)"),
            ("node: {id: \"a/b\", raft_addr: \"10.0.0.1:7946\", data_dir: /d}\n", "node.id: 'a/b': may hold only letters, digits, '.', '_' and '-'"),
            ("node: {id: a, raft_addr: \"10.0.0.1:70000\", data_dir: /d}\n", "node.raft_addr: '10.0.0.1:70000': port 70000 is out of range 1..65535"),
            ("node: {id: a, raft_addr: \"host:7946\", data_dir: /d}\n", "node.raft_addr: 'host:7946': 'host' is not an IP address"),
            ("node: {id: a, raft_addr: \"0.0.0.0:7946\", data_dir: /d}\n", "node.raft_addr: '0.0.0.0:7946': the unspecified address cannot be dialled by peers; use this node's address"),
            (node + "cluster:\n  nodes: [{id: a, addr: \"10.0.0.1:7946\"}, {id: a, addr: \"10.0.0.2:7946\"}]\n",
             "cluster.nodes[1].id: 'a': duplicate node id (also cluster.nodes[0])"),
            (node + "cluster:\n  nodes: [{id: a, addr: \"10.0.0.1:7946\"}, {id: b, addr: \"10.0.0.1:7946\"}]\n",
             "cluster.nodes[1].addr: '10.0.0.1:7946': duplicate address (also cluster.nodes[0])"),
            (node + "cluster:\n  nodes: [{id: a, addr: \"10.0.0.9:7946\"}]\n",
             "cluster.nodes[0].addr: '10.0.0.9:7946': this node (a) is listed with another address than node.raft_addr 10.0.0.1:7946"),
            (node + "cluster:\n  nodes: [{id: b, addr: \"10.0.0.2:7946\"}]\n",
             "cluster.nodes: 'a': this node is not listed (add {id: a, addr: 10.0.0.1:7946}, or use raft join)"),
            (node + "cluster:\n  nodes: [{id: a}]\n", "cluster.nodes[0].addr: is required"),
            (node + nodes + "hooks:\n  ToMastr: {command: /bin/true}\n",
             "hooks.ToMastr: 'ToMastr': unknown hook event (events: ToReady, ToMaster, ToSlave, ToDestroy; settings: enabled, timeout, on_failure, retry_attempts, retry_backoff, debounce)"),
            (node + "cluster:\n  nodes: [\"a\"]\n", "cluster.nodes[0]: 'a': expected a mapping"),
            (node + nodes + "  election_timeout: 5x\n", "cluster.election_timeout: '5x': expected a duration like 5s, 300ms or 1m30s"),
            (node + nodes + "  master_guard: 99999999999999999999h\n", "cluster.master_guard: '99999999999999999999h': too long (at most 168h)"),
            (node + nodes + "hooks: {debounce: 1000h}\n", "hooks.debounce: '1000h': too long (at most 168h)"),
            (node + nodes + "hooks: {timeout: 200h}\n", "hooks.timeout: '200h': too long (at most 168h)"),
            (node + nodes + "  election_timeout: 0s\n", "cluster.election_timeout: '0s': must be greater than zero"),
            (node + nodes + "  election_timeout: 50ms\n", "cluster.election_timeout: '50ms': must be between 100ms and 60000ms"),
            (node + nodes + "  heartbeat: 600ms\n", "cluster.heartbeat: '600ms': heartbeat (600ms) must be at most half of election_timeout (1000ms)"),
            (node + nodes + "  master_guard: -1s\n", "cluster.master_guard: '-1s': expected a duration like 1500ms or 0s"),
            (node + nodes + "  secret: short\n", "cluster.secret: '<hidden>': too short (5 bytes; at least 16)"),
            (node + nodes + "  secret: 0123456789abcdef0\n  secret_file: /x\n", "cluster.secret_file: '/x': set either cluster.secret or cluster.secret_file, not both"),
            (node + nodes + "  secret_file: nope\n", "cluster.secret_file: '\(dir)/nope': secret file does not exist"),
            (node + nodes + "hooks: {on_failure: explode}\n", "hooks.on_failure: 'explode': unknown failure policy (expected continue, abort or retry)"),
            (node + nodes + "hooks: {timeout: 10}\n", "hooks.timeout: '10': expected a duration like 5s, 300ms or 1m30s"),
            (node + nodes + "hooks: {enabled: maybe}\n", "hooks.enabled: 'maybe': expected true or false"),
            (node + nodes + "hooks: {retry_attempts: 0}\n", "hooks.retry_attempts: '0': must be between 1 and 100"),
            (node + nodes + "hooks: {debounce: soon}\n", "hooks.debounce: 'soon': expected a duration like 1s, 500ms or 0s"),
            (node + nodes + "hooks:\n  ToMaster: {args: []}\n", "hooks.ToMaster.command: is required"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, timeout: -5s}\n", "hooks.ToMaster.timeout: '-5s': expected a duration like 5s, 300ms or 1m30s"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, on_failure: ignore}\n", "hooks.ToMaster.on_failure: 'ignore': unknown failure policy (expected continue, abort or retry)"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, args: \"--vip 1.2.3.4\"}\n", "hooks.ToMaster.args: '--vip 1.2.3.4': expected a list of strings (each one argument, no shell)"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, environment: [A]}\n", "hooks.ToMaster.environment: '<list>': expected a mapping"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, environment: {\"1X\": y}}\n", "hooks.ToMaster.environment.1X: '1X': not a valid environment variable name"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, environment: {X: \"{{.Node}}\"}}\n",
             "hooks.ToMaster.environment.X: '{{.Node}}': unknown template '{{.Node}}' (known: {{.NodeID}} {{.Event}} {{.RaftAddr}} {{.LeaderID}} {{.Term}})"),
            (node + nodes + "hooks:\n  ToMaster: {command: x, environment: {X: \"{{.NodeID\"}}\n",
             "hooks.ToMaster.environment.X: '{{.NodeID': unknown template '{{.NodeID' (known: {{.NodeID}} {{.Event}} {{.RaftAddr}} {{.LeaderID}} {{.Term}})"),
            (node + nodes + "logging: {level: loud}\n", "logging.level: 'loud': expected debug, info, warn or error"),
            (node + nodes + "logging: {format: xml}\n", "logging.format: 'xml': expected json or text"),
            ("node: {id: a\n", "line 2 column 1: invalid YAML: did not find expected ',' or '}'"),
        ]
        for (yaml, want) in cases {
            let got = error(yaml)
            XCTAssertEqual(got, "\(file): \(want)", yaml)
            XCTAssertFalse(got.contains("\n"))
        }
    }

    /// The raft port authenticates peers with the secret: a cluster beyond loopback cannot serve without one.
    func testSecretRequiredBeyondLoopback() throws {
        let open = try parse(seed)
        XCTAssertThrowsError(try open.requireSecretBeyondLoopback()) {
            XCTAssertEqual("\($0)", "\(file): cluster.secret_file: '192.168.1.10:7946': a cluster beyond loopback needs a shared secret: its raft and control ports authenticate peers with it (at least 16 random bytes in a mode 0600 file, the same on every node)")
        }
        let signed = try parse(seed.replacingOccurrences(of: "cluster:\n", with: "cluster:\n  secret: 0123456789abcdef0123\n"))
        XCTAssertNoThrow(try signed.requireSecretBeyondLoopback())
        let local = """
        node: {id: a, raft_addr: "127.0.0.1:7946", data_dir: /x}
        cluster:
          nodes: [{id: a, addr: "127.0.0.1:7946"}, {id: b, addr: "127.0.0.2:7946"}, {id: c, addr: "[::1]:7946"}]
        """
        XCTAssertNoThrow(try parse(local).requireSecretBeyondLoopback())
        let mixed = try parse(local.replacingOccurrences(of: "127.0.0.2", with: "10.0.0.2"))
        XCTAssertThrowsError(try mixed.requireSecretBeyondLoopback()) { XCTAssertTrue("\($0)".contains("'10.0.0.2:7946'"), "\($0)") }
    }

    func testTrackSection() throws {
        let base = "node: {id: a, raft_addr: \"127.0.0.1:7946\", data_dir: /x}\ncluster:\n  nodes: [{id: a, addr: \"127.0.0.1:7946\"}]\n"
        XCTAssertNil(try parse(base).track)
        let t = try XCTUnwrap(try parse(base + "track: {command: /bin/true, args: [-x], interfaces: [eth0], interval: 500ms, fall: 3}\n").track)
        XCTAssertEqual(t.command, "/bin/true")
        XCTAssertEqual(t.args, ["-x"])
        XCTAssertEqual(t.interfaces, ["eth0"])
        XCTAssertEqual(t.interval, 0.5)
        XCTAssertEqual(t.timeout, 0.5, "timeout defaults to the interval")
        XCTAssertEqual(t.fall, 3)
        XCTAssertEqual(t.rise, 2)
        for (yaml, expected) in [
            ("track: {interval: 1s}\n", "track: needs a command, interfaces, or both"),
            ("track: {command: /bin/true, interval: 10ms}\n", "track.interval: '10ms': must be between 100ms and 1h"),
            ("track: {command: /bin/true, args: -x}\n", "track.args: '-x': expected a list of strings (each one argument, no shell)"),
            ("track: {interfaces: [\"a/b\"]}\n", "track.interfaces[0]: 'a/b': expected an interface name"),
            ("track: {command: /bin/true, weight: 10}\n", "track.weight: 'weight': unknown key (known: command, args, interfaces, interval, timeout, fall, rise)"),
        ] {
            XCTAssertEqual(error(base + yaml), "\(file): \(expected)", yaml)
        }
    }

    func testSecretFileMustBePrivate() throws {
        let p = dir + "/secret"
        try String(repeating: "s", count: 20).write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o644)
        XCTAssertEqual(error(minimal + "\n  secret_file: \(p)"),
                       "\(file): cluster.secret_file: '\(p)': secret file is accessible by group or others (mode 644); chmod 600 it")
        chmod(p, 0o600)
        XCTAssertEqual(try parse(minimal + "\n  secret_file: \(p)").secret, String(repeating: "s", count: 20))
        try "short\n".write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o600)
        XCTAssertEqual(error(minimal + "\n  secret_file: \(p)"), "\(file): cluster.secret_file: '\(p)': secret is too short (5 bytes; at least 16)")
    }

    func testUnknownKeysAreReported() throws {
        // (A misspelt hook event is refused instead: testBadConfigsGiveOneLineErrors.)
        let s = try parse(minimal + "\n  bogus: 1\nhooks:\n  ToSlave: {command: y, shell: true}\nextra: 1")
        XCTAssertEqual(s.unknownKeys, ["cluster.bogus", "hooks.ToSlave.shell", "extra"])
    }

    func testParseHooksForReload() throws {
        try (minimal + "\nhooks:\n  debounce: 2s\n  ToSlave: {command: /bin/true}\n").write(toFile: file, atomically: true, encoding: .utf8)
        let h = try RaftSettings.parseHooks(path: file)
        XCTAssertEqual(h.debounce, 2)
        XCTAssertEqual(h.specs.keys.map(\.rawValue), ["ToSlave"])
        try "hooks: {ToSlave: {command: y, on_failure: nope}}\n".write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RaftSettings.parseHooks(path: file)) {
            XCTAssertEqual("\($0)", "\(file): hooks.ToSlave.on_failure: 'nope': unknown failure policy (expected continue, abort or retry)")
        }
        XCTAssertThrowsError(try RaftSettings.load(path: dir + "/missing.yaml")) {
            XCTAssertEqual("\($0)", "\(dir)/missing.yaml: no such file (pass -c PATH)")
        }
    }

    func testNumericIDs() {
        XCTAssertEqual(raftNumericID("node1"), 14_577_794_042_753_658_644, "FNV-1a 64: stable across versions and hosts")
        XCTAssertNotEqual(raftNumericID("node1"), raftNumericID("node2"))
        XCTAssertNotEqual(raftNumericID(""), 0)
        let s = RaftSettings(file: "f", nodeID: "b", raftAddr: "10.0.0.2:1", dataDir: "/d",
                             members: [.init(id: "a", addr: "10.0.0.1:1"), .init(id: "b", addr: "10.0.0.2:1")])
        XCTAssertEqual(s.member(numericID: raftNumericID("a"))?.id, "a")
        XCTAssertEqual(s.numericID, raftNumericID("b"))
        XCTAssertNil(s.member(numericID: 12345))
    }

    func testTemplates() {
        let v = ["NodeID": "n1", "Event": "ToMaster", "RaftAddr": "10.0.0.1:7946", "LeaderID": "n1", "Term": "4"]
        XCTAssertEqual(HookTemplate.expand("{{.NodeID}}/{{ .Event }}/{{.RaftAddr}}/{{.Term}}", values: v), "n1/ToMaster/10.0.0.1:7946/4")
        XCTAssertEqual(HookTemplate.expand("no templates; $(x) {single}", values: v), "no templates; $(x) {single}")
        XCTAssertNil(HookTemplate.validate("plain"))
        XCTAssertNotNil(HookTemplate.validate("{{NodeID}}"))
    }
}
