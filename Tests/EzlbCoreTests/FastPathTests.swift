@testable import EzlbCore
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The byte-level fast paths must agree exactly with the general code they short-cut.
final class FastPathTests: XCTestCase {
    /// What `IPAddress(_:)` gives without its dotted-quad fast path (inet_pton).
    func slowIPv4(_ s: String) -> IPAddress? {
        var v4 = in_addr()
        guard inet_pton(AF_INET, s, &v4) == 1 else { return nil }
        return IPAddress(bytes: withUnsafeBytes(of: &v4) { Array($0) })
    }

    func testDottedQuadAgreesWithInetPton() {
        let cases = ["0.0.0.0", "255.255.255.255", "10.0.0.1", "1.2.3.4", "192.168.100.200", "01.2.3.4", "1.2.3.04",
                     "256.1.1.1", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4",
                     "1.2.3.1000", "0.0.0.00", "99.99.99.99", "1.2.3.x", "١.2.3.4"]
        for s in cases {
            if let fast = IPAddress.dottedQuad(s.utf8) { XCTAssertEqual(fast, slowIPv4(s), s) }
            XCTAssertEqual(IPAddress(s), slowIPv4(s), s)
        }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let parts = (0..<4).map { _ in String(Int.random(in: 0...300, using: &g)) }
            let s = parts.joined(separator: ".")
            XCTAssertEqual(IPAddress(s), slowIPv4(s), s)
            if let a = IPAddress(s) { XCTAssertEqual(a.description, s, "canonical text round trip") }
        }
    }

    func testFastEndpointAgreesWithGeneralParse() {
        for s in ["10.0.0.1:80", "10.0.0.1:0", "10.0.0.1:65535", "10.0.0.1:65536", "10.0.0.1:080", "10.0.0.1:", "10.0.0.1:8o",
                  "10.0.0.1:80:80", "010.0.0.1:80", "10.0.0.1", "[10.0.0.1]:80", "10.0.0.1:123456", "10.0.0.1:+80"] {
            for optional in [false, true] {
                let fast = Endpoint.fastIPv4(s.utf8, portOptional: optional)
                let general = Endpoint.parse(s, portOptional: optional)
                if let fast { XCTAssertEqual(.success(fast), general, s) }
            }
        }
        XCTAssertEqual(try Endpoint.parse("10.0.0.1:080").get().port, 80)
        XCTAssertEqual(Endpoint.parse("10.0.0.1:0"), .failure(.portOutOfRange("0")))
        XCTAssertEqual(try Endpoint.parse("10.0.0.1:0", portOptional: true).get().port, 0)
    }

    func testByteTextMatchesDescriptions() {
        let addresses = ["0.0.0.0", "10.0.0.1", "255.255.255.255", "9.99.100.109", "199.200.250.1", "2001:db8::1", "::", "::ffff:10.0.0.1"].map { IPAddress($0)! }
        for a in addresses {
            var w = ByteText()
            w.append(a)
            XCTAssertEqual(w.string, a.description)
            XCTAssertEqual(IPAddress(bytes: a.bytes), a)
        }
        let keys: [ServiceKey] = [.inet(.tcp, try! Endpoint.parse("10.0.0.1:80").get()), .inet(.sctp, try! Endpoint.parse("[2001:db8::1]:0", portOptional: true).get()),
                                  .fwmark(4_000_000_000, .ipv6), .fwmark(1, .ipv4)]
        for k in keys {
            var w = ByteText()
            w.append(k)
            XCTAssertEqual(w.string, k.description)
        }
        for n in [0, 7, 10, 99, 100, 101, 1_000_000, 65535, Int(UInt32.max), -12, Int.min, Int.max] {
            var w = ByteText()
            w.append(decimal: n)
            XCTAssertEqual(w.string, String(n))
        }
    }

    func testJSONStringEscapingMatchesTheGenericQuoting() {
        for s in ["", "plain", "q\"uote", "back\\slash", "new\nline\r\t", "\u{1}\u{1f}\u{7f}", "ünïcödé ✓ 🚀", "--comment \"ezlb:web\""] {
            var w = ByteText()
            w.appendJSONString(s)
            XCTAssertEqual(w.string, JSONValue.quoted(s), s)
            // And what a JSON parser reads back is the string.
            let back = try? JSONSerialization.jsonObject(with: Data("[\(w.string)]".utf8)) as? [String]
            XCTAssertEqual(back, [s], s)
        }
    }

    /// The word-at-a-time scan finds every byte to escape wherever it sits in a word
    /// (and around multi-byte characters): random strings against a plain reference.
    func testJSONEscapingOfRandomStrings() {
        func reference(_ s: String) -> String {
            var out = "\""
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "\""): out += "\\\""
                case UInt8(ascii: "\\"): out += "\\\\"
                case UInt8(ascii: "\n"): out += "\\n"
                case UInt8(ascii: "\r"): out += "\\r"
                case UInt8(ascii: "\t"): out += "\\t"
                case 0..<0x20: out += String(format: "\\u%04x", b)
                default: out.unicodeScalars.append(UnicodeScalar(b)) // compared for ASCII strings only
                }
            }
            return out + "\""
        }
        let alphabet: [String] = ["a", "Z", "0", " ", "~", "\"", "\\", "\n", "\t", "\u{0}", "\u{1f}", "\u{20}", "\u{7f}", "é", "✓", "🚀", "!", "#"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let s = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined()
            var w = ByteText()
            w.appendJSONString(s)
            if s.unicodeScalars.allSatisfy(\.isASCII) { XCTAssertEqual(w.string, reference(s), s.debugDescription) }
            let back = try? JSONSerialization.jsonObject(with: Data("[\(w.string)]".utf8)) as? [String]
            XCTAssertEqual(back, [s], s.debugDescription)
        }
    }

    func testRuleHashingIsConsistentWithEquality() {
        let a = XTRule(destination: XTPrefix(IPAddress("10.0.0.1")!), proto: .tcp, destinationPort: 80, comment: "ezlb:a", target: .masquerade)
        var b = a
        b.comment = "ezlb:b" // same length, other comment: equal hash allowed, not equal
        var c = a
        c.target = .snat(IPAddress("10.0.0.9")!)
        XCTAssertEqual(Set([a, b, c, a, b]).count, 3)
        XCTAssertEqual(a.hashValue, a.hashValue)
        XCTAssertEqual(Set([a, XTRule(destination: XTPrefix(IPAddress("10.0.0.1")!), proto: .tcp, destinationPort: 80, comment: "ezlb:a", target: .masquerade)]).count, 1)
    }
}

final class ServiceKeyOrderTests: XCTestCase {
    func testOrderKeyAgreesWithLessThanAndHashingWithEquality() {
        var g = SystemRandomNumberGenerator()
        let addrs = ["10.0.0.1", "10.0.0.2", "9.255.255.255", "255.0.0.1", "0.0.0.0", "2001:db8::1", "::1", "ffff::", "2001:db8::"].map { IPAddress($0)! }
        var keys: [ServiceKey] = []
        for a in addrs {
            for p in IPVSProtocol.allCases { for port: UInt16 in [0, 1, 80, 65535] { keys.append(.inet(p, Endpoint(address: a, port: port))) } }
        }
        for m: UInt32 in [1, 2, 7, UInt32.max] { for f in IPFamily.allCases { keys.append(.fwmark(m, f)) } }
        for _ in 0..<3000 {
            let a = keys.randomElement(using: &g)!, b = keys.randomElement(using: &g)!
            XCTAssertEqual(a < b, a.orderKey < b.orderKey, "\(a) vs \(b)")
            if a == b { XCTAssertEqual(a.hashValue, b.hashValue) }
        }
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertEqual(keys.sorted(), keys.sorted { $0.orderKey < $1.orderKey })
        let e1 = Endpoint(address: IPAddress("10.0.0.1")!, port: 80)
        XCTAssertEqual(Set([e1, Endpoint(address: IPAddress("10.0.0.1")!, port: 80), Endpoint(address: IPAddress("10.0.0.1")!, port: 81)]).count, 2)
    }
}
