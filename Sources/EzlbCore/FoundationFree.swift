import SystemPackage
// The few conveniences of full Foundation the product used, without it.
//
// The shipped binary links FoundationEssentials only: full Foundation (swift-corelibs-foundation,
// CoreFoundation and the ICU data) was ~60 % of the binary and a third of the relocations and page
// faults every process start paid for (docs/benchmarks.md, bench/xfrm-sync). These helpers keep
// the exact results of the Foundation calls they replace.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Unicode.Scalar {
    /// `CharacterSet.whitespacesAndNewlines`: Unicode White_Space (Zs, tab, U+000A–U+000D, U+0085,
    /// U+2028, U+2029) plus U+200B, which Foundation's set also holds (FoundationFreeTests).
    var isWhitespaceOrNewline: Bool { value == 0x200B || properties.isWhitespace }
    /// `CharacterSet.whitespaces`: Unicode general category Zs, tab and U+200B.
    var isSpaceOrTab: Bool { value == 0x09 || value == 0x200B || properties.generalCategory == .spaceSeparator }
}

extension StringProtocol {
    /// `trimmingCharacters(in: .whitespacesAndNewlines)`.
    public func trimmed() -> String { trimming(where: { $0.isWhitespaceOrNewline }) }
    /// `trimmingCharacters(in: .whitespaces)` (spaces and tabs, not newlines).
    public func trimmedSpaces() -> String { trimming(where: { $0.isSpaceOrTab }) }

    /// `trimmingCharacters(in:)` for a predicate over Unicode scalars.
    public func trimming(where drop: (Unicode.Scalar) -> Bool) -> String {
        let u = unicodeScalars
        guard let first = u.firstIndex(where: { !drop($0) }), let last = u.lastIndex(where: { !drop($0) }) else { return "" }
        var r = String.UnicodeScalarView()
        r.append(contentsOf: u[first...last])
        return String(r)
    }
}

/// `(path as NSString).deletingLastPathComponent`: "/a/b" → "/a", "/a" → "/", "a" → "", "a/b/" → "a".
public func deletingLastPathComponent(_ path: String) -> String {
    var p = Substring(path)
    while p.count > 1, p.last == "/" { p = p.dropLast() }
    guard let slash = p.lastIndex(of: "/") else { return "" }
    if slash == p.startIndex { return "/" }
    var head = p[..<slash]
    while head.count > 1, head.last == "/" { head = head.dropLast() }
    return String(head)
}

/// `String(format: "%0Nd", n)` for a non-negative or negative integer.
public func zeroPadded<T: BinaryInteger>(_ n: T, width: Int) -> String {
    let digits = String(n.magnitude)
    let pad = String(repeating: "0", count: max(0, width - digits.count - (n < 0 ? 1 : 0)))
    return (n < 0 ? "-" : "") + pad + digits
}

/// `String(format: "%0Nx", n)`: lower-case hex, zero-padded to `width`.
public func hexPadded<T: BinaryInteger>(_ n: T, width: Int) -> String {
    let digits = String(n, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Writes `text` to file descriptor 2 unbuffered, as `FileHandle.standardError.write` did.
public func writeStandardError(_ text: String) {
    _ = try? FileDescriptor.standardError.writeAll(text.utf8)
}

/// A mutex (`NSLock` without Foundation). The pthread mutex lives at a fixed address.
public final class Lock: @unchecked Sendable {
    fileprivate let m: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }

    deinit {
        pthread_mutex_destroy(m)
        m.deinitialize(count: 1)
        m.deallocate()
    }

    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// `NSCondition` without Foundation: a `Lock` and a condition variable on its mutex, timed
/// waits on the monotonic clock. The one lock of the tree: every pthread object lives on the
/// heap, at an address that never moves.
public final class Condition: @unchecked Sendable {
    private let mutex = Lock()
    private let c: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        c = .allocate(capacity: 1)
        c.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(c, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(c)
        c.deinitialize(count: 1)
        c.deallocate()
    }

    public func lock() { mutex.lock() }
    public func unlock() { mutex.unlock() }
    /// Releases the lock until `broadcast()` (or a spurious wake-up); call in a loop on the predicate.
    public func wait() { pthread_cond_wait(c, mutex.m) }
    /// `wait()` that also returns once the monotonic clock reaches `ms` (milliseconds, `monotonicMs()`).
    public func wait(untilMs ms: UInt64) {
        var ts = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
        pthread_cond_timedwait(c, mutex.m, &ts)
    }
    public func broadcast() { pthread_cond_broadcast(c) }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// Nanoseconds on the monotonic clock (the clock `Condition.wait(untilMs:)` uses).
public func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// `monotonicNs()` in milliseconds.
public func monotonicMs() -> UInt64 { monotonicNs() / 1_000_000 }

/// `monotonicNs()` in seconds.
public func monotonicSeconds() -> Double { Double(monotonicNs()) / 1e9 }

/// `Foundation.Thread` without Foundation: a detached POSIX thread running `block` once `start()` is called.
public final class PosixThread: @unchecked Sendable {
    private let block: () -> Void
    /// The thread's name (`pthread_setname_np`, at most 15 bytes are kept); set before `start()`.
    public var name: String?

    public init(block: @escaping () -> Void) { self.block = block }

    /// Starts the thread detached; false (and `block` never runs) when the system refuses a new thread.
    @discardableResult
    public func start() -> Bool {
        guard let t = launch() else { return false }
        pthread_detach(t)
        return true
    }

    /// Starts the thread and waits until `block` has returned.
    public func startAndWait() { if let t = launch() { pthread_join(t, nil) } }

    /// nil (and `block` never runs) when the system refuses a new thread (EAGAIN).
    private func launch() -> pthread_t? {
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            // swift-format-ignore: NeverForceUnwrap
            // pthread_create hands back the context pointer passed to it.
            let me = Unmanaged<PosixThread>.fromOpaque(raw!).takeRetainedValue()
            if let n = me.name {   // pthread_setname_np is not in the Glibc module (_GNU_SOURCE)
                let fd = open("/proc/thread-self/comm", O_WRONLY)
                if fd >= 0 { _ = Array(n.utf8.prefix(15)).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }; close(fd) }
            }
            me.block()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<PosixThread>.fromOpaque(context).release()
            return nil
        }
        return tid
    }
}

extension String {
    /// The NUL-terminated string a C call wrote into `buf` (invalid UTF-8 repaired).
    public init(cBuffer buf: [CChar]) {
        self.init(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `padding(toLength: n, withPad: " ", startingAt: 0)`: spaces appended, or cut, to `n` UTF-16 units.
    public func padded(to n: Int) -> String {
        let c = utf16.count
        if c < n { return self + String(repeating: " ", count: n - c) }
        if c == n { return self }
        return String(decoding: Array(utf16.prefix(n)), as: UTF16.self)
    }
}
