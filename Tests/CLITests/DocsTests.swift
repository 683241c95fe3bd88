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

    func testManPageMentionsEveryIPVSSubcommand() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let man = try String(contentsOf: root.appendingPathComponent("man/ezlb.1"), encoding: .utf8)
        for sub in ["apply", "plan", "show", "cleanup", "--detailed-exitcode", "EXIT STATUS"] {
            XCTAssertTrue(man.contains(sub), "man/ezlb.1 lacks \(sub): run scripts/gen-docs")
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
