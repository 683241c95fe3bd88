#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Starting the programs ezlb runs for someone else (raft hooks, `exec` health
/// checks): argv with no shell, in a process group of their own so a timeout can
/// kill the whole tree with `kill(-pid, …)`, with nothing of ezlb's state leaking
/// into them (descriptors, blocked or ignored signals).
public enum ChildProcess {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    // Glibc's module map hides the _GNU_SOURCE functions; look them up instead (found in a
    // dynamically linked ezlb; the static release binary takes the fallbacks below).
    private nonisolated(unsafe) static let libc = dlopen(nil, RTLD_NOW)
    private static let pipe2Fn: Pipe2? = dlsym(libc, "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    private static let closeFromFn: CloseFrom? =
        dlsym(libc, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: CloseFrom.self) }

    /// pipe(2) with both ends close-on-exec; 0 or -1 (errno set). `fds[0]` is read, `fds[1]` written.
    public static func pipe(_ fds: inout [Int32]) -> Int32 {
        if let f = pipe2Fn { return fds.withUnsafeMutableBufferPointer { f($0.baseAddress, O_CLOEXEC) } }
        return socketPipe(&fds)
    }

    /// `pipe` without pipe2 (the fully static release binary has no dynamic symbol table to
    /// look it up in): a socket pair is created close-on-exec atomically, so a child another
    /// thread spawns meanwhile cannot inherit it, and reads like a pipe (EOF once every writer
    /// closed); each end is shut down in the direction it is not used.
    static func socketPipe(_ fds: inout [Int32]) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else { return -1 }
        _ = shutdown(fds[0], Int32(SHUT_WR))
        _ = shutdown(fds[1], Int32(SHUT_RD))
        return 0
    }

    /// Starts `argv` (`argv[0]` is the program; with `searchPath` and no `/` in it,
    /// looked up in ezlb's own `PATH`, as posix_spawnp does) with exactly
    /// `environment` (`NAME=value` strings): stdin `/dev/null`, stdout and stderr
    /// onto the given descriptors, every other descriptor closed, in a new process
    /// group (its id is the pid), with an empty signal mask and every catchable
    /// signal at its default action (ezlb ignores SIGPIPE; a child must not inherit that).
    public static func spawn(_ argv: [String], environment: [String], stdout: Int32, stderr: Int32,
                             searchPath: Bool) -> Result<pid_t, Errno> {
        guard let program = argv.first else { return .failure(.invalidArgument) }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&fa, stdout, 1)
        posix_spawn_file_actions_adddup2(&fa, stderr, 2)
        closeFrom3(&fa)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var catchable = sigset_t()
        sigemptyset(&catchable)
        for sig in 1..<32 where sig != SIGKILL && sig != SIGSTOP { sigaddset(&catchable, Int32(sig)) }
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setsigdefault(&attr, &catchable)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let rc = withCStrings(argv) { av in
            withCStrings(environment) { ev in
                searchPath ? posix_spawnp(&pid, program, &fa, &attr, av, ev) : posix_spawn(&pid, program, &fa, &attr, av, ev)
            }
        }
        return rc == 0 ? .success(pid) : .failure(Errno(rawValue: rc))
    }

    /// Runs `argv` to its end with the spawn's conventions, stderr to /dev/null: its exit status
    /// (the raw wait status) and standard output. nil when it cannot be started.
    public static func run(_ argv: [String], environment: [String], searchPath: Bool = false) -> (status: Int32, output: [UInt8])? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        let readEnd = FileDescriptor(rawValue: fds[0])
        defer { try? readEnd.close() }
        let devNull = try? FileDescriptor.open("/dev/null", .writeOnly, options: [.closeOnExec])
        let spawned = spawn(argv, environment: environment, stdout: fds[1], stderr: devNull?.rawValue ?? fds[1], searchPath: searchPath)
        close(fds[1])
        try? devNull?.close()
        guard case .success(let pid) = spawned else { return nil }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while let n = try? buf.withUnsafeMutableBytes({ try readEnd.read(into: $0) }), n > 0 { out += buf[0..<n] }
        return (wait(pid), out)
    }

    /// Waits for `pid` to end (EINTR retried): its raw wait status.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    /// Closes every descriptor from 3 up in the child (descriptors ezlb opened
    /// without O_CLOEXEC: raft sockets, the state lock, netlink sockets).
    private static func closeFrom3(_ fa: inout posix_spawn_file_actions_t) {
        if let f = closeFromFn, f(&fa, 3) == 0 { return }
        guard let d = opendir("/proc/self/fd") else { return }
        defer { closedir(d) }
        var fds: [Int32] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd > 2 { fds.append(fd) }
        }
        for fd in fds where fd != dirfd(d) && fcntl(fd, F_GETFD) >= 0 && fcntl(fd, F_GETFD) & FD_CLOEXEC == 0 {
            posix_spawn_file_actions_addclose(&fa, fd)
        }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let ptrs: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for p in ptrs { free(p) } }
        // swift-format-ignore: NeverForceUnwrap
        // ptrs is never empty (it ends with nil), so it has storage.
        return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
