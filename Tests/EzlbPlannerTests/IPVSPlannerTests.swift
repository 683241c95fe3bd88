import EzlbCore
@testable import EzlbPlanner
import XCTest

func ep(_ s: String) -> Endpoint { try! Endpoint.parse(s, portOptional: true).get() }
func tcp(_ s: String) -> ServiceKey { .inet(.tcp, ep(s)) }

func svc(_ key: ServiceKey, _ sched: String = "wrr", flags: UInt32 = 0, timeout: UInt32 = 0, netmask: UInt32? = nil) -> VirtualService {
    VirtualService(key: key, scheduler: sched, flags: flags, timeout: timeout, netmask: netmask)
}

func dst(_ s: String, w: UInt32 = 1, fwd: ForwardMethod = .masq, up: UInt32 = 0, lo: UInt32 = 0) -> RealServer {
    RealServer(endpoint: ep(s), weight: w, forward: fwd, upperThreshold: up, lowerThreshold: lo)
}

func state(_ s: VirtualService, _ d: [RealServer]) -> IPVSServiceState { IPVSServiceState(service: s, destinations: d) }

final class IPVSPlannerTests: XCTestCase {
    let k1 = tcp("10.0.0.1:80")
    let k2 = tcp("10.0.0.2:80")

    func testEmptyToOneServiceAddsServiceBeforeItsDestinations() {
        let want = state(svc(k1), [dst("192.168.1.11:80"), dst("192.168.1.10:80", w: 5)])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "web", state: want)], actual: [], owned: [:], adopt: false)
        XCTAssertEqual(p.operations, [
            .addService(svc(k1)),
            .addDestination(k1, dst("192.168.1.10:80", w: 5)),
            .addDestination(k1, dst("192.168.1.11:80")),
        ])
        XCTAssertEqual(p.ownedAfter, [k1: "web"])
        XCTAssertEqual(p.ownedIntent, [k1: "web"])
    }

    func testConvergedIsEmpty() {
        let s = state(svc(k1), [dst("192.168.1.10:80")])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "web", state: s)], actual: [s], owned: [k1: "web"], adopt: false)
        XCTAssertTrue(p.isEmpty)
        XCTAssertEqual(p.ownedAfter, [k1: "web"])
    }

    func testEveryServiceFieldChangeIsAnUpdate() {
        let base = svc(k1, "wrr")
        let variants: [VirtualService] = [
            svc(k1, "rr"),
            svc(k1, "wrr", flags: IPVSFlags.persistent, timeout: 300),
            svc(k1, "sh", flags: IPVSFlags.sched1),
            svc(k1, "sh", flags: IPVSFlags.sched2),
            svc(k1, "wrr", flags: IPVSFlags.persistent, timeout: 300, netmask: 0xFFFF_FF00),
        ]
        for v in variants {
            let p = IPVSPlanner.plan(desired: [NamedService(name: "a", state: state(v, []))],
                                     actual: [state(base, [])], owned: [k1: "a"], adopt: false)
            XCTAssertEqual(p.operations, [.updateService(from: base.normalized, to: v.normalized)], "\(v)")
        }
        // Persistence timeout and netmask changes on a persistent service.
        let p1 = svc(k1, "wrr", flags: IPVSFlags.persistent, timeout: 300)
        let p2 = svc(k1, "wrr", flags: IPVSFlags.persistent, timeout: 600)
        XCTAssertEqual(IPVSPlanner.diff(want: state(p2, []), have: state(p1, [])), [.updateService(from: p1, to: p2)])
    }

    func testIrrelevantKernelFieldsDoNotCauseUpdates() {
        // Netmask and timeout are meaningless without persistence; HASHED is kernel-internal.
        var have = svc(k1, "wrr")
        have.netmask = 0xFFFF_0000
        have.timeout = 99
        have.flags |= IPVSFlags.hashed
        XCTAssertEqual(IPVSPlanner.diff(want: state(svc(k1, "wrr"), []), have: state(have, [])), [])
    }

    func testEveryDestinationFieldChangeIsAnUpdateNotDeleteAdd() {
        let base = dst("192.168.1.10:80", w: 3)
        let variants = [dst("192.168.1.10:80", w: 5), dst("192.168.1.10:80", w: 0),
                        dst("192.168.1.10:80", w: 3, fwd: .route), dst("192.168.1.10:80", w: 3, fwd: .tunnel),
                        dst("192.168.1.10:80", w: 3, up: 100), dst("192.168.1.10:80", w: 3, up: 100, lo: 50)]
        for v in variants {
            let ops = IPVSPlanner.diff(want: state(svc(k1), [v]), have: state(svc(k1), [base]))
            XCTAssertEqual(ops, [.updateDestination(k1, from: base, to: v)])
        }
    }

    func testKeptServiceAddsBeforeUpdatesBeforeDeletes() {
        let have = state(svc(k1), [dst("192.168.1.10:80"), dst("192.168.1.11:80", w: 2)])
        let want = state(svc(k1, "rr"), [dst("192.168.1.11:80", w: 4), dst("192.168.1.12:80")])
        let ops = IPVSPlanner.diff(want: want, have: have)
        XCTAssertEqual(ops, [
            .updateService(from: svc(k1), to: svc(k1, "rr")),
            .addDestination(k1, dst("192.168.1.12:80")),
            .updateDestination(k1, from: dst("192.168.1.11:80", w: 2), to: dst("192.168.1.11:80", w: 4)),
            .deleteDestination(k1, dst("192.168.1.10:80")),
        ])
    }

    func testRemovedServiceDeletesDestinationsFirst() {
        let have = state(svc(k1), [dst("192.168.1.10:80"), dst("192.168.1.11:80")])
        let p = IPVSPlanner.plan(desired: [], actual: [have], owned: [k1: "web"], adopt: false)
        XCTAssertEqual(p.operations, [
            .deleteDestination(k1, dst("192.168.1.10:80")),
            .deleteDestination(k1, dst("192.168.1.11:80")),
            .deleteService(svc(k1)),
        ])
        XCTAssertEqual(p.ownedAfter, [:])
        XCTAssertEqual(p.ownedIntent, [k1: "web"], "ownership is kept until the delete is done")
    }

    func testDeletesComeBeforeAdds() {
        let have = state(svc(k2), [])
        let want = state(svc(k1), [])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "new", state: want)], actual: [have], owned: [k2: "old"], adopt: false)
        XCTAssertEqual(p.operations, [.deleteService(svc(k2)), .addService(svc(k1))])
    }

    func testForeignServiceIsAConflictAndUntouched() {
        let foreign = state(svc(k1, "rr"), [dst("10.9.9.9:80")])
        let want = state(svc(k1, "wrr"), [dst("192.168.1.10:80")])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "web", state: want)], actual: [foreign], owned: [:], adopt: false)
        XCTAssertEqual(p.operations, [])
        XCTAssertEqual(p.conflicts.map(\.name), ["web"])
        XCTAssertEqual(p.ownedAfter, [:])
    }

    func testForeignServiceNotInConfigIsNeverDeleted() {
        let foreign = state(svc(k2, "rr"), [dst("10.9.9.9:80")])
        let p = IPVSPlanner.plan(desired: [], actual: [foreign], owned: [:], adopt: true)
        XCTAssertTrue(p.isEmpty)
        XCTAssertTrue(IPVSPlanner.cleanup(actual: [foreign], owned: [:]).isEmpty)
    }

    func testAdoptTakesOverAndReconciles() {
        let foreign = state(svc(k1, "rr"), [dst("10.9.9.9:80")])
        let want = state(svc(k1, "wrr"), [dst("192.168.1.10:80")])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "web", state: want)], actual: [foreign], owned: [:], adopt: true)
        XCTAssertEqual(p.adopted, [k1])
        XCTAssertEqual(p.ownedAfter, [k1: "web"])
        XCTAssertEqual(p.operations, [
            .updateService(from: svc(k1, "rr"), to: svc(k1, "wrr")),
            .addDestination(k1, dst("192.168.1.10:80")),
            .deleteDestination(k1, dst("10.9.9.9:80")),
        ])
    }

    func testManagedServiceDeletedByHandIsRestored() {
        let want = state(svc(k1), [dst("192.168.1.10:80")])
        let p = IPVSPlanner.plan(desired: [NamedService(name: "web", state: want)], actual: [], owned: [k1: "web"], adopt: false)
        XCTAssertEqual(p.operations, [.addService(svc(k1)), .addDestination(k1, dst("192.168.1.10:80"))])
    }

    func testOwnedButGoneFromKernelAndConfigIsForgotten() {
        let p = IPVSPlanner.plan(desired: [], actual: [], owned: [k1: "web"], adopt: false)
        XCTAssertTrue(p.isEmpty)
        XCTAssertEqual(p.ownedAfter, [:])
    }

    func testCleanupDeletesOnlyOwned() {
        let mine = state(svc(k1), [dst("192.168.1.10:80")])
        let theirs = state(svc(k2), [dst("192.168.1.20:80")])
        let p = IPVSPlanner.cleanup(actual: [mine, theirs], owned: [k1: "web"])
        XCTAssertEqual(p.operations, [.deleteDestination(k1, dst("192.168.1.10:80")), .deleteService(svc(k1))])
    }

    func testFwmarkAndIPv6Keys() {
        let fm = ServiceKey.fwmark(7, .ipv4)
        let fm6 = ServiceKey.fwmark(7, .ipv6)
        let v6 = ServiceKey.inet(.tcp, ep("[2001:db8::1]:80"))
        let desired = [fm, fm6, v6].enumerated().map { NamedService(name: "s\($0.offset)", state: state(svc($0.element), [])) }
        let p = IPVSPlanner.plan(desired: desired, actual: [], owned: [:], adopt: false)
        XCTAssertEqual(Set(p.ownedAfter.keys), [fm, fm6, v6])
        XCTAssertEqual(p.operations.count, 3)
    }

    func testOperationText() {
        XCTAssertEqual(IPVSFormat.text(.addService(svc(k1, "wrr"))), "+ service tcp 10.0.0.1:80 wrr")
        XCTAssertEqual(IPVSFormat.text(.updateDestination(tcp("10.0.0.1:80"), from: dst("192.168.1.10:8080", w: 3), to: dst("192.168.1.10:8080", w: 5))),
                       "~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 5")
        XCTAssertEqual(IPVSFormat.text(.deleteService(svc(k1))), "- service tcp 10.0.0.1:80")
        XCTAssertEqual(IPVSFormat.text(.updateService(from: svc(k1, "wrr"), to: svc(k1, "rr", flags: IPVSFlags.persistent, timeout: 60))),
                       "~ service tcp 10.0.0.1:80 scheduler wrr -> rr, persistence off -> 60")
    }

    func testIpvsadmSaveFormat() {
        let table = [
            state(svc(.fwmark(3, .ipv6), "rr"), [dst("[2001:db8::5]:0", fwd: .route)]),
            state(svc(.inet(.udp, ep("10.0.0.1:53")), "rr"), [dst("10.1.0.1:53")]),
            state(svc(k1, "wrr", flags: IPVSFlags.persistent, timeout: 300, netmask: 0xFFFF_FF00),
                  [dst("192.168.1.11:80", w: 2, fwd: .tunnel, up: 10, lo: 5), dst("192.168.1.10:80", w: 5)]),
            state(svc(.inet(.tcp, ep("[2001:db8::1]:443")), "sh", flags: IPVSFlags.persistent | IPVSFlags.sched1 | IPVSFlags.sched2, timeout: 60, netmask: 64), []),
        ]
        // libipvs order: inet before fwmark, IPv4 before IPv6, then protocol, address, port.
        XCTAssertEqual(IPVSFormat.ipvsadmSave(table.map { IPVSServiceDetail(state: $0) }), """
        -A -t 10.0.0.1:80 -s wrr -p 300 -M 255.255.255.0
        -a -t 10.0.0.1:80 -r 192.168.1.10:80 -m -w 5
        -a -t 10.0.0.1:80 -r 192.168.1.11:80 -i -w 2 --tun-type ipip
        -A -u 10.0.0.1:53 -s rr
        -a -u 10.0.0.1:53 -r 10.1.0.1:53 -m -w 1
        -A -t [2001:db8::1]:443 -s sh -p 60 -M 64 -b sh-fallback,sh-port
        -A -f 3 -6 -s rr
        -a -f 3 -6 -r [2001:db8::5]:0 -g -w 1

        """)
    }

    /// ipvsadm 1.31's print_tunnel_rule: gue names its port and checksum option, gre its checksum option.
    func testIpvsadmSaveTunnelTypes() {
        let st = state(svc(k1, "rr"), [dst("192.168.1.10:80", fwd: .tunnel), dst("192.168.1.11:80", fwd: .tunnel),
                                       dst("192.168.1.12:80", fwd: .tunnel)])
        let detail = IPVSServiceDetail(state: st, destinations: [
            IPVSDestinationDetail(tunnel: IPVSTunnel(type: 1, port: 6080, flags: 2)),
            IPVSDestinationDetail(tunnel: IPVSTunnel(type: 2, port: 0, flags: 1)),
            IPVSDestinationDetail(tunnel: nil),
        ])
        XCTAssertEqual(IPVSFormat.ipvsadmSave([detail]), """
        -A -t 10.0.0.1:80 -s rr
        -a -t 10.0.0.1:80 -r 192.168.1.10:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
        -a -t 10.0.0.1:80 -r 192.168.1.11:80 -i -w 1 --tun-type gre --tun-csum
        -a -t 10.0.0.1:80 -r 192.168.1.12:80 -i -w 1

        """)
    }

    /// libipvs compares addresses as `int r = a - b` on unsigned values, which is not
    /// a total order; glibc's qsort (merge sort) on the same input gives this order
    /// (checked with a C program calling qsort with the same comparator).
    func testIpvsadmOrderReplaysGlibcSortOfWrappingComparator() {
        let ips = ["200.0.0.1", "1.0.0.1", "100.0.0.1", "10.0.0.1", "240.0.0.1", "127.0.0.1", "128.0.0.1", "5.0.0.1"]
        let table = ips.map { state(svc(tcp("\($0):80"), "rr"), []) }
        let order = IPVSFormat.ipvsadmSave(table.map { IPVSServiceDetail(state: $0) }).split(separator: "\n").map { $0.split(separator: " ")[2].dropLast(3) }
        XCTAssertEqual(order.map(String.init), ["200.0.0.1", "1.0.0.1", "5.0.0.1", "10.0.0.1", "100.0.0.1", "127.0.0.1", "128.0.0.1", "240.0.0.1"])
        // ipvsadm prints marks with %d.
        XCTAssertEqual(IPVSFormat.ipvsadmSave([IPVSServiceDetail(state: state(svc(.fwmark(3_000_000_000, .ipv4), "rr"), []))]), "-A -f -1294967296 -s rr\n")
    }
}

final class IPVSJSONTests: XCTestCase {
    /// The fast text renderings are byte-for-byte the generic object renderings.
    func testTextRenderingsEqualObjectRenderings() {
        let services = [
            svc(tcp("10.0.0.1:80"), "wrr"),
            svc(.inet(.udp, ep("[2001:db8::1]:53")), "sh", flags: IPVSFlags.persistent | IPVSFlags.sched2, timeout: 60, netmask: 64),
            svc(.fwmark(7, .ipv4), "mh", flags: IPVSFlags.sched1),
            svc(.inet(.sctp, ep("10.0.0.9:3868")), "na\\\"me\\n"),
        ]
        for s in services {
            XCTAssertEqual(IPVSFormat.serviceJSONText(s).text, IPVSFormat.serviceJSON(s).text)
        }
        for d in [dst("192.168.1.10:8080", w: 5), dst("[2001:db8::9]:0", w: 0, fwd: .route, up: 10, lo: 5)] {
            XCTAssertEqual(IPVSFormat.destJSONText(d).text, IPVSFormat.destJSON(d).text)
        }
    }
}
