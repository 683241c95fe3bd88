import EzlbCore
import Foundation
@testable import EzlbIPAM
import TestSupport
import XCTest

func net(_ s: String) -> IPSubnet { try! IPSubnet.parse(s).get() }
func ip(_ s: String) -> IPAddress { IPAddress(s)! }

final class IPAMTests: XCTestCase {
    let now = "2026-11-21T00:00:00Z"

    func req(_ s: String, owner: String? = nil, ip want: String? = nil, rr: Bool = false, reserved: [String] = []) -> IPAM.Request {
        IPAM.Request(subnet: net(s), owner: owner, ip: want.map(ip), reserved: reserved.map { try! IPRange.parse($0).get() },
                     roundRobin: rr, now: now)
    }

    /// Allocates anonymously until full; returns the addresses in order and checks the full error.
    func drain(_ s: String, rr: Bool = false, reserved: [String] = [], state: inout IPAMState) -> [String] {
        var got: [String] = []
        while true {
            do {
                got.append(try IPAM.allocate(&state, req(s, rr: rr, reserved: reserved)).allocation.ip.description)
            } catch {
                guard case .full = error else { XCTFail("\(s): expected full, got \(error)"); return got }
                return got
            }
            if got.count > 300 { XCTFail("runaway"); return got }
        }
    }

    func testParseSubnet() {
        XCTAssertEqual(net("10.1.0.0/24").description, "10.1.0.0/24")
        XCTAssertEqual(net("2001:DB8::/64").description, "2001:db8::/64")
        for (bad, why) in [("10.1.0.0", "CIDR"), ("10.1.0.5/24", "host bits are set (the subnet is 10.1.0.0/24)"),
                           ("10.1.0.0/33", "out of range 1..32"), ("10.1.0.0/0", "whole address space"),
                           ("300.1.0.0/8", "not an IP address"), ("10.0.0.0/-1", "out of range"), ("2001:db8::/129", "1..128"),
                           ("", "CIDR"), ("10.0.0.0/8/8", "CIDR")] {
            guard case .failure(let e) = IPSubnet.parse(bad) else { XCTFail(bad); continue }
            XCTAssertTrue(e.reason.contains(why), "\(bad): \(e.reason)")
        }
        XCTAssertTrue(net("10.1.0.0/16").overlaps(net("10.1.2.0/24")))
        XCTAssertFalse(net("10.1.0.0/24").overlaps(net("10.1.1.0/24")))
        XCTAssertTrue(net("10.1.0.0/24").contains(ip("10.1.0.255")))
        XCTAssertFalse(net("10.1.0.0/24").contains(ip("10.1.1.0")))
        XCTAssertEqual(IPAddress(family: .ipv6, value: ip("2001:db8::ffff").value), ip("2001:db8::ffff"))
    }

    func testLayouts() {
        XCTAssertEqual(SubnetLayout(net("10.0.0.0/24")).gatewayAddress, ip("10.0.0.1"))
        XCTAssertEqual(SubnetLayout(net("10.0.0.0/30")).pool, ip("10.0.0.2").value...ip("10.0.0.2").value)
        XCTAssertNil(SubnetLayout(net("10.0.0.7/32")).gateway)
        XCTAssertEqual(SubnetLayout(net("10.0.0.0/8")).pool.count, 16_777_213)
        let l = SubnetLayout(net("2001:db8::/64"))
        XCTAssertEqual(IPSubnet.count(l.pool), "18446744073709551614")
        XCTAssertEqual(IPSubnet.count(SubnetLayout(net("8000::/1")).pool), String((UInt128(1) << 127) - 2))
    }

    // Exhaustive small subnets: exactly these addresses, in this order, then "full".
    func testExhaustiveSmallSubnets() {
        let cases: [(String, [String])] = [
            ("10.0.0.0/30", ["10.0.0.2"]),
            ("10.0.0.0/29", ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]),
            ("10.0.0.0/31", ["10.0.0.1"]),
            ("10.0.0.9/32", ["10.0.0.9"]),
            ("2001:db8::/126", ["2001:db8::2", "2001:db8::3"]),
            ("2001:db8::/127", ["2001:db8::1"]),
            ("2001:db8::5/128", ["2001:db8::5"]),
        ]
        for (s, want) in cases {
            var st = IPAMState()
            XCTAssertEqual(drain(s, state: &st), want, s)
            XCTAssertEqual(st.subnets.first?.allocations.count, want.count)
            XCTAssertNil(st.invariantViolation())
            // Release everything: the state is empty again and allocation starts over.
            for a in want { XCTAssertEqual(try IPAM.release(&st, subnet: net(s), ip: ip(a), owner: nil).count, 1) }
            XCTAssertEqual(st, IPAMState(), s)
        }
        // A /24 gives exactly .2 ... .254 (253 addresses): never .0, .1 or .255.
        var st = IPAMState()
        let all = drain("10.9.0.0/24", state: &st)
        XCTAssertEqual(all.count, 253)
        XCTAssertEqual(all.first, "10.9.0.2")
        XCTAssertEqual(all.last, "10.9.0.254")
        XCTAssertEqual(Set(all).count, 253)
    }

    func testFullError() {
        var st = IPAMState()
        _ = drain("10.0.0.0/30", state: &st)
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.0.0.0/30"))) { e in
            XCTAssertEqual("\(e)", "subnet 10.0.0.0/30 is full: all 1 addresses of 10.0.0.2 are allocated or reserved")
        }
    }

    func testIPv6Slash64GrowsWithAllocationsOnly() throws {
        var st = IPAMState()
        for i in 0..<100 { _ = try IPAM.allocate(&st, req("2001:db8:1::/64", owner: "c\(i)")) }
        XCTAssertEqual(st.subnets[0].allocations.first?.ip, ip("2001:db8:1::2"))
        XCTAssertEqual(st.subnets[0].allocations.last?.ip, ip("2001:db8:1::65"))
        // A specific address at the far end of the /64, then the lowest free is still found.
        _ = try IPAM.allocate(&st, req("2001:db8:1::/64", owner: "far", ip: "2001:db8:1::ffff:ffff:ffff:ffff"))
        XCTAssertThrowsError(try IPAM.allocate(&st, req("2001:db8:1::/64", ip: "2001:db8:1:1::")))
        let e = try JSONEncoder().encode(st)
        XCTAssertLessThan(e.count, 120 * 101, "file size is per allocation")
        // Round-robin past the far address wraps to the lowest free.
        _ = try IPAM.allocate(&st, req("2001:db8:1::/64", owner: "rr1", rr: true))
        XCTAssertEqual(st.subnets[0].roundRobinLast, ip("2001:db8:1::66"))
        // Even a /8-sized IPv6 pool works without any per-address structure.
        var big = IPAMState()
        XCTAssertEqual(try IPAM.allocate(&big, req("2001:db8::/8".replacingOccurrences(of: "2001:db8::/8", with: "2000::/8"))).allocation.ip, ip("2000::2"))
    }

    func testIdempotentOwnerAndIPConflicts() throws {
        var st = IPAMState()
        let a = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c1"))
        XCTAssertTrue(a.created)
        let before = st
        let b = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c1"))
        XCTAssertFalse(b.created)
        XCTAssertEqual(b.allocation, a.allocation)
        XCTAssertEqual(st, before)
        // --ip: own address again is fine; someone else's is a conflict; the owner asking for another is a conflict.
        XCTAssertFalse(try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c1", ip: "10.1.0.2")).created)
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c2", ip: "10.1.0.2"))) { e in
            XCTAssertEqual("\(e)", "10.1.0.2 in 10.1.0.0/24 is already allocated to 'c1'")
        }
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c1", ip: "10.1.0.9"))) { e in
            XCTAssertTrue("\(e)".contains("already holds 10.1.0.2"))
        }
        XCTAssertEqual(st, before)
        let c = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c2", ip: "10.1.0.50"))
        XCTAssertEqual(c.allocation.ip, ip("10.1.0.50"))
        XCTAssertEqual(try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c3")).allocation.ip, ip("10.1.0.3"))
        // The same owner in another subnet is another allocation (dual stack).
        XCTAssertEqual(try IPAM.allocate(&st, req("2001:db8::/64", owner: "c1")).allocation.ip, ip("2001:db8::2"))
        XCTAssertNil(st.invariantViolation())
    }

    func testSpecialAddressesRefused() {
        var st = IPAMState()
        let cases: [(String, String, String)] = [
            ("10.1.0.0/24", "10.1.0.1", "is the gateway of 10.1.0.0/24"),
            ("10.1.0.0/24", "10.1.0.0", "is the network address"),
            ("10.1.0.0/24", "10.1.0.255", "is the broadcast address"),
            ("10.1.0.0/24", "10.1.1.7", "is outside 10.1.0.0/24"),
            ("10.1.0.0/24", "2001:db8::7", "is outside"),
            ("2001:db8::/64", "2001:db8::", "is the network address"),
            ("2001:db8::/64", "2001:db8::1", "is the gateway"),
            ("10.0.0.0/31", "10.0.0.0", "is the gateway"),
        ]
        for (s, a, why) in cases {
            XCTAssertThrowsError(try IPAM.allocate(&st, req(s, ip: a))) { e in
                guard case .badInput(let f, let v, let r) = e as? IPAMError else { return XCTFail("\(e)") }
                XCTAssertEqual(f, "--ip"); XCTAssertEqual(v, a); XCTAssertTrue(r.contains(why), "\(a): \(r)")
            }
        }
        XCTAssertEqual(st, IPAMState(), "refusals change nothing")
        // IPv6 has no broadcast: the last address of a /126 is usable.
        XCTAssertEqual(try IPAM.allocate(&st, req("2001:db8::/126", ip: "2001:db8::3")).allocation.ip, ip("2001:db8::3"))
    }

    func testReservedAndRange() throws {
        var st = IPAMState()
        let got = drain("10.0.0.0/28", reserved: ["10.0.0.3", "10.0.0.5-10.0.0.12", "192.168.0.0/16", "2001:db8::/64"], state: &st)
        XCTAssertEqual(got, ["10.0.0.2", "10.0.0.4", "10.0.0.13", "10.0.0.14"])
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.0.1.0/24", ip: "10.0.1.7", reserved: ["10.0.1.0/28"]))) { e in
            XCTAssertTrue("\(e)".contains("is reserved (10.0.1.0-10.0.1.15)"), "\(e)")
        }
        var r = req("10.2.0.0/24")
        r.range = try IPRange.parse("10.2.0.100-10.2.0.101").get()
        XCTAssertEqual(try IPAM.allocate(&st, r).allocation.ip, ip("10.2.0.100"))
        XCTAssertEqual(try IPAM.allocate(&st, r).allocation.ip, ip("10.2.0.101"))
        XCTAssertThrowsError(try IPAM.allocate(&st, r)) { e in XCTAssertTrue("\(e)".contains("of 10.2.0.100-10.2.0.101"), "\(e)") }
        r.range = try IPRange.parse("10.3.0.1-10.3.0.9").get()
        XCTAssertThrowsError(try IPAM.allocate(&st, r)) { e in XCTAssertTrue("\(e)".contains("must lie inside 10.2.0.0/24")) }
        r.range = try IPRange.parse("10.2.0.0-10.2.0.1").get()
        XCTAssertThrowsError(try IPAM.allocate(&st, r)) { e in XCTAssertTrue("\(e)".contains("no allocatable address")) }
    }

    func testRoundRobinAvoidsJustReleased() throws {
        var st = IPAMState()
        let s = net("10.0.0.0/29")
        let a = try IPAM.allocate(&st, req("10.0.0.0/29", owner: "a", rr: true)).allocation.ip
        XCTAssertEqual(a, ip("10.0.0.2"))
        _ = try IPAM.release(&st, subnet: s, ip: nil, owner: "a")
        XCTAssertEqual(st.subnets.count, 1, "the round-robin position is remembered")
        XCTAssertEqual(try IPAM.allocate(&st, req("10.0.0.0/29", owner: "b", rr: true)).allocation.ip, ip("10.0.0.3"))
        // Without round-robin the lowest free is reused.
        XCTAssertEqual(try IPAM.allocate(&st, req("10.0.0.0/29", owner: "c")).allocation.ip, ip("10.0.0.2"))
        // Round-robin walks to the end and wraps.
        let rest = drain("10.0.0.0/29", rr: true, state: &st)
        XCTAssertEqual(rest, ["10.0.0.4", "10.0.0.5", "10.0.0.6"])
        _ = try IPAM.release(&st, subnet: s, ip: ip("10.0.0.3"), owner: nil)
        _ = try IPAM.release(&st, subnet: s, ip: ip("10.0.0.5"), owner: nil)
        XCTAssertEqual(drain("10.0.0.0/29", rr: true, state: &st), ["10.0.0.3", "10.0.0.5"])
    }

    func testReleaseRules() throws {
        var st = IPAMState()
        let s = net("10.1.0.0/24")
        _ = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "c1"))
        XCTAssertEqual(try IPAM.release(&st, subnet: s, ip: ip("10.1.0.9"), owner: nil), [], "free address: nothing")
        XCTAssertEqual(try IPAM.release(&st, subnet: net("10.7.0.0/24"), ip: nil, owner: "c1"), [], "unknown subnet: nothing")
        XCTAssertThrowsError(try IPAM.release(&st, subnet: s, ip: ip("10.1.0.2"), owner: "c2")) { e in
            XCTAssertTrue("\(e)".contains("held by 'c1', not 'c2'"))
        }
        XCTAssertThrowsError(try IPAM.release(&st, subnet: s, ip: ip("10.2.0.2"), owner: nil))
        XCTAssertEqual(try IPAM.release(&st, subnet: s, ip: ip("10.1.0.2"), owner: "c1").count, 1)
        XCTAssertEqual(st, IPAMState())
    }

    func testOverlappingSubnetsRefused() throws {
        var st = IPAMState()
        _ = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "a"))
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.1.0.0/16", owner: "b"))) { e in
            XCTAssertTrue("\(e)".contains("overlaps 10.1.0.0/24"))
        }
        XCTAssertThrowsError(try IPAM.allocate(&st, req("10.1.0.128/25", owner: "b")))
        XCTAssertNoThrow(try IPAM.allocate(&st, req("10.1.1.0/24", owner: "b")))
        XCTAssertEqual(st.subnets.map(\.subnet.description), ["10.1.0.0/24", "10.1.1.0/24"])
        // A released subnet that only remembers its round-robin position does not block (or corrupt) a wider one.
        var rr = IPAMState()
        _ = try IPAM.allocate(&rr, req("10.2.0.0/24", owner: "a", rr: true))
        _ = try IPAM.release(&rr, subnet: net("10.2.0.0/24"), ip: nil, owner: "a")
        XCTAssertEqual(rr.subnets.count, 1)
        XCTAssertEqual(try IPAM.allocate(&rr, req("10.2.0.0/16", owner: "b")).allocation.ip, ip("10.2.0.2"))
        XCTAssertEqual(rr.subnets.map(\.subnet.description), ["10.2.0.0/16"])
        XCTAssertNil(rr.invariantViolation())
    }

    func testOwnerValidation() {
        var st = IPAMState()
        for bad in ["", "a b", "tab\tx", String(repeating: "x", count: 257)] {
            XCTAssertThrowsError(try IPAM.allocate(&st, req("10.1.0.0/24", owner: bad)), bad)
        }
        XCTAssertNoThrow(try IPAM.allocate(&st, req("10.1.0.0/24", owner: "k8s_pod/ns:x-1")))
    }

    func testInvariantsDetectCorruption() throws {
        var st = IPAMState()
        _ = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "a"))
        _ = try IPAM.allocate(&st, req("10.1.0.0/24", owner: "b"))
        var dup = st
        dup.subnets[0].allocations[1].ip = dup.subnets[0].allocations[0].ip
        XCTAssertNotNil(dup.invariantViolation())
        var owner = st
        owner.subnets[0].allocations[1].owner = "a"
        XCTAssertNotNil(owner.invariantViolation())
        var outside = st
        outside.subnets[0].allocations[1].ip = ip("10.9.9.9")
        XCTAssertNotNil(outside.invariantViolation())
        // Round trip through JSON.
        let data = try JSONEncoder().encode(st)
        XCTAssertEqual(try JSONDecoder().decode(IPAMState.self, from: data), st)
    }

    /// Seeded random allocate/release sequences against a brute-force model on a /27.
    func testRandomAgainstModel() throws {
        var rng = SplitMix64(seed: 0x5eed)
        let s = net("10.4.0.0/27")
        for round in 0..<50 {
            var st = IPAMState()
            var model: [String: UInt128] = [:]  // owner -> address
            let reserved = [try IPRange.parse("10.4.0.\(Int(rng.next() % 30))").get()]
            for _ in 0..<200 {
                let owner = "o\(rng.next() % 40)"
                if rng.next() % 3 == 0 {
                    let r = try IPAM.release(&st, subnet: s, ip: nil, owner: owner)
                    XCTAssertEqual(r.count, model[owner] == nil ? 0 : 1)
                    model[owner] = nil
                } else {
                    var q = req("10.4.0.0/27", owner: owner)
                    q.reserved = reserved
                    let used = Set(model.values)
                    let free = (s.network + 2...s.last - 1).filter { !used.contains($0) && !reserved[0].bounds.contains($0) }
                    do {
                        let out = try IPAM.allocate(&st, q)
                        if let held = model[owner] { XCTAssertEqual(out.allocation.ip.value, held) }
                        else { XCTAssertEqual(out.allocation.ip.value, free.first, "round \(round)"); model[owner] = out.allocation.ip.value }
                    } catch {
                        XCTAssertNil(model[owner]); XCTAssertTrue(free.isEmpty, "full only when nothing is free")
                    }
                }
                XCTAssertNil(st.invariantViolation())
            }
        }
    }
}


/// ipam.json's hand-written JSON codec against the Codable one it replaced in the
/// commands: same layout, each reads the other's output.
final class IPAMStateJSONTests: XCTestCase {
    func sample() -> IPAMState {
        IPAMState(subnets: [
            SubnetAllocations(subnet: try! IPSubnet.parse("10.1.0.0/24").get(), allocations: [
                Allocation(ip: IPAddress("10.1.0.2")!, owner: "ctr-1", allocatedAt: "2026-11-21T05:40:00Z"),
                Allocation(ip: IPAddress("10.1.0.9")!, owner: nil, allocatedAt: "2026-11-21T05:41:00Z"),
            ], roundRobinLast: IPAddress("10.1.0.9")),
            SubnetAllocations(subnet: try! IPSubnet.parse("2001:db8::/64").get(), allocations: [
                Allocation(ip: IPAddress("2001:db8::5")!, owner: "bridge:\"odd\"\\name", allocatedAt: "2026-11-21T05:42:00Z"),
            ]),
        ])
    }

    func testRoundTripBothWays() throws {
        let s = sample()
        XCTAssertEqual(try IPAMState(json: s.json), s)
        // Codable output read by the JSON codec.
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        let codable = try enc.encode(s)
        XCTAssertEqual(try IPAMState(json: JSONValue.parse([UInt8](codable))), s)
        // JSON codec output read by Codable, and the same text apart from Foundation's "\/".
        let mine = s.json.prettyText
        XCTAssertEqual(try JSONDecoder().decode(IPAMState.self, from: Data(mine.utf8)), s)
        XCTAssertEqual(mine, String(decoding: codable, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/") + "\n")
    }

    func testShapeErrors() throws {
        let cases: [(String, String)] = [
            (#"{}"#, "missing key data.subnets"),
            (#"{"subnets":{}}"#, "wrong type at data.subnets"),
            (#"{"subnets":[{"subnet":"10.0.0.0/33","allocations":[]}]}"#, "invalid value at data.subnets[0].subnet: '10.0.0.0/33' is not a subnet"),
            (#"{"subnets":[{"subnet":"10.0.0.0/24"}]}"#, "missing key data.subnets[0].allocations"),
            (#"{"subnets":[{"subnet":"10.0.0.0/24","allocations":[{"ip":"10.0.0.300","allocated_at":"x"}]}]}"#,
             "invalid value at data.subnets[0].allocations[0].ip: '10.0.0.300' is not an IP address"),
            (#"{"subnets":[{"subnet":"10.0.0.0/24","allocations":[{"ip":"10.0.0.3","owner":7,"allocated_at":"x"}]}]}"#,
             "wrong type at data.subnets[0].allocations[0].owner"),
            (#"{"subnets":[{"subnet":"10.0.0.0/24","allocations":[{"ip":"10.0.0.3"}]}]}"#,
             "missing key data.subnets[0].allocations[0].allocated_at"),
            (#"{"subnets":[{"subnet":"10.0.0.0/24","allocations":[],"round_robin_last":true}]}"#,
             "wrong type at data.subnets[0].round_robin_last"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try IPAMState(json: JSONValue.parse(Array(text.utf8))), text) { e in
                XCTAssertEqual("\(e)", message, text)
            }
        }
    }
}
