import ArgumentParser
import EzlbConfig
import EzlbCore
import EzlbRaft
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

struct RaftServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run this node: Raft election, hooks on role changes, the control endpoint.",
        discussion: """
        --bootstrap starts a new one-node cluster (refused when data_dir already holds Raft data); run \
        it on exactly one node, once. Without it, an empty data_dir waits to be added with \
        `ezlb raft join`, and an existing one rejoins its cluster. SIGTERM/SIGINT: transfer leadership \
        if leader, run ToDestroy, exit 0. SIGHUP: reload the hooks section. Under systemd (Type=notify): \
        READY=1 once serving, STATUS= on role changes, STOPPING=1 when a stop begins, WATCHDOG=1 at \
        half of WatchdogSec.
        Control endpoint: <data_dir>/control.sock (mode 0600) always; TCP on the raft host at port+1 \
        when cluster.secret/secret_file is set (every request HMAC-signed) or, without a secret, only \
        when raft_addr is a loopback address.

        Example:
          ezlb raft serve -c /etc/ezlb/raft.yaml
        """
    )

    @OptionGroup var options: RaftOptions

    @Flag(help: "Create a new cluster with this node as its only voter.")
    var bootstrap = false

    @Option(name: .customLong("metrics-file"),
            help: ArgumentHelp("Keep the node's role, term, leader and hook results in this file as Prometheus text (node_exporter's textfile collector; rewritten on a change and every 10 s). Env: EZLB_METRICS_FILE.", valueName: "path"),
            completion: .file(extensions: ["prom"]))
    var metricsFile: String?

    func run() throws {
        try Runner.run(command: "raft serve", output: .text) {
            let settings = try options.load(joining: !bootstrap)
            var log = try RaftLogHandler.logger(label: "ezlb", config: settings.logging)
            log[metadataKey: "node"] = .string(settings.nodeID)
            for k in settings.unknownKeys { log.warning("\(settings.file): \(k): unknown key, ignored") }
            for p in HookDispatcher.problems(settings.hooks) { log.warning("\(settings.file): \(p)") }
            try RaftNode.serve(settings, bootstrap: bootstrap, metricsFile: CommonValues.metricsFile(metricsFile), log: log)
            return CommandReport(command: "raft serve", dryRun: false)
        }
    }
}
