/// `ipvs apply`'s record of the last kernel table known to be converged
/// (`<state-dir>/ipvs-converged.cache`): the versions of the config and of `ipvs.json`
/// it was planned with, and a 128-bit digest of the table: the dump a full plan found
/// converged, or the table a fully successful apply produced. When a later run
/// finds the same config, the same ownership record and a dump with the same digest,
/// the plan is known to be empty without planning (planning 25,000 objects was most
/// of a converged run after the dump itself). The kernel is still dumped every run:
/// any change to it (by hand, by another tool, a reboot) changes the digest.
public enum IPVSConverged {
    static let magic: [UInt8] = Array("EZLBCONV".utf8)
    static let formatVersion: UInt32 = 1

    /// A digest of every field the planner reads, independent of order (services and
    /// destinations are multisets: a table the kernel lists in another order, or one
    /// predicted from a plan, has the same digest). Per object a 128-bit digest of a
    /// splitmix64-mixed word stream; objects are combined by wrapping addition.
    /// Counters and statistics are not in the dump model.
    public static func digest(_ table: [IPVSServiceState]) -> [UInt8] {
        var total = (UInt64(0), UInt64(0))
        for st in table {
            var dests = (UInt64(0), UInt64(0))
            for d in st.destinations {
                var h = Digest128()
                h.add(d.endpoint.address)
                h.add(UInt64(d.endpoint.port) << 48 | UInt64(d.forward.connFlags) << 32 | UInt64(d.weight))
                h.add(UInt64(d.upperThreshold) << 32 | UInt64(d.lowerThreshold))
                let l = h.lanes
                dests = (dests.0 &+ l.0, dests.1 &+ l.1)
            }
            let s = st.service
            var h = Digest128()
            h.add(s.key)
            h.add(s.scheduler)
            h.add(UInt64(s.flags) << 32 | UInt64(s.timeout))
            h.add(UInt64(s.netmask) << 32 | UInt64(st.destinations.count))
            h.add(dests.0)
            h.add(dests.1)
            let l = h.lanes
            total = (total.0 &+ l.0, total.1 &+ l.1)
        }
        var h = Digest128()
        h.add(UInt64(table.count))
        h.add(total.0)
        h.add(total.1)
        return h.bytes
    }

    /// The cache file's bytes.
    public static func encode(configTag: [UInt8], ownedTag: [UInt8], digest: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(magic)
        w.u32(formatVersion)
        for b in [configTag, ownedTag, digest] { w.blob(b) }
        return w.out
    }

    /// True when `raw` records exactly these versions and this digest.
    public static func matches(_ raw: [UInt8], configTag: [UInt8], ownedTag: [UInt8], digest: [UInt8]) -> Bool {
        raw == encode(configTag: configTag, ownedTag: ownedTag, digest: digest)
    }
}

/// Two 64-bit lanes over a stream of words, each word mixed by the splitmix64 finalizer.
struct Digest128 {
    private var a: UInt64 = 0x6A09_E667_F3BC_C908
    private var b: UInt64 = 0xBB67_AE85_84CA_A73B
    private var n: UInt64 = 0

    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func add(_ w: UInt64) {
        n &+= 1
        let m = Self.mix(w ^ (n &* 0xD6E8_FEB8_6659_FD93))
        a = (a ^ m) &* 0x0000_0100_0000_01B3
        a = (a << 23) | (a >> 41)
        b = Self.mix(b &+ m &+ n)
    }

    mutating func add(_ s: String) {
        add(UInt64(s.utf8.count))
        var w: UInt64 = 0, k = 0
        for c in s.utf8 {
            w = w << 8 | UInt64(c)
            k += 1
            if k == 8 { add(w); w = 0; k = 0 }
        }
        if k > 0 { add(w) }
    }

    mutating func add(_ ip: IPAddress) {
        let (hi, lo) = ip.words
        add(ip.family == .ipv4 ? 4 : 6)
        add(hi)
        add(lo)
    }

    mutating func add(_ k: ServiceKey) {
        switch k {
        case .inet(let p, let e):
            add(UInt64(p.number))
            add(e.address)
            add(UInt64(e.port))
        case .fwmark(let m, let f):
            add(0x1_0000 | UInt64(m) << 20)
            add(f == .ipv4 ? 4 : 6)
        }
    }

    var lanes: (UInt64, UInt64) { (Self.mix(a ^ n), Self.mix(b &+ n)) }

    var bytes: [UInt8] {
        var out: [UInt8] = []
        let l = lanes
        for v in [l.0, l.1] { withUnsafeBytes(of: v.bigEndian) { out += $0 } }
        return out
    }
}
