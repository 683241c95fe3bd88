import EzlbCore
import EzlbPlanner

extension SNATSession {
    static let configCacheName = "snat-config.cache"

    /// The FullNAT services of an unchanged config file (same inode, size,
    /// mtime and ctime, same ezlb binary) from `<state-dir>/snat-config.cache`,
    /// with the warnings its validation gave; nil when the file changed or
    /// there is no cache. Like `ipvs-config.cache`, it memoizes the config
    /// file only: the kernel's tables are still read on every run.
    func cachedFullNATServices(into report: inout CommandReport) -> [FullNATService]? {
        guard let tag = FileVersionTag(path: opts.config), let raw = try? dir.readRaw(Self.configCacheName),
              let c = FullNATCodec.decode(raw, tag: tag.bytes) else { return nil }
        log.debug("config unchanged since it was last validated: using \(Self.configCacheName)")
        report.warnings += c.warnings
        return c.services
    }

    /// Remembers the validated services of the config's current version (not
    /// for a dry run, nor while a same-second edit could still go unseen).
    /// Written without fsync: a cache lost in a crash is only a miss.
    func cacheFullNATServices(_ services: [FullNATService], warnings: [String]) {
        guard !opts.dryRun, let tag = FileVersionTag(path: opts.config), tag.isSettled else { return }
        do { try dir.writeRaw(FullNATCodec.encode(services, warnings: warnings, tag: tag.bytes), to: Self.configCacheName, durable: false) }
        catch { log.debug("not caching the validated config: \(error)") }
    }
}
