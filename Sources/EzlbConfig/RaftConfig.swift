import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The four hook events of the seed design (their spelling is the YAML key under `hooks`).
public enum HookEvent: String, Sendable, CaseIterable, Hashable {
    case ToReady, ToMaster, ToSlave, ToDestroy
}

/// What a failed hook (non-zero exit, killed, timed out, not startable) leads to.
public enum FailurePolicy: String, Sendable, CaseIterable, Equatable {
    /// Log the failure and go on.
    case `continue`
    /// ToMaster: hand leadership away and run ToSlave (a node that could not bind the VIP must not stay Master).
    /// Other events: logged as an error; there is nothing to undo.
    case abort
    /// Run the hook again (each attempt with a fresh timeout) up to `retryAttempts` attempts, `retryBackoff` apart;
    /// when every attempt failed, ToMaster behaves as `abort`, the other events as `continue`.
    case retry
}

/// One event's hook (`hooks.ToMaster` ...), with the section defaults already applied.
public struct HookSpec: Sendable, Equatable {
    /// argv[0]: an absolute path, or a name looked up in PATH. Never run through a shell.
    public var command: String
    /// argv[1...], passed literally.
    public var args: [String]
    /// Seconds; the whole process group is killed when it expires.
    public var timeout: Double
    public var onFailure: FailurePolicy
    /// Extra environment; values are templates (`{{.NodeID}}`, `{{.Event}}`, `{{.RaftAddr}}`, `{{.LeaderID}}`, `{{.Term}}`).
    /// Kept in file order.
    public var environment: [EnvironmentEntry]
    /// Attempts in total for `on_failure: retry` (>= 1).
    public var retryAttempts: Int
    /// Seconds between two attempts.
    public var retryBackoff: Double

    public init(command: String, args: [String] = [], timeout: Double = 60, onFailure: FailurePolicy = .continue,
                environment: [EnvironmentEntry] = [], retryAttempts: Int = 3, retryBackoff: Double = 1) {
        self.command = command
        self.args = args
        self.timeout = timeout
        self.onFailure = onFailure
        self.environment = environment
        self.retryAttempts = retryAttempts
        self.retryBackoff = retryBackoff
    }
}

public struct EnvironmentEntry: Sendable, Equatable {
    public var name: String
    public var template: String
    public init(name: String, template: String) {
        self.name = name
        self.template = template
    }
}

/// The `track:` section (ezlb; keepalived's track_script / track_interface): this node is fit
/// to be Master only while the command succeeds and the interfaces are up.
public struct TrackConfig: Sendable, Equatable {
    /// Run every `interval` (exit 0: healthy); nil: interfaces only.
    public var command: String?
    public var args: [String] = []
    public var interval: Double = 2
    public var timeout: Double = 2
    /// Consecutive failures that make the node unhealthy, successes that make it healthy again.
    public var fall = 2
    public var rise = 2
    /// Interfaces that must be up (operstate "up").
    public var interfaces: [String] = []
    public init() {}
}

/// The `hooks:` section.
public struct HooksConfig: Sendable, Equatable {
    public var enabled: Bool = true
    /// Section defaults (seconds / policy) applied to hooks that do not set their own.
    public var timeout: Double = 60
    public var onFailure: FailurePolicy = .continue
    public var retryAttempts: Int = 3
    public var retryBackoff: Double = 1
    /// Seconds: after a hook finished, the next transition waits this long (the latest state wins when the
    /// window ends; nothing is dropped). A Master's demotion (ToSlave) and ToDestroy never wait.
    public var debounce: Double = 1
    /// The configured hooks; an event without one is a no-op (it still changes the role).
    public var specs: [HookEvent: HookSpec] = [:]
    public init() {}

    public subscript(event: HookEvent) -> HookSpec? { enabled ? specs[event] : nil }
}

public struct RaftLoggingConfig: Sendable, Equatable {
    public enum Level: String, Sendable, CaseIterable { case trace, debug, info, notice, warn, error, critical }
    public enum Format: String, Sendable, CaseIterable { case text, json }
    public var level: Level = .info
    public var format: Format = .text
    /// `stderr`, `stdout` or a file path (appended to).
    public var output: String = "stderr"
    public init() {}

    static func level(_ text: String) -> Level? {
        switch text.lowercased() {
        case "warning": return .warn
        case "fatal": return .critical
        default: return Level(rawValue: text.lowercased())
        }
    }
}

/// Command-line overrides of the file (`--node-id --raft-addr --data-dir --log-level --log-format`).
public struct RaftOverrides: Sendable, Equatable {
    public var nodeID: String?
    public var raftAddr: String?
    public var dataDir: String?
    public var logLevel: String?
    public var logFormat: String?
    public init(nodeID: String? = nil, raftAddr: String? = nil, dataDir: String? = nil,
                logLevel: String? = nil, logFormat: String? = nil) {
        self.nodeID = nodeID
        self.raftAddr = raftAddr
        self.dataDir = dataDir
        self.logLevel = logLevel
        self.logFormat = logFormat
    }
}

/// The raft VIP-failover config file (the seed's `config.yaml`, loaded unchanged, plus a few ezlb keys).
///
/// ```yaml
/// node: {id: node1, raft_addr: "192.168.1.10:7946", data_dir: /var/lib/ezlb/raft}
///   # control_addr: "192.168.1.10:7947"   # ezlb; default raft port + 1
/// cluster:
///   nodes: [{id: node1, addr: "192.168.1.10:7946"}, ...]   # ezlb: each may add control_addr
///   election_timeout: 1s        # ezlb
///   heartbeat: 100ms            # ezlb
///   master_guard: 1.5s          # ezlb; default 1.5 x election_timeout
///   secret_file: /etc/ezlb/raft.secret   # ezlb; or secret: "..."
/// hooks: {enabled, timeout, on_failure, retry_attempts, retry_backoff, debounce, ToReady|ToMaster|ToSlave|ToDestroy: {...}}
/// logging: {level, format, output}
/// ```
public struct RaftSettings: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var id: String
        /// Canonical `IP:port` (`[v6]:port`).
        public var addr: String
        /// Its control endpoint (`control_addr`; nil: raft port + 1).
        public var controlAddr: String?
        /// `priority` (1-255, default 100): with `cluster.preempt`, a reachable voter of higher
        /// priority takes the Master role over (keepalived's priority / preempt).
        public var priority: Int
        public init(id: String, addr: String, controlAddr: String? = nil, priority: Int = 100) {
            self.id = id
            self.addr = addr
            self.controlAddr = controlAddr
            self.priority = priority
        }
    }

    public static let minimumSecretBytes = 16

    public var file: String
    public var nodeID: String
    /// Canonical `IP:port` (`[v6]:port`).
    public var raftAddr: String
    /// This node's control endpoint (`node.control_addr`, default raft port + 1); nil when
    /// the raft port is 65535 and none is set.
    public var controlAddr: String?
    public var dataDir: String
    /// `cluster.nodes` in file order (may omit this node when joining).
    public var members: [Member]
    public var electionTimeoutMs: UInt32 = 1000
    public var heartbeatMs: UInt32 = 100
    /// How long leadership must have been held without interruption before ToMaster starts.
    public var masterGuardMs: UInt32 = 1500
    /// Hand the Master role to a reachable voter of higher priority (keepalived's default;
    /// `preempt: false` is keepalived's nopreempt). Moot while all priorities are equal.
    public var preempt = true
    /// How long that voter must have been reachable first (a node that just came back settles).
    public var preemptDelayMs: UInt32 = 5000
    /// Shared secret of the control endpoint (`cluster.secret` or the content of `cluster.secret_file`).
    public var secret: String?
    public var secretFile: String?
    public var hooks: HooksConfig
    public var logging: RaftLoggingConfig
    /// `track:` (nil: always fit to be Master).
    public var track: TrackConfig?
    /// Keys the file has that ezlb does not know (likely typos).
    public var unknownKeys: [String]

    public init(file: String, nodeID: String, raftAddr: String, dataDir: String, members: [Member],
                hooks: HooksConfig = HooksConfig(), logging: RaftLoggingConfig = RaftLoggingConfig()) {
        self.file = file
        self.nodeID = nodeID
        self.raftAddr = raftAddr
        self.dataDir = dataDir
        self.members = members
        self.hooks = hooks
        self.logging = logging
        self.unknownKeys = []
    }

    /// This node's libraft id.
    public var numericID: UInt64 { raftNumericID(nodeID) }

    /// The control endpoint of the node at `raftAddr`: its `control_addr` when the config
    /// lists one, else the raft port + 1.
    public func controlAddress(forRaftAddress raft: String) -> String? {
        if raft == raftAddr, let c = controlAddr { return c }
        if let m = members.first(where: { $0.addr == raft }), let c = m.controlAddr { return c }
        if case .success(let canonicalRaft) = Self.canonicalAddress(raft), canonicalRaft != raft {
            return controlAddress(forRaftAddress: canonicalRaft)
        }
        return Self.portPlusOne(raft)
    }

    /// `IP:port+1` of a canonical `IP:port` (nil for port 65535).
    public static func portPlusOne(_ addr: String) -> String? {
        guard let colon = addr.lastIndex(of: ":"), let p = Int(addr[addr.index(after: colon)...]), p < 65535 else { return nil }
        return String(addr[..<colon]) + ":\(p + 1)"
    }

    /// The member whose numeric raft id is `id` (for LEADER_ID), if listed.
    public func member(numericID id: UInt64) -> Member? { members.first { raftNumericID($0.id) == id } }
}

/// Stable nonzero libraft id for a string node id: FNV-1a 64 of the UTF-8 bytes (0 maps to 1).
/// No new dependency; ids of one cluster's members are checked for collisions at load.
public func raftNumericID(_ nodeID: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in nodeID.utf8 {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h == 0 ? 1 : h
}

extension RaftSettings {
    /// Reads and validates the raft config; a one-line `ConfigError` (file, key path, value) on any problem.
    /// `joining` relaxes "this node must be listed in cluster.nodes".
    public static func load(path: String, overrides: RaftOverrides = RaftOverrides(), joining: Bool = false) throws -> RaftSettings {
        try parse(EzlbConfiguration.readText(path: path), file: path, overrides: overrides, joining: joining)
    }

    /// Only the `hooks` section of `path` (SIGHUP reload); the rest of the file is not validated.
    public static func parseHooks(path: String) throws -> HooksConfig {
        let root = try YAMLCursor.document(EzlbConfiguration.readText(path: path), file: path)
        return try hooksSection(root["hooks"])
    }

    public static func parse(_ text: String, file: String, overrides: RaftOverrides = RaftOverrides(),
                             joining: Bool = false) throws -> RaftSettings {
        let root = try YAMLCursor.document(text, file: file)
        let node = root["node"], cluster = root["cluster"]
        try node.requireMapping()
        try cluster.requireMapping()

        // node.*
        let id: String
        if let o = overrides.nodeID {
            id = o
            _ = node["id"]
            try checkNodeID(o) { ConfigError(file: file, keyPath: "--node-id", value: o, reason: $0) }
        } else {
            let c = node["id"]
            guard let t = try c.string(), !t.isEmpty else { throw c.error("is required (or pass --node-id)", value: nil) }
            try checkNodeID(t) { c.error($0) }
            id = t
        }
        let addr: String
        if let o = overrides.raftAddr {
            _ = node["raft_addr"]
            addr = try canonical(o) { ConfigError(file: file, keyPath: "--raft-addr", value: o, reason: $0) }
        } else {
            let c = node["raft_addr"]
            guard let t = try c.string(), !t.isEmpty else { throw c.error("is required (or pass --raft-addr)", value: nil) }
            addr = try canonical(t) { c.error($0) }
        }
        let dataDir: String
        if let o = overrides.dataDir {
            _ = node["data_dir"]
            guard !o.isEmpty else { throw ConfigError(file: file, keyPath: "--data-dir", value: o, reason: "must not be empty") }
            dataDir = o
        } else {
            let c = node["data_dir"]
            guard let t = try c.string(), !t.isEmpty else { throw c.error("is required (or pass --data-dir)", value: nil) }
            dataDir = t
        }

        // cluster.nodes
        var members: [Member] = []
        var byID: [String: Int] = [:], byAddr: [String: Int] = [:], byNumeric: [UInt64: Int] = [:]
        for (i, item) in try cluster["nodes"].items().enumerated() {
            try item.requireMapping()
            if item.isNull { throw item.error("expected a mapping {id, addr}", value: "<empty>") }
            let ic = item["id"]
            let mid = try ic.requiredString()
            try checkNodeID(mid) { ic.error($0) }
            if let j = byID[mid] { throw ic.error("duplicate node id (also cluster.nodes[\(j)])") }
            if let j = byNumeric[raftNumericID(mid)] { throw ic.error("its raft id collides with cluster.nodes[\(j)].id; rename one") }
            let ac = item["addr"]
            let a = try canonical(try ac.requiredString()) { ac.error($0) }
            if let j = byAddr[a] { throw ac.error("duplicate address (also cluster.nodes[\(j)])") }
            byID[mid] = i
            byAddr[a] = i
            byNumeric[raftNumericID(mid)] = i
            let cc = item["control_addr"]
            let control = try cc.string().map { t in try canonical(t) { cc.error($0) } }
            let priority = Int(try item["priority"].int(in: 1...255) ?? 100)
            members.append(Member(id: mid, addr: a, controlAddr: control, priority: priority))
        }
        if let i = byID[id] {
            if members[i].addr != addr {
                let src = overrides.raftAddr != nil ? "--raft-addr" : "node.raft_addr"
                throw ConfigError(file: file, keyPath: "cluster.nodes[\(i)].addr", value: members[i].addr,
                                  reason: "this node (\(id)) is listed with another address than \(src) \(addr)")
            }
        } else {
            if let j = byAddr[addr] {
                throw ConfigError(file: file, keyPath: "cluster.nodes[\(j)].addr", value: members[j].addr,
                                  reason: "is this node's raft_addr but listed for node '\(members[j].id)', not '\(id)'")
            }
            if let j = byNumeric[raftNumericID(id)] {
                throw ConfigError(file: file, keyPath: overrides.nodeID != nil ? "--node-id" : "node.id", value: id,
                                  reason: "its raft id collides with cluster.nodes[\(j)].id; rename one")
            }
            if !joining {
                throw ConfigError(file: file, keyPath: "cluster.nodes", value: id,
                                  reason: "this node is not listed (add {id: \(id), addr: \(addr)}, or use raft join)")
            }
        }

        var s = RaftSettings(file: file, nodeID: id, raftAddr: addr, dataDir: dataDir, members: members)
        try controlAddresses(&s, node: node, listedAt: byID[id], file: file)

        // cluster timing (ezlb additions)
        if let d = try cluster["election_timeout"].duration() {
            s.electionTimeoutMs = try milliseconds(d, cluster["election_timeout"], min: 100, max: 60_000)
        }
        if let d = try cluster["heartbeat"].duration() {
            s.heartbeatMs = try milliseconds(d, cluster["heartbeat"], min: 10, max: 60_000)
        }
        if s.heartbeatMs * 2 > s.electionTimeoutMs {
            let c = cluster.has("heartbeat") ? cluster["heartbeat"] : cluster["election_timeout"]
            throw c.error("heartbeat (\(s.heartbeatMs)ms) must be at most half of election_timeout (\(s.electionTimeoutMs)ms)",
                          value: c.scalarText ?? "\(s.heartbeatMs)ms")
        }
        s.masterGuardMs = s.electionTimeoutMs / 2 * 3
        let g = cluster["master_guard"]
        if let t = try g.string() {
            guard let d = Duration.parse(t), d >= 0 else { throw g.error("expected a duration like 1500ms or 0s") }
            guard !Duration.isTooLong(d) else { throw g.error(Duration.tooLongReason) }
            s.masterGuardMs = try milliseconds(d, g, min: 0, max: 600_000)
        }

        // preference (ezlb addition, keepalived's priority / preempt / nopreempt)
        if let b = try cluster["preempt"].bool() { s.preempt = b }
        let pd = cluster["preempt_delay"]
        if let d = try pd.duration() { s.preemptDelayMs = try milliseconds(d, pd, min: 0, max: 3_600_000) }

        // control endpoint secret (ezlb addition)
        let sc = cluster["secret"], sf = cluster["secret_file"]
        if !sc.isNull && !sf.isNull { throw sf.error("set either cluster.secret or cluster.secret_file, not both") }
        if let t = try sc.string() {
            guard t.utf8.count >= minimumSecretBytes else {
                throw sc.error("too short (\(t.utf8.count) bytes; at least \(minimumSecretBytes))", value: "<hidden>")
            }
            s.secret = t
        }
        if let p = try sf.string() {
            let base = deletingLastPathComponent(file)
            let path = p.hasPrefix("/") || base.isEmpty ? p : base + "/" + p
            s.secretFile = path
            s.secret = try readSecret(path, cursor: sf)
        }

        s.hooks = try hooksSection(root["hooks"])
        s.track = try trackSection(root["track"])
        s.logging = try loggingSection(root["logging"], overrides: overrides, file: file)
        s.unknownKeys = root.unreadKeys
        return s
    }

    // MARK: - pieces

    /// The raft port accepts only peers that prove the secret (raftwire.c); without one it
    /// would be open to anyone who can reach it, so only a loopback-only cluster may serve
    /// without (checked by `raft serve`; the parse itself accepts the seed's configs).
    public func requireSecretBeyondLoopback() throws {
        guard secret == nil, let open = ([raftAddr] + members.map(\.addr)).first(where: { !Self.isLoopbackEndpoint($0) }) else { return }
        throw ConfigError(file: file, keyPath: "cluster.secret_file", value: open,
                          reason: "a cluster beyond loopback needs a shared secret: its raft and control ports authenticate peers with it (at least \(Self.minimumSecretBytes) random bytes in a mode 0600 file, the same on every node)")
    }

    static func checkNodeID(_ id: String, _ fail: (String) -> ConfigError) throws {
        guard !id.isEmpty else { throw fail("must not be empty") }
        guard id.utf8.count <= 64 else { throw fail("too long (at most 64 characters)") }
        guard id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw fail("may hold only letters, digits, '.', '_' and '-'")
        }
    }

    /// `IP:port` / `[v6]:port` in canonical form; the unspecified address is refused (peers must dial it).
    public static func canonicalAddress(_ text: String) -> Result<String, ConfigError> {
        switch Endpoint.parse(text.trimmedSpaces()) {
        case .failure(let e):
            return .failure(ConfigError(file: "", keyPath: "", value: text, reason: e.description))
        case .success(let ep):
            if ep.address.bytes.allSatisfy({ $0 == 0 }) {
                return .failure(ConfigError(file: "", keyPath: "", value: text, reason: "the unspecified address cannot be dialled by peers; use this node's address"))
            }
            return .success(ep.description)
        }
    }

    /// 127.0.0.0/8 or ::1 (addresses here are canonical `IP:port` / `[v6]:port`).
    static func isLoopbackEndpoint(_ addr: String) -> Bool {
        guard case .success(let ep) = Endpoint.parse(addr) else { return false }
        let b = ep.address.bytes
        return b.count == 4 ? b[0] == 127 : b == [UInt8](repeating: 0, count: 15) + [1]
    }

    static func canonical(_ text: String, _ fail: (String) -> ConfigError) throws -> String {
        switch canonicalAddress(text) {
        case .success(let s): return s
        case .failure(let e): throw fail(e.reason)
        }
    }

    /// `node.control_addr` (default raft port + 1), checked against the members' listing, and
    /// no two endpoints of the cluster (raft and control, explicit or raft port + 1) alike: a
    /// cluster on one host with consecutive raft ports would otherwise bind one node's raft
    /// port as another's control endpoint and fail to start.
    static func controlAddresses(_ s: inout RaftSettings, node: YAMLCursor, listedAt: Int?, file: String) throws {
        let cc = node["control_addr"]
        if let t = try cc.string() {
            let c = try canonical(t) { cc.error($0) }
            if let i = listedAt, let listed = s.members[i].controlAddr, listed != c {
                throw ConfigError(file: file, keyPath: "cluster.nodes[\(i)].control_addr", value: listed,
                                  reason: "this node is listed with another control address than node.control_addr \(c)")
            }
            s.controlAddr = c
        } else if let i = listedAt, let listed = s.members[i].controlAddr {
            s.controlAddr = listed
        } else {
            s.controlAddr = portPlusOne(s.raftAddr)
        }
        // Every endpoint, with where it comes from.
        var seen: [String: String] = [:]
        func claim(_ addr: String?, _ what: String) throws {
            guard let addr else { return }
            if let other = seen[addr] {
                throw ConfigError(file: file, keyPath: "", value: addr,
                                  reason: "is both \(other) and \(what); give the nodes distinct ports (node.control_addr, cluster.nodes[].control_addr)")
            }
            seen[addr] = what
        }
        try claim(s.raftAddr, "this node's raft address (node.raft_addr)")
        try claim(s.controlAddr, cc.isNull ? "this node's control endpoint (raft port + 1)" : "this node's control endpoint (node.control_addr)")
        for (i, m) in s.members.enumerated() where i != listedAt {
            try claim(m.addr, "node \(m.id)'s raft address (cluster.nodes[\(i)].addr)")
            try claim(m.controlAddr ?? portPlusOne(m.addr),
                      m.controlAddr == nil ? "node \(m.id)'s control endpoint (raft port + 1)" : "node \(m.id)'s control endpoint (cluster.nodes[\(i)].control_addr)")
        }
    }

    static func milliseconds(_ seconds: Double, _ c: YAMLCursor, min: UInt32, max: UInt32) throws -> UInt32 {
        let ms = (seconds * 1000).rounded()
        guard ms >= Double(min), ms <= Double(max) else {
            throw c.error("must be between \(min)ms and \(max)ms")
        }
        return UInt32(ms)
    }

    static func policy(_ c: YAMLCursor) throws -> FailurePolicy? {
        guard let t = try c.string() else { return nil }
        guard let p = FailurePolicy(rawValue: t.lowercased()) else {
            throw c.error("unknown failure policy (expected continue, abort or retry)")
        }
        return p
    }

    static func hooksSection(_ h: YAMLCursor) throws -> HooksConfig {
        try h.requireMapping()
        var cfg = HooksConfig()
        if let e = try h["enabled"].bool() { cfg.enabled = e }
        if let t = try h["timeout"].duration() { cfg.timeout = t }
        if let p = try policy(h["on_failure"]) { cfg.onFailure = p }
        if let n = try h["retry_attempts"].int(in: 1...100) { cfg.retryAttempts = Int(n) }
        if let t = try nonNegative(h["retry_backoff"]) { cfg.retryBackoff = t }
        if let t = try nonNegative(h["debounce"]) { cfg.debounce = t }
        // A misspelt event (`ToMastr`) would leave the daemon running without that hook: refused,
        // where other unknown keys only warn.
        let settings = ["enabled", "timeout", "on_failure", "retry_attempts", "retry_backoff", "debounce"]
        for k in h.mappingKeys where !settings.contains(k) && HookEvent(rawValue: k) == nil {
            throw h[k].error("unknown hook event (events: \(HookEvent.allCases.map(\.rawValue).joined(separator: ", ")); settings: \(settings.joined(separator: ", ")))",
                             value: k)
        }
        for event in HookEvent.allCases {
            let c = h[event.rawValue]
            try c.requireMapping()
            if c.isNull { continue }
            let command = try c["command"].requiredString()
            var spec = HookSpec(command: command, timeout: cfg.timeout, onFailure: cfg.onFailure,
                                retryAttempts: cfg.retryAttempts, retryBackoff: cfg.retryBackoff)
            spec.args = try argumentList(c["args"])
            if let t = try c["timeout"].duration() { spec.timeout = t }
            if let p = try policy(c["on_failure"]) { spec.onFailure = p }
            if let n = try c["retry_attempts"].int(in: 1...100) { spec.retryAttempts = Int(n) }
            if let t = try nonNegative(c["retry_backoff"]) { spec.retryBackoff = t }
            let ec = c["environment"]
            try ec.requireMapping()
            for name in ec.mappingKeys {
                let v = ec[name]
                guard isEnvironmentName(name) else { throw v.error("not a valid environment variable name", value: name) }
                let value: String
                if v.isNull { value = "" } else if let s = v.scalarText { value = s } else {
                    throw v.error("expected a string", value: v.kindName)
                }
                if let reason = HookTemplate.validate(value) { throw v.error(reason) }
                spec.environment.append(EnvironmentEntry(name: name, template: value))
            }
            cfg.specs[event] = spec
        }
        return cfg
    }

    /// `args:` of a hook or the track command: a list of strings, each one argument (no shell).
    static func argumentList(_ ac: YAMLCursor) throws -> [String] {
        if let single = ac.scalarText, !ac.isNull {
            throw ac.error("expected a list of strings (each one argument, no shell)", value: single)
        }
        return try ac.items().map { item in
            guard let a = try item.string() else { throw item.error("expected a string", value: "<null>") }
            return a
        }
    }

    static func trackSection(_ t: YAMLCursor) throws -> TrackConfig? {
        try t.requireMapping()
        if t.isNull { return nil }
        var cfg = TrackConfig()
        cfg.command = try t["command"].string()
        cfg.args = try argumentList(t["args"])
        for item in try t["interfaces"].items() {
            guard let name = try item.string(), !name.isEmpty, name.utf8.count < 16, !name.contains("/") else {
                throw item.error("expected an interface name", value: item.scalarText ?? "<null>")
            }
            cfg.interfaces.append(name)
        }
        if cfg.command == nil && cfg.interfaces.isEmpty {
            throw t.error("needs a command, interfaces, or both", value: nil)
        }
        let ic = t["interval"]
        if let d = try ic.duration() {
            guard d >= 0.1, d <= 3600 else { throw ic.error("must be between 100ms and 1h") }
            cfg.interval = d
        }
        cfg.timeout = cfg.interval
        let tc = t["timeout"]
        if let d = try tc.duration() {
            guard d >= 0.1, d <= 3600 else { throw tc.error("must be between 100ms and 1h") }
            cfg.timeout = d
        }
        if let n = try t["fall"].int(in: 1...100) { cfg.fall = Int(n) }
        if let n = try t["rise"].int(in: 1...100) { cfg.rise = Int(n) }
        let known = ["command", "args", "interfaces", "interval", "timeout", "fall", "rise"]
        for k in t.mappingKeys where !known.contains(k) {
            throw t[k].error("unknown key (known: \(known.joined(separator: ", ")))", value: k)
        }
        return cfg
    }

    static func nonNegative(_ c: YAMLCursor) throws -> Double? {
        guard let t = try c.string() else { return nil }
        guard let d = Duration.parse(t), d >= 0 else { throw c.error("expected a duration like 1s, 500ms or 0s") }
        guard !Duration.isTooLong(d) else { throw c.error(Duration.tooLongReason) }
        return d
    }

    static func isEnvironmentName(_ n: String) -> Bool {
        guard let f = n.first, f == "_" || (f.isASCII && f.isLetter) else { return false }
        return n.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    static func loggingSection(_ l: YAMLCursor, overrides: RaftOverrides, file: String) throws -> RaftLoggingConfig {
        try l.requireMapping()
        var cfg = RaftLoggingConfig()
        if let o = overrides.logLevel {
            _ = l["level"]
            guard let v = RaftLoggingConfig.level(o) else {
                throw ConfigError(file: file, keyPath: "--log-level", value: o, reason: "expected debug, info, warn or error")
            }
            cfg.level = v
        } else if let t = try l["level"].string() {
            guard let v = RaftLoggingConfig.level(t) else { throw l["level"].error("expected debug, info, warn or error") }
            cfg.level = v
        }
        if let o = overrides.logFormat {
            _ = l["format"]
            guard let v = RaftLoggingConfig.Format(rawValue: o.lowercased()) else {
                throw ConfigError(file: file, keyPath: "--log-format", value: o, reason: "expected json or text")
            }
            cfg.format = v
        } else if let t = try l["format"].string() {
            guard let v = RaftLoggingConfig.Format(rawValue: t.lowercased()) else { throw l["format"].error("expected json or text") }
            cfg.format = v
        }
        if let o = try l["output"].string() {
            guard !o.isEmpty else { throw l["output"].error("must not be empty (stderr, stdout or a file path)") }
            cfg.output = o
        }
        return cfg
    }

    /// The control secret: a regular file not accessible by group or others (chmod 600), at least 16 bytes once trimmed.
    static func readSecret(_ path: String, cursor: YAMLCursor) throws -> String {
        let data: [UInt8]
        switch FileBytes.readSecret(path, what: "secret file") {
        case .success(let d): data = d
        case .failure(let e): throw cursor.error(e.reason, value: path)
        }
        let text = String(decoding: data, as: UTF8.self).trimmed()
        guard text.utf8.count >= minimumSecretBytes else {
            throw cursor.error("secret is too short (\(text.utf8.count) bytes; at least \(minimumSecretBytes))", value: path)
        }
        return text
    }
}

/// Go-template-style placeholders in hook environment values: `{{.NodeID}}`, `{{ .Event }}` ...
public enum HookTemplate {
    public static let names = ["NodeID", "Event", "RaftAddr", "LeaderID", "Term"]

    /// nil when every placeholder is known, else why not.
    public static func validate(_ text: String) -> String? {
        var ok = true
        var bad = ""
        _ = expand(text) { name in
            if !names.contains(name) { ok = false; bad = "{{.\(name)}}" }
            return ""
        } onError: { ok = false; bad = $0 }
        if ok { return nil }
        return ("unknown template '\(bad)' (known: " + names.map { "{{.\($0)}}" }.joined(separator: " ") + ")")
    }

    /// Replaces each `{{.Name}}` (spaces allowed inside the braces) with `value(Name)`.
    public static func expand(_ text: String, values: [String: String]) -> String {
        expand(text) { values[$0] ?? "" } onError: { _ in }
    }

    static func expand(_ text: String, _ value: (String) -> String, onError: (String) -> Void) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                onError(String(rest[open.lowerBound...]))
                out += rest[open.lowerBound...]
                return out
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmedSpaces()
            if inner.hasPrefix(".") {
                out += value(String(inner.dropFirst()))
            } else {
                onError("{{\(inner)}}")
            }
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}
