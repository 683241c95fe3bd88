import EzlbConfig
import EzlbCore

extension XfrmSession {
    static let configCacheName = "xfrm-config.cache"

    /// The `ipsec:` section of the config: from `<state-dir>/xfrm-config.cache` when the
    /// config file and its pods_file are the versions last validated (same inode, size,
    /// mtime and ctime, same ezlb binary: `FileVersionTag`), else a full load, which then
    /// refreshes the cache. The pre-shared key is never cached: it is read from key_file
    /// with the same checks on every run. Like `ipvs-config.cache`, this memoizes files
    /// only; the kernel is still dumped on every run.
    func loadConfig() throws -> IPsecConfig {
        let tag = FileVersionTag(path: opts.config)
        if let tag, let raw = try? dir.readRaw(Self.configCacheName), case .object(let o)? = try? JSONValue.parse(raw),
           o["tag"] == .string(Self.hex(tag.bytes)), let config = o["config"] {
            var podsFileMatches = true
            if case .object(let c) = config, case .string(let pf)? = c["pods_file"] {
                podsFileMatches = FileVersionTag(path: pf).map { .string(Self.hex($0.bytes)) } == o["pods_file_tag"]
            }
            if podsFileMatches, let cfg = try IPsecConfig.fromCache(config, file: opts.config) {
                log.debug("config unchanged since it was last validated: using \(Self.configCacheName)")
                return cfg
            }
        }
        let cfg = try IPsecConfig.load(path: opts.config)
        // Not for a dry run, nor while a same-second edit could still go unseen. Written
        // without fsync: a cache lost in a crash is only a miss.
        if !opts.dryRun, let tag, tag.isSettled {
            var o: [String: JSONValue] = ["tag": .string(Self.hex(tag.bytes)), "config": cfg.cacheJSON]
            var settled = true
            if let pf = cfg.podsFile {
                if let t = FileVersionTag(path: pf), t.isSettled { o["pods_file_tag"] = .string(Self.hex(t.bytes)) } else { settled = false }
            }
            if settled {
                do { try dir.writeRaw(Array(JSONValue.object(o).text.utf8), to: Self.configCacheName, durable: false) }
                catch { log.debug("not caching the validated config: \(error)") }
            }
        }
        return cfg
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
