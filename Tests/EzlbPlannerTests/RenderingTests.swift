import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// The report actions of the planners, as the report writes them: canonical JSON holding the
/// objects the show commands print, and the text line.
final class RenderingTests: XCTestCase {
    func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }

    func testIPVSActions() throws {
        let k4 = ServiceKey.inet(.tcp, ep("10.0.0.1:80")), k6 = ServiceKey.inet(.udp, ep("[2001:db8::1]:53")), fw = ServiceKey.fwmark(7, .ipv4)
        let s1 = VirtualService(key: k4, scheduler: "wrr", flags: IPVSFlags.persistent, timeout: 300, netmask: 0xFFFF_FF00)
        let s2 = VirtualService(key: k6, scheduler: "sh", flags: IPVSFlags.sched1 | IPVSFlags.sched2)
        let s3 = VirtualService(key: fw, scheduler: "we\"ird")
        let d1 = RealServer(endpoint: ep("192.168.1.10:8080"), weight: 5, forward: .masq, upperThreshold: 100, lowerThreshold: 10)
        let d2 = RealServer(endpoint: ep("[2001:db8::10]:53"), weight: 0, forward: .tunnel, upperThreshold: 0, lowerThreshold: 0)
        let ops: [(IPVSOperation, String, JSONValue?, JSONValue?)] = [
            (.addService(s1), "add", nil, IPVSFormat.serviceJSON(s1)), (.addService(s2), "add", nil, IPVSFormat.serviceJSON(s2)),
            (.addService(s3), "add", nil, IPVSFormat.serviceJSON(s3)),
            (.updateService(from: s1, to: s3), "update", IPVSFormat.serviceJSON(s1), IPVSFormat.serviceJSON(s3)),
            (.deleteService(s2), "delete", IPVSFormat.serviceJSON(s2), nil),
            (.addDestination(k4, d1), "add", nil, IPVSFormat.destJSON(d1)), (.addDestination(k6, d2), "add", nil, IPVSFormat.destJSON(d2)),
            (.updateDestination(k4, from: d1, to: d2), "update", IPVSFormat.destJSON(d1), IPVSFormat.destJSON(d2)),
            (.deleteDestination(fw, d1), "delete", IPVSFormat.destJSON(d1), nil),
        ]
        for (op, action, from, to) in ops {
            for (done, error, reason) in [(true, nil, nil), (false, "kernel said \"no\"\n", nil), (true, nil, "unhealthy: 3 failures")] as [(Bool, String?, String?)] {
                let (text, j) = try rendered(IPVSAction(op, reason: reason), done: done, error: error)
                XCTAssertEqual(text, IPVSFormat.text(op, reason: reason))
                XCTAssertEqual(j["action"], .string(action))
                XCTAssertEqual(j["service"], .string(op.serviceKey.description))
                XCTAssertEqual(j["from"]?.text, from?.text)
                XCTAssertEqual(j["to"]?.text, to?.text)
                XCTAssertEqual(j["reason"], reason.map { .string($0) })
            }
        }
        for s in [s1, s2, s3] { XCTAssertEqual(IPVSFormat.serviceJSONText(s).text, IPVSFormat.serviceJSON(s).text) }
        for d in [d1, d2] { XCTAssertEqual(IPVSFormat.destJSONText(d).text, IPVSFormat.destJSON(d).text) }
        XCTAssertEqual(IPVSFormat.text(.addService(s1)), "+ service tcp 10.0.0.1:80 wrr persistent 300 netmask 255.255.255.0")
        XCTAssertEqual(IPVSFormat.text(.addDestination(k4, d1)), "+ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 masq weight 5 upper 100 lower 10")
        XCTAssertEqual(IPVSFormat.text(.addService(s2)), "+ service udp [2001:db8::1]:53 sh flags sh-fallback,sh-port")
    }

    func testXTChanges() throws {
        let ref = XTTableRef(.ipv4, .nat)
        let r = XTRule(destination: XTPrefix(IPAddress("192.168.1.10")!), proto: .tcp, destinationPort: 8080, comment: "ezlb:we\"b", target: .snat(IPAddress("10.0.0.3")!))
        var first = XTChange(kind: .addJump, ref: XTTableRef(.ipv6, .filter), chain: "FORWARD", rule: .jump(to: "EZLB-FORWARD"))
        first.insertedFirst = true
        let changes: [(XTChange, String, String)] = [
            (XTChange(kind: .addChain, ref: ref, chain: "EZLB-SNAT", rule: nil), "+ ip4 -t nat -N EZLB-SNAT", "chain"),
            (XTChange(kind: .addRule, ref: ref, chain: "EZLB-SNAT", rule: r), "+ ip4 -t nat -A " + r.save(chain: "EZLB-SNAT").dropFirst(3), "rule"),
            (XTChange(kind: .deleteRule, ref: ref, chain: "EZLB-SNAT", rule: r), "- ip4 -t nat -D " + r.save(chain: "EZLB-SNAT").dropFirst(3), "rule"),
            (first, "+ ip6 -t filter -I FORWARD 1 -j EZLB-FORWARD", "jump"),
            (XTChange(kind: .deleteChain, ref: ref, chain: "EZLB-SNAT", rule: nil), "- ip4 -t nat -X EZLB-SNAT", "chain"),
        ]
        for (c, line, object) in changes {
            for (done, error) in [(true, nil), (false, "ip4 nat: iptc_commit: \"busy\"")] as [(Bool, String?)] {
                let (text, j) = try rendered(c, done: done, error: error)
                XCTAssertEqual(text, line)
                XCTAssertEqual(j["object"], .string(object))
                XCTAssertEqual(j["chain"], .string(c.chain))
                XCTAssertEqual(j["family"], .string(c.ref.family.rawValue))
                XCTAssertEqual(j["table"], .string(c.ref.table.rawValue))
                XCTAssertEqual(j["action"], .string(c.sign == UInt8(ascii: "+") ? "add" : "delete"))
                XCTAssertEqual(j["rule"], c.rule.map { .string($0.save(chain: c.chain)) })
            }
        }
    }
}
