import ArgumentParser
import EzlbConfig
import EzlbCore
import EzlbState
import Foundation
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

/// An action that renders its own text line and JSON object when the report is
/// written: a report of tens of thousands of actions then builds no string per
/// action (`snat sync` of 10,000 backends reports 20,000 rules).
public protocol ReportAction {
    /// The first byte of the text line (`+`, `-`, `~`).
    var sign: UInt8 { get }
    /// The text line, without a newline.
    @discardableResult func appendText(to out: inout ByteText) -> Int
    /// The JSON object, `done` and `error` included; `scratch` is working space
    /// reused from one action to the next.
    func appendJSON(to out: inout ByteText, done: Bool, error: String?, scratch: inout ByteText)
}

/// One planned or performed action.
public struct ActionRecord {
    private var storedText: String
    public var json: [String: JSONValue]
    public var error: String?
    /// The whole JSON object already rendered (including `done`/`error`), for
    /// commands that report tens of thousands of actions; used instead of `json`.
    public var rawJSON: String? = nil
    /// Renders text and JSON at output time; used instead of the fields above.
    public private(set) var renderer: (any ReportAction)? = nil

    /// The first byte of `text` (0 for an empty one), kept: summaries count the signs of
    /// tens of thousands of actions.
    public private(set) var sign: UInt8

    public init(text: String, json: [String: JSONValue], error: String?) {
        storedText = text
        self.json = json
        self.error = error
        sign = text.utf8.first ?? 0
    }

    public init(_ action: any ReportAction, error: String?) {
        storedText = ""
        json = [:]
        self.error = error
        renderer = action
        sign = action.sign
    }

    public var text: String {
        get {
            guard let r = renderer else { return storedText }
            var t = ByteText(capacity: 160)
            r.appendText(to: &t)
            return t.string
        }
        set {
            storedText = newValue
            renderer = nil
            sign = newValue.utf8.first ?? 0
        }
    }

    func appendText(to out: inout ByteText) {
        if let r = renderer { r.appendText(to: &out) } else { out.append(storedText) }
    }

    func appendJSON(to out: inout ByteText, dryRun: Bool, scratch: inout ByteText) {
        let done = !dryRun && error == nil
        if let r = renderer { return r.appendJSON(to: &out, done: done, error: error, scratch: &scratch) }
        if let raw = rawJSON { return out.append(raw) }
        var j = json
        j["done"] = .bool(done)
        if let e = error { j["error"] = .string(e) }
        JSONValue.object(j).write(into: &out)
    }
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
    /// This report's output, made ahead of time (see `PrerenderedReport`); written
    /// instead of rendering the report again when it still describes this report.
    var prerendered: PrerenderedReport? = nil

    public init(command: String, dryRun: Bool) {
        self.command = command
        self.dryRun = dryRun
    }

    /// True when the kernel or state changed (or would, for a dry run).
    public var changed: Bool { actions.contains { $0.error == nil } }

    /// The actions by the sign of their text (`+` added, `~` changed, `-` deleted), those
    /// that failed apart; read through the buffer (no copy of each of 20,000 actions).
    func tally() -> (added: Int, changed: Int, deleted: Int, failed: Int) {
        var t = (added: 0, changed: 0, deleted: 0, failed: 0)
        actions.withUnsafeBufferPointer { a in
            for i in a.indices {
                if a[i].error != nil { t.failed += 1; continue }
                switch a[i].sign {
                case UInt8(ascii: "+"): t.added += 1
                case UInt8(ascii: "~"): t.changed += 1
                case UInt8(ascii: "-"): t.deleted += 1
                default: break
                }
            }
        }
        return t
    }

    func json() -> JSONValue {
        var o = extra
        o["command"] = .string(command)
        o["changed"] = .bool(changed)
        o["dry_run"] = .bool(dryRun)
        var scratch = ByteText()
        o["actions"] = .array(actions.map { a in
            var t = ByteText()
            a.appendJSON(to: &t, dryRun: dryRun, scratch: &scratch)
            return .raw(t.string)
        })
        o["errors"] = .array(errors.map { .string($0) })
        o["warnings"] = .array(warnings.map { .string($0) })
        return .object(o)
    }

    /// `json().text` and a newline, written to `out` as it is made: the actions are
    /// rendered one by one into the buffer, which goes out every megabyte.
    func writeJSON(to out: inout OutputBuffer) {
        var o = extra
        o["command"] = .string(command)
        o["changed"] = .bool(changed)
        o["dry_run"] = .bool(dryRun)
        o["errors"] = .array(errors.map { .string($0) })
        o["warnings"] = .array(warnings.map { .string($0) })
        o["actions"] = .null // its place in the key order; rendered below
        var scratch = ByteText(capacity: 256)
        out.text.bytes.append(UInt8(ascii: "{"))
        for (i, k) in o.keys.sorted().enumerated() {
            if i > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
            out.text.appendJSONString(k)
            out.text.bytes.append(UInt8(ascii: ":"))
            guard k == "actions" else {
                o[k]!.write(into: &out.text)
                continue
            }
            out.text.bytes.append(UInt8(ascii: "["))
            for (n, a) in actions.enumerated() {
                if n > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
                a.appendJSON(to: &out.text, dryRun: dryRun, scratch: &scratch)
                out.flushIfFull()
            }
            out.text.bytes.append(UInt8(ascii: "]"))
        }
        out.text.append("}\n" as StaticString)
    }
}

/// Standard output written in large blocks straight to fd 1 (stdio's buffer is
/// flushed first, so nothing printed earlier is reordered), or only collected.
struct OutputBuffer {
    var text = ByteText(capacity: 1 << 16)
    /// Collects the whole output in `text` instead of writing it.
    let collecting: Bool
    static let block = 1 << 20

    init(collecting: Bool = false) {
        self.collecting = collecting
        if !collecting { fflush(nil) } // every stdio output stream, stdout included
    }

    mutating func flushIfFull() {
        if !collecting && text.bytes.count >= Self.block { flush() }
    }

    /// Writes everything buffered (a closed pipe or a full disk ends the output quietly;
    /// the exit status is the command's).
    mutating func flush() {
        guard !collecting else { return }
        text.bytes.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = write(1, b.baseAddress! + off, b.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                off += n
            }
        }
        text.bytes.removeAll(keepingCapacity: true)
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
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static var stderrIsTTY: Bool { isatty(2) == 1 }

    /// Executes `body`; prints its report; exits with the right status.
    static func run(_ opts: CommonOptions, command: String, _ body: (Logger) throws -> CommandReport) throws {
        try run(opts.values, command: command, body)
    }

    static func run(_ opts: CommonValues, command: String, _ body: (Logger) throws -> CommandReport) throws {
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
        if let p = r.prerendered, p.format == format, p.describes(r) {
            var out = OutputBuffer()
            out.text = p.output
            out.flush()
            return
        }
        var out = OutputBuffer()
        render(r, format: format, into: &out)
    }

    /// The report on stdout (through `out`), errors on stderr.
    static func render(_ r: CommandReport, format: OutputFormat, into out: inout OutputBuffer) {
        switch format {
        case .json:
            r.writeJSON(to: &out)
            out.flush()
        case .text:
            if let b = r.body {
                out.text.append(b)
                if !(b.hasSuffix("\n") || b.isEmpty) { out.text.bytes.append(UInt8(ascii: "\n")) }
            }
            for a in r.actions {
                if let e = a.error {
                    out.text.append("! " as StaticString)
                    a.appendText(to: &out.text)
                    out.text.bytes.append(UInt8(ascii: "\n"))
                    out.flush() // the line before its error on stderr
                    stderr("ezlb: error: \(e)")
                } else {
                    a.appendText(to: &out.text)
                    out.text.bytes.append(UInt8(ascii: "\n"))
                    out.flushIfFull()
                }
            }
            if let s = r.summary { out.text.append(s); out.text.bytes.append(UInt8(ascii: "\n")) }
            out.flush()
            for e in r.errors { stderr("ezlb: error: \(e)") }
        }
    }
}

/// The output of a report rendered on another thread while the command still works
/// (`snat sync` renders its 20,000 actions while the kernel takes the tables): the
/// report as it will be if everything goes as planned, and its rendering. `emit`
/// writes it only when the final report still describes the same thing; otherwise
/// the final report is rendered as usual.
final class PrerenderedReport: @unchecked Sendable {
    let format: OutputFormat
    /// Set by the rendering thread; read after `wait()`.
    private(set) var expected: CommandReport? = nil
    private(set) var output = ByteText()
    private let done = DispatchSemaphore(value: 0)

    /// Starts a thread that makes the expected report with `make` and renders it (a
    /// report with errors is not rendered: stderr is never written from there).
    init(format: OutputFormat, make: @escaping () -> CommandReport) {
        self.format = format
        final class Maker: @unchecked Sendable {
            let make: () -> CommandReport
            init(_ make: @escaping () -> CommandReport) { self.make = make }
        }
        let maker = Maker(make)
        let t = Thread { [self] in
            let e = maker.make()
            if e.errors.isEmpty && !e.actions.contains(where: { $0.error != nil }) {
                var out = OutputBuffer(collecting: true)
                out.text.bytes.reserveCapacity(e.actions.count * 400 + 4096)
                Runner.render(e, format: self.format, into: &out)
                output = out.text
                expected = e
            }
            done.signal()
        }
        t.start()
    }

    /// Waits for the rendering to finish.
    func wait() { done.wait(); done.signal() }

    /// True when `r` has the expected report's fields, as many actions, and no errors
    /// (the actions are the ones rendered: the caller makes both from one plan).
    func describes(_ r: CommandReport) -> Bool {
        wait()
        guard let e = expected else { return false }
        return r.command == e.command && r.dryRun == e.dryRun && r.errors.isEmpty && e.errors.isEmpty
            && r.warnings == e.warnings && r.extra == e.extra && r.body == e.body && r.summary == e.summary
            && r.actions.count == e.actions.count && !r.actions.contains { $0.error != nil }
            && !e.actions.contains { $0.error != nil }
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
        FileHandle.standardError.write(Data("\r\(label) \(done)/\(total)".utf8))
    }
    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
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
        let tenths = d.components.seconds * 10_000 + d.components.attoseconds / 100_000_000_000_000
        log.debug("\(phase): \(tenths / 10).\(tenths % 10) ms")
        last = now
    }
}

/// What every group's `*Session` holds: the shared flags, the logger and the
/// state directory they name. Structs get `init(opts:log:dir:)` memberwise.
protocol CommandSession {
    var opts: CommonValues { get }
    var log: Logger { get }
    var dir: StateDirectory { get }
    init(opts: CommonValues, log: Logger, dir: StateDirectory)
}

extension CommandSession {
    init(_ opts: CommonValues, log: Logger) {
        self.init(opts: opts, log: log, dir: StateDirectory(path: opts.stateDir))
    }

    init(_ opts: CommonOptions, log: Logger) {
        self.init(opts.values, log: log)
    }
}
