import Crypto
import EzlbCore
#if canImport(Glibc)
import Glibc
#endif

/// The one convergence cache: after a run that left the kernel converged, the digests of the
/// kernel state it verified (`StateDigest`), under a key made of everything the run's plan was
/// made from. A later run with the same key whose kernel still has those digests would plan
/// nothing, so it stops there, before parsing the config. One file per subsystem
/// (`<state-dir>/<name>.converged`, written under that subsystem's lock, without fsync: a lost
/// or torn one is only a miss).
///
/// The key is content, never file metadata: SHA-256 of this ezlb binary's identity, the
/// backend kind, the bytes of every input and of the ownership record as they are now. A file
/// rewritten within one timestamp tick with the same size is a different key.
public struct ConvergenceCache {
    /// What a converged run recorded: the digests it verified, in the subsystem's order, and
    /// what the subsystem needs to report the run again (warnings, counts, scopes).
    public struct Record: Equatable, Sendable {
        public var digests: [[UInt8]]
        public var payload: [UInt8]
        public init(digests: [[UInt8]], payload: [UInt8] = []) {
            self.digests = digests
            self.payload = payload
        }
    }

    /// Builds a key: label each input, then its bytes (nil: the file does not exist).
    public struct Key {
        private var w = ByteWriter()

        public init(subsystem: String, backend: String) {
            w.string("ezlb convergence key v1")
            w.string(subsystem)
            w.blob(Self.binaryIdentity ?? [])
            w.string(backend)
        }

        public mutating func add(_ label: String, _ bytes: [UInt8]?) {
            w.string(label)
            if let b = bytes { w.u8(1); w.blob(b) } else { w.u8(0) }
        }

        public var bytes: [UInt8] { Array(SHA256.hash(data: w.out)) }

        /// This ezlb binary: its version and the identity of /proc/self/exe (device, inode,
        /// size, modification time). A cache made by another build, which may validate or lay
        /// out things differently, never matches. (Hashing the 50 MB binary each run would cost
        /// more than the fast path saves.)
        static let binaryIdentity: [UInt8]? = {
            var st = stat()
            guard stat("/proc/self/exe", &st) == 0 else { return nil }
            var w = ByteWriter()
            w.string(ezlbVersion)
            for v in [UInt64(st.st_dev), UInt64(st.st_ino), UInt64(bitPattern: Int64(st.st_size)),
                      UInt64(bitPattern: Int64(st.st_mtim.tv_sec)), UInt64(bitPattern: Int64(st.st_mtim.tv_nsec))] {
                w.u32(UInt32(truncatingIfNeeded: v >> 32))
                w.u32(UInt32(truncatingIfNeeded: v))
            }
            return w.out
        }()
    }

    public let dir: StateDirectory
    public let fileName: String

    public init(dir: StateDirectory, name: String) {
        self.dir = dir
        fileName = name + ".converged"
    }

    static let magic: [UInt8] = Array("EZLBCVG1".utf8)

    /// The record stored under `key`; nil for another key, no file, or anything malformed.
    public func load(key: [UInt8]) -> Record? {
        guard let raw = try? dir.readRaw(fileName) else { return nil }
        var r = ByteReader(raw)
        guard r.match(Self.magic), r.match(blob: key), let n = r.u32(), n <= 64 else { return nil }
        var digests: [[UInt8]] = []
        for _ in 0..<n {
            guard let d = r.blob(max: 64) else { return nil }
            digests.append(d)
        }
        guard let payload = r.blob(max: 1 << 20), r.atEnd else { return nil }
        return Record(digests: digests, payload: payload)
    }

    /// Stores `record` under `key`, replacing what was there. A failure only costs the next
    /// run its fast path, so it is not an error.
    public func store(key: [UInt8], _ record: Record) {
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.blob(key)
        w.u32(UInt32(record.digests.count))
        for d in record.digests { w.blob(d) }
        w.blob(record.payload)
        try? dir.writeRaw(w.out, to: fileName, durable: false)
    }

    /// Forgets the record (a run that could not verify convergence).
    public func clear() {
        unlink(dir.file(fileName))
    }
}

/// ezlb's version (`ezlb --version`), part of every convergence key.
public let ezlbVersion = "0.1.0"
