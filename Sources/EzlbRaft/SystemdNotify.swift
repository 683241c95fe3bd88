import CEzlbShim
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify(3) for `Type=notify` units, without libsystemd: one datagram per state change to
/// the socket in $NOTIFY_SOCKET (a path, or `@name` in the abstract namespace). `raft serve`
/// sends READY=1 once the node is serving, STATUS= lines on role changes, STOPPING=1 when a
/// stop begins, and WATCHDOG=1 from its event loop at half of $WATCHDOG_USEC, so a loop that
/// stalls is restarted by systemd.
public final class SystemdNotifier {
    private let fd: Int32
    private var address = sockaddr_un()
    private let length: socklen_t
    /// Nanoseconds between watchdog pings (half the unit's WatchdogSec), nil without a watchdog.
    public let watchdogIntervalNs: UInt64?
    private var lastPing: UInt64 = 0

    /// nil when not started by systemd with a notify socket (or the socket cannot be made).
    public init?(environment: (String) -> String? = { getenv($0).map { String(cString: $0) } }) {
        guard let path = environment("NOTIFY_SOCKET"), !path.isEmpty else { return nil }
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity, bytes.first == UInt8(ascii: "/") || abstract else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
        }
        // An abstract name is exactly its bytes; a path ends at its NUL.
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let pid = environment("WATCHDOG_PID").flatMap { Int32($0) }
        if let usec = environment("WATCHDOG_USEC").flatMap({ UInt64($0) }), usec > 0, pid == nil || pid == getpid() {
            watchdogIntervalNs = usec * 1000 / 2
        } else {
            watchdogIntervalNs = nil
        }
    }

    deinit { close(fd) }

    /// Sends `state` (newline-separated assignments); false when the datagram did not go out.
    @discardableResult
    public func send(_ state: String) -> Bool {
        var bytes = Array(state.utf8)
        return withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(fd, &bytes, bytes.count, Int32(MSG_NOSIGNAL), sa, length) == bytes.count
            }
        }
    }

    /// Called from the event loop: WATCHDOG=1 when half the watchdog interval has passed.
    public func tick() {
        guard let interval = watchdogIntervalNs else { return }
        let now = monotonicNs()
        if lastPing == 0 || now &- lastPing >= interval {
            lastPing = now
            send("WATCHDOG=1")
        }
    }
}
