import Foundation
import XCTest

/// Runs the built binary as a container runtime runs a CNI plugin: no arguments, CNI_* in the
/// environment, the network configuration on stdin.
class CNITestCase: CLITestCase {
    struct CNIRun {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:] }
    }

    /// `config` as JSON on stdin; `env` on top of CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME.
    func cni(_ command: String, _ config: [String: Any]?, cid: String? = nil, netns: String? = nil, ifname: String? = "eth0",
             env: [String: String] = [:], raw: Data? = nil, binary: URL? = nil) throws -> CNIRun {
        let input = workDir + "/.stdin-\(UUID().uuidString)"
        let data = try raw ?? config.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        XCTAssertTrue(FileManager.default.createFile(atPath: input, contents: data))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let p = Process()
        p.executableURL = binary ?? Self.binary
        p.arguments = []
        var e = ProcessInfo.processInfo.environment
        for k in e.keys where k.hasPrefix("CNI_") || k.hasPrefix("EZLB_") { e[k] = nil }
        e["CNI_COMMAND"] = command
        if let cid { e["CNI_CONTAINERID"] = cid }
        if let netns { e["CNI_NETNS"] = netns }
        if let ifname { e["CNI_IFNAME"] = ifname }
        e["CNI_PATH"] = "/usr/lib/cni"
        for (k, v) in env { e[k] = v }
        p.environment = e
        p.standardInput = FileHandle(forReadingAtPath: input)
        let r = try capture(p)
        return CNIRun(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    /// A network configuration of the main plugin on the fake kernel in this test's state dir.
    func network(version: String = "1.0.0", name: String = "podnet", bridge: String = "ezcni0", subnet: String = "10.89.0.0/24",
                 extra: [String: Any] = [:], ipamExtra: [String: Any] = [:], backend: String = "fake") -> [String: Any] {
        var ipam: [String: Any] = ["type": "ezlb", "ranges": [[["subnet": subnet]]], "routes": [["dst": "0.0.0.0/0"]]]
        for (k, v) in ipamExtra { ipam[k] = v }
        var n: [String: Any] = ["cniVersion": version, "name": name, "type": "ezlb", "bridge": bridge, "ipMasq": true,
                                "backend": backend, "stateDir": stateDir, "firewall": "iptables", "ipam": ipam]
        for (k, v) in extra { n[k] = v }
        return n
    }

    /// The fake kernel with these network namespaces (what `ip netns add` would make).
    func fakeNamespaces(_ names: [String]) throws {
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let k: [String: Any] = ["schema": 1, "kind": "fake-kernel",
                                "data": ["net": ["links": [], "namespaces": names, "routes": []]]]
        try JSONSerialization.data(withJSONObject: k).write(to: URL(fileURLWithPath: stateDir + "/fake-kernel.json"))
    }

    // MARK: the spec's result and error layouts (SPEC.md "Success", "Error", "VERSION")

    static func isCIDR(_ s: Any?) -> Bool {
        guard let s = s as? String else { return false }
        let p = s.split(separator: "/")
        guard p.count == 2, let n = Int(p[1]) else { return false }
        return isIP(String(p[0])) && n >= 0 && n <= (p[0].contains(":") ? 128 : 32)
    }

    static func isIP(_ s: Any?) -> Bool {
        guard let s = s as? String else { return false }
        var a4 = in_addr(), a6 = in6_addr()
        return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1
    }

    static func isMAC(_ s: Any?) -> Bool {
        guard let s = s as? String else { return false }
        let p = s.split(separator: ":", omittingEmptySubsequences: false)
        return p.count == 6 && p.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }

    /// Every key and value of a success result as the spec defines them for `version`; no other key.
    func assertValidResult(_ r: [String: Any], version: String, file: StaticString = #filePath, line: UInt = #line) {
        func fail(_ m: String) { XCTFail("result \(r): \(m)", file: file, line: line) }
        XCTAssertEqual(r["cniVersion"] as? String, version, file: file, line: line)
        let legacy = ["0.1.0", "0.2.0"].contains(version)
        let allowed: Set<String> = legacy ? ["cniVersion", "ip4", "ip6", "dns"] : ["cniVersion", "interfaces", "ips", "routes", "dns"]
        for k in r.keys where !allowed.contains(k) { fail("unexpected key \(k)") }
        func checkRoutes(_ v: Any?, _ where_: String) {
            guard let v else { return }
            guard let list = v as? [[String: Any]] else { return fail("\(where_).routes is not a list of objects") }
            for rt in list {
                if !Self.isCIDR(rt["dst"]) { fail("\(where_) route without a CIDR dst") }
                if rt["gw"] != nil && !Self.isIP(rt["gw"]) { fail("\(where_) route gw is not an IP") }
                for k in rt.keys where !["dst", "gw", "mtu", "advmss", "priority", "table", "scope"].contains(k) { fail("route key \(k)") }
            }
        }
        if let d = r["dns"] {
            guard let dns = d as? [String: Any] else { return fail("dns is not an object") }
            for k in dns.keys where !["nameservers", "domain", "search", "options"].contains(k) { fail("dns key \(k)") }
        }
        if legacy {
            for fam in ["ip4", "ip6"] {
                guard let v = r[fam] else { continue }
                guard let o = v as? [String: Any], Self.isCIDR(o["ip"]) else { return fail("\(fam).ip is not a CIDR") }
                if o["gateway"] != nil && !Self.isIP(o["gateway"]) { fail("\(fam).gateway") }
                checkRoutes(o["routes"], fam)
            }
            XCTAssertTrue(r["ip4"] != nil || r["ip6"] != nil, "no ip4/ip6", file: file, line: line)
            return
        }
        let ifaces = r["interfaces"].map { $0 as? [[String: Any]] } ?? []
        if r["interfaces"] != nil && ifaces == nil { fail("interfaces is not a list of objects") }
        for i in ifaces ?? [] {
            if ((i["name"] as? String) ?? "").isEmpty { fail("interface without a name") }
            if i["mac"] != nil && !Self.isMAC(i["mac"]) { fail("interface mac \(i["mac"] ?? "")") }
            if i["sandbox"] != nil && !(i["sandbox"] is String) { fail("interface sandbox") }
            for k in i.keys where !["name", "mac", "mtu", "sandbox", "socketPath", "pciID"].contains(k) { fail("interface key \(k)") }
        }
        guard let ips = r["ips"] as? [[String: Any]] else { return fail("ips is not a list of objects") }
        for ip in ips {
            if !Self.isCIDR(ip["address"]) { fail("ip address \(ip["address"] ?? "")") }
            if ip["gateway"] != nil && !Self.isIP(ip["gateway"]) { fail("ip gateway") }
            if let idx = ip["interface"] {
                guard let n = idx as? Int, n >= 0, n < (ifaces?.count ?? 0) else { return fail("ip interface index \(idx) outside interfaces") }
            }
            let needsVersion = !["1.0.0", "1.1.0"].contains(version)
            if needsVersion {
                let want = ((ip["address"] as? String) ?? "").contains(":") ? "6" : "4"
                if ip["version"] as? String != want { fail("ip version must be \"\(want)\" for \(version)") }
            } else if ip["version"] != nil {
                fail("ip version is not part of \(version)")
            }
            for k in ip.keys where !["address", "gateway", "interface", "version"].contains(k) { fail("ip key \(k)") }
        }
        checkRoutes(r["routes"], "result")
    }

    /// The error JSON: cniVersion, a code, a message, optional details; nothing else; a non-zero exit.
    func assertCNIError(_ run: CNIRun, code: Int, version: String = "1.0.0", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(run.status, 0, run.stdout, file: file, line: line)
        let e = run.json
        XCTAssertEqual(e["cniVersion"] as? String, version, run.stdout, file: file, line: line)
        XCTAssertEqual(e["code"] as? Int, code, run.stdout, file: file, line: line)
        XCTAssertFalse(((e["msg"] as? String) ?? "").isEmpty, run.stdout, file: file, line: line)
        if let d = e["details"] { XCTAssertTrue(d is String, file: file, line: line) }
        for k in e.keys where !["cniVersion", "code", "msg", "details"].contains(k) { XCTFail("error key \(k)", file: file, line: line) }
        XCTAssertEqual(run.stdout.filter { $0 == "\n" }.count, 1, "one JSON object on stdout", file: file, line: line)
    }
}

final class CNICLITests: CNITestCase {
    func testVersionNegotiation() throws {
        let v = try cni("VERSION", nil, ifname: nil)
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertEqual(v.json["cniVersion"] as? String, "1.1.0")
        XCTAssertEqual(v.json["supportedVersions"] as? [String], ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
        let old = try cni("VERSION", ["cniVersion": "0.3.1"], ifname: nil)
        XCTAssertEqual(old.json["cniVersion"] as? String, "0.3.1")
        // Negotiation never fails: an unknown version (or no config) gets the latest and the list.
        let future = try cni("VERSION", ["cniVersion": "9.9.9"], ifname: nil)
        XCTAssertEqual(future.status, 0, future.stdout)
        XCTAssertEqual(future.json["cniVersion"] as? String, "1.1.0")
        XCTAssertEqual((future.json["supportedVersions"] as? [String])?.last, "1.1.0")
        // With arguments ezlb is the CLI, whatever the environment says.
        let r = try ezlb(["--version"], env: ["CNI_COMMAND": "VERSION"])
        XCTAssertTrue(r.stdout.hasPrefix("ezlb "), r.stdout)
    }

    /// ADD, ADD again (same result, no change), CHECK with the prevResult, DEL, DEL again, CHECK
    /// after DEL; the attachment shows in `bridge list` and `ipam list` in between, and nothing
    /// is left after.
    func testAddAddCheckDelDelOnTheFakeKernel() throws {
        try fakeNamespaces(["/run/netns/c1", "/run/netns/c2"])
        let net = network()
        let a1 = try cni("ADD", net, cid: "c0ffee01", netns: "/run/netns/c1")
        XCTAssertEqual(a1.status, 0, a1.stdout + a1.stderr)
        assertValidResult(a1.json, version: "1.0.0")
        XCTAssertEqual((a1.json["ips"] as? [[String: Any]])?.first?["address"] as? String, "10.89.0.2/24")
        XCTAssertEqual((a1.json["ips"] as? [[String: Any]])?.first?["gateway"] as? String, "10.89.0.1")
        let ifaces = a1.json["interfaces"] as? [[String: Any]] ?? []
        XCTAssertEqual(ifaces.map { $0["name"] as? String ?? "" }.first, "ezcni0")
        XCTAssertEqual(ifaces.last?["sandbox"] as? String, "/run/netns/c1")
        let before = stateSnapshot()
        let a2 = try cni("ADD", net, cid: "c0ffee01", netns: "/run/netns/c1")
        XCTAssertEqual(a2.status, 0, a2.stdout)
        XCTAssertEqual(a2.json as NSDictionary, a1.json as NSDictionary, "ADD again: the same result")
        XCTAssertEqual(stateSnapshot(), before, "ADD again writes nothing")

        let list = try ezlb(["bridge", "list", "-o", "json"])
        XCTAssertTrue(list.stdout.contains("cni:podnet:c0ffee01:eth0"), list.stdout)
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.contains("10.89.0.2/24  cni:podnet:c0ffee01:eth0"))

        var chk = net
        chk["prevResult"] = a1.json
        XCTAssertEqual(try cni("CHECK", chk, cid: "c0ffee01", netns: "/run/netns/c1").status, 0)
        var wrong = chk
        wrong["prevResult"] = ["cniVersion": "1.0.0", "ips": [["address": "10.89.0.99/24"]]]
        assertCNIError(try cni("CHECK", wrong, cid: "c0ffee01", netns: "/run/netns/c1"), code: 102)

        let d1 = try cni("DEL", chk, cid: "c0ffee01", netns: "/run/netns/c1")
        XCTAssertEqual(d1.status, 0, d1.stdout)
        XCTAssertEqual(d1.stdout, "")
        // DEL again, and DEL without a namespace (the container is gone): success, nothing to do.
        XCTAssertEqual(try cni("DEL", chk, cid: "c0ffee01", netns: "/run/netns/c1").status, 0)
        XCTAssertEqual(try cni("DEL", chk, cid: "c0ffee01", netns: nil).status, 0)
        assertCNIError(try cni("CHECK", chk, cid: "c0ffee01", netns: "/run/netns/c1"), code: 3)
        // The network's bridge went with its last attachment; nothing is left.
        XCTAssertEqual((try ezlb(["bridge", "list", "-o", "json"]).json["bridges"] as? [Any])?.count, 0)
        let kernel = try String(contentsOfFile: stateDir + "/fake-kernel.json", encoding: .utf8)
        XCTAssertFalse(kernel.contains("ezcni0"), kernel)
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.hasPrefix("0 allocations"))
    }

    /// The CLI sees CNI's attachments and the other way round: `bridge disconnect` of a CNI
    /// owner removes it (a later DEL succeeds), and a bridge made by `bridge create` is used by
    /// the network and stays after its last DEL.
    func testCLIAndCNIShareStateBothWays() throws {
        try fakeNamespaces(["/run/netns/c1"])
        XCTAssertEqual(try ezlb(["bridge", "create", "ezcni0", "--subnet", "10.89.0.0/24", "--firewall", "iptables"]).status, 0)
        let add = try cni("ADD", network(), cid: "c1", netns: "/run/netns/c1")
        XCTAssertEqual(add.status, 0, add.stdout)
        let owner = "cni:podnet:c1:eth0"
        let d = try ezlb(["bridge", "disconnect", "ezcni0", "--owner", owner])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertEqual(try cni("DEL", network(), cid: "c1", netns: "/run/netns/c1").status, 0)
        let list = try ezlb(["bridge", "list"])
        XCTAssertTrue(list.stdout.hasPrefix("ezcni0 10.89.0.0/24"), "the CLI's bridge stays: \(list.stdout)")
        // A network whose subnet differs from the bridge's is refused as a config error.
        assertCNIError(try cni("ADD", network(subnet: "10.90.0.0/24"), cid: "c1", netns: "/run/netns/c1"), code: 7)
    }

    /// The result layouts of the older versions a runtime may still send.
    func testResultLayoutPerVersion() throws {
        try fakeNamespaces(["/run/netns/c1"])
        for (i, v) in ["0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"].enumerated() {
            let r = try cni("ADD", network(version: v), cid: "v\(i)", netns: "/run/netns/c1", ifname: "eth\(i)")
            XCTAssertEqual(r.status, 0, "\(v): \(r.stdout)")
            assertValidResult(r.json, version: v)
            if v == "0.2.0" { XCTAssertEqual((r.json["ip4"] as? [String: Any])?["ip"] as? String, "10.89.0.2/24") }
        }
    }

    /// Chained after another plugin: its interfaces, IPs and routes stay first and the index of
    /// ezlb's IP points at ezlb's container interface.
    func testChainedAddKeepsThePreviousResult() throws {
        try fakeNamespaces(["/run/netns/c1"])
        var net = network()
        net["prevResult"] = ["cniVersion": "1.0.0", "interfaces": [["name": "dummy0"]],
                             "ips": [["address": "192.0.2.5/24", "interface": 0]], "routes": [["dst": "198.51.100.0/24"]],
                             "dns": ["nameservers": ["192.0.2.53"]]]
        let r = try cni("ADD", net, cid: "chain", netns: "/run/netns/c1")
        XCTAssertEqual(r.status, 0, r.stdout)
        assertValidResult(r.json, version: "1.0.0")
        let ifaces = r.json["interfaces"] as? [[String: Any]] ?? []
        let ips = r.json["ips"] as? [[String: Any]] ?? []
        XCTAssertEqual(ifaces.first?["name"] as? String, "dummy0")
        XCTAssertEqual(ifaces.count, 4)
        XCTAssertEqual(ips.count, 2)
        XCTAssertEqual(ips.last?["interface"] as? Int, 3)
        XCTAssertEqual((r.json["dns"] as? [String: Any])?["nameservers"] as? [String], ["192.0.2.53"])
        XCTAssertEqual((r.json["routes"] as? [[String: Any]])?.first?["dst"] as? String, "198.51.100.0/24")
    }

    /// Requested addresses (runtimeConfig.ips, CNI_ARGS IP=), ranges, reservations and routes.
    func testRequestedAddressRangeReservedAndRoutes() throws {
        try fakeNamespaces(["/run/netns/c1", "/run/netns/c2", "/run/netns/c3"])
        let net = network(ipamExtra: ["ranges": [[["subnet": "10.89.0.0/24", "rangeStart": "10.89.0.100", "rangeEnd": "10.89.0.200"]]],
                                      "reserved": ["10.89.0.100-10.89.0.101"],
                                      "routes": [["dst": "0.0.0.0/0"], ["dst": "172.16.0.0/12", "gw": "10.89.0.254"]]])
        let a = try cni("ADD", net, cid: "a", netns: "/run/netns/c1")
        XCTAssertEqual((a.json["ips"] as? [[String: Any]])?.first?["address"] as? String, "10.89.0.102/24", a.stdout)
        let routes = (a.json["routes"] as? [[String: Any]] ?? []).map { "\($0["dst"] ?? "") \($0["gw"] ?? "-")" }
        XCTAssertEqual(routes, ["0.0.0.0/0 10.89.0.1", "172.16.0.0/12 10.89.0.254"])
        let kernel = try String(contentsOfFile: stateDir + "/fake-kernel.json", encoding: .utf8)
        XCTAssertTrue(kernel.contains(#""destination" : "172.16.0.0\/12""#), "the extra route is in the namespace: \(kernel)")
        var rc = net
        rc["runtimeConfig"] = ["ips": ["10.89.0.150/24"]]
        let b = try cni("ADD", rc, cid: "b", netns: "/run/netns/c2")
        XCTAssertEqual((b.json["ips"] as? [[String: Any]])?.first?["address"] as? String, "10.89.0.150/24", b.stdout)
        let c = try cni("ADD", net, cid: "c", netns: "/run/netns/c3", env: ["CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.89.0.160"])
        XCTAssertEqual((c.json["ips"] as? [[String: Any]])?.first?["address"] as? String, "10.89.0.160/24", c.stdout)
        assertCNIError(try cni("ADD", net, cid: "d", netns: "/run/netns/c3", env: ["CNI_ARGS": "K8S_POD_NAME=x"]), code: 4)
    }

    /// GC (1.1): attachments of this network the runtime no longer lists go; STATUS answers.
    func testGarbageCollectionAndStatus() throws {
        try fakeNamespaces(["/run/netns/c1", "/run/netns/c2"])
        let net = network(version: "1.1.0")
        for (cid, ns) in [("keep", "/run/netns/c1"), ("gone", "/run/netns/c2")] {
            XCTAssertEqual(try cni("ADD", net, cid: cid, netns: ns).status, 0)
        }
        var gc = net
        gc["cni.dev/valid-attachments"] = [["containerID": "keep", "ifname": "eth0"]]
        let r = try cni("GC", gc, ifname: nil)
        XCTAssertEqual(r.status, 0, r.stdout)
        let owners = try ezlb(["ipam", "list"]).stdout
        XCTAssertTrue(owners.contains("cni:podnet:keep:eth0"), owners)
        XCTAssertFalse(owners.contains("cni:podnet:gone:eth0"), owners)
        XCTAssertEqual(try cni("STATUS", net, ifname: nil).status, 0)
        assertCNIError(try cni("GC", network(version: "1.0.0"), ifname: nil), code: 1)
        // An unreadable state file: STATUS says the plugin is not available.
        try "{".write(toFile: stateDir + "/bridges.json", atomically: true, encoding: .utf8)
        assertCNIError(try cni("STATUS", net, ifname: nil), code: 50, version: "1.1.0")
    }

    /// What the spec review found: CHECK needs prevResult; GC needs the runtime's list (under
    /// either name) and removes nothing without it; DEL works on a config ADD refused; IP= may
    /// carry a prefix; a failed first ADD leaves no bridge behind.
    func testSpecEdges() throws {
        try fakeNamespaces(["/run/netns/c1", "/run/netns/c2"])
        let net = network(version: "1.1.0")
        XCTAssertEqual(try cni("ADD", net, cid: "a1", netns: "/run/netns/c1").status, 0)
        assertCNIError(try cni("CHECK", net, cid: "a1", netns: "/run/netns/c1"), code: 7, version: "1.1.0")
        var wrongIface = net
        let add = try cni("ADD", net, cid: "a1", netns: "/run/netns/c1")
        var prev = add.json
        prev["interfaces"] = [["name": "eth9", "sandbox": "/run/netns/c1"]]
        wrongIface["prevResult"] = prev
        assertCNIError(try cni("CHECK", wrongIface, cid: "a1", netns: "/run/netns/c1"), code: 102, version: "1.1.0")
        assertCNIError(try cni("GC", net, ifname: nil), code: 7, version: "1.1.0")
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.contains("cni:podnet:a1:eth0"), "GC without a list removed nothing")
        var gc = net
        gc["cni.dev/attachments"] = [[String: Any]]()
        XCTAssertEqual(try cni("GC", gc, ifname: nil).status, 0)
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.hasPrefix("0 allocations"), "the 1.1.0 text's name works too")
        // DEL with what ADD refuses (isGateway false, unknown CNI_ARGS): it still finds the attachment.
        XCTAssertEqual(try cni("ADD", net, cid: "a2", netns: "/run/netns/c2", env: ["CNI_ARGS": "IP=10.89.0.77/24"]).status, 0)
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.contains("10.89.0.77/24  cni:podnet:a2:eth0"))
        let bad = network(version: "1.1.0", extra: ["isGateway": false])
        let del = try cni("DEL", bad, cid: "a2", netns: "/run/netns/c2", env: ["CNI_ARGS": "K8S_POD_NAME=x"])
        XCTAssertEqual(del.status, 0, del.stdout)
        XCTAssertTrue(try ezlb(["ipam", "list"]).stdout.hasPrefix("0 allocations"))
        // A first ADD that fails (the namespace is gone) leaves no bridge and no rule behind.
        assertCNIError(try cni("ADD", network(version: "1.1.0", bridge: "ezfail0", subnet: "10.66.0.0/24"), cid: "a3", netns: "/run/netns/gone"),
                       code: 3, version: "1.1.0")
        XCTAssertFalse(try ezlb(["bridge", "list"]).stdout.contains("ezfail0"))
        let kernel = try String(contentsOfFile: stateDir + "/fake-kernel.json", encoding: .utf8)
        XCTAssertFalse(kernel.contains("ezfail0"), "bridge link or MASQUERADE chain left behind")
        // Two requested addresses, or one outside the subnet: refused.
        var two = net
        two["runtimeConfig"] = ["ips": ["10.89.0.5/24", "10.89.0.6/24"]]
        assertCNIError(try cni("ADD", two, cid: "a4", netns: "/run/netns/c2"), code: 7, version: "1.1.0")
    }

    /// ezlb as the IPAM plugin of another main plugin (reference bridge, ptp): addresses only.
    func testStandaloneIPAM() throws {
        var net: [String: Any] = ["cniVersion": "1.0.0", "name": "refnet", "type": "bridge", "bridge": "cni0",
                                  "ipam": ["type": "ezlb", "subnet": "10.77.0.0/24", "routes": [["dst": "0.0.0.0/0"]],
                                           "rangeStart": "10.77.0.10"],
                                  "backend": "fake", "stateDir": stateDir]
        let a = try cni("ADD", net, cid: "x1", netns: "/run/netns/whatever")
        XCTAssertEqual(a.status, 0, a.stdout)
        assertValidResult(a.json, version: "1.0.0")
        XCTAssertNil(a.json["interfaces"])
        XCTAssertEqual((a.json["ips"] as? [[String: Any]])?.first?["address"] as? String, "10.77.0.10/24")
        XCTAssertNil((a.json["ips"] as? [[String: Any]])?.first?["interface"])
        XCTAssertEqual((a.json["routes"] as? [[String: Any]])?.first?["dst"] as? String, "0.0.0.0/0")
        net["prevResult"] = a.json
        XCTAssertEqual(try cni("CHECK", net, cid: "x1", netns: "/run/netns/whatever").status, 0)
        XCTAssertEqual(try cni("DEL", net, cid: "x1", netns: nil).status, 0)
        XCTAssertEqual(try cni("DEL", net, cid: "x1", netns: nil).status, 0)
        assertCNIError(try cni("CHECK", net, cid: "x1", netns: "/run/netns/whatever"), code: 3)
        // A gateway other than the first address is the main plugin's, never a container's.
        let gw: [String: Any] = ["cniVersion": "1.0.0", "name": "gwnet", "type": "ptp", "backend": "fake", "stateDir": stateDir,
                                 "ipam": ["type": "ezlb", "subnet": "10.78.0.0/24", "gateway": "10.78.0.254",
                                          "rangeStart": "10.78.0.253", "rangeEnd": "10.78.0.254"]]
        XCTAssertEqual((try cni("ADD", gw, cid: "g1", netns: "/run/netns/x").json["ips"] as? [[String: Any]])?.first?["address"] as? String,
                       "10.78.0.253/24")
        assertCNIError(try cni("ADD", gw, cid: "g2", netns: "/run/netns/x"), code: 100)
    }

    /// Bad input: the spec's code, the one-line message naming the key and value, nothing changed.
    func testBadInputGetsTheSpecsErrorCodes() throws {
        try fakeNamespaces(["/run/netns/c1"])
        let net = network()
        let cases: [(String, [String: Any]?, Data?, [String: String], Int, String)] = [
            ("ADD", net, Data("{".utf8), [:], 6, "invalid JSON"),
            ("ADD", network(extra: ["cniVersion": "0.9.0"]), nil, [:], 1, "cniVersion: '0.9.0'"),
            ("ADD", network(subnet: "10.89.0.1/24"), nil, [:], 7, "ipam.ranges[0][0].subnet: '10.89.0.1/24'"),
            ("ADD", network(extra: ["mtu": 20]), nil, [:], 7, "mtu: '20'"),
            ("ADD", network(extra: ["isGateway": false]), nil, [:], 2, "isGateway"),
            ("ADD", network(ipamExtra: ["ranges": [[["subnet": "10.89.0.0/24"]], [["subnet": "fd00::/64"]]]]), nil, [:], 2, "2 ranges"),
            ("ADD", network(ipamExtra: ["type": "host-local"]), nil, [:], 7, "ipam.type: 'host-local'"),
            ("ADD", network(extra: ["name": "bad name"]), nil, [:], 7, "name: 'bad name'"),
            ("ADD", net, nil, ["CNI_IFNAME": "this-name-is-too-long"], 4, "CNI_IFNAME"),
            ("ADD", net, nil, ["CNI_CONTAINERID": "a;b"], 4, "CNI_CONTAINERID: 'a;b'"),
            ("ADD", net, nil, ["CNI_NETNS": "relative"], 4, "CNI_NETNS: 'relative'"),
            ("NOPE", net, nil, [:], 4, "CNI_COMMAND: 'NOPE'"),
        ]
        for (cmd, cfg, raw, env, code, text) in cases {
            let before = stateSnapshot()
            let r = try cni(cmd, cfg, cid: "c1", netns: "/run/netns/c1", env: env, raw: raw)
            let version = (cfg?["cniVersion"] as? String).flatMap { ["0.9.0"].contains($0) ? "1.1.0" : $0 } ?? "1.1.0"
            assertCNIError(r, code: code, version: raw == nil ? version : "1.1.0")
            XCTAssertTrue((r.json["msg"] as? String ?? "").contains(text), "\(text) in \(r.stdout)")
            XCTAssertEqual(stateSnapshot(), before, "\(text): nothing changed")
        }
        // Missing ADD namespace: the container is unknown.
        let gone = try cni("ADD", net, cid: "c9", netns: "/run/netns/absent")
        assertCNIError(gone, code: 3)
    }
}

/// Malformed network configs and environments: each gets the spec's error JSON (one line on
/// stdout, a known code, exit 1), never a signal, and leaves the state directory as it was. A
/// mutation that is still a valid config is added and deleted again: the state must come back.
final class CNIFuzzTests: CNITestCase {
    func testMalformedInputNeverTrapsAndChangesNothing() throws {
        try fakeNamespaces(["/run/netns/c1", "/run/netns/c2"])
        // A converged state first: one attachment that every call must leave alone.
        XCTAssertEqual(try cni("ADD", network(), cid: "base", netns: "/run/netns/c1").status, 0)
        let valid = try JSONSerialization.data(withJSONObject: network(), options: [.sortedKeys])
        var inputs: [(String, Data, [String: String])] = []
        // Every third truncation of the config (a runtime killed while writing, a short read).
        for n in stride(from: 0, to: valid.count, by: 3) { inputs.append(("truncated at \(n)", valid.prefix(n), [:])) }
        // Wrong types and hostile values for every key the plugin reads.
        let hostile: [Any] = [NSNull(), 0, -1, 1e300, "", "\u{1b}[2J", String(repeating: "x", count: 5000), [Any](), [String: Any](), true,
                              "10.89.0.0/33", "::/0", "0.0.0.0/0", "1.2.3.4", "../../etc"]
        let keys: [[String]] = [["cniVersion"], ["name"], ["type"], ["bridge"], ["mtu"], ["ipMasq"], ["isGateway"], ["stateDir"],
                                ["backend"], ["firewall"], ["dns"], ["prevResult"], ["runtimeConfig"], ["ipam"],
                                ["ipam", "type"], ["ipam", "ranges"], ["ipam", "subnet"], ["ipam", "routes"], ["ipam", "reserved"],
                                ["ipam", "rangeStart"], ["ipam", "gateway"]]
        for k in keys {
            for v in hostile {
                var cfg = network()
                if k.count == 1 {
                    cfg[k[0]] = v
                } else {
                    var ipam = cfg["ipam"] as? [String: Any] ?? [:]
                    ipam[k[1]] = v
                    if k[1] == "subnet" { ipam["ranges"] = nil }
                    ipam[k[1]] = v
                    cfg["ipam"] = ipam
                }
                // A valid config pointing at another state directory or the real kernel would be
                // legitimately used: keep those two broken otherwise.
                if k == ["stateDir"] || k == ["backend"] { cfg["ipam"] = "broken" }
                guard let d = try? JSONSerialization.data(withJSONObject: cfg) else { continue }
                inputs.append(("\(k.joined(separator: ".")) = \(String(describing: v).prefix(20))", d, [:]))
            }
        }
        for (name, value) in [("CNI_CONTAINERID", ""), ("CNI_CONTAINERID", String(repeating: "a", count: 300)), ("CNI_IFNAME", "a/b"),
                              ("CNI_IFNAME", ".."), ("CNI_NETNS", "netns"), ("CNI_ARGS", "=;;=x"), ("CNI_ARGS", "IP=notanip"),
                              ("CNI_COMMAND", "add"), ("CNI_COMMAND", "")] {
            inputs.append(("\(name)=\(value.prefix(20))", valid, [name: value]))
        }
        inputs.append(("deep nesting", Data((String(repeating: "[", count: 100_000)).utf8), [:]))
        inputs.append(("2 MiB", Data(repeating: 0x20, count: 2 << 20) + valid, [:]))
        inputs.append(("not UTF-8", Data([0x7B, 0xFF, 0xFE, 0x7D]), [:]))

        let before = stateSnapshot()
        var failures: [String] = []
        var codes: [Int: Int] = [:]
        var accepted = 0
        for (what, data, env) in inputs {
            let r = try cni("ADD", nil, cid: "fz", netns: "/run/netns/c2", env: env, raw: data)
            if r.stdout.unicodeScalars.contains(where: { $0.value == 0x1B }) || r.stderr.unicodeScalars.contains(where: { $0.value == 0x1B }) {
                failures.append("\(what): raw ESC in the output")
            }
            if r.status == 0 {
                // Still valid: a result, and DEL takes everything back.
                accepted += 1
                if (r.json["ips"] as? [[String: Any]])?.isEmpty != false && r.json["ip4"] == nil { failures.append("\(what): exit 0 without ips: \(r.stdout.prefix(200))") }
                let d = try cni("DEL", nil, cid: "fz", netns: "/run/netns/c2", env: env, raw: data)
                if d.status != 0 { failures.append("\(what): DEL after a valid ADD: \(d.stdout.prefix(200))") }
                if stateSnapshot() != before { failures.append("\(what): ADD + DEL left the state changed") }
                continue
            }
            let e = r.json
            let code = e["code"] as? Int ?? -1
            codes[code, default: 0] += 1
            if r.status != 1 { failures.append("\(what): exit \(r.status)") }
            // 102: a valid config that conflicts with what exists (another bridge on the subnet).
            if ![1, 2, 4, 6, 7, 102].contains(code) { failures.append("\(what): code \(code): \(r.stdout.prefix(200))") }
            if r.stdout.filter({ $0 == "\n" }).count != 1 || (e["msg"] as? String ?? "").isEmpty { failures.append("\(what): stdout \(r.stdout.prefix(200))") }
            if r.stderr.split(separator: "\n").count != 1 { failures.append("\(what): stderr \(r.stderr.prefix(200))") }
            if stateSnapshot() != before { failures.append("\(what): a refused call changed the state") }
        }
        XCTAssertEqual(failures, [], "\(failures.count) of \(inputs.count) inputs")
        XCTAssertGreaterThan(inputs.count - accepted, 350, "most inputs are malformed")
        print("CNI fuzz: \(inputs.count) inputs, \(accepted) still valid (added and deleted), error codes \(codes.sorted { $0.key < $1.key })")
    }
}
