import EzlbCore
import Foundation
import Kernel
import XCTest

/// xfrm on the real kernel through libnl-xfrm, inside a network namespace this test creates
/// and always deletes (never the host namespace's policies), with `ip xfrm policy` as the
/// independent verifier. This host's kernel has xfrm policies but no ESP, so states are
/// only checked for the typed error; the VM scenario Tests/vm/xfrm-esp.sh covers ESP.
/// Needs root and iproute2; skipped otherwise.
final class XfrmNetnsTests: NetnsCLITestCase {
    override class var netnsPrefix: String { "ezlb-xfrm" }

    override func checkTools() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            throw XCTSkip("ip (iproute2) missing")
        }
    }

    /// `ip xfrm policy` of the namespace, one policy per line, sorted.
    func policies() throws -> [String] {
        let r = try command(["ip", "-n", netns, "-o", "xfrm", "policy"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map { $0.replacingOccurrences(of: "\\", with: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
            .filter { !$0.isEmpty }.sorted()
    }

    let A = IPAddress("192.168.0.1")!, B = IPAddress("192.168.0.2")!

    func ours() -> [XfrmPolicy] {
        let t = XfrmTemplate(src: A, dst: B, reqid: 0x0E21_0001), i = XfrmTemplate(src: B, dst: A, reqid: 0x0E21_0001)
        let l = XfrmPrefix(IPAddress("10.244.1.0")!, length: 28), r = XfrmPrefix(IPAddress("10.244.2.0")!, length: 28)
        let l6 = XfrmPrefix(IPAddress("fd00:1::")!, length: 64), r6 = XfrmPrefix(IPAddress("fd00:2::")!, length: 64)
        let t6 = XfrmTemplate(src: IPAddress("fd00::1")!, dst: IPAddress("fd00::2")!, reqid: 0x0E21_0002)
        return [
            XfrmPolicy(dir: .out, selector: XfrmSelector(src: l, dst: r), priority: 31000, templates: [t]),
            XfrmPolicy(dir: .in, selector: XfrmSelector(src: r, dst: l), priority: 31000, templates: [i]),
            XfrmPolicy(dir: .fwd, selector: XfrmSelector(src: r, dst: l), priority: 31000, templates: [i]),
            XfrmPolicy(dir: .out, selector: XfrmSelector(src: l6, dst: r6), priority: 31000, templates: [t6]),
        ]
    }

    func testPoliciesRoundTripAndForeignOnesStay() throws {
        // Another tool's policies, one on a selector ezlb does not write (a port).
        for cmd in [["ip", "-n", netns, "xfrm", "policy", "add", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "out", "priority", "100",
                     "tmpl", "src", "192.168.0.1", "dst", "192.168.9.9", "proto", "esp", "reqid", "7", "mode", "tunnel"],
                    ["ip", "-n", netns, "xfrm", "policy", "add", "src", "10.3.0.0/16", "dst", "10.4.0.0/16", "proto", "tcp", "dport", "443",
                     "dir", "in", "priority", "31000", "tmpl", "src", "192.168.9.9", "dst", "192.168.0.1", "proto", "esp", "reqid", "0x0e210001", "mode", "tunnel"]] {
            let r = try command(cmd)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let foreign = try policies()
        XCTAssertEqual(foreign.count, 2)

        let k = try NetlinkXfrm(netns: "/run/netns/\(netns)")
        for p in ours() { try k.apply(.addPolicy(p)) }
        XCTAssertEqual(k.writes, 4)
        // The exact set, as ip xfrm prints it.
        let all = try policies()
        let mine = all.filter { !foreign.contains($0) }
        XCTAssertEqual(mine, [
            "src 10.244.1.0/28 dst 10.244.2.0/28 dir out priority 31000 ptype main tmpl src 192.168.0.1 dst 192.168.0.2 proto esp reqid 237043713 mode tunnel",
            "src 10.244.2.0/28 dst 10.244.1.0/28 dir fwd priority 31000 ptype main tmpl src 192.168.0.2 dst 192.168.0.1 proto esp reqid 237043713 mode tunnel",
            "src 10.244.2.0/28 dst 10.244.1.0/28 dir in priority 31000 ptype main tmpl src 192.168.0.2 dst 192.168.0.1 proto esp reqid 237043713 mode tunnel",
            "src fd00:1::/64 dst fd00:2::/64 dir out priority 31000 ptype main tmpl src fd00::1 dst fd00::2 proto esp reqid 237043714 mode tunnel",
        ], all.joined(separator: "\n"))

        // What libnl reads back equals what was written (so a re-plan has nothing to do),
        // and the foreign policies are recognisable as not ezlb's.
        let dump = try k.dump()
        XCTAssertEqual(Set(dump.policies.filter { $0.priority == 31000 && $0.selector.other == nil }), Set(ours()))
        let portPolicy = dump.policies.first { $0.selector.src.description == "10.3.0.0/16" }
        XCTAssertNotNil(portPolicy?.selector.other, "a port selector is not one of ezlb's")
        XCTAssertEqual(dump.policies.first { $0.priority == 100 }?.templates.first?.reqid, 7)

        // Adding again: EEXIST as a typed error naming the operation.
        XCTAssertThrowsError(try k.apply(.addPolicy(ours()[0]))) { e in
            XCTAssertEqual((e as? XfrmError)?.kind, .exists, "\(e)")
            XCTAssertTrue("\(e)".contains("add policy src 10.244.1.0/28 dst 10.244.2.0/28 dir out"), "\(e)")
        }
        // Update in place (another reqid): no gap, the set stays the same size.
        var changed = ours()[0]
        changed.templates[0].reqid = 0x0E21_0009
        try k.apply(.updatePolicy(changed))
        XCTAssertTrue(try policies().contains { $0.contains("dir out priority 31000") && $0.contains("reqid 237043721") })
        XCTAssertEqual(try policies().count, 6)

        // ezlb show/cleanup in the namespace: only ezlb's objects, never a flush.
        let show = try ezlbNS(["xfrm", "show", "-o", "json"])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertEqual((show.json["policies"] as? [Any])?.count, 4)
        let c = try ezlbNS(["xfrm", "cleanup", "-o", "json"])
        XCTAssertEqual(c.status, 0, c.stderr + c.stdout)
        XCTAssertEqual(c.actionTexts.count, 4, "\(c.actionTexts)")
        XCTAssertEqual(try policies(), foreign)
        let again = try ezlbNS(["xfrm", "cleanup", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.changed, false)
        XCTAssertEqual(again.json["writes"] as? Int, 0)
        XCTAssertThrowsError(try k.apply(.deletePolicy(ours()[1].id))) { e in
            XCTAssertEqual((e as? XfrmError)?.kind, .notFound, "\(e)")
        }
    }

    /// The converged fast path's digest on a real kernel (policies: this host has no ESP): the
    /// same for every read and for the parsing dump, blind to traffic (a policy's use time)
    /// and to the order policies were added in; changed by any policy added, removed or edited.
    func testDigestIgnoresTrafficAndOrderAndSeesEdits() throws {
        let k = try NetlinkXfrm(netns: "/run/netns/\(netns)")
        let empty = try XCTUnwrap(k.currentDigest())
        XCTAssertEqual(k.currentDigest(), empty)
        for p in ours() { try k.apply(.addPolicy(p)) }
        // A policy traffic out of a veth matches (no template: allowed; the lookup sets its use time).
        for cmd in [["link", "add", "va", "type", "veth", "peer", "name", "vb"], ["addr", "add", "10.99.0.1/24", "dev", "va"],
                    ["link", "set", "va", "up"], ["link", "set", "vb", "up"],
                    ["xfrm", "policy", "add", "src", "10.99.0.1/32", "dst", "10.99.0.2/32", "dir", "out", "priority", "100"]] {
            let r = try command(["ip", "-n", netns] + cmd)
            XCTAssertEqual(r.status, 0, "\(cmd): \(r.stderr)")
        }
        let d1 = try XCTUnwrap(k.currentDigest())
        XCTAssertNotEqual(d1, empty)
        XCTAssertEqual(k.currentDigest(), d1)
        XCTAssertEqual(try k.dump().policies.count, 5)
        XCTAssertEqual(k.dumpDigest, d1, "the parsing dump digests the same bytes")

        let stats = ["ip", "-n", netns, "-s", "xfrm", "policy", "list", "src", "10.99.0.1/32"]
        let before = try command(stats).stdout
        XCTAssertTrue(before.contains("use -"), before)
        _ = try command(["ip", "netns", "exec", netns, "ping", "-c", "1", "-W", "1", "10.99.0.2"]) // no one answers
        XCTAssertNotEqual(try command(stats).stdout, before, "traffic moved the policy's lifetime counters")
        XCTAssertEqual(k.currentDigest(), d1, "counters and use time are not in the digest")

        // Any edit changes it: one of ours deleted, a priority changed, a foreign policy added.
        try k.apply(.deletePolicy(ours()[1].id))
        let d2 = try XCTUnwrap(k.currentDigest())
        XCTAssertNotEqual(d2, d1)
        var other = ours()[0]
        other.priority = 31001
        try k.apply(.updatePolicy(other))
        XCTAssertNotEqual(k.currentDigest(), d2)
        try k.apply(.updatePolicy(ours()[0]))
        XCTAssertEqual(k.currentDigest(), d2, "edited back: the same objects, the same digest")
        // Re-added (another kernel index, another place in the dump): the same digest as before.
        try k.apply(.addPolicy(ours()[1]))
        XCTAssertEqual(k.currentDigest(), d1)
        let reversed = Array(ours().reversed())
        for p in reversed { try k.apply(.deletePolicy(p.id)) }
        for p in reversed { try k.apply(.addPolicy(p)) }
        XCTAssertEqual(k.currentDigest(), d1, "another insertion (and dump) order")
        XCTAssertEqual(try command(["ip", "-n", netns, "xfrm", "policy", "add", "src", "10.9.0.0/16", "dst", "10.8.0.0/16", "dir", "in", "priority", "7"]).status, 0)
        XCTAssertNotEqual(k.currentDigest(), d1)
    }

    /// Batched writes: 600 policies in one call (several datagrams of up to 64 requests, only the
    /// last of each acked); duplicates in the middle of a datagram, as the last (acked) request of
    /// one and as the very last request fail alone with their own typed error, matched to them.
    func testPipelinedBatchMatchesEachAck() throws {
        let k = try NetlinkXfrm(netns: "/run/netns/\(netns)")
        let t = XfrmTemplate(src: A, dst: B, reqid: 0x0E21_0001)
        var ops: [XfrmOperation] = (0..<600).map { i in
            .addPolicy(XfrmPolicy(dir: .out, selector: XfrmSelector(src: XfrmPrefix(IPAddress("10.244.1.0")!, length: 28),
                                                                    dst: XfrmPrefix(IPAddress("10.\(100 + i / 250).\(i % 250).0")!, length: 24)),
                                  priority: 31000, templates: [t]))
        }
        ops.insert(ops[10], at: 300)
        ops.insert(ops[20], at: 63)
        ops.append(ops[5])
        let failing = [63, 301, 602]
        let results = k.applyBatch(ops)
        XCTAssertEqual(results.count, 603)
        XCTAssertEqual(results.enumerated().filter { $0.element != nil }.map(\.offset), failing)
        for i in failing {
            XCTAssertEqual(results[i]?.kind, .exists)
            XCTAssertTrue(results[i]?.description.hasPrefix("add policy src 10.244.1.0/28 dst 10.") ?? false, "\(String(describing: results[i]))")
        }
        XCTAssertEqual(k.writes, 600)
        XCTAssertEqual(try policies().count, 600)
        XCTAssertEqual(try k.dump().policies.count, 600)
        let del = k.applyBatch(ops.enumerated().filter { !failing.contains($0.offset) }.map { op -> XfrmOperation in
            guard case .addPolicy(let p) = op.element else { fatalError() }
            return .deletePolicy(p.id)
        })
        XCTAssertTrue(del.allSatisfy { $0 == nil })
        XCTAssertEqual(try policies(), [])
    }

    /// Without ESP in the kernel the first SA fails with a typed error and nothing else is
    /// attempted: no policy is left pointing at a missing SA (make-before-break holds on failure).
    func testSyncWithoutESPChangesNothing() throws {
        let psk = workDir + "/psk"
        try String(repeating: "11", count: 32).write(toFile: psk, atomically: false, encoding: .utf8)
        chmod(psk, 0o600)
        let cfg = writeConfig("""
        ipsec:
          local: 192.168.0.1
          key_file: psk
          pods: [10.244.1.0/28]
          peers: [{address: 192.168.0.2, pods: [10.244.2.0/28]}]
        """)
        // Whether this kernel has ESP decides what to expect.
        let k = try NetlinkXfrm(netns: "/run/netns/\(netns)")
        let probe = XfrmState(id: XfrmStateID(src: A, dst: B, spi: 0x4242), reqid: 0x0E21_0001, aead: "rfc4106(gcm(aes))",
                              key: XfrmKey([UInt8](repeating: 1, count: 20)), icvBits: 128)
        var hasESP = true
        do { try k.apply(.addState(probe)); try k.apply(.deleteState(probe.id)) } catch let e as XfrmError {
            hasESP = false
            XCTAssertTrue(e.description.hasPrefix("add state src 192.168.0.1 dst 192.168.0.2 proto esp spi 0x00004242: not supported by this kernel"), e.description)
        }
        let r = try ezlbNS(["xfrm", "sync", "-c", cfg, "-o", "json"])
        if hasESP {
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try policies().count, 3)
            XCTAssertEqual(try ezlbNS(["xfrm", "sync", "-c", cfg, "-o", "json"]).json["writes"] as? Int, 0)
            XCTAssertEqual(try ezlbNS(["xfrm", "cleanup"]).status, 0)
        } else {
            XCTAssertEqual(r.status, 1, r.stdout)
            let actions = r.json["actions"] as? [[String: Any]] ?? []
            XCTAssertEqual(actions.first?["done"] as? Bool, false)
            XCTAssertNotNil(actions.first?["error"])
            XCTAssertTrue(actions.dropFirst().allSatisfy { ($0["error"] as? String ?? "").hasPrefix("not attempted") }, "\(actions)")
            // A failed run lists its errors, once each: the refusal, then "not attempted".
            XCTAssertEqual((r.json["errors"] as? [String])?.count, 2, r.stdout)
            XCTAssertEqual(try policies(), [], "no policy without its SA")
        }
        XCTAssertEqual(try command(["ip", "-n", netns, "xfrm", "state"]).stdout, "")
    }
}
