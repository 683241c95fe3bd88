import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Foundation
import Kernel
import Logging

/// The wiring every `ipvs` subcommand shares: config → ownership → backend → planner → report.
struct IPVSSession {
    let opts: CommonOptions
    let log: Logger
    let dir: StateDirectory

    init(_ opts: CommonOptions, log: Logger) {
        self.opts = opts
        self.log = log
        dir = StateDirectory(path: opts.stateDir)
    }

    func loadConfig(into report: inout CommandReport) throws -> EzlbConfiguration {
        let cfg = try EzlbConfiguration.load(path: opts.config)
        for k in cfg.unknownKeys { report.warnings.append("\(cfg.file): \(k): unknown key, ignored") }
        for k in cfg.unusedKeys { log.info("\(cfg.file): \(k): accepted, not used by ipvs") }
        return cfg
    }

    /// Reads ownership; with `adopt`, a corrupted file is set aside and ownership rebuilt.
    func readOwnership(adopt: Bool, report: inout CommandReport) throws -> [ServiceKey: String] {
        do {
            let o = try dir.readIPVSOwnership()
            return Dictionary(o.services.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
        } catch let e as StateError {
            guard adopt, case .corrupted = e else { throw e }
            let moved = dir.quarantine(IPVSOwnership.fileName)
            report.warnings.append("\(e.description.components(separatedBy: ";").first ?? ""); moved to \(moved ?? "?"), rebuilding ownership from config ∩ kernel")
            return [:]
        }
    }

    func writeOwnership(_ owned: [ServiceKey: String]) throws {
        let entries = owned.map { IPVSOwnership.Entry(key: $0.key, name: $0.value) }
        try dir.writeIPVSOwnership(IPVSOwnership(services: entries))
    }

    func openBackend() throws -> IPVSBackend {
        try KernelBackends.ipvs(kind: opts.backend() == .fake ? .fake : .kernel, stateDir: dir)
    }

    /// Applies `plan` with intent recorded first; returns the report actions.
    func execute(_ plan: IPVSPlan, backend: IPVSBackend, owned: [ServiceKey: String],
                 report: inout CommandReport) throws {
        let ops = plan.operations
        if opts.dryRun || ops.isEmpty {
            report.actions = ops.map { ActionRecord(text: IPVSFormat.text($0), json: IPVSFormat.json($0), error: nil) }
            if !opts.dryRun && plan.ownedAfter != owned { try writeOwnership(plan.ownedAfter) }
            return
        }
        // Intent: own everything about to be created before creating it.
        if plan.ownedIntent != owned { try writeOwnership(plan.ownedIntent) }

        var results: [IPVSError?] = []
        results.reserveCapacity(ops.count)
        let progress = Progress(total: ops.count, label: "applying")
        let chunk = 2000
        var i = 0
        while i < ops.count {
            let slice = Array(ops[i..<min(i + chunk, ops.count)])
            results += backend.apply(slice)
            i += slice.count
            progress.update(i)
        }
        progress.finish()
        var commitError: String? = nil
        do { try backend.commit() } catch { commitError = "\(error)" }

        // Final ownership: what exists now and is ours.
        var finalOwned = plan.ownedAfter
        for (op, err) in zip(ops, results) {
            guard let err else { continue }
            switch op {
            case .addService(let s):
                // Not created by this run (even "exists" means someone else made it meanwhile).
                finalOwned[s.key] = nil
            case .deleteService(let s) where err.kind != .serviceNotFound:
                finalOwned[s.key] = plan.ownedIntent[s.key]
            default: break
            }
        }
        // The intent already says this when every operation went through (the usual case).
        if commitError == nil && finalOwned != plan.ownedIntent { try writeOwnership(finalOwned) }
        report.actions = zip(ops, results).map { op, err in
            ActionRecord(text: IPVSFormat.text(op), json: IPVSFormat.json(op), error: err?.description)
        }
        if let c = commitError { report.errors.append(c) }
        log.info("applied \(ops.count - results.compactMap { $0 }.count)/\(ops.count) operations")
    }

    func summarize(_ report: inout CommandReport, verb: String) {
        let ok = report.actions.filter { $0.error == nil }
        let failed = report.actions.count - ok.count
        let counts = ["+", "~", "-"].map { p in ok.filter { $0.text.hasPrefix(p) }.count }
        if report.actions.isEmpty {
            report.summary = "no changes"
        } else {
            let prefix = opts.dryRun ? "plan" : verb
            var s = "\(prefix): \(counts[0]) to add, \(counts[1]) to change, \(counts[2]) to delete"
            if !opts.dryRun { s = "\(prefix): \(counts[0]) added, \(counts[1]) changed, \(counts[2]) deleted" }
            if failed > 0 { s += ", \(failed) failed" }
            report.summary = s
        }
    }
}
