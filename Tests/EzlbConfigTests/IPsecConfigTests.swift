import EzlbCore
@testable import EzlbConfig
import Foundation
import XCTest

final class IPsecConfigTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "ezlb-ipsec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try key("psk", String(repeating: "ab", count: 32))
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func key(_ name: String, _ text: String, mode: Int = 0o600) throws {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, mode_t(mode))
    }

    func parse(_ yaml: String) throws -> IPsecConfig { try IPsecConfig.parse(yaml, file: dir + "/ezlb.yaml") }

    func error(_ yaml: String) -> String {
        do { _ = try parse(yaml); return "no error" } catch { return "\(error)" }
    }

    let good = """
    services: []
    ipsec:
      local: 192.168.0.1
      key_file: psk
      generation: 7
      rotation_delay: 30s
      key_bits: 256
      pods: [10.244.1.0/28, 10.244.1.20]
      peers:
        - address: 192.168.0.2
          pods: [10.244.2.0/28]
        - {address: 192.168.0.3}
    """

    func testGoodConfig() throws {
        let c = try parse(good)
        XCTAssertEqual(c.local, IPAddress("192.168.0.1"))
        XCTAssertEqual(c.psk.bytes, [UInt8](repeating: 0xab, count: 32))
        XCTAssertEqual(c.keyFile, dir + "/psk", "relative to the config file")
        XCTAssertEqual(c.generation, 7)
        XCTAssertEqual(c.rotationDelay, 30)
        XCTAssertEqual(c.keyBits, 256)
        XCTAssertEqual(c.algorithm, "rfc4106(gcm(aes))")
        XCTAssertEqual(c.pods.map(\.description), ["10.244.1.0/28", "10.244.1.20/32"])
        XCTAssertEqual(c.peers.map(\.address.description), ["192.168.0.2", "192.168.0.3"])
        XCTAssertEqual(c.peers[1].pods, [])
        XCTAssertEqual(c.unknownKeys, [])
    }

    func testBase64KeyAndUnknownKeys() throws {
        try key("b64", Data([UInt8](repeating: 7, count: 24)).base64EncodedString() + "\n")
        let c = try parse("ipsec:\n  local: 10.0.0.1\n  key_file: b64\n  typo: 1\n")
        XCTAssertEqual(c.psk.bytes, [UInt8](repeating: 7, count: 24))
        XCTAssertEqual(c.unknownKeys, ["ipsec.typo"])
        XCTAssertEqual(c.generation, 1)
        XCTAssertEqual(c.rotationDelay, 300)
    }

    func testBadInputsAreOneLineErrorsNamingTheKey() throws {
        try key("short", "00112233")
        try key("open", String(repeating: "ab", count: 32), mode: 0o644)
        try key("junk", "this is not a key!!")
        let cases: [(String, String)] = [
            ("ipsec:\n  local: 10.0.0.1\n  key_file: short\n", "ipsec.key_file: '\(dir)/short': key is too short (4 bytes; at least 16)"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: open\n", "ipsec.key_file: '\(dir)/open': key file is accessible by group or others (mode 644); chmod 600 it"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: missing\n", "ipsec.key_file: '\(dir)/missing': key file does not exist"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: junk\n", "key file holds neither hex nor base64"),
            ("ipsec:\n  local: 10.0.0.1\n", "ipsec.key_file: is required"),
            ("ipsec:\n  local: nope\n  key_file: psk\n", "ipsec.local: 'nope': not an IP address"),
            ("services: []\n", "ipsec: is required for xfrm"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  peers: [{address: 10.0.0.1}]\n", "ipsec.peers[0].address: '10.0.0.1': a peer cannot be the local node"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  peers: [{address: 10.0.0.2}, {address: 10.0.0.2}]\n", "ipsec.peers[1].address: '10.0.0.2': duplicate peer (also ipsec.peers[0])"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  peers: [{address: '2001:db8::1'}]\n", "not the same address family"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  pods: [10.244.0.0/16]\n  peers: [{address: 10.0.0.2, pods: [10.244.2.0/24]}]\n",
             "ipsec.peers[0].pods[0]: '10.244.2.0/24': overlaps 10.244.0.0/16 (ipsec.pods[0]); managed pod addresses must belong to one node only"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  pods: [10.244.1.5, 10.244.1.5]\n", "overlaps 10.244.1.5/32"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  pods: [10.244.1.1/24]\n", "ipsec.pods[0]: '10.244.1.1/24': host bits set (did you mean 10.244.1.0/24?)"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  algorithm: cbc(aes)\n", "ipsec.algorithm: 'cbc(aes)': unsupported algorithm (supported: rfc4106(gcm(aes)))"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  key_bits: 192\n", "ipsec.key_bits: '192': expected 128 or 256"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  generation: -1\n", "ipsec.generation: '-1': must be between 0 and 4294967295"),
            ("ipsec:\n  local: 10.0.0.1\n  key_file: psk\n  rotation_delay: soon\n", "ipsec.rotation_delay: 'soon': expected a duration"),
        ]
        for (yaml, want) in cases {
            let e = error(yaml)
            XCTAssertTrue(e.contains(want), "\(yaml)\n  got:  \(e)\n  want: \(want)")
            XCTAssertFalse(e.contains("\n"), "one line: \(e)")
            XCTAssertFalse(e.contains("abab"), "the key never appears in an error")
        }
    }

    func testPodsFileIsMerged() throws {
        try #"{"local": ["10.244.1.30"], "peers": {"192.168.0.2": ["10.244.2.30", "10.244.2.31"]}}"#
            .write(toFile: dir + "/pods.json", atomically: true, encoding: .utf8)
        let c = try parse(good + "\n  pods_file: pods.json\n")
        XCTAssertEqual(c.pods.map(\.description), ["10.244.1.0/28", "10.244.1.20/32", "10.244.1.30/32"])
        XCTAssertEqual(c.peers[0].pods.map(\.description), ["10.244.2.0/28", "10.244.2.30/32", "10.244.2.31/32"])

        try #"{"peers": {"192.168.0.9": ["10.244.9.1"]}}"#.write(toFile: dir + "/pods.json", atomically: true, encoding: .utf8)
        XCTAssertTrue(error(good + "\n  pods_file: pods.json\n").contains("pods.json: peers: '192.168.0.9': not a peer listed in ipsec.peers"))
        try #"{"local": ["10.244.2.3"]}"#.write(toFile: dir + "/pods.json", atomically: true, encoding: .utf8)
        XCTAssertTrue(error(good + "\n  pods_file: pods.json\n").contains("overlaps 10.244.2.0/28"), error(good + "\n  pods_file: pods.json\n"))
        try "[1,2]".write(toFile: dir + "/pods.json", atomically: true, encoding: .utf8)
        XCTAssertTrue(error(good + "\n  pods_file: pods.json\n").contains("expected a JSON object"))
        XCTAssertTrue(error(good + "\n  pods_file: nothere.json\n").contains("no such file"))
    }

    func testIPsecSectionDoesNotWarnInTheMainConfig() throws {
        let c = try EzlbConfiguration.parse(good, file: "x.yaml")
        XCTAssertEqual(c.unknownKeys, [])
        XCTAssertTrue(c.unusedKeys.contains("ipsec"))
    }
}
