import EzlbCore

/// What `<state-dir>/snat.json` records: the iptables chains ezlb manages (and
/// so may rewrite or delete), with the built-in chain that jumps into each.
/// Written before the kernel is touched (intent: desired ∪ previously owned) and
/// again after a successful commit (exactly what is managed now).
public struct SNATOwnership: Codable, Equatable, Sendable {
    public var chains: [ManagedChainID]

    public init(chains: [ManagedChainID] = []) {
        self.chains = Array(Set(chains)).sorted()
    }

    public static let fileName = "snat.json"
    public static let kind = "snat"
    public static let schema = 1
    public static let recovery = "delete it and run 'ezlb snat sync' (ezlb's chains are named EZLB-* and are taken over again)"
}

extension StateDirectory {
    public func readSNATOwnership() throws -> SNATOwnership {
        try read(SNATOwnership.self, from: SNATOwnership.fileName, kind: SNATOwnership.kind,
                 schema: SNATOwnership.schema, recovery: SNATOwnership.recovery) ?? SNATOwnership()
    }

    public func writeSNATOwnership(_ o: SNATOwnership) throws {
        try write(SNATOwnership(chains: o.chains), to: SNATOwnership.fileName,
                  kind: SNATOwnership.kind, schema: SNATOwnership.schema)
    }
}
