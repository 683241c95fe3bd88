import EzlbCore

/// What `<state-dir>/snat.json` records: the iptables chains ezlb manages (and
/// so may rewrite or delete), with the built-in chain that jumps into each.
/// Written before the kernel is touched (intent: desired ∪ previously owned) and
/// again after a successful commit (exactly what is managed now).
public struct SNATOwnership: StateFile, Equatable, Sendable {
    public var chains: [ManagedChainID]
    /// nftables tables ezlb created for FullNAT (`inet ezlb`); written before the table is.
    public var nftTables: [String]

    public init(chains: [ManagedChainID] = [], nftTables: [String] = []) {
        self.chains = Array(Set(chains)).sorted()
        self.nftTables = Array(Set(nftTables)).sorted()
    }

    public static let fileName = "snat.json"
    public static let kind = "snat"
    public static let schema = 1
    public static let recovery = "delete it and run 'ezlb snat sync' (ezlb's chains are named EZLB-* and are taken over again)"

    /// `{"chains": [{"ref": {"family": "ipv4", "table": "nat"}, "name": "EZLB-SNAT", "hook": "POSTROUTING"}], "nftables": ["inet ezlb"]}`
    /// (`nftables` absent in files from before the nftables backend).
    public init(stateJSON json: JSONValue) throws(JSONShapeError) {
        var chains: [ManagedChainID] = []
        for (i, v) in try json.object(at: "data").required("chains", at: "data").array(at: "data.chains").enumerated() {
            let p = "data.chains[\(i)]"
            let o = try v.object(at: p)
            let ref = try o.required("ref", at: p).object(at: p + ".ref")
            guard let family = IPFamily(rawValue: try ref.required("family", at: p + ".ref").string(at: p + ".ref.family")) else {
                throw .invalid(p + ".ref.family", "expected ipv4 or ipv6")
            }
            guard let table = XTTable(rawValue: try ref.required("table", at: p + ".ref").string(at: p + ".ref.table")) else {
                throw .invalid(p + ".ref.table", "not a table ezlb manages")
            }
            chains.append(ManagedChainID(ref: XTTableRef(family, table), name: try o.required("name", at: p).string(at: p + ".name"),
                                         hook: try o.required("hook", at: p).string(at: p + ".hook")))
        }
        var tables: [String] = []
        let data = try json.object(at: "data")
        if let t = data["nftables"] {
            for (i, v) in try t.array(at: "data.nftables").enumerated() {
                let name = try v.string(at: "data.nftables[\(i)]")
                guard name == "inet ezlb" else { throw .invalid("data.nftables[\(i)]", "not a table ezlb manages") }
                tables.append(name)
            }
        }
        self.init(chains: chains, nftTables: tables)
    }

    public var stateJSON: JSONValue {
        var o: [String: JSONValue] = ["chains": .array(chains.map { c in
            .object(["ref": .object(["family": .string(c.ref.family.rawValue), "table": .string(c.ref.table.rawValue)]),
                     "name": .string(c.name), "hook": .string(c.hook)])
        })]
        if !nftTables.isEmpty { o["nftables"] = .array(nftTables.map { .string($0) }) }
        return .object(o)
    }
}
