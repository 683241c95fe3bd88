import EzlbCore
import EzlbPlanner
import Kernel
import Logging

/// What became of one table of a managed-chain reconcile.
struct TableResult {
    var plan: XTTablePlan
    var scope: XTDigestScope
    /// Why its commit was refused (its changes did not happen).
    var error: String? = nil
    /// The digest of `scope` in the table as the kernel now holds it (nil: unknown).
    var digest: [UInt8]? = nil
}

/// The one managed-chain reconcile, used by FullNAT (`snat sync|cleanup`) and the bridges'
/// MASQUERADE chains: each table ezlb has something in is read and planned
/// (`ManagedChainPlanner`), then each that differs is committed once, atomically. Other
/// tables are never opened; other chains and rules are never touched.
struct ManagedChains {
    let backend: XTBackend
    let dryRun: Bool
    let log: Logger

    /// Plans every table holding desired or owned chains. A table the kernel cannot load
    /// holds none of ezlb's chains: with nothing desired there, it is skipped.
    func plan(desired: [ManagedChain], owned: [ManagedChainID]) throws -> [TableResult] {
        var out: [TableResult] = []
        // In SNATRules.tables' order (nat before filter): the order of the commits and of the report.
        let order = { (r: XTTableRef) in SNATRules.tables.firstIndex(of: r) ?? SNATRules.tables.count }
        for ref in Set(desired.map(\.ref) + owned.map(\.ref)).sorted(by: { (order($0), $0) < (order($1), $1) }) {
            let d = desired.filter { $0.ref == ref }, o = owned.filter { $0.ref == ref }
            let actual: XTTableState
            do { actual = try backend.read(ref, chains: ManagedChainPlanner.chainsToRead(desired: d, owned: o)) }
            catch let e as XTError where e.kind == .tableUnavailable && d.isEmpty {
                log.debug("\(ref): \(e); nothing to remove there")
                continue
            }
            let plan = ManagedChainPlanner.plan(desired: d, owned: o, actual: actual)
            log.debug("\(ref): \(plan.operations.count) operations")
            out.append(TableResult(plan: plan, scope: ManagedChainPlanner.digestScope(desired: d, owned: o)))
        }
        return out
    }

    /// Commits each table that needs it (unless a dry run); with `digests`, records each
    /// table's digest as committed or, when nothing had to change, as read. A refused commit
    /// is that table's error; a lost xtables lock ends the run.
    func commit(_ tables: inout [TableResult], digests: Bool) throws {
        guard !dryRun else { return }
        for i in tables.indices {
            let p = tables[i].plan
            let scope = digests ? tables[i].scope : nil
            if p.needsCommit {
                do {
                    tables[i].digest = try backend.commit(p.ref, p.operations, digest: scope)
                    log.info("\(p.ref): committed \(p.operations.count) operations")
                } catch let e as XTError where e.kind != .lockTimeout {
                    tables[i].error = e.description
                }
            } else if let s = scope {
                tables[i].digest = backend.readDigest(p.ref, scope: s)
            }
        }
    }

    /// The tables' changes as report actions, each with its table's outcome.
    static func record(_ tables: [TableResult], into report: inout CommandReport) {
        report.actions.reserveCapacity(report.actions.count + tables.reduce(0) { $0 + $1.plan.changes.count })
        for t in tables {
            for c in t.plan.changes { report.add(c, error: t.error) }
            if let e = t.error, t.plan.changes.isEmpty { report.errors.append(e) }
        }
    }
}
