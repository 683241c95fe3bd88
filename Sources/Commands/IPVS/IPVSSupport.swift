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
#if canImport(Glibc)
import Glibc
#endif

/// The wiring every `ipvs` subcommand shares: config → ownership → backend → planner → report.
struct IPVSSession: CommandSession {
    let opts: CommonValues
    let log: Logger
    let dir: StateDirectory

    /// The desired IPVS table from the config. An unchanged config file (same
    /// inode, size, mtime and ctime, same ezlb binary) is not parsed again: its
    /// validated table is kept in `<state-dir>/ipvs-config.cache`. The cache
    /// only memoizes the config; the kernel is still read on every run.
    /// The cache holds the configured weights and each service's health check;
    /// health is applied to the table afterwards (`health(_:probe:report:)`).
    func loadDesired(into report: inout CommandReport) throws -> DesiredTable {
        let tag = FileVersionTag(path: opts.config)
        if let tag, let raw = try? dir.readRaw(Self.cacheName), let t = IPVSTableCodec.decode(raw, tag: tag.bytes) {
            log.debug("config unchanged since it was last validated: using \(Self.cacheName)")
            apply(notes: t.notes, into: &report)
            return DesiredTable(services: t.services.map { NamedService(name: $0.name, state: $0.state) }, health: t.health)
        }
        let cfg = try EzlbConfiguration.load(path: opts.config)
        let notes = cfg.unknownKeys.map { "W\(cfg.file): \($0): unknown key, ignored" }
            + cfg.warnings.map { "W\($0)" }
            + cfg.unusedKeys.map { "I\(cfg.file): \($0): accepted, not used by ipvs" }
        apply(notes: notes, into: &report)
        let desired = cfg.services.map { NamedService(name: $0.name, state: $0.ipvsState) }
        var health: [String: HealthCheckSpec] = [:]
        for s in cfg.services { if let h = s.healthSpec { health[s.name] = h } }
        if let tag, tag.isSettled, !opts.dryRun {
            let table = IPVSTableCodec.Table(services: desired.map { ($0.name, $0.state) }, notes: notes, health: health)
            do { try dir.writeRaw(IPVSTableCodec.encode(table, tag: tag.bytes), to: Self.cacheName, durable: false) }
            catch { log.debug("not caching the validated config: \(error)") }
        }
        return DesiredTable(services: desired, health: health)
    }

    static let cacheName = "ipvs-config.cache"

    private func apply(notes: [String], into report: inout CommandReport) {
        for n in notes {
            if n.hasPrefix("W") { report.warnings.append(String(n.dropFirst())) } else { log.info("\(n.dropFirst())") }
        }
    }

    /// Reads ownership; with `adopt`, a corrupted file is set aside and ownership rebuilt.
    /// `ipvs.json` is the record; when it is byte-for-byte the version ezlb last
    /// wrote (same inode, size, mtime, ctime), its decoded form is taken from
    /// `ipvs-owned.cache` instead of decoding the JSON again.
    func readOwnership(adopt: Bool, report: inout CommandReport) throws -> [ServiceKey: String] {
        do {
            if let tag = FileVersionTag(path: dir.file(IPVSOwnership.fileName)),
               let raw = try? dir.readRaw(Self.ownedCacheName),
               let entries = IPVSTableCodec.decodeKeys(raw, tag: tag.bytes) {
                return Dictionary(entries.map { ($0.key, $0.name) }, uniquingKeysWith: { a, _ in a })
            }
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
        // Remember the decoded form of the version just written (see readOwnership).
        if let tag = FileVersionTag(path: dir.file(IPVSOwnership.fileName)), tag.isSettled {
            let raw = IPVSTableCodec.encodeKeys(owned.map { ($0.key, $0.value) }, tag: tag.bytes)
            do { try dir.writeRaw(raw, to: Self.ownedCacheName, durable: false) } catch { log.debug("not caching ownership: \(error)") }
        }
    }

    static let ownedCacheName = "ipvs-owned.cache"
    static let convergedCacheName = "ipvs-converged.cache"

    /// What identifies a converged table: the config's and `ipvs.json`'s versions (nil while
    /// either is missing or could still change within the same second) and the dump's digest.
    struct ConvergedKey {
        let configTag: [UInt8]
        let ownedTag: [UInt8]
        let digest: [UInt8]
    }

    func convergedKey(_ actual: [IPVSServiceState]) -> ConvergedKey? {
        guard let c = FileVersionTag(path: opts.config), c.isSettled,
              let o = FileVersionTag(path: dir.file(IPVSOwnership.fileName)), o.isSettled else { return nil }
        return ConvergedKey(configTag: c.bytes, ownedTag: o.bytes, digest: IPVSConverged.digest(actual))
    }

    func isKnownConverged(_ k: ConvergedKey) -> Bool {
        guard let raw = try? dir.readRaw(Self.convergedCacheName) else { return false }
        return IPVSConverged.matches(raw, configTag: k.configTag, ownedTag: k.ownedTag, digest: k.digest)
    }

    /// Written without fsync, like the other caches: a lost one is a miss (a full plan).
    func recordConverged(_ k: ConvergedKey) {
        let raw = IPVSConverged.encode(configTag: k.configTag, ownedTag: k.ownedTag, digest: k.digest)
        do { try dir.writeRaw(raw, to: Self.convergedCacheName, durable: false) } catch { log.debug("not caching the converged table: \(error)") }
    }

    func openBackend() throws -> IPVSBackend {
        try KernelBackends.ipvs(kind: opts.backend() == .fake ? .fake : .kernel, stateDir: dir)
    }

    /// Applies `plan` with intent recorded first; returns the report actions.
    /// `reasons`: why health checks changed a destination (appended to its action).
    func execute(_ plan: IPVSPlan, backend: IPVSBackend, owned: [ServiceKey: String],
                 reasons: [DestinationRef: String] = [:], report: inout CommandReport) throws {
        let ops = plan.operations
        if opts.dryRun || ops.isEmpty {
            report.actions = ops.map { record($0, error: nil, reasons: reasons) }
            if !opts.dryRun && plan.ownedAfter != owned { try writeOwnership(plan.ownedAfter) }
            return
        }
        // Intent: own everything about to be created before creating it.
        if plan.ownedIntent != owned { try writeOwnership(plan.ownedIntent) }

        let progress = Progress(total: ops.count, label: "applying")
        let results = backend.apply(ops, progress: progress.update)
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
            record(op, error: err?.description, reasons: reasons)
        }
        if let c = commitError { report.errors.append(c) }
        log.info("applied \(ops.count - results.compactMap { $0 }.count)/\(ops.count) operations")
    }

    /// An action for the report; its JSON is rendered only when JSON output was asked for.
    func record(_ op: IPVSOperation, error: String?, reasons: [DestinationRef: String] = [:]) -> ActionRecord {
        let reason = reasons.isEmpty ? nil : HealthPlanner.annotate(op, reasons: reasons)
        var r = ActionRecord(text: IPVSFormat.text(op, reason: reason), json: [:], error: error)
        if opts.output == .json {
            r.rawJSON = IPVSFormat.jsonText(op, text: r.text, done: !opts.dryRun && error == nil, error: error, reason: reason)
        }
        return r
    }

    func summarize(_ report: inout CommandReport, verb: String) {
        let (added, changed, deleted, failed) = report.tally()
        if report.actions.isEmpty {
            report.summary = "no changes"
        } else {
            let prefix = opts.dryRun ? "plan" : verb
            var s = "\(prefix): \(added) to add, \(changed) to change, \(deleted) to delete"
            if !opts.dryRun { s = "\(prefix): \(added) added, \(changed) changed, \(deleted) deleted" }
            if failed > 0 { s += ", \(failed) failed" }
            report.summary = s
        }
    }
}

/// What identifies one version of a file (and of the ezlb binary that read
/// it): inode, size, mtime and ctime. ctime changes on every write and cannot
/// be set by tools like `touch`, so an edited file never matches an old tag.
struct FileVersionTag {
    let bytes: [UInt8]
    /// False while a coarse (whole-second) ctime could still hide an edit made
    /// in the same second; such a version is not cached yet.
    let isSettled: Bool

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0, let exe = Self.binaryIdentity else { return nil }
        var w: [UInt8] = Array("\(path)\u{0}".utf8)
        for v in [UInt64(st.st_dev), UInt64(st.st_ino), UInt64(bitPattern: Int64(st.st_size)),
                  UInt64(bitPattern: Int64(st.st_mtim.tv_sec)), UInt64(bitPattern: Int64(st.st_mtim.tv_nsec)),
                  UInt64(bitPattern: Int64(st.st_ctim.tv_sec)), UInt64(bitPattern: Int64(st.st_ctim.tv_nsec))] {
            withUnsafeBytes(of: v.bigEndian) { w += $0 }
        }
        bytes = w + exe
        let age = Int64(time(nil)) - Int64(st.st_ctim.tv_sec)
        isSettled = st.st_ctim.tv_nsec != 0 || age >= 2
    }

    /// The running ezlb binary: its version, inode, size and mtime. A cache made by
    /// another build (which may validate or lay out rules differently) never matches.
    static var binaryIdentity: [UInt8]? {
        var exe = stat()
        guard stat("/proc/self/exe", &exe) == 0 else { return nil }
        var w: [UInt8] = Array("\(Ezlb.version)\u{0}".utf8)
        for v in [UInt64(exe.st_ino), UInt64(bitPattern: Int64(exe.st_size)),
                  UInt64(bitPattern: Int64(exe.st_mtim.tv_sec)), UInt64(bitPattern: Int64(exe.st_mtim.tv_nsec))] {
            withUnsafeBytes(of: v.bigEndian) { w += $0 }
        }
        return w
    }
}
