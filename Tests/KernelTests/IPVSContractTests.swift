import EzlbCore
import EzlbState
import Foundation
import Kernel
import XCTest

/// The IPVS backend contract, run against every backend: the fake always, the
/// kernel (netlink) when `EZLB_CONTRACT_BACKEND=kernel`. The base class has the
/// checks; each subclass provides the backend and lists every check as a test
/// (Linux XCTest discovery does not see inherited test methods, so a new check
/// needs a `testX` line in each subclass: `testEveryCheckIsListed` guards that).
///
/// Every test starts from an empty table and leaves it empty: it deletes what it adds.
class IPVSContractTests: XCTestCase {
    /// The backend under test; nil in this abstract base class.
    func makeBackend() throws -> IPVSBackend? { nil }

    private(set) var backend: IPVSBackend!
    /// Services this test may have created, deleted in tearDown.
    private var made: Set<ServiceKey> = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard let b = try makeBackend() else { throw XCTSkip("abstract contract suite: runs in its subclasses") }
        backend = b
        let existing = try b.dump()
        XCTAssertEqual(existing, [], "the IPVS table must be empty before a contract test")
    }

    override func tearDownWithError() throws {
        if let b = backend {
            let left = try b.dump()
            for s in left where made.contains(s.key) {
                try b.deleteService(s.key)
            }
            XCTAssertEqual(try b.dump(), [], "a contract test must leave the IPVS table empty")
            try b.commit()
        }
        backend = nil
        made = []
        try super.tearDownWithError()
    }

    // MARK: - Helpers

    static func ep(_ text: String) -> Endpoint {
        guard case .success(let e) = Endpoint.parse(text, portOptional: true) else { fatalError("bad endpoint \(text)") }
        return e
    }

    static func tcp(_ text: String) -> ServiceKey { .inet(.tcp, ep(text)) }

    func remember(_ key: ServiceKey) { made.insert(key) }

    /// Adds the services and their destinations one call at a time.
    func add(_ states: [IPVSServiceState], file: StaticString = #filePath, line: UInt = #line) throws {
        for st in states {
            remember(st.key)
            try backend.addService(st.service)
            for d in st.destinations { try backend.addDestination(st.key, d) }
        }
    }

    func canonical(_ states: [IPVSServiceState]) -> [IPVSServiceState] {
        states.map { st in
            IPVSServiceState(service: st.service.normalized,
                             destinations: st.destinations.sorted { $0.endpoint < $1.endpoint })
        }.sorted { $0.key < $1.key }
    }

    /// The dump equals `expected`, ignoring order and fields ezlb does not manage.
    func assertTable(_ expected: [IPVSServiceState], file: StaticString = #filePath, line: UInt = #line) throws {
        let got = canonical(try backend.dump())
        let want = canonical(expected)
        if got != want {
            XCTFail("IPVS table differs\n  want: \(want)\n  got:  \(got)", file: file, line: line)
        }
    }

    func assertError(_ kind: IPVSError.Kind, _ op: IPVSOperation, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try backend.execute(op)
            XCTFail("\(op.operationName) succeeded, expected \(kind)", file: file, line: line)
        } catch let e as IPVSError {
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            XCTAssertEqual(e.operation, op.operationName, file: file, line: line)
        } catch {
            XCTFail("\(op.operationName): unexpected \(error)", file: file, line: line)
        }
    }

    func dests(_ addrs: [String], weight: UInt32 = 1, forward: ForwardMethod = .masq) -> [RealServer] {
        addrs.map { RealServer(endpoint: Self.ep($0), weight: weight, forward: forward) }
    }

    // MARK: - Round trips

    func checkInetServicesRoundTrip() throws {
        var states: [IPVSServiceState] = []
        for proto in IPVSProtocol.allCases {
            states.append(IPVSServiceState(
                service: VirtualService(key: .inet(proto, Self.ep("10.10.0.1:80")), scheduler: "wlc"),
                destinations: dests(["10.20.0.1:8080", "10.20.0.2:8080"], weight: 3)))
            states.append(IPVSServiceState(
                service: VirtualService(key: .inet(proto, Self.ep("[2001:db8::1]:443")), scheduler: "rr"),
                destinations: dests(["[2001:db8:1::1]:8443", "[2001:db8:1::2]:8443"], weight: 2)))
        }
        try add(states)
        try assertTable(states)
    }

    func checkFwmarkServicesRoundTrip() throws {
        let states = [
            IPVSServiceState(service: VirtualService(key: .fwmark(7, .ipv4), scheduler: "rr"),
                             destinations: dests(["10.30.0.1", "10.30.0.2:80"], forward: .route)),
            IPVSServiceState(service: VirtualService(key: .fwmark(7, .ipv6), scheduler: "lc"),
                             destinations: dests(["2001:db8:2::1"], forward: .route)),
            IPVSServiceState(service: VirtualService(key: .fwmark(0xFFFF_FFFF, .ipv4), scheduler: "wrr"),
                             destinations: dests(["10.30.0.3:443"])),
        ]
        try add(states)
        try assertTable(states)
    }

    /// Whether the backend has this scheduler (the kernel may be older than it: twos is 6.7+).
    func hasScheduler(_ s: Scheduler) -> Bool { true }

    func checkEveryScheduler() throws {
        XCTAssertEqual(Scheduler.allCases.count, 14)
        var states: [IPVSServiceState] = []
        for (i, sched) in Scheduler.allCases.enumerated() {
            let st = IPVSServiceState(service: VirtualService(key: Self.tcp("10.11.0.\(i + 1):80"), scheduler: sched.rawValue),
                                      destinations: dests(["10.21.0.\(i + 1):80"]))
            if hasScheduler(sched) {
                states.append(st)
            } else {
                remember(st.key)
                assertError(.schedulerNotFound, .addService(st.service))
            }
        }
        XCTAssertGreaterThanOrEqual(states.count, 13)
        try add(states)
        try assertTable(states)
    }

    func checkSchedulerFlags() throws {
        let states = [
            IPVSServiceState(service: VirtualService(key: Self.tcp("10.12.0.1:80"), scheduler: "sh",
                                                     flags: SchedulerFlag.shFallback.bit | SchedulerFlag.shPort.bit),
                             destinations: dests(["10.22.0.1:80"])),
            IPVSServiceState(service: VirtualService(key: Self.tcp("10.12.0.2:80"), scheduler: "sh",
                                                     flags: SchedulerFlag.shPort.bit),
                             destinations: []),
            IPVSServiceState(service: VirtualService(key: Self.tcp("10.12.0.3:80"), scheduler: "mh",
                                                     flags: SchedulerFlag.mhFallback.bit | SchedulerFlag.mhPort.bit),
                             destinations: dests(["10.22.0.3:80"])),
            IPVSServiceState(service: VirtualService(key: .inet(.udp, Self.ep("10.12.0.4:53")), scheduler: "rr",
                                                     flags: IPVSFlags.onePacket),
                             destinations: []),
        ]
        try add(states)
        try assertTable(states)
        let dumped = try backend.dump().first { $0.key == Self.tcp("10.12.0.1:80") }
        XCTAssertEqual(dumped?.service.schedulerFlags, [.shFallback, .shPort])
    }

    func checkPersistence() throws {
        let states = [
            IPVSServiceState(service: VirtualService(key: Self.tcp("10.13.0.1:443"), scheduler: "wlc",
                                                     flags: IPVSFlags.persistent, timeout: 600, netmask: 0xFFFF_FF00),
                             destinations: dests(["10.23.0.1:443"])),
            IPVSServiceState(service: VirtualService(key: Self.tcp("10.13.0.2:443"), scheduler: "rr",
                                                     flags: IPVSFlags.persistent, timeout: 300),
                             destinations: []),
            IPVSServiceState(service: VirtualService(key: Self.tcp("[2001:db8::13]:443"), scheduler: "wlc",
                                                     flags: IPVSFlags.persistent, timeout: 3600, netmask: 64),
                             destinations: dests(["[2001:db8:23::1]:443"])),
            IPVSServiceState(service: VirtualService(key: .fwmark(13, .ipv4), scheduler: "rr",
                                                     flags: IPVSFlags.persistent, timeout: 60, netmask: 0xFFFF_0000),
                             destinations: []),
        ]
        try add(states)
        try assertTable(states)
        let dump = try backend.dump()
        let v4 = dump.first { $0.key == Self.tcp("10.13.0.1:443") }?.service
        XCTAssertEqual(v4?.netmaskText, "255.255.255.0")
        XCTAssertEqual(v4?.timeout, 600)
        XCTAssertTrue(v4?.isPersistent ?? false)
        let v6 = dump.first { $0.key == Self.tcp("[2001:db8::13]:443") }?.service
        XCTAssertEqual(v6?.netmask, 64)
        XCTAssertEqual(v6?.netmaskText, "64")
    }

    func checkForwardMethods() throws {
        let key = Self.tcp("10.14.0.1:80")
        let ds = [
            RealServer(endpoint: Self.ep("10.24.0.1:80"), forward: .masq),
            RealServer(endpoint: Self.ep("10.24.0.2:80"), forward: .route),
            RealServer(endpoint: Self.ep("10.24.0.3:80"), forward: .tunnel),
        ]
        let states = [IPVSServiceState(service: VirtualService(key: key, scheduler: "rr"), destinations: ds)]
        try add(states)
        try assertTable(states)
        let got = try backend.dump().first?.destinations.map(\.forward).sorted { $0.rawValue < $1.rawValue }
        XCTAssertEqual(got, [.masq, .route, .tunnel])
    }

    func checkWeightsAndThresholds() throws {
        let key = Self.tcp("10.15.0.1:80")
        let ds = [
            RealServer(endpoint: Self.ep("10.25.0.1:80"), weight: 0),
            RealServer(endpoint: Self.ep("10.25.0.2:80"), weight: 65535),
            RealServer(endpoint: Self.ep("10.25.0.3:80"), weight: 5, upperThreshold: 1000, lowerThreshold: 100),
            RealServer(endpoint: Self.ep("10.25.0.4:80"), weight: 1, upperThreshold: 50, lowerThreshold: 0),
        ]
        let states = [IPVSServiceState(service: VirtualService(key: key, scheduler: "wrr"), destinations: ds)]
        try add(states)
        try assertTable(states)
    }

    // MARK: - Updates

    func checkUpdateService() throws {
        let key = Self.tcp("10.16.0.1:80")
        var s = VirtualService(key: key, scheduler: "rr")
        let ds = dests(["10.26.0.1:80", "10.26.0.2:80"])
        try add([IPVSServiceState(service: s, destinations: ds)])

        s.scheduler = "wlc"
        try backend.updateService(s)
        try assertTable([IPVSServiceState(service: s, destinations: ds)])

        s = VirtualService(key: key, scheduler: "sh", flags: IPVSFlags.persistent | SchedulerFlag.shPort.bit,
                           timeout: 900, netmask: 0xFFFF_FF00)
        try backend.updateService(s)
        try assertTable([IPVSServiceState(service: s, destinations: ds)])

        s = VirtualService(key: key, scheduler: "sh")
        try backend.updateService(s)
        try assertTable([IPVSServiceState(service: s, destinations: ds)])
        let dumped = try backend.dump().first?.service
        XCTAssertEqual(dumped?.flags, 0)
        XCTAssertEqual(dumped?.timeout, 0)
    }

    func checkUpdateIPv6ServicePrefix() throws {
        let key = Self.tcp("[2001:db8::16]:80")
        var s = VirtualService(key: key, scheduler: "rr", flags: IPVSFlags.persistent, timeout: 300, netmask: 128)
        try add([IPVSServiceState(service: s, destinations: [])])
        s.netmask = 48
        try backend.updateService(s)
        try assertTable([IPVSServiceState(service: s, destinations: [])])
    }

    func checkUpdateDestination() throws {
        let key = Self.tcp("10.17.0.1:80")
        let svc = VirtualService(key: key, scheduler: "wlc")
        var d = RealServer(endpoint: Self.ep("10.27.0.1:80"), weight: 1)
        let other = RealServer(endpoint: Self.ep("10.27.0.2:80"), weight: 7)
        try add([IPVSServiceState(service: svc, destinations: [d, other])])

        d.weight = 42
        try backend.updateDestination(key, d)
        try assertTable([IPVSServiceState(service: svc, destinations: [d, other])])

        d.forward = .route
        try backend.updateDestination(key, d)
        try assertTable([IPVSServiceState(service: svc, destinations: [d, other])])

        d.forward = .tunnel
        d.upperThreshold = 500
        d.lowerThreshold = 250
        try backend.updateDestination(key, d)
        try assertTable([IPVSServiceState(service: svc, destinations: [d, other])])

        d.weight = 0
        d.forward = .masq
        d.upperThreshold = 0
        d.lowerThreshold = 0
        try backend.updateDestination(key, d)
        try assertTable([IPVSServiceState(service: svc, destinations: [d, other])])

        try backend.deleteDestination(key, other.endpoint)
        try assertTable([IPVSServiceState(service: svc, destinations: [d])])
    }

    // MARK: - Errors

    func checkErrors() throws {
        let key = Self.tcp("10.18.0.1:80")
        let svc = VirtualService(key: key, scheduler: "rr")
        let d = RealServer(endpoint: Self.ep("10.28.0.1:80"))
        try add([IPVSServiceState(service: svc, destinations: [d])])
        let missing = Self.tcp("10.18.0.2:80")
        let missingDest = RealServer(endpoint: Self.ep("10.28.0.9:80"))

        assertError(.serviceExists, .addService(svc))
        assertError(.serviceExists, .addService(VirtualService(key: key, scheduler: "wlc")))
        assertError(.serviceNotFound, .deleteService(VirtualService(key: missing, scheduler: "rr")))
        assertError(.serviceNotFound, .deleteService(VirtualService(key: .fwmark(99, .ipv4), scheduler: "rr")))
        assertError(.serviceNotFound, .updateService(from: svc, to: VirtualService(key: missing, scheduler: "rr")))
        assertError(.serviceNotFound, .addDestination(missing, d))
        assertError(.serviceNotFound, .deleteDestination(missing, d))
        assertError(.destinationExists, .addDestination(key, d))
        assertError(.destinationExists, .addDestination(key, RealServer(endpoint: d.endpoint, weight: 9, forward: .route)))
        assertError(.destinationNotFound, .updateDestination(key, from: missingDest, to: missingDest))
        assertError(.destinationNotFound, .deleteDestination(key, missingDest))
        // Same address, other port: another destination.
        assertError(.destinationNotFound, .deleteDestination(key, RealServer(endpoint: Self.ep("10.28.0.1:81"))))

        let bad = VirtualService(key: Self.tcp("10.18.0.3:80"), scheduler: "nope")
        remember(bad.key)
        assertError(.schedulerNotFound, .addService(bad))
        assertError(.schedulerNotFound, .updateService(from: svc, to: VirtualService(key: key, scheduler: "nope")))

        // Invalid arguments.
        assertError(.invalidArgument, .addDestination(key, RealServer(endpoint: Self.ep("10.28.0.2:80"),
                                                                      upperThreshold: 10, lowerThreshold: 20)))
        assertError(.invalidArgument, .addDestination(key, RealServer(endpoint: Self.ep("10.28.0.3:80"),
                                                                      weight: UInt32(Int32.max) + 1)))
        assertError(.invalidArgument, .addDestination(key, RealServer(endpoint: Self.ep("[2001:db8::28]:80"))))
        let v6 = VirtualService(key: Self.tcp("[2001:db8::18]:80"), scheduler: "rr",
                                flags: IPVSFlags.persistent, timeout: 60, netmask: 0)
        remember(v6.key)
        assertError(.invalidArgument, .addService(v6))
        let mark0 = VirtualService(key: .fwmark(0, .ipv4), scheduler: "rr")
        remember(mark0.key)
        assertError(.invalidArgument, .addService(mark0))

        // Nothing above changed the table.
        try assertTable([IPVSServiceState(service: svc, destinations: [d])])
    }

    func checkMixedFamilyTunnelDestination() throws {
        let key = Self.tcp("10.19.0.1:80")
        let svc = VirtualService(key: key, scheduler: "rr")
        let d = RealServer(endpoint: Self.ep("[2001:db8:29::1]:80"), forward: .tunnel)
        try add([IPVSServiceState(service: svc, destinations: [d])])
        try assertTable([IPVSServiceState(service: svc, destinations: [d])])
    }

    // MARK: - Batches

    func checkApplyReportsTheFailingOperationOnly() throws {
        let a = VirtualService(key: Self.tcp("10.40.0.1:80"), scheduler: "rr")
        let b = VirtualService(key: Self.tcp("10.40.0.2:80"), scheduler: "wlc")
        let d1 = RealServer(endpoint: Self.ep("10.41.0.1:80"))
        let d2 = RealServer(endpoint: Self.ep("10.41.0.2:80"), weight: 3)
        remember(a.key)
        remember(b.key)
        let ops: [IPVSOperation] = [
            .addService(a),
            .addDestination(a.key, d1),
            .addService(a),                      // fails: exists
            .addDestination(a.key, d2),
            .deleteDestination(b.key, d1),       // fails: no such service (yet)
            .addService(b),
            .addDestination(b.key, d1),
            .updateDestination(a.key, from: d2, to: RealServer(endpoint: Self.ep("10.41.0.9:80"))),  // fails
        ]
        let errors = backend.apply(ops)
        XCTAssertEqual(errors.count, ops.count)
        XCTAssertEqual(errors.map { $0?.kind }, [nil, nil, .serviceExists, nil, .serviceNotFound, nil, nil, .destinationNotFound])
        XCTAssertEqual(errors[2]?.operation, ops[2].operationName)
        XCTAssertEqual(errors[4]?.operation, ops[4].operationName)
        XCTAssertEqual(errors[7]?.operation, ops[7].operationName)
        try assertTable([
            IPVSServiceState(service: a, destinations: [d1, d2]),
            IPVSServiceState(service: b, destinations: [d1]),
        ])
        XCTAssertEqual(backend.apply([]), [])
    }

    func checkBigBatchRoundTrip() throws {
        var states: [IPVSServiceState] = []
        var ops: [IPVSOperation] = []
        for i in 0..<500 {
            let key: ServiceKey = i % 5 == 4
                ? .inet(.udp, Self.ep("[2001:db8:50::\(String(i, radix: 16))]:53"))
                : Self.tcp("10.50.\(i / 250).\(i % 250 + 1):\(80 + i % 3)")
            let svc = VirtualService(key: key, scheduler: i % 2 == 0 ? "wlc" : "rr")
            let ds = (0..<4).map { j -> RealServer in
                let addr = key.family == .ipv4 ? "10.51.\(i / 250).\(i % 250 + 1)" : "[2001:db8:51::\(String(i, radix: 16)):\(j + 1)]"
                return RealServer(endpoint: Self.ep(key.family == .ipv4 ? "\(addr):\(8000 + j)" : "\(addr):8000"),
                                  weight: UInt32(j + 1))
            }
            states.append(IPVSServiceState(service: svc, destinations: ds))
            remember(key)
            ops.append(.addService(svc))
            ops += ds.map { .addDestination(key, $0) }
        }
        let errors = backend.apply(ops)
        XCTAssertEqual(errors.compactMap { $0 }, [])
        try assertTable(states)
        let deletes = backend.apply(states.map { .deleteService($0.service) })
        XCTAssertEqual(deletes.compactMap { $0 }, [])
        try assertTable([])
    }
}

/// The contract on the fake kernel, in a temporary state directory.
final class FakeIPVSContractTests: IPVSContractTests {
    private var dir: String?
    private var kernel: FakeKernel?

    override func makeBackend() throws -> IPVSBackend? {
        let path = NSTemporaryDirectory() + "ezlb-ipvs-contract-\(UUID().uuidString)"
        dir = path
        let k = try FakeKernel(dir: StateDirectory(path: path))
        kernel = k
        return FakeIPVS(kernel: k)
    }

    func testInetServicesRoundTrip() throws { try checkInetServicesRoundTrip() }
    func testFwmarkServicesRoundTrip() throws { try checkFwmarkServicesRoundTrip() }
    func testEveryScheduler() throws { try checkEveryScheduler() }
    func testSchedulerFlags() throws { try checkSchedulerFlags() }
    func testPersistence() throws { try checkPersistence() }
    func testForwardMethods() throws { try checkForwardMethods() }
    func testWeightsAndThresholds() throws { try checkWeightsAndThresholds() }
    func testUpdateService() throws { try checkUpdateService() }
    func testUpdateIPv6ServicePrefix() throws { try checkUpdateIPv6ServicePrefix() }
    func testUpdateDestination() throws { try checkUpdateDestination() }
    func testErrors() throws { try checkErrors() }
    func testMixedFamilyTunnelDestination() throws { try checkMixedFamilyTunnelDestination() }
    func testApplyReportsTheFailingOperationOnly() throws { try checkApplyReportsTheFailingOperationOnly() }
    func testBigBatchRoundTrip() throws { try checkBigBatchRoundTrip() }

    /// Every `checkX` of the contract is listed as `testX` in both subclasses.
    func testEveryCheckIsListed() throws {
        guard let source = try? String(contentsOfFile: "\(#filePath)", encoding: .utf8) else {
            throw XCTSkip("source not available")
        }
        let checks = source.components(separatedBy: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("func check"), let paren = t.firstIndex(of: "(") else { return nil }
            return String(t[t.index(t.startIndex, offsetBy: 10)..<paren])
        }
        XCTAssertGreaterThan(checks.count, 10)
        for name in checks {
            let listed = source.components(separatedBy: "func test\(name)() throws { try check\(name)() }").count - 1
            XCTAssertEqual(listed, 2, "check\(name) must be listed as test\(name) in both subclasses")
        }
    }

    override func tearDownWithError() throws {
        try super.tearDownWithError()
        kernel = nil
        if let dir { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// The contract on the running kernel over netlink. Runs only with
/// `EZLB_CONTRACT_BACKEND=kernel`, on a machine dedicated to the test (a VM):
/// the first test deletes every IPVS service it finds.
final class KernelIPVSContractTests: IPVSContractTests {
    nonisolated(unsafe) private static var cleaned = false

    override func makeBackend() throws -> IPVSBackend? {
        guard ProcessInfo.processInfo.environment["EZLB_CONTRACT_BACKEND"] == "kernel" else {
            throw XCTSkip("kernel IPVS contract: set EZLB_CONTRACT_BACKEND=kernel (needs ip_vs and CAP_NET_ADMIN, in a dedicated VM)")
        }
        let b = try NetlinkIPVS()
        if !Self.cleaned {
            // The VM is dedicated to this suite: start from an empty table.
            for s in try b.dump() { try b.deleteService(s.key) }
            Self.cleaned = true
        }
        return b
    }

    /// A scheduler exists when its module (ip_vs_<name>) is built in or installed for the running kernel.
    override func hasScheduler(_ s: Scheduler) -> Bool {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        let dir = "/lib/modules/\(release)/"
        let index = ["modules.dep", "modules.builtin"].compactMap { try? String(contentsOfFile: dir + $0, encoding: .utf8) }
        guard !index.isEmpty else { return true }  // cannot tell: expect it
        return index.contains { $0.contains("/ip_vs_\(s.rawValue).ko") }
    }

    // MARK: - Kernel only: cross-checks with ipvsadm, benchmark

    private static let ipvsadmPath = ["/usr/sbin/ipvsadm", "/sbin/ipvsadm", "/usr/bin/ipvsadm"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    @discardableResult
    private func ipvsadm(_ args: [String], input: String? = nil) throws -> String {
        guard let path = Self.ipvsadmPath else { throw XCTSkip("ipvsadm not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        if input != nil { p.standardInput = inPipe }
        try p.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw IPVSError(.other, operation: "ipvsadm \(args.joined(separator: " "))", detail: text)
        }
        return text
    }

    private func ipvsadmRules() throws -> [String] {
        try ipvsadm(["-S", "-n"]).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.sorted()
    }

    /// The sockopt fast path for IPv4 destinations and the netlink dumps read the same table,
    /// including what only netlink can show (IPv6 tunnel destinations of IPv4 services).
    func testDumpPathsAgree() throws {
        let nl = try XCTUnwrap(backend as? NetlinkIPVS)
        var states: [IPVSServiceState] = []
        for (i, key) in [Self.tcp("10.70.0.1:80"), .inet(.udp, Self.ep("10.70.0.1:53")), .inet(.sctp, Self.ep("10.70.0.2:9")),
                         .fwmark(70, .ipv4), .fwmark(71, .ipv6), Self.tcp("[2001:db8:70::1]:80")].enumerated() {
            let v4 = key.family == .ipv4
            let methods: [ForwardMethod] = [.masq, .route, .tunnel]
            var ds: [RealServer] = []
            for j in 0..<i {
                let text: String = v4 ? "10.71.\(i).\(j + 1):\(8000 + j)" : "[2001:db8:71::\(i):\(j + 1)]:\(8000 + j)"
                ds.append(RealServer(endpoint: Self.ep(text), weight: UInt32(j * 100), forward: methods[j % 3],
                                     upperThreshold: UInt32(j * 10), lowerThreshold: UInt32(j)))
            }
            if key == Self.tcp("10.70.0.1:80") {
                ds.append(RealServer(endpoint: Self.ep("[2001:db8:72::1]:80"), forward: .tunnel))
            }
            states.append(IPVSServiceState(
                service: VirtualService(key: key, scheduler: "wrr", flags: i % 2 == 0 ? IPVSFlags.persistent : 0,
                                        timeout: i % 2 == 0 ? 100 : 0, netmask: i % 2 == 0 && v4 ? 0xFFFF_FFF0 : nil),
                destinations: ds))
        }
        try add(states)
        nl.ipv4SockoptFastPath = true
        let fast = try nl.dump()
        nl.ipv4SockoptFastPath = false
        let slow = try nl.dump()
        nl.ipv4SockoptFastPath = true
        XCTAssertEqual(canonical(fast), canonical(states))
        XCTAssertEqual(canonical(slow), canonical(states))
    }

    /// What ezlb writes, ipvsadm reads back as the same rules.
    func testIpvsadmReadsWhatWeWrite() throws {
        let a = Self.tcp("10.60.0.1:80")
        let b = ServiceKey.inet(.udp, Self.ep("[2001:db8:60::1]:53"))
        let states = [
            IPVSServiceState(service: VirtualService(key: a, scheduler: "wlc", flags: IPVSFlags.persistent,
                                                     timeout: 300, netmask: 0xFFFF_FF00),
                             destinations: [RealServer(endpoint: Self.ep("10.61.0.1:8080"), weight: 3,
                                                       upperThreshold: 100, lowerThreshold: 10),
                                            RealServer(endpoint: Self.ep("10.61.0.2:80"), weight: 0, forward: .route)]),
            IPVSServiceState(service: VirtualService(key: b, scheduler: "rr", flags: IPVSFlags.persistent,
                                                     timeout: 60, netmask: 64),
                             destinations: [RealServer(endpoint: Self.ep("[2001:db8:61::1]:53"), weight: 65535,
                                                       forward: .tunnel)]),
            IPVSServiceState(service: VirtualService(key: .fwmark(60, .ipv4), scheduler: "sh"),
                             destinations: [RealServer(endpoint: Self.ep("10.61.0.3"), weight: 2, forward: .route)]),
        ]
        try add(states)
        let rules = try ipvsadmRules()
        let expected = [
            "-A -t 10.60.0.1:80 -s wlc -p 300 -M 255.255.255.0",
            "-a -t 10.60.0.1:80 -r 10.61.0.1:8080 -m -w 3",
            "-a -t 10.60.0.1:80 -r 10.61.0.2:80 -g -w 0",
            "-A -u [2001:db8:60::1]:53 -s rr -p 60 -M 64",
            "-a -u [2001:db8:60::1]:53 -r [2001:db8:61::1]:53 -i -w 65535",
            "-A -f 60 -s sh",
            "-a -f 60 -r 10.61.0.3:0 -g -w 2",
        ]
        for line in expected {
            // Newer ipvsadm appends tunnel options (--tun-type ipip) to -i rules.
            XCTAssertTrue(rules.contains { $0 == line || $0.hasPrefix(line + " --tun") }, "ipvsadm -S -n lacks '\(line)':\n\(rules.joined(separator: "\n"))")
        }
        XCTAssertEqual(rules.count, expected.count, rules.joined(separator: "\n"))
        // -S has no thresholds; the listing does: "-> 10.61.0.1:8080  100  10  0  0".
        let listing = try ipvsadm(["-L", "-n", "--thresholds", "-t", "10.60.0.1:80"])
        let row = listing.split(separator: "\n").first { $0.contains("10.61.0.1:8080") }
            .map { $0.split(separator: " ").map(String.init) } ?? []
        XCTAssertEqual(Array(row.dropFirst(2).prefix(2)), ["100", "10"], listing)
    }

    /// What ipvsadm writes, ezlb's dump reads as the same objects.
    func testWeReadWhatIpvsadmWrites() throws {
        let a = Self.tcp("10.62.0.1:80")
        let b = ServiceKey.inet(.udp, Self.ep("[2001:db8:62::1]:53"))
        let c = ServiceKey.fwmark(62, .ipv4)
        let d = ServiceKey.fwmark(63, .ipv6)
        [a, b, c, d].forEach(remember)
        try ipvsadm(["-R"], input: """
            -A -t 10.62.0.1:80 -s wrr -p 120 -M 255.255.0.0
            -a -t 10.62.0.1:80 -r 10.63.0.1:80 -g -w 7 -x 50 -y 5
            -a -t 10.62.0.1:80 -r 10.63.0.4:8080 -m -w 1
            -A -u [2001:db8:62::1]:53 -s rr -p 60 -M 64
            -a -u [2001:db8:62::1]:53 -r [2001:db8:63::1]:53 -m -w 4
            -A -f 62 -s sh -b sh-port
            -a -f 62 -r 10.63.0.2:0 -i -w 0
            -A -f 63 -6 -s mh -b mh-fallback,mh-port -p 30

            """)
        try assertTable([
            IPVSServiceState(service: VirtualService(key: a, scheduler: "wrr", flags: IPVSFlags.persistent,
                                                     timeout: 120, netmask: 0xFFFF_0000),
                             destinations: [RealServer(endpoint: Self.ep("10.63.0.1:80"), weight: 7, forward: .route,
                                                       upperThreshold: 50, lowerThreshold: 5),
                                            RealServer(endpoint: Self.ep("10.63.0.4:8080"), weight: 1)]),
            IPVSServiceState(service: VirtualService(key: b, scheduler: "rr", flags: IPVSFlags.persistent,
                                                     timeout: 60, netmask: 64),
                             destinations: [RealServer(endpoint: Self.ep("[2001:db8:63::1]:53"), weight: 4)]),
            IPVSServiceState(service: VirtualService(key: c, scheduler: "sh", flags: SchedulerFlag.shPort.bit),
                             destinations: [RealServer(endpoint: Self.ep("10.63.0.2"), weight: 0, forward: .tunnel)]),
            IPVSServiceState(service: VirtualService(key: d, scheduler: "mh",
                                                     flags: IPVSFlags.persistent | SchedulerFlag.mhFallback.bit | SchedulerFlag.mhPort.bit,
                                                     timeout: 30),
                             destinations: []),
        ])
    }

    /// `EZLB_IPVS_BENCH=N`: load N services x 4 destinations with apply(), dump
    /// the converged table, delete; then the same table with `ipvsadm -R`.
    func testLoadBenchmark() throws {
        guard let n = ProcessInfo.processInfo.environment["EZLB_IPVS_BENCH"].flatMap(Int.init), n > 0 else {
            throw XCTSkip("set EZLB_IPVS_BENCH=<services> to run the load benchmark")
        }
        var ops: [IPVSOperation] = []
        var rules = ""
        var states: [IPVSServiceState] = []
        for i in 0..<n {
            let vip = "10.\(100 + i / 65536).\(i / 256 % 256).\(i % 256)"
            let key = Self.tcp("\(vip):80")
            let svc = VirtualService(key: key, scheduler: "wlc")
            remember(key)
            ops.append(.addService(svc))
            rules += "-A -t \(vip):80 -s wlc\n"
            var ds: [RealServer] = []
            for j in 0..<4 {
                let rip = "172.\(16 + j).\(i / 256 % 256).\(i % 256)"
                let d = RealServer(endpoint: Self.ep("\(rip):8080"), weight: UInt32(j + 1))
                ds.append(d)
                ops.append(.addDestination(key, d))
                rules += "-a -t \(vip):80 -r \(rip):8080 -m -w \(j + 1)\n"
            }
            states.append(IPVSServiceState(service: svc, destinations: ds))
        }
        var cpu = ""
        func time(_ what: String = "", _ body: () throws -> Void) rethrows -> Double {
            var t0 = timespec(), t1 = timespec()
            var r0 = rusage(), r1 = rusage()
            getrusage(RUSAGE_SELF.rawValue, &r0)
            clock_gettime(CLOCK_MONOTONIC, &t0)
            try body()
            clock_gettime(CLOCK_MONOTONIC, &t1)
            getrusage(RUSAGE_SELF.rawValue, &r1)
            func secs(_ a: timeval, _ b: timeval) -> Double { Double(b.tv_sec - a.tv_sec) + Double(b.tv_usec - a.tv_usec) / 1e6 }
            if !what.isEmpty {
                cpu += " \(what)-user=" + String(format: "%.3fs", secs(r0.ru_utime, r1.ru_utime))
                    + " \(what)-sys=" + String(format: "%.3fs", secs(r0.ru_stime, r1.ru_stime))
            }
            return Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) / 1e9
        }
        var errors: [IPVSError?] = []
        let tApply = time("apply") { errors = backend.apply(ops) }
        XCTAssertEqual(errors.compactMap { $0 }.count, 0)
        var dumped: [IPVSServiceState] = []
        let tDump = try time("dump") { dumped = try backend.dump() }
        XCTAssertEqual(canonical(dumped), canonical(states))
        var tDumpNetlink = -1.0
        if let nl = backend as? NetlinkIPVS {
            nl.ipv4SockoptFastPath = false
            tDumpNetlink = try time("dump-netlink-only") { dumped = try backend.dump() }
            nl.ipv4SockoptFastPath = true
            XCTAssertEqual(canonical(dumped), canonical(states))
        }
        let tDelete = time { errors = backend.apply(states.map { .deleteService($0.service) }) }
        XCTAssertEqual(errors.compactMap { $0 }.count, 0)
        var tIpvsadm = -1.0
        var tIpvsadmSave = -1.0
        if Self.ipvsadmPath != nil {
            tIpvsadm = try time { try ipvsadm(["-R"], input: rules) }
            tIpvsadmSave = try time { _ = try ipvsadm(["-S", "-n"]) }
            XCTAssertEqual(canonical(try backend.dump()), canonical(states))
            _ = backend.apply(states.map { .deleteService($0.service) })
        }
        let line = String(format: "EZLB-IPVS-BENCH services=%d objects=%d apply=%.3fs dump=%.3fs (%.1f%% of apply) dump-netlink-only=%.3fs delete=%.3fs ipvsadm-R=%.3fs ipvsadm-S=%.3fs",
                          n, ops.count, tApply, tDump, 100 * tDump / tApply, tDumpNetlink, tDelete, tIpvsadm, tIpvsadmSave) + cpu
        print(line)
    }

    func testInetServicesRoundTrip() throws { try checkInetServicesRoundTrip() }
    func testFwmarkServicesRoundTrip() throws { try checkFwmarkServicesRoundTrip() }
    func testEveryScheduler() throws { try checkEveryScheduler() }
    func testSchedulerFlags() throws { try checkSchedulerFlags() }
    func testPersistence() throws { try checkPersistence() }
    func testForwardMethods() throws { try checkForwardMethods() }
    func testWeightsAndThresholds() throws { try checkWeightsAndThresholds() }
    func testUpdateService() throws { try checkUpdateService() }
    func testUpdateIPv6ServicePrefix() throws { try checkUpdateIPv6ServicePrefix() }
    func testUpdateDestination() throws { try checkUpdateDestination() }
    func testErrors() throws { try checkErrors() }
    func testMixedFamilyTunnelDestination() throws { try checkMixedFamilyTunnelDestination() }
    func testApplyReportsTheFailingOperationOnly() throws { try checkApplyReportsTheFailingOperationOnly() }
    func testBigBatchRoundTrip() throws { try checkBigBatchRoundTrip() }
}
