import EzlbCore

/// What `<state-dir>/ipvs.json` records: the services ezlb created (or adopted),
/// so only those are ever updated or deleted.
public struct IPVSOwnership: StateFile, Equatable, Sendable {
    /// Service key -> config name of the service when it was last applied.
    public var services: [ServiceKey: String]

    public init(services: [ServiceKey: String] = [:]) {
        self.services = services
    }

    public static let fileName = "ipvs.json"
    public static let kind = "ipvs"
    public static let schema = 2
    public static let recovery = "run 'ezlb ipvs apply --adopt' to rebuild ownership from config ∩ kernel (the bad file is kept as ipvs.json.corrupt-<time>)"

    /// Schema 2: `{"services": {"tcp 10.0.0.1:80": "web", "fwmark 7 ipv4": "m"}}`, one flat map;
    /// schema 1 (a list of `{"key": {...}, "name": ...}` objects) is read too.
    public init(stateJSON json: JSONValue) throws(JSONShapeError) {
        let o = try json.object(at: "data")
        let v = try o.required("services", at: "data")
        var m: [ServiceKey: String] = [:]
        if case .object(let map) = v {
            m.reserveCapacity(map.count)
            for (k, name) in map {
                guard let key = ServiceKey(text: k) else { throw .invalid("data.services", "not a service key: \(k)") }
                m[key] = try name.string(at: "data.services.\(k)")
            }
        } else {
            for (i, e) in try v.array(at: "data.services").enumerated() {
                let p = "data.services[\(i)]"
                let eo = try e.object(at: p)
                m[try ServiceKey(legacyJSON: try eo.required("key", at: p), at: p + ".key")] = try eo.required("name", at: p).string(at: p + ".name")
            }
        }
        services = m
    }

    public var stateJSON: JSONValue {
        var map: [String: JSONValue] = [:]
        for (k, name) in services { map[k.description] = .string(name) }
        return .object(["services": .object(map)])
    }
}

extension ServiceKey {
    /// The schema-1 form: `{"protocol": "tcp", "address": "10.0.0.1", "port": 80}` or
    /// `{"fwmark": 7, "family": "ipv4"}`.
    init(legacyJSON v: JSONValue, at path: String) throws(JSONShapeError) {
        let o = try v.object(at: path)
        if let m = o.optional("fwmark") {
            guard let mark = UInt32(exactly: try m.int(at: path + ".fwmark")),
                  let f = IPFamily(rawValue: try o.required("family", at: path).string(at: path + ".family")) else {
                throw .invalid(path, "not a service key")
            }
            self = .fwmark(mark, f)
        } else {
            guard let p = IPVSProtocol(rawValue: try o.required("protocol", at: path).string(at: path + ".protocol")),
                  let port = UInt16(exactly: try o.required("port", at: path).int(at: path + ".port")) else {
                throw .invalid(path, "not a service key")
            }
            self = .inet(p, Endpoint(address: try IPAddress(json: try o.required("address", at: path), at: path + ".address"), port: port))
        }
    }
}
