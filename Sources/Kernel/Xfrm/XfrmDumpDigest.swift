import CEzlbShim
import Crypto
import EzlbCore

/// The digest `NetlinkXfrm` gives `xfrm sync`'s converged fast path, made from a raw dump
/// (`ezlb_xfrm_dump`; what it covers and leaves out: `ezlb_xfrm.h`). Policies are summed
/// per object by `ezlb_xfrm_digest` (nothing secret in them); each SA's canonical bytes,
/// which hold its key, go through SHA-256 here, and the sorted SA hashes, the policy lanes
/// and the counts through SHA-256 again: the stored digest reveals nothing of the keys,
/// and neither part depends on the dump order.
enum XfrmDumpDigest {
    static let label = Array("ezlb xfrm kernel digest v1".utf8)

    /// The digest of a dump kept by `ezlb_xfrm_dump`.
    static func digest(_ raw: ezlb_xfrm_buf) -> [UInt8]? {
        var d = ezlb_xfrm_digest()
        var streams = ezlb_xfrm_buf()
        defer { ezlb_xfrm_buf_free(&streams) }
        guard ezlb_xfrm_digest(raw.data, raw.len, &d, &streams) == 0 else { return nil }
        return finish(d, streams)
    }

    /// The digest of dump messages given as bytes (tests; `digest(_:)` for a kept dump).
    static func digest(bytes: [UInt8]) -> [UInt8]? {
        var d = ezlb_xfrm_digest()
        var streams = ezlb_xfrm_buf()
        defer { ezlb_xfrm_buf_free(&streams) }
        let rc = bytes.withUnsafeBufferPointer { ezlb_xfrm_digest($0.baseAddress, $0.count, &d, &streams) }
        guard rc == 0 else { return nil }
        return finish(d, streams)
    }

    /// The digest of what the kernel holds now, dumped through `fd` and digested as received
    /// (`ezlb_xfrm_dump_digest`: nothing kept); nil when the dump fails.
    static func current(fd: Int32, seq: UInt32) -> [UInt8]? {
        var d = ezlb_xfrm_digest()
        var streams = ezlb_xfrm_buf()
        defer { ezlb_xfrm_buf_free(&streams) }
        guard ezlb_xfrm_dump_digest(fd, seq, &d, &streams) == 0 else { return nil }
        return finish(d, streams)
    }

    /// SHA-256 of the policy part and the sorted SHA-256 of each SA's canonical bytes.
    static func finish(_ d: ezlb_xfrm_digest, _ streams: ezlb_xfrm_buf) -> [UInt8]? {
        var states: [[UInt8]] = []
        states.reserveCapacity(Int(d.states))
        var off = 0
        if let base = streams.data {
            while off + 4 <= streams.len {
                let n = Int(UnsafeRawPointer(base + off).loadUnaligned(as: UInt32.self))
                off += 4
                guard off + n <= streams.len else { return nil }
                states.append(Array(SHA256.hash(data: UnsafeRawBufferPointer(start: base + off, count: n))))
                off += n
            }
        }
        guard off == streams.len, states.count == Int(d.states) else { return nil }
        states.sort { $0.lexicographicallyPrecedes($1) }
        var h = SHA256()
        h.update(data: label)
        var w = ByteWriter()
        w.u32(d.policies)
        w.u32(d.states)
        for lane in [d.lanes.0, d.lanes.1, d.lanes.2, d.lanes.3] {
            withUnsafeBytes(of: lane.bigEndian) { w.bytes(Array($0)) }
        }
        for s in states { w.bytes(s) }
        h.update(data: w.out)
        return Array(h.finalize())
    }
}
