/// x_tables (iptables) model shared by the planner, the libiptc backend and
/// the fake kernel. Only what ezlb writes is modelled structurally; anything
/// else the kernel holds is kept as `.other` and never equals a rule ezlb wants.

/// An iptables table of one family.
public enum XTTable: String, Codable, Sendable, CaseIterable, Comparable {
    case nat, filter

    /// Built-in chains of the table, in iptables-save order.
    public var builtinChains: [String] {
        switch self {
        case .nat: return ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"]
        case .filter: return ["INPUT", "FORWARD", "OUTPUT"]
        }
    }

    public static func < (a: XTTable, b: XTTable) -> Bool { a.rawValue < b.rawValue }
}

/// One family's table: libiptc (IPv4) or libip6tc (IPv6).
public struct XTTableRef: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    public var family: IPFamily
    public var table: XTTable
    public init(_ family: IPFamily, _ table: XTTable) {
        self.family = family
        self.table = table
    }
    /// `ip4 nat`, `ip6 filter`.
    public var description: String { "\(family == .ipv4 ? "ip4" : "ip6") \(table.rawValue)" }
    /// The iptables command that lists it: `iptables-legacy-save -t nat`.
    public var saveCommand: String { "\(family == .ipv4 ? "iptables" : "ip6tables")-legacy-save -t \(table.rawValue)" }

    public static func < (a: XTTableRef, b: XTTableRef) -> Bool {
        if a.family != b.family { return a.family == .ipv4 }
        // nat before filter: the order `snat sync` reports and commits.
        return a.table == .nat && b.table == .filter
    }
}

/// `-s`/`-d` address with prefix length.
public struct XTPrefix: Hashable, Codable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int
    public init(_ address: IPAddress, length: Int? = nil) {
        self.address = address
        self.length = length ?? (address.family == .ipv4 ? 32 : 128)
    }
    public var description: String { "\(address)/\(length)" }
}

/// `-i`/`-o`: an interface name, optionally inverted (`! -o br0`). A name ending
/// in `+` matches every interface whose name starts with what precedes it
/// (`-i veth+`), as in iptables.
public struct XTInterface: Hashable, Codable, Sendable, CustomStringConvertible {
    public var name: String
    public var invert: Bool
    public init(_ name: String, invert: Bool = false) {
        self.name = name
        self.invert = invert
    }

    /// `veth+`: a prefix match.
    public var isWildcard: Bool { name.hasSuffix("+") }

    /// The kernel's IFNAMSIZ: names hold at most 15 bytes.
    public static let maxNameBytes = 15

    /// Why the kernel cannot hold this name in an `-i`/`-o` match (nil when it can):
    /// 1–15 bytes, no `/`, space or NUL, and not just `+` (which would match every
    /// interface and which iptables-save does not print).
    public var invalidReason: String? {
        let b = Array(name.utf8)
        if b.isEmpty { return "empty interface name" }
        if b.count > Self.maxNameBytes { return "longer than \(Self.maxNameBytes) bytes" }
        if b == [UInt8(ascii: "+")] { return "'+' alone matches every interface" }
        if b.contains(where: { $0 == 0 || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: " ") }) { return "contains '/', a space or NUL" }
        if b.dropLast().contains(UInt8(ascii: "+")) && !isWildcard { return "'+' only as the last character" }
        return nil
    }

    /// The 16-byte (name, mask) pair as iptables' xtables_parse_interface computes it:
    /// the name NUL-padded (the `+` kept); the mask 0xFF over the name and its NUL
    /// for an exact name, over the prefix without the `+` for a wildcard.
    public var kernelBytes: (name: [UInt8], mask: [UInt8]) {
        var n = Array(name.utf8.prefix(Self.maxNameBytes))
        let masked = isWildcard ? n.count - 1 : n.count + 1
        n += [UInt8](repeating: 0, count: Self.maxNameBytes + 1 - n.count)
        let m = [UInt8](repeating: 0xFF, count: masked) + [UInt8](repeating: 0, count: Self.maxNameBytes + 1 - masked)
        return (n, m)
    }

    /// What a rule's (name, mask, invert flag) in the kernel says.
    public enum KernelMatch: Equatable, Sendable {
        /// No `-i`/`-o` (all-zero mask, not inverted).
        case none
        case interface(XTInterface)
        /// Bytes iptables would never write (a hole in the mask, bytes after the
        /// name, `! -o +` …): the rule is not one ezlb can reproduce.
        case notUnderstood
    }

    /// The inverse of `kernelBytes`: exactly the pairs xtables_parse_interface
    /// produces decode (a wildcard's `+` may be absent after the prefix, as the
    /// kernel ignores bytes outside the mask and iptables-save prints `+` anyway).
    public static func decode(name: [UInt8], mask: [UInt8], invert: Bool) -> KernelMatch {
        let size = maxNameBytes + 1
        guard name.count == size, mask.count == size else { return .notUnderstood }
        let k = mask.prefix { $0 == 0xFF }.count
        guard mask[k...].allSatisfy({ $0 == 0 }) else { return .notUnderstood }
        let n = name.prefix { $0 != 0 }.count
        guard name[n...].allSatisfy({ $0 == 0 }) else { return .notUnderstood }
        if k == 0 { return n == 0 && !invert ? .none : .notUnderstood }
        let text: [UInt8]
        if n == k - 1 {
            // Exact: the NUL after the name is matched too.
            text = Array(name[..<n])
            if text.last == UInt8(ascii: "+") { return .notUnderstood }
        } else if n == k || (n == k + 1 && name[k] == UInt8(ascii: "+")) {
            text = Array(name[..<k]) + [UInt8(ascii: "+")]
        } else {
            return .notUnderstood
        }
        let i = XTInterface(String(decoding: text, as: UTF8.self), invert: invert)
        guard Array(i.name.utf8) == text, i.invalidReason == nil, i.kernelBytes.mask == mask else { return .notUnderstood }
        return .interface(i)
    }

    /// `! -o br0`, as iptables-save prints it (letter `i` or `o`).
    public func save(_ letter: Character) -> String { "\(invert ? "! " : "")-\(letter) \(name)" }
    public var description: String { "\(invert ? "!" : "")\(name)" }
}

/// Connection-tracking states for `-m conntrack --ctstate`; raw values are the
/// kernel's XT_CONNTRACK_STATE_BIT mask.
public struct XTConntrackState: OptionSet, Hashable, Codable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let invalid = XTConntrackState(rawValue: 1 << 0)
    public static let established = XTConntrackState(rawValue: 1 << 1)
    public static let related = XTConntrackState(rawValue: 1 << 2)
    public static let new = XTConntrackState(rawValue: 1 << 3)
    public static let untracked = XTConntrackState(rawValue: 1 << 4)

    /// In the order libxt_conntrack prints them.
    public var names: [String] {
        var n: [String] = []
        if contains(.invalid) { n.append("INVALID") }
        if contains(.new) { n.append("NEW") }
        if contains(.related) { n.append("RELATED") }
        if contains(.established) { n.append("ESTABLISHED") }
        if contains(.untracked) { n.append("UNTRACKED") }
        return n
    }
}

/// A conntrack match on the connection's original destination, as libxt_conntrack
/// prints it: `--ctproto 6 --ctorigdst 192.0.2.1 --ctorigdstport 80`.
public struct XTConntrackOrigin: Hashable, Codable, Sendable {
    public var proto: IPVSProtocol?
    public var address: IPAddress?
    public var port: UInt16?
    public init(proto: IPVSProtocol? = nil, address: IPAddress? = nil, port: UInt16? = nil) {
        self.proto = proto
        self.address = address
        self.port = port
    }

    /// ` --ctproto … --ctorigdst … --ctorigdstport …` (leading space; absent parts left out).
    public var saveArguments: String {
        var s = ""
        if let p = proto { s += " --ctproto \(p.number)" }
        if let a = address { s += " --ctorigdst \(a)" }
        if let p = port { s += " --ctorigdstport \(p)" }
        return s
    }
}

/// `-m mark --mark VALUE[/MASK]`, as libxt_mark prints it (the mask only when not 0xffffffff).
public struct XTMark: Hashable, Codable, Sendable, CustomStringConvertible {
    public var value: UInt32
    public var mask: UInt32
    public init(_ value: UInt32, mask: UInt32 = 0xffff_ffff) {
        self.value = value
        self.mask = mask
    }
    public var description: String {
        "0x\(String(value, radix: 16))" + (mask == 0xffff_ffff ? "" : "/0x\(String(mask, radix: 16))")
    }
}

public enum XTTarget: Hashable, Codable, Sendable {
    case accept, drop, `return`
    /// Jump to a user chain.
    case jump(String)
    /// `-j SNAT --to-source <ip>`.
    case snat(IPAddress)
    case masquerade
    /// A target or rule ezlb does not model (LOG, DNAT, other matches …), as text.
    case other(String)
}

/// One rule, in the structure iptables-save prints.
///
/// A value type whose fields live in one shared, copy-on-write box: a rule is
/// copied into the desired chains, the plan's operations, its changes, the state
/// after the plan and the report's actions — 20,000 rules each for 10,000 FullNAT
/// backends — and an inline rule is ~190 bytes, so those copies were megabytes of
/// fresh memory (page faults) per run. A copy is now one reference; a setter copies
/// the fields first when the box is shared. Equality, hashing and the Codable form
/// are the fields' (the JSON is the same as before the box; the cheap `hash(into:)` is in
/// XTRuleHashing.swift).
public struct XTRule: Hashable, Codable, Sendable, CustomReflectable {
    /// The stored fields (synthesized Equatable/Codable: same keys as the properties).
    struct Fields: Equatable, Codable, Sendable {
        var source: XTPrefix?
        var destination: XTPrefix?
        var inInterface: XTInterface?
        var outInterface: XTInterface?
        var proto: IPVSProtocol?
        var sourcePort: UInt16?
        var destinationPort: UInt16?
        var ctstate: XTConntrackState?
        var ctOrigin: XTConntrackOrigin?
        var mark: XTMark?
        var comment: String?
        var target: XTTarget
    }

    /// Never mutated while shared (`update` copies first), hence Sendable.
    final class Box: @unchecked Sendable {
        var f: Fields
        init(_ f: Fields) { self.f = f }
    }

    private var box: Box

    private mutating func update(_ body: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.f) }
        body(&box.f)
    }

    public var source: XTPrefix? { get { box.f.source } set { update { $0.source = newValue } } }
    public var destination: XTPrefix? { get { box.f.destination } set { update { $0.destination = newValue } } }
    /// `-i` (PREROUTING, INPUT, FORWARD) and `-o` (FORWARD, OUTPUT, POSTROUTING).
    public var inInterface: XTInterface? { get { box.f.inInterface } set { update { $0.inInterface = newValue } } }
    public var outInterface: XTInterface? { get { box.f.outInterface } set { update { $0.outInterface = newValue } } }
    public var proto: IPVSProtocol? { get { box.f.proto } set { update { $0.proto = newValue } } }
    public var sourcePort: UInt16? { get { box.f.sourcePort } set { update { $0.sourcePort = newValue } } }
    public var destinationPort: UInt16? { get { box.f.destinationPort } set { update { $0.destinationPort = newValue } } }
    public var ctstate: XTConntrackState? { get { box.f.ctstate } set { update { $0.ctstate = newValue } } }
    /// `-m conntrack --ctproto P --ctorigdst A --ctorigdstport N`: the connection was
    /// first addressed to A (before IPVS's or any DNAT).
    public var ctOrigin: XTConntrackOrigin? { get { box.f.ctOrigin } set { update { $0.ctOrigin = newValue } } }
    /// `-m mark --mark M[/MASK]`.
    public var mark: XTMark? { get { box.f.mark } set { update { $0.mark = newValue } } }
    public var comment: String? { get { box.f.comment } set { update { $0.comment = newValue } } }
    public var target: XTTarget { get { box.f.target } set { update { $0.target = newValue } } }

    public init(source: XTPrefix? = nil, destination: XTPrefix? = nil,
                inInterface: XTInterface? = nil, outInterface: XTInterface? = nil, proto: IPVSProtocol? = nil,
                sourcePort: UInt16? = nil, destinationPort: UInt16? = nil, ctstate: XTConntrackState? = nil,
                ctOrigin: XTConntrackOrigin? = nil, mark: XTMark? = nil, comment: String? = nil, target: XTTarget) {
        box = Box(Fields(source: source, destination: destination, inInterface: inInterface, outInterface: outInterface,
                         proto: proto, sourcePort: sourcePort, destinationPort: destinationPort, ctstate: ctstate,
                         ctOrigin: ctOrigin, mark: mark, comment: comment, target: target))
    }

    public static func == (a: XTRule, b: XTRule) -> Bool { a.box === b.box || a.box.f == b.box.f }
    public init(from decoder: Decoder) throws { box = Box(try Fields(from: decoder)) }
    public func encode(to encoder: Encoder) throws { try box.f.encode(to: encoder) }
    /// The fields, not the box (printed rules and test failures read as before).
    public var customMirror: Mirror { Mirror(self, children: Mirror(reflecting: box.f).children, displayStyle: .struct) }

    /// The jump that enters `chain`, with no matches.
    public static func jump(to chain: String) -> XTRule { XTRule(target: .jump(chain)) }

    /// True for a rule ezlb did not write and cannot reproduce.
    public var isForeign: Bool {
        if case .other = target { return true }
        return false
    }

    /// The rule's text after `-A CHAIN`, exactly as iptables-legacy-save prints it.
    public var saveArguments: String {
        if case .other(let text) = target { return text }
        var p: [String] = []
        if let s = source { p.append("-s \(s)") }
        if let d = destination { p.append("-d \(d)") }
        // iptables-save order: -s -d -i -o -p (save_iface after the addresses).
        if let i = inInterface { p.append(i.save("i")) }
        if let o = outInterface { p.append(o.save("o")) }
        if let pr = proto {
            p.append("-p \(pr.rawValue)")
            if sourcePort != nil || destinationPort != nil {
                p.append("-m \(pr.rawValue)")
                if let sp = sourcePort { p.append("--sport \(sp)") }
                if let dp = destinationPort { p.append("--dport \(dp)") }
            }
        }
        if ctstate != nil || ctOrigin != nil {
            var m = "-m conntrack"
            if let ct = ctstate { m += " --ctstate \(ct.names.joined(separator: ","))" }
            if let o = ctOrigin { m += o.saveArguments }
            p.append(m)
        }
        if let mk = mark { p.append("-m mark --mark \(mk)") }
        if let c = comment { p.append("-m comment --comment \(XTRule.saveString(c))") }
        switch target {
        case .accept: p.append("-j ACCEPT")
        case .drop: p.append("-j DROP")
        case .return: p.append("-j RETURN")
        case .jump(let c): p.append("-j \(c)")
        case .snat(let a): p.append("-j SNAT --to-source \(a)")
        case .masquerade: p.append("-j MASQUERADE")
        case .other: break
        }
        return p.joined(separator: " ")
    }

    /// An `-i`/`-o` name the kernel cannot hold (libiptc and the fake refuse the rule).
    public var hasInvalidInterface: Bool {
        inInterface?.invalidReason != nil || outInterface?.invalidReason != nil
    }

    /// `-A CHAIN …`, one line of iptables-save.
    public func save(chain: String) -> String { "-A \(chain) \(saveArguments)" }

    /// Quotes like iptables' xtables_save_string: bare when only [A-Za-z0-9_-], else in
    /// double quotes with `"`, `\` and `'` escaped.
    public static func saveString(_ s: String) -> String {
        let bare = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
        }
        if bare { return s }
        var out = "\""
        for c in s {
            if c == "\"" || c == "\\" || c == "'" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// The kernel's comment limit (XT_MAX_COMMENT_LEN 256 with the NUL).
    public static let maxCommentBytes = 255

    /// `text` cut to what a comment match holds, on a character boundary.
    public static func fitComment(_ text: String) -> String {
        if text.utf8.count <= maxCommentBytes { return text }
        var out = ""
        for c in text {
            if out.utf8.count + String(c).utf8.count > maxCommentBytes { break }
            out.append(c)
        }
        return out
    }
}

/// Chains of one table as read from the kernel (only the chains asked for;
/// an absent chain is missing from `chains`).
public struct XTTableState: Equatable, Sendable {
    public var ref: XTTableRef
    public var chains: [String: [XTRule]]
    public init(ref: XTTableRef, chains: [String: [XTRule]] = [:]) {
        self.ref = ref
        self.chains = chains
    }

    public func isBuiltin(_ chain: String) -> Bool { ref.table.builtinChains.contains(chain) }

    /// The longest user chain name libiptc takes (XT_TABLE_MAXNAMELEN 32 with the NUL;
    /// the iptables command itself stops at 28).
    public static let maxChainName = 31

    /// Applies one operation with libiptc's semantics and errors. The fake kernel
    /// commits through this; the planner uses it to keep rule indices right.
    public mutating func apply(_ op: XTOperation) throws {
        func fail(_ kind: XTError.Kind) -> XTError { XTError(kind, operation: op.description(in: ref)) }
        switch op {
        case .createChain(let c):
            if chains[c] != nil || isBuiltin(c) { throw fail(.chainExists) }
            if c.isEmpty || c.utf8.count > Self.maxChainName || c.hasPrefix("-") || c.contains(" ") { throw fail(.invalidArgument) }
            chains[c] = []
        case .flushChain(let c):
            guard chains[c] != nil else { throw fail(.noSuchChain) }
            chains[c] = []
        case .appendRule(let c, let r):
            guard chains[c] != nil else { throw fail(.noSuchChain) }
            if r.hasInvalidInterface { throw fail(.invalidArgument) }
            if case .jump(let t) = r.target, chains[t] == nil || isBuiltin(t) { throw fail(.noSuchChain) }
            chains[c, default: []].append(r)
        case .insertRule(let c, let r, let i):
            guard chains[c] != nil else { throw fail(.noSuchChain) }
            if r.hasInvalidInterface { throw fail(.invalidArgument) }
            if case .jump(let t) = r.target, chains[t] == nil || isBuiltin(t) { throw fail(.noSuchChain) }
            guard i >= 0, i <= chains[c, default: []].count else { throw fail(.indexTooBig) }
            chains[c, default: []].insert(r, at: i)
        case .deleteRule(let c, let i, _):
            guard chains[c] != nil else { throw fail(.noSuchChain) }
            guard i >= 0, i < chains[c, default: []].count else { throw fail(.indexTooBig) }
            chains[c, default: []].remove(at: i)
        case .deleteChain(let c):
            if isBuiltin(c) { throw fail(.builtinChain) }
            guard let rules = chains[c] else { throw fail(.noSuchChain) }
            if !rules.isEmpty { throw fail(.chainNotEmpty) }
            let referenced = chains.values.contains { $0.contains { $0.target == .jump(c) } }
            if referenced { throw fail(.chainReferenced) }
            chains[c] = nil
        }
    }
}

/// One change to a table, applied in order; a table's operations are committed at once.
public enum XTOperation: Hashable, Sendable {
    case createChain(String)
    case flushChain(String)
    case appendRule(String, XTRule)
    /// Insert at a 0-based index.
    case insertRule(String, XTRule, Int)
    /// Delete the rule at a 0-based index (the rule is carried for reports).
    case deleteRule(String, Int, XTRule)
    case deleteChain(String)

    /// iptables-command text: `-t nat -A EZLB-SNAT -d …` (1-based rule numbers, as iptables).
    public func description(in ref: XTTableRef) -> String {
        let t = "\(ref.family == .ipv4 ? "ip4" : "ip6") -t \(ref.table.rawValue)"
        switch self {
        case .createChain(let c): return "\(t) -N \(c)"
        case .flushChain(let c): return "\(t) -F \(c)"
        case .appendRule(let c, let r): return "\(t) -A \(c) \(r.saveArguments)"
        case .insertRule(let c, let r, let i): return "\(t) -I \(c) \(i + 1) \(r.saveArguments)"
        case .deleteRule(let c, let i, _): return "\(t) -D \(c) \(i + 1)"
        case .deleteChain(let c): return "\(t) -X \(c)"
        }
    }
}

/// What an iptables operation can fail with, on libiptc and on the fake alike.
public typealias XTError = OperationError<XTErrorKind>

public enum XTErrorKind: String, OperationErrorKind {
    case chainExists = "chain already exists"
    case noSuchChain = "no chain/target/match by that name"
    case indexTooBig = "index of insertion/deletion too big"
    case builtinChain = "cannot delete a built-in chain"
    case chainNotEmpty = "chain is not empty"
    case chainReferenced = "chain is still referenced by another rule"
    case invalidArgument = "invalid argument"
    case tableUnavailable = "table does not exist (do you need to insmod?)"
    case permissionDenied = "permission denied (needs CAP_NET_ADMIN)"
    case concurrentChange = "the table changed underneath (retry)"
    case lockTimeout = "another program holds the xtables lock"
    case other = "iptables error"

    public var exitStatus: ExitStatus { self == .lockTimeout ? .busy : .failure }
}

/// The part of a table a digest covers: the managed chains (whether each exists,
/// and all its rules), and the chains that jump into them (where their rules that
/// target a managed chain are, and those rules). Counters are never part of it.
public struct XTDigestScope: Hashable, Codable, Sendable {
    public var chains: [String]
    public var hooks: [String]
    public init(chains: [String], hooks: [String]) {
        self.chains = chains
        self.hooks = hooks
    }
}

/// What ownership records: which chain, in which table, jumped from where.
public struct ManagedChainID: Hashable, Codable, Sendable, Comparable {
    public var ref: XTTableRef
    public var name: String
    public var hook: String
    public init(ref: XTTableRef, name: String, hook: String) {
        self.ref = ref
        self.name = name
        self.hook = hook
    }
    public static func < (a: ManagedChainID, b: ManagedChainID) -> Bool {
        if a.ref != b.ref { return a.ref < b.ref }
        return (a.name, a.hook) < (b.name, b.hook)
    }
}

