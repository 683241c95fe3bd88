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

/// The wiring every `snat` subcommand shares: config → ownership → backend → managed-chain planner → report.
struct SNATSession {
    let opts: CommonOptions
    let log: Logger
    let dir: StateDirectory

    init(_ opts: CommonOptions, log: Logger) {
        self.opts = opts
        self.log = log
        dir = StateDirectory(path: opts.stateDir)
    }

    /// FullNAT services of the config, in config order.
    func fullNATServices(into report: inout CommandReport) throws -> [FullNATService] {
        let cfg = try EzlbConfiguration.load(path: opts.config)
        for k in cfg.unknownKeys { report.warnings.append("\(cfg.file): \(k): unknown key, ignored") }
        return cfg.services.filter(\.fullNAT).map { s in
            var proto: IPVSProtocol? = nil
            if case .inet(let p, _) = s.key { proto = p }
            return FullNATService(name: s.name, proto: proto, backends: s.backends.map(\.endpoint), snatIP: s.snatIP)
        }
    }

    /// The health view `snat sync` filters backends with: what the last `ipvs apply`
    /// stored in health.json (no file: every backend healthy).
    func health() throws -> BackendHealthView { StoredHealthView(try dir.readHealth()) }

    func openBackend() throws -> XTBackend {
        do {
            return try KernelBackends.xtables(kind: opts.backend() == .fake ? .fake : .kernel, stateDir: dir,
                                              lockTimeout: opts.lockTimeout)
        } catch let e as XTError {
            throw Self.failure(e)
        }
    }

    static func failure(_ e: XTError) -> EzlbFailure {
        EzlbFailure(e.kind == .lockTimeout ? .busy : .failure, e.description)
    }

    /// The chains ezlb may manage for FullNAT even when snat.json lost track of them.
    static var wellKnown: [ManagedChainID] {
        IPFamily.allCases.flatMap { f in [
            ManagedChainID(ref: XTTableRef(f, .nat), name: SNATRules.natChain, hook: "POSTROUTING"),
            ManagedChainID(ref: XTTableRef(f, .filter), name: SNATRules.forwardChain, hook: "FORWARD"),
        ] }
    }

    /// Plans every table, commits the ones that differ (one commit each), records ownership.
    func reconcile(desired: [ManagedChain], owned: [ManagedChainID], backend: XTBackend,
                   report: inout CommandReport) throws {
        var plans: [XTTablePlan] = []
        for ref in SNATRules.tables {
            let d = desired.filter { $0.ref == ref }
            let o = owned.filter { $0.ref == ref }
            if d.isEmpty && o.isEmpty { continue } // never even open a table ezlb has nothing in
            let actual: XTTableState
            do { actual = try backend.read(ref, chains: ManagedChainPlanner.chainsToRead(desired: d, owned: o)) }
            catch let e as XTError where e.kind == .tableUnavailable && d.isEmpty {
                // A table the kernel cannot even load holds none of ezlb's chains.
                log.debug("\(ref): \(e); nothing to remove there")
                continue
            } catch let e as XTError { throw Self.failure(e) }
            let plan = ManagedChainPlanner.plan(desired: d, owned: o, actual: actual)
            log.debug("\(ref): \(plan.operations.count) operations")
            plans.append(plan)
        }
        let desiredIDs = desired.map(\.id)
        var commits = 0
        if opts.dryRun {
            for p in plans { report.actions += p.changes.map { ActionRecord(text: $0.text, json: $0.json, error: nil) } }
        } else {
            // Intent first: own everything about to be created (and what is still to be removed).
            let intent = SNATOwnership(chains: owned.filter { o in plans.contains { $0.ref == o.ref && $0.needsCommit } || desiredIDs.contains(o) } + desiredIDs)
            let before = SNATOwnership(chains: owned)
            if plans.contains(where: \.needsCommit), intent != before { try dir.writeSNATOwnership(intent) }
            var final: [ManagedChainID] = []
            for p in plans {
                var error: String? = nil
                if p.needsCommit {
                    do {
                        try backend.commit(p.ref, p.operations)
                        commits += 1
                        log.info("\(p.ref): committed \(p.operations.count) operations")
                    } catch let e as XTError {
                        if e.kind == .lockTimeout { throw Self.failure(e) }
                        error = e.description
                    }
                }
                if error == nil {
                    final += desiredIDs.filter { $0.ref == p.ref }
                } else {
                    final += intent.chains.filter { $0.ref == p.ref }
                }
                report.actions += p.changes.map { ActionRecord(text: $0.text, json: $0.json, error: error) }
                if let e = error, p.changes.isEmpty { report.errors.append(e) }
            }
            // Tables not read keep nothing (they had neither desired nor owned chains).
            let after = SNATOwnership(chains: final)
            if after != before || (plans.contains(where: \.needsCommit) && after != intent) { try dir.writeSNATOwnership(after) }
        }
        report.extra["commits"] = .int(commits)
        summarize(&report)
    }

    /// Owned chains (snat.json); with `takeOver`, also ezlb's well-known chain names.
    func owned(takeOver: Bool) throws -> [ManagedChainID] {
        var o = try dir.readSNATOwnership().chains
        if takeOver { for w in Self.wellKnown where !o.contains(w) { o.append(w) } }
        return o
    }

    func summarize(_ report: inout CommandReport) {
        let ok = report.actions.filter { $0.error == nil }
        let failed = report.actions.count - ok.count
        if report.actions.isEmpty { report.summary = "no changes"; return }
        let add = ok.filter { $0.text.hasPrefix("+") }.count, del = ok.filter { $0.text.hasPrefix("-") }.count
        var s = opts.dryRun ? "plan: \(add) to add, \(del) to delete" : "applied: \(add) added, \(del) deleted"
        if failed > 0 { s += ", \(failed) failed" }
        report.summary = s
    }
}
