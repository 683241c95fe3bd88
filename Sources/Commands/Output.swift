import ArgumentParser
import EzlbConfig
import EzlbCore
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

/// Documented exit codes (README "Exit codes", man page EXIT STATUS).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// Runtime failure: kernel refused an operation, partial apply, conflict, I/O.
    case failure = 1
    /// Something changed (only with --detailed-exitcode).
    case changed = 2
    /// Usage error: bad flags or arguments.
    case usage = 64
    /// A resource is exhausted: no free address left in an IPAM subnet or range (EX_UNAVAILABLE).
    case unavailable = 69
    /// Another ezlb run holds the state lock (try again).
    case busy = 75
    /// Invalid config file or state file.
    case config = 78
}

/// An error that ends a command with a one-line message and a documented exit code.
public struct EzlbFailure: Error, CustomStringConvertible {
    public var status: ExitStatus
    public var message: String
    public init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
    public var description: String { message }
}

func UsageFailure(_ message: String) -> EzlbFailure { EzlbFailure(.usage, message) }

/// One planned or performed action.
public struct ActionRecord {
    public var text: String
    public var json: [String: JSONValue]
    public var error: String?
    /// The whole JSON object already rendered (including `done`/`error`), for
    /// commands that report tens of thousands of actions; used instead of `json`.
    public var rawJSON: String? = nil
}

/// What a command reports: rendered as text lines or one JSON object on stdout.
public struct CommandReport {
    public var command: String
    public var dryRun: Bool
    public var actions: [ActionRecord] = []
    public var errors: [String] = []
    public var warnings: [String] = []
    /// Extra top-level JSON fields (e.g. `services` for show).
    public var extra: [String: JSONValue] = [:]
    /// Text to print instead of action lines (show).
    public var body: String? = nil
    public var summary: String? = nil

    public init(command: String, dryRun: Bool) {
        self.command = command
        self.dryRun = dryRun
    }

    /// True when the kernel or state changed (or would, for a dry run).
    public var changed: Bool { actions.contains { $0.error == nil } }

    func json() -> JSONValue {
        var o = extra
        o["command"] = .string(command)
        o["changed"] = .bool(changed)
        o["dry_run"] = .bool(dryRun)
        o["actions"] = .array(actions.map { a in
            if let r = a.rawJSON { return .raw(r) }
            var j = a.json
            j["done"] = .bool(!dryRun && a.error == nil)
            if let e = a.error { j["error"] = .string(e) }
            return .object(j)
        })
        o["errors"] = .array(errors.map { .string($0) })
        o["warnings"] = .array(warnings.map { .string($0) })
        return .object(o)
    }
}

/// Runs a command body with the conventions every command follows: logging
/// to stderr, results on stdout, one-line errors, documented exit codes.
enum Runner {
    static func logger(verbosity: Int) -> Logger {
        var l = Logger(label: "ezlb") { _ in StreamLogHandler.standardError(label: "ezlb") }
        l.logLevel = verbosity >= 2 ? .debug : (verbosity == 1 ? .info : .warning)
        return l
    }

    static func stderr(_ line: String) {
        writeStandardError(line + "\n")
    }

    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Executes `body`; prints its report; exits with the right status.
    static func run(_ opts: CommonOptions, command: String, _ body: (Logger) throws -> CommandReport) throws {
        let log = logger(verbosity: opts.verbosity)
        var report: CommandReport
        var status: ExitStatus = .success
        do {
            report = try body(log)
            if !report.errors.isEmpty || report.actions.contains(where: { $0.error != nil }) { status = .failure }
            else if report.changed && opts.detailedExitcode { status = .changed }
        } catch let f as EzlbFailure {
            report = CommandReport(command: command, dryRun: opts.dryRun)
            report.errors = [f.message]
            status = f.status
        } catch let e as ConfigError {
            report = CommandReport(command: command, dryRun: opts.dryRun)
            report.errors = [e.description]
            status = .config
        } catch let e as StateError {
            report = CommandReport(command: command, dryRun: opts.dryRun)
            report.errors = [e.description]
            if case .lockTimeout = e { status = .busy } else if case .io = e { status = .failure } else { status = .config }
        } catch let e as IPVSError {
            report = CommandReport(command: command, dryRun: opts.dryRun)
            report.errors = [e.description]
            status = .failure
        }
        var clock = PhaseClock(log: log)
        emit(report, format: opts.output)
        clock.lap("write result")
        if status != .success { throw ExitCode(status.rawValue) }
    }

    static func emit(_ r: CommandReport, format: OutputFormat) {
        for w in r.warnings { stderr("ezlb: warning: \(w)") }
        switch format {
        case .json:
            print(r.json().text)
        case .text:
            if let b = r.body { print(b, terminator: b.hasSuffix("\n") || b.isEmpty ? "" : "\n") }
            for a in r.actions {
                if let e = a.error { print("! \(a.text)"); stderr("ezlb: error: \(e)") } else { print(a.text) }
            }
            if let s = r.summary { print(s) }
            for e in r.errors { stderr("ezlb: error: \(e)") }
        }
    }
}

/// A progress line on stderr, shown only when stderr is a terminal.
struct Progress {
    let total: Int
    let label: String
    let enabled: Bool
    init(total: Int, label: String) {
        self.total = total
        self.label = label
        enabled = Runner.stderrIsTTY && total >= 500
    }
    func update(_ done: Int) {
        guard enabled else { return }
        writeStandardError("\r\(label) \(done)/\(total)")
    }
    func finish() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[K")
    }
}

/// Logs how long each phase of a command took, at debug level (`-vv`).
struct PhaseClock {
    private let clock = ContinuousClock()
    private var last: ContinuousClock.Instant
    private let log: Logger

    init(log: Logger) {
        self.log = log
        last = clock.now
    }

    mutating func lap(_ phase: String) {
        let now = clock.now
        let d = now - last
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        log.debug("\(phase): \(Int(ms.rounded())) ms")
        last = now
    }
}
