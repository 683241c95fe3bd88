import ArgumentParser
import EzlbCore
import EzlbRaft

struct RaftStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "This node's role, term, leader, members and last hook event (from the running serve).",
        discussion: "Asks the `raft serve` of this data_dir through <data_dir>/control.sock; exit 1 when it does not answer.\n\nExample:\n  ezlb raft status -c /etc/ezlb/raft.yaml -o json"
    )

    @OptionGroup var options: RaftOptions

    func run() throws {
        try Runner.run(command: "raft status", output: options.output) {
            let settings = try options.load(joining: true)
            let s = try RaftClient.localStatus(settings.dataDir)
            var r = CommandReport(command: "raft status", dryRun: false)
            r.extra = RaftRunner.json(s)
            r.body = RaftRunner.text(s)
            return r
        }
    }
}
