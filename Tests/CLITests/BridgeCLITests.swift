import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

/// The bridge scenario on the fake kernel (no root): the same CLI, the fake's links, namespaces and iptables.
final class BridgeCLITests: CLITestCase {
    func fake(_ body: (FakeKernel) throws -> Void) throws {
        let k = try FakeKernel(dir: StateDirectory(path: stateDir))
        try body(k)
        k.markDirty()
        try k.save()
    }

    func model() throws -> FakeKernelModel {
        try FakeKernel(dir: StateDirectory(path: stateDir)).model
    }

    /// Links and routes in a fixed order (the fake appends; order is not part of the contract).
    func norm(_ n: FakeNet) -> FakeNet {
        var n = n
        n.links.sort { ($0.netns ?? "", $0.info.name) < ($1.netns ?? "", $1.info.name) }
        n.routes.sort { ($0.netns ?? "", $0.device) < ($1.netns ?? "", $1.device) }
        return n
    }

    func natSave() throws -> String {
        try model().iptables.table(XTTableRef(.ipv4, .nat)).save
    }

    func testCreateConnectDisconnectDeleteOnFake() throws {
        try fake { k in
            for n in ["c1", "c2"] { k.model.net.addNamespace("/run/netns/\(n)") }
            for i in k.model.net.links.indices { k.model.net.links[i].info.up = true } // lo up, as in a started container
        }
        let start = try model().net

        let c = try ezlb(["bridge", "create", "br0", "--subnet", "10.8.0.0/24", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(c.status, 2, c.stderr)
        XCTAssertEqual(c.actionTexts.prefix(3), ["+ bridge br0 10.8.0.0/24 mac \(try model().net.links.first { $0.info.name == "br0" }!.info.mac!) mtu 1500",
                                                  "+ address 10.8.0.1/24 on br0", "+ link br0 up"])
        XCTAssertEqual(Array(c.actionTexts.dropFirst(3)), ["+ ip4 -t nat -N EZLB-BR-br0", "+ ip4 -t nat -A EZLB-BR-br0 -s 10.8.0.0/24 ! -o br0 -j MASQUERADE",
                                                           "+ ip4 -t nat -A POSTROUTING -j EZLB-BR-br0"])
        XCTAssertEqual(try natSave(), """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :EZLB-BR-br0 - [0:0]
        -A POSTROUTING -j EZLB-BR-br0
        -A EZLB-BR-br0 -s 10.8.0.0/24 ! -o br0 -j MASQUERADE
        COMMIT

        """)
        // Idempotent: no change, no write, no duplicate rule.
        let snap = stateSnapshot()
        let again = try ezlb(["bridge", "create", "br0", "--subnet", "10.8.0.0/24", "-o", "json"])
        XCTAssertEqual(again.changed, false, again.stdout)
        XCTAssertEqual(stateSnapshot(), snap)
        XCTAssertEqual(try natSave().components(separatedBy: "-j MASQUERADE").count, 2)
        let afterCreate = try model()

        let a = try ezlb(["bridge", "connect", "br0", "--netns", "c1", "--owner", "ctr-1"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.hasPrefix("+ veth ez"), a.stdout)
        XCTAssertTrue(a.stdout.contains("-> eth0 10.8.0.2/24 in /run/netns/c1 owner ctr-1"), a.stdout)
        let b = try ezlb(["bridge", "connect", "br0", "--netns", "/run/netns/c2", "--owner", "ctr-2", "--ifname", "net1", "-o", "json"])
        XCTAssertEqual(b.json["ip"] as? String, "10.8.0.3")
        let m = try model().net
        let eth0 = m.links.first { $0.netns == "/run/netns/c1" && $0.info.name == "eth0" }
        XCTAssertEqual(eth0?.info.addresses, ["10.8.0.2/24"])
        XCTAssertEqual(eth0?.info.up, true)
        XCTAssertEqual(m.routes.first { $0.netns == "/run/netns/c1" }?.gateway, "10.8.0.1")
        XCTAssertEqual(m.links.filter { $0.info.master == "br0" }.count, 2)
        XCTAssertTrue(m.links.allSatisfy { $0.info.name.utf8.count <= 15 })
        XCTAssertEqual(m.links.first { $0.netns == "/run/netns/c1" && $0.info.name == "lo" }?.info.up, true)

        // Same owner again: no-op.
        let snap2 = stateSnapshot()
        let same = try ezlb(["bridge", "connect", "br0", "--netns", "c1", "--owner", "ctr-1", "-o", "json"])
        XCTAssertEqual(same.changed, false)
        XCTAssertEqual(same.json["ip"] as? String, "10.8.0.2")
        XCTAssertEqual(stateSnapshot(), snap2)

        // A veth deleted by hand (or a run killed half-way): connecting again repairs it, same address.
        try fake { k in
            let host = k.model.net.links.first { $0.peer == "eth0" && $0.netns == nil }!.info.name
            try FakeBridge(kernel: k).deleteLink(host)
        }
        let repaired = try ezlb(["bridge", "connect", "br0", "--netns", "c1", "--owner", "ctr-1", "-o", "json"])
        XCTAssertEqual(repaired.changed, true)
        XCTAssertEqual(repaired.json["ip"] as? String, "10.8.0.2")
        XCTAssertEqual(norm(try model().net), norm(m))

        // A namespace that does not exist: error, everything rolled back.
        let bad = try ezlb(["bridge", "connect", "br0", "--netns", "nope", "--owner", "ctr-3"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("enter network namespace /run/netns/nope"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("rolled back"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1)
        XCTAssertEqual(norm(try model().net), norm(m), "no veth left behind")
        let ipam = try ezlb(["ipam", "list", "--subnet", "10.8.0.0/24", "-o", "json"])
        XCTAssertEqual((ipam.json["allocations"] as? [[String: Any]])?.compactMap { $0["owner"] as? String }, ["ctr-1", "ctr-2"])

        let list = try ezlb(["bridge", "list"])
        XCTAssertTrue(list.stdout.contains("br0 10.8.0.0/24 gateway 10.8.0.1 mtu 1500"), list.stdout)
        XCTAssertTrue(list.stdout.contains("  ctr-2  10.8.0.3  net1 in /run/netns/c2"), list.stdout)

        // Disconnect/reconnect cycles leak nothing.
        for _ in 0..<3 {
            XCTAssertEqual(try ezlb(["bridge", "disconnect", "br0", "--owner", "ctr-1"]).status, 0)
            XCTAssertEqual(try ezlb(["bridge", "disconnect", "br0", "--owner", "ctr-1", "-o", "json"]).changed, false)
            XCTAssertEqual(try ezlb(["bridge", "connect", "br0", "--netns", "c1", "--owner", "ctr-1"]).status, 0)
        }
        XCTAssertEqual(try model().net.links.count, m.links.count)
        for o in ["ctr-1", "ctr-2"] { XCTAssertEqual(try ezlb(["bridge", "disconnect", "br0", "--owner", o]).status, 0) }
        XCTAssertEqual(norm(try model().net), norm(afterCreate.net))
        XCTAssertEqual(try model().iptables, afterCreate.iptables)

        // Delete refuses while connected, --force disconnects; link, rule and addresses go.
        XCTAssertEqual(try ezlb(["bridge", "connect", "br0", "--netns", "c1", "--owner", "ctr-1"]).status, 0)
        let refuse = try ezlb(["bridge", "delete", "br0"])
        XCTAssertEqual(refuse.status, 1)
        XCTAssertTrue(refuse.stderr.contains("ctr-1"), refuse.stderr)
        let del = try ezlb(["bridge", "delete", "br0", "--force", "-o", "json"])
        XCTAssertEqual(del.status, 0, del.stderr)
        XCTAssertTrue(del.actionTexts.contains("- ip4 -t nat -X EZLB-BR-br0"), "\(del.actionTexts)")
        XCTAssertEqual(norm(try model().net), norm(start))
        XCTAssertFalse(try natSave().contains("EZLB"))
        XCTAssertEqual(try ezlb(["ipam", "list", "-o", "json"]).json["allocations"] as? [String], [])
        XCTAssertEqual(try ezlb(["bridge", "delete", "br0", "-o", "json"]).changed, false)
    }

    /// A chain left by a version that wrote CNI-bridge-style rules (RETURN for the
    /// subnet and multicast, then MASQUERADE) converges to the single `! -o` rule on the
    /// next create; delete still removes everything.
    func testUpgradeFromReturnRulesConverges() throws {
        XCTAssertEqual(try ezlb(["bridge", "create", "br0", "--subnet", "10.8.0.0/24"]).status, 0)
        XCTAssertEqual(try ezlb(["bridge", "create", "br6", "--subnet", "fd00:8::/64"]).status, 0)
        let net4 = XTPrefix(IPAddress("10.8.0.0")!, length: 24), net6 = XTPrefix(IPAddress("fd00:8::")!, length: 64)
        let old4 = [XTRule(source: net4, destination: net4, target: .return),
                    XTRule(source: net4, destination: XTPrefix(IPAddress("224.0.0.0")!, length: 4), target: .return),
                    XTRule(source: net4, target: .masquerade)]
        let old6 = [XTRule(source: net6, destination: net6, target: .return),
                    XTRule(source: net6, destination: XTPrefix(IPAddress("ff00::")!, length: 8), target: .return),
                    XTRule(source: net6, target: .masquerade)]
        try fake { k in
            for (ref, chain, rules) in [(XTTableRef(.ipv4, .nat), "EZLB-BR-br0", old4), (XTTableRef(.ipv6, .nat), "EZLB-BR-br6", old6)] {
                var t = k.model.iptables.table(ref)
                let i = t.chains.firstIndex { $0.name == chain }!
                t.chains[i].rules = rules
                k.model.iptables.setTable(t)
            }
        }
        let up = try ezlb(["bridge", "create", "br0", "--subnet", "10.8.0.0/24", "-o", "json"])
        XCTAssertEqual(up.changed, true)
        XCTAssertEqual(up.actionTexts, ["- ip4 -t nat -D EZLB-BR-br0 -s 10.8.0.0/24 -d 10.8.0.0/24 -j RETURN",
                                        "- ip4 -t nat -D EZLB-BR-br0 -s 10.8.0.0/24 -d 224.0.0.0/4 -j RETURN",
                                        "- ip4 -t nat -D EZLB-BR-br0 -s 10.8.0.0/24 -j MASQUERADE",
                                        "+ ip4 -t nat -A EZLB-BR-br0 -s 10.8.0.0/24 ! -o br0 -j MASQUERADE"])
        let up6 = try ezlb(["bridge", "create", "br6", "--subnet", "fd00:8::/64", "-o", "json"])
        XCTAssertEqual(up6.actionTexts.last, "+ ip6 -t nat -A EZLB-BR-br6 -s fd00:8::/64 ! -o br6 -j MASQUERADE")
        XCTAssertTrue(try natSave().contains("-A POSTROUTING -j EZLB-BR-br0\n-A EZLB-BR-br0 -s 10.8.0.0/24 ! -o br0 -j MASQUERADE\nCOMMIT\n"))
        XCTAssertTrue(try model().iptables.table(XTTableRef(.ipv6, .nat)).save
            .contains("-A POSTROUTING -j EZLB-BR-br6\n-A EZLB-BR-br6 -s fd00:8::/64 ! -o br6 -j MASQUERADE\nCOMMIT\n"))
        XCTAssertEqual(try ezlb(["bridge", "create", "br0", "--subnet", "10.8.0.0/24", "-o", "json"]).changed, false)
        for b in ["br0", "br6"] { XCTAssertEqual(try ezlb(["bridge", "delete", b]).status, 0) }
        XCTAssertFalse(try natSave().contains("EZLB"))
        XCTAssertFalse(try model().iptables.table(XTTableRef(.ipv6, .nat)).save.contains("EZLB"))
    }

    func testNoMasqueradeAndForeignLinks() throws {
        let r = try ezlb(["bridge", "create", "br1", "--subnet", "10.9.0.0/24", "--no-masquerade", "-o", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.actionTexts.contains { $0.contains("MASQUERADE") })
        XCTAssertFalse(try natSave().contains("EZLB"))
        // Switching masquerade on later adds the chain; off again removes it.
        XCTAssertTrue(try ezlb(["bridge", "create", "br1", "--subnet", "10.9.0.0/24", "-o", "json"]).actionTexts.contains { $0.contains("MASQUERADE") })
        XCTAssertTrue(try ezlb(["bridge", "create", "br1", "--subnet", "10.9.0.0/24", "--no-masquerade", "-o", "json"]).actionTexts.contains("- ip4 -t nat -X EZLB-BR-br1"))
        // A link ezlb did not make is left alone; another subnet for an existing bridge is refused.
        try fake { k in k.model.net.links.append(.init(info: LinkInfo(name: "docker0", kind: "bridge"))) }
        let foreign = try ezlb(["bridge", "create", "docker0", "--subnet", "10.10.0.0/24"])
        XCTAssertEqual(foreign.status, 1)
        XCTAssertTrue(foreign.stderr.contains("docker0 (bridge) exists and was not created by ezlb"), foreign.stderr)
        XCTAssertEqual(try ezlb(["bridge", "create", "br1", "--subnet", "10.11.0.0/24"]).status, 1)
        XCTAssertEqual(try ezlb(["bridge", "create", "br2", "--subnet", "10.9.0.0/25"]).status, 1, "overlapping subnet")
        for (args, mention) in [(["bridge", "create", "a-name-that-is-too-long", "--subnet", "10.12.0.0/24"], "15"),
                                (["bridge", "create", "br3", "--subnet", "10.12.0.1/32"], "no room"),
                                (["bridge", "create", "br3", "--subnet", "nope"], "--subnet"),
                                (["bridge", "connect", "br1", "--netns", "c1", "--owner", "x", "--ifname", "a/b"], "--ifname"),
                                (["bridge", "connect", "nobr", "--netns", "c1", "--owner", "x"], "not created by ezlb")] {
            let before = stateSnapshot()
            let e = try ezlb(args)
            XCTAssertNotEqual(e.status, 0)
            XCTAssertEqual(e.stderr.split(separator: "\n").count, 1, e.stderr)
            XCTAssertTrue(e.stderr.contains(mention), e.stderr)
            XCTAssertEqual(stateSnapshot(), before)
        }
    }
    func testConcurrentConnectsNeverLoseOrShareAnything() throws {
        try fake { k in for i in 0..<8 { k.model.net.addNamespace("/run/netns/p\(i)") } }
        XCTAssertEqual(try ezlb(["bridge", "create", "br5", "--subnet", "10.15.0.0/24"]).status, 0)
        let procs = try (0..<8).map { i in try spawn(["bridge", "connect", "br5", "--netns", "p\(i)", "--owner", "o\(i)"]) }
        for p in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        let list = try ezlb(["bridge", "list", "-o", "json"])
        let conns = ((list.json["bridges"] as? [[String: Any]])?.first?["connections"] as? [[String: Any]]) ?? []
        XCTAssertEqual(conns.count, 8)
        XCTAssertEqual(Set(conns.compactMap { $0["ip"] as? String }).count, 8)
        XCTAssertEqual(try model().net.links.filter { $0.info.master == "br5" }.count, 8)
        let procs2 = try (0..<8).map { i in try spawn(["bridge", "disconnect", "br5", "--owner", "o\(i)"]) }
        for p in procs2 { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        XCTAssertEqual(try model().net.links.filter { $0.info.kind == "veth" }.count, 0)
        XCTAssertEqual((try ezlb(["ipam", "list", "-o", "json"]).json["allocations"] as? [Any])?.count, 0)
    }
}
