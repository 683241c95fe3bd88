import SystemPackage
import EzlbConfig
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's log as the `logging:` section asks: text or JSON lines, to stderr, stdout or a file
/// (opened with O_APPEND; one write(2) per line, so concurrent writers and logrotate's copytruncate are safe).
///
/// text: `2026-11-21T07:50:00.123Z info hook done event=ToMaster node=n1 status=ok duration_ms=41`
/// json: `{"time":"2026-11-21T07:50:00.123Z","level":"info","msg":"hook done","event":"ToMaster",...}`
public struct RaftLogHandler: LogHandler {
    /// Where lines go; shared by every logger made from one config.
    public final class Sink: @unchecked Sendable {
        let fd: Int32
        let ownsFD: Bool
        let format: RaftLoggingConfig.Format
        private let lock = Lock()

        init(fd: Int32, ownsFD: Bool, format: RaftLoggingConfig.Format) {
            self.fd = fd
            self.ownsFD = ownsFD
            self.format = format
        }

        deinit { if ownsFD { close(fd) } }

        func write(_ line: String) {
            var bytes = Array(line.utf8)
            bytes.append(UInt8(ascii: "\n"))
            lock.withLock { _ = try? FileDescriptor(rawValue: fd).writeAll(bytes) }
        }
    }

    /// Opens the configured output; a file that cannot be opened is a one-line error naming it.
    public static func sink(for config: RaftLoggingConfig) throws -> Sink {
        switch config.output {
        case "stderr", "": return Sink(fd: 2, ownsFD: false, format: config.format)
        case "stdout": return Sink(fd: 1, ownsFD: false, format: config.format)
        default:
            // Its directory is made if missing (the seed's /var/log/vip-switch/daemon.log), as
            // a logging daemon would.
            var dir = config.output.hasPrefix("/") ? "" : "."
            for part in config.output.split(separator: "/").dropLast() {
                dir += "/" + part
                _ = mkdir(dir, 0o755)
            }
            let fd = open(config.output, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                throw ConfigError(file: config.output, keyPath: "logging.output",
                                  reason: "cannot open log file: \(String(cString: strerror(errno)))")
            }
            return Sink(fd: fd, ownsFD: true, format: config.format)
        }
    }

    /// A Logger for `config` (level, format, output).
    public static func logger(label: String, config: RaftLoggingConfig) throws -> Logger {
        let sink = try sink(for: config)
        var l = Logger(label: label) { _ in RaftLogHandler(sink: sink) }
        l.logLevel = level(config.level)
        return l
    }

    public static func level(_ l: RaftLoggingConfig.Level) -> Logger.Level {
        switch l {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warn: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }

    let sink: Sink
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init(sink: Sink) { self.sink = sink }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var md = metadata
        if let extra = event.metadata { md.merge(extra) { $1 } }
        sink.write(Self.format(sink.format, time: Date(), level: event.level, message: "\(event.message)", metadata: md))
    }

    static func levelName(_ l: Logger.Level) -> String { l == .warning ? "warn" : l.rawValue }

    static func timestamp(_ d: Date) -> String {
        let ms = Int64((d.timeIntervalSince1970 * 1000).rounded(.down))
        var t = time_t(ms / 1000)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return "\(zeroPadded(Int(tmv.tm_year) + 1900, width: 4))-\(zeroPadded(tmv.tm_mon + 1, width: 2))-\(zeroPadded(tmv.tm_mday, width: 2))"
            + "T\(zeroPadded(tmv.tm_hour, width: 2)):\(zeroPadded(tmv.tm_min, width: 2)):\(zeroPadded(tmv.tm_sec, width: 2))"
            + ".\(zeroPadded(Int(ms % 1000), width: 3))Z"
    }

    static func format(_ f: RaftLoggingConfig.Format, time: Date, level: Logger.Level, message: String,
                       metadata: Logger.Metadata) -> String {
        let keys = metadata.keys.sorted()
        switch f {
        case .json:
            var out = "{\"time\":\"\(timestamp(time))\",\"level\":\"\(levelName(level))\",\"msg\":" + jsonString(message)
            for k in keys where !["time", "level", "msg"].contains(k) {
                out += "," + jsonString(k) + ":" + jsonString("\(metadata[k] ?? "")")
            }
            return out + "}"
        case .text:
            var out = "\(timestamp(time)) \(levelName(level)) "
            for u in "\(message)".unicodeScalars {
                if u == "\n" { out += "\\n" } else { out.unicodeScalars.append(u) }
            }
            for k in keys {
                let v = "\(metadata[k] ?? "")"
                let quoted = v.isEmpty || v.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" }
                out += " \(k)=" + (quoted ? jsonString(v) : v)
            }
            return out
        }
    }

    static func jsonString(_ s: String) -> String { JSONValue.quoted(s) }
}

extension HookDispatcher {
    /// Configured hooks that cannot run as configured (command missing or not executable), as one-line
    /// warnings for `raft serve` to print at start and on reload. The hooks still run (and fail by policy).
    public static func problems(_ hooks: HooksConfig) -> [String] {
        guard hooks.enabled else { return [] }
        let path = ProcessInfo.processInfo.environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? HookExecutor.defaultPath
        var out: [String] = []
        for e in HookEvent.allCases {
            guard let spec = hooks.specs[e] else { continue }
            if HookExecutor.resolve(spec.command, path: path) == nil {
                out.append("hooks.\(e.rawValue).command: '\(spec.command)': " +
                           (spec.command.contains(Character("/")) ? "no such executable file" : "not found in PATH"))
            }
        }
        return out
    }
}
