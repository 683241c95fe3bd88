import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile

struct IPVSShow: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, ipvsadm }

    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the kernel's IPVS table, marking the services ezlb manages.",
        discussion: """
        Destinations show their active and inactive connections; --stats adds the kernel's counters \
        (as 'ipvsadm -L -n --stats --exact' and '--rate'). -o json always carries them: 'stats' per \
        service and destination (connections, packets, bytes and their rates per second). \
        --format ipvsadm prints exactly what 'ipvsadm -S -n' prints (input for 'ipvsadm -R').

        Example:
          ezlb ipvs show --format ipvsadm > rules.save
        """
    )

    @OptionGroup var options: CommonOptions

    @Option(help: ArgumentHelp("Text layout: table, or ipvsadm save syntax.", valueName: "table|ipvsadm"))
    var format: Format = .table

    @Flag(help: "Show only the services ezlb manages.")
    var managed = false

    @Flag(help: "Add the kernel's counters and rates to each line of the table.")
    var stats = false

    func run() throws {
        try Runner.run(options.values, command: "ipvs show") { ctx in
            var report = CommandReport(command: "ipvs show", dryRun: false)
            var (dumped, owned) = try IPVSReconciler(ctx).table()
            // Kernel order is kept for --format ipvsadm, which sorts it the way ipvsadm does.
            if managed { dumped = dumped.filter { owned[$0.state.key] != nil } }
            let table = dumped.sorted { $0.state.key < $1.state.key }
            func sortedDests(_ d: IPVSServiceDetail) -> [(RealServer, IPVSDestinationDetail)] {
                zip(d.state.destinations, d.destinations).sorted { $0.0.endpoint < $1.0.endpoint }
            }
            report.extra["services"] = .array(table.map { d in
                guard case .object(var o) = IPVSFormat.serviceJSON(d.state.service) else { return .null }
                o["managed"] = .bool(owned[d.state.key] != nil)
                o["name"] = owned[d.state.key].map { .string($0) } ?? .null
                o["stats"] = IPVSFormat.statsJSON(d.stats)
                o["destinations"] = .array(sortedDests(d).map { IPVSFormat.destJSON($0.0, detail: $0.1) })
                return .object(o)
            })
            switch format {
            case .ipvsadm:
                report.body = IPVSFormat.ipvsadmSave(dumped)
            case .table:
                var out = ""
                for d in table {
                    let mark = owned[d.state.key].map { "  [managed: \($0)]" } ?? ""
                    out += "\(d.state.key) \(IPVSFormat.serviceSettings(d.state.service))\(mark)"
                    out += stats ? "  \(IPVSFormat.statsText(d.stats))\n" : "\n"
                    for (dest, detail) in sortedDests(d) {
                        out += "  -> \(dest.endpoint) \(IPVSFormat.destSettings(dest))"
                        out += " active \(detail.activeConnections) inactive \(detail.inactiveConnections)"
                        out += stats ? "  \(IPVSFormat.statsText(detail.stats))\n" : "\n"
                    }
                }
                report.body = out
                report.summary = "\(table.count) services, \(table.filter { owned[$0.state.key] != nil }.count) managed by ezlb"
            }
            return report
        }
    }
}
