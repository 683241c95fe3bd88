@testable import EzlbCore
import XCTest

final class AddressTests: XCTestCase {
    func testCanonicalForms() {
        XCTAssertEqual(IPAddress("2001:DB8:0:0::1")?.description, "2001:db8::1")
        XCTAssertEqual(IPAddress("2001:DB8::1"), IPAddress("2001:db8::1"))
        XCTAssertEqual(IPAddress("10.0.0.1")?.description, "10.0.0.1")
        XCTAssertEqual(IPAddress("::ffff:10.0.0.1")?.family, .ipv6)
        XCTAssertNil(IPAddress("10.0.0.256"))
        XCTAssertNil(IPAddress("010.0.0.1x"))
        XCTAssertNil(IPAddress(""))
        XCTAssertNil(IPAddress("fe80::1%eth0"))
    }

    func testEndpointParsing() throws {
        XCTAssertEqual(try Endpoint.parse("[2001:db8::1]:443").get().description, "[2001:db8::1]:443")
        XCTAssertEqual(try Endpoint.parse("10.0.0.1:80").get().port, 80)
        XCTAssertEqual(try Endpoint.parse("10.0.0.1", portOptional: true).get().port, 0)
        XCTAssertEqual(try Endpoint.parse("2001:db8::1", portOptional: true).get().description, "[2001:db8::1]:0")
        XCTAssertThrowsError(try Endpoint.parse("10.0.0.1:65536").get())
        XCTAssertThrowsError(try Endpoint.parse("10.0.0.1:8o").get())
        XCTAssertThrowsError(try Endpoint.parse("10.0.0.1:").get())
        XCTAssertThrowsError(try Endpoint.parse("2001:db8::1:80").get(), "bare IPv6 with port is ambiguous")
        XCTAssertThrowsError(try Endpoint.parse("[2001:db8::1]80").get())
    }

    func testServiceKeyOrderMatchesIpvsadm() {
        let a = ServiceKey.inet(.tcp, try! Endpoint.parse("10.0.0.1:80").get())
        let b = ServiceKey.inet(.udp, try! Endpoint.parse("10.0.0.1:53").get())
        let c = ServiceKey.fwmark(1, .ipv4)
        XCTAssertEqual([c, b, a].sorted(), [a, b, c])
    }

    func testJSONEscaping() {
        XCTAssertEqual(JSONValue.object(["b": 1, "a": .string("x\"\n\u{1}")]).text, "{\"a\":\"x\\\"\\n\\u0001\",\"b\":1}")
    }
}
