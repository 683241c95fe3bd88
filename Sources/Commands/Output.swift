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

    /// True when the report's output starts with its actions: a prefix of them can then be
    /// written before the rest of the report is known (`PrerenderedReport` streaming).
    /// JSON: `actions` is the first key; text: there is no body before the action lines.
    func actionsComeFirst(_ format: OutputFormat) -> Bool {
        switch format {
        case .json: return !extra.keys.contains { $0 < "actions" }
        case .text: return body == nil
        }
    }

    /// `json().text` and a newline, written to `out` as it is made: the actions are
    /// rendered one by one into the buffer, which goes out every megabyte. With `skip`
    /// (only when `actionsComeFirst`), the output starts where that many actions were
    /// already written: after the `skip`-th action, before its separating comma.
    func writeJSON(to out: inout OutputBuffer, skip: Int = 0) {
        var o = extra
        o["command"] = .string(command)
        o["changed"] = .bool(changed)
        o["dry_run"] = .bool(dryRun)
        o["errors"] = .array(errors.map { .string($0) })
        o["warnings"] = .array(warnings.map { .string($0) })
        o["actions"] = .null // its place in the key order; rendered below
        var scratch = ByteText(capacity: 256)
        if skip == 0 { out.text.bytes.append(UInt8(ascii: "{")) }
        var keys = o.keys.sorted()
        if skip > 0 {
            // What is out already began with `{"actions":[`: any key that sorts before
            // "actions" (none in the reports that stream) follows the actions instead.
            keys.removeAll { $0 == "actions" }
            keys.insert("actions", at: 0)
        }
        for (i, k) in keys.enumerated() {
            if skip == 0 || k != "actions" {
                if i > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
                out.text.appendJSONString(k)
                out.text.bytes.append(UInt8(ascii: ":"))
            }
            guard k == "actions" else {
                o[k]!.write(into: &out.text)
                continue
            }
            if skip == 0 { out.text.bytes.append(UInt8(ascii: "[")) }
            for n in skip..<actions.count {
                if n > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
                actions[n].appendJSON(to: &out.text, dryRun: dryRun, scratch: &scratch)
                out.noteActions(n + 1)
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
    /// Action counts (ascending) after which a collecting render notes its offset in
    /// `text` (`markOffsets`, same order): where a streamed prefix may end.
    var marks: [Int] = []
    private(set) var markOffsets: [Int] = []

    /// A stream that writes confirmed prefixes of this (collecting) rendering as it goes.
    var stream: PrerenderedReport? = nil

    /// Called after the `n`-th action is rendered.
    mutating func noteActions(_ n: Int) {
        if markOffsets.count < marks.count && marks[markOffsets.count] == n {
            markOffsets.append(text.bytes.count)
            stream?.writeConfirmed(text, counts: marks, offsets: markOffsets)
        } else if n & 1023 == 0 {
            stream?.writeConfirmed(text, counts: marks, offsets: markOffsets)
        }
    }

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
        text.bytes.withUnsafeBytes { Self.write($0) }
        text.bytes.removeAll(keepingCapacity: true)
    }

    /// Writes `b` to fd 1 whole (a closed pipe or a full disk ends the output quietly).
    static func write(_ b: UnsafeRawBufferPointer) {
        var off = 0
        while off < b.count {
            let n = Glibc.write(1, b.baseAddress! + off, b.count - off)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            off += n
        }
    }

    /// Writes bytes `range` of a rendering without copying them.
    static func write(_ t: ByteText, _ range: Range<Int>) {
        t.bytes.withUnsafeBytes { write(UnsafeRawBufferPointer(rebasing: $0[range])) }
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

    /// The last report written, kept until the process exits (see `run`).
    nonisolated(unsafe) static var finishedReport: CommandReport? = nil

    /// Executes `body`; prints its report; exits with the right status.
    static func run(_ opts: CommonOptions, command: String, _ body: (Logger) throws -> CommandReport) throws {
        try run(opts.values, command: command, body)
    }

    static func run(_ opts: CommonValues, command: String, _ body: (Logger) throws -> CommandReport) throws {
        let log = logger(verbosity: opts.verbosity)
        try run(command: command, output: opts.output, dryRun: opts.dryRun, detailedExitcode: opts.detailedExitcode,
                log: log) { try body(log) }
    }

    /// The one way every command ends: the report (or, when `body` throws, a report holding
    /// the error: any error, with the exit status it carries, else 1) on stdout, warnings and
    /// errors on stderr, the documented exit status.
    static func run(command: String, output: OutputFormat, dryRun: Bool = false, detailedExitcode: Bool = false,
                    log: Logger? = nil, _ body: () throws -> CommandReport) throws {
        var report: CommandReport
        var status: ExitStatus = .success
        do {
            report = try body()
            if !report.errors.isEmpty || report.actions.contains(where: { $0.error != nil }) { status = .failure }
            else if report.changed && detailedExitcode { status = .changed }
        } catch {
            // Part of a streamed report may be on stdout already: this finishes it as one report.
            report = CommandReport(command: command, dryRun: dryRun)
            report.errors = [message(error)]
            status = (error as? EzlbError)?.exitStatus ?? .failure
        }
        var clock = log.map { PhaseClock(log: $0) }
        emit(report, format: output)
        clock?.lap("write result")
        // The process ends right after this: no freeing 20,000 actions, their changes
        // and rules one by one on the way out (~1.5 ms of a 10,000-backend snat sync).
        finishedReport = report
        if status != .success { throw ExitCode(status.rawValue) }
    }

    /// An error as one line: its description's first line.
    static func message(_ error: Error) -> String {
        let text = (error as? CustomStringConvertible)?.description ?? "\(error)"
        return text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? "\(error)"
    }

    static func emit(_ r: CommandReport, format: OutputFormat) {
        for w in r.warnings { stderr("ezlb: warning: \(w)") }
        if let p = PrerenderedReport.active {
            PrerenderedReport.active = nil
            let (written, k) = p.close()
            if r.prerendered === p, p.format == format, p.describes(r) {
                fflush(nil)
                OutputBuffer.write(p.output, written..<p.output.bytes.count)
                return
            }
            if k > 0, let e = p.expected {
                // The first k actions (and whatever comes before actions) are out already:
                // render the rest of this report after them. A report made after the stream
                // began (a command that failed later) still lists those actions: they happened.
                var rest = r
                if r.prerendered !== p { rest.actions = Array(e.actions[..<k]) + r.actions }
                var out = OutputBuffer()
                render(rest, format: format, into: &out, skip: k)
                return
            }
        }
        var out = OutputBuffer()
        render(r, format: format, into: &out)
    }

    /// The report on stdout (through `out`), errors on stderr. With `skip`, the first
    /// `skip` actions (and what comes before them) are already out (see `writeJSON`).
    static func render(_ r: CommandReport, format: OutputFormat, into out: inout OutputBuffer, skip: Int = 0) {
        switch format {
        case .json:
            r.writeJSON(to: &out, skip: skip)
            out.flush()
        case .text:
            func body() {
                guard let b = r.body else { return }
                out.text.append(b)
                if !(b.hasSuffix("\n") || b.isEmpty) { out.text.bytes.append(UInt8(ascii: "\n")) }
            }
            if skip == 0 { body() }
            for n in skip..<r.actions.count {
                let a = r.actions[n]
                if let e = a.error {
                    out.text.append("! " as StaticString)
                    a.appendText(to: &out.text)
                    out.text.bytes.append(UInt8(ascii: "\n"))
                    out.flush() // the line before its error on stderr
                    stderr("ezlb: error: \(e)")
                } else {
                    a.appendText(to: &out.text)
                    out.text.bytes.append(UInt8(ascii: "\n"))
                    out.noteActions(n + 1)
                    out.flushIfFull()
                }
            }
            if skip > 0 { body() } // (none in the reports that stream) never lost
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
///
/// Streaming: the command `confirm`s, table by table, that the first n actions are
/// final (that table's commit succeeded); the thread then writes the rendering up to
/// the end of those actions to stdout at once, while the command goes on with the next
/// table, when n is one of the `segments` given at the start and the report's output
/// begins with its actions (`actionsComeFirst`). `Runner.emit` closes the stream and
/// writes only what is not out yet — the rest of the rendering, or of the final report
/// when it turned out otherwise. One stream per process (`active`).
final class PrerenderedReport: @unchecked Sendable {
    let format: OutputFormat
    /// Set by the rendering thread; read after `close()`.
    private(set) var expected: CommandReport? = nil
    /// What `make` returned, as soon as it did (see `madeReport`).
    private var made: CommandReport? = nil
    private(set) var output = ByteText()
    private var markCounts: [Int] = []
    private var markOffsets: [Int] = []

    private let cond = Condition()
    private var confirmed = 0
    private var closed = false
    private var finished = false
    private var written = 0
    private var writtenActions = 0

    /// The stream `Runner.emit` completes (set on the main thread only).
    nonisolated(unsafe) static var active: PrerenderedReport? = nil

    /// Starts a thread that makes the expected report with `make` and renders it (a
    /// report with errors is not rendered: stderr is never written from there), then
    /// writes confirmed prefixes ending at one of `segments` (cumulative action counts).
    init(format: OutputFormat, segments: [Int] = [], make: @escaping () -> CommandReport) {
        self.format = format
        final class Maker: @unchecked Sendable {
            let make: () -> CommandReport
            init(_ make: @escaping () -> CommandReport) { self.make = make }
        }
        let maker = Maker(make)
        let marks = Array(Set(segments.filter { $0 > 0 })).sorted() // a table without changes repeats a count
        let t = PosixThread { [self] in
            // A reader gone away must not kill the process between two table commits:
            // this thread's writes then fail with EPIPE and end the output quietly, and
            // only the main thread's write after the last commit can raise SIGPIPE, as before.
            var pipe = sigset_t()
            sigemptyset(&pipe)
            sigaddset(&pipe, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipe, nil)
            let e = maker.make()
            cond.lock()
            made = e
            cond.broadcast()
            cond.unlock()
            if e.errors.isEmpty && !e.actions.contains(where: { $0.error != nil }) {
                var out = OutputBuffer(collecting: true)
                out.text.bytes.reserveCapacity(e.actions.count * 400 + 4096)
                if e.actionsComeFirst(self.format) {
                    out.marks = marks
                    out.stream = self // confirmed prefixes go out while the rest is rendered
                }
                Runner.render(e, format: self.format, into: &out)
                out.stream = nil
                cond.lock()
                output = out.text
                markOffsets = out.markOffsets
                markCounts = Array(out.marks.prefix(markOffsets.count))
                expected = e
            } else {
                cond.lock()
            }
            while true {
                cond.unlock()
                writeConfirmed(output, counts: markCounts, offsets: markOffsets)
                cond.lock()
                let pending = markCounts.contains { $0 <= confirmed && $0 > writtenActions }
                if closed && !pending { break }
                if !closed && !pending { cond.wait() } // a confirm made while writing is not missed
            }
            finished = true
            cond.broadcast()
            cond.unlock()
        }
        PrerenderedReport.active = self
        if !t.start() { // no thread to be had (EAGAIN): the command renders its own report as usual
            made = maker.make()
            finished = true
        }
    }

    /// On the rendering thread: writes `text` up to the end of the last confirmed
    /// segment rendered so far (`offsets[i]` ends the first `counts[i]` actions), if
    /// that is more than is out already.
    func writeConfirmed(_ text: ByteText, counts: [Int], offsets: [Int]) {
        cond.lock()
        let i = offsets.indices.last { counts[$0] <= confirmed }
        let start = written
        guard let i, counts[i] > writtenActions else { cond.unlock(); return }
        cond.unlock()
        fflush(nil) // nothing printed through stdio before is reordered
        OutputBuffer.write(text, start..<offsets[i])
        cond.lock()
        written = offsets[i]
        writtenActions = counts[i]
        cond.unlock()
    }

    /// The first `actions` actions of the command's report are final and the same as
    /// the expected report's (call with the counts given as `segments`, in order).
    func confirm(actions: Int) {
        cond.lock()
        confirmed = max(confirmed, actions)
        cond.broadcast()
        cond.unlock()
    }

    /// The report `make` returned (waits for it: the thread makes it before rendering).
    /// A command whose every step went as planned takes its actions from here instead of
    /// making the same 20,000 records again on its own thread.
    func madeReport() -> CommandReport {
        cond.lock()
        while made == nil { cond.wait() }
        let r = made!
        cond.unlock()
        return r
    }

    /// Ends the stream: waits for the thread, and returns how many bytes of `output`
    /// and how many actions are on stdout already.
    func close() -> (written: Int, actions: Int) {
        cond.lock()
        closed = true
        cond.broadcast()
        while !finished { cond.wait() }
        let r = (written, writtenActions)
        cond.unlock()
        return r
    }

    /// True when `r` has the expected report's fields, as many actions, and no errors
    /// (the actions are the ones rendered: the caller makes both from one plan).
    func describes(_ r: CommandReport) -> Bool {
        _ = close()
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
