import EzlbCore

/// What `<state-dir>/health.json` records: per service and backend the health
/// flag, the consecutive success/failure counters, the last probe time and
/// error; and the services whose sorry server is in use. Written by
/// `ipvs apply` (under the ipvs lock), read by `ipvs apply`, `ipvs health`
/// and `snat sync`.
public struct HealthStateFile: StateFile, Equatable, Sendable {
    public var table: HealthTable

    public init(_ table: HealthTable) { self.table = table }

    public static let fileName = "health.json"
    public static let kind = "health"
    public static let schema = 1
    public static let recovery = "delete it: every backend then starts healthy again and the next 'ezlb ipvs apply' probes it"

    /// `{"backends": [{"service", "backend", "healthy", "successes", "failures", "last_probe"?,
    /// "last_error"?, "since"?}], "sorry": {"service": "addr:port"}}`. Counters and Unix times
    /// must be sane: a hand-edited or damaged file is a state error, not an overflow later.
    public init(stateJSON json: JSONValue) throws(JSONShapeError) {
        let o = try json.object(at: "data")
        var t = HealthTable()
        for (i, v) in try o.required("backends", at: "data").array(at: "data.backends").enumerated() {
            let p = "data.backends[\(i)]"
            let b = try v.object(at: p)
            func counter(_ k: String) throws(JSONShapeError) -> Int {
                let n = try b.required(k, at: p).int(at: p + "." + k)
                guard (0...BackendHealth.maxCounter).contains(n) else { throw .invalid(p + "." + k, "\(n) is not a count in 0...\(BackendHealth.maxCounter)") }
                return n
            }
            func time(_ k: String) throws(JSONShapeError) -> Double? {
                guard let v = b.optional(k), v != .null else { return nil }
                let d = try v.double(at: p + "." + k)
                guard (0...1e11).contains(d) else { throw .invalid(p + "." + k, "\(d) is not a Unix time") }
                return d
            }
            let text = try b.required("backend", at: p).string(at: p + ".backend")
            guard case .success(let e) = Endpoint.parse(text, portOptional: true) else { throw .invalid(p + ".backend", "not an endpoint: \(text)") }
            guard case .bool(let healthy) = try b.required("healthy", at: p) else { throw .wrongType(p + ".healthy") }
            var lastError: String? = nil
            if let v = b.optional("last_error"), v != .null { lastError = try v.string(at: p + ".last_error") }
            let h = BackendHealth(service: try b.required("service", at: p).string(at: p + ".service"), backend: e, healthy: healthy,
                                  successes: try counter("successes"), failures: try counter("failures"),
                                  lastProbe: try time("last_probe"), lastError: lastError, since: try time("since"))
            t.records[HealthKey(service: h.service, backend: h.backend)] = h
        }
        if let v = o.optional("sorry") {
            for (name, ev) in try v.object(at: "data.sorry") {
                let text = try ev.string(at: "data.sorry.\(name)")
                guard case .success(let e) = Endpoint.parse(text, portOptional: true) else { throw .invalid("data.sorry.\(name)", "not an endpoint: \(text)") }
                t.sorry[name] = e
            }
        }
        table = t
    }

    public var stateJSON: JSONValue {
        .object([
            "backends": .array(table.records.sorted { $0.key < $1.key }.map { _, b in
                var o: [String: JSONValue] = [
                    "service": .string(b.service), "backend": .string(b.backend.description), "healthy": .bool(b.healthy),
                    "successes": .int(b.successes), "failures": .int(b.failures),
                ]
                if let t = b.lastProbe { o["last_probe"] = .number(t) }
                if let e = b.lastError { o["last_error"] = .string(e) }
                if let t = b.since { o["since"] = .number(t) }
                return .object(o)
            }),
            "sorry": .object(table.sorry.mapValues { .string($0.description) }),
        ])
    }
}

extension StateDirectory {
    /// The stored health table; empty when the file does not exist.
    public func readHealth() throws -> HealthTable { try load(HealthStateFile.self)?.table ?? HealthTable() }
}
