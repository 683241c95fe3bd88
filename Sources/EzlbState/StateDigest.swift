import CEzlbDigest
import Crypto
import EzlbCore

/// The one digest construction (`ezlb_digest.h`): an ordered stream of bytes and a multiset
/// of elements, mixed in C and finished with SHA-256 under a label. Equal digests mean the
/// planner sees equal state. Used by the x_tables and xfrm raw digests (C fills the state),
/// the IPVS table digest, the fakes and the convergence keys.
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

    func update(_ buf: UnsafeMutableRawBufferPointer, _ n: Int) { ezlb_digest_update(d, buf.baseAddress, n) }
    func update(_ s: String) {
        var s = s
        s.withUTF8 { ezlb_digest_update(d, $0.baseAddress, $0.count) }
    }
    func element(_ buf: UnsafeMutableRawBufferPointer, _ n: Int) { ezlb_digest_element(d, buf.baseAddress, n) }

    /// Adds `other`'s state to this multiset as one element; `other` starts over.
    func element(stateOf other: StateDigest) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(EZLB_DIGEST_STATE_LEN)) { out in
            ezlb_digest_final(other.d, out.baseAddress)
            ezlb_digest_init(other.d)
            ezlb_digest_element(d, out.baseAddress, out.count)
        }
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
        // 25,000 objects: each is laid out in one stack buffer, no array per object.
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { buf in
            for st in table {
                let s = st.service
                var w = FixedWriter(buf)
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
                w.u32(s.flags)
                w.u32(s.timeout)
                w.u32(s.netmask)
                service.update(buf, w.n)
                service.update(s.scheduler)
                for dest in st.destinations {
                    var w = FixedWriter(buf)
                    w.address(dest.endpoint.address)
                    w.u16(dest.endpoint.port)
                    w.u32(dest.weight)
                    w.u32(dest.forward.connFlags)
                    w.u32(dest.upperThreshold)
                    w.u32(dest.lowerThreshold)
                    service.element(buf, w.n)
                }
                top.element(stateOf: service)
            }
        }
        return top.finish("ipvs")
    }
}

/// Big-endian fields into a fixed buffer (the caller's; 128 bytes hold any IPVS object).
private struct FixedWriter {
    let buf: UnsafeMutableRawBufferPointer
    var n = 0
    init(_ buf: UnsafeMutableRawBufferPointer) { self.buf = buf }
    mutating func u8(_ v: UInt8) { buf.storeBytes(of: v, toByteOffset: n, as: UInt8.self); n += 1 }
    mutating func u16(_ v: UInt16) { buf.storeBytes(of: v.bigEndian, toByteOffset: n, as: UInt16.self); n += 2 }
    mutating func u32(_ v: UInt32) { buf.storeBytes(of: v.bigEndian, toByteOffset: n, as: UInt32.self); n += 4 }
    mutating func u64(_ v: UInt64) { buf.storeBytes(of: v.bigEndian, toByteOffset: n, as: UInt64.self); n += 8 }
    mutating func address(_ a: IPAddress) {
        u8(a.family == .ipv4 ? 4 : 6)
        u64(a.words.0)
        u64(a.words.1)
    }
}
