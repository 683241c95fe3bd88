import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
#if canImport(Glibc)
import Glibc
#endif

/// The converged fast path of `xfrm sync`: `<state-dir>/xfrm-kernel.cache` records, after
/// every sync that left the kernel converged (it planned nothing, or applied every change
/// and a fresh dump then planned nothing), the digest of the kernel's xfrm objects as
/// verified (`XfrmDigestingBackend`: every policy and SA, any tool's, without counters,
/// replay state or last use) under a key made of the ezlb binary, the backend, the config
/// file's bytes, the pre-shared key (hashed), the pods file's bytes and xfrm.json's bytes
/// (`XfrmConverged.key`). The next run with the same key, while the recorded key rotation
/// would not advance, dumps the kernel raw and compares digests: equal means a plan would
/// be empty, so the run reports the recorded result without parsing the config, deriving
/// keys or planning. Anything else — another key, a policy or SA changed, added or removed
/// by anyone, a rotation step due, a missing or unreadable cache — takes the full path,
/// which records again. A dry run and a run with any error never record.
extension XfrmSession {
    static let kernelCacheName = "xfrm-kernel.cache"

    /// Seconds since the epoch from clock_gettime, as `Date().timeIntervalSince1970` gives
    /// them, without Foundation's first-use cost on the fast path.
    static func unixTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
    }

    /// The key of the converged state (`XfrmConverged.key`) with xfrm.json as it is on disk
    /// now; nil when that or the binary cannot be read.
    func convergedKey(configBytes: [UInt8], psk: XfrmKey, podsFile: [UInt8]?) -> [UInt8]? {
        guard let exe = FileVersionTag.binaryIdentity, let owned = try? dir.readRaw(XfrmOwnership.fileName) ?? [] else { return nil }
        return XfrmConverged.key(binary: exe, backend: (try? opts.backend()) == .fake ? "fake" : "kernel", configPath: opts.config,
                                 config: configBytes, psk: psk, podsFile: podsFile, ownership: owned)
    }

    /// The recorded converged run when a sync now (config file bytes `configBytes`) would
    /// plan nothing: same key, rotation not due, same kernel digest. nil (full path) otherwise;
    /// `-vv` logs which path and why.
    func convergedRecord(configBytes: [UInt8], backend: XfrmBackend, now: Double) -> XfrmConverged? {
        let name = Self.kernelCacheName
        guard let db = backend.digesting else { return nil }
        var clock = PhaseClock(log: log)
        guard let raw = try? dir.readRaw(name) else {
            log.debug("\(name): none; full path")
            return nil
        }
        guard let rec = XfrmConverged.decode(raw) else {
            log.debug("\(name): unreadable; full path")
            return nil
        }
        guard rec.holds(at: now) else {
            log.debug("\(name): a key rotation step is due (since \(rec.deadline)); full path")
            return nil
        }
        guard let psk = IPsecConfig.validatedKey(at: rec.keyFile) else {
            log.debug("\(name): the key file cannot be used as it is; full path")
            return nil
        }
        var pods: [UInt8]? = nil
        if let p = rec.podsFile {
            guard case .success(let b) = FileBytes.read(p) else {
                log.debug("\(name): the pods file cannot be read; full path")
                return nil
            }
            pods = b
        }
        guard let key = convergedKey(configBytes: configBytes, psk: psk, podsFile: pods), key == rec.key else {
            log.debug("\(name): recorded for another config, key, pods file, xfrm.json or ezlb binary; full path")
            return nil
        }
        clock.lap("\(name): record, inputs and key")
        let current = db.currentDigest()
        clock.lap("\(name): kernel dump digest")
        guard let digest = current else {
            log.debug("\(name): the kernel cannot be read raw; full path")
            return nil
        }
        guard digest == rec.digest else {
            log.debug("\(name): the kernel's policies or SAs changed since the last sync; full path")
            return nil
        }
        log.debug("\(name): the kernel is as the last sync left it and no input changed (converged)")
        return rec
    }

    /// After a full, non-dry run without errors: records the converged state when the kernel
    /// is verified converged — the dump planned nothing, or every change was applied and a
    /// fresh dump plans nothing — with the digest of exactly that dump. Written without fsync,
    /// like the other caches: a lost or torn one is only a miss.
    func recordIfConverged(cfg: IPsecConfig, desired: XfrmDesired, plan: XfrmPlan, rule: XfrmOwnershipRule,
                           rotation: XfrmRotation, backend: XfrmBackend, report: CommandReport) {
        guard !opts.dryRun, report.errors.isEmpty, !report.actions.contains(where: { $0.error != nil }),
              let db = backend.digesting else { return }
        let name = Self.kernelCacheName
        if !plan.changes.isEmpty {
            var clock = PhaseClock(log: log)
            guard let after = try? backend.dump() else {
                log.debug("not recording \(name): the kernel could not be read back")
                return
            }
            clock.lap("\(name): read back")
            let again = XfrmPlanner.plan(desired: desired, actual: after, local: cfg.local, rule: rule)
            clock.lap("\(name): plan again")
            guard again.changes.isEmpty, again.conflicts.isEmpty else {
                log.debug("not recording \(name): the kernel read back still differs (\(again.changes.count) changes)")
                return
            }
        }
        guard let digest = db.dumpDigest,
              let key = convergedKey(configBytes: cfg.configBytes, psk: cfg.psk, podsFile: cfg.podsFileBytes) else { return }
        let rec = XfrmConverged(key: key, digest: digest, keyFile: cfg.keyFile, podsFile: cfg.podsFile, rotation: rotation,
                                generation: cfg.generation, rotationDelay: cfg.rotationDelay,
                                policies: desired.policies.count, states: desired.states.count, warnings: report.warnings)
        do { try dir.writeRaw(rec.encode(), to: name, durable: false) }
        catch { log.debug("not recording \(name): \(error)") }
    }
}
