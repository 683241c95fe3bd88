import Foundation
import XCTest

/// The bridge on the real kernel, entirely inside network namespaces this test
/// creates and always deletes: ezlb runs in a "host" namespace (ip netns exec),
/// two "containers" and an "outside" namespace hang off it. The machine's own
/// namespace is never touched. Needs root and iproute2; skipped otherwise.
final class BridgeNetnsTests: CLITestCase {
    var tag = ""
    var namespaces: [String] = []
    var host: String { "ezh-\(tag)" }
    var c1: String { "ezc1-\(tag)" }
    var c2: String { "ezc2-\(tag)" }
    var outside: String { "ezo-\(tag)" }
    let ipTool = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard getuid() == 0 else { throw XCTSkip("needs root (network namespaces)") }
        guard ipTool != nil else { throw XCTSkip("needs iproute2") }
        for tool in ["/usr/bin/ping", "/usr/bin/python3", "/usr/sbin/iptables-legacy-save", "/usr/sbin/sysctl"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw XCTSkip("needs \(tool) (iputils-ping, python3, iptables, procps)")
        }
        tag = String(UUID().uuidString.prefix(6)).lowercased()
    }

    override func tearDown() {
        for n in namespaces.reversed() { _ = try? sh([ipTool!, "netns", "del", n]) }
        super.tearDown()
    }

    /// A program with ezlb's environment pointed at this test's state dir and the kernel backend.
    @discardableResult
    func sh(_ args: [String], env: [String: String] = [:]) throws -> CLIResult {
        try command(args, env: ["EZLB_STATE_DIR": stateDir, "EZLB_BACKEND": "kernel"].merging(env) { $1 })
    }

    func inNS(_ ns: String, _ args: [String]) throws -> CLIResult { try sh([ipTool!, "netns", "exec", ns] + args) }
    /// `ezlb` run in the test's "host" namespace against the real kernel.
    func hostEzlb(_ args: [String]) throws -> CLIResult { try inNS(host, [Self.binary.path] + args) }

    func addNS(_ n: String) throws {
        XCTAssertEqual(try sh([ipTool!, "netns", "add", n]).status, 0)
        namespaces.append(n)
    }

    /// Host-side view: links, nat rules, state files.
    func hostSnapshot() throws -> String {
        let links = try inNS(host, [ipTool!, "-o", "link", "show"]).stdout
            .split(separator: "\n").map { ($0.split(separator: ":").dropFirst().first.map(String.init) ?? "").split(separator: "@").first.map(String.init) ?? "" }
            .sorted().joined(separator: ",")
        let nat = try inNS(host, ["/usr/sbin/iptables-legacy-save", "-t", "nat"]).stdout
            .split(separator: "\n").filter { $0.hasPrefix("-A") || $0.hasPrefix(":EZLB") }.joined(separator: "\n")
        let ipam = try hostEzlb(["ipam", "list", "-o", "json"]).json["allocations"] as? [[String: Any]] ?? []
        return "links: \(links)\nnat:\n\(nat)\nipam: \(ipam.compactMap { $0["address"] as? String })"
    }

    func testTwoContainersPingEachOtherAndReachOutsideThroughMasquerade() throws {
        for n in [host, c1, c2, outside] { try addNS(n) }
        // The "host" has an uplink to the "outside" and forwards.
        let up = "ezu\(tag)", down = "ezd\(tag)"
        XCTAssertEqual(try sh([ipTool!, "-n", host, "link", "add", up, "type", "veth", "peer", "name", down, "netns", outside]).status, 0)
        for (ns, dev, addr) in [(host, up, "192.168.251.1/24"), (outside, down, "192.168.251.2/24")] {
            XCTAssertEqual(try sh([ipTool!, "-n", ns, "addr", "add", addr, "dev", dev]).status, 0)
            XCTAssertEqual(try sh([ipTool!, "-n", ns, "link", "set", dev, "up"]).status, 0)
            XCTAssertEqual(try sh([ipTool!, "-n", ns, "link", "set", "lo", "up"]).status, 0)
        }
        XCTAssertEqual(try inNS(host, ["/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1"]).status, 0)
        let start = try hostSnapshot()

        let cr = try hostEzlb(["bridge", "create", "ezbr", "--subnet", "10.79.0.0/24"])
        XCTAssertEqual(cr.status, 0, cr.stderr)
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezbr", "--subnet", "10.79.0.0/24"]).stdout, "no changes\n")
        let afterCreate = try hostSnapshot()
        XCTAssertTrue(afterCreate.contains("-A POSTROUTING -j EZLB-BR-ezbr\n-A EZLB-BR-ezbr -s 10.79.0.0/24 ! -o ezbr -j MASQUERADE"), afterCreate)
        XCTAssertEqual(afterCreate.components(separatedBy: "-j MASQUERADE").count, 2, "one rule, no duplicate")

        for (ns, owner) in [(c1, "ctr-1"), (c2, "ctr-2")] {
            let r = try hostEzlb(["bridge", "connect", "ezbr", "--netns", ns, "--owner", owner])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let again = try hostEzlb(["bridge", "connect", "ezbr", "--netns", c1, "--owner", "ctr-1", "-o", "json"])
        XCTAssertEqual(again.changed, false)
        let mac = try XCTUnwrap(again.json["mac"] as? String)
        XCTAssertTrue(try inNS(c1, [ipTool!, "link", "show", "eth0"]).stdout.contains("link/ether \(mac) "), "stable MAC \(mac)")
        let eth0 = try inNS(c1, [ipTool!, "-o", "addr", "show", "dev", "eth0"]).stdout
        XCTAssertTrue(eth0.contains("10.79.0.2/24"), eth0)
        XCTAssertTrue(try inNS(c1, [ipTool!, "route"]).stdout.contains("default via 10.79.0.1 dev eth0"))
        XCTAssertTrue(try inNS(c1, [ipTool!, "link", "show", "lo"]).stdout.contains("UP"))

        // Containers reach each other and the gateway.
        let ping = ["/usr/bin/ping", "-c", "1", "-W", "2"]
        XCTAssertEqual(try inNS(c1, ping + ["10.79.0.3"]).status, 0, "c1 -> c2")
        XCTAssertEqual(try inNS(c2, ping + ["10.79.0.2"]).status, 0, "c2 -> c1")
        XCTAssertEqual(try inNS(c1, ping + ["10.79.0.1"]).status, 0, "c1 -> gateway")

        // The outside sees the host's uplink address as the source (MASQUERADE).
        let seen = workDir + "/seen"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: ipTool!)
        server.arguments = ["netns", "exec", outside, "/usr/bin/python3", "-c", """
        import socket
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("192.168.251.2", 8080)); s.listen(1); s.settimeout(10)
        c, a = s.accept(); open("\(seen)", "w").write(a[0]); c.close()
        """]
        try server.run()
        usleep(500_000)
        let client = try inNS(c1, ["/usr/bin/python3", "-c", "import socket; socket.create_connection(('192.168.251.2', 8080), timeout=5).close()"])
        XCTAssertEqual(client.status, 0, client.stderr)
        server.waitUntilExit()
        XCTAssertEqual(try String(contentsOfFile: seen, encoding: .utf8), "192.168.251.1")

        // A namespace that cannot be entered: error, rolled back, nothing left.
        let before = try hostSnapshot()
        let bad = try hostEzlb(["bridge", "connect", "ezbr", "--netns", "ezlb-no-such-ns-\(tag)", "--owner", "ctr-9"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("rolled back"), bad.stderr)
        XCTAssertEqual(try hostSnapshot(), before)

        // Disconnect/reconnect cycles leak nothing.
        for _ in 0..<3 {
            XCTAssertEqual(try hostEzlb(["bridge", "disconnect", "ezbr", "--owner", "ctr-1"]).status, 0)
            XCTAssertEqual(try inNS(c1, [ipTool!, "link", "show", "eth0"]).status, 1, "eth0 gone with its veth")
            XCTAssertEqual(try hostEzlb(["bridge", "connect", "ezbr", "--netns", c1, "--owner", "ctr-1"]).status, 0)
        }
        XCTAssertEqual(try hostSnapshot(), before)
        XCTAssertEqual(try inNS(c1, ping + ["10.79.0.3"]).status, 0, "reconnected c1 -> c2")

        // Delete refuses while connected; --force cleans link, rule and IPAM.
        XCTAssertEqual(try hostEzlb(["bridge", "delete", "ezbr"]).status, 1)
        let del = try hostEzlb(["bridge", "delete", "ezbr", "--force"])
        XCTAssertEqual(del.status, 0, del.stderr)
        XCTAssertEqual(try hostSnapshot(), start)
        _ = afterCreate
    }

    /// iptables-save of one table in the host namespace, without the comment lines
    /// and with the built-in chains' counters as [0:0].
    func natSave(six: Bool = false) throws -> [String] {
        let r = try inNS(host, [six ? "/usr/sbin/ip6tables-legacy-save" : "/usr/sbin/iptables-legacy-save", "-t", "nat"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Built-in chains' counters move with the namespace's own traffic (IPv6 DAD, MLD).
        return r.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }.map {
            $0.hasPrefix(":") && !$0.contains(" - ") ? String($0[..<$0.lastIndex(of: "[")!]) + "[0:0]" : $0
        }
    }

    func natTable(_ lines: [String]) -> [String] {
        ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"] + lines + ["COMMIT"]
    }

    /// The MASQUERADE chain is exactly `-s SUBNET ! -o NAME -j MASQUERADE` as
    /// iptables-legacy-save prints it (both families); the same rule written by
    /// iptables-legacy reads back as ezlb's own (no change); a chain in the
    /// CNI-style form of earlier versions, or with rules written by hand (wildcard
    /// and inverted interfaces), is rewritten to it, and the removed rules are
    /// reported in iptables-save's own words; delete leaves nothing.
    func testMasqueradeChainIsExactAndUpgradesFromReturnRules() throws {
        try addNS(host)
        let ipt = "/usr/sbin/iptables-legacy", ip6t = "/usr/sbin/ip6tables-legacy"
        guard FileManager.default.isExecutableFile(atPath: ip6t) else { throw XCTSkip("needs \(ip6t)") }
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "iptables"]).status, 0)
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb6", "--subnet", "fd00:78::/64", "--firewall", "iptables"]).status, 0)
        let want4 = natTable([":EZLB-BR-ezb4 - [0:0]", "-A POSTROUTING -j EZLB-BR-ezb4", "-A EZLB-BR-ezb4 -s 10.78.0.0/24 ! -o ezb4 -j MASQUERADE"])
        let want6 = natTable([":EZLB-BR-ezb6 - [0:0]", "-A POSTROUTING -j EZLB-BR-ezb6", "-A EZLB-BR-ezb6 -s fd00:78::/64 ! -o ezb6 -j MASQUERADE"])
        XCTAssertEqual(try natSave(), want4)
        XCTAssertEqual(try natSave(six: true), want6)

        // The same rule written by iptables itself is ezlb's rule: nothing to do.
        for (tool, chain, net) in [(ipt, "EZLB-BR-ezb4", "10.78.0.0/24"), (ip6t, "EZLB-BR-ezb6", "fd00:78::/64")] {
            XCTAssertEqual(try inNS(host, [tool, "-t", "nat", "-F", chain]).status, 0)
            XCTAssertEqual(try inNS(host, [tool, "-t", "nat", "-A", chain, "-s", net, "!", "-o", String(chain.suffix(4)), "-j", "MASQUERADE"]).status, 0)
        }
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "iptables"]).stdout, "no changes\n")
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb6", "--subnet", "fd00:78::/64", "--firewall", "iptables"]).stdout, "no changes\n")

        // The previous version's chain plus hand-written interface rules.
        let old4 = [["-s", "10.78.0.0/24", "-d", "10.78.0.0/24", "-j", "RETURN"], ["-s", "10.78.0.0/24", "-d", "224.0.0.0/4", "-j", "RETURN"],
                    ["-s", "10.78.0.0/24", "-j", "MASQUERADE"], ["-i", "eth+", "-o", "veth12345678901", "-j", "RETURN"],
                    ["-d", "1.2.3.4", "!", "-i", "a", "-p", "tcp", "--dport", "5", "-j", "RETURN"]]
        let old6 = [["-s", "fd00:78::/64", "-d", "fd00:78::/64", "-j", "RETURN"], ["-s", "fd00:78::/64", "-d", "ff00::/8", "-j", "RETURN"],
                    ["-s", "fd00:78::/64", "-j", "MASQUERADE"], ["!", "-i", "ab+", "-p", "udp", "--sport", "3", "-j", "RETURN"]]
        for (tool, chain, rules) in [(ipt, "EZLB-BR-ezb4", old4), (ip6t, "EZLB-BR-ezb6", old6)] {
            XCTAssertEqual(try inNS(host, [tool, "-t", "nat", "-F", chain]).status, 0)
            for r in rules { XCTAssertEqual(try inNS(host, [tool, "-t", "nat", "-A", chain] + r).status, 0, "\(r)") }
        }
        let before4 = try natSave().filter { $0.hasPrefix("-A EZLB-BR-ezb4 ") }
        let before6 = try natSave(six: true).filter { $0.hasPrefix("-A EZLB-BR-ezb6 ") }
        XCTAssertEqual(before4.count, 5)
        XCTAssertEqual(before4.last, "-A EZLB-BR-ezb4 -d 1.2.3.4/32 ! -i a -p tcp -m tcp --dport 5 -j RETURN")
        let up4 = try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "-o", "json"])
        XCTAssertEqual(up4.status, 0, up4.stderr)
        XCTAssertEqual(up4.actionTexts, before4.map { "- ip4 -t nat -D " + $0.dropFirst(3) } + ["+ ip4 -t nat -A EZLB-BR-ezb4 -s 10.78.0.0/24 ! -o ezb4 -j MASQUERADE"])
        let up6 = try hostEzlb(["bridge", "create", "ezb6", "--subnet", "fd00:78::/64", "--firewall", "iptables", "-o", "json"])
        XCTAssertEqual(up6.actionTexts, before6.map { "- ip6 -t nat -D " + $0.dropFirst(3) } + ["+ ip6 -t nat -A EZLB-BR-ezb6 -s fd00:78::/64 ! -o ezb6 -j MASQUERADE"])
        XCTAssertEqual(try natSave(), want4)
        XCTAssertEqual(try natSave(six: true), want6)
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "iptables", "-o", "json"]).changed, false)

        for b in ["ezb4", "ezb6"] { XCTAssertEqual(try hostEzlb(["bridge", "delete", b]).status, 0) }
        XCTAssertEqual(try natSave(), natTable([]))
        XCTAssertEqual(try natSave(six: true), natTable([]))
    }

    /// On nftables both bridges' MASQUERADE is in `table inet ezlb-bridges` (as `nft` lists it);
    /// a second create changes nothing; `--firewall iptables` moves one bridge's rule to its
    /// EZLB-BR chain; delete leaves no table and no chain.
    func testMasqueradeOnNftables() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else { throw XCTSkip("needs nft (apt-get install nftables)") }
        try addNS(host)
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "nftables"]).status, 0)
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb6", "--subnet", "fd00:78::/64", "--firewall", "nftables"]).status, 0)
        func rules() throws -> [String] {
            try inNS(host, ["nft", "list", "table", "inet", "ezlb-bridges"]).stdout.split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.contains("masquerade") }
        }
        XCTAssertEqual(try rules(), ["ip saddr 10.78.0.0/24 oifname != \"ezb4\" masquerade comment \"ezlb: bridge ezb4\"",
                                     "ip6 saddr fd00:78::/64 oifname != \"ezb6\" masquerade comment \"ezlb: bridge ezb6\""])
        XCTAssertFalse(try natSave().joined().contains("EZLB"))
        XCTAssertEqual(try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "nftables"]).stdout, "no changes\n")
        let list = try hostEzlb(["bridge", "list"]).stdout
        XCTAssertTrue(list.contains("masquerade (nftables)"), list)
        let moved = try hostEzlb(["bridge", "create", "ezb4", "--subnet", "10.78.0.0/24", "--firewall", "iptables", "-o", "json"])
        XCTAssertEqual(moved.status, 0, moved.stderr)
        XCTAssertTrue(moved.actionTexts.contains("- nft masquerade of ezb4 (table inet ezlb-bridges)"), "\(moved.actionTexts)")
        XCTAssertTrue(try natSave().contains("-A EZLB-BR-ezb4 -s 10.78.0.0/24 ! -o ezb4 -j MASQUERADE"))
        XCTAssertEqual(try rules().count, 1)
        for b in ["ezb4", "ezb6"] { XCTAssertEqual(try hostEzlb(["bridge", "delete", b]).status, 0) }
        XCTAssertNotEqual(try inNS(host, ["nft", "list", "table", "inet", "ezlb-bridges"]).status, 0)
        XCTAssertEqual(try natSave(), natTable([]))
    }
}
