import EzlbCore
#if canImport(Glibc)
import Glibc
#endif


/// Runs probes (sockets, processes). The planner never does I/O itself; tests
/// pass a scripted prober.
public protocol HealthProber {
    /// One result per target, in the same order. Must finish within about the
    /// largest target timeout, however many targets there are.
    func probe(_ targets: [ProbeTarget]) -> [ProbeResult]
}

/// Runs health probes concurrently in one thread: non-blocking sockets and
/// `poll(2)` for tcp (connect) and http (HTTP/1.1 GET, status line checked),
/// `posix_spawnp` without a shell for exec (exit 0 = healthy; killed with its
/// process group at the timeout). Every probe has its own deadline, so the
/// whole round takes about one timeout however many backends there are (up to
/// `maxSockets` sockets and `maxProcesses` commands in flight at once).
public final class SocketProber: HealthProber {
    public var maxSockets: Int
    public var maxProcesses: Int

    public init(maxSockets: Int = 4096, maxProcesses: Int = 64) {
        self.maxSockets = maxSockets
        self.maxProcesses = maxProcesses
    }

    private enum Phase { case connecting, sending, reading, running }

    private final class Probe {
        let index: Int
        let target: ProbeTarget
        let deadline: Double
        var isProcess = false
        var fd: Int32 = -1
        var pid: pid_t = 0
        var phase: Phase = .connecting
        var request: [UInt8] = []
        var sent = 0
        var buffer: [UInt8] = []
        init(index: Int, target: ProbeTarget, deadline: Double) {
            self.index = index
            self.target = target
            self.deadline = deadline
        }
    }

    public func probe(_ targets: [ProbeTarget]) -> [ProbeResult] {
        var results = [ProbeResult?](repeating: nil, count: targets.count)
        if targets.isEmpty { return [] }
        // Descriptors kept free: one pipe per exec probe in flight, plus ezlb's own
        // (state lock, netlink, stdio) — a low hard limit shrinks the socket window,
        // never the exec probes (an EMFILE there would count as a failed check).
        let reserved = 2 * maxProcesses + 48
        let socketLimit = raiseFileLimit(wanted: min(maxSockets, targets.count) + reserved)
        let sockets = max(1, min(maxSockets, socketLimit - reserved))
        var queue = targets.indices.filter { targets[$0].spec.kind != .exec }[...]
        var execQueue = targets.indices.filter { targets[$0].spec.kind == .exec }[...]
        var active: [Probe] = []
        var socketCount = 0, processCount = 0

        func finish(_ p: Probe, _ r: ProbeResult) {
            if p.fd >= 0 { close(p.fd); p.fd = -1 }
            if p.isProcess {
                if p.pid > 0 {
                    // The timeout: the command and everything it started.
                    kill(-p.pid, SIGKILL)
                    kill(p.pid, SIGKILL)
                    _ = ChildProcess.wait(p.pid)
                    p.pid = 0
                }
                processCount -= 1
            } else {
                socketCount -= 1
            }
            results[p.index] = r
        }

        while true {
            // Start what the limits allow.
            while socketCount < sockets, let i = queue.popFirst() {
                let p = Probe(index: i, target: targets[i], deadline: monotonicSeconds() + targets[i].spec.timeout)
                socketCount += 1
                if let r = startSocket(p) { finish(p, r) } else { active.append(p) }
            }
            while processCount < maxProcesses, let i = execQueue.popFirst() {
                let p = Probe(index: i, target: targets[i], deadline: monotonicSeconds() + targets[i].spec.timeout)
                processCount += 1
                p.phase = .running
                p.isProcess = true
                if let r = startProcess(p) { finish(p, r) } else { active.append(p) }
            }
            active.removeAll { results[$0.index] != nil }
            if active.isEmpty && queue.isEmpty && execQueue.isEmpty { break }

            var fds: [pollfd] = []
            var owners: [Probe] = []
            fds.reserveCapacity(active.count)
            var nextDeadline = Double.infinity
            var running = false
            for p in active {
                nextDeadline = min(nextDeadline, p.deadline)
                if p.phase == .running { running = true }
                guard p.fd >= 0 else { continue }
                let ev: Int32 = (p.phase == .connecting || p.phase == .sending) ? Int32(POLLOUT) : Int32(POLLIN)
                fds.append(pollfd(fd: p.fd, events: Int16(ev), revents: 0))
                owners.append(p)
            }
            var waitMs = max(0, Int32(min(1000, ((nextDeadline - monotonicSeconds()) * 1000).rounded(.up))))
            if running { waitMs = min(waitMs, 5) } // exits are noticed by waitpid
            let n = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), waitMs) }
            if n > 0 {
                for (k, pfd) in fds.enumerated() where pfd.revents != 0 {
                    let p = owners[k]
                    if results[p.index] != nil { continue }
                    if let r = step(p, revents: Int32(pfd.revents)) { finish(p, r) }
                }
            }
            let now = monotonicSeconds()
            for p in active where results[p.index] == nil {
                if p.phase == .running, let r = reap(p) {
                    finish(p, r)
                } else if now >= p.deadline {
                    finish(p, .failure(timeoutText(p)))
                }
            }
        }
        return results.map { $0 ?? .failure("not probed") }
    }

    // MARK: sockets

    private func startSocket(_ p: Probe) -> ProbeResult? {
        let ep = p.target.backend
        let v4 = ep.address.family == .ipv4
        let fd = socket(v4 ? AF_INET : AF_INET6,
                        Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return .failure("socket: \(Self.errText(errno))") }
        p.fd = fd
        var rc: Int32
        if v4 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = ep.port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin_addr) { $0.copyBytes(from: ep.address.bytes) }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = ep.port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: ep.address.bytes) }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        if rc == 0 { return connected(p) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return nil }
        return .failure("connect: \(Self.errText(e))")
    }

    /// The connection is up: tcp is done, http sends its request.
    private func connected(_ p: Probe) -> ProbeResult? {
        guard p.target.spec.kind == .http else { return .success }
        let s = p.target.spec
        let host = s.httpHost ?? p.target.backend.description
        let req = "GET \(s.httpPath) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: ezlb-health\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        p.request = Array(req.utf8)
        p.phase = .sending
        return send(p)
    }

    private func send(_ p: Probe) -> ProbeResult? {
        while p.sent < p.request.count {
            let n = p.request.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(p.fd, base + p.sent, raw.count - p.sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return nil }
                return .failure("http: send: \(Self.errText(e))")
            }
            p.sent += n
        }
        p.phase = .reading
        return nil
    }

    private func step(_ p: Probe, revents: Int32) -> ProbeResult? {
        switch p.phase {
        case .connecting:
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { err = errno }
            if err == EINPROGRESS { return nil }
            if err != 0 { return .failure("connect: \(Self.errText(err))") }
            if revents & Int32(POLLOUT) == 0 { return .failure("connect: no connection") }
            return connected(p)
        case .sending:
            return send(p)
        case .reading:
            return read(p)
        case .running:
            return nil
        }
    }

    private func read(_ p: Probe) -> ProbeResult? {
        var chunk = [UInt8](repeating: 0, count: 2048)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                let e = errno
                if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { break }
                return .failure("http: receive: \(Self.errText(e))")
            }
            if n == 0 {
                if let r = statusResult(p, final: true) { return r }
                return .failure("http: connection closed before a status line")
            }
            p.buffer += chunk[0..<n]
            if let r = statusResult(p, final: false) { return r }
        }
        return nil
    }

    /// Parses `HTTP/1.x NNN reason` once the first line is complete.
    private func statusResult(_ p: Probe, final: Bool) -> ProbeResult? {
        guard let nl = p.buffer.firstIndex(of: UInt8(ascii: "\n")) else {
            if p.buffer.count > 4096 { return .failure("http: no status line in the first 4096 bytes") }
            return final && !p.buffer.isEmpty ? .failure("http: incomplete status line") : nil
        }
        let line = String(decoding: p.buffer[..<nl], as: UTF8.self).trimmingTrailingCR()
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
            return .failure("http: not an HTTP/1 status line: '\(line.prefix(60))'")
        }
        let want = p.target.spec.httpExpectedStatus
        return status == want ? .success : .failure("http: status \(status), expected \(want)")
    }

    // MARK: processes

    private func startProcess(_ p: Probe) -> ProbeResult? {
        let argv = p.target.spec.command
        guard let prog = argv.first else { return .failure("exec: no command") }
        var pipeFDs: [Int32] = [-1, -1]
        if ChildProcess.pipe(&pipeFDs) != 0 { return .failure("exec: pipe: \(Self.errText(errno))") }
        _ = fcntl(pipeFDs[0], F_SETFL, fcntl(pipeFDs[0], F_GETFL) | O_NONBLOCK)

        let t = p.target
        var env = ProcessEnvironment.current.filter { !$0.hasPrefix("EZLB_CHECK_") }
        env += [
            "EZLB_CHECK_SERVICE=\(t.service)",
            "EZLB_CHECK_SERVICE_KEY=\(t.serviceKey)",
            "EZLB_CHECK_ADDRESS=\(t.backend.address)",
            "EZLB_CHECK_PORT=\(t.backend.port)",
            "EZLB_CHECK_ENDPOINT=\(t.backend)",
            "EZLB_CHECK_TIMEOUT=\(t.spec.timeout)",
        ]
        let spawned = ChildProcess.spawn(argv, environment: env, stdout: pipeFDs[1], stderr: pipeFDs[1], searchPath: true)
        close(pipeFDs[1])
        let pid: pid_t
        switch spawned {
        case .success(let child): pid = child
        case .failure(let e):
            close(pipeFDs[0])
            return .failure("exec: cannot run '\(prog)': \(Self.errText(e.rawValue))")
        }
        p.pid = pid
        p.fd = pipeFDs[0]
        return nil
    }

    /// Collects output (kept for the error text) and the exit status once the command ended.
    private func reap(_ p: Probe) -> ProbeResult? {
        drain(p)
        var st: Int32 = 0
        let r = waitpid(p.pid, &st, WNOHANG)
        guard r == p.pid else { return nil }
        p.pid = 0
        drain(p)
        let sig = st & 0x7f
        if sig == 0 {
            let code = (st >> 8) & 0xff
            if code == 0 { return .success }
            return .failure("exec: exit status \(code)" + lastLine(p))
        }
        return .failure("exec: killed by signal \(sig)" + lastLine(p))
    }

    private func drain(_ p: Probe) {
        guard p.fd >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(p.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                p.buffer += chunk[0..<n]
                if p.buffer.count > 4096 { p.buffer.removeFirst(p.buffer.count - 4096) }
                continue
            }
            if n == 0 { close(p.fd); p.fd = -1 }
            break
        }
    }

    private func lastLine(_ p: Probe) -> String {
        let text = String(decoding: p.buffer, as: UTF8.self)
        guard let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .last(where: { !$0.allSatisfy(\.isWhitespace) }) else { return "" }
        let s = String(line.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        return ": " + (s.count > 160 ? String(s.prefix(157)) + "..." : s)
    }

    private func timeoutText(_ p: Probe) -> String {
        let t = DurationText.format(p.target.spec.timeout)
        switch p.phase {
        case .connecting: return "connect: no answer within \(t)"
        case .sending, .reading: return "http: no response within \(t)"
        case .running: return "exec: killed after the \(t) timeout" + lastLine(p)
        }
    }

    // MARK: helpers

    static func errText(_ e: Int32) -> String {
        let s = String(cString: strerror(e))
        guard let f = s.first else { return s }
        return f.lowercased() + s.dropFirst()
    }

    /// Raises the soft open-file limit towards `wanted` (up to the hard limit); returns the soft limit now.
    private func raiseFileLimit(wanted: Int) -> Int {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 1024 }
        if rl.rlim_cur < rlim_t(wanted) {
            var n = rl
            n.rlim_cur = min(rl.rlim_max, rlim_t(wanted))
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &n) == 0 { rl = n }
        }
        return Int(min(rl.rlim_cur, rlim_t(Int32.max)))
    }
}

/// The process environment as `KEY=value` strings.
enum ProcessEnvironment {
    static var current: [String] {
        var out: [String] = []
        var p = environ
        while let e = p.pointee {
            out.append(String(cString: e))
            p += 1
        }
        return out
    }
}

extension String {
    func trimmingTrailingCR() -> String { hasSuffix("\r") ? String(dropLast()) : self }
}
