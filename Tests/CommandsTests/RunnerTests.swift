import ArgumentParser
@testable import Commands
import EzlbCore
import EzlbIPAM
import Kernel
import XCTest

/// Every error a command body throws ends the command through one path: a report holding the
/// error (so `-o json` is never empty) and the exit status the error carries; anything that
/// carries none exits 1. Never 64, which only argument parsing gives.
final class RunnerTests: XCTestCase {
    private struct Unforeseen: Error {}

    private func status(of error: Error, output: OutputFormat = .json) -> Int32? {
        do {
            try Runner.run(CommonValues(output: output), command: "test") { _ in throw error }
            return 0
        } catch let e as ExitCode {
            return e.rawValue
        } catch {
            return nil // escaped the runner: ArgumentParser would report a usage error (64)
        }
    }

    func testDomainErrorsEndWithTheirOwnStatusAndAReport() {
        let cases: [(Error, ExitStatus)] = [
            (LinkError(.permission, operation: "create bridge br0", detail: "Operation not permitted"), .failure),
            (XTError(.lockTimeout, operation: "/run/xtables.lock", detail: "waited 1s"), .busy),
            (XfrmError(.exists, operation: "add state", detail: "File exists"), .failure),
            (IPVSError(.serviceExists, operation: "add service tcp 10.0.0.1:80"), .failure),
            (IPAMError.badInput(flag: "--ip", value: "x", reason: "not an IP address"), .usage),
            (IPAMError.conflict("held by c2"), .failure),
            (Failure(.config, "bad"), .config),
        ]
        for (error, want) in cases {
            XCTAssertEqual(status(of: error), want.rawValue, "\(error)")
            XCTAssertEqual(Runner.finishedReport?.errors, [Runner.message(error)], "\(error)")
            XCTAssertEqual(Runner.finishedReport?.changed, false)
        }
    }

    func testAnUnforeseenErrorExitsOneWithAReport() {
        XCTAssertEqual(status(of: Unforeseen()), ExitStatus.failure.rawValue)
        XCTAssertEqual(Runner.finishedReport?.errors.count, 1)
    }

    /// One line, and nothing lost: a line break (in a path, say) is escaped, not the end.
    func testMessagesAreOneLine() {
        XCTAssertEqual(Runner.message(Failure(.failure, "/tmp/a\nb.yaml: no such file")), "/tmp/a\\nb.yaml: no such file")
    }
}
