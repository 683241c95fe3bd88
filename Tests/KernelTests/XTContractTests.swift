import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The iptables backend contract: the same operations on the fake and on libiptc
/// give the same results (per commit: done, or the same XTError kind, with the
/// table unchanged) and read back the same rules. libiptc runs in a network
/// namespace of its own (`inPrivateNetns`), so the host's tables are never
/// touched; that half needs root and is skipped otherwise.
final class XTContractTests: XCTestCase {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    /// Every rule shape ezlb writes (and reads back), per family.
    static func shapes(_ f: IPFamily) -> [XTRule] {
        let b = ip(f == .ipv4 ? "192.168.1.10" : "2001:db8:1::10"), s = ip(f == .ipv4 ? "10.0.0.3" : "2001:db8::3")
        let net = XTPrefix(ip(f == .ipv4 ? "10.9.0.0" : "2001:db8:9::"), length: f == .ipv4 ? 16 : 48)
        return [
            XTRule(destination: XTPrefix(b), proto: .tcp, destinationPort: 8080, comment: "ezlb:web", target: .snat(s)),
            XTRule(destination: XTPrefix(b), proto: .udp, destinationPort: 53, comment: "ezlb:dns \"quoted\"", target: .masquerade),
            XTRule(destination: XTPrefix(b), proto: .sctp, destinationPort: 3868, comment: "ezlb:diameter", target: .masquerade),
            XTRule(destination: XTPrefix(b), comment: "ezlb:marked", target: .masquerade),
            XTRule(source: net, target: .masquerade),
            XTRule(source: net, outInterface: XTInterface("ezbr0", invert: true), target: .masquerade),
        ]
    }

    static func filterShapes(_ f: IPFamily) -> [XTRule] {
        let b = ip(f == .ipv4 ? "192.168.1.10" : "2001:db8:1::10")
        return [
            XTRule(ctstate: [.established, .related], comment: "ezlb", target: .accept),
            XTRule(ctstate: [.invalid], target: .drop),
            XTRule(source: XTPrefix(b), proto: .tcp, sourcePort: 8080, comment: "ezlb:web", target: .accept),
            XTRule(source: XTPrefix(b), proto: .udp, sourcePort: 53, destinationPort: 1000, target: .return),
            XTRule(comment: String(repeating: "x", count: 255), target: .accept),
            XTRule(inInterface: XTInterface("veth+"), outInterface: XTInterface("eth0"), proto: .tcp, destinationPort: 22, target: .accept),
            XTRule(source: XTPrefix(b), inInterface: XTInterface("abcdefghijklmn+", invert: true), outInterface: XTInterface("veth12345678901", invert: true), target: .drop),
        ]
    }

    /// Runs the scenario on `b`; returns a transcript of results and read-backs.
    static func scenario(_ b: XTBackend) -> [String] {
        var t: [String] = []
        func commit(_ ref: XTTableRef, _ ops: [XTOperation], _ label: String) {
            do {
                try b.commit(ref, ops)
                t.append("\(label): ok")
            } catch let e as XTError {
                t.append("\(label): \(e.kind)")
            } catch {
                t.append("\(label): \(error)")
            }
        }
        func read(_ ref: XTTableRef, _ chains: [String], _ label: String) {
            do {
                let st = try b.read(ref, chains: chains)
                for c in chains {
                    if let rules = st.chains[c] { t.append("\(label) \(ref) \(c): " + rules.map { $0.saveArguments }.joined(separator: " | ")) }
                    else { t.append("\(label) \(ref) \(c): absent") }
                }
            } catch { t.append("\(label) \(ref): read failed \(error)") }
        }
        for f in IPFamily.allCases {
            let nat = XTTableRef(f, .nat), filter = XTTableRef(f, .filter)
            read(nat, ["POSTROUTING", "EZLB-T"], "empty")
            commit(nat, [.createChain("EZLB-T")] + shapes(f).map { .appendRule("EZLB-T", $0) } + [.appendRule("POSTROUTING", .jump(to: "EZLB-T"))], "\(f) create")
            read(nat, ["POSTROUTING", "EZLB-T"], "created")
            commit(filter, [.createChain("EZLB-F")] + filterShapes(f).map { .appendRule("EZLB-F", $0) }
                   + [.insertRule("FORWARD", .jump(to: "EZLB-F"), 0), .insertRule("FORWARD", XTRule(target: .drop), 1)], "\(f) filter")
            read(filter, ["FORWARD", "EZLB-F"], "filter")
            // Errors: each commit fails whole; the table stays as it was.
            commit(nat, [.createChain("EZLB-T")], "\(f) exists")
            commit(nat, [.flushChain("EZLB-NONE")], "\(f) flush missing")
            commit(nat, [.deleteRule("POSTROUTING", 5, .jump(to: "EZLB-T"))], "\(f) delete index")
            commit(nat, [.insertRule("POSTROUTING", .jump(to: "EZLB-T"), 9)], "\(f) insert index")
            commit(nat, [.flushChain("EZLB-T"), .deleteChain("EZLB-T")], "\(f) delete referenced")
            commit(nat, [.deleteRule("POSTROUTING", 0, .jump(to: "EZLB-T")), .deleteChain("EZLB-T")], "\(f) delete non-empty")
            commit(nat, [.createChain(String(repeating: "L", count: 32))], "\(f) long name")
            commit(filter, [.appendRule("FORWARD", XTRule(outInterface: XTInterface("veth123456789012"), target: .accept))], "\(f) long interface")
            commit(nat, [.flushChain("EZLB-T"), .appendRule("POSTROUTING", XTRule(target: .accept)), .createChain("EZLB-T")], "\(f) atomic")
            read(nat, ["POSTROUTING", "EZLB-T"], "unchanged")
            // Removal in one commit.
            commit(nat, [.deleteRule("POSTROUTING", 0, .jump(to: "EZLB-T")), .flushChain("EZLB-T"), .deleteChain("EZLB-T")], "\(f) remove")
            commit(filter, [.deleteRule("FORWARD", 1, XTRule(target: .drop)), .deleteRule("FORWARD", 0, .jump(to: "EZLB-F")),
                            .flushChain("EZLB-F"), .deleteChain("EZLB-F")], "\(f) remove filter")
            read(nat, ["POSTROUTING", "EZLB-T"], "removed")
            read(filter, ["FORWARD", "EZLB-F"], "removed")
        }
        return t
    }

    func fakeTranscript() throws -> [String] {
        let dir = NSTemporaryDirectory() + "ezlb-xt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let b = FakeXTBackend(kernel: try FakeKernel(dir: StateDirectory(path: dir)))
        return Self.scenario(b)
    }

    /// The scenario on libiptc inside a fresh network namespace (on its own thread).
    func kernelTranscript() throws -> [String] {
        try inPrivateNetns { Self.scenario(try LibIPTCBackend(lockTimeout: 5)) }
    }

    func testFakeSemantics() throws {
        let t = try fakeTranscript()
        for f in ["ipv4", "ipv6"] {
            XCTAssertTrue(t.contains("\(f) create: ok"), "\(t)")
            XCTAssertTrue(t.contains("\(f) exists: chainExists"))
            XCTAssertTrue(t.contains("\(f) flush missing: noSuchChain"))
            XCTAssertTrue(t.contains("\(f) delete index: indexTooBig"))
            XCTAssertTrue(t.contains("\(f) insert index: indexTooBig"))
            XCTAssertTrue(t.contains("\(f) delete referenced: chainReferenced"))
            XCTAssertTrue(t.contains("\(f) delete non-empty: chainNotEmpty"))
            XCTAssertTrue(t.contains("\(f) long name: invalidArgument"))
            XCTAssertTrue(t.contains("\(f) long interface: invalidArgument"))
            XCTAssertTrue(t.contains("\(f) atomic: chainExists"))
            XCTAssertTrue(t.contains("\(f) remove: ok"))
        }
        XCTAssertTrue(t.contains("created ip4 nat POSTROUTING: -j EZLB-T"))
        XCTAssertTrue(t.contains { $0.hasPrefix("created ip6 nat EZLB-T: ") && $0.hasSuffix(" | -s 2001:db8:9::/48 ! -o ezbr0 -j MASQUERADE") }, "\(t)")
        XCTAssertTrue(t.contains("removed ip6 nat EZLB-T: absent"))
    }

    func testKernelMatchesFake() throws {
        let k = try kernelTranscript()
        let f = try fakeTranscript()
        XCTAssertEqual(k.count, f.count)
        for (a, b) in zip(k, f) { XCTAssertEqual(a, b, "libiptc vs fake") }
    }
}
