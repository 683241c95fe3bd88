import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A leader cut off from the others by an iptables DROP inside its own
/// network namespace (one netns per node, veths on a bridge in a hub netns;
/// the host's namespace is never touched).
final class RaftIsolationTests: RaftClusterTestCase {
    var namespaces: [String] = []

    func inNS(_ i: Int, _ args: [String]) -> (Int32, String, String) {
        let out = workDir + "/.o-\(UUID().uuidString)", err = workDir + "/.e-\(UUID().uuidString)"
        let quoted = args.map { "'\($0)'" }.joined(separator: " ")
        let (code, _) = sh("ip netns exec \(namespaces[i]) \(Self.binary.path) \(quoted) >\(out) 2>\(err)")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        return (code, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    func makeNetns(_ count: Int) throws {
        guard getuid() == 0, sh("ip netns list").0 == 0 else { throw XCTSkip("needs root and iproute2") }
        let tag = String(UInt32.random(in: 0..<0xFFFFFF), radix: 16)
        let hub = "ezrt\(tag)h"
        netnsToDelete.append(hub)
        var cmds = ["ip netns add \(hub)", "ip -n \(hub) link add br0 type bridge", "ip -n \(hub) link set br0 up"]
        for i in 0..<count {
            let ns = "ezrt\(tag)n\(i)"
            namespaces.append(ns)
            netnsToDelete.append(ns)
            cmds += ["ip netns add \(ns)",
                     "ip -n \(hub) link add v\(i) type veth peer name eth0 netns \(ns)",
                     "ip -n \(hub) link set v\(i) master br0 up",
                     "ip -n \(ns) addr add 10.77.0.\(i + 1)/24 dev eth0",
                     "ip -n \(ns) link set eth0 up", "ip -n \(ns) link set lo up"]
        }
        for c in cmds {
            let (code, out) = sh(c)
            XCTAssertEqual(code, 0, "\(c): \(out)")
        }
    }

    /// `count` nodes in their namespaces (default timeouts; a secret: a cluster off
    /// loopback needs one), joined, with a Master that finished ToMaster. Returns the leader.
    func bringUpInNetns(_ count: Int, extra: String = "") throws -> Int {
        makeCluster(count, secret: "isolation-test-secret-0123456789", hostFor: { "10.77.0.\($0 + 1)" })
        for i in 0..<count where !extra.isEmpty {
            let y = ((try? String(contentsOfFile: nodes[i].config, encoding: .utf8)) ?? "") + extra
            XCTAssertNoThrow(try y.write(toFile: nodes[i].config, atomically: true, encoding: .utf8))
        }
        try start(0, bootstrap: true, netns: namespaces[0])
        try waitFor("n1 to lead", timeout: 10) { (status(0)?["role"] as? String) == "leader" }
        for i in 1..<count {
            try start(i, netns: namespaces[i])
            try waitFor("\(nodes[i].name)'s serve", timeout: 10) { status(i) != nil }
            let (code, _, err) = inNS(i, ["raft", "join", "-c", nodes[i].config, "--peer", nodes[0].addr])
            XCTAssertEqual(code, 0, err)
        }
        try waitFor("\(count) voters", timeout: 15) { (0..<count).allSatisfy { voters($0).count == count } }
        var leader: Int?
        try waitFor("a Master", timeout: 15) { leader = leaderIndex(); return leader != nil && masterAfter(0) != nil }
        guard let leader else { throw XCTSkip("unreachable") }
        let name = nodes[leader].name
        try waitFor("\(name)'s ToMaster", timeout: 10) { hookLines().contains { $0.node == name && $0.event == "ToMaster" && $0.phase == "end" } }
        return leader
    }

    /// Forged raft traffic from a namespace that is not a member: libraft's own handshake
    /// with a RequestVote (higher term, disrupt-leader) and an AppendEntries — one such vote
    /// deposed the Master while the raft port was libraft's open TCP transport — and ezlb's
    /// handshake with a made-up proof. Nothing changes; every node counts the refusals.
    func testForgedRaftTrafficFromANonMemberChangesNothing() throws {
        let count = 3
        try makeNetns(count + 1)   // the last namespace is the attacker's
        guard sh("command -v python3").0 == 0 else { throw XCTSkip("needs python3") }
        let leader = try bringUpInNetns(count)
        let term = status(leader)?["term"] as? Int
        Thread.sleep(forTimeInterval: 1)   // hooks of the bring-up finish
        let t0 = Self.nowNs()
        let targets = (0..<count).map { "\(nodes[$0].addr)=\(status($0)?["raft_id"] as? String ?? "0")" }
        let forge = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("raft/forge.py").path
        let me = "10.77.0.\(count + 1)"
        let (code, out) = sh("ip netns exec \(namespaces[count]) python3 \(forge) --seconds 6 --me \(me):7946 \(targets.joined(separator: " "))")
        XCTAssertEqual(code, 0, out)
        print("forge: \(out)")
        // The forged packets reached every raft port (the test cannot pass by missing them).
        XCTAssertFalse(out.contains("connections: 0 "), out)
        Thread.sleep(forTimeInterval: 1)
        for i in 0..<count {
            let s = status(i)
            XCTAssertEqual(s?["term"] as? Int, term, "\(nodes[i].name): \(String(describing: s))")
            XCTAssertEqual((s?["leader"] as? [String: Any])?["id"] as? String, nodes[leader].name)
            XCTAssertGreaterThan(s?["refused_connections"] as? Int ?? 0, 0)
            XCTAssertTrue((s?["refused_last_peer"] as? String ?? "").hasPrefix(me + ":"), "\(String(describing: s))")
            let log = (try? String(contentsOfFile: nodes[i].logFile, encoding: .utf8)) ?? ""
            XCTAssertTrue(log.contains("did not prove the cluster secret (last from \(me):"), log)
        }
        XCTAssertEqual(hookLines().filter { $0.t > t0 }.map { "\($0.node) \($0.event) \($0.phase)" }, [], "no role change while forged")
        XCTAssertEqual(masterOverlaps(), [])
    }

    /// track_interface: every node tracks a veth (trk0, its peer in the same namespace) of its own namespace; set down on
    /// the Master, it hands the role to a healthy node; set up again, nothing moves.
    func testTrackedInterfaceDownMovesTheMaster() throws {
        let count = 3
        try makeNetns(count)
        for ns in namespaces { XCTAssertEqual(sh("ip -n \(ns) link add trk0 type veth peer name trk1 && ip -n \(ns) link set trk1 up && ip -n \(ns) link set trk0 up").0, 0) }
        let leader = try bringUpInNetns(count, extra: "track:\n  interfaces: [trk0]\n  interval: 200ms\n  fall: 2\n")
        let name = nodes[leader].name
        XCTAssertEqual(status(leader)?["healthy"] as? Bool, true)
        let t0 = Self.nowNs()
        XCTAssertEqual(sh("ip -n \(namespaces[leader]) link set trk0 down").0, 0)
        try waitFor("another Master", timeout: 10) { masterAfter(t0).map { $0.1 != name } ?? false }
        XCTAssertEqual(masterOverlaps(), [])
        let log = (try? String(contentsOfFile: nodes[leader].logFile, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("track: unhealthy (interface trk0 is down)"), log)
        XCTAssertEqual(status(leader)?["healthy"] as? Bool, false)
        let t1 = Self.nowNs()
        XCTAssertEqual(sh("ip -n \(namespaces[leader]) link set trk0 up").0, 0)
        try waitFor("healthy again", timeout: 5) { (status(leader)?["healthy"] as? Bool) == true }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertNil(masterAfter(t1), "recovery moves nothing")
    }

    func testIsolatedLeaderRunsToSlaveWithinElectionTimeoutPlusMargin() throws {
        let count = 3
        try makeNetns(count)
        guard sh("command -v iptables").0 == 0 else { throw XCTSkip("needs iptables") }
        let leader: Int? = try bringUpInNetns(count)
        let name = nodes[leader!].name

        let ns = namespaces[leader!]
        let t0 = Self.nowNs()
        XCTAssertEqual(sh("ip netns exec \(ns) iptables -A INPUT -i eth0 -j DROP && ip netns exec \(ns) iptables -A OUTPUT -o eth0 -j DROP").0, 0)
        // The Master role follows the leader lease (a majority of voters heard
        // within the election timeout), which expires at most one election
        // timeout after the DROP; margin 500 ms: the 50 ms poll, the hook's
        // own 50 ms, process start and scheduling on a loaded 2-CPU machine.
        let bound = 1.0 + 0.5
        var slaveEnd: UInt64?
        try waitFor("ToSlave on the isolated \(name)", timeout: 10) {
            slaveEnd = hookLines().first { $0.node == name && $0.t > t0 && $0.event == "ToSlave" && $0.phase == "end" }?.t
            return slaveEnd != nil
        }
        let took = Double(slaveEnd! - t0) / 1e9
        print("isolated leader ran ToSlave \(took) s after the DROP (bound \(bound) s)")
        XCTAssertLessThanOrEqual(took, bound)
        // The others elect a new Master, and never while the old one still held the VIP.
        try waitFor("a new Master", timeout: 15) { masterAfter(t0).map { $0.1 != name } ?? false }
        XCTAssertEqual(masterOverlaps(), [])

        // Healing: the old leader comes back as a follower, the Master stays where it is.
        let newMaster = masterAfter(t0)!.1
        XCTAssertEqual(sh("ip netns exec \(ns) iptables -F").0, 0)
        try waitFor("\(name) to follow \(newMaster)", timeout: 15) {
            guard let s = status(leader!), let l = s["leader"] as? [String: Any] else { return false }
            return (s["role"] as? String) == "follower" && (l["id"] as? String) == newMaster
        }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertFalse(hookLines().contains { $0.node == name && $0.t > t0 && $0.event == "ToMaster" })
        XCTAssertEqual(masterOverlaps(), [])
    }
}
