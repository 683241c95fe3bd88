import EzlbCore

/// What `<state-dir>/health.json` records: per service and backend the health
/// flag, the consecutive success/failure counters, the last probe time and
/// error; and the services whose sorry server is in use. Written by
/// `ipvs apply` (under the ipvs lock), read by `ipvs apply`, `ipvs health`
/// and `snat sync`.
public struct HealthStateFile: Codable, Equatable, Sendable {
    /// Sorted by service name, then backend.
    public var backends: [BackendHealth]
    /// Service name -> sorry server endpoint (`addr:port`).
    public var sorry: [String: String]

    public init(_ table: HealthTable) {
        backends = table.records.sorted { $0.key < $1.key }.map(\.value)
        sorry = table.sorry.mapValues(\.description)
    }

    public func table(path: String) throws -> HealthTable {
        var t = HealthTable()
        t.records.reserveCapacity(backends.count)
        for b in backends { t.records[HealthKey(service: b.service, backend: b.backend)] = b }
        for (name, text) in sorry {
            guard case .success(let e) = Endpoint.parse(text, portOptional: true) else {
                throw StateError.corrupted(path: path, detail: "sorry.\(name): not an endpoint: \(text)", recovery: Self.recovery)
            }
            t.sorry[name] = e
        }
        return t
    }

    private enum CodingKeys: String, CodingKey { case backends, sorry }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backends = try c.decode([BackendHealth].self, forKey: .backends)
        sorry = try c.decodeIfPresent([String: String].self, forKey: .sorry) ?? [:]
    }

    public static let fileName = "health.json"
    public static let kind = "health"
    public static let schema = 1
    public static let recovery = "delete it: every backend then starts healthy again and the next 'ezlb ipvs apply' probes it"
}

extension StateDirectory {
    /// The stored health table; empty when the file does not exist.
    public func readHealth() throws -> HealthTable {
        guard let f = try read(HealthStateFile.self, from: HealthStateFile.fileName, kind: HealthStateFile.kind,
                               schema: HealthStateFile.schema, recovery: HealthStateFile.recovery) else { return HealthTable() }
        return try f.table(path: file(HealthStateFile.fileName))
    }

    public func writeHealth(_ table: HealthTable) throws {
        try write(HealthStateFile(table), to: HealthStateFile.fileName, kind: HealthStateFile.kind, schema: HealthStateFile.schema)
    }
}
