@testable import EzlbCore
import Foundation
import XCTest

/// The product links FoundationEssentials only; these helpers stand in for full-Foundation calls
/// and must give exactly Foundation's results (outputs and messages are pinned by other tests).
final class FoundationFreeTests: XCTestCase {
    let samples = [
        "", " ", "\t", "\n", " \t\n\r ", "abc", "  abc  ", "\tabc\n", "\r\nabc\r\n", "a b c", " a\tb ",
        "\u{00A0}x\u{00A0}", "\u{2003}x\u{3000}", "\u{0085}x\u{2028}", "\u{2029}x\u{200B}", "\u{FEFF}x", "\u{180E}x", "\u{2060}x\u{200C}", "\u{200D}x",
        "\u{000B}\u{000C}x\u{000B}", "é\u{0301} ", " \u{0301}x", "x\n\n", "日本 ", "\u{1680}x\u{205F}",
    ]

    func testTrimmedMatchesWhitespacesAndNewlines() {
        for s in samples {
            XCTAssertEqual(s.trimmed(), s.trimmingCharacters(in: .whitespacesAndNewlines), "\(Array(s.unicodeScalars))")
            XCTAssertEqual(Substring(s).trimmed(), s.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func testTrimmedSpacesMatchesWhitespaces() {
        for s in samples {
            XCTAssertEqual(s.trimmedSpaces(), s.trimmingCharacters(in: .whitespaces), "\(Array(s.unicodeScalars))")
        }
    }

    func testScalarClassesMatchCharacterSetsEverywhere() {
        for v in UInt32(0)...0x10FFFF {
            guard let u = Unicode.Scalar(v) else { continue }
            XCTAssertEqual(u.isWhitespaceOrNewline, CharacterSet.whitespacesAndNewlines.contains(u), "U+\(String(v, radix: 16))")
            XCTAssertEqual(u.isSpaceOrTab, CharacterSet.whitespaces.contains(u), "U+\(String(v, radix: 16))")
        }
    }

    func testTrimmingWhereMatchesCharacterSet() {
        for s in ["..a.b..", ".", "", "a", ".[0].x."] {
            XCTAssertEqual(s.trimming(where: { $0 == "." }), s.trimmingCharacters(in: CharacterSet(charactersIn: ".")))
        }
    }

    func testDeletingLastPathComponentMatchesNSString() {
        for p in ["/etc/ezlb/ezlb.yaml", "/ezlb.yaml", "ezlb.yaml", "conf/ezlb.yaml", "./x.yaml", "/", "",
                  "a/b/", "/a/b//", "a//b", "/a", "../x"] {
            XCTAssertEqual(deletingLastPathComponent(p), (p as NSString).deletingLastPathComponent, p)
        }
    }

    func testPaddedMatchesPadding() {
        for (s, n) in [("ok", 5), ("warn", 5), ("error", 5), ("toolong", 3), ("", 2), ("日本", 4), ("é\u{0301}", 3)] {
            XCTAssertEqual(s.padded(to: n), s.padding(toLength: n, withPad: " ", startingAt: 0), s)
        }
    }

    func testNumberFormattingMatchesStringFormat() {
        for n in [0, 7, 42, 999, 2026, 12345, -3] {
            XCTAssertEqual(zeroPadded(n, width: 2), String(format: "%02d", n))
            XCTAssertEqual(zeroPadded(n, width: 4), String(format: "%04d", n))
            XCTAssertEqual(zeroPadded(n, width: 3), String(format: "%03d", n))
        }
        for b in [UInt8(0), 9, 10, 255] { XCTAssertEqual(hexPadded(b, width: 2), String(format: "%02x", b)) }
        for u in [UInt32(0), 0x1f, 0x7] { XCTAssertEqual(hexPadded(u, width: 4), String(format: "%04x", u)) }
    }

    func testLockAndThread() {
        let lock = Lock()
        final class Box: @unchecked Sendable { var n = 0 }
        let box = Box()
        var threads: [PosixThread] = []
        for _ in 0..<4 {
            let t = PosixThread { for _ in 0..<1000 { lock.withLock { box.n += 1 } } }
            threads.append(t)
        }
        for t in threads { t.startAndWait() }
        XCTAssertEqual(lock.withLock { box.n }, 4000)
    }

    func testTimedWaitReturnsAtTheDeadline() {
        let c = Condition()
        let start = monotonicMs()
        c.withLock { c.wait(untilMs: start + 50) }
        let waited = monotonicMs() - start
        XCTAssertGreaterThanOrEqual(waited, 45)
        XCTAssertLessThan(waited, 5_000)
    }

    /// One lock implementation in the tree: pthread mutexes and condition variables are made
    /// only by `Lock` and `Condition`, which keep them on the heap (a Swift stored property
    /// has no stable address to hand to pthread).
    func testPthreadLockObjectsLiveOnlyInFoundationFree() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources").standardized
        let files = FileManager.default.enumerator(atPath: sources.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        XCTAssertFalse(files.isEmpty)
        for f in files where !f.hasSuffix("EzlbCore/FoundationFree.swift") {
            let text = try String(contentsOf: sources.appendingPathComponent(f), encoding: .utf8)
            for needle in ["pthread_mutex_t", "pthread_cond_t", "pthread_rwlock_t"] {
                XCTAssertFalse(text.contains(needle), "\(f) makes its own \(needle): use Lock or Condition")
            }
        }
    }
}
