import EzlbCore
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the state directory. Each names the file and what to do.
public enum StateError: EzlbError, Equatable {
    case corrupted(path: String, detail: String, recovery: String)
    case newerSchema(path: String, found: Int, supported: Int)
    case io(path: String, operation: String, errno: Int32)
    case lockTimeout(path: String, seconds: Int)
    /// A state directory or file ezlb must not trust (writable by others, owned by another
    /// user, a symlink where a state file belongs, not a regular file, too large).
    case unsafe(path: String, detail: String)

    public var description: String {
        switch self {
        case .corrupted(let p, let d, let r):
            return "\(p): state file is corrupted (\(d)); \(r)"
        case .newerSchema(let p, let f, let s):
            return "\(p): state schema \(f) was written by a newer ezlb (this one reads up to \(s))"
        case .io(let p, let op, let e):
            return "\(p): \(op) failed: \(Errno(rawValue: e).description)"
        case .lockTimeout(let p, let s):
            return "\(p): another ezlb holds the lock (waited \(s)s)"
        case .unsafe(let p, let d):
            return "\(p): refusing to use it: \(d)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .corrupted, .newerSchema, .unsafe: return .config
        case .io: return .failure
        case .lockTimeout: return .busy
        }
    }

    static func io(_ path: String, _ operation: String, _ e: Errno) -> StateError {
        .io(path: path, operation: operation, errno: e.rawValue)
    }
}

/// An exclusive `flock` on a lock file that lives beside the state it protects.
/// The lock file is never renamed over, so the lock survives atomic writes of the data file.
/// Released when the object is freed.
public final class FileLock {
    public let path: String
    private let fd: FileDescriptor

    public init(path: String, timeoutSeconds: Int = 60) throws {
        self.path = path
        do {
            fd = try FileDescriptor.open(FilePath(path), .readWrite, options: [.create, .closeOnExec, .noFollow],
                                         permissions: [.ownerReadWrite])
        } catch Errno.tooManySymbolicLinkLevels {
            throw StateError.unsafe(path: path, detail: "it is a symbolic link (lock files never are)")
        } catch let e as Errno {
            throw StateError.io(path, "open lock", e)
        }
        let deadline = monotonicMs() + UInt64(max(0, timeoutSeconds)) * 1000
        while flock(fd.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let e = Errno(rawValue: errno)
            if e == .interrupted { continue }
            if e != .wouldBlock {
                try? fd.close()
                throw StateError.io(path, "flock", e)
            }
            if monotonicMs() >= deadline {
                try? fd.close()
                throw StateError.lockTimeout(path: path, seconds: timeoutSeconds)
            }
            usleep(20_000)
        }
    }

    deinit {
        flock(fd.rawValue, LOCK_UN)
        try? fd.close()
    }
}

/// A state directory: schema-versioned state files (`StateFile`), caches and locks.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func file(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }

    /// What is at `path`: nil when nothing (or it cannot be examined), else whether it is a
    /// directory.
    public static func kind(of path: String) -> (exists: Bool, isDirectory: Bool) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (false, false) }
        return (true, (st.st_mode & S_IFMT) == S_IFDIR)
    }

    /// Removes the temp files whose writer is gone (a process killed mid-write):
    /// `.<name>.tmp.<pid>.<random>` of any file. A writer holds an flock on its temp file
    /// until the rename, so a file whose lock can be taken has no live writer (whatever pid
    /// namespace it ran in); it goes when its pid is not running here or it is older than ten
    /// minutes. This needs no state lock; every `lock` runs it (every writer takes one), so a
    /// killed run's temp file does not outlive the next run.
    func removeStaleTemps() {
        guard let d = opendir(path) else { return }
        defer { closedir(d) }
        while let e = readdir(d) {
            let entry = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard entry.hasPrefix("."), let r = entry.firstRange(of: ".tmp.") else { continue }
            guard let pid = pid_t(entry[r.upperBound...].prefix { $0 != "." }), pid > 0, pid != getpid() else { continue }
            let fd = open(file(entry), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            let gone = kill(pid, 0) != 0 && errno == ESRCH
            if gone || time(nil) - st.st_mtim.tv_sec > 600 { unlink(file(entry)) }
        }
    }

    /// Creates the directory (and parents, mode 0755) if missing, then checks it is safe to
    /// use: a directory owned by root or the running user that neither group nor others can
    /// write (as sshd treats `~/.ssh`). Anyone else who can write it could plant links or swap
    /// state files under a root run.
    public func ensureExists() throws {
        let k = Self.kind(of: path)
        if !k.exists {
            var missing: [String] = []
            var p = path
            while !p.isEmpty, p != "/", !Self.kind(of: p).exists {
                missing.append(p)
                p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)])
                while p.hasSuffix("/"), p != "/" { p.removeLast() }
            }
            for d in missing.reversed() {
                if mkdir(d, 0o755) != 0 {
                    let e = Errno(rawValue: errno)
                    if e == .fileExists, Self.kind(of: d).isDirectory { continue }
                    throw StateError.io(path, "create state directory", e)
                }
                chmod(d, 0o755)
            }
        }
        try checkSafe()
    }

    /// The ownership and mode rule of `ensureExists` for an existing directory;
    /// `allowMissing`: a directory that does not exist passes (nothing to read from it).
    public func checkSafe(allowMissing: Bool = false) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if allowMissing && errno == ENOENT { return }
            throw StateError.io(path, "stat state directory", Errno(rawValue: errno))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw StateError.io(path, "use as state directory", .notDirectory) }
        if st.st_uid != 0 && st.st_uid != geteuid() {
            throw StateError.unsafe(path: path, detail: "the state directory is owned by uid \(st.st_uid), not by root or the running user (uid \(geteuid()))")
        }
        if st.st_mode & 0o022 != 0 {
            throw StateError.unsafe(path: path, detail: "the state directory is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))); chmod go-w it")
        }
    }

    /// Takes the lock for `name` (`<name>.lock`), creating the directory first.
    public func lock(_ name: String, timeoutSeconds: Int = 60) throws -> FileLock {
        try ensureExists()
        let l = try FileLock(path: file(name + ".lock"), timeoutSeconds: timeoutSeconds)
        removeStaleTemps()
        return l
    }

    /// Parses bytes read from the state file `name`: the envelope's kind and schema are
    /// checked, then `decode` gets its `data` (and names bad values by key path).
    public func decodeJSON<T>(bytes: [UInt8], from name: String, kind: String, schema: Int, recovery: String,
                              decode: (JSONValue) throws(JSONShapeError) -> T) throws -> T {
        let p = file(name)
        if bytes.isEmpty {
            throw StateError.corrupted(path: p, detail: "empty file", recovery: recovery)
        }
        let envelope: [String: JSONValue]
        let fileKind: String
        let fileSchema: Int
        do {
            envelope = try JSONValue.parse(bytes).object(at: "")
            fileSchema = try envelope.required("schema", at: "").int(at: "schema")
            fileKind = try envelope.required("kind", at: "").string(at: "kind")
        } catch let e as JSONValue.ParseError {
            throw StateError.corrupted(path: p, detail: e.description, recovery: recovery)
        } catch {
            throw StateError.corrupted(path: p, detail: "\(error)", recovery: recovery)
        }
        if fileSchema < 1 {
            throw StateError.corrupted(path: p, detail: "schema: \(fileSchema) is not a schema version", recovery: recovery)
        }
        if fileKind != kind {
            throw StateError.corrupted(path: p, detail: "kind is '\(fileKind)', expected '\(kind)'", recovery: recovery)
        }
        if fileSchema > schema {
            throw StateError.newerSchema(path: p, found: fileSchema, supported: schema)
        }
        do {
            return try decode(try envelope.required("data", at: ""))
        } catch {
            throw StateError.corrupted(path: p, detail: error.description, recovery: recovery)
        }
    }

    /// Writes `data` in the envelope, atomically and durably (`writeRaw`).
    public func writeJSON(_ data: JSONValue, to name: String, kind: String, schema: Int, syncDirectory: Bool = true) throws {
        let doc = JSONValue.object(["schema": .int(schema), "kind": .string(kind), "data": data])
        try writeRaw(Array(doc.prettyText.utf8), to: name, syncDirectory: syncDirectory)
    }

    /// The whole file `name` as bytes; nil when it does not exist.
    public func readRaw(_ name: String) throws -> [UInt8]? {
        let p = file(name)
        try checkSafe(allowMissing: true)
        switch FileBytes.read(p, limit: FileBytes.stateLimit, followSymlinks: false) {
        case .success(let b): return b
        case .failure(.system(ENOENT)): return nil
        case .failure(.system(let e)): throw StateError.io(path: p, operation: "read", errno: e)
        case .failure(.notRegular(kind: "symbolic link")): throw StateError.unsafe(path: p, detail: "it is a symbolic link (state files never are)")
        case .failure(let f): throw StateError.unsafe(path: p, detail: f.description)
        }
    }

    /// Writes `bytes` atomically: temp file, fsync, rename over `name`, fsync the directory
    /// (`syncDirectory: false` leaves that to the caller's next write in this directory: one
    /// fsync covers every rename before it). With `durable: false` (caches: a torn or missing
    /// one is a miss) both fsyncs are left out; the rename stays atomic.
    public func writeRaw(_ bytes: [UInt8], to name: String, durable: Bool = true, syncDirectory: Bool = true,
                         mode: UInt16 = 0o600) throws {
        try ensureExists()
        let final = file(name)
        // A fresh name per write, created exclusively and never through a symlink: nothing
        // planted in the directory can redirect the write.
        var tmp = ""
        var fd: FileDescriptor? = nil
        while fd == nil {
            tmp = file(".\(name).tmp.\(getpid()).\(String(UInt64.random(in: .min ... .max), radix: 36))")
            do {
                fd = try FileDescriptor.open(FilePath(tmp), .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
                                             permissions: FilePermissions(rawValue: CModeT(mode)))
            } catch Errno.fileExists {
                continue
            } catch let e as Errno {
                throw StateError.io(tmp, "create", e)
            }
        }
        guard let fd else { throw StateError.io(tmp, "create", .noSuchFileOrDirectory) }
        flock(fd.rawValue, LOCK_EX) // a new file: never contended; tells removeStaleTemps a writer lives
        if mode != 0o600 { fchmod(fd.rawValue, mode_t(mode)) } // past the umask
        do {
            try fd.closeAfter {
                do { _ = try fd.writeAll(bytes) } catch let e as Errno { throw StateError.io(tmp, "write", e) }
                if durable && fsync(fd.rawValue) != 0 { throw StateError.io(tmp, "fsync", Errno(rawValue: errno)) }
            }
            if rename(tmp, final) != 0 { throw StateError.io(final, "rename", Errno(rawValue: errno)) }
        } catch {
            unlink(tmp)
            throw error
        }
        if durable && syncDirectory { self.syncDirectory() }
    }

    /// fsync(2) of the directory itself: makes the renames into it durable.
    public func syncDirectory() {
        guard let d = try? FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec]) else { return }
        fsync(d.rawValue)
        try? d.close()
    }

    /// Moves a corrupted file aside (`name.corrupt-<unix time>`) so a rebuild can write a new one.
    @discardableResult
    public func quarantine(_ name: String) -> String? {
        let p = file(name)
        let dest = p + ".corrupt-\(time(nil))"
        return rename(p, dest) == 0 ? dest : nil
    }
}
