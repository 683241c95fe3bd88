import Crypto
import EzlbCore

/// What `xfrm-kernel.cache` holds: after a sync that left the kernel converged, the key of
/// everything that sync's plan was made from (`key`) and the digest of the kernel's xfrm
/// objects as it verified them (`XfrmDigestingBackend`), with what its report said. While
/// the key is the same, the kernel still has that digest and the recorded key rotation
/// would not advance (`holds(at:)`), a full sync would plan nothing: `xfrm sync` reports
/// the recorded result instead. Any malformed input decodes to nil, a miss.
public struct XfrmConverged: Equatable, Sendable {
    /// `XfrmConverged.key(…)` of the converged run.
    public var key: [UInt8]
    /// The kernel's digest as the converged run verified it.
    public var digest: [UInt8]
    /// Where that run's config found the key file and the pods file (both follow from the
    /// config's bytes and path, which are in the key): the fast path reads them again.
    public var keyFile: String
    public var podsFile: String?
    /// The rotation as recorded in xfrm.json, with the config's target generation and delay.
    public var rotation: XfrmRotation
    public var generation: UInt32
    public var rotationDelay: Double
    /// The report of that run: desired objects and warnings (unknown keys, rotation in progress).
    public var policies: Int
    public var states: Int
    public var warnings: [String]

    public init(key: [UInt8], digest: [UInt8], keyFile: String, podsFile: String?, rotation: XfrmRotation,
                generation: UInt32, rotationDelay: Double, policies: Int, states: Int, warnings: [String]) {
        self.key = key
        self.digest = digest
        self.keyFile = keyFile
        self.podsFile = podsFile
        self.rotation = rotation
        self.generation = generation
        self.rotationDelay = rotationDelay
        self.policies = policies
        self.states = states
        self.warnings = warnings
    }

    /// The earliest time a sync would advance the recorded rotation
    /// (`XfrmPlanner.rotationDeadline`): +inf once no rotation is in progress.
    public var deadline: Double { XfrmPlanner.rotationDeadline(rotation, target: generation, delay: rotationDelay) }

    /// True while a sync at `now` would keep the recorded rotation: before `deadline`, and
    /// `XfrmPlanner.advance` itself agrees (the full path's own test, to the last bit).
    public func holds(at now: Double) -> Bool {
        now < deadline && XfrmPlanner.advance(rotation, target: generation, now: now, delay: rotationDelay) == rotation
    }

    /// SHA-256 of this ezlb binary, the backend, the config file (path and bytes as parsed),
    /// the pre-shared key (hashed on its own first: neither it nor anything reversible is
    /// stored), the pods file's bytes when the config names one, and xfrm.json's bytes.
    public static func key(binary: [UInt8], backend: String, configPath: String, config: [UInt8], psk: XfrmKey,
                           podsFile: [UInt8]?, ownership: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(Array("ezlb xfrm converged key v1".utf8))
        w.blob(binary)
        w.string(backend)
        w.string(configPath)
        w.blob(config)
        var k = SHA256()
        k.update(data: Array("ezlb xfrm psk".utf8))
        k.update(data: psk.bytes)
        w.bytes(Array(k.finalize()))
        if let p = podsFile {
            w.u8(1)
            w.blob(p)
        } else {
            w.u8(0)
        }
        w.blob(ownership)
        return Array(SHA256.hash(data: w.out))
    }

    static let magic: [UInt8] = Array("EZLBXFRC".utf8)
    static let formatVersion: UInt32 = 1

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.u32(Self.formatVersion)
        w.blob(key)
        w.blob(digest)
        w.string(keyFile)
        if let p = podsFile {
            w.u8(1)
            w.string(p)
        } else {
            w.u8(0)
        }
        w.u32(rotation.out)
        Self.double(rotation.outSince, &w)
        w.u32(UInt32(rotation.accepting.count))
        for a in rotation.accepting {
            w.u32(a.generation)
            Self.double(a.since, &w)
        }
        w.u32(generation)
        Self.double(rotationDelay, &w)
        w.u32(UInt32(clamping: policies))
        w.u32(UInt32(clamping: states))
        w.u32(UInt32(warnings.count))
        for s in warnings { w.string(s) }
        return w.out
    }

    public static func decode(_ data: [UInt8]) -> XfrmConverged? {
        var r = ByteReader(data)
        guard r.match(magic), r.u32() == formatVersion, let key = r.blob(max: 1 << 20), key.count == 32, let digest = r.blob(max: 1 << 20), digest.count == 32,
              let keyFile = r.string(), let hasPods = r.u8(), hasPods <= 1 else { return nil }
        var podsFile: String? = nil
        if hasPods == 1 {
            guard let p = r.string() else { return nil }
            podsFile = p
        }
        guard let out = r.u32(), let outSince = double(&r), let n = r.u32(), n <= 1024 else { return nil }
        var accepting: [XfrmRotation.Accepting] = []
        for _ in 0..<n {
            guard let g = r.u32(), let since = double(&r) else { return nil }
            accepting.append(.init(generation: g, since: since))
        }
        guard let generation = r.u32(), let delay = double(&r), let policies = r.u32(), let states = r.u32(),
              let nw = r.u32(), nw <= 4096 else { return nil }
        var warnings: [String] = []
        for _ in 0..<nw {
            guard let s = r.string() else { return nil }
            warnings.append(s)
        }
        guard r.atEnd else { return nil }
        return XfrmConverged(key: key, digest: digest, keyFile: keyFile, podsFile: podsFile,
                             rotation: XfrmRotation(out: out, outSince: outSince, accepting: accepting),
                             generation: generation, rotationDelay: delay, policies: Int(policies), states: Int(states),
                             warnings: warnings)
    }

    static func double(_ d: Double, _ w: inout ByteWriter) {
        w.u32(UInt32(truncatingIfNeeded: d.bitPattern >> 32))
        w.u32(UInt32(truncatingIfNeeded: d.bitPattern))
    }

    static func double(_ r: inout ByteReader) -> Double? {
        guard let hi = r.u32(), let lo = r.u32() else { return nil }
        let d = Double(bitPattern: UInt64(hi) << 32 | UInt64(lo))
        return d.isNaN ? nil : d
    }
}
