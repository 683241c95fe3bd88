import SystemPackage
import ArgumentParser
import EzlbCore
import EzlbReconcile
import EzlbState
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The one way every command ends and the one renderer of reports: results on stdout (text
/// lines or one JSON object), warnings and errors on stderr, the documented exit status.
enum Runner {
    static func logger(verbosity: Int) -> Logger {
        var l = Logger(label: "ezlb") { _ in StreamLogHandler.standardError(label: "ezlb") }
        l.logLevel = verbosity >= 2 ? .debug : (verbosity == 1 ? .info : .warning)
        return l
    }

    /// One line on stderr, escaped for a terminal (a value's newline or ESC cannot start
    /// another line or move the cursor).
    static func stderr(_ line: String) { writeStandardError(TerminalText.escaped(line) + "\n") }

    /// The last report written, kept until the process exits: the process ends right after
    /// it, so 20,000 actions are not freed one by one on the way out.
    nonisolated(unsafe) static var finishedReport: CommandReport? = nil

    /// The report being rendered ahead of time (`prerender`), if any.
    nonisolated(unsafe) static var pending: Prerender? = nil

    /// Runs a kernel-facing command: its reconciler gets the context the options name.
    static func run(_ opts: CommonValues, command: String, optionalConfig: Bool = false,
                    _ body: (ReconcileContext) throws -> CommandReport) throws {
        let log = logger(verbosity: opts.verbosity)
        let started = monotonicNs()
        var metrics: ((CommandReport, ExitStatus) -> Void)? = nil
        if let path = opts.metricsFile {
            metrics = { report, status in
                // health.json's verdicts with the IPVS commands, which keep it.
                let dir = StateDirectory(path: opts.stateDir)
                let health = command.hasPrefix("ipvs") ? try? dir.readHealth() : nil
                do {
                    try Metrics.write(path: path, command: command, report: report, status: status, started: started, health: health,
                                      managed: Metrics.managed(command: command, stateDir: dir))
                } catch {
                    stderr("ezlb: warning: --metrics-file \(path): not written: \(message(error))")
                }
            }
        }
        try run(command: command, output: opts.output, dryRun: opts.dryRun, detailedExitcode: opts.detailedExitcode, quiet: opts.quiet,
                log: log, metrics: metrics) {
            try body(opts.context(log: log, optionalConfig: optionalConfig))
        }
    }

    /// The one way every command ends: the report (or, when `body` throws, a report holding
    /// the error: any error, with the exit status it carries, else 1) on stdout, warnings and
    /// errors on stderr, the documented exit status.
    static func run(command: String, output: OutputFormat, dryRun: Bool = false, detailedExitcode: Bool = false,
                    quiet: Bool = false, log: Logger? = nil, metrics: ((CommandReport, ExitStatus) -> Void)? = nil,
                    _ body: () throws -> CommandReport) throws {
        var report: CommandReport
        var status: ExitStatus = .success
        do {
            report = try body()
            if report.failed { status = .failure } else if report.changed && detailedExitcode { status = .changed }
        } catch {
            report = CommandReport(command: command, dryRun: dryRun)
            report.errors = [message(error)]
            status = (error as? EzlbError)?.exitStatus ?? .failure
        }
        var clock = log.map { PhaseClock(log: $0) }
        // -q: a run that changed nothing and failed nothing says nothing (cron mails no one).
        if !(quiet && !report.changed && !report.failed && report.errors.isEmpty) { emit(report, format: output) }
        clock?.lap("write result")
        metrics?(report, status)
        finishedReport = report
        // A result that did not reach stdout (a full disk, a closed pipe) is a failure: a
        // script must not take `ipam allocate`'s exit 0 for an address it never received.
        if let e = OutputBuffer.writeError, status == .success || status == .changed {
            if e != .brokenPipe { stderr("ezlb: error: standard output: write failed: \(e)") }
            throw ExitCode(ExitStatus.failure.rawValue)
        }
        if status != .success { throw ExitCode(status.rawValue) }
    }

    /// An error as one line: its description with line breaks escaped (a value with a newline,
    /// such as a path, stays whole).
    static func message(_ error: Error) -> String {
        var out = ""
        for c in "\(error)".unicodeScalars {
            switch c {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Starts rendering `report` on another thread (the run goes on with the kernel); `emit`
    /// writes that rendering when the final report is still this one.
    static func prerender(_ report: CommandReport, format: OutputFormat) {
        pending = Prerender(report, format: format)
    }

    static func emit(_ r: CommandReport, format: OutputFormat) {
        for w in r.warnings { stderr("ezlb: warning: \(w)") }
        if let p = pending {
            pending = nil
            if let bytes = p.output(for: r) {
                var out = OutputBuffer()
                out.text = bytes
                out.flush()
                return
            }
        }
        var out = OutputBuffer()
        render(r, format: format, into: &out)
    }

    /// The report on stdout (through `out`), its errors on stderr. Text: the body, one line per
    /// action (`! line` for a refused one, its error on stderr right after), the summary.
    /// JSON: one object, keys sorted, actions rendered one by one into the buffer.
    static func render(_ r: CommandReport, format: OutputFormat, into out: inout OutputBuffer) {
        switch format {
        case .json:
            var o = r.extra
            o["command"] = .string(r.command)
            o["changed"] = .bool(r.changed)
            o["dry_run"] = .bool(r.dryRun)
            // Every error of the run, the refused actions' included (each also carries its own
            // "error"): a script that checks `errors` must see a failed run as failed.
            // One entry per distinct error (a refused table commit fails each of its actions alike).
            var seen = Set<String>()
            let refused = r.actions.compactMap { a in a.error.flatMap { seen.insert($0).inserted ? JSONValue.string("\(a.action.text): \($0)") : nil } }
            o["errors"] = .array(r.errors.map { .string($0) } + refused)
            o["warnings"] = .array(r.warnings.map { .string($0) })
            o["actions"] = .null // its place in the key order; rendered below
            var scratch = ByteText(capacity: 256)
            out.text.bytes.append(UInt8(ascii: "{"))
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
                out.text.appendJSONString(k)
                out.text.bytes.append(UInt8(ascii: ":"))
                guard k == "actions" else {
                    o[k]?.write(into: &out.text)
                    continue
                }
                out.text.bytes.append(UInt8(ascii: "["))
                for (n, a) in r.actions.enumerated() {
                    if n > 0 { out.text.bytes.append(UInt8(ascii: ",")) }
                    a.action.appendJSON(to: &out.text, done: !r.dryRun && a.error == nil, error: a.error, scratch: &scratch)
                    out.flushIfFull()
                }
                out.text.bytes.append(UInt8(ascii: "]"))
            }
            out.text.append("}\n" as StaticString)
            out.flush()
        case .text:
            out.terminalSafe = true
            if let b = r.body {
                out.text.append(b)
                if !(b.hasSuffix("\n") || b.isEmpty) { out.text.bytes.append(UInt8(ascii: "\n")) }
            }
            for a in r.actions {
                if let e = a.error {
                    out.text.append("! " as StaticString)
                    a.action.appendText(to: &out.text)
                    out.text.bytes.append(UInt8(ascii: "\n"))
                    out.flush() // the line before its error on stderr
                    stderr("ezlb: error: \(e)")
                } else {
                    a.action.appendText(to: &out.text)
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

/// Standard output written in large blocks straight to fd 1 (stdio's buffer is flushed
/// first, so nothing printed earlier is reordered), or only collected.
struct OutputBuffer {
    var text = ByteText(capacity: 1 << 16)
    /// Collects the whole output in `text` instead of writing it (a prerendering).
    let collecting: Bool
    /// Text for a terminal: control and invisible characters are escaped as it is written
    /// (TerminalText; JSON escapes its own).
    var terminalSafe = false
    static let block = 1 << 20
    /// The first failed write to stdout, if any.
    nonisolated(unsafe) static var writeError: Errno? = nil

    init(collecting: Bool = false) {
        self.collecting = collecting
        if !collecting { fflush(nil) }
    }

    mutating func flushIfFull() {
        if !collecting && text.bytes.count >= Self.block { flush() }
    }

    /// Writes everything buffered. Text is flushed at line ends only, so escaping never
    /// splits a character. A failed write is kept in `writeError` (the run then exits 1) and
    /// ends the output.
    mutating func flush() {
        guard !collecting else { return }
        if terminalSafe { TerminalText.escapeLines(&text.bytes) }
        if Self.writeError == nil {
            do { _ = try FileDescriptor.standardOutput.writeAll(text.bytes) } catch let e as Errno { Self.writeError = e } catch {
                Self.writeError = .ioError
            }
        }
        text.bytes.removeAll(keepingCapacity: true)
    }
}

/// A report rendered on another thread while the run still works: `snat sync` hands over the
/// report as it will be when every table commits as planned (20,000 actions), and the kernel
/// takes the tables meanwhile. The rendering is written only if the final report is that one
/// (docs/benchmarks.md, "Speed tricks").
final class Prerender: @unchecked Sendable {
    private let report: CommandReport
    private let cond = Condition()
    private var rendered: ByteText? = nil
    private var done = false

    init(_ report: CommandReport, format: OutputFormat) {
        self.report = report
        let t = PosixThread { [self] in
            var out = OutputBuffer(collecting: true)
            out.text.bytes.reserveCapacity(report.actions.count * 400 + 4096)
            Runner.render(report, format: format, into: &out)
            if format == .text { TerminalText.escapeLines(&out.text.bytes) }
            cond.withLock {
                rendered = out.text
                done = true
                cond.broadcast()
            }
        }
        if !t.start() { done = true } // no thread to be had: the report is rendered as usual
    }

    /// The rendering, when `final` is the report it rendered (same fields, no failure).
    func output(for final: CommandReport) -> ByteText? {
        cond.lock()
        while !done { cond.wait() }
        cond.unlock()
        guard let r = rendered, !final.failed, final.command == report.command, final.dryRun == report.dryRun,
              final.actions.count == report.actions.count, final.warnings == report.warnings, final.extra == report.extra,
              final.body == report.body, final.summary == report.summary else { return nil }
        return r
    }
}
