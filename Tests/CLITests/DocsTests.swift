import Foundation
import XCTest

/// The committed completions must be what the current CLI generates
/// (scripts/gen-docs regenerates them; scripts/gen-docs --check also covers man/).
final class DocsTests: CLITestCase {
    func testCompletionsAreCurrent() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        for (shell, file) in [("bash", "ezlb.bash"), ("zsh", "_ezlb"), ("fish", "ezlb.fish")] {
            let r = try ezlb(["--generate-completion-script", shell])
            XCTAssertEqual(r.status, 0)
            let committed = try String(contentsOf: root.appendingPathComponent("completions/\(file)"), encoding: .utf8)
            XCTAssertEqual(r.stdout, committed, "completions/\(file) is stale: run scripts/gen-docs")
        }
    }

    /// The man page documents every command and option the CLI has (ArgumentParser's own
    /// description of it: `--experimental-dump-help`), and the exit codes.
    func testManPageCoversEveryCommandAndOption() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let man = try String(contentsOf: root.appendingPathComponent("man/ezlb.1"), encoding: .utf8)
        let items = Set(man.split(separator: "\n").filter { $0.hasPrefix(".It ") }.map(String.init))
        let dump = try ezlb(["--experimental-dump-help"])
        let tool = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var commands = 0, options = 0
        func walk(_ c: [String: Any], path: String) {
            for sub in (c["subcommands"] as? [[String: Any]]) ?? [] {
                let name = (sub["commandName"] as? String) ?? ""
                commands += 1
                // Every command that runs something shows an example in its --help.
                if ((sub["subcommands"] as? [[String: Any]]) ?? []).isEmpty, name != "help" {
                    XCTAssertTrue(((sub["discussion"] as? String) ?? "").contains("Example:\n  ezlb "), "\(path) \(name) --help has no example")
                }
                XCTAssertTrue(items.contains(".It Em \(name)"), "man/ezlb.1 lacks \(path) \(name): run scripts/gen-docs")
                for a in (sub["arguments"] as? [[String: Any]]) ?? [] {
                    guard let long = ((a["names"] as? [[String: Any]]) ?? []).first(where: { $0["kind"] as? String == "long" })?["name"] as? String
                    else { continue }
                    options += 1
                    XCTAssertTrue(items.contains { $0.hasPrefix(".It Fl") && $0.contains("-\(long)") },
                                  "man/ezlb.1 lacks --\(long) of \(path) \(name)")
                }
                walk(sub, path: "\(path) \(name)")
            }
        }
        walk(try XCTUnwrap(tool["command"] as? [String: Any]), path: "ezlb")
        XCTAssertGreaterThan(commands, 25)
        XCTAssertGreaterThan(options, 100)
        for code in ["64 usage error", "69 no free address", "75 another ezlb run holds the lock", "78 invalid config"] {
            XCTAssertTrue(man.contains(code), "man/ezlb.1 lacks exit status \(code)")
        }
    }

    func testHelpWorksWithoutStateOrRoot() throws {
        // Nothing runs before parsing: --help must not touch the state dir.
        let r = try ezlb(["ipvs", "apply", "--help"], env: ["EZLB_STATE_DIR": "/nonexistent/dir"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("USAGE: ezlb ipvs apply"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/nonexistent/dir"))
    }
}
