import ArgumentParser
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EzlbConfig
import EzlbRaft

struct RaftJoin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Add this node (its running serve, empty data_dir) to the cluster of --peer.",
        discussion: """
        --peer is any member's raft address; its control endpoint is the same host at port+1. A follower \
        redirects to the leader; the leader records the node's name, adds it as spare, lets it catch up \
        as standby, then makes it a voter — one change at a time. Signed with the cluster secret when one \
        is configured. Joining a node that already is a voter changes nothing.

        Example:
          ezlb raft join -c /etc/ezlb/raft.yaml --peer 10.0.0.11:7946
        """
    )

    @OptionGroup var options: RaftOptions

    @Option(help: ArgumentHelp("A member's raft address.", valueName: "host:port"))
    var peer: String

    @Option(help: ArgumentHelp("Give up after this many seconds, at most 3600 (retries while no leader is elected).", valueName: "seconds"))
    var timeout: Double = 60

    func validate() throws {
        guard controlEndpoint(forRaftAddress: peer) != nil else {
            throw ValidationError("--peer: '\(peer)': expected a member's raft address host:port")
        }
        try RaftRunner.validateTimeout(timeout)
    }

    func run() throws {
        try Runner.run(command: "raft join", output: options.output) {
            let settings = try options.load(joining: true)
            let log = RaftRunner.clientLogger(settings)
            // Without a secret no node listens for control requests off loopback: say so now
            // instead of retrying into "Connection refused" until the timeout.
            if settings.secret == nil, let (host, _) = splitHostPort(peer), !isLoopbackHost(host) {
                throw Failure(.config, "\(settings.file): cluster.secret_file: joining through \(peer) over the network needs the cluster's shared secret (cluster.secret_file or cluster.secret on every node; without one the control endpoint listens on loopback only)")
            }
            if case .success(let p) = RaftSettings.canonicalAddress(peer), p == settings.raftAddr {
                throw Failure.usage("--peer: '\(peer)': is this node's own raft address; give a member's")
            }
            let local = try RaftClient.localStatus(settings.dataDir)
            var r = CommandReport(command: "raft join", dryRun: false)
            if local.member, local.members.contains(where: { $0.raftID == local.raftID && $0.role == "voter" }) {
                r.extra = RaftRunner.json(local)
                r.body = "\(settings.nodeID) is already a voter\n"
                return r
            }
            let body = jsonText(JoinBody(id: settings.nodeID, addr: settings.raftAddr))
            let resp = try RaftClient.clusterCall(start: try RaftRunner.controlEndpoint(peer, settings), method: "join", body: body,
                                                  secret: settings.secret, timeout: timeout, log: log)
            if let s = resp.status { r.extra = RaftRunner.json(s) }
            if resp.changed == true {
                let text = "+ member \(settings.nodeID) \(settings.raftAddr) voter"
                r.add(FieldAction(text, ["action": "join", "id": .string(settings.nodeID), "addr": .string(settings.raftAddr)]))
            } else {
                r.body = "\(settings.nodeID) is already a voter\n"
            }
            return r
        }
    }
}
