import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Real `ezlb raft serve` processes on 127.0.0.x, hooks that append
/// `<realtime ns> <node> <event> start|end` to one shared log.
class RaftClusterTestCase: CLITestCase {
    struct Node {
        var name: String
        var addr: String
        var dataDir: String
        var config: String
        var process: Process?
        var logFile: String
    }

    var nodes: [Node] = []
    var hookLog = ""
    /// (realtime ns, node) of every SIGKILL the test sent.
    var kills: [(UInt64, String)] = []
    var netnsToDelete: [String] = []

    override func tearDown() {
        for n in nodes { if let p = n.process, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        for ns in netnsToDelete { _ = sh("ip netns pids \(ns) | xargs -r kill -9; ip netns del \(ns)") }
        if testRun?.hasSucceeded == false {
            // Keep the evidence in the test output.
            if let log = try? String(contentsOfFile: hookLog, encoding: .utf8) { print("--- hook log\n\(log)") }
            for n in nodes { if let l = try? String(contentsOfFile: n.logFile, encoding: .utf8) { print("--- \(n.name)\n\(l.suffix(4000))") } }
        }
        super.tearDown()
    }

    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    @discardableResult
    func sh(_ cmd: String) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", cmd]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try? p.run()
        let d = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: d, as: UTF8.self))
    }

    /// A port p such that p and p+1 (control) are free on `host`.
    func freePort(_ host: String) -> Int {
        for _ in 0..<200 {
            let p = Int.random(in: 20000...59000)
            if canBind(host, p) && canBind(host, p + 1) { return p }
        }
        return 0
    }

    func canBind(_ host: String, _ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &a.sin_addr)
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
    }

    /// Writes the hook script and `count` node configs (127.0.0.<base+i>).
    func makeCluster(_ count: Int, electionMs: Int = 1000, heartbeatMs: Int = 100, secret: String? = nil,
                     hostFor: ((Int) -> String)? = nil, hookSleep: String = "0.05", masterOnFailure: String = "continue",
                     sameHost: Bool = false) {
        hookLog = workDir + "/hooks.log"
        XCTAssertTrue(FileManager.default.createFile(atPath: hookLog, contents: nil))
        let script = workDir + "/hook.sh"
        try! """
        #!/bin/sh
        # $1 log, $2 node, $3 event
        echo "$(date +%s%N) $2 $3 start" >> "$1"
        sleep \(hookSleep)
        echo "$(date +%s%N) $2 $3 end" >> "$1"
        # a test makes one node's hook fail by creating fail-<node>-<event>
        [ -f "$(dirname "$1")/fail-$2-$3" ] && exit 1
        exit 0
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let base = Int.random(in: 2...200), mid = Int.random(in: 1...250)
        var addrs: [String] = []
        var controls: [String]? = nil
        if sameHost {
            // vip-switch's local cluster: one address, consecutive raft ports; the control
            // endpoints (raft port + 1 would be the next node's raft port) 1000 above.
            let host = "127.0.\(mid).\(base)"
            var p = 0
            for _ in 0..<200 {
                p = Int.random(in: 20000...50000)
                if (0..<count).allSatisfy({ canBind(host, p + $0) && canBind(host, p + 1000 + $0) }) { break }
            }
            addrs = (0..<count).map { "\(host):\(p + $0)" }
            controls = (0..<count).map { "\(host):\(p + 1000 + $0)" }
        }
        for i in 0..<count where !sameHost {
            let host = hostFor?(i) ?? "127.0.\(mid).\(base + i)"
            addrs.append("\(host):\(freePort(host.hasPrefix("127.") ? host : "127.0.0.1"))")
        }
        nodes = []
        for i in 0..<count {
            let name = "n\(i + 1)"
            let dir = workDir + "/" + name
            let cfg = writeConfig(configYAML(name: name, addr: addrs[i], dataDir: dir, members: Array(zip((1...count).map { "n\($0)" }, addrs)),
                                             script: script, electionMs: electionMs, heartbeatMs: heartbeatMs, secret: secret,
                                             masterOnFailure: masterOnFailure, controls: controls),
                                  name: "\(name).yaml")
            nodes.append(Node(name: name, addr: addrs[i], dataDir: dir, config: cfg, process: nil, logFile: workDir + "/\(name).log"))
        }
    }

    func configYAML(name: String, addr: String, dataDir: String, members: [(String, String)], script: String,
                    electionMs: Int, heartbeatMs: Int, secret: String?, masterOnFailure: String = "continue",
                    controls: [String]? = nil) -> String {
        let own = members.firstIndex { $0.0 == name }.flatMap { i in controls.map { $0[i] } }
        var y = """
        node:
          id: "\(name)"
          raft_addr: "\(addr)"
          data_dir: "\(dataDir)"
        \(own.map { "  control_addr: \"\($0)\"\n" } ?? "")
        cluster:
          election_timeout: \(electionMs)ms
          heartbeat: \(heartbeatMs)ms
        \(secret.map { "  secret: \"\($0)\"\n" } ?? "")  nodes:

        """
        for (i, (n, a)) in members.enumerated() {
            y += "    - id: \"\(n)\"\n      addr: \"\(a)\"\n"
            if let c = controls?[i] { y += "      control_addr: \"\(c)\"\n" }
        }
        y += "hooks:\n  enabled: true\n  timeout: 10s\n"
        for ev in ["ToReady", "ToMaster", "ToSlave", "ToDestroy"] {
            y += """
              \(ev):
                command: "\(script)"
                args: ["\(hookLog)", "\(name)", "\(ev)"]
                timeout: 10s
                on_failure: \(ev == "ToMaster" ? masterOnFailure : "continue")

            """
        }
        y += "logging:\n  level: debug\n  format: text\n  output: \"\(workDir)/\(name).log\"\n"
        return y
    }

    func start(_ i: Int, bootstrap: Bool = false, netns: String? = nil, extraArgs: [String] = [], env: [String: String] = [:]) throws {
        let p = Process()
        var args = ["raft", "serve", "-c", nodes[i].config] + extraArgs
        if bootstrap { args.append("--bootstrap") }
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        if let ns = netns {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, Self.binary.path] + args
        } else {
            p.executableURL = Self.binary
            p.arguments = args
        }
        p.standardOutput = FileHandle.nullDevice
        let err = FileHandle(forWritingAtPath: nodes[i].logFile) ?? {
            XCTAssertTrue(FileManager.default.createFile(atPath: nodes[i].logFile, contents: nil))
            return FileHandle(forWritingAtPath: nodes[i].logFile)!
        }()
        err.seekToEndOfFile()
        p.standardError = err
        try p.run()
        nodes[i].process = p
    }

    func sigkill(_ i: Int) {
        guard let p = nodes[i].process else { return }
        kills.append((Self.nowNs(), nodes[i].name))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        nodes[i].process = nil
    }

    func status(_ i: Int) -> [String: Any]? {
        guard let r = try? ezlb(["raft", "status", "-c", nodes[i].config, "-o", "json"]), r.status == 0 else { return nil }
        return r.json
    }

    func waitFor(_ what: String, timeout: Double, _ cond: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if cond() { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTFail("timed out after \(timeout) s waiting for \(what)")
        throw XCTSkip("aborting: \(what)")
    }

    /// Index of the node whose serve reports leader.
    func leaderIndex(among live: [Int]? = nil) -> Int? {
        for i in live ?? Array(nodes.indices) where nodes[i].process != nil {
            if (status(i)?["role"] as? String) == "leader" { return i }
        }
        return nil
    }

    func voters(_ i: Int) -> [String] {
        ((status(i)?["members"] as? [[String: Any]]) ?? []).filter { ($0["role"] as? String) == "voter" }.compactMap { $0["id"] as? String }.sorted()
    }

    // MARK: hook log

    struct HookLine { var t: UInt64; var node: String; var event: String; var phase: String }

    func hookLines() -> [HookLine] {
        let text = (try? String(contentsOfFile: hookLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { l in
            let f = l.split(separator: " ")
            guard f.count == 4, let t = UInt64(f[0]) else { return nil }
            return HookLine(t: t, node: String(f[1]), event: String(f[2]), phase: String(f[3]))
        }.sorted { $0.t < $1.t }
    }

    /// The safety invariant. A node is Master from the *start* of its ToMaster
    /// hook (the VIP may be bound from then on) until its ToSlave or ToDestroy
    /// hook *ends*, or the test SIGKILLs it. No ToMaster may start on B while
    /// another node A is Master. Returns the violations (empty = holds).
    func masterOverlaps() -> [String] {
        var events: [(UInt64, String, String)] = hookLines().map { ($0.t, $0.node, "\($0.event) \($0.phase)") }
        events += kills.map { ($0.0, $0.1, "KILL") }
        events.sort { $0.0 < $1.0 }
        var master: [String: UInt64] = [:]   // node -> since
        var violations: [String] = []
        for (t, node, what) in events {
            switch what {
            case "ToMaster start":
                for (other, since) in master where other != node {
                    violations.append("ToMaster of \(node) started at \(t) while \(other) was Master since \(since)")
                }
                master[node] = t
            case "ToSlave end", "ToDestroy end", "KILL":
                master[node] = nil
            default: break
            }
        }
        return violations
    }

    /// The first ToMaster end after `t` (ns), with its node.
    func masterAfter(_ t: UInt64) -> (UInt64, String)? {
        hookLines().first { $0.t > t && $0.event == "ToMaster" && $0.phase == "end" }.map { ($0.t, $0.node) }
    }

    func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return 0 }
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }
}
