import EzlbConfig
import EzlbCore
import EzlbIPAM
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The wiring every `ipam` subcommand (and `bridge`) shares: flags → config → lock → ipam.json.
struct IPAMSession: CommandSession {
    let opts: CommonValues
    let log: Logger
    let dir: StateDirectory

    /// CommonOptions' default -c (kept in step with Options.swift).
    static let defaultConfig = "/etc/ezlb/ezlb.yaml"

    /// Reserved ranges from the config's `ipam.reserved` and `--reserve` flags. The config is
    /// optional: a missing file at the default path is not an error; an explicit -c must exist.
    func reserved(flags: [String], report: inout CommandReport) throws -> [IPRange] {
        var out: [IPRange] = []
        if opts.config != Self.defaultConfig || StateDirectory.kind(of: opts.config).exists {
            let cfg = try IPAMConfig.load(path: opts.config)
            for k in cfg.unknownKeys { report.warnings.append("\(opts.config): \(k): unknown key, ignored") }
            out += cfg.reserved
        }
        for f in flags {
            switch IPRange.parse(f) {
            case .success(let r): out.append(r)
            case .failure(let e): throw Failure.usage("--reserve: '\(f)': \(e.reason)")
            }
        }
        return out
    }

    /// Takes `ipam.lock` and removes temp files a killed writer left behind (safe: every writer holds this lock).
    func lock() throws -> FileLock {
        let l = try dir.lock("ipam", timeoutSeconds: opts.lockTimeout)
        dir.removeStaleFiles(prefix: ".\(IPAMState.fileName).tmp.")
        return l
    }

    func read() throws -> IPAMState {
        let s = try dir.readJSON(from: IPAMState.fileName, kind: IPAMState.kind, schema: IPAMState.schema,
                                 recovery: IPAMState.recovery) { v throws(JSONShapeError) in try IPAMState(json: v) } ?? IPAMState()
        if let v = s.invariantViolation() {
            throw StateError.corrupted(path: dir.file(IPAMState.fileName), detail: v, recovery: IPAMState.recovery)
        }
        return s
    }

    /// `syncDirectory: false` when another state file of the directory is written right after.
    func write(_ s: IPAMState, syncDirectory: Bool = true) throws {
        try dir.writeJSON(s.json, to: IPAMState.fileName, kind: IPAMState.kind, schema: IPAMState.schema, syncDirectory: syncDirectory)
    }

    static func subnet(_ text: String, flag: String = "--subnet") throws -> IPSubnet {
        switch IPSubnet.parse(text) {
        case .success(let s): return s
        case .failure(let e): throw Failure.usage("\(flag): '\(text)': \(e.reason)")
        }
    }

    static func address(_ text: String, flag: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw Failure.usage("\(flag): '\(text)': not an IP address") }
        return a
    }

    /// RFC 3339 UTC, e.g. 2026-11-21T05:40:00Z (gmtime_r: no ICU load, which costs milliseconds per run).
    static func now() -> String {
        var t = time(nil)
        var tm = tm()
        gmtime_r(&t, &tm)
        func d2(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(d2(tm.tm_mon + 1))-\(d2(tm.tm_mday))T\(d2(tm.tm_hour)):\(d2(tm.tm_min)):\(d2(tm.tm_sec))Z"
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
