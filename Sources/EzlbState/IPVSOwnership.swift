import EzlbCore

/// What `<state-dir>/ipvs.json` records: the services ezlb created (or adopted),
/// so only those are ever updated or deleted.
public struct IPVSOwnership: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var key: ServiceKey
        /// Config name of the service when it was last applied.
        public var name: String
        public init(key: ServiceKey, name: String) {
            self.key = key
            self.name = name
        }
    }

    /// Services ezlb owns, sorted by key.
    public var services: [Entry]

    public init(services: [Entry] = []) {
        self.services = services.sorted { $0.key < $1.key }
    }

    public var keys: Set<ServiceKey> { Set(services.map(\.key)) }

    // Schema 2 writes `{"services": {"tcp 10.0.0.1:80": "web", "fwmark 7 ipv4": "m"}}`:
    // one flat string map, which decodes far faster than an object per service
    // on tables of thousands of services. Schema 1 (a list of
    // `{"key": {...}, "name": ...}` objects) is still read.
    private enum CodingKeys: String, CodingKey { case services }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let map = try? c.decode([String: String].self, forKey: .services) {
            var entries: [Entry] = []
            entries.reserveCapacity(map.count)
            for (k, name) in map {
                guard let key = ServiceKey(text: k) else {
                    throw DecodingError.dataCorruptedError(forKey: .services, in: c, debugDescription: "not a service key: \(k)")
                }
                entries.append(Entry(key: key, name: name))
            }
            self.init(services: entries)
        } else {
            self.init(services: try c.decode([Entry].self, forKey: .services))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var map: [String: String] = [:]
        for e in services { map[e.key.description] = e.name }
        try c.encode(map, forKey: .services)
    }

    public static let fileName = "ipvs.json"
    public static let kind = "ipvs"
    public static let schema = 2
    public static let recovery = "run 'ezlb ipvs apply --adopt' to rebuild ownership from config ∩ kernel (the bad file is kept as ipvs.json.corrupt-<time>)"
}

extension StateDirectory {
    public func readIPVSOwnership() throws -> IPVSOwnership {
        try read(IPVSOwnership.self, from: IPVSOwnership.fileName, kind: IPVSOwnership.kind,
                 schema: IPVSOwnership.schema, recovery: IPVSOwnership.recovery) ?? IPVSOwnership()
    }

    public func writeIPVSOwnership(_ o: IPVSOwnership) throws {
        try write(IPVSOwnership(services: o.services), to: IPVSOwnership.fileName,
                  kind: IPVSOwnership.kind, schema: IPVSOwnership.schema)
    }
}
