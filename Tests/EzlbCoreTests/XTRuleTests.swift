@testable import EzlbCore
import Foundation
import XCTest

/// The x_tables rule model: `-i`/`-o` matches, their kernel bytes and their
/// iptables-save text. Expected strings are what iptables-legacy-save 1.8.9
/// printed for the same rules written with iptables-legacy.
final class XTRuleTests: XCTestCase {
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func testInterfaceSaveTextMatchesIptablesLegacySave() {
        let net = XTPrefix(ip("10.88.0.0"), length: 24)
        XCTAssertEqual(XTRule(source: net, outInterface: XTInterface("ezbr0", invert: true), target: .masquerade).save(chain: "EZLB-BR-x"),
                       "-A EZLB-BR-x -s 10.88.0.0/24 ! -o ezbr0 -j MASQUERADE")
        XCTAssertEqual(XTRule(inInterface: XTInterface("eth+"), outInterface: XTInterface("veth12345678901"), target: .return).save(chain: "EZLB-BR-x"),
                       "-A EZLB-BR-x -i eth+ -o veth12345678901 -j RETURN")
        // -s -d -i -o -p order, as save_rule4 prints them.
        XCTAssertEqual(XTRule(destination: XTPrefix(ip("1.2.3.4")), inInterface: XTInterface("a", invert: true), proto: .tcp,
                              destinationPort: 5, target: .return).save(chain: "EZLB-BR-x"),
                       "-A EZLB-BR-x -d 1.2.3.4/32 ! -i a -p tcp -m tcp --dport 5 -j RETURN")
        XCTAssertEqual(XTRule(source: XTPrefix(ip("2001:db8::"), length: 64), outInterface: XTInterface("ezbr0", invert: true), target: .masquerade).save(chain: "X"),
                       "-A X -s 2001:db8::/64 ! -o ezbr0 -j MASQUERADE")
        XCTAssertEqual(XTRule(inInterface: XTInterface("ab+", invert: true), proto: .udp, sourcePort: 3, target: .return).save(chain: "X"),
                       "-A X ! -i ab+ -p udp -m udp --sport 3 -j RETURN")
        XCTAssertEqual(XTOperation.appendRule("EZLB-BR-b", XTRule(outInterface: XTInterface("b", invert: true), target: .masquerade))
                        .description(in: XTTableRef(.ipv4, .nat)), "ip4 -t nat -A EZLB-BR-b ! -o b -j MASQUERADE")
    }

    /// xtables_parse_interface: an exact name masks its bytes and the NUL after it;
    /// `name+` masks the prefix only and keeps the `+` in the name bytes.
    func testKernelBytesAreWhatIptablesWrites() {
        func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
        let exact = XTInterface("ezbr0").kernelBytes
        XCTAssertEqual(hex(exact.name), "657a62723000000000000000000000" + "00")
        XCTAssertEqual(hex(exact.mask), "ffffffffffff" + String(repeating: "00", count: 10))
        let wild = XTInterface("eth+").kernelBytes
        XCTAssertEqual(hex(wild.name), "6574682b" + String(repeating: "00", count: 12))
        XCTAssertEqual(hex(wild.mask), "ffffff" + String(repeating: "00", count: 13))
        let longest = XTInterface("veth12345678901").kernelBytes
        XCTAssertEqual(longest.mask, [UInt8](repeating: 0xFF, count: 16), "15 bytes and the NUL")
        XCTAssertEqual(longest.name.last, 0)
    }

    func testDecodeInvertsKernelBytes() {
        for i in [XTInterface("ezbr0"), XTInterface("ezbr0", invert: true), XTInterface("eth+"), XTInterface("veth12345678901", invert: true),
                  XTInterface("abcdefghijklmn+"), XTInterface("a")] {
            let (n, m) = i.kernelBytes
            XCTAssertEqual(XTInterface.decode(name: n, mask: m, invert: i.invert), .interface(i), i.name)
        }
        let zero = [UInt8](repeating: 0, count: 16)
        XCTAssertEqual(XTInterface.decode(name: zero, mask: zero, invert: false), XTInterface.KernelMatch.none)
    }

    func testDecodeRefusesBytesIptablesNeverWrites() {
        let zero = [UInt8](repeating: 0, count: 16)
        let (n, m) = XTInterface("ezbr0").kernelBytes
        // `! -o +`: inverted with an empty mask (never matches; iptables-save would drop the `!`).
        XCTAssertEqual(XTInterface.decode(name: Array("+".utf8) + [UInt8](repeating: 0, count: 15), mask: zero, invert: true), .notUnderstood)
        XCTAssertEqual(XTInterface.decode(name: zero, mask: zero, invert: true), .notUnderstood)
        // A hole in the mask; a mask shorter than the name; bytes after the NUL; a name under a zero mask.
        var holed = m; holed[2] = 0
        XCTAssertEqual(XTInterface.decode(name: n, mask: holed, invert: false), .notUnderstood)
        XCTAssertEqual(XTInterface.decode(name: n, mask: Array(m.prefix(3)) + [UInt8](repeating: 0, count: 13), invert: false), .notUnderstood)
        var trailing = n; trailing[10] = 0x41
        XCTAssertEqual(XTInterface.decode(name: trailing, mask: m, invert: false), .notUnderstood)
        XCTAssertEqual(XTInterface.decode(name: n, mask: zero, invert: false), .notUnderstood)
        // A partial byte mask.
        var partial = m; partial[5] = 0x0F
        XCTAssertEqual(XTInterface.decode(name: n, mask: partial, invert: false), .notUnderstood)
        // A wildcard whose `+` was left out still reads as the wildcard (the kernel ignores unmasked bytes).
        let prefixOnly = Array("eth".utf8) + [UInt8](repeating: 0, count: 13)
        XCTAssertEqual(XTInterface.decode(name: prefixOnly, mask: [0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 13), invert: false),
                       .interface(XTInterface("eth+")))
        XCTAssertEqual(XTInterface.decode(name: [1, 2], mask: [0xFF], invert: false), .notUnderstood)
    }

    func testInvalidNamesAreRefusedByTheTableModel() {
        XCTAssertNil(XTInterface("ezbr0").invalidReason)
        XCTAssertNil(XTInterface("veth+").invalidReason)
        for bad in ["", "+", "veth123456789012", "a/b", "a b", "a+b"] {
            XCTAssertNotNil(XTInterface(bad).invalidReason, bad)
        }
        var s = XTTableState(ref: XTTableRef(.ipv4, .nat), chains: ["POSTROUTING": []])
        XCTAssertThrowsError(try s.apply(.appendRule("POSTROUTING", XTRule(outInterface: XTInterface("veth123456789012"), target: .masquerade)))) {
            XCTAssertEqual(($0 as? XTError)?.kind, .invalidArgument)
        }
        XCTAssertNoThrow(try s.apply(.insertRule("POSTROUTING", XTRule(outInterface: XTInterface("veth+", invert: true), target: .masquerade), 0)))
    }

    /// Fake kernel files and state written before interfaces existed still decode.
    func testCodableWithoutInterfaceKeys() throws {
        let plain = XTRule(source: XTPrefix(ip("10.88.0.0"), length: 24), target: .masquerade)
        let json = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        XCTAssertFalse(json.contains("Interface"), json)
        XCTAssertEqual(try JSONDecoder().decode(XTRule.self, from: Data(json.utf8)), plain)
        let new = XTRule(source: XTPrefix(ip("10.88.0.0"), length: 24), outInterface: XTInterface("br", invert: true), target: .masquerade)
        XCTAssertEqual(try JSONDecoder().decode(XTRule.self, from: JSONEncoder().encode(new)), new)
    }
}
