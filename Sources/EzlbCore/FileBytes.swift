import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads (swift-system, EINTR retried): the config, key and state files every
/// command starts with, without Foundation's file machinery. Every read is bounded: only a
/// regular file is read (a FIFO, a device or a directory is refused without blocking: the
/// open is non-blocking), and a file larger than `limit` bytes is refused before it is read.
public enum FileBytes {
    /// Why a file was not read.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// open/fstat/read failed.
        case system(Int32)
        /// Not a regular file (`kind`: "directory", "FIFO", "device", …).
        case notRegular(kind: String)
        /// Larger than the limit.
        case tooLarge(limit: Int)
        /// A secret file that group or others can read, or owned by another user.
        case insecure(String)
        /// The path has a NUL byte (the system would read a shorter path).
        case nulInPath

        public var errno: Int32? { if case .system(let e) = self { return e } else { return nil } }

        public var description: String {
            switch self {
            case .system(let e): return FileBytes.describe(e)
            case .notRegular(let k): return "not a regular file (a \(k))"
            case .tooLarge(let l): return "larger than \(FileBytes.describeSize(l)) (the limit for this file)"
            case .insecure(let why): return why
            case .nulInPath: return "the path contains a NUL byte"
            }
        }
    }

    /// Config files: at most 64 MiB (a 25,000-object IPVS config is about 2 MB).
    public static let configLimit = 64 << 20
    /// State files: at most 64 MiB (the fake kernel of a 25,000-object table is about 10 MB).
    public static let stateLimit = 64 << 20
    /// Key and secret files: at most 64 KiB.
    public static let secretLimit = 64 << 10

    /// The file's bytes. `followSymlinks: false` refuses a symlink as the last component
    /// (state files: a planted link must not redirect a read). `secret: true` also refuses a
    /// file group or others can access, or one owned by neither root nor the running user.
    public static func read(_ path: String, limit: Int = configLimit, followSymlinks: Bool = true,
                            secret: Bool = false) -> Result<[UInt8], Failure> {
        if path.utf8.contains(0) { return .failure(.nulInPath) }
        // Not even opened unless it is a regular file: opening a device can act (a watchdog,
        // a tape); the fstat below checks the file actually opened.
        var pre = stat()
        if (followSymlinks ? stat(path, &pre) : lstat(path, &pre)) == 0, let k = kindName(pre.st_mode) { return .failure(.notRegular(kind: k)) }
        var options: FileDescriptor.OpenOptions = [.closeOnExec, .nonBlocking]
        if !followSymlinks { options.insert(.noFollow) }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(FilePath(path), .readOnly, options: options)
        } catch let e as Errno {
            return .failure(.system(e.rawValue))
        } catch {
            return .failure(.system(EIO))
        }
        defer { try? fd.close() }
        var st = stat()
        guard fstat(fd.rawValue, &st) == 0 else { return .failure(.system(Glibc.errno)) }
        if let k = kindName(st.st_mode) { return .failure(.notRegular(kind: k)) }
        if secret {
            let mode = st.st_mode & 0o777
            if mode & 0o077 != 0 {
                return .failure(.insecure("accessible by group or others (mode \(String(mode, radix: 8))); chmod 600 it"))
            }
            if st.st_uid != 0 && st.st_uid != geteuid() {
                return .failure(.insecure("owned by uid \(st.st_uid), not by root or the running user (uid \(geteuid()))"))
            }
        }
        if st.st_size > limit { return .failure(.tooLarge(limit: limit)) }
        // O_NONBLOCK stays: a regular file never blocks, and a pseudo-file that claims to be
        // one (/proc/kmsg) then fails with EAGAIN instead of hanging the run.
        var data = [UInt8](repeating: 0, count: st.st_size > 0 ? Int(st.st_size) + 1 : 1 << 12)
        var count = 0
        do {
            while true {
                if count == data.count {
                    // Grown since fstat (or a /proc file that reports size 0).
                    if count > limit { return .failure(.tooLarge(limit: limit)) }
                    data.append(contentsOf: repeatElement(0, count: min(data.count, limit + 1 - count + 1)))
                }
                let n = try data.withUnsafeMutableBytes { try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[count...])) }
                if n == 0 { break }
                count += n
            }
        } catch let e as Errno {
            return .failure(.system(e.rawValue))
        } catch {
            return .failure(.system(EIO))
        }
        if count > limit { return .failure(.tooLarge(limit: limit)) }
        data.removeSubrange(count...)
        return .success(data)
    }

    /// A key or secret file (`what`: "key file", "secret file"): regular, at most 64 KiB, mode
    /// 0600 or stricter, owned by root or the running user. The failure is a one-line reason.
    public static func readSecret(_ path: String, what: String) -> Result<[UInt8], InputError> {
        switch read(path, limit: secretLimit, secret: true) {
        case .success(let b): return .success(b)
        case .failure(.system(ENOENT)): return .failure(InputError("\(what) does not exist"))
        case .failure(.system(let e)): return .failure(InputError("cannot read \(what): \(describe(e))"))
        case .failure(let f): return .failure(InputError("\(what) is \(f)"))
        }
    }

    /// What a file of `mode` is when it is not a regular file (nil when it is one).
    static func kindName(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "directory"
        case S_IFIFO: return "FIFO"
        case S_IFCHR, S_IFBLK: return "device"
        case S_IFSOCK: return "socket"
        case S_IFLNK: return "symbolic link"
        default: return "special file"
        }
    }

    /// `strerror(e)` as a String.
    public static func describe(_ e: Int32) -> String { Errno(rawValue: e).description }

    static func describeSize(_ n: Int) -> String {
        n >= 1 << 20 ? "\(n >> 20) MiB" : n >= 1 << 10 ? "\(n >> 10) KiB" : "\(n) bytes"
    }
}

extension String {
    /// `self` without leading and trailing ASCII whitespace (space, tab, newlines): the byte-level
    /// equivalent of `trimmingCharacters(in: .whitespacesAndNewlines)` for ASCII input, which is
    /// all an address, a prefix or a hex/base64 key can be. Non-ASCII whitespace is kept.
    public var trimmingASCIIWhitespace: String {
        let u = utf8
        guard let first = u.firstIndex(where: { !$0.isASCIISpaceByte }), let last = u.lastIndex(where: { !$0.isASCIISpaceByte }) else {
            return ""
        }
        if first == u.startIndex && last == u.index(before: u.endIndex) { return self }
        return String(Substring(u[first...last]))
    }
}

extension UInt8 {
    @inlinable public var isASCIISpaceByte: Bool {
        self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D || self == 0x0B || self == 0x0C
    }
}
