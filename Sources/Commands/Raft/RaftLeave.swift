import ArgumentParser
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EzlbRaft

struct RaftLeave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leave",
        abstract: "Remove this node (or --node ID) from the cluster, gracefully.",
        discussion: """
        Without --node: if this node leads, its serve transfers leadership first (ToSlave runs here, \
        ToMaster on the new leader), then the leader removes it. With --node: removes another member \
        (e.g. a dead one) through this node's serve or --peer. Removing a non-member changes nothing. \
        A removal that would leave the remaining voters without a reachable majority (the cluster would \
        have no Master until the others return) is refused unless --force. \
        The serve of a node that left stops (ToDestroy, exit 0): a removed server is never told of its \
        removal by the others.

        Example:
          ezlb raft leave -c /etc/ezlb/raft.yaml
        """
    )

    @OptionGroup var options: RaftOptions

    @Option(help: ArgumentHelp("Remove this member instead of the local node.", valueName: "id"))
    var node: String?

    @Option(help: ArgumentHelp("A member's raft address to send the request to (default: the leader known to the local serve).", valueName: "host:port"))
    var peer: String?

    @Option(help: ArgumentHelp("Give up after this many seconds (at most 3600).", valueName: "seconds"))
    var timeout: Double = 60

    @Flag(help: "Remove even when the voters left would have no reachable majority.")
    var force = false

    func validate() throws {
        if let p = peer, controlEndpoint(forRaftAddress: p) == nil {
            throw ValidationError("--peer: '\(p)': expected a member's raft address host:port")
        }
        try RaftRunner.validateTimeout(timeout)
    }

    func run() throws {
        try Runner.run(command: "raft leave", output: options.output) {
            let settings = try options.load(joining: true)
            let log = RaftRunner.clientLogger(settings)
            let target = node ?? settings.nodeID
            let leavingSelf = target == settings.nodeID
            var start: ControlEndpoint? = try peer.map { try RaftRunner.controlEndpoint($0, settings) }
            if leavingSelf {
                // Hand leadership over first; the local serve answers once it no longer leads.
                let t = try ControlClient.call(.unix(RaftPaths.socket(settings.dataDir)),
                                               ControlRequest(method: "transfer", body: "{}"), timeout: timeout)
                guard t.ok else { throw Failure(.failure, "leave \(target): \(t.error ?? "leadership transfer failed")") }
            }
            if start == nil {
                let local = try RaftClient.localStatus(settings.dataDir)
                if !local.member && leavingSelf {
                    var r = CommandReport(command: "raft leave", dryRun: false)
                    r.extra = RaftRunner.json(local)
                    r.body = "\(target) is not a member\n"
                    return r
                }
                // Any live voter that is not the leaving node will do (followers redirect): this
                // node itself when it stays, else the leader, else another voter — never the
                // node being removed, which may well be down.
                let other = (local.member && !leavingSelf ? local.addr : nil)
                    ?? local.leader.flatMap { $0.raftID == local.raftID || $0.id == target ? nil : $0.addr }
                    ?? local.members.first { $0.raftID != local.raftID && $0.id != target && $0.role == "voter" }?.addr
                guard let addr = other, let ep = try? RaftRunner.controlEndpoint(addr, settings) else {
                    throw Failure(.failure, "leave \(target): no other member known; use --peer")
                }
                start = ep
            }
            guard let start else { throw Failure(.failure, "leave \(target): no member known; use --peer") }
            let resp = try RaftClient.clusterCall(start: start, method: "remove", body: jsonText(RemoveBody(id: target, force: force ? true : nil)),
                                                  secret: settings.secret, timeout: timeout, log: log)
            var r = CommandReport(command: "raft leave", dryRun: false)
            if let s = resp.status { r.extra = RaftRunner.json(s) }
            if leavingSelf {
                // A removed server never hears of its removal (the leader stops talking to it):
                // its serve stops now, running ToDestroy, as on SIGTERM.
                _ = try? ControlClient.call(.unix(RaftPaths.socket(settings.dataDir)),
                                            ControlRequest(method: "shutdown", body: "{}"), timeout: 5)
            }
            if resp.changed == true {
                let text = "- member \(target)"
                r.add(FieldAction(text, ["action": "leave", "id": .string(target)]))
            } else {
                r.body = "\(target) is not a member\n"
            }
            return r
        }
    }
}
