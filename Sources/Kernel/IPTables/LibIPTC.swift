import CEzlbShim
import EzlbCore
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// One table's libiptc handle (IPv4 through libip4tc, IPv6 through libip6tc):
/// a private copy of the kernel's table, changed in memory, written back by
/// `commit()` in one IPT_SO_SET_REPLACE (atomic). Freed with the object.
public final class IPTCTable {
    public let ref: XTTableRef
    private let v6: Int32
    private var handle: OpaquePointer?

    public init(_ ref: XTTableRef) throws {
        self.ref = ref
        v6 = ref.family == .ipv6 ? 1 : 0
        var h = ezlb_xt_init(v6, ref.table.rawValue)
        var e = errno
        if h == nil && (e == ENOPROTOOPT || e == ENOENT) {
            // libiptc does not load modules; iptables does (xtables_load_ko): the core
            // module first, the kernel then autoloads the table (iptable_nat, …).
            Self.modprobe(v6 == 1 ? "ip6_tables" : "ip_tables")
            h = ezlb_xt_init(v6, ref.table.rawValue)
            e = errno
        }
        guard let h else {
            throw Self.error(e, v6: v6, operation: "\(ref): \(v6 == 1 ? "ip6tc_init" : "iptc_init")", isInit: true)
        }
        handle = h
    }

    /// Runs the kernel's modprobe (/proc/sys/kernel/modprobe, else /sbin/modprobe) quietly, as iptables does.
    static func modprobe(_ module: String) {
        var path = "/sbin/modprobe"
        if case .success(let b) = FileBytes.read("/proc/sys/kernel/modprobe") {
            let p = String(decoding: b, as: UTF8.self).trimmed()
            if !p.isEmpty { path = p }
        }
        guard access(path, X_OK) == 0 else { return }
        _ = ChildProcess.run([path, "-q", module], environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    deinit {
        if let h = handle { ezlb_xt_free(v6, h) }
    }

    private var h: OpaquePointer {
        get throws {
            guard let h = handle else { throw XTError(.other, operation: "\(ref)", detail: "handle already committed") }
            return h
        }
    }

    /// Every chain's name, built-in chains first.
    public func chainNames() throws -> [String] {
        let h = try self.h
        var out: [String] = []
        var c = ezlb_xt_first_chain(v6, h)
        while let name = c {
            out.append(String(cString: name))
            c = ezlb_xt_next_chain(v6, h)
        }
        return out
    }

    /// A built-in chain's policy (ACCEPT, DROP); nil for a user chain.
    public func policy(_ chain: String) throws -> String? {
        ezlb_xt_policy(v6, chain, try h).map { String(cString: $0) }
    }

    /// The rules of `chain`, or nil when the table has no such chain.
    public func rules(_ chain: String) throws -> [XTRule]? {
        let h = try self.h
        guard ezlb_xt_is_chain(v6, chain, h) != 0 else { return nil }
        var out: [XTRule] = []
        var n = 0
        var e = ezlb_xt_first_rule(v6, chain, h)
        while let entry = e {
            n += 1
            e = ezlb_xt_next_rule(v6, entry, h)
        }
        out.reserveCapacity(n) // rules are large: growing the array would copy megabytes
        e = ezlb_xt_first_rule(v6, chain, h)
        var c = ezlb_xt_rule()
        while let entry = e {
            ezlb_xt_parse(v6, entry, h, &c)
            out.append(Self.rule(c, family: ref.family))
            e = ezlb_xt_next_rule(v6, entry, h)
        }
        return out
    }

    public func apply(_ op: XTOperation) throws {
        let h = try self.h
        let ok: Int32
        switch op {
        case .createChain(let c): ok = ezlb_xt_create_chain(v6, c, h)
        case .flushChain(let c): ok = ezlb_xt_flush_chain(v6, c, h)
        case .deleteChain(let c): ok = ezlb_xt_delete_chain(v6, c, h)
        case .deleteRule(let c, let i, _): ok = ezlb_xt_delete_num(v6, c, UInt32(i), h)
        case .appendRule(let c, let r):
            var cr = try cRule(r, for: op)
            ok = ezlb_xt_add_rule(v6, c, &cr, -1, h)
        case .insertRule(let c, let r, let i):
            var cr = try cRule(r, for: op)
            ok = ezlb_xt_add_rule(v6, c, &cr, Int32(i), h)
        }
        if ok == 0 { throw Self.error(errno, v6: v6, operation: op.description(in: ref)) }
    }

    /// `cRule` with the operation's text made only for an error (not for each of 20,000 rules).
    private func cRule(_ r: XTRule, for op: XTOperation) throws -> ezlb_xt_rule {
        do { return try Self.cRule(r, family: ref.family, operation: "") } catch let e as XTError {
            throw XTError(e.kind, operation: op.description(in: ref), detail: e.detail)
        }
    }

    /// The digest of `scope` in the handle's table as it is now (as read, plus the
    /// operations applied so far); nil when the handle is spent or the digest fails.
    public func digest(_ scope: XTDigestScope) -> [UInt8]? {
        guard let h = handle else { return nil }
        return Self.withNames(scope) { names, nc, nh in
            var out = [UInt8](repeating: 0, count: Int(EZLB_DIGEST_STATE_LEN))
            return ezlb_xt_handle_digest(v6, h, names, nc, nh, &out) == 0 ? StateDigest.finish(ref.description, state: out) : nil
        }
    }

    /// The scope's names NUL-terminated back to back, managed chains first, as the C side takes them.
    static func withNames<T>(_ scope: XTDigestScope, _ body: (UnsafePointer<CChar>, Int32, Int32) -> T) -> T {
        var names: [CChar] = []
        for n in scope.chains + scope.hooks {
            names += n.utf8.map { CChar(bitPattern: $0) }
            names.append(0)
        }
        names.append(0)
        // swift-format-ignore: NeverForceUnwrap
        // names is never empty (it ends with a NUL), so it has storage.
        return names.withUnsafeBufferPointer { body($0.baseAddress!, Int32(scope.chains.count), Int32(scope.hooks.count)) }
    }

    /// The digest of `scope` in the kernel's table now, from a raw copy of the
    /// table (no libiptc handle, no per-rule parsing); nil when the table cannot be
    /// read (not loaded, no permission) or is not laid out as libiptc writes tables.
    public static func kernelDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? {
        var blob: OpaquePointer?
        guard ezlb_xt_blob_read(ref.family == .ipv6 ? 1 : 0, ref.table.rawValue, &blob) == 0, let blob else { return nil }
        defer { ezlb_xt_blob_free(blob) }
        return withNames(scope) { names, nc, nh in
            var out = [UInt8](repeating: 0, count: Int(EZLB_DIGEST_STATE_LEN))
            return ezlb_xt_blob_digest(blob, names, nc, nh, &out) == 0 ? StateDigest.finish(ref.description, state: out) : nil
        }
    }

    /// Writes the table back to the kernel; the handle is spent afterwards.
    public func commit() throws {
        let h = try self.h
        let ok = ezlb_xt_commit(v6, h)
        let e = errno
        ezlb_xt_free(v6, h)
        handle = nil
        if ok == 0 { throw Self.error(e, v6: v6, operation: "\(ref): \(v6 == 1 ? "ip6tc_commit" : "iptc_commit")") }
    }

    static func error(_ e: Int32, v6: Int32, operation: String, isInit: Bool = false) -> XTError {
        let msg = String(cString: ezlb_xt_strerror(v6, e))
        let kind: XTError.Kind
        switch e {
        case EEXIST: kind = .chainExists
        case ENOENT: kind = isInit ? .tableUnavailable : .noSuchChain
        case ENOPROTOOPT, EAFNOSUPPORT: kind = .tableUnavailable // ip_tables / ip6_tables not loadable
        case E2BIG: kind = .indexTooBig
        case ENOTEMPTY: kind = .chainNotEmpty
        case EMLINK, EBUSY: kind = .chainReferenced
        case EPERM, EACCES: kind = isInit || operation.hasSuffix("commit") ? .permissionDenied : .builtinChain
        case EAGAIN: kind = .concurrentChange
        case EINVAL: kind = .invalidArgument
        default: kind = .other
        }
        return XTError(kind, operation: operation, detail: msg)
    }

    // MARK: C <-> Swift rules

    static func rule(_ c: ezlb_xt_rule, family: IPFamily) -> XTRule {
        let n = family == .ipv4 ? 4 : 16
        func addr(_ t: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) -> IPAddress {
            withUnsafeBytes(of: t) { b in
                // IPv4 without an intermediate array: this runs for every rule read back.
                n == 4 ? IPAddress(v4: UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
                       : IPAddress(networkBytes: UnsafeRawBufferPointer(rebasing: b.prefix(n))) ?? .zero(family)
            }
        }
        var c = c
        let label = withUnsafeBytes(of: &c.label) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let comment = withUnsafeBytes(of: &c.comment) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var r = XTRule(target: .accept)
        if c.src_len > 0 || !addr(c.src).bytes.allSatisfy({ $0 == 0 }) { r.source = XTPrefix(addr(c.src), length: Int(c.src_len)) }
        if c.dst_len > 0 || !addr(c.dst).bytes.allSatisfy({ $0 == 0 }) { r.destination = XTPrefix(addr(c.dst), length: Int(c.dst_len)) }
        var interfacesUnderstood = true
        func iface(_ name: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar),
                   _ mask: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8),
                   _ invert: UInt8) -> XTInterface? {
            let n = withUnsafeBytes(of: name) { Array($0) }, m = withUnsafeBytes(of: mask) { Array($0) }
            switch XTInterface.decode(name: n, mask: m, invert: invert != 0) {
            case .none: return nil
            case .interface(let i): return i
            case .notUnderstood: interfacesUnderstood = false; return nil
            }
        }
        r.inInterface = iface(c.iniface, c.iniface_mask, c.iniface_invert)
        r.outInterface = iface(c.outiface, c.outiface_mask, c.outiface_invert)
        if c.proto != 0 { r.proto = IPVSProtocol(number: c.proto) }
        if c.sport != 0 { r.sourcePort = c.sport }
        if c.dport != 0 { r.destinationPort = c.dport }
        if c.ctstate != 0 { r.ctstate = XTConntrackState(rawValue: c.ctstate) }
        var ctUnderstood = true
        if c.ctproto != 0 || c.ctorigdst_set != 0 || c.ctorigdstport != 0 {
            var o = XTConntrackOrigin()
            if c.ctproto != 0 { o.proto = IPVSProtocol(number: UInt16(c.ctproto)); ctUnderstood = o.proto != nil }
            if c.ctorigdst_set != 0 { o.address = addr(c.ctorigdst) }
            if c.ctorigdstport != 0 { o.port = c.ctorigdstport }
            r.ctOrigin = o
        }
        if c.mark_set != 0 { r.mark = XTMark(c.mark, mask: c.mark_mask) }
        if !comment.isEmpty { r.comment = comment }
        switch c.target {
        case Int32(EZLB_XT_TARGET_SNAT): r.target = .snat(addr(c.to_source))
        case Int32(EZLB_XT_TARGET_MASQUERADE): r.target = .masquerade
        default:
            switch label {
            case "ACCEPT": r.target = .accept
            case "DROP": r.target = .drop
            case "RETURN": r.target = .return
            default: r.target = .jump(label)
            }
        }
        // Anything the shim could not describe fully (other matches, targets,
        // interfaces, inversions, protocols) is foreign: never equal to ezlb's rules.
        if c.understood == 0 || !interfacesUnderstood || !ctUnderstood || (c.proto != 0 && r.proto == nil) {
            r = XTRule(target: .other("(not an ezlb rule) -j \(label.isEmpty ? "?" : label)"))
        }
        return r
    }

    static func cRule(_ r: XTRule, family: IPFamily, operation: String) throws -> ezlb_xt_rule {
        var c = ezlb_xt_rule()
        func put(_ a: IPAddress, into t: inout (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) throws {
            guard a.family == family else { throw XTError(.invalidArgument, operation: operation, detail: "\(a) is not \(family.rawValue)") }
            withUnsafeMutableBytes(of: &t) { raw in
                if let v = a.v4 { // no byte array per rule for IPv4
                    raw[0] = UInt8(truncatingIfNeeded: v >> 24); raw[1] = UInt8(truncatingIfNeeded: v >> 16)
                    raw[2] = UInt8(truncatingIfNeeded: v >> 8); raw[3] = UInt8(truncatingIfNeeded: v)
                    return
                }
                for (i, b) in a.bytes.enumerated() { raw[i] = b }
            }
        }
        if let s = r.source { try put(s.address, into: &c.src); c.src_len = UInt8(s.length) }
        if let d = r.destination { try put(d.address, into: &c.dst); c.dst_len = UInt8(d.length) }
        func putInterface(_ i: XTInterface?, name: UnsafeMutableRawBufferPointer, mask: UnsafeMutableRawBufferPointer) throws {
            guard let i else { return }
            if let why = i.invalidReason { throw XTError(.invalidArgument, operation: operation, detail: "interface '\(i.name)': \(why)") }
            let (n, m) = i.kernelBytes
            name.copyBytes(from: n)
            mask.copyBytes(from: m)
        }
        try withUnsafeMutableBytes(of: &c.iniface) { n in try withUnsafeMutableBytes(of: &c.iniface_mask) { try putInterface(r.inInterface, name: n, mask: $0) } }
        try withUnsafeMutableBytes(of: &c.outiface) { n in try withUnsafeMutableBytes(of: &c.outiface_mask) { try putInterface(r.outInterface, name: n, mask: $0) } }
        c.iniface_invert = r.inInterface?.invert == true ? 1 : 0
        c.outiface_invert = r.outInterface?.invert == true ? 1 : 0
        c.proto = r.proto?.number ?? 0
        c.sport = r.sourcePort ?? 0
        c.dport = r.destinationPort ?? 0
        c.ctstate = r.ctstate?.rawValue ?? 0
        if let o = r.ctOrigin {
            c.ctproto = UInt8(truncatingIfNeeded: o.proto?.number ?? 0)
            if let a = o.address { try put(a, into: &c.ctorigdst); c.ctorigdst_set = 1 }
            c.ctorigdstport = o.port ?? 0
        }
        if let m = r.mark { c.mark = m.value; c.mark_mask = m.mask; c.mark_set = 1 }
        func putString(_ s: String, into t: UnsafeMutableRawBufferPointer) {
            var s = s
            s.withUTF8 { b in // one copy, NUL-terminated by the zeroed struct
                let n = min(b.count, t.count - 1)
                if n > 0, let dst = t.baseAddress, let src = b.baseAddress { dst.copyMemory(from: src, byteCount: n) }
            }
        }
        if let cm = r.comment { withUnsafeMutableBytes(of: &c.comment) { putString(XTRule.fitComment(cm), into: $0) } }
        var label = ""
        switch r.target {
        case .accept: label = "ACCEPT"
        case .drop: label = "DROP"
        case .return: label = "RETURN"
        case .jump(let chain): label = chain
        case .snat(let a):
            c.target = Int32(EZLB_XT_TARGET_SNAT)
            try put(a, into: &c.to_source)
        case .masquerade: c.target = Int32(EZLB_XT_TARGET_MASQUERADE)
        case .other(let t): throw XTError(.invalidArgument, operation: operation, detail: "cannot write a foreign rule: \(t)")
        }
        if !label.isEmpty { withUnsafeMutableBytes(of: &c.label) { putString(label, into: $0) } }
        return c
    }
}

/// The live iptables backend over libiptc. Holds `/run/xtables.lock` (flock, as
/// `iptables -w` does; env XTABLES_LOCKFILE overrides the path, like iptables) from
/// creation until freed, so a read → plan → commit cycle is never interleaved with
/// another iptables writer. Each table read keeps its handle for the commit.
public final class LibIPTCBackend: XTBackend {
    public static var lockPath: String {
        if let p = getenv("XTABLES_LOCKFILE"), p.pointee != 0 { return String(cString: p) }
        return "/run/xtables.lock"
    }

    private let lock: FileLock
    private var handles: [XTTableRef: IPTCTable] = [:]
    /// Commits made (one per table written).
    public private(set) var commits = 0

    /// Waits up to `lockTimeout` seconds for the xtables lock.
    public init(lockTimeout: Int) throws {
        do {
            lock = try FileLock(path: Self.lockPath, timeoutSeconds: lockTimeout)
        } catch StateError.lockTimeout(let p, let s) {
            throw XTError(.lockTimeout, operation: p, detail: "waited \(s)s")
        } catch StateError.io(let p, _, let e) {
            throw XTError(e == EACCES || e == EPERM ? .permissionDenied : .other, operation: "open the xtables lock \(p)",
                          detail: String(cString: strerror(e)))
        }
    }

    private func table(_ ref: XTTableRef) throws -> IPTCTable {
        if let t = handles[ref] { return t }
        let t = try IPTCTable(ref)
        handles[ref] = t
        return t
    }

    public func read(_ ref: XTTableRef, chains: [String]) throws -> XTTableState {
        let t = try table(ref)
        var st = XTTableState(ref: ref)
        for c in chains {
            if let rules = try t.rules(c) { st.chains[c] = rules }
        }
        return st
    }

    public func readAll(_ ref: XTTableRef) throws -> (state: XTTableState, policies: [String: String]) {
        let t = try table(ref)
        var st = XTTableState(ref: ref)
        var policies: [String: String] = [:]
        for c in try t.chainNames() {
            st.chains[c] = try t.rules(c) ?? []
            if let p = try t.policy(c) { policies[c] = p }
        }
        return (st, policies)
    }

    @discardableResult
    public func commit(_ ref: XTTableRef, _ ops: [XTOperation], digest scope: XTDigestScope?) throws -> [UInt8]? {
        guard !ops.isEmpty else { return scope.flatMap { readDigest(ref, scope: $0) } }
        let t = try table(ref)
        handles[ref] = nil
        for op in ops { try t.apply(op) }
        // What the commit writes is exactly the handle now: its digest is the table's after the commit.
        let digest = scope.flatMap { t.digest($0) }
        try t.commit()
        commits += 1
        return digest
    }

    public func currentDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? {
        IPTCTable.kernelDigest(ref, scope: scope)
    }

    public func readDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]? {
        handles[ref]?.digest(scope)
    }
}
