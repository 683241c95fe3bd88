import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// The byte-level report rendering (`XfrmChange.jsonText`, `ByteText.append(_: XfrmPolicy)`, …)
/// against the `description`s and `JSONValue` dictionaries it replaces on the hot path.
final class XfrmReportTextTests: XCTestCase {
    private func ip(_ s: String) -> IPAddress { IPAddress(s)! }
    private func pfx(_ s: String) -> XfrmPrefix { try! XfrmPrefix.parse(s).get() }

    private var policies: [XfrmPolicy] {
        let t4 = XfrmTemplate(src: ip("192.168.0.1"), dst: ip("192.168.1.10"), reqid: 0x0E21_0001)
        let t6 = XfrmTemplate(src: ip("fd00::1"), dst: ip("fd00::a:2"), reqid: 7, other: "mode transport level use")
        return [
            XfrmPolicy(dir: .out, selector: XfrmSelector(src: pfx("10.244.1.0/26"), dst: pfx("10.10.0.2")), priority: 31_000, templates: [t4]),
            XfrmPolicy(dir: .fwd, selector: XfrmSelector(src: pfx("0.0.0.0/0"), dst: pfx("10.0.0.0/8"), other: "proto 6 \"q\""),
                       priority: 0, templates: [t4, t6], other: "mark 0x00000001/0x000000ff"),
            XfrmPolicy(dir: .in, selector: XfrmSelector(src: pfx("fd00:1::/64"), dst: pfx("fd00:2::/48")), priority: 4_294_967_295,
                       templates: []),
        ]
    }

    private var states: [XfrmState] {
        [
            XfrmState(id: XfrmStateID(src: ip("192.168.1.10"), dst: ip("192.168.0.1"), spi: 0xab65_2911), reqid: 0x0E21_0001,
                      aead: "rfc4106(gcm(aes))", key: XfrmKey(Array(0..<20)), icvBits: 128),
            XfrmState(id: XfrmStateID(src: ip("fd00::1"), dst: ip("fd00::2"), spi: 1, proto: 51), reqid: 0, aead: "",
                      key: XfrmKey([]), icvBits: 0, replayWindow: 0, other: "mode 0 no aead\tauth"),
        ]
    }

    func testTextIsTheDescription() {
        for p in policies {
            var w = ByteText()
            w.append(p)
            XCTAssertEqual(w.string, p.description)
            for t in p.templates {
                var w = ByteText()
                w.append(t)
                XCTAssertEqual(w.string, t.description)
            }
            XCTAssertEqual(XfrmPlanner.policyText(p, sign: "+"), "+ policy \(p)")
        }
        for s in states {
            var w = ByteText()
            w.append(s.id)
            XCTAssertEqual(w.string, s.id.description)
            XCTAssertEqual(XfrmPlanner.stateText(s, note: "in gen 2", sign: "-"),
                           "- state \(s.id) reqid \(XfrmFormat.hex(s.reqid)) \(s.aead) (in gen 2)")
        }
        for v: UInt32 in [0, 1, 0xab, 0x0E21_0001, 0xffff_ffff] {
            let h = String(v, radix: 16)
            XCTAssertEqual(XfrmFormat.hex(v), "0x" + String(repeating: "0", count: max(0, 8 - h.count)) + h)
        }
    }

    func testJSONHoldsThePlannersObjects() throws {
        var changes: [(XfrmChange, JSONValue)] = []
        for p in policies {
            changes.append((XfrmPlanner.change(.add, .addPolicy(p), XfrmPlanner.policyText(p, sign: "+"), .policy(p)), XfrmPlanner.policyJSON(p)))
            changes.append((XfrmPlanner.change(.delete, .deletePolicy(p.id), XfrmPlanner.policyText(p, sign: "-"), .policy(p)), XfrmPlanner.policyJSON(p)))
        }
        for s in states {
            for note in [nil, "out gen 3", "odd \"note\"\n"] as [String?] {
                var c = XfrmPlanner.change(.delete, .deleteState(s.id), XfrmPlanner.stateText(s, note: note, sign: "-"), .state(s, note: note))
                changes.append((c, XfrmPlanner.stateJSON(s)))
                c.replace = true
                changes.append((c, XfrmPlanner.stateJSON(s)))
            }
        }
        for (c, object) in changes {
            for (done, error) in [(true, nil), (false, "not attempted: an earlier \"operation\" failed"), (false, nil)] as [(Bool, String?)] {
                let j = try rendered(c, done: done, error: error).json
                XCTAssertEqual(j["action"], .string(c.kind.rawValue))
                switch c.object {
                case .policy:
                    XCTAssertEqual(j["object"], "policy")
                    XCTAssertEqual(j["policy"]?.text, object.text)
                case .state(_, let note):
                    XCTAssertEqual(j["object"], "state")
                    XCTAssertEqual(j["state"]?.text, object.text)
                    XCTAssertEqual(j["note"], note.map { .string($0) })
                }
                XCTAssertEqual(j["replace"], c.replace ? .bool(true) : nil)
            }
        }
    }
}
