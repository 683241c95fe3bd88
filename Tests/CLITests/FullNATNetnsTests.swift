import EzlbCore
import Foundation
import XCTest

/// FullNAT's firewall half on the real kernel, packet by packet, in three network namespaces
/// this test creates and always deletes: client (10.1.0.2) — director (10.1.0.1 | 192.168.1.1)
/// — backend (192.168.1.10, a TCP server on 8080 that answers with the peer address it sees).
///
/// This host's kernel has no IPVS, so the director stands in for it with a DNAT of
/// 10.0.0.1:80 to the backend (`table ip emu`): conntrack's original destination is then the
/// VIP, as with IPVS, and ezlb's rules (SNAT scoped to the VIP, the forward mark) act exactly
/// as they would. The one difference — IPVS's requests go through INPUT, not FORWARD — is
/// covered by a "requests" rule each firewall style gets (ct direction original, status dnat).
/// Tests/vm runs the same on real IPVS.
final class FullNATNetnsTests: NetnsCLITestCase {
    override class var netnsPrefix: String { "ezlb-fn" }
    var client: String { netns + "-c" }
    var backend: String { netns + "-b" }
    var server: Process?

    override func checkTools() throws {
        for tool in ["/usr/sbin/nft", "/usr/sbin/iptables-nft", "/usr/sbin/iptables-legacy", "/usr/bin/python3"] {
            guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("\(tool) missing (apt-get install nftables iptables python3)") }
        }
    }

    override func tearDown() {
        server?.terminate()
        server?.waitUntilExit()
        if !netns.isEmpty {
            for n in [client, backend] { _ = try? command(["ip", "netns", "del", n]) }
        }
        super.tearDown()
    }

    let config = """
    services:
      - name: web
        listen: 10.0.0.1:80
        full_nat: true
        backends:
          - {address: "192.168.1.10:8080"}

    """

    func ns(_ n: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try command(["ip", "netns", "exec", n] + args)
        XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)", file: file, line: line)
    }

    func topology() throws {
        for n in [client, backend] { XCTAssertEqual(try command(["ip", "netns", "add", n]).status, 0) }
        try ns(netns, ["ip", "link", "add", "c0", "type", "veth", "peer", "name", "c1", "netns", client])
        try ns(netns, ["ip", "link", "add", "b0", "type", "veth", "peer", "name", "b1", "netns", backend])
        for (n, dev, addr) in [(netns, "c0", "10.1.0.1/24"), (netns, "b0", "192.168.1.1/24"), (client, "c1", "10.1.0.2/24"), (backend, "b1", "192.168.1.10/24")] {
            try ns(n, ["ip", "addr", "add", addr, "dev", dev])
            try ns(n, ["ip", "link", "set", dev, "up"])
            try ns(n, ["ip", "link", "set", "lo", "up"])
        }
        try ns(client, ["ip", "route", "add", "default", "via", "10.1.0.1"])
        // The backend can answer the client directly too: only SNAT makes the difference visible.
        try ns(backend, ["ip", "route", "add", "10.1.0.0/24", "via", "192.168.1.1"])
        try ns(netns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        // IPVS's stand-in: the VIP's connections are DNATed to the backend.
        try nftInput(netns, "table ip emu {\n chain pre {\n type nat hook prerouting priority dstnat;\n ip daddr 10.0.0.1 tcp dport 80 dnat to 192.168.1.10:8080\n }\n}\n")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", backend, "python3", "-c", """
        import socket
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 8080)); s.listen(16)
        while True:
            c, a = s.accept(); c.sendall(a[0].encode()); c.close()
        """]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        server = p
        for _ in 0..<50 where try command(["ip", "netns", "exec", backend, "python3", "-c",
                                           "import socket; socket.create_connection(('127.0.0.1', 8080), timeout=1)"]).status != 0 {
            usleep(100_000)
        }
    }

    func nftInput(_ n: String, _ text: String) throws {
        let path = workDir + "/rules-\(UUID().uuidString).nft"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try ns(n, ["nft", "-f", path])
    }

    /// The peer address the backend saw for a connection from the client to addr:port; nil when
    /// no answer came within 2 s.
    func fetch(_ addr: String, _ port: Int) throws -> String? {
        let r = try command(["ip", "netns", "exec", client, "python3", "-c",
                             "import socket,sys; s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2); print(s.recv(100).decode())",
                             addr, "\(port)"])
        return r.status == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    func ezlbD(_ args: [String]) throws -> CLIResult { try ezlbNS(args) }

    func doctor() throws -> (status: String?, fix: String?, result: CLIResult) {
        let cfg = writeConfig(config)
        let r = try ezlbD(["doctor", "-c", cfg, "-o", "json"])
        let checks = (r.json["checks"] as? [[String: Any]]) ?? []
        let fp = checks.filter { ($0["name"] as? String)?.hasPrefix("forward path") == true }
        let bad = fp.first { $0["status"] as? String != "ok" }
        return ((bad ?? fp.first)?["status"] as? String, bad?["fix_command"] as? String, r)
    }

    /// The conntrack entries of the namespace that go to `dport`.
    func conntrack(dport: Int) throws -> [String] {
        let r = try command(["ip", "netns", "exec", netns, "cat", "/proc/net/nf_conntrack"])
        return r.stdout.split(separator: "\n").map(String.init).filter { $0.contains("dport=\(dport) ") }
    }

    // MARK: scenarios

    func testNoFirewallSNATsOnlyVIPTrafficOnBothBackends() throws {
        try topology()
        let cfg = writeConfig(config)
        for fw in ["nftables", "iptables"] {
            let r = try ezlbD(["snat", "sync", "-c", cfg, "--firewall", fw, "-o", "json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.json["firewall"] as? String, fw)
            XCTAssertEqual(try fetch("10.0.0.1", 80), "192.168.1.1", "\(fw): VIP traffic is masqueraded")
            XCTAssertEqual(try fetch("192.168.1.10", 8080), "10.1.0.2", "\(fw): direct traffic keeps the client address")
            // conntrack: the VIP connection's reply goes to the director's address, the direct one's to the client.
            let vip = try conntrack(dport: 80).filter { $0.contains("dst=10.0.0.1") }
            XCTAssertTrue(vip.contains { $0.contains("src=192.168.1.10 dst=192.168.1.1 sport=8080") }, "\(vip)")
            let direct = try conntrack(dport: 8080).filter { $0.contains("src=10.1.0.2 dst=192.168.1.10") }
            XCTAssertTrue(direct.contains { $0.contains("src=192.168.1.10 dst=10.1.0.2 sport=8080") }, "\(direct)")
            XCTAssertEqual(try doctor().status, "ok")
        }
    }

    func testNftablesReadBackForeignTablesAndCleanup() throws {
        try topology()
        try nftInput(netns, "table inet other {\n set s { type ipv4_addr; elements = { 1.2.3.4 }; }\n chain c {\n type filter hook input priority 0;\n ip saddr @s counter accept\n }\n}\n")
        let foreign = try command(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "other"]).stdout
        let cfg = writeConfig(config + """
          - name: dns
            listen: 10.0.0.1:53
            protocol: udp
            full_nat: true
            snat_ip: 192.168.1.1
            backends:
              - {address: "192.168.1.20:53"}
              - {address: "192.168.1.21:5353"}

        """)
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", cfg, "--firewall", "nftables"]).status, 0)
        // Read back with nft's own JSON: exactly the elements ezlb means.
        let j = try command(["ip", "netns", "exec", netns, "nft", "-j", "list", "table", "inet", "ezlb"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let items = ((try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])?["nftables"] as? [[String: Any]]) ?? []
        var elements: [String: [String]] = [:]
        for i in items {
            guard let set = (i["set"] ?? i["map"]) as? [String: Any], let name = set["name"] as? String else { continue }
            elements[name] = ((set["elem"] as? [Any]) ?? []).map { e -> String in
                // {"concat": [...]} or ["concat", data] for a map
                func text(_ v: Any) -> String {
                    if let d = v as? [String: Any], let c = d["concat"] as? [Any] { return c.map { text($0) }.joined(separator: " . ") }
                    return "\(v)"
                }
                if let pair = e as? [Any], pair.count == 2 { return text(pair[0]) + " : " + text(pair[1]) }
                return text(e)
            }.sorted()
        }
        XCTAssertEqual(elements["svc4"], ["10.0.0.1 . tcp . 80 . 192.168.1.10 . 8080", "10.0.0.1 . udp . 53 . 192.168.1.20 . 53",
                                          "10.0.0.1 . udp . 53 . 192.168.1.21 . 5353"])
        XCTAssertEqual(elements["svc4_snat"], ["10.0.0.1 . udp . 53 . 192.168.1.20 . 53 : 192.168.1.1", "10.0.0.1 . udp . 53 . 192.168.1.21 . 5353 : 192.168.1.1"])
        XCTAssertEqual(elements["svc6"], [])
        // Converged: no write, known from the ruleset's generation id; any transaction (here an
        // element added by hand) sends the next run down the full path, which repairs.
        let again = try ezlbD(["snat", "sync", "-c", cfg, "--firewall", "nftables", "-o", "json", "-vv"])
        XCTAssertEqual(again.changed, false, again.stdout)
        XCTAssertTrue(again.stderr.contains("converged: snat.converged matches the kernel's nftables generation"), again.stderr)
        try ns(netns, ["nft", "add", "element", "inet", "ezlb", "svc4", "{ 10.0.0.9 . tcp . 80 . 192.168.1.99 . 80 }"])
        let repaired = try ezlbD(["snat", "sync", "-c", cfg, "--firewall", "nftables", "-o", "json", "-vv"])
        XCTAssertFalse(repaired.stderr.contains("converged: snat.converged"), repaired.stderr)
        XCTAssertEqual(repaired.actionTexts, ["- nft delete element inet ezlb svc4 { 10.0.0.9 . tcp . 80 . 192.168.1.99 . 80 }"])
        // One backend less: one element per set it is in.
        let smaller = writeConfig(try String(contentsOfFile: cfg, encoding: .utf8).replacingOccurrences(of: "      - {address: \"192.168.1.21:5353\"}\n", with: ""), name: "smaller.yaml")
        let one = try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "nftables", "-o", "json"])
        XCTAssertEqual(one.actionTexts, ["- nft delete element inet ezlb svc4 { 10.0.0.1 . udp . 53 . 192.168.1.21 . 5353 }",
                                         "- nft delete element inet ezlb svc4_snat { 10.0.0.1 . udp . 53 . 192.168.1.21 . 5353 : 192.168.1.1 }"])
        // A set emptied by hand is refilled; a rule added by hand makes ezlb rewrite its table.
        try ns(netns, ["nft", "flush", "set", "inet", "ezlb", "svc4"])
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "nftables", "-o", "json"]).actionTexts.count, 2)
        try ns(netns, ["nft", "add", "rule", "inet", "ezlb", "postrouting", "counter"])
        let rewritten = try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "nftables", "-o", "json"])
        XCTAssertTrue(rewritten.actionTexts.first?.hasPrefix("~ nft replace table inet ezlb") == true, "\(rewritten.actionTexts)")
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "nftables", "-o", "json"]).changed, false)
        // Switching to iptables removes the table; cleanup removes exactly ezlb's objects.
        let sw = try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "iptables", "-o", "json"])
        XCTAssertTrue(sw.actionTexts.contains("- nft delete table inet ezlb"), "\(sw.actionTexts)")
        XCTAssertNotEqual(try command(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "ezlb"]).status, 0)
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", smaller, "--firewall", "nftables"]).status, 0)
        XCTAssertFalse(try command(["ip", "netns", "exec", netns, "iptables-legacy-save"]).stdout.contains("EZLB"))
        XCTAssertEqual(try ezlbD(["snat", "cleanup"]).status, 0)
        XCTAssertNotEqual(try command(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "ezlb"]).status, 0)
        XCTAssertEqual(try command(["ip", "netns", "exec", netns, "nft", "list", "table", "inet", "other"]).stdout, foreign)
        XCTAssertTrue(try command(["ip", "netns", "exec", netns, "nft", "list", "table", "ip", "emu"]).stdout.contains("dnat to 192.168.1.10:8080"))
    }

    /// 1,100 IPv6 backends with an SNAT address: the map's elements (44-byte keys, 16-byte data)
    /// need several messages (one message's element list has a 16-bit length); all arrive.
    func testManyIPv6ElementsInOneTransaction() throws {
        var yaml = "services:\n"
        for s in 0..<275 {
            yaml += "  - name: s\(s)\n    listen: \"[2001:db8::\(String(s + 1, radix: 16))]:80\"\n    full_nat: true\n    snat_ip: \"2001:db8:1::1\"\n    backends:\n"
            for b in 0..<4 { yaml += "      - {address: \"[2001:db8:2::\(String(s * 4 + b + 1, radix: 16))]:8080\"}\n" }
        }
        let cfg = writeConfig(yaml, name: "many6.yaml")
        let r = try ezlbD(["snat", "sync", "-c", cfg, "--firewall", "nftables", "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (kind, set) in [("set", "svc6"), ("map", "svc6_snat")] {
            let j = try command(["ip", "netns", "exec", netns, "nft", "-j", "list", kind, "inet", "ezlb", set]).stdout
            XCTAssertEqual(j.components(separatedBy: "\"concat\"").count - 1, 1100, set)
        }
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", cfg, "--firewall", "nftables", "-o", "json"]).changed, false)
    }

    /// Each firewall style drops FullNAT's replies; doctor names the chain, exits 1 and prints
    /// the command; after that command the replies pass and doctor is content.
    func runDropStyle(_ style: String, firewall: String, preset: [[String]], file: StaticString = #filePath, line: UInt = #line) throws {
        try topology()
        for c in preset { try ns(netns, c, file: file, line: line) }
        let cfg = writeConfig(config)
        let r = try ezlbD(["snat", "sync", "-c", cfg, "--firewall", firewall])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertNil(try fetch("10.0.0.1", 80), "\(style): the reply is dropped", file: file, line: line)
        let (status, fix, d) = try doctor()
        XCTAssertEqual(status, "fail", "\(style): \(d.stdout)", file: file, line: line)
        XCTAssertEqual(d.status, 1, file: file, line: line)
        guard let fix else { return XCTFail("\(style): no fix command: \(d.stdout)", file: file, line: line) }
        let cmd = fix.split(separator: " (").first.map(String.init) ?? fix
        try ns(netns, cmd.split(separator: " ").map(String.init), file: file, line: line)
        XCTAssertEqual(try fetch("10.0.0.1", 80), "192.168.1.1", "\(style) after '\(cmd)'", file: file, line: line)
        XCTAssertEqual(try doctor().status, "ok", "\(style) after the fix", file: file, line: line)
    }

    static let nftDrop = "table inet filter {\n chain forward {\n type filter hook forward priority filter; policy drop;\n ct direction original ct status dnat accept\n }\n}\n"

    func testNftDropPolicyChainOnTheNftablesBackend() throws {
        let path = workDir + "/drop.nft"
        try Self.nftDrop.write(toFile: path, atomically: true, encoding: .utf8)
        try runDropStyle("nftables.service-style chain", firewall: "nftables", preset: [["nft", "-f", path]])
    }

    func testIptablesNftDropPolicyOnTheNftablesBackend() throws {
        try runDropStyle("iptables-nft -P FORWARD DROP", firewall: "nftables",
                         preset: [["iptables-nft", "-P", "FORWARD", "DROP"],
                                  ["iptables-nft", "-A", "FORWARD", "-m", "conntrack", "--ctstate", "DNAT", "--ctdir", "ORIGINAL", "-j", "ACCEPT"]])
    }

    func testLegacyDropPolicyOnTheNftablesBackend() throws {
        try runDropStyle("iptables-legacy -P FORWARD DROP", firewall: "nftables",
                         preset: [["iptables-legacy", "-P", "FORWARD", "DROP"],
                                  ["iptables-legacy", "-A", "FORWARD", "-m", "conntrack", "--ctstate", "DNAT", "--ctdir", "ORIGINAL", "-j", "ACCEPT"]])
    }

    func testNftDropPolicyChainOnTheIptablesBackend() throws {
        let path = workDir + "/drop.nft"
        try Self.nftDrop.write(toFile: path, atomically: true, encoding: .utf8)
        try runDropStyle("nft chain, iptables backend", firewall: "iptables", preset: [["nft", "-f", path]])
    }

    /// On the iptables backend ezlb's EZLB-FORWARD comes first in the legacy FORWARD chain:
    /// a legacy DROP policy needs nothing more.
    func testLegacyDropPolicyOnTheIptablesBackendPasses() throws {
        try topology()
        for c in [["iptables-legacy", "-P", "FORWARD", "DROP"],
                  ["iptables-legacy", "-A", "FORWARD", "-m", "conntrack", "--ctstate", "DNAT", "--ctdir", "ORIGINAL", "-j", "ACCEPT"]] {
            try ns(netns, c)
        }
        XCTAssertEqual(try ezlbD(["snat", "sync", "-c", writeConfig(config), "--firewall", "iptables"]).status, 0)
        XCTAssertEqual(try fetch("10.0.0.1", 80), "192.168.1.1")
        XCTAssertEqual(try doctor().status, "ok")
    }
}
