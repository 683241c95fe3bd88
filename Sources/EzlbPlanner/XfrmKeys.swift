import Crypto
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Per-direction keys and SPIs, derived so that both nodes compute the same values without talking:
///
///     okm  = HKDF-SHA256(ikm: PSK, salt: "ezlb-xfrm-v1",
///                        info: "ezlb xfrm sa" || 0x00 || family (4|6) || lo || hi || dir || generation,
///                        length: key_bits/8 + 4 + 4)
///     key  = okm[0 ..< key_bits/8 + 4]          (AES key + 4-byte GCM salt, as rfc4106 wants)
///     spi  = big-endian okm[last 4 bytes], plus 0x100 when below 256 (reserved SPIs)
///
/// `lo`/`hi` are the two node addresses (network byte order) sorted ascending, `dir` is 0x00 for
/// lo → hi and 0x01 for hi → lo, `generation` is 4 bytes big-endian. Node A's OUT SA towards B is
/// B's IN SA from A: same inputs, same key and SPI.
public enum XfrmKeys {
    public static let salt = Array("ezlb-xfrm-v1".utf8)
    public static let label = Array("ezlb xfrm sa".utf8)

    public static func info(src: IPAddress, dst: IPAddress, generation: UInt32) -> [UInt8] {
        let (lo, hi, dir): (IPAddress, IPAddress, UInt8) = src < dst ? (src, dst, 0) : (dst, src, 1)
        var info = label + [0, src.family == .ipv4 ? 4 : 6]
        info += lo.bytes + hi.bytes + [dir]
        info += [UInt8(generation >> 24), UInt8((generation >> 16) & 0xFF), UInt8((generation >> 8) & 0xFF), UInt8(generation & 0xFF)]
        return info
    }

    /// The SPI and AEAD key material of the SA carrying src → dst traffic in `generation`.
    public static func derive(psk: XfrmKey, src: IPAddress, dst: IPAddress, generation: UInt32, keyBits: Int) -> (spi: UInt32, key: XfrmKey) {
        Deriver(psk: psk).derive(src: src, dst: dst, generation: generation, keyBits: keyBits)
    }

    /// HKDF with the extract step (the same for every SA of a PSK) done once: each SA then
    /// costs one HKDF-Expand (one HMAC block for up to 32 bytes of output).
    public struct Deriver {
        private let prk: HashedAuthenticationCode<SHA256>

        public init(psk: XfrmKey) {
            prk = HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: psk.bytes), salt: salt)
        }

        public func derive(src: IPAddress, dst: IPAddress, generation: UInt32, keyBits: Int) -> (spi: UInt32, key: XfrmKey) {
            let keyBytes = keyBits / 8 + 4
            let okm = HKDF<SHA256>.expand(pseudoRandomKey: prk, info: info(src: src, dst: dst, generation: generation),
                                          outputByteCount: keyBytes + 4)
            let bytes = okm.withUnsafeBytes { [UInt8]($0) }
            let s = bytes[keyBytes...].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
            return (s < 0x100 ? s + 0x100 : s, XfrmKey(Array(bytes[..<keyBytes])))
        }
    }
}
