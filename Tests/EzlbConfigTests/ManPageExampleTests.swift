import EzlbConfig
import Foundation
import XCTest

/// The config man pages (docs/man/*.md → man/ezlb.yaml.5, man/ezlb-raft.yaml.5) show every key in
/// an example; the examples must load with the real parsers and hold no key they do not know,
/// so a renamed or removed key cannot linger in the manual.
final class ManPageExampleTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// The page's ```yaml block, with /etc/ezlb/ and /run/ezlb/ moved into `dir`, where the key
    /// files it names exist (mode 0600).
    func example(_ page: String, in dir: URL) throws -> String {
        let text = try String(contentsOf: root.appendingPathComponent("docs/man/\(page)"), encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "```yaml\n"))
        let end = try XCTUnwrap(text.range(of: "```", range: start.upperBound..<text.endIndex))
        for (name, content) in [("ipsec.key", String(repeating: "ab", count: 32)), ("raft.secret", String(repeating: "s", count: 32)),
                                ("pods.json", #"{"local": [], "peers": {}}"#)] {
            let f = dir.appendingPathComponent(name)
            try content.write(to: f, atomically: false, encoding: .utf8)
            XCTAssertEqual(chmod(f.path, 0o600), 0)
        }
        return String(text[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "/etc/ezlb/", with: dir.path + "/")
            .replacingOccurrences(of: "/run/ezlb/", with: dir.path + "/")
    }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("ezlb-man-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testEzlbYamlExampleLoadsWithNoUnknownKey() throws {
        let dir = try tempDir()
        let yaml = try example("ezlb.yaml.5.md", in: dir)
        let file = dir.appendingPathComponent("ezlb.yaml").path
        let cfg = try EzlbConfiguration.parse(yaml, file: file)
        XCTAssertEqual(cfg.unknownKeys, [])
        XCTAssertEqual(cfg.services.map(\.name), ["web", "dns", "marked"])
        XCTAssertNotNil(cfg.firewall)
        XCTAssertEqual(cfg.forwardMark, 0x200000)
        let ipam = try IPAMConfig.parse(yaml, file: file)
        XCTAssertEqual(ipam.unknownKeys, [])
        let ipsec = try IPsecConfig.parse(yaml, file: file)
        XCTAssertEqual(ipsec.unknownKeys, [])
        XCTAssertEqual(ipsec.peers.count, 1)
    }

    func testRaftYamlExampleLoadsWithNoUnknownKey() throws {
        let dir = try tempDir()
        let yaml = try example("ezlb-raft.yaml.5.md", in: dir)
        let s = try RaftSettings.parse(yaml, file: dir.appendingPathComponent("raft.yaml").path)
        XCTAssertEqual(s.unknownKeys, [])
        XCTAssertEqual(s.nodeID, "node1")
        XCTAssertNotNil(s.secret)
    }
}
