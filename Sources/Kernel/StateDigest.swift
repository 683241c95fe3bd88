import CEzlbShim
import Crypto
import EzlbCore

/// The one digest of kernel state the converged fast paths compare (`ezlb_digest.h`): an
/// ordered stream of bytes and a multiset of elements, mixed in C and finished with SHA-256
/// under a label. Equal digests mean the planner sees equal state. Used by the x_tables and
/// xfrm raw digests (C fills the state), the IPVS table digest and the fakes.
public final class StateDigest {
    private let d = UnsafeMutablePointer<ezlb_digest>.allocate(capacity: 1)

    public init() { ezlb_digest_init(d) }
    deinit { d.deallocate() }

    /// Appends bytes to the ordered stream.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { ezlb_digest_update(d, $0.baseAddress, $0.count) }
    }

    /// Adds one element to the multiset (order does not count).
    public func element(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { ezlb_digest_element(d, $0.baseAddress, $0.count) }
    }

    /// The mixed state (ezlb_digest_final); the digest starts over afterwards.
    public func state() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EZLB_DIGEST_STATE_LEN))
        ezlb_digest_final(d, &out)
        ezlb_digest_init(d)
        return out
    }

    /// The digest: SHA-256 of the label and the state; the digest starts over afterwards.
    public func finish(_ label: String) -> [UInt8] { Self.finish(label, state: state()) }

    /// Runs `fill` on a fresh C digest (C code adds to it) and finishes it; nil when `fill`
    /// reports failure (non-zero).
    public static func withRaw(_ label: String, _ fill: (UnsafeMutablePointer<ezlb_digest>) -> Int32) -> [UInt8]? {
        let s = StateDigest()
        guard fill(s.d) == 0 else { return nil }
        return s.finish(label)
    }

    /// SHA-256 of `label` and a state made by `ezlb_digest_final`.
    public static func finish(_ label: String, state: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array("ezlb state digest v1 \(label)".utf8))
        h.update(data: state)
        return Array(h.finalize())
    }
}

extension StateDigest {
    /// Every field of an IPVS table the planner compares, in any order (services and their
    /// destinations are multisets: a table the kernel lists in another order, or one predicted
    /// from a plan, has the same digest). Counters and statistics are not in the model.
    public static func ipvs(_ table: [IPVSServiceState]) -> [UInt8] {
        let top = StateDigest(), service = StateDigest()
        var w = ByteWriter()
        for st in table {
            let s = st.service
            w.reset()
            switch s.key {
            case .inet(let p, let e):
                w.u8(1)
                w.u16(p.number)
                w.address(e.address)
                w.u16(e.port)
            case .fwmark(let m, let f):
                w.u8(2)
                w.u32(m)
                w.u8(f == .ipv4 ? 4 : 6)
            }
            w.string(s.scheduler)
            w.u32(s.flags)
            w.u32(s.timeout)
            w.u32(s.netmask)
            service.update(w.out)
            for dest in st.destinations {
                w.reset()
                w.address(dest.endpoint.address)
                w.u16(dest.endpoint.port)
                w.u32(dest.weight)
                w.u32(dest.forward.connFlags)
                w.u32(dest.upperThreshold)
                w.u32(dest.lowerThreshold)
                service.element(w.out)
            }
            top.element(service.state())
        }
        return top.finish("ipvs")
    }
}
