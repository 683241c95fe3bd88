import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .corrupted, .newerSchema: return .config
        case .io: return .failure
        case .lockTimeout: return .busy
        }
    }
}

/// An exclusive `flock` on a lock file that lives beside the state it protects.
/// The lock file is never renamed over, so the lock survives atomic writes of the data file.
/// Released when the object is freed.
public final class FileLock {
    public let path: String
    private var fd: Int32

    public init(path: String, timeoutSeconds: Int = 60) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw StateError.io(path: path, operation: "open lock", errno: errno) }
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            if e == EINTR { continue }
            if e != EWOULDBLOCK {
                close(fd)
                throw StateError.io(path: path, operation: "flock", errno: e)
            }
            if Date() >= deadline {
                close(fd)
                throw StateError.lockTimeout(path: path, seconds: timeoutSeconds)
            }
            usleep(20_000)
        }
    }

    deinit {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
        }
    }
}

/// The on-disk envelope of every state file.
private struct Envelope<T: Codable>: Codable {
    var schema: Int
    var kind: String
    var data: T
}

private struct EnvelopeHeader: Codable {
    var schema: Int
    var kind: String
}

/// A state directory: JSON files with a schema version, read whole, written
/// temp → fsync → rename → fsync(dir).
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func file(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }

    /// What is at `path`: nil when nothing (or it cannot be examined), else whether it is a
    /// directory. A plain stat(2): Foundation's FileManager costs more than the rest of a
    /// short command's work.
    public static func kind(of path: String) -> (exists: Bool, isDirectory: Bool) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (false, false) }
        return (true, (st.st_mode & S_IFMT) == S_IFDIR)
    }

    /// Removes the temp files (`<prefix>*`) a writer killed mid-write left in the directory.
    /// Only safe under the lock every writer of that file holds.
    public func removeStaleFiles(prefix: String) {
        guard let d = opendir(path) else { return }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(prefix) { unlink(file(name)) }
        }
    }

    /// Creates the directory (and parents) if missing.
    public func ensureExists() throws {
        let k = Self.kind(of: path)
        if k.exists {
            if !k.isDirectory { throw StateError.io(path: path, operation: "use as state directory", errno: ENOTDIR) }
            return
        }
        // mkdir -p with mkdir(2) (mode 0755 on every directory created, like FileManager's
        // createDirectory with posixPermissions did, without its first-use cost).
        var missing: [String] = []
        var p = path
        while !p.isEmpty, p != "/", !Self.kind(of: p).exists {
            missing.append(p)
            p = String(p[..<(p.lastIndex(of: "/") ?? p.startIndex)])
            while p.hasSuffix("/"), p != "/" { p.removeLast() }
        }
        for d in missing.reversed() {
            if mkdir(d, 0o755) != 0 {
                let e = errno
                if e == EEXIST, Self.kind(of: d).isDirectory { continue }
                throw StateError.io(path: path, operation: "create state directory", errno: e)
            }
            chmod(d, 0o755)
        }
    }

    /// Takes the lock for `name` (`<name>.lock`), creating the directory first.
    public func lock(_ name: String, timeoutSeconds: Int = 60) throws -> FileLock {
        try ensureExists()
        return try FileLock(path: file(name + ".lock"), timeoutSeconds: timeoutSeconds)
    }

    /// Reads `name`; nil when the file does not exist.
    public func read<T: Codable>(_ type: T.Type, from name: String, kind: String, schema: Int,
                                 recovery: String) throws -> T? {
        let p = file(name)
        guard let bytes = try readRaw(name) else { return nil }
        let data = Data(bytes)
        if data.isEmpty {
            throw StateError.corrupted(path: p, detail: "empty file", recovery: recovery)
        }
        let dec = JSONDecoder()
        let header: EnvelopeHeader
        do {
            header = try dec.decode(EnvelopeHeader.self, from: data)
        } catch {
            throw StateError.corrupted(path: p, detail: Self.describe(error), recovery: recovery)
        }
        if header.kind != kind {
            throw StateError.corrupted(path: p, detail: "kind is '\(header.kind)', expected '\(kind)'", recovery: recovery)
        }
        if header.schema > schema {
            throw StateError.newerSchema(path: p, found: header.schema, supported: schema)
        }
        do {
            return try dec.decode(Envelope<T>.self, from: data).data
        } catch {
            throw StateError.corrupted(path: p, detail: Self.describe(error), recovery: recovery)
        }
    }

    /// Reads `name` as a `JSONValue` envelope (same header checks as `read`) and hands its
    /// `data` to `decode`, which names bad values by key path (`JSONShapeError`). For the
    /// state files of the per-operation commands, which skip Codable (JSONReading.swift).
    public func readJSON<T>(from name: String, kind: String, schema: Int, recovery: String,
                            decode: (JSONValue) throws(JSONShapeError) -> T) throws -> T? {
        let p = file(name)
        guard let bytes = try readRaw(name) else { return nil }
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

    /// Writes `data` in the envelope, atomically and durably like `write`.
    public func writeJSON(_ data: JSONValue, to name: String, kind: String, schema: Int, syncDirectory: Bool = true) throws {
        let doc = JSONValue.object(["schema": .int(schema), "kind": .string(kind), "data": data])
        try writeRaw(Array(doc.prettyText.utf8), to: name, syncDirectory: syncDirectory)
    }

    /// Writes `value` atomically: temp file, fsync, rename over `name`, fsync the directory.
    /// `syncDirectory: false` leaves the directory fsync to the caller's next write in this
    /// directory (one fsync covers every rename before it), for state files written back to
    /// back before anything acts on them.
    public func write<T: Codable>(_ value: T, to name: String, kind: String, schema: Int, syncDirectory: Bool = true) throws {
        try ensureExists()
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try enc.encode(Envelope(schema: schema, kind: kind, data: value))
        try writeRaw([UInt8](data), to: name, syncDirectory: syncDirectory)
    }

    /// The whole file `name` as bytes; nil when it does not exist.
    public func readRaw(_ name: String) throws -> [UInt8]? {
        let p = file(name)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateError.io(path: p, operation: "open", errno: errno)
        }
        defer { close(fd) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StateError.io(path: p, operation: "read", errno: errno)
            }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return data
    }

    /// Writes `bytes` atomically: temp file, fsync, rename over `name`, fsync the directory
    /// (unless `syncDirectory` is false, see `write`). With `durable: false` (caches that
    /// are safe to lose: a torn or missing one decodes as a miss) both fsyncs are left
    /// out; the rename stays atomic.
    public func writeRaw(_ bytes: [UInt8], to name: String, durable: Bool = true, syncDirectory: Bool = true) throws {
        try ensureExists()
        let final = file(name)
        let tmp = file(".\(name).tmp.\(getpid())")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { throw StateError.io(path: tmp, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            var off = 0
            try bytes.withUnsafeBytes { raw in
                while off < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw StateError.io(path: tmp, operation: "write", errno: errno)
                    }
                    off += n
                }
            }
            if durable && fsync(fd) != 0 { throw StateError.io(path: tmp, operation: "fsync", errno: errno) }
        }
        if rename(tmp, final) != 0 { throw StateError.io(path: final, operation: "rename", errno: errno) }
        ok = true
        if durable && syncDirectory { self.syncDirectory() }
    }

    /// fsync(2) of the directory itself: makes the renames into it durable.
    public func syncDirectory() {
        let dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Moves a corrupted file aside (`name.corrupt-<unix time>`) so a rebuild can write a new one.
    @discardableResult
    public func quarantine(_ name: String) -> String? {
        let p = file(name)
        let dest = p + ".corrupt-\(Int(Date().timeIntervalSince1970))"
        return rename(p, dest) == 0 ? dest : nil
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c):
            return "invalid JSON" + (c.codingPath.isEmpty ? "" : " at \(path(c.codingPath))")
        case DecodingError.keyNotFound(let k, let c):
            return "missing key \(path(c.codingPath + [k]))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "wrong type at \(path(c.codingPath))"
        default:
            return "\(error)"
        }
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimming(where: { $0 == "." })
    }
}
