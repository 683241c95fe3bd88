import CEzlbShim
import EzlbCore

/// The digest `NetlinkXfrm` gives `xfrm sync`'s converged fast path: every policy and SA of a
/// raw dump (`ezlb_xfrm_dump`; what it covers and leaves out: `ezlb_xfrm.h`) one element of
/// a `StateDigest` multiset. SHA-256 finishes it: the stored digest reveals nothing of the
/// keys, and it does not depend on the dump order.
enum XfrmDumpDigest {
    static let label = "xfrm"

    /// The digest of a dump kept by `ezlb_xfrm_dump`.
    static func digest(_ raw: ezlb_xfrm_buf) -> [UInt8]? {
        StateDigest.withRaw(label) { ezlb_xfrm_digest(raw.data, raw.len, $0) }
    }

    /// The digest of dump messages given as bytes (tests; `digest(_:)` for a kept dump).
    static func digest(bytes: [UInt8]) -> [UInt8]? {
        bytes.withUnsafeBufferPointer { b in StateDigest.withRaw(label) { ezlb_xfrm_digest(b.baseAddress, b.count, $0) } }
    }

    /// The digest of what the kernel holds now, dumped through `fd` and digested as received
    /// (`ezlb_xfrm_dump_digest`: nothing kept); nil when the dump fails.
    static func current(fd: Int32, seq: UInt32) -> [UInt8]? {
        StateDigest.withRaw(label) { ezlb_xfrm_dump_digest(fd, seq, $0) }
    }
}
