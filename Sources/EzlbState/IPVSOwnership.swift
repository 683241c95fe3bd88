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

    public static let fileName = "ipvs.json"
    public static let kind = "ipvs"
    public static let schema = 1
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
