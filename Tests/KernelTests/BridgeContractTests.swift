import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

/// The bridge backend contract, run against the fake kernel and against
/// rtnetlink (libnl-route-3) inside network namespaces this test creates and
/// deletes (root only; the machine's own namespace is never touched).
final class BridgeContractTests: XCTestCase {
    let ipTool = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func check(_ b: BridgeBackend, c1: NetnsRef, file: StaticString = #filePath, line: UInt = #line) throws {
        func expect(_ kind: LinkError.Kind, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body(), file: file, line: line) { e in
                XCTAssertEqual((e as? LinkError)?.kind, kind, "\(e)", file: file, line: line)
            }
        }
        let br = "ctbr0", mac = "02:11:22:33:44:55"
        XCTAssertNil(try b.link(br))
        try b.createBridge(name: br, mac: mac, mtu: 1400)
        var l = try XCTUnwrap(try b.link(br))
        XCTAssertEqual(l.kind, "bridge")
        XCTAssertEqual(l.mac, mac)
        XCTAssertEqual(l.mtu, 1400)
        XCTAssertFalse(l.up)
        expect(.exists) { try b.createBridge(name: br, mac: mac, mtu: 1400) }

        let gw = IPAddress("10.66.0.1")!
        try b.addAddress(br, address: gw, prefixLength: 24)
        try b.addAddress(br, address: gw, prefixLength: 24)  // an equal address is fine
        try b.setUp(br)
        try b.setLink(br, mtu: 1500, mac: "02:11:22:33:44:66")
        l = try XCTUnwrap(try b.link(br))
        XCTAssertEqual(l.addresses.filter { $0 == "10.66.0.1/24" }.count, 1)
        XCTAssertTrue(l.up)
        XCTAssertEqual(l.mtu, 1500)
        XCTAssertEqual(l.mac, "02:11:22:33:44:66")
        expect(.notFound) { try b.setUp("ctnope0") }

        let iface = ContainerInterface(ifname: "eth0", mac: "02:aa:bb:cc:dd:01", address: IPAddress("10.66.0.2")!,
                                       prefixLength: 24, gateway: gw, mtu: 1500)
        try b.createVeth(host: "ezct0", bridge: br, mtu: 1500, netns: c1, interface: iface)
        let host = try XCTUnwrap(try b.link("ezct0"))
        XCTAssertEqual(host.kind, "veth")
        XCTAssertEqual(host.master, br)
        XCTAssertTrue(host.up)
        XCTAssertEqual(try b.ports(of: br).map(\.name), ["ezct0"])
        let inner = try XCTUnwrap(try b.containerLink(netns: c1, ifname: "eth0"))
        XCTAssertTrue(inner.up)
        XCTAssertEqual(inner.mac, "02:aa:bb:cc:dd:01")
        XCTAssertTrue(inner.addresses.contains("10.66.0.2/24"), "\(inner.addresses)")

        // A namespace that cannot be entered: an error before anything exists.
        expect(.netns) { try b.createVeth(host: "ezct1", bridge: br, mtu: 1500, netns: NetnsRef(path: "/run/netns/ezlb-contract-none"), interface: iface) }
        XCTAssertNil(try b.link("ezct1"))
        // The interface name is taken inside the namespace: nothing is created.
        XCTAssertThrowsError(try b.createVeth(host: "ezct2", bridge: br, mtu: 1500, netns: c1, interface: iface))
        XCTAssertNil(try b.link("ezct2"))
        XCTAssertEqual(try b.ports(of: br).count, 1)

        // Deleting the host end takes the container end with it.
        try b.deleteLink("ezct0")
        XCTAssertNil(try b.link("ezct0"))
        XCTAssertNil(try b.containerLink(netns: c1, ifname: "eth0"))
        expect(.notFound) { try b.deleteLink("ezct0") }
        try b.deleteLink(br)
        XCTAssertNil(try b.link(br))
    }

    func testFake() throws {
        let dir = NSTemporaryDirectory() + "ezlb-bridge-contract-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let k = try FakeKernel(dir: StateDirectory(path: dir))
        k.model.net.addNamespace("/run/netns/c1")
        try check(FakeBridge(kernel: k), c1: NetnsRef(path: "/run/netns/c1"))
    }

    func testNetlinkInTestNamespaces() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root (network namespaces)") }
        guard let ip = ipTool else { throw XCTSkip("needs iproute2") }
        let tag = String(UUID().uuidString.prefix(6)).lowercased()
        let host = "ezct-h-\(tag)", c1 = "ezct-c-\(tag)"
        func run(_ args: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: ip)
            p.arguments = args
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        XCTAssertEqual(try run(["netns", "add", host]), 0)
        defer { _ = try? run(["netns", "del", host]) }
        XCTAssertEqual(try run(["netns", "add", c1]), 0)
        defer { _ = try? run(["netns", "del", c1]) }
        let b = try NetlinkBridge(netns: NetnsRef(path: "/run/netns/\(host)"))
        try check(b, c1: NetnsRef(path: "/run/netns/\(c1)"))
    }
}
