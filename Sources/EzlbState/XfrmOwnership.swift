import EzlbCore

/// What `<state-dir>/xfrm.json` records: how ezlb's xfrm objects are recognised
/// (policy priority, reqid range), the reqid given to each peer, and the key
/// rotation's progress. Written before the kernel is touched when it changes.
public struct XfrmOwnership: StateFile, Equatable, Sendable {
    public struct PeerReqid: Equatable, Sendable {
        public var peer: IPAddress
        public var reqid: UInt32
        public init(peer: IPAddress, reqid: UInt32) {
            self.peer = peer
            self.reqid = reqid
        }
    }
    public var priority: UInt32
    public var reqidFirst: UInt32
    public var reqidLast: UInt32
    public var local: IPAddress?
    public var peers: [PeerReqid]
    public var rotation: XfrmRotation?

    public init(priority: UInt32, reqidFirst: UInt32, reqidLast: UInt32, local: IPAddress? = nil,
                peers: [PeerReqid] = [], rotation: XfrmRotation? = nil) {
        self.priority = priority
        self.reqidFirst = reqidFirst
        self.reqidLast = reqidLast
        self.local = local
        self.peers = peers.sorted { $0.peer < $1.peer }
        self.rotation = rotation
    }

    public var reqids: [IPAddress: UInt32] {
        var m: [IPAddress: UInt32] = [:]
        for p in peers { m[p.peer] = p.reqid }
        return m
    }

    public static let fileName = "xfrm.json"
    public static let kind = "xfrm"
    public static let schema = 1
    public static let recovery = "delete it and run 'ezlb xfrm sync' (ezlb's objects are found again by priority and reqid range)"
}

extension XfrmOwnership {
    public init(stateJSON json: JSONValue) throws(JSONShapeError) {
        let path = "data"
        let o = try json.object(at: path)
        func u32(_ v: JSONValue, _ at: @autoclosure () -> String) throws(JSONShapeError) -> UInt32 {
            guard let n = UInt32(exactly: try v.int(at: at())) else { throw .invalid(at(), "out of range") }
            return n
        }
        let priority = try u32(try o.required("priority", at: path), path + ".priority")
        let first = try u32(try o.required("reqid_first", at: path), path + ".reqid_first")
        let last = try u32(try o.required("reqid_last", at: path), path + ".reqid_last")
        guard first <= last else { throw .invalid(path + ".reqid_last", "\(last) is below reqid_first \(first)") }
        var local: IPAddress? = nil
        if let v = o.optional("local") { local = try IPAddress(json: v, at: path + ".local") }
        var peers: [PeerReqid] = []
        for (i, v) in try o.required("peers", at: path).array(at: path + ".peers").enumerated() {
            let p = try v.object(at: "\(path).peers[\(i)]")
            peers.append(PeerReqid(peer: try IPAddress(json: try p.required("peer", at: "\(path).peers[\(i)]"), at: "\(path).peers[\(i)].peer"),
                                   reqid: try u32(try p.required("reqid", at: "\(path).peers[\(i)]"), "\(path).peers[\(i)].reqid")))
        }
        var rotation: XfrmRotation? = nil
        if let v = o.optional("rotation") {
            let rp = path + ".rotation"
            let r = try v.object(at: rp)
            var accepting: [XfrmRotation.Accepting] = []
            for (i, a) in try r.required("accepting", at: rp).array(at: rp + ".accepting").enumerated() {
                let ap = "\(rp).accepting[\(i)]"
                let ao = try a.object(at: ap)
                accepting.append(.init(generation: try u32(try ao.required("generation", at: ap), ap + ".generation"),
                                       since: try ao.required("since", at: ap).double(at: ap + ".since")))
            }
            rotation = XfrmRotation(out: try u32(try r.required("out", at: rp), rp + ".out"),
                                    outSince: try r.required("out_since", at: rp).double(at: rp + ".out_since"),
                                    accepting: accepting)
        }
        self.init(priority: priority, reqidFirst: first, reqidLast: last, local: local, peers: peers, rotation: rotation)
    }

    public var stateJSON: JSONValue {
        var o: [String: JSONValue] = [
            "priority": .int(Int(priority)), "reqid_first": .int(Int(reqidFirst)), "reqid_last": .int(Int(reqidLast)),
            "peers": .array(peers.map { .object(["peer": .string($0.peer.description), "reqid": .int(Int($0.reqid))]) }),
        ]
        if let local { o["local"] = .string(local.description) }
        if let r = rotation {
            o["rotation"] = .object([
                "out": .int(Int(r.out)), "out_since": JSONValue.number(r.outSince),
                "accepting": .array(r.accepting.map { .object(["generation": .int(Int($0.generation)), "since": JSONValue.number($0.since)]) }),
            ])
        }
        return .object(o)
    }

}
