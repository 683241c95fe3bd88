import EzlbCore
#if canImport(Glibc)
import Glibc
#endif

/// The Prometheus text exposition format, for node_exporter's textfile collector: the one
/// writer behind `--metrics-file` of the one-shot commands and of `raft serve`.
public struct PrometheusText {
    public private(set) var text = ""

    public init() {}

    /// One metric family: HELP, TYPE and its samples (`labels` in the given order).
    public mutating func add(_ name: String, _ help: String, type: String = "gauge",
                             _ samples: [(labels: [(String, String)], value: String)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for s in samples {
            let labels = s.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
            text += labels.isEmpty ? "\(name) \(s.value)\n" : "\(name){\(labels)} \(s.value)\n"
        }
    }

    /// Replaces `path` atomically (a temp file renamed over it), mode 0644 so the exporter's
    /// user can read it; not fsynced (the next run rewrites it).
    public func write(to path: String, option: String) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw Failure.usage("\(option): '\(path)': not a file name") }
        try StateDirectory(path: dir.isEmpty ? "/" : dir).writeRaw(Array(text.utf8), to: name, durable: false, mode: 0o644)
    }

    /// A label value as the text format wants it: backslash, double quote and newline escaped.
    public static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    /// `v` with `digits` decimals, without Foundation's String(format:).
    public static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = (v * scale).rounded()
        let whole = Int64(n / scale)
        var frac = String(Int64(abs(n - Double(whole) * scale)))
        while frac.count < digits { frac = "0" + frac }
        return "\(n < 0 && whole == 0 ? "-" : "")\(whole).\(frac)"
    }

    /// The wall clock as Unix seconds with milliseconds.
    public static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return fixed(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9, 3)
    }
}
