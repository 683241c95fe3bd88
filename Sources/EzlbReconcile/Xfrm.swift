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
        let configBytes = try EzlbConfiguration.readBytes(path: ctx.configPath)
        let ownedBytes = try ctx.bytes(of: XfrmOwnership.fileName)
        let old = try ownedBytes.map { try ctx.stateDir.load(XfrmOwnership.self, bytes: $0) }
        let rule = Self.rule(old)
        let cache = ConvergenceCache(dir: ctx.stateDir, name: "xfrm")
        let now = unixTime()
        clock.lap("lock, read inputs and ownership")

        // Converged fast path, before the config is parsed: same config and xfrm.json, same
        // key and pods file (at the paths that config named), no rotation step due, and the
        // kernel's objects (every tool's) have the digest the last converged run verified.
        if let rec = cache.load(key: key(configBytes, ownedBytes)), rec.digests.count == 2,
           let r = old?.rotation, let f = Recorded.decode(rec.payload),
           XfrmPlanner.advance(r, target: f.generation, now: now, delay: f.rotationDelay) == r,
           now < XfrmPlanner.rotationDeadline(r, target: f.generation, delay: f.rotationDelay),
           Self.sideInputs(f) == rec.digests[1],
           let current = backend.currentDigest(), current == rec.digests[0] {
            log.debug("converged: \(cache.fileName) matches the kernel and the inputs; nothing to plan")
            report.fromConvergenceCache = true
            clock.lap("compare with the last converged kernel")
            report.warnings = f.warnings
            report.extra = ["writes": .int(backend.writes), "rotation": Self.rotationJSON(r),
                            "policies": .int(Int(f.policies)), "states": .int(Int(f.states))]
            if let w = Self.rotationWarning(r, generation: f.generation, delay: f.rotationDelay) { report.warnings.append(w) }
            report.summarize(changeWord: "update")
            return report
        }
        clock.lap("compare with the last converged kernel")

        let cfg = try IPsecConfig.parse(EzlbConfiguration.text(configBytes, path: ctx.configPath), file: ctx.configPath)
        report.warnings += Self.warnings(cfg)
        clock.lap("load config")

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
        if let w = Self.rotationWarning(rotation, generation: cfg.generation, delay: cfg.rotationDelay) { report.warnings.append(w) }
        recordIfConverged(cfg, config: configBytes, desired: desired, plan: plan, rule: rule, backend: backend, report: report, cache: cache)
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
    func recordIfConverged(_ cfg: IPsecConfig, config: [UInt8], desired: XfrmDesired, plan: XfrmPlan, rule: XfrmOwnershipRule,
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
        let f = Recorded(keyFile: cfg.keyFile, podsFile: cfg.podsFile, generation: cfg.generation,
                         rotationDelay: cfg.rotationDelay, policies: UInt32(clamping: desired.policies.count),
                         states: UInt32(clamping: desired.states.count), warnings: Self.warnings(cfg))
        cache.store(key: key(config, owned),
                    .init(digests: [digest, Self.sideInputs(psk: cfg.psk.bytes, pods: cfg.podsFileBytes)], payload: f.encode()))
    }

    /// The content-keyed convergence key: this binary, the backend, the config's path and
    /// bytes and xfrm.json's bytes. The key file and pods file the config names are the
    /// record's second digest (`sideInputs`): their paths are only known from the config.
    func key(_ config: [UInt8], _ owned: [UInt8]?) -> [UInt8] {
        let k = ctx.key("xfrm")
        k.add(ctx.configPath, config)
        k.add(XfrmOwnership.fileName, owned)
        return k.finish()
    }

    /// The digest of the pre-shared key (as validated) and the pods file's bytes.
    static func sideInputs(psk: [UInt8], pods: [UInt8]?) -> [UInt8] {
        let k = ConvergenceCache.Key(subsystem: "xfrm side inputs", backend: "")
        k.add("psk", psk)
        k.add("pods file", pods)
        return k.finish()
    }

    /// The side inputs as they are now at the recorded paths; nil when the key file is no
    /// longer one `xfrm sync` accepts or the pods file cannot be read (the full path reports).
    static func sideInputs(_ f: Recorded) -> [UInt8]? {
        guard let psk = IPsecConfig.validatedKey(at: f.keyFile) else { return nil }
        var pods: [UInt8]? = nil
        if let path = f.podsFile {
            guard case .success(let b) = FileBytes.read(path) else { return nil }
            pods = b
        }
        return sideInputs(psk: psk.bytes, pods: pods)
    }

    /// What a converged sync recorded from its config for the fast path, which does not parse it.
    struct Recorded {
        var keyFile: String
        var podsFile: String?
        var generation: UInt32
        var rotationDelay: Double
        var policies: UInt32
        var states: UInt32
        var warnings: [String]

        func encode() -> [UInt8] {
            var w = ByteWriter()
            w.string(keyFile)
            w.strings(podsFile.map { [$0] } ?? [])
            w.u32(generation)
            w.u64(rotationDelay.bitPattern)
            w.u32(policies)
            w.u32(states)
            w.strings(warnings)
            return w.out
        }

        static func decode(_ payload: [UInt8]) -> Recorded? {
            var r = ByteReader(payload)
            guard let keyFile = r.string(), let pods = r.strings(), pods.count <= 1, let generation = r.u32(),
                  let delay = r.u64(), let policies = r.u32(), let states = r.u32(), let warnings = r.strings(), r.atEnd
            else { return nil }
            return Recorded(keyFile: keyFile, podsFile: pods.first, generation: generation, rotationDelay: Double(bitPattern: delay),
                            policies: policies, states: states, warnings: warnings)
        }
    }

    /// The config's own warnings (a converged run records them for the fast path).
    static func warnings(_ cfg: IPsecConfig) -> [String] {
        cfg.unknownKeys.map { "\(cfg.file): \($0): unknown key, ignored" }
    }

    /// While a key rotation is in progress: where it stands and what the next step is.
    static func rotationWarning(_ r: XfrmRotation, generation: UInt32, delay: Double) -> String? {
        guard r.out != generation || r.accepting.count > 1 else { return nil }
        let step = r.out != generation ? "OUT switches to generation \(generation)" : "old generations are removed"
        return "key rotation in progress: out generation \(r.out), accepting \(r.acceptedGenerations.map(String.init).joined(separator: " ")); \(step) on a sync at least \(Int(delay))s from now"
    }

    public static func rotationJSON(_ r: XfrmRotation?) -> JSONValue {
        guard let r else { return .null }
        return .object(["out": .int(Int(r.out)), "accepting": .array(r.acceptedGenerations.map { .int(Int($0)) })])
    }
}
