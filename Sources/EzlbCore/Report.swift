/// One planned or performed change as a report shows it: a text line whose first byte is its
/// sign (`+` added, `~` changed, `-` deleted) and a JSON object. Every domain's change type
/// renders itself when the report is written, so a report of tens of thousands of changes
/// (`snat sync` of 10,000 backends: 20,000 rules) builds no string per change; `FieldAction`
/// is the form for a prepared line and fields.
public protocol ReportAction {
    /// The first byte of the text line.
    var sign: UInt8 { get }
    /// Appends the text line (no newline); returns where the part after the verb starts
    /// (an offset in `out`, for renderers that reuse it).
    @discardableResult func appendText(to out: inout ByteText) -> Int
    /// Appends the JSON object, `done`, `error` (when set) and `text` included, keys sorted;
    /// `scratch` is working space reused from one action to the next.
    func appendJSON(to out: inout ByteText, done: Bool, error: String?, scratch: inout ByteText)
}

extension ReportAction {
    /// The text line.
    public var text: String {
        var t = ByteText(capacity: 160)
        appendText(to: &t)
        return t.string
    }
}

/// An action given as its text line and its JSON fields (`text`, `done` and `error` are added).
public struct FieldAction: ReportAction {
    public var line: String
    public var fields: [String: JSONValue]
    public init(_ line: String, _ fields: [String: JSONValue]) {
        self.line = line
        self.fields = fields
    }
    public var sign: UInt8 { line.utf8.first ?? 0 }
    @discardableResult public func appendText(to out: inout ByteText) -> Int {
        out.append(line)
        return out.bytes.count
    }
    public func appendJSON(to out: inout ByteText, done: Bool, error: String?, scratch: inout ByteText) {
        var o = fields
        o["text"] = .string(line)
        o["done"] = .bool(done)
        if let e = error { o["error"] = .string(e) }
        JSONValue.object(o).write(into: &out)
    }
}

/// An action in a report, with what became of it (nil: done, or planned for a dry run).
public struct ActionRecord {
    public let action: any ReportAction
    public var error: String?
    /// `action.sign`, kept: summaries count the signs of tens of thousands of actions.
    public let sign: UInt8

    public init(_ action: any ReportAction, error: String? = nil) {
        self.action = action
        self.error = error
        sign = action.sign
    }

    public var text: String { action.text }
}

/// What a command reports: written as text lines or as one JSON object on stdout
/// (`Output.swift` renders both).
public struct CommandReport {
    public var command: String
    public var dryRun: Bool
    public var actions: [ActionRecord] = []
    public var errors: [String] = []
    public var warnings: [String] = []
    /// Top-level JSON fields besides the standard ones (e.g. `services` for show).
    public var extra: [String: JSONValue] = [:]
    /// Text printed before the action lines (show commands).
    public var body: String? = nil
    public var summary: String? = nil
    /// The run ended on a convergence cache's fast path (not rendered; for tests and `-vv`).
    public var fromConvergenceCache = false

    public init(command: String, dryRun: Bool) {
        self.command = command
        self.dryRun = dryRun
    }

    /// True when the kernel or state changed (or would, for a dry run).
    public var changed: Bool { actions.contains { $0.error == nil } }

    /// True when something failed: an error, or an action that was refused.
    public var failed: Bool { !errors.isEmpty || actions.contains { $0.error != nil } }

    public mutating func add(_ action: any ReportAction, error: String? = nil) {
        actions.append(ActionRecord(action, error: error))
    }

    /// The actions by sign (`+` added, `~` changed, `-` deleted), those that failed apart.
    public func tally() -> (added: Int, changed: Int, deleted: Int, failed: Int) {
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

    /// `plan: 2 to add, 1 to change, 0 to delete` / `applied: 2 added, ...`, or `no changes`;
    /// `changeWord` names the middle count (IPVS: change, xfrm: update); nil leaves it out.
    public mutating func summarize(verb: String = "applied", changeWord: String? = "change") {
        guard !actions.isEmpty else { summary = "no changes"; return }
        let (add, upd, del, failed) = tally()
        var parts: [String]
        if dryRun {
            parts = ["\(add) to add"] + (changeWord.map { ["\(upd) to \($0)"] } ?? []) + ["\(del) to delete"]
        } else {
            let past = changeWord.map { $0.hasSuffix("e") ? $0 + "d" : $0 + "ed" }
            parts = ["\(add) added"] + (past.map { ["\(upd) \($0)"] } ?? []) + ["\(del) deleted"]
        }
        if failed > 0 { parts.append("\(failed) failed") }
        summary = "\(dryRun ? "plan" : verb): " + parts.joined(separator: ", ")
    }
}

/// Output format of a report.
public enum OutputFormat: String, CaseIterable, Sendable {
    case text, json
}
