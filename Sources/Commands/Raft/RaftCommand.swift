import ArgumentParser

struct RaftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft",
        abstract: "VIP failover: elect one Master through Raft (libraft) and run hooks on role changes.",
        discussion: """
        `raft serve` is ezlb's only long-lived mode. Exactly one node starts a fresh cluster with \
        `raft serve --bootstrap`; every other node runs `raft serve` on an empty data_dir and is added \
        with `raft join --peer ADDR`. The Master (the Raft leader) runs the ToMaster hook (bind the VIP), \
        every other node ToSlave (release it). `raft status` asks the running serve through the unix \
        socket <data_dir>/control.sock.
        """,
        subcommands: [RaftServe.self, RaftJoin.self, RaftLeave.self, RaftStatus.self]
    )
}
