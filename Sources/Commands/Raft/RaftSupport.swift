import ArgumentParser
import EzlbConfig
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EzlbRaft
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Options every `raft` subcommand takes: the seed's config file and its flag overrides.
struct RaftOptions: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: ArgumentHelp("Raft config file (YAML, the vip-switch config.yaml format).", valueName: "path"))
    var config: String = "/etc/ezlb/raft.yaml"

    @Option(name: .customLong("node-id"), help: ArgumentHelp("Override node.id.", valueName: "id"))
    var nodeID: String?

    @Option(name: .customLong("raft-addr"), help: ArgumentHelp("Override node.raft_addr.", valueName: "host:port"))
    var raftAddr: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Override node.data_dir.", valueName: "dir"))
    var dataDir: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("Override logging.level.", valueName: "trace|debug|info|warn|error"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("Override logging.format.", valueName: "text|json"))
    var logFormat: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Result format on stdout.", valueName: "text|json"))
    var output: OutputFormat = .text

    var overrides: RaftOverrides {
        RaftOverrides(nodeID: nodeID, raftAddr: raftAddr, dataDir: dataDir, logLevel: logLevel, logFormat: logFormat)
    }

    func load(joining: Bool) throws -> RaftSettings {
        try RaftSettings.load(path: config, overrides: overrides, joining: joining)
    }
}

/// Runs a raft client command with the usual conventions (one-line errors,
/// documented exit codes, text or JSON result on stdout).
enum RaftRunner {
    static func json(_ s: RaftStatusInfo) -> [String: JSONValue] {
        func m(_ x: MemberInfo) -> JSONValue {
            .object(["id": .string(x.id), "raft_id": .string(x.raftID), "addr": .string(x.addr), "role": .string(x.role)])
        }
        return [
            "node": .string(s.node), "raft_id": .string(s.raftID), "addr": .string(s.addr),
            "role": .string(s.role), "term": .int(Int(clamping: s.term)),
            "leader": s.leader.map(m) ?? .null, "member": .bool(s.member),
            "members": .array(s.members.map(m)), "hook": s.hook.map { .string($0) } ?? .null,
            "last_index": .int(Int(clamping: s.lastIndex)), "applied_index": .int(Int(clamping: s.appliedIndex)),
            "refused_connections": .int(Int(clamping: s.refusedConnections)),
            "refused_last_peer": s.refusedLastPeer.map { .string($0) } ?? .null,
            "healthy": s.healthy.map { .bool($0) } ?? .null,
            "unhealthy": .array(s.unhealthy.map { .string($0) }),
        ]
    }

    static func text(_ s: RaftStatusInfo) -> String {
        var out = """
        node:    \(s.node) (\(s.addr))\(s.member ? "" : " — not a member")
        role:    \(s.role)
        term:    \(s.term)
        leader:  \(s.leader.map { "\($0.id) (\($0.addr))" } ?? "none")
        hook:    \(s.hook ?? "-")\(s.healthy.map { "\ntrack:   \($0 ? "healthy" : "unhealthy: not fit to be Master")" } ?? "")\(s.unhealthy.isEmpty ? "" : "\nunhealthy members: \(s.unhealthy.joined(separator: ", "))")\(s.refusedConnections == 0 ? "" : "\nrefused: \(s.refusedConnections) raft connection(s) without the cluster secret (last from \(s.refusedLastPeer ?? "?"))")
        members:

        """
        let w = s.members.map(\.id.count).max() ?? 0
        for m in s.members {
            let lead = m.raftID == s.leader?.raftID ? "  leader" : ""
            out += "  \(m.id.padded(to: w))  \(m.addr)  \(m.role)\(lead)\n"
        }
        return out
    }

    /// The local `serve`'s status through the unix socket in data_dir.
    /// `--timeout` of join/leave: a finite number of seconds in (0, 3600] (inf or 1e20 would trap in the client).
    static func validateTimeout(_ timeout: Double) throws {
        guard timeout.isFinite, timeout > 0, timeout <= 3600 else {
            throw ValidationError("--timeout: '\(timeout)': expected seconds in (0, 3600]")
        }
    }

    /// The control endpoint of the member whose raft address is `raft` (its control_addr in
    /// cluster.nodes, else raft port + 1).
    static func controlEndpoint(_ raft: String, _ settings: RaftSettings) throws -> ControlEndpoint {
        guard let c = settings.controlAddress(forRaftAddress: raft), let (h, p) = splitHostPort(c) else {
            throw Failure.usage("--peer: '\(raft)': expected a member's raft address host:port")
        }
        return .tcp(host: h, port: p)
    }

    static func clientLogger(_ settings: RaftSettings?) -> Logger {
        var l = Logger(label: "ezlb") { _ in StreamLogHandler.standardError(label: "ezlb") }
        l.logLevel = .warning
        if let s = settings, s.logging.level == .debug || s.logging.level == .trace { l.logLevel = .debug }
        return l
    }
}
