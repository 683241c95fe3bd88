import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
import Logging

/// `snat sync|cleanup`, and what `snat show` reads: FullNAT's rules through nftables
/// (`table inet ezlb`, SNATNFT) or iptables (the EZLB-SNAT (nat) and EZLB-FORWARD (filter)
/// chains per family), with ownership in `snat.json` (written before the kernel is touched).
/// A sync writes through one interface and removes what ezlb owns in the other.
public struct SNATReconciler {
    public let ctx: ReconcileContext
    var log: Logger { ctx.log }

    public init(_ ctx: ReconcileContext) { self.ctx = ctx }

    /// The chains ezlb may manage for FullNAT even when snat.json lost track of them.
    static var wellKnown: [ManagedChainID] {
        IPFamily.allCases.flatMap { f in [
            ManagedChainID(ref: XTTableRef(f, .nat), name: SNATRules.natChain, hook: "POSTROUTING"),
            ManagedChainID(ref: XTTableRef(f, .filter), name: SNATRules.forwardChain, hook: "FORWARD"),
        ] }
    }

    /// `snat sync`: the chains the config's full_nat services need, for their healthy backends
    /// (health.json as `ipvs apply` left it). `onPlanned` gets the report as it will be when
    /// every table commits as planned, before the first commit (the CLI renders it meanwhile).
    public func sync(onPlanned: ((CommandReport) -> Void)? = nil) throws -> CommandReport {
        Backends.tuneHeapForBatch()
        var report = CommandReport(command: "snat sync", dryRun: ctx.dryRun)
        var clock = PhaseClock(log: log)
        let lock = try ctx.lock("snat")
        defer { withExtendedLifetime(lock) {} }
        let configBytes = try EzlbConfiguration.readBytes(path: ctx.configPath)
        let health = try ctx.stateDir.readHealth()
        let ownedBytes = try ctx.bytes(of: SNATOwnership.fileName)
        // `auto` asks the host unless the flag or EZLB_FIREWALL already decided.
        let detection = ctx.firewall?.fixed == nil ? FirewallDetection.detect(ctx.backends) : nil
        let cache = ConvergenceCache(dir: ctx.stateDir, name: "snat")
        let firewallKey = "\(ctx.firewall?.rawValue ?? "-") \(detection?.firewall.rawValue ?? "-")"
        clock.lap("lock, read inputs, choose the firewall")

        // Converged fast path: same inputs, and the kernel as the last converged run left it.
        // nftables: the ruleset's generation id is the one recorded after that run (no
        // transaction since, by anyone). iptables: every table still has the digest the last
        // converged run verified (read raw from the kernel: no per-rule work), read only under
        // the xtables lock (a busy lock fails the run, as the full path would).
        let cached = cache.load(key: key(configBytes, health, ownedBytes, firewall: firewallKey))
        func converged(_ firewall: Firewall, _ warnings: [String], _ what: String) -> CommandReport {
            log.debug("converged: \(cache.fileName) matches \(what) and the inputs; nothing to plan")
            clock.lap("compare with the last converged tables")
            report.fromConvergenceCache = true
            report.warnings = warnings
            report.extra["commits"] = .int(0)
            report.extra["firewall"] = .string(firewall.rawValue)
            report.summarize(changeWord: nil)
            return report
        }
        if let rec = cached, let warnings = Self.decodeNFT(rec.payload), rec.digests.count == 1,
           let gen = try? ctx.backends.nftables().generation(), gen == rec.digests[0] {
            return converged(.nftables, warnings, "the kernel's nftables generation")
        }
        if let rec = cached, let (scopes, warnings) = Self.decode(rec.payload), scopes.count == rec.digests.count,
           case let backend = try ctx.backends.xtables(),
           zip(scopes, rec.digests).allSatisfy({ backend.currentDigest($0.0, scope: $0.1) == $1 }) {
            return converged(.iptables, warnings, "the kernel")
        }
        clock.lap("compare with the last converged tables")

        let cfg = try EzlbConfiguration.parse(EzlbConfiguration.text(configBytes, path: ctx.configPath), file: ctx.configPath)
        report.warnings += cfg.unknownKeys.map { "\(cfg.file): \($0): unknown key, ignored" }
        let services = cfg.services.filter(\.fullNAT).map {
            FullNATService(name: $0.name, key: $0.key, backends: $0.backends.map(\.endpoint), snatIP: $0.snatIP)
        }
        let record = try ownedBytes.map { try ctx.stateDir.load(SNATOwnership.self, bytes: $0) } ?? SNATOwnership()
        let owned = record.chains
        try cfg.requireServices(allowEmpty: ctx.allowEmpty, managing: !owned.isEmpty || !record.nftTables.isEmpty,
                                cleanup: "ezlb snat cleanup")
        let firewall: Firewall
        if let f = ctx.firewall?.fixed ?? cfg.firewall?.fixed {
            firewall = f
            log.info("firewall: \(f.rawValue) (\(ctx.firewall?.fixed != nil ? "--firewall or EZLB_FIREWALL" : "the config's firewall key"))")
        } else {
            let d = detection ?? FirewallDetection.detect(ctx.backends)
            firewall = d.firewall
            log.info("firewall: \(d.firewall.rawValue) (auto: \(d.reason))")
        }
        report.extra["firewall"] = .string(firewall.rawValue)
        if firewall == .nftables {
            clock.lap("load config")
            let nft = try syncNFT(services, health: health, forwardMark: cfg.forwardMark ?? SNATNFT.defaultForwardMark,
                                  record: record, report: &report, onPlanned: onPlanned)
            var commits = nft.committed ? 1 : 0
            // What ezlb still owns in iptables goes, once the nftables table is in place (never
            // when it failed: that would leave no SNAT at all).
            if !owned.isEmpty, !report.failed {
                var xt = CommandReport(command: report.command, dryRun: ctx.dryRun)
                let tables = try reconcile(desired: [], owned: owned, backend: try ctx.backends.xtables(), report: &xt, onPlanned: nil)
                commits += ctx.dryRun ? 0 : tables.filter { $0.plan.needsCommit && $0.error == nil }.count
                report.actions += xt.actions
                report.errors += xt.errors
            }
            report.extra["commits"] = .int(commits)
            report.summarize(changeWord: nil)
            clock.lap("reconcile the nftables table")
            // Converged now: the next run with the same inputs can tell from the generation id
            // (only one that no other program's transaction moved since this run read the table).
            if !ctx.dryRun, !report.failed, owned.isEmpty, let gen = nft.generation {
                cache.store(key: key(configBytes, health, try ctx.bytes(of: SNATOwnership.fileName), firewall: firewallKey),
                            .init(digests: [gen], payload: Self.encodeNFT(warnings: report.warnings)))
            }
            return report
        }
        // A desired chain that exists but is not recorded (state lost) is simply rewritten:
        // EZLB-* names are ezlb's own.
        let desired = SNATRules.chains(services, health: StoredHealthView(health))
        clock.lap("load config, build desired chains")
        let backend = try ctx.backends.xtables()
        let tables = try reconcile(desired: desired, owned: owned, backend: backend, report: &report, onPlanned: onPlanned)
        if !record.nftTables.isEmpty, !report.failed {
            // Switched from nftables: ezlb's table goes once the chains are in place.
            var nft = CommandReport(command: report.command, dryRun: ctx.dryRun)
            if try syncNFT([], health: health, forwardMark: 0, record: try ctx.stateDir.load(SNATOwnership.self) ?? record,
                           report: &nft, onPlanned: nil).committed {
                if case .int(let n)? = report.extra["commits"] { report.extra["commits"] = .int(n + 1) }
            }
            report.actions += nft.actions
            report.errors += nft.errors
            report.summarize(changeWord: nil)
        }

        // Every table converged (committed or verified): the next run with the same inputs and
        // this snat.json can tell from the digests alone.
        let digests = tables.compactMap(\.digest)
        if !ctx.dryRun, !report.failed, !tables.isEmpty, digests.count == tables.count {
            cache.store(key: key(configBytes, health, try ctx.bytes(of: SNATOwnership.fileName), firewall: firewallKey),
                        .init(digests: digests,
                              payload: Self.encode(tables.map { ($0.plan.ref, $0.scope) }, warnings: report.warnings)))
        }
        clock.lap("reconcile tables, record convergence")
        return report
    }

    /// `snat cleanup`: ezlb's chains, their rules and jumps are removed; also EZLB-SNAT and
    /// EZLB-FORWARD left behind when snat.json was lost. Does not read the config.
    public func cleanup() throws -> CommandReport {
        var report = CommandReport(command: "snat cleanup", dryRun: ctx.dryRun)
        let lock = try ctx.lock("snat")
        defer { withExtendedLifetime(lock) {} }
        let record = try ctx.stateDir.load(SNATOwnership.self) ?? SNATOwnership()
        // nftables first: `table inet ezlb` whether recorded or not (the name is ezlb's). A host
        // without nf_tables has no such table; only a recorded one makes that an error.
        do {
            try syncNFT([], health: HealthTable(), forwardMark: 0, record: record, report: &report, onPlanned: nil)
        } catch where record.nftTables.isEmpty {
            log.debug("nftables not readable (\(error)); no table of ezlb's there")
        }
        var owned = record.chains
        for w in Self.wellKnown where !owned.contains(w) { owned.append(w) }
        var xt = CommandReport(command: report.command, dryRun: ctx.dryRun)
        _ = try reconcile(desired: [], owned: owned, backend: try ctx.backends.xtables(), report: &xt, onPlanned: nil)
        report.actions += xt.actions
        report.errors += xt.errors
        report.extra["commits"] = xt.extra["commits"]
        report.summarize(changeWord: nil)
        return report
    }

    /// FullNAT on nftables: plans `table inet ezlb` against the kernel's, records ownership
    /// before the table is created (and after it is deleted), commits one transaction.
    /// Returns whether a transaction was committed, and the ruleset's generation when the table
    /// is now exactly as planned: no transaction but ezlb's own since the table was read.
    @discardableResult
    func syncNFT(_ services: [FullNATService], health: HealthTable, forwardMark: UInt32, record: SNATOwnership,
                 report: inout CommandReport, onPlanned: ((CommandReport) -> Void)?) throws -> (committed: Bool, generation: [UInt8]?) {
        var clock = PhaseClock(log: log)
        let backend = try ctx.backends.nftables()
        let desired = SNATNFT.table(services, health: StoredHealthView(health), forwardMark: forwardMark)
        clock.lap("build the desired table")
        let before = backend.generation()
        let current = try backend.read(SNATNFT.family, SNATNFT.tableName)
        clock.lap("read table \(SNATNFT.family) \(SNATNFT.tableName)")
        let plan = NFTPlanner.plan(desired: desired, current: current, describe: SNATNFT.describe)
        clock.lap("plan")
        if plan.rewritesTable, let desired, let current, let why = desired.skeletonDifference(from: current) {
            log.info("\(current.description) is rewritten: \(why)")
        }
        let name = "\(SNATNFT.family) \(SNATNFT.tableName)"
        var planned = report
        for c in plan.changes { planned.add(c) }
        planned.summarize(changeWord: nil)
        // No table wanted and none there, but still recorded (a run killed between deleting it
        // and recording that): the record follows the kernel.
        func forget() throws {
            guard desired == nil, record.nftTables.contains(name) else { return }
            let now = try ctx.stateDir.load(SNATOwnership.self) ?? record
            try ctx.stateDir.store(SNATOwnership(chains: now.chains, nftTables: now.nftTables.filter { $0 != name }))
        }
        guard plan.needsCommit, !ctx.dryRun else {
            report = planned
            if !ctx.dryRun { try forget() }
            return (false, backend.generation(advancedFrom: before, by: 0))
        }
        if desired != nil, !record.nftTables.contains(name) {
            try ctx.stateDir.store(SNATOwnership(chains: record.chains, nftTables: record.nftTables + [name]))
        }
        onPlanned?(planned)
        defer { clock.lap("commit") }
        do {
            try backend.commit(SNATNFT.family, SNATNFT.tableName, plan.ops)
        } catch {
            for c in plan.changes { report.add(c, error: "\(error)") }
            report.summarize(changeWord: nil)
            return (false, nil)
        }
        report = planned
        try forget()
        return (true, backend.generation(advancedFrom: before, by: 1))
    }

    /// ezlb's nftables table as the kernel holds it (for `snat show`): when snat.json records it.
    public func nftTable() throws -> NFTTable? {
        guard let r = try ctx.stateDir.load(SNATOwnership.self), !r.nftTables.isEmpty else { return nil }
        return try ctx.backends.nftables().read(SNATNFT.family, SNATNFT.tableName)
    }

    /// The chains snat.json records and each recorded table as the kernel holds their chains
    /// (for `snat show`; nothing is opened when nothing is owned).
    public func tables() throws -> [(ids: [ManagedChainID], state: XTTableState)] {
        let owned = try ctx.stateDir.load(SNATOwnership.self)?.chains ?? []
        guard !owned.isEmpty else { return [] }
        let backend = try ctx.backends.xtables()
        return try SNATRules.tables.filter { r in owned.contains { $0.ref == r } }.map { ref in
            let ids = owned.filter { $0.ref == ref }
            return (ids, try backend.read(ref, chains: ManagedChainPlanner.chainsToRead(desired: [], owned: ids)))
        }
    }

    /// Plans every table, records intent (what is owned now in the tables about to change,
    /// and everything desired), commits each table that differs once, records what is owned
    /// afterwards.
    func reconcile(desired: [ManagedChain], owned: [ManagedChainID], backend: XTBackend,
                   report: inout CommandReport, onPlanned: ((CommandReport) -> Void)?) throws -> [TableResult] {
        var clock = PhaseClock(log: log)
        let chains = ManagedChains(backend: backend, dryRun: ctx.dryRun, log: log)
        var tables = try chains.plan(desired: desired, owned: owned)
        clock.lap("read tables and plan")
        let committing = tables.filter(\.plan.needsCommit).count
        let desiredIDs = desired.map(\.id)
        let nft = try ctx.stateDir.load(SNATOwnership.self)?.nftTables ?? []
        let before = SNATOwnership(chains: owned, nftTables: nft)
        let intent = SNATOwnership(chains: owned.filter { o in tables.contains { $0.plan.ref == o.ref && $0.plan.needsCommit } || desiredIDs.contains(o) }
                                   + desiredIDs, nftTables: nft)
        let wroteIntent = !ctx.dryRun && committing > 0 && intent != before
        if wroteIntent { try ctx.stateDir.store(intent) }
        clock.lap("intent record")

        // The report as it will be when every table commits as planned.
        var planned = report
        ManagedChains.record(tables, into: &planned)
        planned.extra["commits"] = .int(ctx.dryRun ? 0 : committing)
        planned.summarize(changeWord: nil)
        if committing > 0, !ctx.dryRun, let onPlanned { onPlanned(planned) }

        try chains.commit(&tables, digests: true)
        clock.lap("commit")
        if tables.allSatisfy({ $0.error == nil }) {
            report = planned
        } else {
            ManagedChains.record(tables, into: &report)
            report.extra["commits"] = .int(tables.filter { $0.plan.needsCommit && $0.error == nil }.count)
            report.summarize(changeWord: nil)
        }
        guard !ctx.dryRun else { return tables }
        // Tables not read keep nothing (they had neither desired nor owned chains).
        var final: [ManagedChainID] = []
        for t in tables {
            final += (t.error == nil ? desiredIDs : intent.chains).filter { $0.ref == t.plan.ref }
        }
        // After adding chains the intent record is already exactly this.
        let after = SNATOwnership(chains: final, nftTables: nft)
        if after != (wroteIntent ? intent : before) { try ctx.stateDir.store(after) }
        return tables
    }

    /// The content-keyed convergence key: this binary, the backend, the config's path and
    /// bytes, the health verdicts the chains depend on and snat.json's bytes. Health is keyed
    /// on its verdicts, not health.json's bytes: probe times and counters change with every
    /// `ipvs apply` without changing a rule.
    func key(_ config: [UInt8], _ health: HealthTable, _ owned: [UInt8]?, firewall: String) -> [UInt8] {
        var k = ctx.key("snat")
        k.add("firewall", Array(firewall.utf8))
        k.add(ctx.configPath, config)
        var w = ByteWriter()
        for (key, h) in health.records.sorted(by: { $0.key < $1.key }) where !h.healthy {
            w.string(key.service)
            w.address(key.backend.address)
            w.u16(key.backend.port)
        }
        for (service, e) in health.sorry.sorted(by: { $0.key < $1.key }) {
            w.string(service)
            w.address(e.address)
            w.u16(e.port)
        }
        k.add("health verdicts", w.out)
        k.add(SNATOwnership.fileName, owned)
        return k.bytes
    }

    /// An nftables record's payload: a tag no iptables payload starts with (a table count of 0x6e66746e), the warnings.
    static let nftTag: [UInt8] = Array("nftn".utf8)
    static func encodeNFT(warnings: [String]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(nftTag)
        w.strings(warnings)
        return w.out
    }

    static func decodeNFT(_ payload: [UInt8]) -> [String]? {
        guard payload.starts(with: nftTag) else { return nil }
        var r = ByteReader(Array(payload.dropFirst(nftTag.count)))
        guard let warnings = r.strings(), r.atEnd else { return nil }
        return warnings
    }

    static func encode(_ scopes: [(XTTableRef, XTDigestScope)], warnings: [String]) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(scopes.count))
        for (ref, scope) in scopes {
            w.u8(ref.family == .ipv4 ? 4 : 6)
            w.string(ref.table.rawValue)
            w.strings(scope.chains)
            w.strings(scope.hooks)
        }
        w.strings(warnings)
        return w.out
    }

    static func decode(_ payload: [UInt8]) -> (scopes: [(XTTableRef, XTDigestScope)], warnings: [String])? {
        var r = ByteReader(payload)
        guard let n = r.u32(), n <= 64 else { return nil }
        var scopes: [(XTTableRef, XTDigestScope)] = []
        for _ in 0..<n {
            guard let f = r.u8(), f == 4 || f == 6, let tn = r.string(), let table = XTTable(rawValue: tn),
                  let chains = r.strings(), let hooks = r.strings() else { return nil }
            scopes.append((XTTableRef(f == 4 ? .ipv4 : .ipv6, table), XTDigestScope(chains: chains, hooks: hooks)))
        }
        guard let warnings = r.strings(), r.atEnd else { return nil }
        return (scopes, warnings)
    }
}
