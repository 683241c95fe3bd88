import EzlbCore

/// What `<state-dir>/xfrm.json` records: how ezlb's xfrm objects are recognised
/// (policy priority, reqid range), the reqid given to each peer, and the key
/// rotation's progress. Written before the kernel is touched when it changes.
public struct XfrmOwnership: Codable, Equatable, Sendable {
    public struct PeerReqid: Codable, Equatable, Sendable {
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

    enum CodingKeys: String, CodingKey {
        case priority, reqidFirst = "reqid_first", reqidLast = "reqid_last", local, peers, rotation
    }

    public static let fileName = "xfrm.json"
    public static let kind = "xfrm"
    public static let schema = 1
    public static let recovery = "delete it and run 'ezlb xfrm sync' (ezlb's objects are found again by priority and reqid range)"
}

extension StateDirectory {
    public func readXfrmOwnership() throws -> XfrmOwnership? {
        try read(XfrmOwnership.self, from: XfrmOwnership.fileName, kind: XfrmOwnership.kind,
                 schema: XfrmOwnership.schema, recovery: XfrmOwnership.recovery)
    }

    public func writeXfrmOwnership(_ o: XfrmOwnership) throws {
        try write(o, to: XfrmOwnership.fileName, kind: XfrmOwnership.kind, schema: XfrmOwnership.schema)
    }
}
