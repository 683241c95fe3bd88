import EzlbConfig
import EzlbCore
import EzlbIPAM
import EzlbState
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The wiring every `ipam` subcommand (and `bridge`) shares: flags → config → lock → ipam.json.
struct IPAMSession {
    let opts: CommonOptions
    let log: Logger
    let dir: StateDirectory

    init(_ opts: CommonOptions, log: Logger) {
        self.opts = opts
        self.log = log
        dir = StateDirectory(path: opts.stateDir)
    }

    /// CommonOptions' default -c (kept in step with Options.swift).
    static let defaultConfig = "/etc/ezlb/ezlb.yaml"

    /// Reserved ranges from the config's `ipam.reserved` and `--reserve` flags. The config is
    /// optional: a missing file at the default path is not an error; an explicit -c must exist.
    func reserved(flags: [String], report: inout CommandReport) throws -> [IPRange] {
        var out: [IPRange] = []
        if opts.config != Self.defaultConfig || FileManager.default.fileExists(atPath: opts.config) {
            let cfg = try IPAMConfig.load(path: opts.config)
            for k in cfg.unknownKeys { report.warnings.append("\(opts.config): \(k): unknown key, ignored") }
            out += cfg.reserved
        }
        for f in flags {
            switch IPRange.parse(f) {
            case .success(let r): out.append(r)
            case .failure(let e): throw UsageFailure("--reserve: '\(f)': \(e.reason)")
            }
        }
        return out
    }

    /// Takes `ipam.lock` and removes temp files a killed writer left behind (safe: every writer holds this lock).
    func lock() throws -> FileLock {
        let l = try dir.lock("ipam", timeoutSeconds: opts.lockTimeout)
        let prefix = ".\(IPAMState.fileName).tmp."
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasPrefix(prefix) {
            unlink(dir.file(f))
        }
        return l
    }

    func read() throws -> IPAMState {
        let s = try dir.read(IPAMState.self, from: IPAMState.fileName, kind: IPAMState.kind,
                             schema: IPAMState.schema, recovery: IPAMState.recovery) ?? IPAMState()
        if let v = s.invariantViolation() {
            throw StateError.corrupted(path: dir.file(IPAMState.fileName), detail: v, recovery: IPAMState.recovery)
        }
        return s
    }

    func write(_ s: IPAMState) throws {
        try dir.write(s, to: IPAMState.fileName, kind: IPAMState.kind, schema: IPAMState.schema)
    }

    static func subnet(_ text: String, flag: String = "--subnet") throws -> IPSubnet {
        switch IPSubnet.parse(text) {
        case .success(let s): return s
        case .failure(let e): throw UsageFailure("\(flag): '\(text)': \(e.reason)")
        }
    }

    static func address(_ text: String, flag: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw UsageFailure("\(flag): '\(text)': not an IP address") }
        return a
    }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date())
    }

    /// Maps a refusal to its documented exit status.
    static func failure(_ e: IPAMError) -> EzlbFailure {
        switch e {
        case .badInput: return EzlbFailure(.usage, e.description)
        case .conflict: return EzlbFailure(.failure, e.description)
        case .full: return EzlbFailure(.unavailable, e.description)
        }
    }

    static func json(_ a: Allocation, subnet: IPSubnet) -> [String: JSONValue] {
        let layout = SubnetLayout(subnet)
        return [
            "ip": .string(a.ip.description),
            "address": .string("\(a.ip)/\(subnet.prefixLength)"),
            "prefix_length": .int(subnet.prefixLength),
            "subnet": .string(subnet.description),
            "gateway": layout.gatewayAddress.map { .string($0.description) } ?? .null,
            "owner": a.owner.map { .string($0) } ?? .null,
            "allocated_at": .string(a.allocatedAt),
        ]
    }
}
