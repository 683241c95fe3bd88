import EzlbCore
@testable import EzlbPlanner
import TestSupport
import XCTest

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

final class ManagedChainPlannerTests: XCTestCase {
    let nat4 = XTTableRef(.ipv4, .nat)
    let filter4 = XTTableRef(.ipv4, .filter)

    func snatRule(_ b: String, _ port: UInt16 = 8080, to: String? = "10.0.0.3") -> XTRule {
        XTRule(destination: XTPrefix(ip(b)), proto: .tcp, destinationPort: port, comment: "ezlb:web",
               target: to.map { .snat(ip($0)) } ?? .masquerade)
    }

    func chain(_ rules: [XTRule], position: ManagedChain.Position = .append) -> ManagedChain {
        ManagedChain(ref: nat4, name: "EZLB-SNAT", hook: "POSTROUTING", position: position, rules: rules)
    }

    func emptyNat() -> XTTableState {
        XTTableState(ref: nat4, chains: Dictionary(uniqueKeysWithValues: XTTable.nat.builtinChains.map { ($0, []) }))
    }

    /// Applies a plan the way a backend does, checking libiptc semantics.
    func applied(_ plan: XTTablePlan, to s: XTTableState) throws -> XTTableState {
        var s = s
        for op in plan.operations { try s.apply(op) }
        return s
    }

    let foreign = XTRule(source: XTPrefix(IPAddress("10.9.0.0")!, length: 16), target: .masquerade)

    func testCreateFromEmptyThenConverged() throws {
        let d = chain([snatRule("192.168.1.10"), snatRule("192.168.1.11", to: nil)])
        let p = ManagedChainPlanner.plan(desired: [d], owned: [], actual: emptyNat())
        XTAssertOps(p, [
            .createChain("EZLB-SNAT"),
            .appendRule("EZLB-SNAT", snatRule("192.168.1.10")),
            .appendRule("EZLB-SNAT", snatRule("192.168.1.11", to: nil)),
            .appendRule("POSTROUTING", .jump(to: "EZLB-SNAT")),
        ])
        XCTAssertEqual(p.changes.map(\.text), [
            "+ ip4 -t nat -N EZLB-SNAT",
            "+ ip4 -t nat -A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m comment --comment \"ezlb:web\" -j SNAT --to-source 10.0.0.3",
            "+ ip4 -t nat -A EZLB-SNAT -d 192.168.1.11/32 -p tcp -m tcp --dport 8080 -m comment --comment \"ezlb:web\" -j MASQUERADE",
            "+ ip4 -t nat -A POSTROUTING -j EZLB-SNAT",
        ])
        let after = try applied(p, to: emptyNat())
        XCTAssertEqual(after, p.after)
        let again = ManagedChainPlanner.plan(desired: [d], owned: [d.id], actual: after)
        XCTAssertFalse(again.needsCommit)
        XCTAssertEqual(again.changes, [])
    }

    func testFlushedChainIsRefilledAndStaleRuleRemoved() throws {
        let d = chain([snatRule("192.168.1.10")])
        var actual = emptyNat()
        actual.chains["EZLB-SNAT"] = []
        actual.chains["POSTROUTING"] = [foreign, .jump(to: "EZLB-SNAT")]
        var p = ManagedChainPlanner.plan(desired: [d], owned: [d.id], actual: actual)
        XTAssertOps(p, [.flushChain("EZLB-SNAT"), .appendRule("EZLB-SNAT", snatRule("192.168.1.10"))])
        XCTAssertEqual(p.changes.map(\.kind), [.addRule])

        actual.chains["EZLB-SNAT"] = [snatRule("192.168.1.10"), snatRule("192.168.1.99")]
        p = ManagedChainPlanner.plan(desired: [d], owned: [d.id], actual: actual)
        XCTAssertEqual(p.changes.map(\.kind), [.deleteRule])
        XCTAssertEqual(p.changes[0].rule, snatRule("192.168.1.99"))
        let after = try applied(p, to: actual)
        XCTAssertEqual(after.chains["POSTROUTING"], [foreign, .jump(to: "EZLB-SNAT")], "foreign rule and jump kept in place")
        XCTAssertEqual(after.chains["EZLB-SNAT"], d.rules)
    }

    func testForeignRuleInsideOurChainIsReplaced() throws {
        let d = chain([snatRule("192.168.1.10")])
        var actual = emptyNat()
        actual.chains["EZLB-SNAT"] = [XTRule(target: .other("-j LOG")), snatRule("192.168.1.10")]
        actual.chains["POSTROUTING"] = [.jump(to: "EZLB-SNAT")]
        let p = ManagedChainPlanner.plan(desired: [d], owned: [d.id], actual: actual)
        XCTAssertEqual(p.changes.map(\.text), ["- ip4 -t nat -D EZLB-SNAT -j LOG"])
        XCTAssertEqual(try applied(p, to: actual).chains["EZLB-SNAT"], d.rules)
    }

    func testReorderIsARewrite() {
        let a = snatRule("192.168.1.10"), b = snatRule("192.168.1.11")
        var actual = emptyNat()
        actual.chains["EZLB-SNAT"] = [b, a]
        actual.chains["POSTROUTING"] = [.jump(to: "EZLB-SNAT")]
        let p = ManagedChainPlanner.plan(desired: [chain([a, b])], owned: [], actual: actual)
        XCTAssertTrue(p.needsCommit)
        XCTAssertEqual(p.changes.map(\.kind), [.deleteRule, .deleteRule, .addRule, .addRule])
    }

    func testJumpAtTopIsMovedBackAndDuplicatesDropped() throws {
        let fwd = ManagedChain(ref: filter4, name: "EZLB-FORWARD", hook: "FORWARD", position: .first,
                               rules: [XTRule(ctstate: [.established, .related], comment: "ezlb", target: .accept)])
        let accept = XTRule(target: .accept)
        var actual = XTTableState(ref: filter4, chains: ["INPUT": [], "OUTPUT": [], "EZLB-FORWARD": fwd.rules,
                                                          "FORWARD": [accept, .jump(to: "EZLB-FORWARD"), foreign, .jump(to: "EZLB-FORWARD")]])
        let p = ManagedChainPlanner.plan(desired: [fwd], owned: [fwd.id], actual: actual)
        XTAssertOps(p, [
            .deleteRule("FORWARD", 3, .jump(to: "EZLB-FORWARD")),
            .deleteRule("FORWARD", 1, .jump(to: "EZLB-FORWARD")),
            .insertRule("FORWARD", .jump(to: "EZLB-FORWARD"), 0),
        ])
        XCTAssertEqual(p.changes.last?.text, "+ ip4 -t filter -I FORWARD 1 -j EZLB-FORWARD")
        actual = try applied(p, to: actual)
        XCTAssertEqual(actual.chains["FORWARD"], [.jump(to: "EZLB-FORWARD"), accept, foreign])
        XCTAssertFalse(ManagedChainPlanner.plan(desired: [fwd], owned: [fwd.id], actual: actual).needsCommit)
    }

    func testTwoChainsAtTheTopOfOneHookDoNotFight() throws {
        let a = ManagedChain(ref: filter4, name: "EZLB-A", hook: "FORWARD", position: .first, rules: [XTRule(target: .accept)])
        let b = ManagedChain(ref: filter4, name: "EZLB-B", hook: "FORWARD", position: .first, rules: [XTRule(target: .drop)])
        var s = XTTableState(ref: filter4, chains: ["INPUT": [], "OUTPUT": [], "FORWARD": [foreign]])
        for _ in 0..<2 {
            let p = ManagedChainPlanner.plan(desired: [a, b], owned: [], actual: s)
            s = try applied(p, to: s)
        }
        XCTAssertEqual(s.chains["FORWARD"]?.last, foreign)
        XCTAssertEqual(Set(s.chains["FORWARD"]!.prefix(2)), [a.jump, b.jump])
        XCTAssertFalse(ManagedChainPlanner.plan(desired: [a, b], owned: [], actual: s).needsCommit)
        // A foreign rule slipped in between: the one below it goes back up, the other stays.
        s.chains["FORWARD"]!.insert(foreign, at: 1)
        let p = ManagedChainPlanner.plan(desired: [a, b], owned: [], actual: s)
        XCTAssertEqual(p.changes.filter { $0.kind == .addJump }.count, 1)
        s = try applied(p, to: s)
        XCTAssertEqual(s.chains["FORWARD"]!.suffix(2), [foreign, foreign])
        XCTAssertFalse(ManagedChainPlanner.plan(desired: [a, b], owned: [], actual: s).needsCommit)
    }

    func testAppendJumpAnywhereIsFineButDuplicatesGo() throws {
        let d = chain([snatRule("192.168.1.10")])
        var actual = emptyNat()
        actual.chains["EZLB-SNAT"] = d.rules
        actual.chains["POSTROUTING"] = [.jump(to: "EZLB-SNAT"), foreign]
        XCTAssertFalse(ManagedChainPlanner.plan(desired: [d], owned: [], actual: actual).needsCommit)
        actual.chains["POSTROUTING"] = [.jump(to: "EZLB-SNAT"), foreign, .jump(to: "EZLB-SNAT")]
        let p = ManagedChainPlanner.plan(desired: [d], owned: [], actual: actual)
        XTAssertOps(p, [.deleteRule("POSTROUTING", 2, .jump(to: "EZLB-SNAT"))])
        XCTAssertEqual(try applied(p, to: actual).chains["POSTROUTING"], [.jump(to: "EZLB-SNAT"), foreign])
    }

    func testOwnedChainNoLongerWantedIsRemovedWithItsJumpOnly() throws {
        let d = chain([snatRule("192.168.1.10")])
        let filtered = XTRule(source: XTPrefix(ip("1.2.3.4")), target: .jump("EZLB-SNAT"))
        var actual = emptyNat()
        actual.chains["EZLB-SNAT"] = d.rules
        actual.chains["POSTROUTING"] = [foreign, .jump(to: "EZLB-SNAT")]
        let p = ManagedChainPlanner.plan(desired: [], owned: [d.id], actual: actual)
        XTAssertOps(p, [.deleteRule("POSTROUTING", 1, .jump(to: "EZLB-SNAT")), .flushChain("EZLB-SNAT"), .deleteChain("EZLB-SNAT")])
        XCTAssertEqual(p.changes.map(\.text), [
            "- ip4 -t nat -D POSTROUTING -j EZLB-SNAT",
            "- ip4 -t nat -D EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m comment --comment \"ezlb:web\" -j SNAT --to-source 10.0.0.3",
            "- ip4 -t nat -X EZLB-SNAT",
        ])
        let after = try applied(p, to: actual)
        XCTAssertNil(after.chains["EZLB-SNAT"])
        XCTAssertEqual(after.chains["POSTROUTING"], [foreign])

        // Someone else's jump into our chain (with matches) is not ours: the delete fails like the kernel's.
        actual.chains["POSTROUTING"] = [filtered, .jump(to: "EZLB-SNAT")]
        let p2 = ManagedChainPlanner.plan(desired: [], owned: [d.id], actual: actual)
        XCTAssertThrowsError(try applied(p2, to: actual)) { e in
            XCTAssertEqual((e as? XTError)?.kind, .chainReferenced)
        }
        // Absent chain: nothing to do.
        XCTAssertFalse(ManagedChainPlanner.plan(desired: [], owned: [d.id], actual: emptyNat()).needsCommit)
    }

    func testTableStateSemantics() {
        var s = emptyNat()
        XCTAssertThrowsError(try s.apply(.createChain("POSTROUTING")))
        XCTAssertThrowsError(try s.apply(.createChain(String(repeating: "X", count: 32)))) { XCTAssertEqual(($0 as? XTError)?.kind, .invalidArgument) }
        XCTAssertThrowsError(try s.apply(.appendRule("POSTROUTING", .jump(to: "NOPE")))) { XCTAssertEqual(($0 as? XTError)?.kind, .noSuchChain) }
        XCTAssertThrowsError(try s.apply(.deleteRule("POSTROUTING", 0, foreign))) { XCTAssertEqual(($0 as? XTError)?.kind, .indexTooBig) }
        XCTAssertThrowsError(try s.apply(.deleteChain("POSTROUTING"))) { XCTAssertEqual(($0 as? XTError)?.kind, .builtinChain) }
        XCTAssertNoThrow(try s.apply(.createChain("A")))
        XCTAssertNoThrow(try s.apply(.appendRule("A", foreign)))
        XCTAssertThrowsError(try s.apply(.deleteChain("A"))) { XCTAssertEqual(($0 as? XTError)?.kind, .chainNotEmpty) }
        XCTAssertThrowsError(try s.apply(.insertRule("A", foreign, 5))) { XCTAssertEqual(($0 as? XTError)?.kind, .indexTooBig) }
        XCTAssertThrowsError(try s.apply(.createChain("A"))) { XCTAssertEqual(($0 as? XTError)?.kind, .chainExists) }
    }

    func testSaveSyntax() {
        XCTAssertEqual(XTRule.saveString("ezlb"), "ezlb")
        XCTAssertEqual(XTRule.saveString("ezlb:web"), "\"ezlb:web\"")
        XCTAssertEqual(XTRule.saveString("a \"b\" c\\"), "\"a \\\"b\\\" c\\\\\"")
        XCTAssertEqual(XTRule(ctstate: [.established, .related], comment: "ezlb", target: .accept).save(chain: "EZLB-FORWARD"),
                       "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT")
        XCTAssertEqual(XTRule(source: XTPrefix(ip("2001:db8::10")), proto: .udp, sourcePort: 53, target: .accept).save(chain: "X"),
                       "-A X -s 2001:db8::10/128 -p udp -m udp --sport 53 -j ACCEPT")
        XCTAssertEqual(XTRule.fitComment(String(repeating: "é", count: 200)).utf8.count, 254)
    }

    func testSNATRulesForMixedConfig() {
        let services = [
            FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080"), ep("192.168.1.11:8080")], snatIP: ip("10.0.0.3")),
            FullNATService(name: "dns", key: .inet(.udp, ep("10.0.0.1:53")), backends: [ep("192.168.1.20:53")], snatIP: nil),
            FullNATService(name: "web6", key: .inet(.tcp, ep("[2001:db8::1]:443")), backends: [ep("[2001:db8:1::10]:8443")], snatIP: ip("2001:db8::3")),
            FullNATService(name: "marked", key: .fwmark(7, .ipv4), backends: [ep("192.168.5.10")], snatIP: nil),
        ]
        let chains = SNATRules.chains(services)
        XCTAssertEqual(chains.map { "\($0.ref) \($0.name) <- \($0.hook) \($0.position)" }, [
            "ip4 nat EZLB-SNAT <- POSTROUTING append", "ip4 filter EZLB-FORWARD <- FORWARD first",
            "ip6 nat EZLB-SNAT <- POSTROUTING append", "ip6 filter EZLB-FORWARD <- FORWARD first",
        ])
        // Scoped to the service: conntrack's original destination (VIP, protocol, port), or the mark.
        XCTAssertEqual(chains[0].rules.map { $0.save(chain: "EZLB-SNAT") }, [
            "-A EZLB-SNAT -d 192.168.1.10/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment \"ezlb:web\" -j SNAT --to-source 10.0.0.3",
            "-A EZLB-SNAT -d 192.168.1.11/32 -p tcp -m tcp --dport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment \"ezlb:web\" -j SNAT --to-source 10.0.0.3",
            "-A EZLB-SNAT -d 192.168.1.20/32 -p udp -m udp --dport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment \"ezlb:dns\" -j MASQUERADE",
            "-A EZLB-SNAT -d 192.168.5.10/32 -m mark --mark 0x7 -m comment --comment \"ezlb:marked\" -j MASQUERADE",
        ])
        XCTAssertEqual(chains[1].rules.map { $0.save(chain: "EZLB-FORWARD") }, [
            "-A EZLB-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment ezlb -j ACCEPT",
            "-A EZLB-FORWARD -s 192.168.1.10/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment \"ezlb:web\" -j ACCEPT",
            "-A EZLB-FORWARD -s 192.168.1.11/32 -p tcp -m tcp --sport 8080 -m conntrack --ctproto 6 --ctorigdst 10.0.0.1 --ctorigdstport 80 -m comment --comment \"ezlb:web\" -j ACCEPT",
            "-A EZLB-FORWARD -s 192.168.1.20/32 -p udp -m udp --sport 53 -m conntrack --ctproto 17 --ctorigdst 10.0.0.1 --ctorigdstport 53 -m comment --comment \"ezlb:dns\" -j ACCEPT",
            "-A EZLB-FORWARD -s 192.168.5.10/32 -m comment --comment \"ezlb:marked\" -j ACCEPT",
        ])
        XCTAssertEqual(chains[2].rules, [XTRule(destination: XTPrefix(ip("2001:db8:1::10")), proto: .tcp, destinationPort: 8443,
                                                ctOrigin: XTConntrackOrigin(proto: .tcp, address: ip("2001:db8::1"), port: 443),
                                                comment: "ezlb:web6", target: .snat(ip("2001:db8::3")))])
        XCTAssertEqual(SNATRules.chains([]), [])
        // IPv4 only: no IPv6 chains at all.
        XCTAssertEqual(SNATRules.chains(Array(services.prefix(1))).count, 2)
    }

    struct SorryServer: BackendHealthView {
        func isHealthy(service: String, backend: Endpoint) -> Bool { true }
        func extraBackends(service: String) -> [Endpoint] { [try! Endpoint.parse("192.168.1.10:8080").get()] }
    }

    /// One rule per distinct rule, in first-seen order: a backend listed twice, a sorry
    /// server (used by every service here) that is also a backend, and two long service
    /// names whose comments are cut to the same 255 bytes; backends shared by services
    /// with other names keep a rule each.
    func testSNATRulesSkipRepeatedRulesOnly() {
        let long = String(repeating: "x", count: 300)
        let services = [
            FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080"), ep("192.168.1.11:8080"), ep("192.168.1.10:8080")], snatIP: nil),
            FullNATService(name: "api", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080")], snatIP: nil),
            FullNATService(name: long + "a", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.12:8080")], snatIP: nil),
            FullNATService(name: long + "b", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.12:8080")], snatIP: nil),
        ]
        let c = SNATRules.chains(services, health: SorryServer())
        let cut = SNATRules.comment(long + "a")
        XCTAssertEqual(cut, SNATRules.comment(long + "b"))
        XCTAssertEqual(c[0].rules.map { "\($0.destination!.address) \($0.comment!)" },
                       ["192.168.1.10 ezlb:web", "192.168.1.11 ezlb:web", "192.168.1.10 ezlb:api", "192.168.1.12 \(cut)", "192.168.1.10 \(cut)"])
        XCTAssertEqual(c[1].rules.map { $0.source.map { "\($0.address)" } ?? "-" }, ["-", "192.168.1.10", "192.168.1.11", "192.168.1.10", "192.168.1.12", "192.168.1.10"])
        // The full hash tells apart what the cheap one lumps together (same addresses, ports, comment length).
        let a = XTRule(destination: XTPrefix(ip("192.168.1.10")), proto: .tcp, destinationPort: 80, comment: "ezlb:aaa", target: .masquerade)
        var b = a
        b.comment = "ezlb:bbb"
        XCTAssertEqual(a.hashValue, b.hashValue)
        XCTAssertNotEqual(a.fullHash, b.fullHash)
        XCTAssertEqual(a.fullHash, XTRule(destination: XTPrefix(ip("192.168.1.10")), proto: .tcp, destinationPort: 80, comment: "ezlb:aaa", target: .masquerade).fullHash)
    }

    /// The simulated table a plan leaves (`after`) is what applying its operations one by
    /// one gives, also when the simulation refuses some appends (a bad interface name).
    func testAfterMatchesOperationsAppliedOneByOne() throws {
        var bad = snatRule("192.168.1.12")
        bad.outInterface = XTInterface("name-far-too-long-for-linux")
        for rules in [[snatRule("192.168.1.10"), snatRule("192.168.1.11")], [snatRule("192.168.1.10"), bad, snatRule("192.168.1.11")]] {
            for actual in [emptyNat(), try applied(ManagedChainPlanner.plan(desired: [chain([snatRule("192.168.9.9")])], owned: [], actual: emptyNat()), to: emptyNat())] {
                let p = ManagedChainPlanner.plan(desired: [chain(rules)], owned: [], actual: actual)
                var oneByOne = actual
                for op in p.operations { try? oneByOne.apply(op) }
                XCTAssertEqual(oneByOne, p.after)
            }
        }
    }

    struct NoneHealthy: BackendHealthView {
        func isHealthy(service: String, backend: Endpoint) -> Bool { backend.port != 8080 }
    }

    func testHealthViewFiltersBackends() {
        let s = [FullNATService(name: "web", key: .inet(.tcp, ep("10.0.0.1:80")), backends: [ep("192.168.1.10:8080"), ep("192.168.1.12:9090")], snatIP: nil)]
        let c = SNATRules.chains(s, health: NoneHealthy())
        XCTAssertEqual(c[0].rules.map { $0.destination?.address.description }, ["192.168.1.12"])
    }

    /// Random kernel states (foreign rules anywhere, pieces of ours, duplicates, a
    /// missing chain): one plan always converges, keeps foreign rules in order, and
    /// a second plan is empty.
    func testPropertyConvergesAndPreservesForeignRules() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let pool = (0..<6).map { snatRule("192.168.1.\(10 + $0)", to: $0 % 2 == 0 ? "10.0.0.3" : nil) }
        let foreigns = (0..<4).map { XTRule(source: XTPrefix(ip("10.\($0).0.0"), length: 16), target: .other("-j LOG \($0)")) }
        for _ in 0..<400 {
            let desiredRules = pool.filter { _ in Bool.random(using: &rng) }
            let position: ManagedChain.Position = Bool.random(using: &rng) ? .first : .append
            let d = chain(desiredRules, position: position)
            var actual = emptyNat()
            if Bool.random(using: &rng) {
                actual.chains["EZLB-SNAT"] = (0..<Int.random(in: 0...5, using: &rng)).map { _ in
                    Bool.random(using: &rng) ? pool.randomElement(using: &rng)! : foreigns.randomElement(using: &rng)!
                }
            }
            var post: [XTRule] = (0..<Int.random(in: 0...4, using: &rng)).map { _ in foreigns.randomElement(using: &rng)! }
            if actual.chains["EZLB-SNAT"] != nil {
                for _ in 0..<Int.random(in: 0...2, using: &rng) { post.insert(.jump(to: "EZLB-SNAT"), at: Int.random(in: 0...post.count, using: &rng)) }
            }
            actual.chains["POSTROUTING"] = post
            let want = desiredRules.isEmpty && Bool.random(using: &rng) ? [] : [d]
            let p = ManagedChainPlanner.plan(desired: want, owned: [d.id], actual: actual)
            let after = try applied(p, to: actual)
            XCTAssertEqual(after, p.after)
            XCTAssertEqual(after.chains["POSTROUTING"]?.filter { $0 != .jump(to: "EZLB-SNAT") }, post.filter { $0 != .jump(to: "EZLB-SNAT") })
            if want.isEmpty {
                XCTAssertNil(after.chains["EZLB-SNAT"])
            } else {
                XCTAssertEqual(after.chains["EZLB-SNAT"], desiredRules)
                let jumps = after.chains["POSTROUTING"]!.indices.filter { after.chains["POSTROUTING"]![$0] == .jump(to: "EZLB-SNAT") }
                XCTAssertEqual(jumps.count, 1)
                if position == .first { XCTAssertEqual(jumps, [0]) }
            }
            let again = ManagedChainPlanner.plan(desired: want, owned: [d.id], actual: after)
            XCTAssertFalse(again.needsCommit, "\(again.operations)")
        }
    }
}


func XTAssertOps(_ p: XTTablePlan, _ ops: [XTOperation], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(p.operations.map { $0.description(in: p.ref) }, ops.map { $0.description(in: p.ref) }, file: file, line: line)
}
