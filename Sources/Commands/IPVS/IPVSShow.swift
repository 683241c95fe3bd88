import ArgumentParser
import EzlbCore
import EzlbPlanner
import EzlbReconcile

struct IPVSShow: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, ipvsadm }

    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show the kernel's IPVS table, marking the services ezlb manages.",
        discussion: "--format ipvsadm prints exactly what 'ipvsadm -S -n' prints (input for 'ipvsadm -R').\n\nExample:\n  ezlb ipvs show --format ipvsadm > rules.save"
    )

    @OptionGroup var options: CommonOptions

    @Option(help: ArgumentHelp("Text layout: table, or ipvsadm save syntax.", valueName: "table|ipvsadm"))
    var format: Format = .table

    @Flag(help: "Show only the services ezlb manages.")
    var managed = false

    func run() throws {
        try Runner.run(options.values, command: "ipvs show") { ctx in
            var report = CommandReport(command: "ipvs show", dryRun: false)
            var (dumped, owned) = try IPVSReconciler(ctx).table()
            // Kernel order is kept for --format ipvsadm, which sorts it the way ipvsadm does.
            if managed { dumped = dumped.filter { owned[$0.key] != nil } }
            let table = dumped.sorted { $0.key < $1.key }
            report.extra["services"] = .array(table.map { st in
                guard case .object(var o) = IPVSFormat.serviceJSON(st.service) else { return .null }
                o["managed"] = .bool(owned[st.key] != nil)
                o["name"] = owned[st.key].map { .string($0) } ?? .null
                o["destinations"] = .array(st.destinations.sorted { $0.endpoint < $1.endpoint }.map(IPVSFormat.destJSON))
                return .object(o)
            })
            switch format {
            case .ipvsadm:
                report.body = IPVSFormat.ipvsadmSave(dumped)
            case .table:
                var out = ""
                for st in table {
                    let mark = owned[st.key].map { "  [managed: \($0)]" } ?? ""
                    out += "\(st.key) \(IPVSFormat.serviceSettings(st.service))\(mark)\n"
                    for d in st.destinations.sorted(by: { $0.endpoint < $1.endpoint }) {
                        out += "  -> \(d.endpoint) \(IPVSFormat.destSettings(d))\n"
                    }
                }
                report.body = out
                report.summary = "\(table.count) services, \(table.filter { owned[$0.key] != nil }.count) managed by ezlb"
            }
            return report
        }
    }
}
