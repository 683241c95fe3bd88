import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Kernel
import Logging

/// The wiring every `xfrm` subcommand shares: ownership → backend → planner → report.
struct XfrmSession: CommandSession {
    let opts: CommonValues
    let log: Logger
    let dir: StateDirectory

    func openBackend() throws -> XfrmBackend {
        do {
            return try KernelBackends.xfrm(kind: opts.backend() == .fake ? .fake : .kernel, stateDir: dir)
        } catch let e as XfrmError {
            throw e
        }
    }

    /// What sync and cleanup start with, in this order: the xfrm lock (held while the
    /// returned `lock` lives), the ownership record, the rule it implies, the kernel's tables.
    func begin() throws -> (lock: FileLock, old: XfrmOwnership?, rule: XfrmOwnershipRule, backend: XfrmBackend, actual: XfrmTables) {
        let lock = try dir.lock("xfrm", timeoutSeconds: opts.lockTimeout)
        let old = try dir.readXfrmOwnership()
        let backend = try openBackend()
        return (lock, old, Self.rule(old), backend, try dump(backend))
    }

    func dump(_ backend: XfrmBackend) throws -> XfrmTables {
        do { return try backend.dump() } catch let e as XfrmError { throw e }
    }

    static func rule(_ o: XfrmOwnership?) -> XfrmOwnershipRule {
        guard let o else { return XfrmOwnershipRule() }
        return XfrmOwnershipRule(priority: o.priority, reqidFirst: o.reqidFirst, reqidLast: o.reqidLast)
    }

    /// Records `new` when it differs from `old` (before the kernel is touched), applies the plan in
    /// order and stops at the first refused operation (later ones would break make-before-break).
    func execute(_ plan: XfrmPlan, backend: XfrmBackend, old: XfrmOwnership?, new: XfrmOwnership?,
                 report: inout CommandReport) throws {
        report.errors += plan.conflicts
        report.actions.reserveCapacity(plan.changes.count)
        if opts.dryRun {
            report.actions += plan.changes.map { record($0, error: nil) }
        } else {
            if let new, new != old { try dir.writeXfrmOwnership(new) }
            // One batch per planner phase (pipelined on the kernel backend); a phase starts only
            // when every earlier one succeeded, so no policy ever points at a missing SA.
            var failed: String? = nil
            var i = 0
            let changes = plan.changes
            while i < changes.count {
                var j = i
                while j < changes.count && changes[j].phase == changes[i].phase { j += 1 }
                let group = Array(changes[i..<j])
                if let f = failed {
                    report.actions += group.map { record($0, error: "not attempted: \(f)") }
                } else {
                    let results = backend.applyBatch(group.map(\.operation))
                    for (c, e) in zip(group, results) {
                        report.actions.append(record(c, error: e?.description))
                        if let e, failed == nil { failed = "an earlier operation failed (\(e.operation))" }
                    }
                }
                i = j
            }
            do { try backend.commit() } catch let e as XfrmError { throw e }
        }
        report.extra["writes"] = .int(backend.writes)
        summarize(&report)
    }

    /// The report entry of one change: its JSON rendered straight to text for `-o json`
    /// (thousands of changes; the same bytes the dictionary would print), none for text output.
    func record(_ c: XfrmChange, error: String?) -> ActionRecord {
        var r = ActionRecord(text: c.text, json: [:], error: error)
        if opts.output == .json { r.rawJSON = c.jsonText(done: !opts.dryRun && error == nil, error: error) }
        return r
    }

    func summarize(_ report: inout CommandReport) {
        if report.actions.isEmpty { report.summary = "no changes"; return }
        let (add, upd, del, failed) = report.tally()
        var s = opts.dryRun ? "plan: \(add) to add, \(upd) to update, \(del) to delete"
            : "applied: \(add) added, \(upd) updated, \(del) deleted"
        if failed > 0 { s += ", \(failed) failed" }
        report.summary = s
    }

    static func rotationJSON(_ r: XfrmRotation?) -> JSONValue {
        guard let r else { return .null }
        return .object(["out": .int(Int(r.out)), "accepting": .array(r.acceptedGenerations.map { .int(Int($0)) })])
    }
}
