@testable import EzlbCore
import XCTest

final class XTRuleTextTests: XCTestCase {
    func text(_ r: XTRule) -> String {
        var w = ByteText()
        r.writeSaveArguments(into: &w)
        return w.string
    }

    func testFastSaveTextMatchesSaveArguments() {
        let a4 = IPAddress("192.168.1.10")!, a6 = IPAddress("2001:db8::10")!
        var rules: [XTRule] = [
            XTRule(destination: XTPrefix(a4), proto: .tcp, destinationPort: 8080, comment: "ezlb:web", target: .snat(IPAddress("10.0.0.3")!)),
            XTRule(source: XTPrefix(a6), proto: .sctp, sourcePort: 53, comment: "ezlb:we\"i'r\\d ü", target: .accept),
            XTRule(source: XTPrefix(a4, length: 24), destination: XTPrefix(a4, length: 0), proto: .udp, comment: "", target: .masquerade),
            XTRule(ctstate: [.established, .related, .new, .invalid, .untracked], comment: "ezlb", target: .accept),
            XTRule(proto: .udp, sourcePort: 1, destinationPort: 65535, target: .drop),
            .jump(to: "EZLB-SNAT"), XTRule(target: .return), XTRule(target: .other("(not an ezlb rule) -j LOG")),
            XTRule(destination: XTPrefix(a6), target: .snat(IPAddress("2001:db8::3")!)),
            XTRule(source: XTPrefix(a4, length: 24), outInterface: XTInterface("ezlb0", invert: true), target: .masquerade),
            XTRule(inInterface: XTInterface("veth+"), outInterface: XTInterface("eth0"), proto: .tcp, target: .accept),
        ]
        rules.append(XTRule(comment: String(repeating: "x", count: 255), target: .accept))
        rules.append(XTRule(destination: XTPrefix(a4), proto: .tcp, destinationPort: 8080, ctstate: [.new],
                            ctOrigin: XTConntrackOrigin(proto: .tcp, address: IPAddress("10.0.0.1")!, port: 80), mark: XTMark(0x7f, mask: 0xff), target: .masquerade))
        rules.append(XTRule(ctOrigin: XTConntrackOrigin(address: IPAddress("2001:db8::1")!), target: .accept))
        for r in rules { XCTAssertEqual(text(r), r.saveArguments) }
    }

    /// A field added to XTRule must be printed by `writeSaveArguments` too:
    /// update it (and this list) together.
    func testFastSaveTextCoversEveryField() {
        let fields = Mirror(reflecting: XTRule(target: .accept)).children.compactMap(\.label)
        XCTAssertEqual(fields, ["source", "destination", "inInterface", "outInterface", "proto", "sourcePort", "destinationPort", "ctstate", "ctOrigin", "mark", "comment", "target"])
    }

    /// Rules share one box between copies: a setter must copy it first (value semantics),
    /// and equality, hashing and the JSON form are the fields'.
    func testCopiesAreValues() throws {
        let a = XTRule(destination: XTPrefix(IPAddress("10.0.0.1")!), proto: .tcp, destinationPort: 80, comment: "ezlb:web", target: .accept)
        var b = a
        b.destinationPort = 81
        b.comment = nil
        XCTAssertEqual(a.destinationPort, 80)
        XCTAssertEqual(a.comment, "ezlb:web")
        XCTAssertEqual(b.destinationPort, 81)
        XCTAssertNotEqual(a, b)
        var c = b
        c.destinationPort = 80
        c.comment = "ezlb:web"
        XCTAssertEqual(a, c) // built apart, equal by fields
        XCTAssertEqual(Set([a, c]).count, 1)
        XCTAssertEqual(a.fullHash, c.fullHash)
        let json = try JSONEncoder().encode(a)
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any]).keys.sorted()
        XCTAssertEqual(keys, ["comment", "destination", "destinationPort", "proto", "target"])
        XCTAssertEqual(try JSONDecoder().decode(XTRule.self, from: json), a)
    }
}
