import EzlbCore

/// Pure naming rules for bridges and their veth pairs: stable across runs and
/// machines, derived from a hash, never longer than the kernel's 15 characters.
public enum BridgeNames {
    /// FNV-1a 64-bit with a splitmix64 finalizer (so inputs that differ in one
    /// character differ in every output bit): stable, no dependency.
    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    static func hex(_ v: UInt64, _ n: Int) -> String {
        let s = String(v, radix: 16)
        return String((String(repeating: "0", count: max(0, 16 - s.count)) + s).suffix(n))
    }

    /// Host end of the owner's veth: `ez` + 12 hex digits of hash(bridge, owner) (14 chars; 48 bits).
    public static func hostVeth(bridge: String, owner: String) -> String {
        "ez" + hex(fnv1a("veth\0\(bridge)\0\(owner)"), 12)
    }

    /// A locally administered unicast MAC from `seed` (02:xx:xx:xx:xx:xx).
    public static func mac(_ seed: String) -> String {
        let h = fnv1a(seed)
        var bytes: [UInt8] = [0x02]
        for i in 0..<5 { bytes.append(UInt8(truncatingIfNeeded: h >> (8 * UInt64(i)))) }
        return bytes.map { hex(UInt64($0), 2) }.joined(separator: ":")
    }

    public static func bridgeMAC(_ bridge: String) -> String { mac("bridge\0\(bridge)") }
    public static func containerMAC(bridge: String, owner: String) -> String { mac("container\0\(bridge)\0\(owner)") }

    /// The nat chain holding a bridge's MASQUERADE rules.
    public static func natChain(_ bridge: String) -> String { "EZLB-BR-\(bridge)" }

    /// Why `name` cannot be a Linux interface name, or nil.
    public static func invalidInterfaceName(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 15 { return "is longer than 15 bytes (the kernel's IFNAMSIZ)" }
        if name == "." || name == ".." { return "is not a valid interface name" }
        if name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace || $0.value < 0x21 || $0.value > 0x7E }) {
            return "may only hold printable ASCII without '/', ':' or spaces"
        }
        return nil
    }
}
