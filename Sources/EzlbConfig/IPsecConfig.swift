import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The `ipsec:` section of the config file (only `ezlb xfrm` reads it).
///
/// ```yaml
/// ipsec:
///   local: 192.168.0.1                   # this node's address (outer tunnel source)
///   key_file: /etc/ezlb/ipsec.key        # pre-shared key, hex or base64, >= 16 bytes, mode 0600
///   algorithm: rfc4106(gcm(aes))         # the only one (AES-GCM, 128-bit ICV)
///   key_bits: 128                        # 128 or 256
///   generation: 1                        # bump to rotate keys (make-before-break)
///   rotation_delay: 5m                   # wait before switching OUT, and before removing the old generation
///   pods: [10.244.1.0/28]                # this node's managed pods (addresses or CIDRs)
///   pods_file: /run/ezlb/pods.json       # optional, written by an orchestrator
///   peers:
///     - address: 192.168.0.2
///       pods: [10.244.2.0/28]
/// ```
public struct IPsecConfig: Equatable, Sendable {
    public struct Peer: Equatable, Sendable {
        public var address: IPAddress
        public var pods: [XfrmPrefix]
        public init(address: IPAddress, pods: [XfrmPrefix]) {
            self.address = address
            self.pods = pods
        }
    }

    public static let algorithms = ["rfc4106(gcm(aes))"]
    public static let minimumKeyBytes = 16

    public var file: String = ""
    public var local: IPAddress
    public var keyFile: String
    /// The pre-shared key (never printed).
    public var psk: XfrmKey
    public var algorithm: String = "rfc4106(gcm(aes))"
    public var keyBits: Int = 128
    public var icvBits: UInt32 = 128
    public var generation: UInt32 = 1
    public var rotationDelay: Double = 300
    public var pods: [XfrmPrefix] = []
    public var podsFile: String?
    public var peers: [Peer] = []
    /// `ipsec.peers` was written as a list (possibly `[]`), not missing or without a value.
    public var peersListed = true
    /// Keys under `ipsec` that ezlb does not know (likely typos).
    public var unknownKeys: [String] = []
    /// The config file's bytes as parsed (by `load`), and the pods file's as merged: with
    /// the key, what `xfrm sync`'s converged fast path compares instead of parsing again.
    public var configBytes: [UInt8] = []
    public var podsFileBytes: [UInt8]? = nil

    public init(local: IPAddress, keyFile: String, psk: XfrmKey) {
        self.local = local
        self.keyFile = keyFile
        self.psk = psk
    }

    /// Reads the `ipsec` section of `path` (and the key file and pods file it names).
    public static func load(path: String) throws -> IPsecConfig {
        let bytes = try EzlbConfiguration.readBytes(path: path)
        var cfg = try parse(EzlbConfiguration.text(bytes, path: path), file: path)
        cfg.configBytes = bytes
        return cfg
    }

    public static func parse(_ text: String, file: String) throws -> IPsecConfig {
        let root = try YAMLCursor.document(text, file: file)
        let s = root["ipsec"]
        try s.requireMapping()
        if s.isNull { throw s.error("is required for xfrm (see docs/xfrm.md)", value: nil) }

        let local = try address(s["local"])
        let keyFile = try s["key_file"].requiredString()
        let base = deletingLastPathComponent(file)
        let keyPath = keyFile.hasPrefix("/") || base.isEmpty ? keyFile : base + "/" + keyFile
        let psk = try readKey(keyPath, cursor: s["key_file"])
        var cfg = IPsecConfig(local: local, keyFile: keyPath, psk: psk)
        cfg.file = file

        if let a = try s["algorithm"].string() {
            guard algorithms.contains(a) else { throw s["algorithm"].error("unsupported algorithm (supported: \(algorithms.joined(separator: ", ")))") }
            cfg.algorithm = a
        }
        if let b = try s["key_bits"].int(in: 0...Int64(Int32.max)) {
            guard b == 128 || b == 256 else { throw s["key_bits"].error("expected 128 or 256") }
            cfg.keyBits = Int(b)
        }
        if let g = try s["generation"].int(in: 0...Int64(UInt32.max)) { cfg.generation = UInt32(g) }
        let rd = s["rotation_delay"]
        if let t = try rd.string() {
            guard let d = Duration.parse(t) else { throw rd.error("expected a duration like 30s or 5m") }
            guard !Duration.isTooLong(d) else { throw rd.error(Duration.tooLongReason) }
            cfg.rotationDelay = d
        }

        // Where each prefix came from, for the overlap error only: key paths are built
        // when one is reported, not for each of thousands of pods.
        var seen: [(XfrmPrefix, Origin)] = []
        let pods = s["pods"]
        for item in try pods.items() {
            let p = try prefix(item)
            cfg.pods.append(p)
            seen.append((p, .cursor(item)))
        }
        pods.markSubtreeRead() // a list of scalars, all read: no unknown keys below
        var peerIndex: [IPAddress: Int] = [:]
        cfg.peersListed = !s["peers"].isNull
        for (i, pc) in try s["peers"].items().enumerated() {
            try pc.requireMapping()
            let a = try address(pc["address"])
            if a == local { throw pc["address"].error("a peer cannot be the local node") }
            if a.family != local.family { throw pc["address"].error("not the same address family as ipsec.local") }
            if let j = peerIndex[a] { throw pc["address"].error("duplicate peer (also ipsec.peers[\(j)])") }
            peerIndex[a] = i
            var peer = Peer(address: a, pods: [])
            let peerPods = pc["pods"]
            for item in try peerPods.items() {
                let p = try prefix(item)
                peer.pods.append(p)
                seen.append((p, .cursor(item)))
            }
            peerPods.markSubtreeRead()
            cfg.peers.append(peer)
        }

        if let pf = try s["pods_file"].string() {
            let path = pf.hasPrefix("/") || base.isEmpty ? pf : base + "/" + pf
            cfg.podsFile = path
            try mergePodsFile(path, into: &cfg, peerIndex: peerIndex, seen: &seen)
        }
        try checkOverlaps(seen, file: file)
        cfg.unknownKeys = s.unreadKeys
        return cfg
    }

    /// Refuses a config under which sync would protect nothing (so remove every tunnel) unless
    /// that is stated: a missing `ipsec.peers` or one without a value is always refused (an
    /// empty or truncated config); no peers, no local pods or no peer pods only when ezlb
    /// has tunnels (the caller passes `allowEmpty: true` when it has none) and
    /// `--allow-empty` is not given.
    public func requireTunnels(allowEmpty: Bool) throws {
        if !peersListed {
            throw ConfigError(file: file, keyPath: "ipsec.peers",
                              reason: "missing or without a value (an empty or truncated config?); to remove every tunnel write 'peers: []' and pass --allow-empty, or run 'ezlb xfrm cleanup'")
        }
        guard !allowEmpty else { return }
        let why: String
        if peers.isEmpty { why = "no peers" }
        else if pods.isEmpty { why = "no local pods (ipsec.pods\(podsFile == nil ? "" : " and pods_file"))" }
        else if peers.allSatisfy({ $0.pods.isEmpty }) { why = "no peer has pods" }
        else { return }
        throw ConfigError(file: file, keyPath: "ipsec",
                          reason: "\(why): sync would remove every tunnel ezlb manages; pass --allow-empty to confirm, or run 'ezlb xfrm cleanup'")
    }

    /// Where a managed prefix was listed: a config key (path built on demand) or a pods_file entry.
    enum Origin {
        case cursor(YAMLCursor)
        case text(String)
        var text: String {
            switch self {
            case .cursor(let c): return c.path
            case .text(let t): return t
            }
        }
    }

    static func address(_ c: YAMLCursor) throws -> IPAddress {
        let t = try c.requiredString()
        guard let a = IPAddress(t.trimmingASCIIWhitespace) else { throw c.error("not an IP address") }
        return a
    }

    static func prefix(_ c: YAMLCursor) throws -> XfrmPrefix {
        let t = try c.requiredString()
        switch XfrmPrefix.parse(t) {
        case .success(let p): return p
        case .failure(let e): throw c.error(e.reason)
        }
    }

    /// Reads the PSK: the file must be a regular file not readable or writable by group or others,
    /// holding hex or base64 (surrounding whitespace ignored), at least 16 bytes once decoded.
    static func readKey(_ path: String, cursor: YAMLCursor) throws -> XfrmKey {
        switch key(at: path) {
        case .success(let k): return k
        case .failure(let e): throw cursor.error(e.reason, value: path)
        }
    }

    static func key(at path: String) -> Result<XfrmKey, InputError> {
        let data: [UInt8]
        switch FileBytes.readSecret(path, what: "key file") {
        case .success(let d): data = d
        case .failure(let e): return .failure(e)
        }
        // Byte level: hex digits or base64 (ASCII), surrounding whitespace ignored.
        var lo = 0, hi = data.count
        while lo < hi, data[lo].isASCIISpaceByte { lo += 1 }
        while hi > lo, data[hi - 1].isASCIISpaceByte { hi -= 1 }
        let text = data[lo..<hi]
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8]? = nil
        let nibbles = text.compactMap(nibble)
        if !text.isEmpty, text.count % 2 == 0, nibbles.count == text.count {
            bytes = stride(from: 0, to: nibbles.count, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
        } else if let d = Data(base64Encoded: String(decoding: text, as: UTF8.self)) {
            bytes = [UInt8](d)
        }
        guard let key = bytes else { return .failure(InputError("key file holds neither hex nor base64")) }
        guard key.count >= minimumKeyBytes else {
            return .failure(InputError("key is too short (\(key.count) bytes; at least \(minimumKeyBytes))"))
        }
        return .success(XfrmKey(key))
    }

    /// `{"local": ["10.244.1.5", …], "peers": {"192.168.0.2": ["10.244.2.0/28", …]}}`: added to the config's lists.
    static func mergePodsFile(_ path: String, into cfg: inout IPsecConfig, peerIndex: [IPAddress: Int],
                              seen: inout [(XfrmPrefix, Origin)]) throws {
        let bytes: [UInt8]
        switch FileBytes.read(path) {
        case .success(let b): bytes = b
        case .failure(.system(ENOENT)): throw ConfigError(file: path, keyPath: "", reason: "no such file (ipsec.pods_file)")
        case .failure(let f): throw ConfigError(file: path, keyPath: "", reason: "cannot read: \(f)")
        }
        cfg.podsFileBytes = bytes
        guard case .object(let obj)? = try? JSONValue.parse(bytes) else {
            throw ConfigError(file: path, keyPath: "", reason: "expected a JSON object {\"local\": [...], \"peers\": {...}}")
        }
        func prefixes(_ v: JSONValue?, key: String) throws -> [(XfrmPrefix, Origin)] {
            guard let v else { return [] }
            guard case .array(let list) = v else { throw ConfigError(file: path, keyPath: key, reason: "expected a list of addresses or CIDRs") }
            return try list.enumerated().map { i, x in
                guard case .string(let t) = x else { throw ConfigError(file: path, keyPath: "\(key)[\(i)]", reason: "expected a string") }
                switch XfrmPrefix.parse(t) {
                case .success(let p): return (p, .text("\(path): \(key)[\(i)]"))
                case .failure(let e): throw ConfigError(file: path, keyPath: "\(key)[\(i)]", value: t, reason: e.reason)
                }
            }
        }
        for k in obj.keys where k != "local" && k != "peers" {
            throw ConfigError(file: path, keyPath: k, reason: "unknown key (expected local, peers)")
        }
        for (p, where_) in try prefixes(obj["local"], key: "local") {
            cfg.pods.append(p)
            seen.append((p, where_))
        }
        if let peers = obj["peers"] {
            guard case .object(let m) = peers else { throw ConfigError(file: path, keyPath: "peers", reason: "expected an object keyed by peer address") }
            for k in m.keys.sorted() {
                guard let a = IPAddress(k), let i = peerIndex[a] else {
                    throw ConfigError(file: path, keyPath: "peers", value: k, reason: "not a peer listed in ipsec.peers")
                }
                for (p, where_) in try prefixes(m[k], key: "peers.\(k)") {
                    cfg.peers[i].pods.append(p)
                    seen.append((p, where_))
                }
            }
        }
    }

    /// Managed prefixes must not overlap anywhere (one node's pods, or two nodes'):
    /// each managed address must belong to exactly one node, or selectors would be ambiguous.
    static func checkOverlaps(_ seen: [(XfrmPrefix, Origin)], file: String) throws {
        let sorted = seen.sorted { $0.0 < $1.0 }
        for i in sorted.indices.dropFirst() {
            let (a, b) = (sorted[i - 1].0, sorted[i].0)
            if a.overlaps(b) {
                let pa = sorted[i - 1].1.text, pb = sorted[i].1.text
                throw ConfigError(file: file, keyPath: pb.hasPrefix("ipsec") ? pb : "ipsec.pods_file", value: b.description,
                                  reason: "overlaps \(a) (\(pa)); managed pod addresses must belong to one node only")
            }
        }
    }
}
