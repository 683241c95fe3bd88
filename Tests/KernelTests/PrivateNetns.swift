import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` on a thread of its own inside a new network namespace, made with
/// unshare(CLONE_NEWNET) (namespaces are per thread), so the host's tables are
/// never touched; the xtables lock is a private file meanwhile
/// (XTABLES_LOCKFILE). Needs root: XCTSkip otherwise.
func inPrivateNetns<T>(_ body: @escaping @Sendable () throws -> T) throws -> T {
    guard geteuid() == 0 else { throw XCTSkip("libiptc half needs root") }
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    let lock = NSTemporaryDirectory() + "ezlb-xt-\(UUID().uuidString).lock"
    setenv("XTABLES_LOCKFILE", lock, 1)
    let thread = Thread {
        defer { done.signal() }
        // unshare(2) is a _GNU_SOURCE declaration Glibc's module does not show.
        typealias Unshare = @convention(c) (Int32) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "unshare"),
              unsafeBitCast(sym, to: Unshare.self)(0x4000_0000 /* CLONE_NEWNET */) == 0 else {
            box.result = .failure(XCTSkip("unshare(CLONE_NEWNET) failed: errno \(errno)"))
            return
        }
        box.result = Result { try body() }
    }
    thread.start()
    done.wait()
    unsetenv("XTABLES_LOCKFILE")
    unlink(lock)
    return try box.result!.get()
}

private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
