import EzlbCore

/// `ipam.json`'s `data` as JSON without Codable (see EzlbCore/JSONReading.swift for why).
/// The layout is the one the Codable conformances write, so files written by either
/// read with either (IPAMStateJSONTests checks both directions).
extension IPAMState {
    public init(json: JSONValue, path: String = "data") throws(JSONShapeError) {
        let o = try json.object(at: path)
        let list = try o.required("subnets", at: path).array(at: path + ".subnets")
        var subnets: [SubnetAllocations] = []
        subnets.reserveCapacity(list.count)
        for (i, v) in list.enumerated() {
            subnets.append(try SubnetAllocations(json: v, path: "\(path).subnets[\(i)]"))
        }
        self.init(subnets: subnets)
    }

    public var json: JSONValue {
        .object(["subnets": .array(subnets.map(\.json))])
    }
}

extension SubnetAllocations {
    init(json: JSONValue, path: @autoclosure () -> String) throws(JSONShapeError) {
        let o = try json.object(at: path())
        let text = try o.required("subnet", at: path()).string(at: path() + ".subnet")
        guard case .success(let s) = IPSubnet.parse(text) else {
            throw .invalid(path() + ".subnet", "'\(text)' is not a subnet")
        }
        let list = try o.required("allocations", at: path()).array(at: path() + ".allocations")
        var allocations: [Allocation] = []
        allocations.reserveCapacity(list.count)
        for (i, v) in list.enumerated() {
            allocations.append(try Allocation(json: v, path: path() + ".allocations[\(i)]"))
        }
        var rr: IPAddress? = nil
        if let v = o.optional("round_robin_last") {
            rr = try IPAddress(json: v, at: path() + ".round_robin_last")
        }
        self.init(subnet: s, allocations: allocations, roundRobinLast: rr)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["subnet": .string(subnet.description), "allocations": .array(allocations.map(\.json))]
        if let r = roundRobinLast { o["round_robin_last"] = .string(r.description) }
        return .object(o)
    }
}

extension Allocation {
    init(json: JSONValue, path: @autoclosure () -> String) throws(JSONShapeError) {
        let o = try json.object(at: path())
        let ip = try IPAddress(json: try o.required("ip", at: path()), at: path() + ".ip")
        let owner = try o.optional("owner").map { v throws(JSONShapeError) in try v.string(at: path() + ".owner") }
        let at = try o.required("allocated_at", at: path()).string(at: path() + ".allocated_at")
        // RFC 3339 UTC as ezlb writes it: 2026-12-06T16:00:00Z.
        let shape = Array("dddd-dd-ddTdd:dd:ddZ".utf8)
        guard at.utf8.count == shape.count, zip(at.utf8, shape).allSatisfy({ $1 == UInt8(ascii: "d") ? (0x30...0x39).contains($0) : $0 == $1 }) else {
            throw .invalid(path() + ".allocated_at", "not a UTC time like 2026-01-31T12:00:00Z")
        }
        // Owners are not re-checked: earlier versions accepted more than `validateOwner` now
        // does, and text output escapes whatever they hold.
        if owner?.isEmpty == true { throw .invalid(path() + ".owner", "must not be empty") }
        self.init(ip: ip, owner: owner, allocatedAt: at)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["ip": .string(ip.description), "allocated_at": .string(allocatedAt)]
        if let owner { o["owner"] = .string(owner) }
        return .object(o)
    }
}
