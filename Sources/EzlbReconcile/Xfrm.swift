import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
import Logging

/// `xfrm sync|cleanup`, and what `xfrm show` reads: ESP tunnel SAs and in/out/fwd policies
/// between managed pods, recognised by priority and reqid range, recorded in `xfrm.json`
/// (written before the kernel is touched when it changes). Never a flush.
public struct XfrmReconciler {
    public let ctx: ReconcileContext
    var log: Logger { ctx.log }

    public init(_ ctx: ReconcileContext) { self.ctx = ctx }

    /// The ownership rule `xfrm.json` implies (the defaults without one).
    static func rule(_ o: XfrmOwnership?) -> XfrmOwnershipRule {
        guard let o else { return XfrmOwnershipRule() }
        return XfrmOwnershipRule(priority: o.priority, reqidFirst: o.reqidFirst, reqidLast: o.reqidLast)
    }

    /// `xfrm sync`: the ipsec section's SAs and policies in make-before-break order; a key
    /// rotation advances one step per sync once `rotation_delay` has passed.
    public func sync() throws -> CommandReport {
        Backends.tuneHeapForBatch()
        var report = CommandReport(command: "xfrm sync", dryRun: ctx.dryRun)
        var clock = PhaseClock(log: log)
        let lock = try ctx.lock("xfrm")
        defer { withExtendedLifetime(lock) {} }
        let backend = try ctx.backends.xfrm()
        let cfg = try IPsecConfig.load(path: ctx.configPath)
        report.warnings += cfg.unknownKeys.map { "\(cfg.file): \($0): unknown key, ignored" }
        let ownedBytes = try ctx.bytes(of: XfrmOwnership.fileName)
        let old = try ownedBytes.map { try ctx.stateDir.load(XfrmOwnership.self, bytes: $0) }
        try cfg.requireTunnels(allowEmpty: ctx.allowEmpty || old?.peers.isEmpty != false)
        let rule = Self.rule(old)
        let cache = ConvergenceCache(dir: ctx.stateDir, name: "xfrm")
        let now = unixTime()
        clock.lap("lock, load config and ownership")

        // Converged fast path: same inputs, no rotation step due, and the kernel's objects
        // (every tool's) have the digest the last converged run verified. No key derivation,
        // no plan.
        if let rec = cache.load(key: key(cfg, ownedBytes)), let r = old?.rotation,
           XfrmPlanner.advance(r, target: cfg.generation, now: now, delay: cfg.rotationDelay) == r,
           now < XfrmPlanner.rotationDeadline(r, target: cfg.generation, delay: cfg.rotationDelay),
           var payload = Optional(ByteReader(rec.payload)), let policies = payload.u32(), let states = payload.u32(),
           let current = backend.currentDigest(), rec.digests == [current] {
            log.debug("converged: \(cache.fileName) matches the kernel and the inputs; nothing to plan")
            report.fromConvergenceCache = true
            clock.lap("compare with the last converged kernel")
            report.extra = ["writes": .int(backend.writes), "rotation": Self.rotationJSON(r),
                            "policies": .int(Int(policies)), "states": .int(Int(states))]
            if let w = Self.rotationWarning(r, cfg) { report.warnings.append(w) }
            report.summarize(changeWord: "update")
            return report
        }
        clock.lap("compare with the last converged kernel")

        let actual = try backend.dump()
        clock.lap("dump kernel")
        let reqids = XfrmPlanner.assignReqids(peers: cfg.peers.map(\.address), recorded: old?.reqids ?? [:],
                                              local: cfg.local, kernel: actual, rule: rule)
        let rotation = XfrmPlanner.advance(old?.rotation, target: cfg.generation, now: now, delay: cfg.rotationDelay)
        if let o = old?.rotation, o != rotation {
            log.info("rotation: out generation \(o.out) -> \(rotation.out), accepting \(rotation.acceptedGenerations)")
        }
        let intent = XfrmIntent(local: cfg.local, pods: cfg.pods,
                                peers: cfg.peers.map { XfrmIntent.Peer(address: $0.address, pods: $0.pods) },
                                psk: cfg.psk, algorithm: cfg.algorithm, keyBits: cfg.keyBits, icvBits: cfg.icvBits,
                                rotation: rotation, reqids: reqids)
        let desired = XfrmPlanner.desired(intent, rule: rule)
        report.errors += desired.problems
        let plan = XfrmPlanner.plan(desired: desired, actual: actual, local: cfg.local, rule: rule)
        log.debug("xfrm: \(desired.policies.count) policies, \(desired.states.count) states wanted; \(plan.changes.count) changes")
        let new = XfrmOwnership(priority: rule.priority, reqidFirst: rule.reqidFirst, reqidLast: rule.reqidLast, local: cfg.local,
                                peers: reqids.map { XfrmOwnership.PeerReqid(peer: $0.key, reqid: $0.value) }, rotation: rotation)
        clock.lap("plan")
        try execute(plan, backend: backend, old: old, new: new, report: &report)
        clock.lap("apply and record state")
        report.extra["rotation"] = Self.rotationJSON(rotation)
        report.extra["policies"] = .int(desired.policies.count)
        report.extra["states"] = .int(desired.states.count)
        if let w = Self.rotationWarning(rotation, cfg) { report.warnings.append(w) }
        recordIfConverged(cfg, desired: desired, plan: plan, rule: rule, backend: backend, report: report, cache: cache)
        clock.lap("record converged state")
        return report
    }

    /// `xfrm cleanup`: ezlb's policies first, then its SAs; nothing else. Does not read the config.
    public func cleanup() throws -> CommandReport {
        var report = CommandReport(command: "xfrm cleanup", dryRun: ctx.dryRun)
        let lock = try ctx.lock("xfrm")
        defer { withExtendedLifetime(lock) {} }
        let old = try ctx.stateDir.load(XfrmOwnership.self)
        let backend = try ctx.backends.xfrm()
        let actual = try backend.dump()
        // Any local address works: with nothing desired every owned object is deleted.
        let plan = XfrmPlanner.plan(desired: XfrmDesired(), actual: actual, local: old?.local ?? IPAddress(v4: 0), rule: Self.rule(old))
        let new = old.map { XfrmOwnership(priority: $0.priority, reqidFirst: $0.reqidFirst, reqidLast: $0.reqidLast) }
        try execute(plan, backend: backend, old: old, new: new, report: &report)
        return report
    }

    /// xfrm.json, the rule it implies and every policy and SA the kernel holds (for `xfrm show`).
    public func tables() throws -> (ownership: XfrmOwnership?, rule: XfrmOwnershipRule, tables: XfrmTables) {
        let own = try ctx.stateDir.load(XfrmOwnership.self)
        return (own, Self.rule(own), try ctx.backends.xfrm().dump())
    }

    /// Records `new` when it differs from `old` (before the kernel is touched), applies the plan
    /// phase by phase, each phase one batch, and stops at the first refused operation (later
    /// phases would break make-before-break: no policy may point at a missing SA).
    func execute(_ plan: XfrmPlan, backend: XfrmBackend, old: XfrmOwnership?, new: XfrmOwnership?,
                 report: inout CommandReport) throws {
        report.errors += plan.conflicts
        report.actions.reserveCapacity(plan.changes.count)
        if ctx.dryRun {
            for c in plan.changes { report.add(c) }
        } else {
            if let new, new != old { try ctx.stateDir.store(new) }
            var failed: String? = nil
            var i = 0
            let changes = plan.changes
            while i < changes.count {
                var j = i
                while j < changes.count && changes[j].phase == changes[i].phase { j += 1 }
                let group = changes[i..<j]
                if let f = failed {
                    for c in group { report.add(c, error: "not attempted: \(f)") }
                } else {
                    for (c, e) in zip(group, backend.applyBatch(group.map(\.operation))) {
                        report.add(c, error: e?.description)
                        if let e, failed == nil { failed = "an earlier operation failed (\(e.operation))" }
                    }
                }
                i = j
            }
            try backend.commit()
        }
        report.extra["writes"] = .int(backend.writes)
        report.summarize(changeWord: "update")
    }

    /// After a full, non-dry run without errors: records the converged state when the kernel
    /// is verified converged (the dump planned nothing, or every change was applied and a fresh
    /// dump plans nothing), with the digest of exactly that dump.
    func recordIfConverged(_ cfg: IPsecConfig, desired: XfrmDesired, plan: XfrmPlan, rule: XfrmOwnershipRule,
                           backend: XfrmBackend, report: CommandReport, cache: ConvergenceCache) {
        guard !ctx.dryRun, !report.failed else { return }
        if !plan.changes.isEmpty {
            guard let after = try? backend.dump() else { return }
            let again = XfrmPlanner.plan(desired: desired, actual: after, local: cfg.local, rule: rule)
            guard again.changes.isEmpty, again.conflicts.isEmpty else {
                log.debug("not recording convergence: the kernel read back still differs (\(again.changes.count) changes)")
                return
            }
        }
        guard let digest = backend.dumpDigest, let owned = try? ctx.bytes(of: XfrmOwnership.fileName) else { return }
        var payload = ByteWriter()
        payload.u32(UInt32(clamping: desired.policies.count))
        payload.u32(UInt32(clamping: desired.states.count))
        cache.store(key: key(cfg, owned), .init(digests: [digest], payload: payload.out))
    }

    /// The content-keyed convergence key: this binary, the backend, the config's path and
    /// bytes, the pre-shared key, the pods file's bytes and xfrm.json's bytes. (Everything is
    /// hashed: nothing of the key is stored.)
    func key(_ cfg: IPsecConfig, _ owned: [UInt8]?) -> [UInt8] {
        var k = ctx.key("xfrm")
        k.add(ctx.configPath, cfg.configBytes)
        k.add("psk", cfg.psk.bytes)
        k.add("pods file", cfg.podsFileBytes)
        k.add(XfrmOwnership.fileName, owned)
        return k.bytes
    }

    /// While a key rotation is in progress: where it stands and what the next step is.
    static func rotationWarning(_ r: XfrmRotation, _ cfg: IPsecConfig) -> String? {
        guard r.out != cfg.generation || r.accepting.count > 1 else { return nil }
        let step = r.out != cfg.generation ? "OUT switches to generation \(cfg.generation)" : "old generations are removed"
        return "key rotation in progress: out generation \(r.out), accepting \(r.acceptedGenerations.map(String.init).joined(separator: " ")); \(step) on a sync at least \(Int(cfg.rotationDelay))s from now"
    }

    public static func rotationJSON(_ r: XfrmRotation?) -> JSONValue {
        guard let r else { return .null }
        return .object(["out": .int(Int(r.out)), "accepting": .array(r.acceptedGenerations.map { .int(Int($0)) })])
    }
}
