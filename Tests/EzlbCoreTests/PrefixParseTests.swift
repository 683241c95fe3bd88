@testable import EzlbCore
import XCTest

/// The byte-level parsers behind config lists (addresses, pod prefixes) and prefix masking.
final class PrefixParseTests: XCTestCase {
    func testAddressParsing() {
        XCTAssertEqual(IPAddress("10.1.2.3")?.bytes, [10, 1, 2, 3])
        XCTAssertEqual(IPAddress("2001:db8::1")?.bytes, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1")?.family, .ipv6)
        for bad in ["", "10.1.2", "10.1.2.3.4", "10.1.2.3\0", "1.2.3.4 ", "fe80::1%eth0", String(repeating: "1", count: 46), "::g"] {
            XCTAssertNil(IPAddress(bad), bad)
        }
    }

    func testNetworkBytes() {
        let v4: [UInt8] = [192, 168, 1, 9], v6: [UInt8] = [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [7]
        XCTAssertEqual(v4.withUnsafeBytes { IPAddress(networkBytes: $0) }, IPAddress("192.168.1.9"))
        XCTAssertEqual(v6.withUnsafeBytes { IPAddress(networkBytes: $0) }, IPAddress("fd00::7"))
        XCTAssertNil([UInt8](repeating: 1, count: 5).withUnsafeBytes { IPAddress(networkBytes: $0) })
    }

    func testMasking() {
        let a = IPAddress("10.255.255.255")!
        XCTAssertEqual(a.masked(to: 0), IPAddress("0.0.0.0"))
        XCTAssertEqual(a.masked(to: 9), IPAddress("10.128.0.0"))
        XCTAssertEqual(a.masked(to: 32), a)
        XCTAssertEqual(a.masked(to: 40), a)
        let b = IPAddress("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")!
        XCTAssertEqual(b.masked(to: 64), IPAddress("2001:db8:ffff:ffff::"))
        XCTAssertEqual(b.masked(to: 65), IPAddress("2001:db8:ffff:ffff:8000::"))
        XCTAssertEqual(b.masked(to: 36), IPAddress("2001:db8:f000::"))
        XCTAssertEqual(b.masked(to: 128), b)
    }

    func testPrefixParsing() throws {
        XCTAssertEqual(try XfrmPrefix.parse(" 10.244.1.0/26\t").get(), XfrmPrefix(IPAddress("10.244.1.0")!, length: 26))
        XCTAssertEqual(try XfrmPrefix.parse("10.244.1.7").get().length, 32)
        XCTAssertEqual(try XfrmPrefix.parse("fd00::/008").get().length, 8)
        XCTAssertEqual(try XfrmPrefix.parse("2001:db8::/64").get().description, "2001:db8::/64")
        for (text, reason) in [("10.0.0.0/", "prefix length"), ("10.0.0.0/33", "prefix length"), ("10.0.0.0/+8", "prefix length"),
                               ("10.0.0.0/8/1", "prefix length"), ("10.0.0.0/99999999999999999999", "prefix length"),
                               ("10.0.0.1/24", "host bits set (did you mean 10.0.0.0/24?)"), ("nope/8", "not an IP address"), ("", "not an IP address")] {
            switch XfrmPrefix.parse(text) {
            case .success(let p): XCTFail("\(text) parsed as \(p)")
            case .failure(let e): XCTAssertTrue(e.reason.hasPrefix(reason) || e.reason.contains(reason), "\(text): \(e.reason)")
            }
        }
    }
}
