/// IPsec (xfrm) model shared by the planner, the libnl-xfrm backend and the fake kernel.
/// Only what ezlb writes is modelled structurally: ESP tunnel-mode states with one
/// AEAD algorithm, and policies whose selector is a source and a destination prefix
/// (any protocol, any port). Other objects the kernel holds are read with enough
/// detail to tell them apart and are never changed.

/// An address prefix (`10.244.1.0/28`); host bits are always zero.
public struct XfrmPrefix: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    public let length: Int

    public init(_ address: IPAddress, length: Int? = nil) {
        let width = address.family == .ipv4 ? 32 : 128
        let len = min(max(length ?? width, 0), width)
        self.address = address.masked(to: len)
        self.length = len
    }

    public var family: IPFamily { address.family }
    public var description: String { "\(address)/\(length)" }

    /// Parses `10.0.0.0/24` or a bare address (a host prefix). Host bits set are an error.
    /// Works on the UTF-8 bytes: pod lists hold thousands of entries.
    public static func parse(_ text: String) -> Result<XfrmPrefix, InputError> {
        let u = Array(text.utf8)
        var lo = 0, hi = u.count
        while lo < hi, u[lo] == UInt8(ascii: " ") || u[lo] == UInt8(ascii: "\t") { lo += 1 }
        while hi > lo, u[hi - 1] == UInt8(ascii: " ") || u[hi - 1] == UInt8(ascii: "\t") { hi -= 1 }
        let slash = u[lo..<hi].firstIndex(of: UInt8(ascii: "/"))
        guard let a = IPAddress(String(decoding: u[lo..<(slash ?? hi)], as: UTF8.self)) else {
            return .failure(InputError("not an IP address or CIDR"))
        }
        let width = a.family == .ipv4 ? 32 : 128
        var len = width
        if let slash {
            let digits = u[(slash + 1)..<hi]
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return .failure(InputError("prefix length must be 0..\(width)"))
            }
            len = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard len <= width else { return .failure(InputError("prefix length must be 0..\(width)")) }
        }
        let p = XfrmPrefix(a, length: len)
        if p.address != a { return .failure(InputError("host bits set (did you mean \(p)?)")) }
        return .success(p)
    }

    public func contains(_ a: IPAddress) -> Bool {
        a.family == family && XfrmPrefix(a, length: length).address == address
    }

    public func overlaps(_ o: XfrmPrefix) -> Bool {
        guard o.family == family else { return false }
        let l = min(length, o.length)
        return XfrmPrefix(address, length: l) == XfrmPrefix(o.address, length: l)
    }

    public static func < (a: XfrmPrefix, b: XfrmPrefix) -> Bool {
        a.address != b.address ? a.address < b.address : a.length < b.length
    }
}


public enum XfrmDirection: String, Codable, Sendable, CaseIterable, Comparable {
    case `in`, out, fwd
    /// XFRM_POLICY_IN/OUT/FWD.
    public var kernelValue: UInt8 {
        switch self { case .in: return 0; case .out: return 1; case .fwd: return 2 }
    }
    public init?(kernelValue: Int) {
        switch kernelValue { case 0: self = .in; case 1: self = .out; case 2: self = .fwd; default: return nil }
    }
    public static func < (a: XfrmDirection, b: XfrmDirection) -> Bool { a.kernelValue < b.kernelValue }
}

/// A policy selector: source and destination prefix, any protocol and port.
/// `other` is set for selectors ezlb does not write (a protocol, ports or an
/// interface): such a policy is never equal to one ezlb wants.
public struct XfrmSelector: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var src: XfrmPrefix
    public var dst: XfrmPrefix
    public var other: String?

    public init(src: XfrmPrefix, dst: XfrmPrefix, other: String? = nil) {
        self.src = src
        self.dst = dst
        self.other = other
    }
    public var description: String { "src \(src) dst \(dst)" + (other.map { " \($0)" } ?? "") }
    public static func < (a: XfrmSelector, b: XfrmSelector) -> Bool {
        a.src != b.src ? a.src < b.src : (a.dst != b.dst ? a.dst < b.dst : (a.other ?? "") < (b.other ?? ""))
    }
}

/// A policy template: ESP in tunnel mode from `src` to `dst` with `reqid`.
/// `other` describes templates ezlb does not write (transport mode, AH, …).
public struct XfrmTemplate: Hashable, Codable, Sendable, CustomStringConvertible {
    public var src: IPAddress
    public var dst: IPAddress
    public var reqid: UInt32
    public var other: String?

    public init(src: IPAddress, dst: IPAddress, reqid: UInt32, other: String? = nil) {
        self.src = src
        self.dst = dst
        self.reqid = reqid
        self.other = other
    }
    public var description: String {
        "tmpl src \(src) dst \(dst) proto esp reqid \(XfrmFormat.hex(reqid)) mode tunnel" + (other.map { " \($0)" } ?? "")
    }
}

/// An xfrm policy. Its kernel identity is (direction, selector, mark): ezlb's have no mark.
public struct XfrmPolicy: Hashable, Codable, Sendable, CustomStringConvertible {
    public var dir: XfrmDirection
    public var selector: XfrmSelector
    public var priority: UInt32
    public var templates: [XfrmTemplate]
    /// `mark 0x1/0xff`, `action block`, … for policies ezlb did not write.
    public var other: String?

    public init(dir: XfrmDirection, selector: XfrmSelector, priority: UInt32, templates: [XfrmTemplate], other: String? = nil) {
        self.dir = dir
        self.selector = selector
        self.priority = priority
        self.templates = templates
        self.other = other
    }

    public var id: XfrmPolicyID { XfrmPolicyID(dir: dir, selector: selector, other: other) }

    /// `ip xfrm policy`-like one-liner.
    public var description: String {
        "\(selector) dir \(dir.rawValue) priority \(priority)" + (other.map { " \($0)" } ?? "")
            + templates.map { " \($0)" }.joined()
    }
}

public struct XfrmPolicyID: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var dir: XfrmDirection
    public var selector: XfrmSelector
    public var other: String?
    public init(dir: XfrmDirection, selector: XfrmSelector, other: String? = nil) {
        self.dir = dir
        self.selector = selector
        self.other = other
    }
    public var description: String { "\(selector) dir \(dir.rawValue)" }
    public static func < (a: XfrmPolicyID, b: XfrmPolicyID) -> Bool {
        a.selector != b.selector ? a.selector < b.selector : a.dir < b.dir
    }
}

/// An SA's kernel identity: destination, SPI, protocol (ESP for ezlb's). Source is kept for display and ordering.
public struct XfrmStateID: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var src: IPAddress
    public var dst: IPAddress
    public var spi: UInt32
    /// IPPROTO_ESP (50) for ezlb's states.
    public var proto: UInt8

    public init(src: IPAddress, dst: IPAddress, spi: UInt32, proto: UInt8 = 50) {
        self.src = src
        self.dst = dst
        self.spi = spi
        self.proto = proto
    }
    public var description: String {
        "src \(src) dst \(dst) proto \(proto == 50 ? "esp" : String(proto)) spi \(XfrmFormat.hex(spi))"
    }
    public static func < (a: XfrmStateID, b: XfrmStateID) -> Bool {
        a.src != b.src ? a.src < b.src : (a.dst != b.dst ? a.dst < b.dst : a.spi < b.spi)
    }
}

/// Secret key bytes: compared, stored in the fake kernel, never printed.
public struct XfrmKey: Hashable, Codable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "<\(bytes.count * 8)-bit key>" }
    public var debugDescription: String { description }
}

/// An ESP tunnel-mode SA with one AEAD algorithm (ezlb's), or any other SA (`other` set, key not read).
public struct XfrmState: Hashable, Codable, Sendable, CustomStringConvertible {
    public var id: XfrmStateID
    public var reqid: UInt32
    /// `rfc4106(gcm(aes))`.
    public var aead: String
    public var key: XfrmKey
    public var icvBits: UInt32
    public var replayWindow: UInt32
    /// Mode, algorithms or flags ezlb does not write.
    public var other: String?

    public init(id: XfrmStateID, reqid: UInt32, aead: String, key: XfrmKey, icvBits: UInt32,
                replayWindow: UInt32 = 32, other: String? = nil) {
        self.id = id
        self.reqid = reqid
        self.aead = aead
        self.key = key
        self.icvBits = icvBits
        self.replayWindow = replayWindow
        self.other = other
    }

    /// `ip xfrm state`-like one-liner without the key.
    public var description: String {
        "\(id) reqid \(XfrmFormat.hex(reqid)) mode tunnel replay-window \(replayWindow) aead \(aead) \(key) \(icvBits)"
            + (other.map { " \($0)" } ?? "")
    }
}

/// What the kernel holds (or the fake): every policy and SA, in dump order.
public struct XfrmTables: Equatable, Sendable, Codable {
    public var policies: [XfrmPolicy]
    public var states: [XfrmState]
    public init(policies: [XfrmPolicy] = [], states: [XfrmState] = []) {
        self.policies = policies
        self.states = states
    }
}

/// One kernel write.
public enum XfrmOperation: Hashable, Sendable, CustomStringConvertible {
    case addState(XfrmState)
    case deleteState(XfrmStateID)
    case addPolicy(XfrmPolicy)
    /// XFRM_MSG_UPDPOLICY on an existing (dir, selector): new priority or templates, no gap.
    case updatePolicy(XfrmPolicy)
    case deletePolicy(XfrmPolicyID)

    public var description: String {
        switch self {
        case .addState(let s): return "add state \(s.id)"
        case .deleteState(let id): return "delete state \(id)"
        case .addPolicy(let p): return "add policy \(p.id)"
        case .updatePolicy(let p): return "update policy \(p.id)"
        case .deletePolicy(let id): return "delete policy \(id)"
        }
    }
}

/// A refused xfrm operation, naming it. `kind` lets callers tell the usual cases apart.
public typealias XfrmError = OperationError<XfrmErrorKind>

public enum XfrmErrorKind: String, OperationErrorKind {
    case exists = "already exists"
    case notFound = "not found"
    case permission = "permission denied (needs CAP_NET_ADMIN)"
    case unsupported = "not supported by this kernel"
    case invalid = "invalid argument"
    case other = "kernel error"
}

public enum XfrmFormat {
    /// `0x` and eight lower-case hex digits.
    public static func hex(_ v: UInt32) -> String {
        var w = ByteText(capacity: 10)
        w.append(hex: v)
        return w.string
    }
}

/// Key-rotation progress (recorded in xfrm.json): the generation OUT states use,
/// and every generation whose IN states are installed, with when each started.
public struct XfrmRotation: Codable, Equatable, Sendable {
    public struct Accepting: Codable, Equatable, Sendable {
        public var generation: UInt32
        /// Unix time its IN states were first planned.
        public var since: Double
        public init(generation: UInt32, since: Double) {
            self.generation = generation
            self.since = since
        }
    }
    public var out: UInt32
    /// Unix time OUT switched to `out`.
    public var outSince: Double
    public var accepting: [Accepting]

    public init(out: UInt32, outSince: Double, accepting: [Accepting]) {
        self.out = out
        self.outSince = outSince
        self.accepting = accepting
    }

    public var acceptedGenerations: [UInt32] { accepting.map(\.generation) }

    enum CodingKeys: String, CodingKey { case out, outSince = "out_since", accepting }
}
