import CNetlinkXfrm
@testable import Kernel
import XCTest

/// The converged fast path's digest of raw xfrm dump messages (`ezlb_xfrm_digest`), on
/// messages built here as the kernel lays them out: what traffic and time change (lifetime
/// counters, SA statistics, last use and its alignment pad, replay counters and bitmap, a
/// policy's index) and the dump order are not in it; anything else is.
final class XfrmDumpDigestTests: XCTestCase {
    struct Policy {
        var priority: UInt32 = 31000
        var index: UInt32 = 0x100
        var useTime: UInt64 = 0
        var reqid: UInt32 = 0x0E21_0001
        var dst: UInt8 = 2
        var mark: UInt32? = nil
    }

    struct SA {
        var spi: UInt32 = 0x1234
        var key: [UInt8] = [UInt8](repeating: 0x42, count: 20)
        var bytes: UInt64 = 0
        var lastUsed: UInt64? = nil
        var pad = false
        var replay: (UInt32, UInt32, UInt32) = (0, 0, 0)
        var esn: (seq: UInt32, window: UInt32)? = nil
        var integrityFailed: UInt32 = 0
    }

    func attr(_ type: Int32, _ payload: [UInt8]) -> [UInt8] {
        let len = 4 + payload.count
        var out = withUnsafeBytes(of: UInt16(len)) { Array($0) } + withUnsafeBytes(of: UInt16(type)) { Array($0) } + payload
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    func raw<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    func message(_ type: UInt16, _ body: [UInt8]) -> [UInt8] {
        let len = 16 + body.count
        var out = raw(UInt32(len)) + raw(type) + raw(UInt16(2)) + raw(UInt32(7)) + raw(UInt32(99)) + body
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    func policy(_ p: Policy) -> [UInt8] {
        var info = xfrm_userpolicy_info()
        info.sel.family = 2
        info.sel.prefixlen_s = 28
        info.sel.prefixlen_d = 28
        info.sel.saddr.a4 = 0x0001_F40A
        info.sel.daddr.a4 = 0x0000_F40A | UInt32(p.dst) << 16
        info.lft.soft_byte_limit = ~0
        info.lft.hard_byte_limit = ~0
        info.curlft.add_time = 1_700_000_000
        info.curlft.use_time = p.useTime
        info.priority = p.priority
        info.index = p.index
        info.dir = 1
        var t = xfrm_user_tmpl()
        t.family = 2
        t.id.proto = 50
        t.mode = 1
        t.reqid = p.reqid
        t.aalgos = ~0
        t.ealgos = ~0
        t.calgos = ~0
        var body = raw(info) + attr(Int32(XFRMA_TMPL.rawValue), raw(t))
        if let m = p.mark { body += attr(Int32(XFRMA_MARK.rawValue), raw(m) + raw(UInt32(0xff))) }
        return message(19, body)
    }

    func sa(_ s: SA) -> [UInt8] {
        var info = xfrm_usersa_info()
        info.id.spi = s.spi.bigEndian
        info.id.proto = 50
        info.family = 2
        info.mode = 1
        info.reqid = 0x0E21_0001
        info.replay_window = 32
        info.curlft.bytes = s.bytes
        info.curlft.packets = s.bytes / 100
        info.stats.integrity_failed = s.integrityFailed
        var body = raw(info)
        if let lu = s.lastUsed {
            if s.pad { body += attr(Int32(XFRMA_PAD.rawValue), []) }
            body += attr(Int32(XFRMA_LASTUSED.rawValue), raw(lu))
        }
        var aead = [UInt8]("rfc4106(gcm(aes))".utf8)
        aead += [UInt8](repeating: 0, count: 64 - aead.count)
        body += attr(Int32(XFRMA_ALG_AEAD.rawValue), aead + raw(UInt32(s.key.count * 8)) + raw(UInt32(128)) + s.key)
        if let e = s.esn {
            body += attr(Int32(XFRMA_REPLAY_ESN_VAL.rawValue), raw(UInt32(1)) + raw(e.seq) + raw(e.seq) + raw(UInt32(0)) + raw(UInt32(0)) + raw(e.window) + raw(e.seq))
        } else {
            body += attr(Int32(XFRMA_REPLAY_VAL.rawValue), raw(s.replay.0) + raw(s.replay.1) + raw(s.replay.2))
        }
        return message(16, body)
    }

    func digest(_ parts: [[UInt8]]) -> [UInt8]? { XfrmDumpDigest.digest(bytes: parts.flatMap { $0 }) }

    func testTrafficTimeAndIndexDoNotCount() throws {
        let base = try XCTUnwrap(digest([policy(Policy()), sa(SA())]))
        XCTAssertEqual(base.count, 32)
        var p = Policy()
        p.useTime = 1_700_000_500
        p.index = 0x208
        var s = SA()
        s.bytes = 123_456
        s.lastUsed = 1_700_000_600
        s.pad = true
        s.replay = (17, 0, 0)
        s.integrityFailed = 3
        XCTAssertEqual(digest([policy(p), sa(s)]), base)
        s.pad = false
        XCTAssertEqual(digest([policy(p), sa(s)]), base, "the alignment pad before LASTUSED, present or not")
    }

    func testReplayESNKeepsOnlyItsWindow() throws {
        var s = SA()
        s.esn = (0, 128)
        let base = try XCTUnwrap(digest([sa(s)]))
        s.esn = (9_999, 128)
        XCTAssertEqual(digest([sa(s)]), base, "sequence numbers and bitmap move with traffic")
        s.esn = (0, 64)
        XCTAssertNotEqual(digest([sa(s)]), base, "the window is configuration")
    }

    func testOrderDoesNotCount() {
        var p2 = Policy()
        p2.dst = 3
        var s2 = SA()
        s2.spi = 0x5678
        XCTAssertEqual(digest([policy(Policy()), policy(p2), sa(SA()), sa(s2)]),
                       digest([policy(p2), policy(Policy()), sa(s2), sa(SA())]))
    }

    func testEveryOtherChangeCounts() throws {
        let base = try XCTUnwrap(digest([policy(Policy()), sa(SA())]))
        var variants: [[[UInt8]]] = []
        var p = Policy()
        p.priority = 31001
        variants.append([policy(p), sa(SA())])
        p = Policy()
        p.reqid = 0x0E21_0002
        variants.append([policy(p), sa(SA())])
        p = Policy()
        p.mark = 1
        variants.append([policy(p), sa(SA())])
        var s = SA()
        s.key[19] ^= 1
        variants.append([policy(Policy()), sa(s)])
        s = SA()
        s.spi = 0x1235
        variants.append([policy(Policy()), sa(s)])
        variants.append([policy(Policy())])
        variants.append([sa(SA())])
        variants.append([policy(Policy()), policy(Policy()), sa(SA())])
        var all = Set([base])
        for v in variants { all.insert(try XCTUnwrap(digest(v))) }
        XCTAssertEqual(all.count, variants.count + 1)
        XCTAssertNotNil(digest([]), "an empty kernel has a digest too")
    }

    func testMalformedIsNil() {
        let m = sa(SA())
        XCTAssertNil(digest([Array(m.dropLast(8))]), "truncated")
        var bad = m
        bad[4] = 1 // another message type
        XCTAssertNil(digest([bad]))
    }
}
