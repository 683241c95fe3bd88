import XCTest
@testable import Kernel

/// `KernelBackends.prefaultHeap`: pages are populated on another thread while this one
/// allocates from them; nothing the allocator hands out may be disturbed by that.
final class HeapPrefaultTests: XCTestCase {
    func testSmallRunsAreLeftAlone() {
        XCTAssertFalse(KernelBackends.prefaultHeap(forBackends: 100))
        XCTAssertFalse(KernelBackends.prefaultHeap(forConfigFile: "/nonexistent/ezlb.yaml"))
    }

    func testAllocationsDuringPopulateKeepTheirContents() {
        XCTAssertTrue(KernelBackends.prefaultHeap(forBackends: 4_000)) // 12 MB
        // Allocate and fill while the other thread populates the same range.
        var blocks: [[UInt64]] = []
        for i in 0..<96 { blocks.append([UInt64](repeating: UInt64(i) &* 0x9E37_79B9_7F4A_7C15, count: 16_384)) } // 96 × 128 KB
        usleep(20_000) // populate done by now
        for (i, b) in blocks.enumerated() {
            let want = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            XCTAssertTrue(b.allSatisfy { $0 == want }, "block \(i) changed")
        }
    }

    func testConfigFileSize() throws {
        let path = NSTemporaryDirectory() + "ezlb-prefault-\(getpid()).yaml"
        defer { unlink(path) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 64 << 10)))
        XCTAssertFalse(KernelBackends.prefaultHeap(forConfigFile: path)) // 2.9 MB: not worth it
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 320 << 10)))
        XCTAssertTrue(KernelBackends.prefaultHeap(forConfigFile: path)) // 320 KB × 45
    }
}
