import EzlbCore
import EzlbPlanner
import EzlbState

/// The converged fast path of `snat sync`: `<state-dir>/snat-kernel.cache`
/// records, after every sync that left the kernel converged (by committing or by
/// finding nothing to do), a digest of each table's managed chains and of the
/// jumps into them, under a key made of the ezlb binary, the inputs of the
/// desired chains (services and health verdicts) and the ownership record. The
/// next run with the same key reads each table raw from the kernel, still under
/// the xtables lock, and compares digests: all equal means the planner would
/// find nothing to do, so the run ends there without libiptc's per-rule cache,
/// the desired chains or the comparison. Anything else — another key, a table
/// changed by hand (a rule flushed, replaced or deleted, a comment changed, a
/// jump removed or no longer first), a missing or unreadable cache — takes the
/// full path, which records the digests again. Counters are not in the digest:
/// traffic and `iptables -Z` change nothing.
extension SNATSession {
    static let kernelCacheName = "snat-kernel.cache"

    /// The key of the converged state: this binary, the desired chains' inputs
    /// (`SNATRules.inputDigest`) and the ownership record as it is on disk now
    /// (`snat.json`'s bytes: no need to decode it to compare it); nil when that
    /// cannot be read.
    func convergedKey(inputs: [UInt8]) -> [UInt8]? {
        guard let exe = FileVersionTag.binaryIdentity, let owned = try? dir.readRaw(SNATOwnership.fileName) ?? [] else { return nil }
        var w = ByteWriter()
        w.blob(exe)
        w.blob(inputs)
        w.blob(owned)
        return w.out
    }

    /// True when the cache holds `key` and every table it lists still has the
    /// recorded digest in the kernel.
    func kernelIsAsRecorded(key: [UInt8], backend: XTBackend) -> Bool {
        guard let db = backend as? XTDigestingBackend else { return false }
        guard let raw = try? dir.readRaw(Self.kernelCacheName) else {
            log.debug("\(Self.kernelCacheName): none; full path")
            return false
        }
        guard let tables = ConvergedTables.decode(raw, key: key) else {
            log.debug("\(Self.kernelCacheName): recorded for other services, health, ownership or ezlb binary (or unreadable); full path")
            return false
        }
        for t in tables {
            guard let now = db.currentDigest(t.ref, scope: t.scope) else {
                log.debug("\(Self.kernelCacheName): \(t.ref) cannot be read raw; full path")
                return false
            }
            if now != t.digest {
                log.debug("\(Self.kernelCacheName): \(t.ref) changed since the last sync; full path")
                return false
            }
        }
        log.debug("\(Self.kernelCacheName): every table is as the last sync left it (converged)")
        return true
    }

    /// Records the digests of a run that left every table converged. Written
    /// without fsync, like the other caches: a lost or torn one is only a miss.
    func recordConverged(key: [UInt8], tables: [ConvergedTables.Table]) {
        guard !tables.isEmpty else { return }
        do { try dir.writeRaw(ConvergedTables(key: key, tables: tables).encode(), to: Self.kernelCacheName, durable: false) }
        catch { log.debug("not recording \(Self.kernelCacheName): \(error)") }
    }
}
