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
struct SNATSession: CommandSession {
    let opts: CommonValues
    let log: Logger
    let dir: StateDirectory

    /// FullNAT services of the config, in config order (an unchanged config from `snat-config.cache`).
    /// `parsing` runs first when the file has to be parsed.
    func fullNATServices(into report: inout CommandReport) throws -> [FullNATService] {
        if let cached = cachedFullNATServices(into: &report) { return cached }
        let cfg = try EzlbConfiguration.load(path: opts.config)
        let warnings = cfg.unknownKeys.map { "\(cfg.file): \($0): unknown key, ignored" }
        report.warnings += warnings
        let services = cfg.services.filter(\.fullNAT).map { s in
            var proto: IPVSProtocol? = nil
            if case .inet(let p, _) = s.key { proto = p }
            return FullNATService(name: s.name, proto: proto, backends: s.backends.map(\.endpoint), snatIP: s.snatIP)
        }
        cacheFullNATServices(services, warnings: warnings)
        return services
    }

    /// The health view `snat sync` filters backends with: what the last `ipvs apply`
    /// stored in health.json (no file: every backend healthy).
    func health() throws -> BackendHealthView { StoredHealthView(try dir.readHealth()) }

    func openBackend() throws -> XTBackend {
        do {
            return try KernelBackends.xtables(kind: opts.backend() == .fake ? .fake : .kernel, stateDir: dir,
                                              lockTimeout: opts.lockTimeout)
        } catch let e as XTError {
            throw e
        }
    }

    /// The chains ezlb may manage for FullNAT even when snat.json lost track of them.
    static var wellKnown: [ManagedChainID] {
        IPFamily.allCases.flatMap { f in [
            ManagedChainID(ref: XTTableRef(f, .nat), name: SNATRules.natChain, hook: "POSTROUTING"),
            ManagedChainID(ref: XTTableRef(f, .filter), name: SNATRules.forwardChain, hook: "FORWARD"),
        ] }
    }

    /// Plans every table, commits the ones that differ (one commit each), records ownership.
    /// With `convergedInputs` (`SNATRules.inputDigest` of what `desired` was built from),
    /// a run that leaves every table converged records their digests in
    /// `snat-kernel.cache` for the next run's fast path.
    func reconcile(desired: [ManagedChain], owned: [ManagedChainID], backend: XTBackend,
                   report: inout CommandReport, convergedInputs: [UInt8]? = nil) throws {
        var clock = PhaseClock(log: log)
        var plans: [XTTablePlan] = []
        var scopes: [XTTableRef: XTDigestScope] = [:]
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
            } catch let e as XTError { throw e }
            let plan = ManagedChainPlanner.plan(desired: d, owned: o, actual: actual)
            log.debug("\(ref): \(plan.operations.count) operations")
            plans.append(plan)
            scopes[ref] = ManagedChainPlanner.digestScope(desired: d, owned: o)
        }
        clock.lap("read tables and plan")
        let digesting = convergedInputs == nil || opts.dryRun ? nil : backend as? XTDigestingBackend
        var converged: [ConvergedTables.Table]? = digesting == nil ? nil : []
        let desiredIDs = desired.map(\.id)
        var commits = 0
        if opts.dryRun {
            for p in plans { record(p.changes, error: nil, into: &report) }
        } else {
            let committing = plans.filter(\.needsCommit)
            // Intent first: own everything about to be created (and what is still to be removed).
            let intent = SNATOwnership(chains: owned.filter { o in plans.contains { $0.ref == o.ref && $0.needsCommit } || desiredIDs.contains(o) } + desiredIDs)
            let before = SNATOwnership(chains: owned)
            let wroteIntent = !committing.isEmpty && intent != before
            if wroteIntent { try dir.writeSNATOwnership(intent) }
            clock.lap("intent record")
            var final: [ManagedChainID] = []
            // The report as it will be when every commit succeeds, rendered on another
            // thread while the kernel takes the tables (10,000 backends: 20,000 actions);
            // any other outcome is rendered as usual at the end.
            var prerender: PrerenderedReport? = nil
            // After each table's commit its actions are final: the thread writes them out
            // while the next table is committed (the report's action count after each plan).
            var segments: [Int] = []
            var n = report.actions.count
            for p in plans { n += p.changes.count; segments.append(n) }
            if !committing.isEmpty && report.errors.isEmpty {
                let base = report, session = self, planned = plans // copies: the thread reads nothing shared
                prerender = PrerenderedReport(format: opts.output, segments: segments) {
                    var expected = base
                    for p in planned { session.record(p.changes, error: nil, into: &expected) }
                    expected.extra["commits"] = .int(committing.count)
                    session.summarize(&expected)
                    return expected
                }
            }
            defer { report.prerendered = prerender }
            clock.lap("report rendering started")
            var streaming = true // every table so far committed as planned
            // While every table goes as planned, the actions of the first `deferred` plans are
            // not recorded here: the prerendered report has exactly those records (made on its
            // thread from the same plans, before the first commit returns) and they are taken
            // from it at the end. Anything else records them here first, in order, as usual.
            var deferred = 0
            for (i, p) in plans.enumerated() {
                var error: String? = nil
                let scope = scopes[p.ref]!
                var digest: [UInt8]? = nil
                if p.needsCommit {
                    do {
                        if let db = digesting { digest = try db.commit(p.ref, p.operations, digest: scope) }
                        else { try backend.commit(p.ref, p.operations) }
                        commits += 1
                        log.info("\(p.ref): committed \(p.operations.count) operations")
                        clock.lap("\(p.ref): commit")
                    } catch let e as XTError {
                        if e.kind == .lockTimeout { throw e }
                        error = e.description
                    }
                } else {
                    digest = digesting?.readDigest(p.ref, scope: scope)
                }
                if let d = digest, error == nil { converged?.append(ConvergedTables.Table(ref: p.ref, scope: scope, digest: d)) }
                else { converged = nil }
                if error == nil {
                    final += desiredIDs.filter { $0.ref == p.ref }
                } else {
                    final += intent.chains.filter { $0.ref == p.ref }
                }
                if error == nil && streaming && prerender != nil {
                    deferred += 1
                } else {
                    for q in plans.prefix(deferred) { record(q.changes, error: nil, into: &report) }
                    deferred = 0
                    record(p.changes, error: error, into: &report)
                }
                if let e = error, p.changes.isEmpty { report.errors.append(e) }
                if error != nil { streaming = false }
                if streaming { prerender?.confirm(actions: segments[i]) }
            }
            if deferred > 0, let p = prerender {
                // Every plan went as planned: the report is the base plus all plans' records.
                report.actions = p.madeReport().actions
            }
            // Tables not read keep nothing (they had neither desired nor owned chains).
            // Written only when it differs from what snat.json already says: after adding
            // chains the intent record is already exactly this (two fewer fsyncs per sync).
            let after = SNATOwnership(chains: final)
            if after != (wroteIntent ? intent : before) { try dir.writeSNATOwnership(after) }
            // Every table converged (committed or verified): the next run with the same
            // inputs and this ownership can tell from the digests alone.
            if let tables = converged, let inputs = convergedInputs, let key = convergedKey(inputs: inputs) {
                recordConverged(key: key, tables: tables)
            }
        }
        clock.lap("record state")
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
        if report.actions.isEmpty { report.summary = "no changes"; return }
        let (add, _, del, failed) = report.tally()
        var s = opts.dryRun ? "plan: \(add) to add, \(del) to delete" : "applied: \(add) added, \(del) deleted"
        if failed > 0 { s += ", \(failed) failed" }
        report.summary = s
    }
}
