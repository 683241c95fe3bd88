import EzlbCore

/// Which kernel objects are ezlb's: policies at ezlb's priority whose every template
/// uses a reqid of ezlb's range, and ESP states with a reqid of that range.
public struct XfrmOwnershipRule: Equatable, Codable, Sendable {
    public var priority: UInt32
    public var reqidFirst: UInt32
    public var reqidLast: UInt32

    public init(priority: UInt32 = XfrmPlanner.priority, reqidFirst: UInt32 = XfrmPlanner.reqidRange.lowerBound,
                reqidLast: UInt32 = XfrmPlanner.reqidRange.upperBound) {
        self.priority = priority
        self.reqidFirst = reqidFirst
        self.reqidLast = reqidLast
    }

    public func owns(_ p: XfrmPolicy) -> Bool {
        p.priority == priority && p.other == nil && p.selector.other == nil && !p.templates.isEmpty
            && p.templates.allSatisfy { $0.other == nil && (reqidFirst...reqidLast).contains($0.reqid) }
    }

    public func owns(_ s: XfrmState) -> Bool {
        s.id.proto == 50 && (reqidFirst...reqidLast).contains(s.reqid)
    }

    enum CodingKeys: String, CodingKey { case priority, reqidFirst = "reqid_first", reqidLast = "reqid_last" }
}

/// What `xfrm sync` wants: the node, its managed prefixes, the peers, the key material and the rotation.
public struct XfrmIntent: Sendable {
    public struct Peer: Sendable, Equatable {
        public var address: IPAddress
        public var pods: [XfrmPrefix]
        public init(address: IPAddress, pods: [XfrmPrefix]) {
            self.address = address
            self.pods = pods
        }
    }
    public var local: IPAddress
    public var pods: [XfrmPrefix]
    public var peers: [Peer]
    public var psk: XfrmKey
    public var algorithm: String
    public var keyBits: Int
    public var icvBits: UInt32
    public var rotation: XfrmRotation
    public var reqids: [IPAddress: UInt32]

    public init(local: IPAddress, pods: [XfrmPrefix], peers: [Peer], psk: XfrmKey, algorithm: String = "rfc4106(gcm(aes))",
                keyBits: Int = 128, icvBits: UInt32 = 128, rotation: XfrmRotation, reqids: [IPAddress: UInt32]) {
        self.local = local
        self.pods = pods
        self.peers = peers
        self.psk = psk
        self.algorithm = algorithm
        self.keyBits = keyBits
        self.icvBits = icvBits
        self.rotation = rotation
        self.reqids = reqids
    }
}

/// The objects `xfrm sync` wants in the kernel; `notes` label states for the report (`in gen 2`).
public struct XfrmDesired: Equatable, Sendable {
    public var policies: [XfrmPolicy] = []
    public var states: [XfrmState] = []
    public var notes: [XfrmStateID: String] = [:]
    /// Problems found while building (SPI collisions): reported as errors, the objects left out.
    public var problems: [String] = []
    public init() {}
}

/// One reportable change: its report line (`line`) is rendered when planned, its JSON
/// object only when the report is written.
public struct XfrmChange: ReportAction, Equatable, Sendable {
    public enum Kind: String, Sendable { case add, update, delete }
    /// What the change is about: a state (with its report note, `in gen 2`) or a policy.
    public enum Object: Equatable, Sendable {
        case state(XfrmState, note: String?)
        case policy(XfrmPolicy)
    }
    public var kind: Kind
    public var operation: XfrmOperation
    public var line: String
    public var object: Object
    /// The delete half of a state replaced in place (same SPI, other content).
    public var replace = false
    /// 0 new IN SAs, 1 new OUT SAs, 2 policies added or updated, 3 stale policies, 4 stale OUT SAs,
    /// 5 stale IN SAs: a phase runs only when every earlier one succeeded.
    public var phase: Int = 0

    public init(kind: Kind, operation: XfrmOperation, text: String, object: Object, replace: Bool = false, phase: Int = 0) {
        self.kind = kind
        self.operation = operation
        line = text
        self.object = object
        self.replace = replace
        self.phase = phase
    }

    public var sign: UInt8 { line.utf8.first ?? 0 }

    @discardableResult public func appendText(to out: inout ByteText) -> Int {
        out.append(line)
        return out.bytes.count
    }

    /// The JSON object (keys sorted), `done` and `error` included.
    public func appendJSON(to w: inout ByteText, done: Bool, error: String?, scratch: inout ByteText) {
        w.append("{\"action\":\"" as StaticString)
        w.append(kind.rawValue)
        w.append(done ? "\",\"done\":true" as StaticString : "\",\"done\":false" as StaticString)
        if let e = error {
            w.append(",\"error\":" as StaticString)
            w.appendJSONString(e)
        }
        switch object {
        case .state(let s, let note):
            if let n = note {
                w.append(",\"note\":" as StaticString)
                w.appendJSONString(n)
            }
            w.append(",\"object\":\"state\"" as StaticString)
            if replace { w.append(",\"replace\":true" as StaticString) }
            w.append(",\"state\":" as StaticString)
            w.appendJSON(s)
        case .policy(let p):
            w.append(",\"object\":\"policy\",\"policy\":" as StaticString)
            w.appendJSON(p)
            if replace { w.append(",\"replace\":true" as StaticString) }
        }
        w.append(",\"text\":" as StaticString)
        w.appendJSONString(line)
        w.append("}" as StaticString)
    }
}

public struct XfrmPlan: Equatable, Sendable {
    /// In order: new IN states, new OUT states, policies added or updated, stale policies deleted,
    /// stale OUT states deleted, stale IN states deleted (make-before-break).
    public var changes: [XfrmChange] = []
    /// Desired objects whose key is held by an object ezlb does not own: left alone, reported.
    public var conflicts: [String] = []
    public var operations: [XfrmOperation] { changes.map(\.operation) }
}

/// Pure: desired policies and states vs the kernel's dump → ordered operations.
public enum XfrmPlanner {
    /// ezlb's policy priority (its whole band: one value) and reqid range.
    public static let priority: UInt32 = 31_000
    public static let reqidRange: ClosedRange<UInt32> = 0x0E21_0001...0x0E21_FFFF
    /// The kernel caps a non-ESN replay window at 32 (it would read back as 32 and never converge).
    public static let replayWindow: UInt32 = 32

    // MARK: prefixes

    /// The smallest set of prefixes covering exactly the same addresses (duplicates and nested prefixes
    /// collapse, sibling halves merge): ten contiguous /32 pods of an aligned block become one prefix.
    public static func aggregate(_ prefixes: [XfrmPrefix]) -> [XfrmPrefix] {
        var out: [XfrmPrefix] = []
        for p in prefixes.sorted() {
            if let last = out.last, last.overlaps(p), last.length <= p.length { continue } // covered
            out.append(p)
            while out.count >= 2 {
                let a = out[out.count - 2], b = out[out.count - 1]
                guard a.family == b.family, a.length == b.length, a.length > 0, a != b,
                      XfrmPrefix(a.address, length: a.length - 1) == XfrmPrefix(b.address, length: b.length - 1) else { break }
                out.removeLast(2)
                out.append(XfrmPrefix(a.address, length: a.length - 1))
                // A merged parent may now cover an earlier entry only if that entry was its sibling: handled by the loop.
            }
        }
        return out
    }

    // MARK: reqids

    /// A reqid per peer, stable across runs: the recorded one, else the one ezlb's OUT state towards
    /// that peer already carries (state file lost), else the lowest free one in the range.
    public static func assignReqids(peers: [IPAddress], recorded: [IPAddress: UInt32], local: IPAddress,
                                    kernel: XfrmTables, rule: XfrmOwnershipRule = XfrmOwnershipRule()) -> [IPAddress: UInt32] {
        var out: [IPAddress: UInt32] = [:]
        var used = Set<UInt32>()
        let range = rule.reqidFirst...rule.reqidLast
        var fromKernel: [IPAddress: UInt32] = [:]
        for s in kernel.states where rule.owns(s) && s.id.src == local && fromKernel[s.id.dst] == nil {
            fromKernel[s.id.dst] = s.reqid
        }
        let sorted = peers.sorted()
        for p in sorted {
            for candidate in [recorded[p], fromKernel[p]] {
                if let r = candidate, range.contains(r), !used.contains(r) {
                    out[p] = r
                    used.insert(r)
                    break
                }
            }
        }
        var next = range.lowerBound
        for p in sorted where out[p] == nil {
            while used.contains(next) && next < range.upperBound { next += 1 }
            guard !used.contains(next) else { break } // range exhausted: 65,535 peers
            out[p] = next
            used.insert(next)
        }
        return out
    }

    // MARK: rotation

    /// Advances key rotation towards `target` (make-before-break, one step per run):
    /// 1. a new generation first gets IN states (this node accepts it; OUT unchanged);
    /// 2. on a later run at least `delay` seconds after, OUT switches to it (peers had the delay to accept it);
    /// 3. on a later run at least `delay` after the switch, IN states of other generations go.
    public static func advance(_ previous: XfrmRotation?, target: UInt32, now: Double, delay: Double) -> XfrmRotation {
        guard var r = previous, !r.accepting.isEmpty else {
            return XfrmRotation(out: target, outSince: now, accepting: [.init(generation: target, since: now)])
        }
        if !r.acceptedGenerations.contains(target) {
            r.accepting.append(.init(generation: target, since: now))
            return r
        }
        if r.out != target {
            // `since != now`: never in the run that installed the IN states.
            if let since = r.accepting.first(where: { $0.generation == target })?.since, since != now, now - since >= delay {
                r.out = target
                r.outSince = now
            }
            return r
        }
        if r.accepting.count > 1, now - r.outSince >= delay, r.outSince != now {
            r.accepting.removeAll { $0.generation != r.out }
        }
        return r
    }

    /// The earliest `now` at which `advance(r, target:, now:, delay:)` would return something
    /// other than `r`: -inf when it would at once (nothing accepted yet, or `target` not
    /// accepted yet), +inf when never (no rotation in progress). Before it, a sync with this
    /// rotation, target and delay keeps the rotation as it is.
    public static func rotationDeadline(_ r: XfrmRotation, target: UInt32, delay: Double) -> Double {
        guard !r.accepting.isEmpty, r.acceptedGenerations.contains(target) else { return -.infinity }
        if r.out != target {
            guard let since = r.accepting.first(where: { $0.generation == target })?.since else { return -.infinity }
            return since + delay
        }
        if r.accepting.count > 1 { return r.outSince + delay }
        return .infinity
    }

    // MARK: desired objects

    public static func desired(_ i: XfrmIntent, rule: XfrmOwnershipRule = XfrmOwnershipRule()) -> XfrmDesired {
        var d = XfrmDesired()
        let localAgg = aggregate(i.pods)
        let keys = XfrmKeys.Deriver(psk: i.psk)
        var inSPIs: [UInt32: IPAddress] = [:]
        for peer in i.peers.sorted(by: { $0.address < $1.address }) {
            guard let reqid = i.reqids[peer.address] else {
                d.problems.append("peer \(peer.address): no free reqid left in \(XfrmFormat.hex(rule.reqidFirst))-\(XfrmFormat.hex(rule.reqidLast))")
                continue
            }
            // IN states for every accepted generation.
            for g in i.rotation.acceptedGenerations.sorted() {
                let (spi, key) = keys.derive(src: peer.address, dst: i.local, generation: g, keyBits: i.keyBits)
                if let other = inSPIs[spi] {
                    d.problems.append("SPI \(XfrmFormat.hex(spi)) of peer \(peer.address) generation \(g) collides with peer \(other)'s; bump the generation")
                    continue
                }
                inSPIs[spi] = peer.address
                let s = XfrmState(id: XfrmStateID(src: peer.address, dst: i.local, spi: spi), reqid: reqid, aead: i.algorithm,
                                  key: key, icvBits: i.icvBits, replayWindow: replayWindow)
                d.states.append(s)
                d.notes[s.id] = "in gen \(g)"
            }
            let (spi, key) = keys.derive(src: i.local, dst: peer.address, generation: i.rotation.out, keyBits: i.keyBits)
            let out = XfrmState(id: XfrmStateID(src: i.local, dst: peer.address, spi: spi), reqid: reqid, aead: i.algorithm,
                                key: key, icvBits: i.icvBits, replayWindow: replayWindow)
            d.states.append(out)
            d.notes[out.id] = "out gen \(i.rotation.out)"

            let outT = XfrmTemplate(src: i.local, dst: peer.address, reqid: reqid)
            let inT = XfrmTemplate(src: peer.address, dst: i.local, reqid: reqid)
            let remoteAgg = aggregate(peer.pods)
            for l in localAgg {
                for r in remoteAgg where r.family == l.family {
                    d.policies.append(XfrmPolicy(dir: .out, selector: XfrmSelector(src: l, dst: r), priority: rule.priority, templates: [outT]))
                    d.policies.append(XfrmPolicy(dir: .in, selector: XfrmSelector(src: r, dst: l), priority: rule.priority, templates: [inT]))
                    d.policies.append(XfrmPolicy(dir: .fwd, selector: XfrmSelector(src: r, dst: l), priority: rule.priority, templates: [inT]))
                }
            }
        }
        return d
    }

    // MARK: plan

    public static func plan(desired: XfrmDesired, actual: XfrmTables, local: IPAddress,
                            rule: XfrmOwnershipRule = XfrmOwnershipRule()) -> XfrmPlan {
        var plan = XfrmPlan()
        // Sized up front: growing these tables was a third of planning 3,000 policies.
        var actualStates: [XfrmStateID: XfrmState] = [:]
        actualStates.reserveCapacity(actual.states.count)
        for s in actual.states { actualStates[s.id] = s }
        var actualPolicies: [XfrmPolicyID: XfrmPolicy] = [:]
        actualPolicies.reserveCapacity(actual.policies.count)
        for p in actual.policies { actualPolicies[p.id] = p }

        var addIn: [XfrmChange] = [], addOut: [XfrmChange] = []
        var keepStates = Set<XfrmStateID>(minimumCapacity: desired.states.count)
        for s in desired.states {
            let note = desired.notes[s.id]
            let bucketIsIn = s.id.dst == local
            if let a = actualStates[s.id] {
                if !rule.owns(a) {
                    plan.conflicts.append("state \(s.id) exists and is not ezlb's (reqid \(XfrmFormat.hex(a.reqid))); left alone")
                    keepStates.insert(s.id)
                    continue
                }
                keepStates.insert(s.id)
                if a == s { continue }
                // Same SPI, other content (reqid, key, algorithm): an SA cannot be rekeyed in place.
                var c = [change(.delete, .deleteState(s.id), stateText(a, note: note, sign: "-"), .state(a, note: note)),
                         change(.add, .addState(s), stateText(s, note: note, sign: "+"), .state(s, note: note))]
                c[0].replace = true
                if bucketIsIn { addIn += c } else { addOut += c }
                continue
            }
            keepStates.insert(s.id)
            let c = change(.add, .addState(s), stateText(s, note: note, sign: "+"), .state(s, note: note))
            if bucketIsIn { addIn.append(c) } else { addOut.append(c) }
        }

        var policyChanges: [XfrmChange] = []
        var keepPolicies = Set<XfrmPolicyID>(minimumCapacity: desired.policies.count)
        for p in desired.policies {
            keepPolicies.insert(p.id)
            if let a = actualPolicies[p.id] {
                if !rule.owns(a) {
                    plan.conflicts.append("policy \(p.id) exists and is not ezlb's (priority \(a.priority)); left alone")
                    continue
                }
                if a == p { continue }
                policyChanges.append(change(.update, .updatePolicy(p), policyText(p, sign: "~"), .policy(p)))
                continue
            }
            policyChanges.append(change(.add, .addPolicy(p), policyText(p, sign: "+"), .policy(p)))
        }

        var delPolicies: [XfrmChange] = []
        for p in actual.policies where rule.owns(p) && !keepPolicies.contains(p.id) {
            delPolicies.append(change(.delete, .deletePolicy(p.id), policyText(p, sign: "-"), .policy(p)))
        }
        var delOut: [XfrmChange] = [], delIn: [XfrmChange] = []
        for s in actual.states where rule.owns(s) && !keepStates.contains(s.id) {
            let c = change(.delete, .deleteState(s.id), stateText(s, note: nil, sign: "-"), .state(s, note: nil))
            if s.id.dst == local { delIn.append(c) } else { delOut.append(c) }
        }
        plan.changes.reserveCapacity(addIn.count + addOut.count + policyChanges.count + delPolicies.count + delOut.count + delIn.count)
        for (phase, group) in [addIn, addOut, policyChanges, delPolicies, delOut, delIn].enumerated() {
            for var c in group {
                c.phase = phase
                plan.changes.append(c)
            }
        }
        return plan
    }

    /// `"\(sign) state \(s.id) reqid \(hex(s.reqid)) \(s.aead)"` and ` (note)`.
    static func stateText(_ s: XfrmState, note: String?, sign: StaticString) -> String {
        var w = ByteText(capacity: 128)
        w.append(sign)
        w.append(" state " as StaticString)
        w.append(s.id)
        w.append(" reqid " as StaticString)
        w.append(hex: s.reqid)
        w.append(" " as StaticString)
        w.append(s.aead)
        if let n = note {
            w.append(" (" as StaticString)
            w.append(n)
            w.append(")" as StaticString)
        }
        return w.string
    }

    /// `"\(sign) policy \(p)"`.
    static func policyText(_ p: XfrmPolicy, sign: StaticString) -> String {
        var w = ByteText(capacity: 160)
        w.append(sign)
        w.append(" policy " as StaticString)
        w.append(p)
        return w.string
    }

    static func change(_ kind: XfrmChange.Kind, _ op: XfrmOperation, _ text: String, _ object: XfrmChange.Object) -> XfrmChange {
        XfrmChange(kind: kind, operation: op, text: text, object: object)
    }

    /// JSON of a state without its key (only its length).
    public static func stateJSON(_ s: XfrmState) -> JSONValue {
        var o: [String: JSONValue] = [
            "src": .string(s.id.src.description), "dst": .string(s.id.dst.description),
            "proto": .string(s.id.proto == 50 ? "esp" : String(s.id.proto)), "spi": .string(XfrmFormat.hex(s.id.spi)),
            "reqid": .string(XfrmFormat.hex(s.reqid)), "mode": "tunnel", "aead": .string(s.aead),
            "key_bits": .int(s.key.bytes.count * 8), "icv_bits": .int(Int(s.icvBits)),
            "replay_window": .int(Int(s.replayWindow)),
        ]
        if let x = s.other { o["other"] = .string(x) }
        return .object(o)
    }

    public static func policyJSON(_ p: XfrmPolicy) -> JSONValue {
        var o: [String: JSONValue] = [
            "dir": .string(p.dir.rawValue), "src": .string(p.selector.src.description), "dst": .string(p.selector.dst.description),
            "priority": .int(Int(p.priority)),
            "templates": .array(p.templates.map { t in
                .object(["src": .string(t.src.description), "dst": .string(t.dst.description), "proto": "esp",
                         "mode": "tunnel", "reqid": .string(XfrmFormat.hex(t.reqid))])
            }),
        ]
        if let x = p.other ?? p.selector.other { o["other"] = .string(x) }
        return .object(o)
    }
}
