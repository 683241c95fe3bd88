import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// `xfrm-kernel.cache`'s record (`XfrmConverged`): its codec, its key, and the rotation
/// deadline that sends a sync back to the full path exactly when `advance` would move.
final class XfrmConvergedTests: XCTestCase {
    func record(pods: String? = "/run/pods.json", rotation: XfrmRotation? = nil) -> XfrmConverged {
        XfrmConverged(key: [UInt8](repeating: 7, count: 32), digest: (0..<32).map { UInt8($0) }, keyFile: "/etc/ezlb/ipsec.key",
                      podsFile: pods,
                      rotation: rotation ?? XfrmRotation(out: 1, outSince: 1_700_000_000.25, accepting: [.init(generation: 1, since: 1_700_000_000.25), .init(generation: 2, since: 1_700_000_300.5)]),
                      generation: 2, rotationDelay: 300, policies: 3000, states: 20,
                      warnings: ["ezlb.yaml: ipsec.typo: unknown key, ignored", "key rotation in progress: …"])
    }

    func testRoundTrip() {
        for r in [record(), record(pods: nil), record(rotation: XfrmRotation(out: 4, outSince: 0, accepting: [.init(generation: 4, since: 0)]))] {
            XCTAssertEqual(XfrmConverged.decode(r.encode()), r)
        }
    }

    func testMalformedIsAMiss() {
        let bytes = record().encode()
        for n in 0..<bytes.count { XCTAssertNil(XfrmConverged.decode(Array(bytes[0..<n])), "truncated at \(n)") }
        XCTAssertNil(XfrmConverged.decode(bytes + [0]), "trailing byte")
        var other = bytes
        other[0] ^= 1
        XCTAssertNil(XfrmConverged.decode(other), "another magic")
        other = bytes
        other[11] = 2
        XCTAssertNil(XfrmConverged.decode(other), "another format version")
    }

    func testKeyCoversEveryInput() {
        let psk = XfrmKey([UInt8](repeating: 0x5a, count: 32))
        func key(binary: [UInt8] = [1], backend: String = "kernel", path: String = "/etc/ezlb.yaml", config: [UInt8] = Array("ipsec: {}".utf8),
                 psk p: XfrmKey? = nil, pods: [UInt8]? = nil, owned: [UInt8] = Array("{}".utf8)) -> [UInt8] {
            XfrmConverged.key(binary: binary, backend: backend, configPath: path, config: config, psk: p ?? psk, podsFile: pods, ownership: owned)
        }
        let base = key()
        XCTAssertEqual(base.count, 32)
        XCTAssertEqual(key(), base, "deterministic")
        let others = [key(binary: [2]), key(backend: "fake"), key(path: "/etc/other.yaml"), key(config: Array("ipsec: {} ".utf8)),
                      key(psk: XfrmKey([UInt8](repeating: 0x5b, count: 32))), key(pods: []), key(pods: Array("{}".utf8)),
                      key(owned: Array("{ }".utf8)), key(owned: [])]
        XCTAssertEqual(Set(others + [base]).count, others.count + 1, "every input changes the key")
        // Never the key itself.
        XCTAssertNil(base.indices.first { i in i + 8 <= base.count && Array(base[i..<i + 8]) == [UInt8](repeating: 0x5a, count: 8) })
    }

    /// Before the deadline `advance` keeps the rotation; after it, it moves it.
    func testRotationDeadlineMatchesAdvance() {
        var rng = SplitMix64(seed: 0x7f4a_7c15)
        for _ in 0..<2000 {
            let t0 = 1_700_000_000 + Double(rng.next() % 1000)
            let delay = [0, 1, 5, 300][Int(rng.next() % 4)]
            var acc: [XfrmRotation.Accepting] = []
            for g in 1...(1 + rng.next() % 3) { acc.append(.init(generation: UInt32(g), since: t0 + Double(g) * Double(rng.next() % 400))) }
            if rng.next() % 10 == 0 { acc = [] }
            let out = UInt32(1 + rng.next() % 3)
            let r = XfrmRotation(out: out, outSince: t0 + Double(rng.next() % 500), accepting: acc)
            let target = UInt32(1 + rng.next() % 4)
            let d = XfrmPlanner.rotationDeadline(r, target: target, delay: Double(delay))
            for _ in 0..<8 {
                let now = t0 + Double(rng.next() % 3000) / 2 - 100
                let moved = XfrmPlanner.advance(r, target: target, now: now, delay: Double(delay)) != r
                if now < d { XCTAssertFalse(moved, "\(r) target \(target) delay \(delay) now \(now) deadline \(d)") }
                else if now > d { XCTAssertTrue(moved, "\(r) target \(target) delay \(delay) now \(now) deadline \(d)") }
            }
            if d.isFinite {
                XCTAssertFalse(XfrmPlanner.advance(r, target: target, now: d.nextDown, delay: Double(delay)) != r)
                XCTAssertTrue(XfrmPlanner.advance(r, target: target, now: d.nextUp, delay: Double(delay)) != r)
            }
        }
    }

    func testHoldsOnlyBeforeTheDeadline() {
        let r = record() // accepting 1 and 2 (since t+300.5), out 1, target 2, delay 300
        XCTAssertEqual(r.deadline, 1_700_000_300.5 + 300)
        XCTAssertTrue(r.holds(at: 1_700_000_400))
        XCTAssertFalse(r.holds(at: 1_700_000_600.5))
        XCTAssertFalse(r.holds(at: 1_800_000_000))
        var done = record()
        done.rotation = XfrmRotation(out: 2, outSince: 5, accepting: [.init(generation: 2, since: 1)])
        XCTAssertEqual(done.deadline, .infinity)
        XCTAssertTrue(done.holds(at: 1e12))
        done.generation = 3
        XCTAssertFalse(done.holds(at: 6), "a generation not accepted yet: at once")
    }
}
