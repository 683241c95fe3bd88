@testable import EzlbCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The pipe fallback of the static release binary (no pipe2 to look up there), and a
/// child spawned with it: its output arrives and the read end sees EOF when it exits.
final class ChildProcessTests: XCTestCase {
    func testSocketPipeIsCloseOnExecAndOneWay() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(ChildProcess.socketPipe(&fds), 0)
        defer { fds.forEach { close($0) } }
        for fd in fds { XCTAssertNotEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0, "fd \(fd) is not close-on-exec") }
        XCTAssertEqual(write(fds[1], "hi", 2), 2)
        var buf = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(read(fds[0], &buf, 8), 2)
        XCTAssertEqual(Array(buf.prefix(2)), Array("hi".utf8))
        XCTAssertEqual(send(fds[0], "x", 1, Int32(MSG_NOSIGNAL)), -1, "the read end is shut down for writing")
    }

    func testSpawnedChildWritesIntoSocketPipeUntilEOF() throws {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(ChildProcess.socketPipe(&fds), 0)
        let pid: pid_t
        switch ChildProcess.spawn(["/bin/sh", "-c", "echo out; echo more"], environment: [], stdout: fds[1], stderr: fds[1], searchPath: false) {
        case .success(let p): pid = p
        case .failure(let e): return XCTFail("spawn: \(e)")
        }
        close(fds[1])
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 256)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf.prefix(n)
        }
        close(fds[0])
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "out\nmore\n")
    }
}
