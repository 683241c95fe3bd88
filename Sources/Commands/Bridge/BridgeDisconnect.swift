import ArgumentParser
import EzlbCore
import EzlbIPAM
import EzlbState

struct BridgeDisconnect: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "disconnect",
        abstract: "Delete an owner's veth and release its address (idempotent)."
    )

    @OptionGroup var options: CommonOptions

    @Argument(help: ArgumentHelp("Bridge name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("The owner given to connect.", valueName: "id"))
    var owner: String

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values, name: name, owner: owner) }

    struct Args: FastRunnable {
        var options: CommonValues
        var name: String
        var owner: String

        func run() throws {
            try Runner.run(options, command: "bridge disconnect") { log in
                var report = CommandReport(command: "bridge disconnect", dryRun: options.dryRun)
                let name = try BridgeSession.bridgeName(self.name)
                do { try IPAM.validateOwner(owner) } catch let e as IPAMError { throw e }
                let s = BridgeSession(options, log: log)
                try s.lock()
                var state = try s.readState()
                guard let bi = state.bridges.firstIndex(where: { $0.name == name }),
                      let c = state.bridges[bi].connections.first(where: { $0.owner == owner }) else {
                    report.summary = "no changes"
                    return report
                }
                let subnet = try IPAMSession.subnet(state.bridges[bi].subnet, flag: "bridges.json: \(name).subnet")
                var ipamState = try s.ipam.read()
                try s.disconnect(state.bridges[bi], c, subnet: subnet, ipamState: &ipamState, report: &report)
                if !options.dryRun {
                    try s.commitFake()
                    try s.ipam.write(ipamState, syncDirectory: false) // writeState's directory fsync covers it
                    state.bridges[bi].connections.removeAll { $0.owner == owner }
                    try s.writeState(state)
                }
                return report
            }
        }
    }
}
