import EzlbCore

/// What `snat-kernel.cache` holds: for one key (the ezlb binary, the inputs of
/// the desired chains and the ownership record), the digest of each table a
/// sync left converged. While the key is the same and every listed table still
/// has its digest (`XTDigestingBackend.currentDigest`), a plan would be empty:
/// the kernel holds exactly what the full path verified or committed. Any
/// malformed or foreign input decodes to nil, which callers treat as a miss.
public struct ConvergedTables: Equatable, Sendable {
    public struct Table: Equatable, Sendable {
        public var ref: XTTableRef
        public var scope: XTDigestScope
        public var digest: [UInt8]
        public init(ref: XTTableRef, scope: XTDigestScope, digest: [UInt8]) {
            self.ref = ref
            self.scope = scope
            self.digest = digest
        }
    }

    public var key: [UInt8]
    public var tables: [Table]

    public init(key: [UInt8], tables: [Table]) {
        self.key = key
        self.tables = tables
    }

    static let magic: [UInt8] = Array("EZLBCONV".utf8)
    static let formatVersion: UInt32 = 1

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.u32(Self.formatVersion)
        w.blob(key)
        w.u32(UInt32(tables.count))
        for t in tables {
            w.u8(t.ref.family == .ipv4 ? 4 : 6)
            w.string(t.ref.table.rawValue)
            w.u32(UInt32(t.scope.chains.count))
            for c in t.scope.chains { w.string(c) }
            w.u32(UInt32(t.scope.hooks.count))
            for h in t.scope.hooks { w.string(h) }
            w.blob(t.digest)
        }
        return w.out
    }

    /// The tables recorded for `key`; nil for another key or anything malformed.
    public static func decode(_ data: [UInt8], key: [UInt8]) -> [Table]? {
        var r = ByteReader(data)
        guard r.match(magic), r.u32() == formatVersion, r.match(blob: key), let n = r.u32(), n <= 64 else { return nil }
        func strings() -> [String]? {
            guard let c = r.u32(), c <= 64 else { return nil }
            var out: [String] = []
            for _ in 0..<c {
                guard let s = r.string(), !s.isEmpty else { return nil }
                out.append(s)
            }
            return out
        }
        var tables: [Table] = []
        for _ in 0..<n {
            guard let f = r.u8(), f == 4 || f == 6, let tn = r.string(), let table = XTTable(rawValue: tn),
                  let chains = strings(), let hooks = strings(), let digest = r.blob(max: 64), digest.count >= 8 else { return nil }
            tables.append(Table(ref: XTTableRef(f == 4 ? .ipv4 : .ipv6, table), scope: XTDigestScope(chains: chains, hooks: hooks),
                                digest: digest))
        }
        guard r.atEnd, !tables.isEmpty else { return nil }
        return tables
    }
}
