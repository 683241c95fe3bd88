import EzlbConfig
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// How one hook process ended.
public enum HookOutcome: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// Its timeout expired: the process group got SIGTERM, then SIGKILL.
    case timedOut
    /// Stopped by the dispatcher (a ToMaster whose leadership was lost): killed like a timeout.
    case cancelled
    /// It could not be started (not found, not executable, ...).
    case spawnFailed(String)

    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let c): return c == 0 ? "ok" : "exit \(c)"
        case .signaled(let s): return "killed by signal \(s)"
        case .timedOut: return "timed out"
        case .cancelled: return "cancelled"
        case .spawnFailed(let why): return "not started: \(why)"
        }
    }
}

/// Runs one hook process: argv without a shell, an environment built from scratch, its own process group
/// (killed as a whole on timeout), stdout/stderr streamed into the log line by line.
///
/// posix_spawn is used directly rather than swift-subprocess: we need POSIX_SPAWN_SETPGROUP with a kill of
/// the whole group on timeout, default signal dispositions and an empty signal mask in the child (the daemon
/// may ignore SIGPIPE or block signals), an exact environment, and line-by-line streaming with a poll loop
/// that also watches the deadline and a cancel flag — all a few calls here.
public enum HookExecutor {
    /// After SIGTERM to the group, SIGKILL follows when the hook's own process exited or after this many seconds.
    public static let killGrace: Double = 1.0
    /// After the hook's process exited, output of leftover group members is read for at most this long.
    static let drainAfterExit: Double = 0.2
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs `command args` with exactly `environment` (name=value pairs), waiting at most `timeout` seconds.
    /// `cancel` is polled every ~20 ms; returning true kills the hook like a timeout.
    public static func run(command: String, args: [String], environment: [(String, String)], timeout: Double,
                           log: Logger, metadata: Logger.Metadata = [:],
                           cancel: () -> Bool = { false }) -> HookOutcome {
        let path = environment.last(where: { $0.0 == "PATH" })?.1 ?? defaultPath
        guard let exe = resolve(command, path: path) else {
            return .spawnFailed(command.contains(Character("/")) ? "\(command): no such executable file" : "\(command): not found in PATH \(path)")
        }

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard ChildProcess.pipe(&outPipe) == 0 else { return .spawnFailed("pipe: \(errnoText())") }
        guard ChildProcess.pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .spawnFailed("pipe: \(errnoText())")
        }

        // Nothing else of the daemon (raft sockets, the data dir lock, ...) leaks into the hook.
        let spawned = ChildProcess.spawn([exe] + args, environment: environment.map { "\($0.0)=\($0.1)" },
                                         stdout: outPipe[1], stderr: errPipe[1], searchPath: false)
        close(outPipe[1])
        close(errPipe[1])
        let pid: pid_t
        switch spawned {
        case .success(let p): pid = p
        case .failure(let e):
            close(outPipe[0]); close(errPipe[0])
            return .spawnFailed("\(exe): \(String(cString: strerror(e.rawValue)))")
        }
        var md = metadata
        md["pid"] = "\(pid)"
        log.debug("hook process started", metadata: md)

        var streams = [LineStream(fd: outPipe[0], name: "stdout"), LineStream(fd: errPipe[0], name: "stderr")]
        for s in streams { _ = fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK) }
        defer { for s in streams { close(s.fd) } }

        let start = monotonicSeconds()
        let deadline = start + timeout
        var status: Int32? = nil
        var exitedAt: Double? = nil
        var killedFor: HookOutcome? = nil
        var termSentAt: Double? = nil
        var killSent = false

        func emit(_ line: String, _ stream: String) {
            var m = metadata
            m["stream"] = .string(stream)
            if stream == "stderr" { log.warning("\(line)", metadata: m) } else { log.info("\(line)", metadata: m) }
        }

        while true {
            // Read what is there (wait at most 20 ms).
            var fds = streams.filter { !$0.eof }.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if !fds.isEmpty {
                _ = poll(&fds, nfds_t(fds.count), 20)
                for i in streams.indices where !streams[i].eof {
                    let name = streams[i].name
                    streams[i].readAvailable { emit($0, name) }
                }
            } else if status == nil {
                usleep(20_000)
            }

            if status == nil {
                var st: Int32 = 0
                let r = waitpid(pid, &st, WNOHANG)
                if r == pid || (r < 0 && errno == ECHILD) {
                    status = r == pid ? st : 0
                    exitedAt = monotonicSeconds()
                }
            }
            let now = monotonicSeconds()

            if killedFor == nil, status == nil {
                if now >= deadline { killedFor = .timedOut } else if cancel() { killedFor = .cancelled }
                if killedFor != nil {
                    kill(-pid, SIGTERM)
                    termSentAt = now
                }
            }
            if let t = termSentAt, !killSent, status != nil || now >= t + killGrace {
                // The hook's process is gone (or ignored SIGTERM): finish the whole group, grandchildren included.
                kill(-pid, SIGKILL)
                killSent = true
            }

            if let ex = exitedAt {
                let allEOF = streams.allSatisfy(\.eof)
                if allEOF || now >= ex + drainAfterExit || killSent { break }
            }
        }
        if status == nil { status = ChildProcess.wait(pid) }
        // Final drain of whatever is buffered.
        for i in streams.indices where !streams[i].eof {
            let name = streams[i].name
                    streams[i].readAvailable { emit($0, name) }
        }
        for i in streams.indices {
            let name = streams[i].name
            streams[i].flush { emit($0, name) }
        }

        if let k = killedFor { return k }
        let st = status ?? 0
        if st & 0x7f == 0 { return .exited((st >> 8) & 0xff) }
        return .signaled(st & 0x7f)
    }

    /// argv[0] → an executable path: as given when it holds a '/', else the first match in PATH.
    static func resolve(_ command: String, path: String) -> String? {
        if command.contains(Character("/")) { return access(command, X_OK) == 0 ? command : nil }
        for dir in path.split(separator: ":", omittingEmptySubsequences: false) {
            let d = dir.isEmpty ? "." : String(dir)
            let p = d + "/" + command
            var st = stat()
            if stat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// A pipe read end split into lines (long lines are cut at 4 KiB).
struct LineStream {
    let fd: Int32
    let name: String
    var eof = false
    var buffer: [UInt8] = []
    static let maxLine = 4096

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    mutating func readAvailable(_ line: (String) -> Void) {
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                split(line)
                continue
            }
            if n == 0 { eof = true }
            else if errno == EINTR { continue }
            else if errno != EAGAIN && errno != EWOULDBLOCK { eof = true }
            return
        }
    }

    mutating func split(_ line: (String) -> Void) {
        var start = 0
        var i = 0
        while i < buffer.count {
            if buffer[i] == UInt8(ascii: "\n") {
                var end = i
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                line(String(decoding: buffer[start..<end], as: UTF8.self))
                start = i + 1
            } else if i - start + 1 >= Self.maxLine {
                line(String(decoding: buffer[start...i], as: UTF8.self))
                start = i + 1
            }
            i += 1
        }
        buffer.removeFirst(start)
    }

    mutating func flush(_ line: (String) -> Void) {
        if !buffer.isEmpty { line(String(decoding: buffer, as: UTF8.self)) }
        buffer = []
    }
}
