import EzlbCore
import Foundation
import Kernel
import XCTest

/// The table digests behind the converged fast path of `snat sync`, on libiptc in a
/// private network namespace: the three ways to make one (the handle about to be
/// committed, a raw copy of the kernel's table, a handle as read) agree for every
/// rule shape ezlb writes; every change the planner would act on changes the
/// digest; what the planner ignores does not.
final class XTDigestTests: XCTestCase {
    typealias Shapes = XTContractTests

    static let natScope = XTDigestScope(chains: ["EZLB-T", "EZLB-GONE"], hooks: ["POSTROUTING"])
    static let filterScope = XTDigestScope(chains: ["EZLB-F"], hooks: ["FORWARD"])

    static func foreign(_ f: IPFamily, _ target: XTTarget = .masquerade) -> XTRule {
        XTRule(source: XTPrefix(IPAddress(f == .ipv4 ? "10.9.0.0" : "2001:db8:9::")!, length: f == .ipv4 ? 16 : 48), target: target)
    }

    /// Variants of `r` that differ in one field each (each one a different rule to the planner).
    static func mutations(_ r: XTRule) -> [XTRule] {
        var out: [XTRule] = []
        func add(_ change: (inout XTRule) -> Void) {
            var m = r
            change(&m)
            if m != r { out.append(m) }
        }
        func other(_ a: IPAddress) -> IPAddress {
            var b = a.bytes
            b[b.count - 1] ^= 1
            return IPAddress(bytes: b)!
        }
        if let d = r.destination { add { $0.destination = XTPrefix(other(d.address), length: d.length) } }
        if let s = r.source { add { $0.source = XTPrefix(s.address, length: s.length - 1) } }
        if r.destinationPort != nil { add { $0.destinationPort! += 1 } }
        if r.sourcePort != nil { add { $0.sourcePort! += 1 } }
        if r.proto == .tcp { add { $0.proto = .udp } }
        if let c = r.comment { add { $0.comment = String(c.dropLast()) + "y" } } else { add { $0.comment = "x" } }
        if let i = r.inInterface { add { $0.inInterface = XTInterface(i.name, invert: !i.invert) } }
        if let o = r.outInterface { add { $0.outInterface = XTInterface("x" + o.name.dropFirst(), invert: o.invert) } }
        if r.ctstate != nil { add { $0.ctstate = [.established] } }
        switch r.target {
        case .snat(let a): add { $0.target = .snat(other(a)) }; add { $0.target = .masquerade }
        case .masquerade: add { $0.target = .accept }
        case .accept: add { $0.target = .drop }
        case .drop: add { $0.target = .return }
        case .return: add { $0.target = .accept }
        default: break
        }
        return out
    }

    struct Fixture {
        let b: LibIPTCBackend
        let f: IPFamily
        var nat: XTTableRef { XTTableRef(f, .nat) }
        var filter: XTTableRef { XTTableRef(f, .filter) }

        /// The digest of the kernel's table now, checked against a fresh handle's.
        func digest(_ ref: XTTableRef, _ scope: XTDigestScope, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
            let raw = try XCTUnwrap(b.currentDigest(ref, scope: scope), file: file, line: line)
            let fresh = try IPTCTable(ref) // a handle as read (the backend holds the xtables lock)
            XCTAssertEqual(fresh.digest(scope), raw, "handle as read vs raw copy", file: file, line: line)
            return raw
        }

        /// Commits `ops` and checks the digest of the handle being committed against the kernel's afterwards.
        func commit(_ ref: XTTableRef, _ ops: [XTOperation], _ scope: XTDigestScope, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
            let committed = try b.commit(ref, ops, digest: scope)
            let now = try digest(ref, scope, file: file, line: line)
            XCTAssertEqual(committed, now, "handle as committed vs raw copy", file: file, line: line)
            return now
        }
    }

    static func scenario(_ f: IPFamily) throws {
        let x = Fixture(b: try LibIPTCBackend(lockTimeout: 5), f: f)
        let nat = x.nat, filter = x.filter, ns = Self.natScope, fs = Self.filterScope
        let shapes = Shapes.shapes(f), filterShapes = Shapes.filterShapes(f)
        let empty = try x.digest(nat, ns)
        let base = try x.commit(nat, [.createChain("EZLB-T"), .appendRule("POSTROUTING", Self.foreign(f))]
                                + shapes.map { .appendRule("EZLB-T", $0) } + [.appendRule("POSTROUTING", .jump(to: "EZLB-T"))], ns)
        XCTAssertNotEqual(base, empty)
        let fbase = try x.commit(filter, [.createChain("EZLB-F")] + filterShapes.map { .appendRule("EZLB-F", $0) }
                                 + [.insertRule("FORWARD", .jump(to: "EZLB-F"), 0), .appendRule("FORWARD", XTRule(target: .drop))], fs)
        XCTAssertEqual(try x.digest(nat, ns), base, "stable")

        // Each change is seen, and undone gives the digest back.
        func changes(_ ref: XTTableRef, _ scope: XTDigestScope, _ base: [UInt8], _ label: String, _ op: [XTOperation], undo: [XTOperation],
                     line: UInt = #line) throws {
            let d: [UInt8]
            do { d = try x.commit(ref, op, scope, line: line) } catch { XCTFail("\(f) \(label): \(error)", line: line); throw error }
            XCTAssertNotEqual(d, base, "\(f) \(label) went unseen", line: line)
            XCTAssertEqual(try x.commit(ref, undo, scope, line: line), base, "\(f) \(label) undone", line: line)
        }
        for (i, r) in shapes.enumerated() {
            XCTAssertGreaterThanOrEqual(Self.mutations(r).count, 2, r.saveArguments)
            for m in Self.mutations(r) {
                try changes(nat, ns, base, "rule \(i) -> \(m.saveArguments)",
                            [.deleteRule("EZLB-T", i, r), .insertRule("EZLB-T", m, i)], undo: [.deleteRule("EZLB-T", i, m), .insertRule("EZLB-T", r, i)])
            }
        }
        for (i, r) in filterShapes.enumerated() {
            XCTAssertGreaterThanOrEqual(Self.mutations(r).count, 2, r.saveArguments)
            for m in Self.mutations(r) {
                try changes(filter, fs, fbase, "filter rule \(i) -> \(m.saveArguments)",
                            [.deleteRule("EZLB-F", i, r), .insertRule("EZLB-F", m, i)], undo: [.deleteRule("EZLB-F", i, m), .insertRule("EZLB-F", r, i)])
            }
        }
        let jump = XTRule.jump(to: "EZLB-T")
        try changes(nat, ns, base, "two rules swapped", [.deleteRule("EZLB-T", 0, shapes[0]), .insertRule("EZLB-T", shapes[0], 1)],
                    undo: [.deleteRule("EZLB-T", 1, shapes[0]), .insertRule("EZLB-T", shapes[0], 0)])
        try changes(nat, ns, base, "a rule appended", [.appendRule("EZLB-T", shapes[0])], undo: [.deleteRule("EZLB-T", shapes.count, shapes[0])])
        try changes(nat, ns, base, "chain flushed", [.flushChain("EZLB-T")], undo: shapes.map { .appendRule("EZLB-T", $0) })
        try changes(nat, ns, base, "jump deleted", [.deleteRule("POSTROUTING", 1, jump)], undo: [.appendRule("POSTROUTING", jump)])
        try changes(nat, ns, base, "second jump", [.appendRule("POSTROUTING", jump)], undo: [.deleteRule("POSTROUTING", 2, jump)])
        try changes(nat, ns, base, "jump moved up", [.deleteRule("POSTROUTING", 1, jump), .insertRule("POSTROUTING", jump, 0)],
                    undo: [.deleteRule("POSTROUTING", 0, jump), .appendRule("POSTROUTING", jump)])
        var conditioned = jump
        conditioned.outInterface = XTInterface("eth0")
        try changes(nat, ns, base, "a conditioned jump", [.appendRule("POSTROUTING", conditioned)], undo: [.deleteRule("POSTROUTING", 2, conditioned)])
        try changes(nat, ns, base, "another managed chain appears", [.createChain("EZLB-GONE")], undo: [.deleteChain("EZLB-GONE")])
        try changes(filter, fs, fbase, "a rule above the jump", [.insertRule("FORWARD", Self.foreign(f, .accept), 0)],
                    undo: [.deleteRule("FORWARD", 0, Self.foreign(f, .accept))])

        // What the planner does not look at: rules after the jump in the hook, other chains.
        XCTAssertEqual(try x.commit(filter, [.appendRule("FORWARD", Self.foreign(f, .accept))], fs), fbase)
        XCTAssertEqual(try x.commit(nat, [.appendRule("PREROUTING", Self.foreign(f, .accept)), .createChain("OTHER"), .appendRule("OTHER", shapes[0]),
                                          .appendRule("POSTROUTING", Self.foreign(f))], ns), base)
        // A jump to a chain outside the scope, in the hook: not the planner's either.
        XCTAssertEqual(try x.commit(nat, [.appendRule("POSTROUTING", .jump(to: "OTHER"))], ns), base)
        // The scope itself is part of the digest.
        XCTAssertNotEqual(try x.digest(nat, XTDigestScope(chains: ["EZLB-T"], hooks: ["POSTROUTING"])), base)
    }

    func testDigestsAgreeAndSeeEveryChange() throws {
        try inPrivateNetns {
            for f in IPFamily.allCases { try Self.scenario(f) }
        }
    }
}
