import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
import Logging

/// `ipvs apply|plan|cleanup`, and what `ipvs show|health` read: the configured IPVS table
/// (with health verdicts applied) against the kernel's, only for services ezlb owns
/// (`ipvs.json`, written before the kernel is touched).
public struct IPVSReconciler {
    public let ctx: ReconcileContext
    let prober: HealthProber
    var log: Logger { ctx.log }

    public init(_ ctx: ReconcileContext, prober: HealthProber = SocketProber()) {
        self.ctx = ctx
        self.prober = prober
    }

    /// The configured table (configured weights), each checked service's health check, and
    /// what the config's validation had to say: warnings (always shown) and notes (`-v`).
    public struct Desired {
        public var services: [NamedService]
        /// Service name -> health check; only services that have one.
        public var health: [String: HealthCheckSpec]
        public var warnings: [String]
        public var notes: [String]
        /// The config's `services` is a list (possibly empty), not missing or valueless.
        public var servicesListed = true
    }

    public func desired(bytes: [UInt8]? = nil) throws -> Desired {
        let path = ctx.configPath
        let cfg = try EzlbConfiguration.parse(EzlbConfiguration.text(bytes ?? EzlbConfiguration.readBytes(path: path), path: path), file: path)
        var health: [String: HealthCheckSpec] = [:]
        for s in cfg.services { if let h = s.healthSpec { health[s.name] = h } }
        var d = Desired(services: cfg.services.map { NamedService(name: $0.name, state: $0.ipvsState) }, health: health,
                       warnings: cfg.unknownKeys.map { "\(cfg.file): \($0): unknown key, ignored" } + cfg.warnings,
                       notes: cfg.unusedKeys.map { "\(cfg.file): \($0): accepted, not used by ipvs" })
        d.servicesListed = cfg.servicesListed
        return d
    }

    /// `ipvs apply` (`ipvs plan` with `ctx.dryRun`): probe, plan against the kernel's dump,
    /// apply in one batch with intent recorded first, record a converged table.
    public func apply(adopt: Bool, probe: Bool, command: String = "ipvs apply") throws -> CommandReport {
        Backends.tuneHeapForBatch()
        var report = CommandReport(command: command, dryRun: ctx.dryRun)
        var clock = PhaseClock(log: log)
        let lock = try ctx.lock("ipvs")
        defer { withExtendedLifetime(lock) {} }
        let configBytes = try EzlbConfiguration.readBytes(path: ctx.configPath)
        let healthBytes = try ctx.bytes(of: HealthStateFile.fileName)
        let ownedBytes = try ctx.bytes(of: IPVSOwnership.fileName)
        let backend = try ctx.backends.ipvs()
        let cache = ConvergenceCache(dir: ctx.stateDir, name: "ipvs")
        clock.lap("lock and read inputs")

        // Converged fast path: same inputs, and the kernel still holds the table a run with
        // them left converged. (Only runs without health checks are recorded.)
        var dumped: [IPVSServiceState]? = nil
        if !adopt, let rec = cache.load(key: key(configBytes, healthBytes, ownedBytes)) {
            clock.lap("hash inputs, read the convergence record")
            let dump = try backend.dump()
            clock.lap("dump kernel")
            var payload = ByteReader(rec.payload)
            let same = rec.digests == [StateDigest.ipvs(dump)]
            clock.lap("digest the dump")
            if same, let warnings = payload.strings(), let notes = payload.strings() {
                log.debug("converged: \(cache.fileName) matches the kernel and the inputs; nothing to plan")
                report.fromConvergenceCache = true
                report.warnings = warnings
                for n in notes { log.info("\(n)") }
                report.summarize()
                return report
            }
            dumped = dump
        }

        let desired = try self.desired(bytes: configBytes)
        report.warnings += desired.warnings
        for n in desired.notes { log.info("\(n)") }
        clock.lap("load config")
        let owned = try ownership(bytes: ownedBytes, adopt: adopt, report: &report)
        // A config that states nothing never empties the table (see requireServices).
        try EzlbConfiguration.requireServices(file: ctx.configPath, listed: desired.servicesListed, empty: desired.services.isEmpty,
                                              allowEmpty: ctx.allowEmpty || owned.isEmpty, cleanup: "ezlb ipvs cleanup")
        let health = try healthRound(desired, probe: probe, stored: healthBytes)
        clock.lap("ownership and health")
        let actual = try dumped ?? backend.dump()
        clock.lap("dump kernel")
        let plan = IPVSPlanner.plan(desired: health.services, actual: actual, owned: owned, adopt: adopt)
        clock.lap("plan")
        for c in plan.conflicts {
            report.errors.append("service \(c.state.key) (\(c.name)) exists in the kernel but was not created by ezlb; left alone (use --adopt to take it over)")
        }
        for k in plan.adopted { log.notice("adopting service \(k)") }
        // Health state first: what the kernel is about to be made to reflect.
        if let t = health.write, !ctx.dryRun { try ctx.stateDir.store(HealthStateFile(t)) }
        try execute(plan, backend: backend, owned: owned, reasons: health.reasons, report: &report)
        for t in health.transitionsNotShown(by: plan) { report.add(t) }
        if health.active { report.extra["health"] = health.json }

        // Every step succeeded: remember the table the kernel now holds (the dump when nothing
        // had to change, else the dump with the plan applied), keyed on ipvs.json as it is now.
        if !adopt, !health.active, !ctx.dryRun, plan.conflicts.isEmpty, !report.failed {
            let after = plan.operations.isEmpty ? actual
                : actual.filter { owned[$0.key] == nil && plan.ownedAfter[$0.key] == nil } + health.services.map(\.state)
            var payload = ByteWriter()
            payload.strings(desired.warnings)
            payload.strings(desired.notes)
            cache.store(key: key(configBytes, healthBytes, try ctx.bytes(of: IPVSOwnership.fileName)),
                        .init(digests: [StateDigest.ipvs(after)], payload: payload.out))
        }
        clock.lap("apply and record state")
        report.summarize()
        return report
    }

    /// `ipvs cleanup`: every service ezlb owns is deleted, nothing else.
    public func cleanup() throws -> CommandReport {
        Backends.tuneHeapForBatch()
        var report = CommandReport(command: "ipvs cleanup", dryRun: ctx.dryRun)
        let lock = try ctx.lock("ipvs")
        defer { withExtendedLifetime(lock) {} }
        let owned = try ownership(bytes: try ctx.bytes(of: IPVSOwnership.fileName), adopt: false, report: &report)
        let backend = try ctx.backends.ipvs()
        try execute(IPVSPlanner.cleanup(actual: try backend.dump(), owned: owned), backend: backend, owned: owned, report: &report)
        report.summarize(verb: "cleaned up")
        return report
    }

    /// The kernel's table in its own order with its counters, and the services ezlb owns
    /// (key -> config name).
    public func table() throws -> (services: [IPVSServiceDetail], owned: [ServiceKey: String]) {
        var ignored = CommandReport(command: "", dryRun: true)
        let owned = try ownership(bytes: try ctx.bytes(of: IPVSOwnership.fileName), adopt: false, report: &ignored)
        return (try ctx.backends.ipvs().detailedDump(), owned)
    }

    /// The content-keyed convergence key: this binary, the backend, the config's path and
    /// bytes, health.json's and ipvs.json's bytes.
    func key(_ config: [UInt8], _ health: [UInt8]?, _ owned: [UInt8]?) -> [UInt8] {
        var k = ctx.key("ipvs")
        k.add(ctx.configPath, config)
        k.add(HealthStateFile.fileName, health)
        k.add(IPVSOwnership.fileName, owned)
        return k.bytes
    }

    /// ipvs.json decoded; with `adopt`, a corrupted one is set aside and ownership rebuilt.
    func ownership(bytes: [UInt8]?, adopt: Bool, report: inout CommandReport) throws -> [ServiceKey: String] {
        guard let bytes else { return [:] }
        do {
            return try ctx.stateDir.load(IPVSOwnership.self, bytes: bytes).services
        } catch let e as StateError {
            guard adopt, case .corrupted = e else { throw e }
            let moved = ctx.stateDir.quarantine(IPVSOwnership.fileName)
            report.warnings.append("\(e.description.split(separator: ";").first.map(String.init) ?? ""); moved to \(moved ?? "?"), rebuilding ownership from config ∩ kernel")
            return [:]
        }
    }

    func writeOwnership(_ owned: [ServiceKey: String]) throws {
        try ctx.stateDir.store(IPVSOwnership(services: owned))
    }

    /// Applies `plan` in one batch with intent recorded first: everything about to be created
    /// is owned before it is created; afterwards ownership is exactly what exists and is ours.
    /// `reasons`: why health checks changed a destination (shown with its action).
    func execute(_ plan: IPVSPlan, backend: IPVSBackend, owned: [ServiceKey: String],
                 reasons: [DestinationRef: String] = [:], report: inout CommandReport) throws {
        let ops = plan.operations
        func action(_ op: IPVSOperation) -> IPVSAction {
            IPVSAction(op, reason: reasons.isEmpty ? nil : HealthPlanner.annotate(op, reasons: reasons))
        }
        if ctx.dryRun || ops.isEmpty {
            for op in ops { report.add(action(op)) }
            if !ctx.dryRun && plan.ownedAfter != owned { try writeOwnership(plan.ownedAfter) }
            return
        }
        if plan.ownedIntent != owned { try writeOwnership(plan.ownedIntent) }

        let progress = Progress(total: ops.count, label: "applying")
        let results = backend.apply(ops, progress: progress.update)
        progress.finish()
        var commitError: String? = nil
        do { try backend.commit() } catch { commitError = "\(error)" }

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
        report.actions.reserveCapacity(report.actions.count + ops.count)
        for (op, err) in zip(ops, results) { report.add(action(op), error: err?.description) }
        if let c = commitError { report.errors.append(c) }
        log.info("applied \(ops.count - results.compactMap { $0 }.count)/\(ops.count) operations")
    }
}
