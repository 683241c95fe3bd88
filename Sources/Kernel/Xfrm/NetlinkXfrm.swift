import CEzlbShim
import CNetlinkXfrm
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// `XfrmBackend` on the running kernel through libnl-xfrm-3: one NETLINK_XFRM socket
/// owned by the object (freed in deinit), dumps read raw (`ezlb_xfrm_dump`: the kernel's
/// reply messages, each parsed by libnl, no cache; their digest kept for `xfrm sync`'s
/// converged fast path, `XfrmDumpDigest`), writes built by libnl-xfrm and sent in batches (`applyBatch`: up to 64
/// requests per datagram, each refusal reported and matched to its request). The socket
/// belongs to the network namespace the process runs in.
public final class NetlinkXfrm: XfrmBackend {
    private var sock: OpaquePointer?
    public private(set) var writes = 0

    static let netlinkXfrm: Int32 = 6 // NETLINK_XFRM
    static let espProto: UInt32 = 50
    static let modeTunnel: UInt32 = 1
    static let inf: UInt64 = ~0

    /// A socket in the process's network namespace, or (`netns`: a path such as /run/netns/NAME)
    /// in that namespace: a dedicated thread enters it with setns, opens the socket and ends.
    public init(netns: String? = nil) throws {
        guard let path = netns else {
            sock = try Self.openSocket()
            return
        }
        final class Box: @unchecked Sendable { var result: Result<OpaquePointer, XfrmError>? }
        let box = Box()
        let t = PosixThread {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                box.result = .failure(XfrmError(.other, operation: "open network namespace \(path)", detail: String(cString: strerror(errno))))
                return
            }
            defer { close(fd) }
            if setns(fd, EZLB_XFRM_CLONE_NEWNET) != 0 {
                box.result = .failure(XfrmError(.permission, operation: "enter network namespace \(path)", detail: String(cString: strerror(errno))))
                return
            }
            do { box.result = .success(try Self.openSocket()) }
            catch let e as XfrmError { box.result = .failure(e) }
            catch { box.result = .failure(XfrmError(.other, operation: "enter \(path)", detail: "\(error)")) }
        }
        t.startAndWait()
        switch box.result {
        case .success(let p): sock = p
        case .failure(let e): throw e
        case nil: throw XfrmError(.other, operation: "enter network namespace \(path)", detail: "thread did not report")
        }
    }

    static func openSocket() throws -> OpaquePointer {
        guard let s = nl_socket_alloc() else {
            throw XfrmError(.other, operation: "nl_socket_alloc", detail: "out of memory")
        }
        let err = nl_connect(s, Self.netlinkXfrm)
        if err < 0 {
            nl_socket_free(s)
            throw Self.error(err, operation: "connect NETLINK_XFRM")
        }
        // Batched writes match replies by sequence number themselves, and need room for up to a
        // batch of error replies: libnl's default receive buffer (32 KiB) holds ~40 (each reply skb
        // costs ~768 bytes of buffer); the kernel caps this request at net.core.rmem_max.
        nl_socket_disable_seq_check(s)
        _ = nl_socket_set_buffer_size(s, 1 << 20, 0)
        // One recvmsg per datagram instead of a MSG_PEEK for its size first: replies (dump parts
        // included) are at most 32 KiB, and a longer one is reported (NLE_MSG_TRUNC), not cut.
        _ = nl_socket_set_msg_buf_size(s, 64 * 1024)
        nl_socket_disable_msg_peek(s)
        // An ack the kernel could not queue is lost for good: never wait for one forever.
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(nl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    deinit {
        if let s = sock { nl_socket_free(s) }
    }

    private var s: OpaquePointer {
        get throws {
            guard let s = sock else { throw XfrmError(.other, operation: "xfrm", detail: "socket closed") }
            return s
        }
    }

    static func error(_ err: Int32, operation: String) -> XfrmError {
        let code = err < 0 ? -err : err
        let text = String(cString: nl_geterror(code))
        let kind: XfrmError.Kind
        var detail = text
        switch code {
        case NLE_EXIST: kind = .exists
        case NLE_OBJ_NOTFOUND: kind = .notFound
        case NLE_PERM, NLE_NOACCESS: kind = .permission; detail += " (needs CAP_NET_ADMIN: run as root)"
        case NLE_OPNOTSUPP, NLE_PROTO_MISMATCH, NLE_AF_NOSUPPORT, NLE_NOATTR:
            kind = .unsupported; detail += " (does the kernel have xfrm_user and esp4/esp6?)"
        case NLE_INVAL, NLE_RANGE, NLE_MISSING_ATTR: kind = .invalid
        default: kind = .other
        }
        return XfrmError(kind, operation: operation, detail: detail)
    }

    // MARK: addresses

    static func nlAddr(_ a: IPAddress) -> OpaquePointer? {
        var b = a.bytes
        return b.withUnsafeMutableBytes { nl_addr_build(Int32(a.family.af), $0.baseAddress, $0.count) }
    }

    static func ip(_ a: OpaquePointer?) -> IPAddress? {
        guard let a, let p = nl_addr_get_binary_addr(a) else { return nil }
        let len = Int(nl_addr_get_len(a))
        guard len == 4 || len == 16 else { return nil }
        return IPAddress(networkBytes: UnsafeRawBufferPointer(start: p, count: len))
    }

    static func u32(_ v: Int32) -> UInt32 { UInt32(bitPattern: v) }
    static let zero4 = IPAddress.zero(.ipv4), zero6 = IPAddress.zero(.ipv6)

    // MARK: dump

    public private(set) var dumpDigest: [UInt8]? = nil
    private var dumpSeq: UInt32 = 0x4558_0000

    /// Every policy and SA, read raw (`ezlb_xfrm_dump`: the kernel's reply messages as sent)
    /// and parsed by libnl message by message; `dumpDigest` becomes the digest of exactly
    /// those messages.
    public func dump() throws -> XfrmTables {
        var raw = try rawDump()
        defer { ezlb_xfrm_buf_free(&raw) }
        dumpDigest = XfrmDumpDigest.digest(raw)
        var t = XfrmTables()
        var off = 0
        let hdrSize = MemoryLayout<nlmsghdr>.size
        while off + hdrSize <= raw.len {
            let hdr = UnsafeMutableRawPointer(raw.data + off).assumingMemoryBound(to: nlmsghdr.self)
            let len = Int(hdr.pointee.nlmsg_len)
            guard len >= hdrSize, off + len <= raw.len else { break }
            switch Int(hdr.pointee.nlmsg_type) {
            case Int(EZLB_XFRM_MSG_NEWPOLICY):
                var sp: OpaquePointer? = nil
                let err = xfrmnl_sp_parse(hdr, &sp)
                if err < 0 { throw Self.error(err, operation: "dump policies") }
                if let sp {
                    if let p = Self.policy(sp) { t.policies.append(p) }
                    xfrmnl_sp_put(sp)
                }
            case Int(EZLB_XFRM_MSG_NEWSA):
                var sa: OpaquePointer? = nil
                let err = xfrmnl_sa_parse(hdr, &sa)
                if err < 0 { throw Self.error(err, operation: "dump states") }
                if let sa {
                    if let st = Self.state(sa) { t.states.append(st) }
                    xfrmnl_sa_put(sa)
                }
            default: break
            }
            off += (len + 3) & ~3
        }
        return t
    }

    /// The digest of the kernel's policies and SAs now (`XfrmDumpDigest`), digested as the
    /// replies arrive: nothing parsed, nothing kept.
    public func currentDigest() -> [UInt8]? {
        guard let s = sock else { return nil }
        dumpSeq &+= 2
        return XfrmDumpDigest.current(fd: nl_socket_get_fd(s), seq: dumpSeq)
    }

    /// The policy dump's and the SA dump's reply messages (caller frees with ezlb_xfrm_buf_free).
    private func rawDump() throws -> ezlb_xfrm_buf {
        let fd = nl_socket_get_fd(try s)
        var raw = ezlb_xfrm_buf()
        dumpSeq &+= 2
        let err = ezlb_xfrm_dump(fd, dumpSeq, &raw)
        if err < 0 {
            ezlb_xfrm_buf_free(&raw)
            throw Self.kernelDumpError(-err)
        }
        return raw
    }

    static func kernelDumpError(_ errno: Int32) -> XfrmError {
        var detail = String(cString: strerror(errno))
        let kind: XfrmError.Kind
        switch errno {
        case EPERM, EACCES: kind = .permission; detail += " (needs CAP_NET_ADMIN: run as root)"
        case EPROTONOSUPPORT, ENOSYS, EOPNOTSUPP, EAFNOSUPPORT:
            kind = .unsupported; detail += " (does the kernel have xfrm_user?)"
        default: kind = .other
        }
        return XfrmError(kind, operation: "dump policies and states", detail: detail)
    }

    static func policy(_ sp: OpaquePointer) -> XfrmPolicy? {
        guard let dir = XfrmDirection(kernelValue: Int(xfrmnl_sp_get_dir(sp))), let sel = xfrmnl_sp_get_sel(sp) else { return nil }
        let fam = xfrmnl_sel_get_family(sel)
        var selOther: [String] = []
        let src = ip(xfrmnl_sel_get_saddr(sel)), dst = ip(xfrmnl_sel_get_daddr(sel))
        let zero = fam == 10 ? zero6 : zero4
        if xfrmnl_sel_get_proto(sel) != 0 { selOther.append("proto \(xfrmnl_sel_get_proto(sel))") }
        if xfrmnl_sel_get_sport(sel) != 0 || xfrmnl_sel_get_sportmask(sel) != 0 { selOther.append("sport \(xfrmnl_sel_get_sport(sel))") }
        if xfrmnl_sel_get_dport(sel) != 0 || xfrmnl_sel_get_dportmask(sel) != 0 { selOther.append("dport \(xfrmnl_sel_get_dport(sel))") }
        if xfrmnl_sel_get_ifindex(sel) != 0 { selOther.append("ifindex \(xfrmnl_sel_get_ifindex(sel))") }
        if fam != 2 && fam != 10 { selOther.append("family \(fam)") }
        let selector = XfrmSelector(src: XfrmPrefix(src ?? zero, length: Int(xfrmnl_sel_get_prefixlen_s(sel))),
                                    dst: XfrmPrefix(dst ?? zero, length: Int(xfrmnl_sel_get_prefixlen_d(sel))),
                                    other: selOther.isEmpty ? nil : selOther.joined(separator: " "))
        var other: [String] = []
        let action = xfrmnl_sp_get_action(sp)
        if action > 0 { other.append("action block") }
        var mark: UInt32 = 0, mask: UInt32 = 0
        if xfrmnl_sp_get_mark(sp, &mark, &mask) == 0, mark != 0 || mask != 0 {
            other.append("mark \(XfrmFormat.hex(mark))/\(XfrmFormat.hex(mask))")
        }
        let ptype = xfrmnl_sp_get_userpolicy_type(sp)
        if ptype > 0 { other.append("ptype sub") }
        if xfrmnl_sp_get_sec_ctx(sp, nil, nil, nil, nil, nil, nil) == 0 { other.append("ctx") }
        var templates: [XfrmTemplate] = []
        let n = xfrmnl_sp_get_nusertemplates(sp)
        for i in 0..<max(0, n) {
            guard let ut = xfrmnl_sp_usertemplate_n(sp, i) else { continue }
            let tsrc = ip(xfrmnl_user_tmpl_get_saddr(ut)) ?? zero, tdst = ip(xfrmnl_user_tmpl_get_daddr(ut)) ?? zero
            var tOther: [String] = []
            let proto = xfrmnl_user_tmpl_get_proto(ut), mode = xfrmnl_user_tmpl_get_mode(ut)
            if u32(proto) != espProto { tOther.append("proto \(proto)") }
            if u32(mode) != modeTunnel { tOther.append("mode \(mode)") }
            if xfrmnl_user_tmpl_get_optional(ut) != 0 { tOther.append("level use") }
            if xfrmnl_user_tmpl_get_spi(ut) != 0 { tOther.append("spi \(XfrmFormat.hex(u32(xfrmnl_user_tmpl_get_spi(ut))))") }
            templates.append(XfrmTemplate(src: tsrc, dst: tdst, reqid: u32(xfrmnl_user_tmpl_get_reqid(ut)),
                                          other: tOther.isEmpty ? nil : tOther.joined(separator: " ")))
        }
        return XfrmPolicy(dir: dir, selector: selector, priority: u32(xfrmnl_sp_get_priority(sp)), templates: templates,
                          other: other.isEmpty ? nil : other.joined(separator: " "))
    }

    static func state(_ sa: OpaquePointer) -> XfrmState? {
        guard let dst = ip(xfrmnl_sa_get_daddr(sa)) else { return nil }
        let src = ip(xfrmnl_sa_get_saddr(sa)) ?? IPAddress.zero(dst.family)
        let proto = UInt8(truncatingIfNeeded: xfrmnl_sa_get_proto(sa))
        let id = XfrmStateID(src: src, dst: dst, spi: u32(xfrmnl_sa_get_spi(sa)), proto: proto)
        var other: [String] = []
        if u32(xfrmnl_sa_get_mode(sa)) != modeTunnel { other.append("mode \(xfrmnl_sa_get_mode(sa))") }
        let flags = xfrmnl_sa_get_flags(sa)
        if flags > 0 { other.append("flags \(flags)") }
        var mark: UInt32 = 0, mask: UInt32 = 0
        if xfrmnl_sa_get_mark(sa, &mark, &mask) == 0, mark != 0 || mask != 0 {
            other.append("mark \(XfrmFormat.hex(mark))/\(XfrmFormat.hex(mask))")
        }
        var name = [CChar](repeating: 0, count: 128)
        var keyBuf = [CChar](repeating: 0, count: 1024)
        var keyLen: UInt32 = 0, icv: UInt32 = 0
        var aead = "", key = XfrmKey([]), icvBits: UInt32 = 0
        if xfrmnl_sa_get_aead_params(sa, &name, &keyLen, &icv, &keyBuf) == 0, keyLen / 8 <= 1024 {
            aead = String(cBuffer: name)
            key = XfrmKey(keyBuf[0..<Int((keyLen + 7) / 8)].map { UInt8(bitPattern: $0) })
            icvBits = icv
        } else {
            other.append("no aead")
        }
        for (nm, present) in [("enc", xfrmnl_sa_get_crypto_params(sa, &name, &keyLen, &keyBuf) == 0),
                              ("auth", xfrmnl_sa_get_auth_params(sa, &name, &keyLen, &icv, &keyBuf) == 0)] where present {
            other.append(nm)
        }
        // Scrub key copies of other SAs from the stack buffer.
        for i in keyBuf.indices { keyBuf[i] = 0 }
        let rw = xfrmnl_sa_get_replay_window(sa)
        return XfrmState(id: id, reqid: u32(xfrmnl_sa_get_reqid(sa)), aead: aead, key: key, icvBits: icvBits,
                         replayWindow: rw < 0 ? 0 : UInt32(rw), other: other.isEmpty ? nil : other.joined(separator: " "))
    }

    // MARK: writes

    /// Requests per batch: sent in one `sendmsg`, answered by one ack (plus an error per refused one).
    static let window = 64
    /// Bytes per batch (a policy request is ~250 bytes): below the socket's send buffer.
    static let windowBytes = 24 * 1024

    /// Sends the operations in batches: up to `window` requests packed into one `sendmsg`
    /// (the kernel handles the messages of one datagram in order, each on its own), only
    /// the last one asking for an ack. The kernel reports every refused request anyway
    /// (an NLMSG_ERROR carrying its sequence number), so when the last request's ack
    /// arrives every earlier one of the batch is known: done, or refused with the error
    /// matched by sequence number. Every operation is attempted; the result per operation
    /// is nil (done) or its error. (One acked request per `sendmsg` cost two system calls
    /// per object, which under emulation weighed more than building the messages.)
    public func applyBatch(_ ops: [XfrmOperation]) -> [XfrmError?] {
        var results = [XfrmError?](repeating: nil, count: ops.count)
        guard let s = sock else {
            return ops.map { XfrmError(.other, operation: $0.description, detail: "socket closed") }
        }
        var buf: [UInt8] = []
        buf.reserveCapacity(Self.windowBytes + 4096)
        var start = 0
        while start < ops.count {
            // Build the batch: complete each libnl message (port, sequence number, flags) and copy it.
            buf.removeAll(keepingCapacity: true)
            var inBatch: [UInt32: Int] = [:]
            var lastSeq: UInt32? = nil
            var lastAt = 0           // byte offset of the last message (its flags get NLM_F_ACK)
            var i = start
            while i < ops.count && i - start < Self.window && buf.count < Self.windowBytes {
                do {
                    let msg = try message(ops[i])
                    defer { nlmsg_free(msg) }
                    nl_complete_msg(s, msg)
                    // swift-format-ignore: NeverForceUnwrap
                    // nlmsg_hdr of a message libnl allocated is never NULL.
                    let hdr = nlmsg_hdr(msg)!
                    hdr.pointee.nlmsg_flags &= ~UInt16(NLM_F_ACK)
                    let len = Int(hdr.pointee.nlmsg_len)
                    lastAt = buf.count
                    buf.append(contentsOf: UnsafeRawBufferPointer(start: hdr, count: len))
                    let pad = ((len + 3) & ~3) - len
                    if pad > 0 { buf.append(contentsOf: repeatElement(0, count: pad)) }
                    inBatch[hdr.pointee.nlmsg_seq] = i
                    lastSeq = hdr.pointee.nlmsg_seq
                } catch let e as XfrmError {
                    results[i] = e
                } catch {
                    results[i] = XfrmError(.other, operation: ops[i].description, detail: "\(error)")
                }
                i += 1
            }
            let end = i
            guard let last = lastSeq else { start = end; continue }
            buf.withUnsafeMutableBytes { b in
                // nlmsg_flags: the u16 after nlmsg_len (u32) and nlmsg_type (u16).
                let at = lastAt + 6
                b.storeBytes(of: b.loadUnaligned(fromByteOffset: at, as: UInt16.self) | UInt16(NLM_F_ACK), toByteOffset: at, as: UInt16.self)
            }
            let sent = buf.withUnsafeMutableBytes { nl_sendto(s, $0.baseAddress, $0.count) }
            if sent < 0 {
                for (_, j) in inBatch { results[j] = Self.error(sent, operation: ops[j].description) }
                start = end
                continue
            }
            // Read until the last request's ack: refusals of earlier ones come before it.
            var acked = false
            while !acked {
                var rbuf: UnsafeMutablePointer<UInt8>? = nil
                var peer = sockaddr_nl()
                let n = nl_recv(s, &peer, &rbuf, nil)
                if n == -NLE_INTR { free(rbuf); continue }
                if n <= 0 {
                    free(rbuf)
                    // NLE_NOMEM is ENOBUFS (replies dropped: receive buffer overrun), NLE_AGAIN the timeout:
                    // the requests may or may not have been applied; the next sync reads the kernel again.
                    var e = n < 0 ? Self.error(n, operation: "read acks") : XfrmError(.other, operation: "read acks", detail: "socket closed")
                    e.detail = "no ack (\(e.detail ?? "")); the kernel may or may not have applied it: run sync again"
                    for (_, j) in inBatch { results[j] = XfrmError(e.kind, operation: ops[j].description, detail: e.detail) }
                    inBatch.removeAll()
                    break
                }
                guard let rbuf else { continue }
                let raw = UnsafeRawPointer(rbuf)
                var off = 0
                while off + MemoryLayout<nlmsghdr>.size <= Int(n) {
                    let hdr = raw.loadUnaligned(fromByteOffset: off, as: nlmsghdr.self)
                    let len = Int(hdr.nlmsg_len)
                    guard len >= MemoryLayout<nlmsghdr>.size, off + len <= Int(n) else { break }
                    if hdr.nlmsg_type == UInt16(NLMSG_ERROR), let j = inBatch.removeValue(forKey: hdr.nlmsg_seq) {
                        let code = raw.loadUnaligned(fromByteOffset: off + MemoryLayout<nlmsghdr>.size, as: Int32.self)
                        if code < 0 { results[j] = Self.kernelError(-code, op: ops[j]) } else { writes += 1 }
                        if hdr.nlmsg_seq == last { acked = true }
                    }
                    off += (len + 3) & ~3
                }
                free(rbuf)
            }
            // No refusal reported before the last ack: done.
            writes += inBatch.count
            start = end
        }
        return results
    }

    /// A kernel errno (from an ack) as a typed error naming the operation.
    static func kernelError(_ errno: Int32, op: XfrmOperation) -> XfrmError {
        var detail = String(cString: strerror(errno))
        let kind: XfrmError.Kind
        switch errno {
        case EEXIST: kind = .exists
        case ENOENT, ESRCH: kind = .notFound
        case EPERM, EACCES: kind = .permission
        case EPROTONOSUPPORT, ENOSYS, EOPNOTSUPP, EAFNOSUPPORT:
            kind = .unsupported
            if case .addState = op { detail += "; the kernel lacks ESP or the AEAD algorithm: modprobe esp4 esp6" }
        case EINVAL: kind = .invalid
        default: kind = .other
        }
        return XfrmError(kind, operation: op.description, detail: detail)
    }

    /// The netlink request for one operation (caller frees it).
    private func message(_ op: XfrmOperation) throws -> OpaquePointer {
        var msg: OpaquePointer? = nil
        let err: Int32
        switch op {
        case .addState(let st):
            guard let sa = xfrmnl_sa_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
            defer { xfrmnl_sa_put(sa) }
            try fill(sa, st, op: op)
            err = xfrmnl_sa_build_add_request(sa, 0, &msg)
        case .deleteState(let id):
            guard let sa = xfrmnl_sa_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
            defer { xfrmnl_sa_put(sa) }
            let d = Self.nlAddr(id.dst)
            xfrmnl_sa_set_daddr(sa, d)
            nl_addr_put(d)
            xfrmnl_sa_set_spi(sa, id.spi)
            xfrmnl_sa_set_proto(sa, UInt32(id.proto))
            err = xfrmnl_sa_build_delete_request(sa, 0, &msg)
        case .addPolicy(let p), .updatePolicy(let p):
            guard let sp = xfrmnl_sp_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
            defer { xfrmnl_sp_put(sp) }
            try fill(sp, p, op: op)
            if case .addPolicy = op { err = xfrmnl_sp_build_add_request(sp, 0, &msg) } else { err = xfrmnl_sp_build_update_request(sp, 0, &msg) }
        case .deletePolicy(let id):
            guard let sp = xfrmnl_sp_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
            defer { xfrmnl_sp_put(sp) }
            xfrmnl_sp_set_dir(sp, UInt32(id.dir.kernelValue))
            let sel = try Self.selector(id.selector, op: op)
            xfrmnl_sp_set_sel(sp, sel)
            xfrmnl_sel_put(sel)
            err = xfrmnl_sp_build_delete_request(sp, 0, &msg)
        }
        if err < 0 { throw Self.error(err, operation: op.description) }
        guard let m = msg else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
        return m
    }

    public func commit() throws {}

    static func lifetime() -> OpaquePointer? {
        guard let l = xfrmnl_ltime_cfg_alloc() else { return nil }
        xfrmnl_ltime_cfg_set_soft_bytelimit(l, inf)
        xfrmnl_ltime_cfg_set_hard_bytelimit(l, inf)
        xfrmnl_ltime_cfg_set_soft_packetlimit(l, inf)
        xfrmnl_ltime_cfg_set_hard_packetlimit(l, inf)
        return l
    }

    static func selector(_ s: XfrmSelector, op: XfrmOperation) throws -> OpaquePointer {
        guard s.other == nil, s.src.family == s.dst.family else {
            throw XfrmError(.invalid, operation: op.description, detail: "selector ezlb cannot write: \(s)")
        }
        guard let sel = xfrmnl_sel_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
        let a = nlAddr(s.src.address), b = nlAddr(s.dst.address)
        xfrmnl_sel_set_family(sel, UInt32(s.src.family.af))
        xfrmnl_sel_set_saddr(sel, a)
        xfrmnl_sel_set_daddr(sel, b)
        nl_addr_put(a)
        nl_addr_put(b)
        xfrmnl_sel_set_prefixlen_s(sel, UInt32(s.src.length))
        xfrmnl_sel_set_prefixlen_d(sel, UInt32(s.dst.length))
        return sel
    }

    private func fill(_ sp: OpaquePointer, _ p: XfrmPolicy, op: XfrmOperation) throws {
        guard p.other == nil else { throw XfrmError(.invalid, operation: op.description, detail: "policy ezlb cannot write") }
        xfrmnl_sp_set_dir(sp, UInt32(p.dir.kernelValue))
        xfrmnl_sp_set_priority(sp, p.priority)
        xfrmnl_sp_set_action(sp, 0) // XFRM_POLICY_ALLOW
        let sel = try Self.selector(p.selector, op: op)
        xfrmnl_sp_set_sel(sp, sel)
        xfrmnl_sel_put(sel)
        if let l = Self.lifetime() {
            xfrmnl_sp_set_lifetime_cfg(sp, l)
            xfrmnl_ltime_cfg_put(l)
        }
        for t in p.templates {
            guard let ut = xfrmnl_user_tmpl_alloc() else { throw XfrmError(.other, operation: op.description, detail: "out of memory") }
            let a = Self.nlAddr(t.src), b = Self.nlAddr(t.dst)
            xfrmnl_user_tmpl_set_family(ut, UInt32(t.dst.family.af))
            xfrmnl_user_tmpl_set_saddr(ut, a)
            xfrmnl_user_tmpl_set_daddr(ut, b)
            nl_addr_put(a)
            nl_addr_put(b)
            xfrmnl_user_tmpl_set_proto(ut, Self.espProto)
            xfrmnl_user_tmpl_set_mode(ut, Self.modeTunnel)
            xfrmnl_user_tmpl_set_reqid(ut, t.reqid)
            xfrmnl_user_tmpl_set_aalgos(ut, ~0)
            xfrmnl_user_tmpl_set_ealgos(ut, ~0)
            xfrmnl_user_tmpl_set_calgos(ut, ~0)
            xfrmnl_sp_add_usertemplate(sp, ut) // the policy owns it from here
        }
    }

    private func fill(_ sa: OpaquePointer, _ st: XfrmState, op: XfrmOperation) throws {
        guard st.other == nil else { throw XfrmError(.invalid, operation: op.description, detail: "state ezlb cannot write") }
        xfrmnl_sa_set_family(sa, UInt32(st.id.dst.family.af))
        let d = Self.nlAddr(st.id.dst), s = Self.nlAddr(st.id.src)
        xfrmnl_sa_set_daddr(sa, d)
        xfrmnl_sa_set_saddr(sa, s)
        nl_addr_put(d)
        nl_addr_put(s)
        xfrmnl_sa_set_spi(sa, st.id.spi)
        xfrmnl_sa_set_proto(sa, UInt32(st.id.proto))
        xfrmnl_sa_set_mode(sa, Self.modeTunnel)
        xfrmnl_sa_set_reqid(sa, st.reqid)
        xfrmnl_sa_set_replay_window(sa, st.replayWindow)
        if let l = Self.lifetime() {
            xfrmnl_sa_set_lifetime_cfg(sa, l)
            xfrmnl_ltime_cfg_put(l)
        }
        var key = st.key.bytes.map { CChar(bitPattern: $0) }
        defer { for i in key.indices { key[i] = 0 } }
        if xfrmnl_sa_set_aead_params(sa, st.aead, UInt32(st.key.bytes.count * 8), st.icvBits, &key) != 0 {
            throw XfrmError(.invalid, operation: op.description, detail: "algorithm name too long")
        }
    }
}
