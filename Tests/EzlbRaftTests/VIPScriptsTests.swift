import EzlbConfig
@testable import EzlbRaft
import Foundation
import Logging
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// scripts/on-*.sh for real, run the way the dispatcher runs hooks, inside throwaway network namespaces
/// (never the host's): a veth pair between "master" and "peer" namespaces.
final class VIPScriptsTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    var dir: ScratchDir!
    var capture: LogCapture!
    var ns = ""
    var peer = ""

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root for network namespaces") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            throw XCTSkip("needs iproute2")
        }
        dir = try ScratchDir()
        capture = LogCapture()
        let id = UUID().uuidString.prefix(8).lowercased()
        ns = "ezlb-vip-\(id)"
        peer = "ezlb-vipp-\(id)"
        try sh("ip netns add \(ns) && ip netns add \(peer)")
        try sh("""
        ip -n \(ns) link add veth-a type veth peer name veth-b netns \(peer) && \
        ip -n \(ns) link set veth-a up && ip -n \(peer) link set veth-b up && \
        ip -n \(ns) addr add 10.99.0.1/24 dev veth-a && ip -n \(peer) addr add 10.99.0.2/24 dev veth-b && \
        ip netns exec \(peer) sysctl -qw net.ipv4.conf.all.arp_accept=1 net.ipv4.conf.veth-b.arp_accept=1
        """)
        try conf("VIP_ADDRESS=\"10.99.0.100/32 2001:db8:99::100\"\nINTERFACE=veth-a\nARP_COUNT=2\nARP_DELAY_MS=100\n")
    }

    override func tearDown() {
        if !ns.isEmpty { _ = try? sh("ip netns del \(ns); ip netns del \(peer)") }
    }

    @discardableResult
    func sh(_ cmd: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw XCTSkip("setup command failed: \(cmd)") }
        return String(decoding: data, as: UTF8.self)
    }

    func conf(_ text: String) throws { try text.write(toFile: dir.file("vip.conf"), atomically: true, encoding: .utf8) }

    /// Runs scripts/NAME inside the master namespace like a hook (HookExecutor, minimal environment).
    func hook(_ name: String, event: HookEvent) -> HookOutcome {
        HookExecutor.run(command: "ip", args: ["netns", "exec", ns, Self.repo + "/scripts/" + name],
                         environment: [("PATH", HookExecutor.defaultPath), ("EVENT_TYPE", event.rawValue), ("NODE_ID", "n1"),
                                       ("RAFT_TERM", "3"), ("VIP_CONF", dir.file("vip.conf")),
                                       ("VIP_RUN_DIR", dir.file("run"))],
                         timeout: 20, log: capture.logger, metadata: ["event": .string(event.rawValue)])
    }

    func addresses() throws -> String { try sh("ip -n \(ns) -o addr show dev veth-a") }

    func testMasterBindsAnnouncesAndSlaveReleases() throws {
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(0), capture.lines().joined(separator: "\n"))
        var a = try addresses()
        XCTAssertTrue(a.contains("10.99.0.100/32"), a)
        XCTAssertTrue(a.contains("2001:db8:99::100/128"), a)
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(0), "idempotent")

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/arping") {
            // The gratuitous ARP taught the peer the VIP's MAC (arp_accept=1 there).
            let mac = try sh("ip -n \(ns) -o link show veth-a").components(separatedBy: "link/ether ").last!.prefix(17)
            XCTAssertTrue(eventually(5) { ((try? self.sh("ip -n \(self.peer) neigh show 10.99.0.100")) ?? "").contains(mac) },
                          "peer has no neighbour entry for the VIP with \(mac)")
        } else {
            XCTAssertTrue(capture.lines("stderr").contains { $0.contains("arping not installed") })
        }

        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0))
        a = try addresses()
        XCTAssertFalse(a.contains("10.99.0.100"), a)
        XCTAssertFalse(a.contains("2001:db8:99::100"), a)
        XCTAssertTrue(a.contains("10.99.0.1/24"), "other addresses untouched")
        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0), "idempotent")
        XCTAssertTrue(capture.lines("stdout", event: "ToSlave").contains("[ToSlave] 10.99.0.100/32 is not on veth-a"))
    }

    /// The background gratuitous-ARP announcer must not outlive the VIP: ToSlave stops it (it would keep
    /// announcing a VIP that moved to another node for ARP_COUNT x ARP_DELAY_MS).
    func testSlaveStopsTheBackgroundARPAnnouncer() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/arping") else { throw XCTSkip("needs iputils arping") }
        try conf("VIP_ADDRESS=10.99.0.100/32\nINTERFACE=veth-a\nARP_COUNT=200\nARP_DELAY_MS=100\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(0), capture.lines().joined(separator: "\n"))
        let record = dir.read("run/vip.veth-a.garp.pid").split(separator: " ")
        XCTAssertEqual(record.count, 2, "pid and start time recorded")
        let pid = pid_t(record.first ?? "") ?? 0
        XCTAssertGreaterThan(pid, 0)
        func alive() -> Bool {
            guard let st = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            return st.split(separator: ")").last?.split(separator: " ").first != "Z"
        }
        XCTAssertTrue(alive(), "the announcer runs in the background (200 x 100 ms)")
        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0))
        XCTAssertTrue(eventually(2) { !alive() }, "ToSlave stopped the announcer")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("run/vip.veth-a.garp.pid")))
        XCTAssertTrue(capture.lines("stdout", event: "ToSlave").contains { $0.contains("stopped the gratuitous ARP announcer") })
        // A stale record (pid reused by another process: other start time) is left alone.
        try "\(getpid()) 1\n".write(toFile: dir.file("run/vip.veth-a.garp.pid"), atomically: true, encoding: .utf8)
        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0), "and this test process is still alive")
    }

    /// GARP_REFRESH: while Master, the announcer repeats the gratuitous ARP every N seconds (a
    /// neighbour that forgot the VIP learns it again); ToSlave stops it.
    func testGarpRefreshRepeatsWhileMaster() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/arping") else { throw XCTSkip("needs iputils arping") }
        try conf("VIP_ADDRESS=10.99.0.100/32\nINTERFACE=veth-a\nARP_COUNT=1\nGARP_REFRESH=1\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(0), capture.lines().joined(separator: "\n"))
        XCTAssertTrue(capture.lines("stdout", event: "ToMaster").contains { $0.contains("then every 1s while Master") })
        let neigh = { ((try? self.sh("ip -n \(self.peer) neigh show 10.99.0.100")) ?? "") }
        XCTAssertTrue(eventually(3) { neigh().contains("lladdr") }, "first announcement")
        for _ in 0..<2 {
            _ = try? sh("ip -n \(peer) neigh del 10.99.0.100 dev veth-b")
            XCTAssertFalse(neigh().contains("lladdr"))
            XCTAssertTrue(eventually(3) { neigh().contains("lladdr") }, "refreshed after the entry was gone")
        }
        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0))
        XCTAssertTrue(capture.lines("stdout", event: "ToSlave").contains { $0.contains("stopped the gratuitous ARP announcer") })
        try conf("VIP_ADDRESS=10.99.0.100/32\nINTERFACE=veth-a\nGARP_REFRESH=soon\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(1))
        XCTAssertTrue(capture.lines("stderr").contains { $0.contains("GARP_REFRESH must be a number of seconds, got 'soon'") })
    }

    /// Two VIP groups on one interface (two clusters, two vip configs): each ToSlave stops only
    /// its own announcer and removes only its own VIP.
    func testTwoVIPGroupsOnOneInterfaceKeepTheirOwnAnnouncers() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/arping") else { throw XCTSkip("needs iputils arping") }
        try conf("VIP_ADDRESS=10.99.0.100/32\nINTERFACE=veth-a\nARP_COUNT=200\nARP_DELAY_MS=100\n")
        try "VIP_ADDRESS=10.99.0.101/32\nINTERFACE=veth-a\nARP_COUNT=200\nARP_DELAY_MS=100\n"
            .write(toFile: dir.file("vip-b.conf"), atomically: true, encoding: .utf8)
        func run(_ script: String, _ event: HookEvent, conf: String) -> HookOutcome {
            HookExecutor.run(command: "ip", args: ["netns", "exec", ns, Self.repo + "/scripts/" + script],
                             environment: [("PATH", HookExecutor.defaultPath), ("EVENT_TYPE", event.rawValue),
                                           ("VIP_CONF", dir.file(conf)), ("VIP_RUN_DIR", dir.file("run"))],
                             timeout: 20, log: capture.logger, metadata: ["event": .string(event.rawValue)])
        }
        XCTAssertEqual(run("on-master.sh", .ToMaster, conf: "vip.conf"), .exited(0))
        XCTAssertEqual(run("on-master.sh", .ToMaster, conf: "vip-b.conf"), .exited(0))
        let b = pid_t(dir.read("run/vip-b.veth-a.garp.pid").split(separator: " ").first ?? "") ?? 0
        XCTAssertGreaterThan(b, 0)
        XCTAssertGreaterThan(pid_t(dir.read("run/vip.veth-a.garp.pid").split(separator: " ").first ?? "") ?? 0, 0)
        XCTAssertEqual(run("on-slave.sh", .ToSlave, conf: "vip.conf"), .exited(0))
        XCTAssertEqual(kill(b, 0), 0, "group b's announcer still runs")
        let a = try addresses()
        XCTAssertFalse(a.contains("10.99.0.100/32"), a)
        XCTAssertTrue(a.contains("10.99.0.101/32"), a)
        XCTAssertEqual(run("on-slave.sh", .ToSlave, conf: "vip-b.conf"), .exited(0))
        XCTAssertTrue(eventually(2) { kill(b, 0) != 0 }, "and stops with its own ToSlave")
    }

    func testReadyAndDestroyRemoveAStaleVIP() throws {
        try sh("ip -n \(ns) addr add 10.99.0.100/32 dev veth-a")
        XCTAssertEqual(hook("on-ready.sh", event: .ToReady), .exited(0))
        XCTAssertFalse(try addresses().contains("10.99.0.100"), "a VIP left from before a crash is removed at start")
        try sh("ip -n \(ns) addr add 10.99.0.100/32 dev veth-a")
        XCTAssertEqual(hook("on-destroy.sh", event: .ToDestroy), .exited(0))
        XCTAssertFalse(try addresses().contains("10.99.0.100"))
    }

    func testMasterFailsWhenTheAddressCannotBeBound() throws {
        try conf("VIP_ADDRESS=10.99.0.100\nINTERFACE=nosuch0\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(1))
        XCTAssertTrue(capture.lines("stderr").contains("[ToMaster] ERROR: interface nosuch0 does not exist"), "\(capture.lines())")
        XCTAssertEqual(hook("on-slave.sh", event: .ToSlave), .exited(0), "nothing to remove is fine")
    }

    func testVipConfIsParsedNotExecuted() throws {
        let marker = dir.file("pwned")
        try conf("VIP_ADDRESS=\"10.99.0.100/32\"   # the VIP\nINTERFACE=veth-a\nARP_COUNT=0\nX=$(touch \(marker))\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(1))
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
        XCTAssertTrue(capture.lines("stderr").contains { $0.contains("unknown key 'X'") }, "\(capture.lines())")
        try conf("VIP_ADDRESS=\"10.99.0.100/32\"   # the VIP\nINTERFACE='veth-a'\nARP_COUNT=0\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(0), "\(capture.lines())")
        XCTAssertTrue(try addresses().contains("10.99.0.100/32"))
        try conf("VIP_ADDRESS=10.99.0.100\nINTERFACE=veth-a\nARP_COUNT=three\n")
        XCTAssertEqual(hook("on-master.sh", event: .ToMaster), .exited(1))
        let missing = dir.file("nope.conf")
        let out = HookExecutor.run(command: Self.repo + "/scripts/on-slave.sh", args: [],
                                   environment: [("PATH", HookExecutor.defaultPath), ("VIP_CONF", missing)],
                                   timeout: 10, log: capture.logger)
        XCTAssertEqual(out, .exited(1))
    }

    func testScriptsAreShellcheckClean() throws {
        guard let sc = ["/usr/bin/shellcheck", "/usr/local/bin/shellcheck"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("shellcheck not installed")
        }
        let scripts = ["on-master.sh", "on-slave.sh", "on-ready.sh", "on-destroy.sh", "vip-lib.sh"].map { "scripts/" + $0 }
        let out = try sh("cd \(Self.repo) && \(sc) -x \(scripts.joined(separator: " ")) examples/*.sh 2>&1; echo rc=$?")
        XCTAssertTrue(out.hasSuffix("rc=0\n"), out)
    }
}
