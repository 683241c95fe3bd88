import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

/// The rotation deadline `xfrm sync`'s converged fast path trusts: before it `advance` keeps
/// the rotation, after it `advance` moves it.
final class XfrmRotationDeadlineTests: XCTestCase {
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
}
