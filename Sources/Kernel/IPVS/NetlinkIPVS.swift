import CEzlbShim
import CNetlink
import CNetlinkGenl
import EzlbCore

#if canImport(Glibc)
import Glibc
#endif

/// The live IPVS backend: the kernel's "IPVS" generic netlink family through libnl-genl-3.
///
/// Writes are pipelined by `apply(_:)`: up to `window` requests, each with
/// NLM_F_ACK and its own sequence number, go to the kernel in one sendmsg,
/// then their acks are read and matched back to the operations by sequence
/// number; every operation gets its own result, failures included.
///
/// `dump()` reads the service table with one IPVS_CMD_GET_SERVICE dump, then
/// each service's destinations: IPv6 services (and any service the fast path
/// cannot read exactly) with one IPVS_CMD_GET_DEST dump each on the same
/// socket, IPv4 services with one IPVS sockopt call each (`ipv4SockoptFastPath`,
/// about 4x cheaper in the kernel than a netlink dump). Services come in the
/// kernel's order (hash buckets), destinations newest first.
///
/// Kernel errnos map through `IPVSError.fromErrno`, so errors read as the
/// fake's. A few checks the kernel does not make are done here to answer as
/// the fake does: fwmark 0 is an invalid argument (the kernel would create a
/// TCP 0.0.0.0:0 service), and a scheduler name longer than the kernel's 15
/// bytes is an unknown scheduler (the kernel would say EINVAL).
public final class NetlinkIPVS: IPVSBackend {
    /// Requests sent before their acks are read. Bounded so the acks of one
    /// window always fit the socket's receive buffer.
    public var window: Int {
        get { _window }
        set { _window = max(1, min(newValue, 512)) }
    }
    private var _window = 256

    /// Read IPv4 services' destinations with one IPv4 sockopt call each rather
    /// than a netlink dump each (see `SockoptIPVSReader`); IPv6 services, and
    /// anything the sockopt interface cannot show exactly, always use netlink.
    public var ipv4SockoptFastPath = true
    private lazy var sockopt: SockoptIPVSReader? = SockoptIPVSReader()

    private let sock: OpaquePointer
    private let callbacks: OpaquePointer
    private let family: Int32
    private let receiver: Receiver
    private let receiverRef: Unmanaged<Receiver>
    private var nextSeq: UInt32

    public init() throws {
        let op = "open IPVS netlink family"
        guard let s = nl_socket_alloc() else { throw IPVSError(.other, operation: op, detail: "out of memory") }
        var err = genl_connect(s)
        if err < 0 {
            nl_socket_free(s)
            throw NetlinkIPVS.libnlError(err, operation: op, notSupportedIfUnknown: true)
        }
        // Resolving the family makes the kernel load ip_vs ("net-pf-16-proto-16-family-IPVS").
        let fam = genl_ctrl_resolve(s, "IPVS")
        if fam < 0 {
            nl_socket_free(s)
            throw IPVSError(.notSupported, operation: op, detail: String(cString: nl_geterror(fam)))
        }
        // 8 MiB receive buffer (acks of a window, 32 KiB dump skbs), 1 MiB send buffer
        // (one window of requests is one datagram), 64 KiB receive buffer in user space.
        err = ezlb_nl_tune_socket(s, 8 << 20, 1 << 20, 1 << 16, 60)
        guard err >= 0, let cb = nl_cb_alloc(NL_CB_DEFAULT) else {
            nl_socket_free(s)
            throw NetlinkIPVS.libnlError(err < 0 ? err : -NLE_NOMEM, operation: op, notSupportedIfUnknown: false)
        }
        sock = s
        family = fam
        callbacks = cb
        receiver = Receiver()
        receiverRef = Unmanaged.passRetained(receiver)
        nextSeq = nl_socket_use_seq(s)
        let arg = receiverRef.toOpaque()
        nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, ipvsValidCallback, arg)
        nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ipvsAckCallback, arg)
        nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, ipvsFinishCallback, arg)
        nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, ipvsSeqCheckCallback, arg)
        nl_cb_err(cb, NL_CB_CUSTOM, ipvsErrorCallback, arg)
    }

    deinit {
        nl_cb_put(callbacks)
        nl_socket_free(sock)
        receiverRef.release()
    }

    // MARK: - IPVSBackend

    public func addService(_ service: VirtualService) throws {
        try single(.addService(service))
    }

    public func updateService(_ service: VirtualService) throws {
        try single(.updateService(from: service, to: service))
    }

    public func deleteService(_ key: ServiceKey) throws {
        try single(.deleteService(VirtualService(key: key, scheduler: "")))
    }

    public func addDestination(_ key: ServiceKey, _ dest: RealServer) throws {
        try single(.addDestination(key, dest))
    }

    public func updateDestination(_ key: ServiceKey, _ dest: RealServer) throws {
        try single(.updateDestination(key, from: dest, to: dest))
    }

    public func deleteDestination(_ key: ServiceKey, _ endpoint: Endpoint) throws {
        try single(.deleteDestination(key, RealServer(endpoint: endpoint)))
    }

    public func commit() throws {}

    private func single(_ op: IPVSOperation) throws {
        if let e = apply([op], progress: { _ in })[0] { throw e }
    }

    /// Runs `ops` in order, pipelined `window` requests at a time; every
    /// operation is attempted and reports its own error.
    public func apply(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?] {
        var results = [IPVSError?](repeating: nil, count: ops.count)
        var start = 0
        while start < ops.count {
            let end = min(start + _window, ops.count)
            runWindow(ops, start..<end, into: &results)
            start = end
            progress(end)
        }
        return results
    }

    private func runWindow(_ ops: [IPVSOperation], _ range: Range<Int>, into results: inout [IPVSError?]) {
        let r = receiver
        let base = nextSeq
        nextSeq &+= UInt32(range.count)
        r.beginAcks(base: base, count: range.count)
        var messages: [OpaquePointer] = []
        messages.reserveCapacity(range.count)
        defer { for m in messages { nlmsg_free(m) } }
        var sent: [Int] = []  // slots (offsets in range) of the messages, in order
        sent.reserveCapacity(range.count)
        for (slot, i) in range.enumerated() {
            switch request(for: ops[i], seq: base &+ UInt32(slot)) {
            case .success(let m):
                messages.append(m)
                sent.append(slot)
            case .failure(let e):
                results[i] = e
                r.settle(slot: slot, errno: 0)
            }
        }
        // One datagram per chunk (the kernel runs every request of a datagram in order).
        var first = 0
        while first < messages.count {
            var last = first
            var bytes = 0
            var iov: [iovec] = []
            while last < messages.count {
                // swift-format-ignore: NeverForceUnwrap
                // nlmsg_hdr of a message libnl allocated is never NULL.
                let hdr = nlmsg_hdr(messages[last])!
                let len = Int(hdr.pointee.nlmsg_len)
                if last > first && bytes + len > Self.maxDatagram { break }
                iov.append(iovec(iov_base: UnsafeMutableRawPointer(hdr), iov_len: len))
                bytes += len
                last += 1
            }
            let rc = iov.withUnsafeMutableBufferPointer { buf in
                nl_send_iovec(sock, messages[first], buf.baseAddress, UInt32(buf.count))
            }
            if rc < 0 {
                for k in first..<last {
                    let slot = sent[k]
                    let op = ops[range.lowerBound + slot]
                    results[range.lowerBound + slot] = NetlinkIPVS.libnlError(rc, operation: op.operationName, notSupportedIfUnknown: false)
                    r.settle(slot: slot, errno: 0)
                }
            }
            first = last
        }
        // Read acks until every request of the window is answered.
        while r.pending > 0 {
            let rc = nl_recvmsgs(sock, callbacks)
            if rc < 0 {
                let detail = "no reply from the kernel: \(String(cString: nl_geterror(rc)))"
                for slot in 0..<range.count where r.isPending(slot) {
                    let op = ops[range.lowerBound + slot]
                    results[range.lowerBound + slot] = IPVSError(.other, operation: op.operationName, detail: detail)
                    r.settle(slot: slot, errno: 0)
                }
                break
            }
        }
        for slot in 0..<range.count {
            let e = r.ackErrno[slot]
            guard e > 0 else { continue }
            let op = ops[range.lowerBound + slot]
            results[range.lowerBound + slot] = IPVSError.fromErrno(e, operation: op.operationName, isDestinationOp: op.isDestinationOperation)
        }
        r.endAcks()
    }

    private static let maxDatagram = 256 << 10

    // MARK: - Dump

    /// Every service with its destinations, in the kernel's order (services by
    /// hash bucket, destinations newest first).
    public func dump() throws -> [IPVSServiceState] {
        let services = try dumpServices()
        var counts: [ServiceKey: Int]? = nil
        if ipv4SockoptFastPath, let so = sockopt {
            counts = so.destinationCounts(services: services.reduce(0) { $0 + ($1.key.family == .ipv4 ? 1 : 0) })
        }
        var result: [IPVSServiceState] = []
        result.reserveCapacity(services.count)
        for s in services {
            if let n = counts?[s.key], let ds = sockopt?.destinations(of: s.key, count: n) {
                result.append(IPVSServiceState(service: s, destinations: ds))
                continue
            }
            try dumpDestinations(of: s)
            result.append(IPVSServiceState(service: s, destinations: receiver.destinations))
        }
        return result
    }

    /// The table as `dump()` reads it, with the counters (IPVS_*_ATTR_STATS64), connection counts
    /// and tunnel attributes; netlink only (the sockopt structures carry 32-bit counters).
    public func detailedDump() throws -> [IPVSServiceDetail] {
        let r = receiver
        r.collectDetails = true
        defer {
            r.collectDetails = false
            r.serviceStats = []
            r.destinationDetails = []
        }
        r.serviceStats = []
        let services = try dumpServices()
        let stats = r.serviceStats
        var result: [IPVSServiceDetail] = []
        result.reserveCapacity(services.count)
        for (s, st) in zip(services, stats) {
            r.destinationDetails.removeAll(keepingCapacity: true)
            try dumpDestinations(of: s)
            result.append(IPVSServiceDetail(state: IPVSServiceState(service: s, destinations: r.destinations),
                                            stats: st, destinations: r.destinationDetails))
        }
        return result
    }

    /// Every service, in the kernel's order (one IPVS_CMD_GET_SERVICE dump).
    private func dumpServices() throws -> [VirtualService] {
        try runDump(operation: { "dump IPVS services" }, mode: .services, build: { msg in
            genlmsg_put(msg, UInt32(NL_AUTO_PORT), 0, family, 0, Int32(EZLB_NLM_F_REQUEST | EZLB_NLM_F_DUMP),
                        UInt8(IPVS_CMD_GET_SERVICE), UInt8(EZLB_IPVS_GENL_VERSION)) != nil
        })
        defer { receiver.services = [] }
        return receiver.services
    }

    /// `s`'s destinations into `receiver.destinations` (one IPVS_CMD_GET_DEST dump).
    private func dumpDestinations(of s: VirtualService) throws {
        receiver.destFamily = s.key.family
        receiver.destinations.removeAll(keepingCapacity: true)
        try runDump(operation: { "dump destinations of \(s.key)" }, mode: .destinations, build: { msg in
            genlmsg_put(msg, UInt32(NL_AUTO_PORT), 0, family, 0, Int32(EZLB_NLM_F_REQUEST | EZLB_NLM_F_DUMP),
                        UInt8(IPVS_CMD_GET_DEST), UInt8(EZLB_IPVS_GENL_VERSION)) != nil
                && NetlinkIPVS.putService(msg, s.key, full: nil)
        })
    }

    private func runDump(operation: () -> String, mode: Receiver.Mode, build: (OpaquePointer) -> Bool) throws {
        let r = receiver
        guard let msg = nlmsg_alloc_size(256) else { throw IPVSError(.other, operation: operation(), detail: "out of memory") }
        defer { nlmsg_free(msg) }
        guard build(msg) else { throw IPVSError(.other, operation: operation(), detail: "request does not fit a netlink message") }
        let seq = nextSeq
        nextSeq &+= 1
        // swift-format-ignore: NeverForceUnwrap
        // nlmsg_hdr of a message libnl allocated is never NULL.
        let hdr = nlmsg_hdr(msg)!
        hdr.pointee.nlmsg_seq = seq
        r.beginDump(mode: mode, seq: seq)
        defer { r.mode = .idle }
        var iov = iovec(iov_base: UnsafeMutableRawPointer(hdr), iov_len: Int(hdr.pointee.nlmsg_len))
        let rc = nl_send_iovec(sock, msg, &iov, 1)
        if rc < 0 { throw NetlinkIPVS.libnlError(rc, operation: operation(), notSupportedIfUnknown: false) }
        while !r.dumpDone {
            let rc = nl_recvmsgs(sock, callbacks)
            if rc < 0 { throw NetlinkIPVS.libnlError(rc, operation: operation(), notSupportedIfUnknown: false) }
        }
        if r.dumpErrno != 0 {
            throw IPVSError.fromErrno(r.dumpErrno, operation: operation(), isDestinationOp: false)
        }
    }

    // MARK: - Requests

    private func request(for op: IPVSOperation, seq: UInt32) -> Result<OpaquePointer, IPVSError> {
        let cmd: Int
        switch op {
        case .addService: cmd = IPVS_CMD_NEW_SERVICE
        case .updateService: cmd = IPVS_CMD_SET_SERVICE
        case .deleteService: cmd = IPVS_CMD_DEL_SERVICE
        case .addDestination: cmd = IPVS_CMD_NEW_DEST
        case .updateDestination: cmd = IPVS_CMD_SET_DEST
        case .deleteDestination: cmd = IPVS_CMD_DEL_DEST
        }
        // Checks the kernel does not make, so that it answers as the fake does.
        switch op {
        case .addService(let s), .updateService(_, let s):
            if case .fwmark(0, _) = s.key { return .failure(IPVSError(.invalidArgument, operation: op.operationName, detail: "fwmark 0")) }
            if s.scheduler.utf8.count >= Int(EZLB_IP_VS_SCHEDNAME_MAXLEN) || s.scheduler.utf8.contains(0) {
                return .failure(IPVSError(.schedulerNotFound, operation: op.operationName))
            }
        default:
            if case .fwmark(0, _) = op.serviceKey {
                return .failure(IPVSError(.serviceNotFound, operation: op.operationName))
            }
        }
        guard let msg = nlmsg_alloc_size(512) else {
            return .failure(IPVSError(.other, operation: op.operationName, detail: "out of memory"))
        }
        var ok = genlmsg_put(msg, UInt32(NL_AUTO_PORT), seq, family, 0, Int32(EZLB_NLM_F_REQUEST | EZLB_NLM_F_ACK),
                             UInt8(cmd), UInt8(EZLB_IPVS_GENL_VERSION)) != nil
        switch op {
        case .addService(let s), .updateService(_, let s):
            ok = ok && NetlinkIPVS.putService(msg, s.key, full: s)
        case .deleteService(let s):
            ok = ok && NetlinkIPVS.putService(msg, s.key, full: nil)
        case .addDestination(let k, let d), .updateDestination(let k, _, let d):
            ok = ok && NetlinkIPVS.putService(msg, k, full: nil) && NetlinkIPVS.putDestination(msg, d, full: true)
        case .deleteDestination(let k, let d):
            ok = ok && NetlinkIPVS.putService(msg, k, full: nil) && NetlinkIPVS.putDestination(msg, d, full: false)
        }
        guard ok else {
            nlmsg_free(msg)
            return .failure(IPVSError(.other, operation: op.operationName, detail: "request does not fit a netlink message"))
        }
        return .success(msg)
    }

    /// IPVS_CMD_ATTR_SERVICE: the identity (AF + FWMARK, or AF + PROTOCOL + ADDR + PORT),
    /// and with `full` the settings (SCHED_NAME, FLAGS, TIMEOUT, NETMASK).
    static func putService(_ msg: OpaquePointer, _ key: ServiceKey, full: VirtualService?) -> Bool {
        guard let nest = nla_nest_start(msg, Int32(IPVS_CMD_ATTR_SERVICE)) else { return false }
        guard nla_put_u16(msg, Int32(IPVS_SVC_ATTR_AF), key.family.af) == 0 else { return false }
        switch key {
        case .fwmark(let mark, _):
            guard nla_put_u32(msg, Int32(IPVS_SVC_ATTR_FWMARK), mark) == 0 else { return false }
        case .inet(let proto, let ep):
            guard nla_put_u16(msg, Int32(IPVS_SVC_ATTR_PROTOCOL), proto.number) == 0,
                  putAddress(msg, Int32(IPVS_SVC_ATTR_ADDR), ep.address),
                  nla_put_u16(msg, Int32(IPVS_SVC_ATTR_PORT), ep.port.bigEndian) == 0 else { return false }
        }
        if let s = full?.normalized {
            var flags = ip_vs_flags(flags: s.flags & IPVSFlags.managedMask, mask: 0xFFFF_FFFF)
            // The kernel keeps an IPv4 netmask as __be32 and an IPv6 one as a host-order prefix length.
            let netmask = key.family == .ipv4 ? s.netmask.bigEndian : s.netmask
            guard nla_put_string(msg, Int32(IPVS_SVC_ATTR_SCHED_NAME), s.scheduler) == 0,
                  nla_put(msg, Int32(IPVS_SVC_ATTR_FLAGS), Int32(MemoryLayout<ip_vs_flags>.size), &flags) == 0,
                  nla_put_u32(msg, Int32(IPVS_SVC_ATTR_TIMEOUT), s.timeout) == 0,
                  nla_put_u32(msg, Int32(IPVS_SVC_ATTR_NETMASK), netmask) == 0 else { return false }
        }
        return nla_nest_end(msg, nest) == 0
    }

    /// IPVS_CMD_ATTR_DEST: ADDR, PORT, ADDR_FAMILY, and when `full` FWD_METHOD, WEIGHT, thresholds.
    static func putDestination(_ msg: OpaquePointer, _ d: RealServer, full: Bool) -> Bool {
        guard let nest = nla_nest_start(msg, Int32(IPVS_CMD_ATTR_DEST)),
              putAddress(msg, Int32(IPVS_DEST_ATTR_ADDR), d.endpoint.address),
              nla_put_u16(msg, Int32(IPVS_DEST_ATTR_PORT), d.endpoint.port.bigEndian) == 0,
              nla_put_u16(msg, Int32(IPVS_DEST_ATTR_ADDR_FAMILY), d.endpoint.address.family.af) == 0 else { return false }
        if full {
            guard nla_put_u32(msg, Int32(IPVS_DEST_ATTR_FWD_METHOD), d.forward.connFlags) == 0,
                  nla_put_u32(msg, Int32(IPVS_DEST_ATTR_WEIGHT), d.weight) == 0,
                  nla_put_u32(msg, Int32(IPVS_DEST_ATTR_U_THRESH), d.upperThreshold) == 0,
                  nla_put_u32(msg, Int32(IPVS_DEST_ATTR_L_THRESH), d.lowerThreshold) == 0 else { return false }
        }
        return nla_nest_end(msg, nest) == 0
    }

    private static func putAddress(_ msg: OpaquePointer, _ type: Int32, _ a: IPAddress) -> Bool {
        // union nf_inet_addr: 16 bytes, IPv4 in the first 4.
        var raw: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &raw) { dst in
            for (i, b) in a.bytes.enumerated() { dst[i] = b }
        }
        return nla_put(msg, type, 16, &raw) == 0
    }

    // MARK: - Errors

    /// A libnl failure (-NLE_*) as an IPVSError, through the errno it stands for.
    static func libnlError(_ nle: Int32, operation: String, notSupportedIfUnknown: Bool) -> IPVSError {
        let code = nle < 0 ? -nle : nle
        let detail = String(cString: nl_geterror(nle))
        let errno: Int32
        switch code {
        case NLE_PERM: errno = EPERM
        case NLE_NOACCESS: errno = EACCES
        case NLE_OBJ_NOTFOUND where notSupportedIfUnknown: errno = EOPNOTSUPP
        case NLE_OPNOTSUPP, NLE_PROTO_MISMATCH, NLE_AF_NOSUPPORT: errno = EOPNOTSUPP
        case NLE_INVAL: errno = EINVAL
        default:
            return IPVSError(.other, operation: operation, detail: detail)
        }
        var e = IPVSError.fromErrno(errno, operation: operation, isDestinationOp: false)
        e.detail = e.detail ?? detail
        return e
    }
}

extension IPVSOperation {
    var isDestinationOperation: Bool {
        switch self {
        case .addDestination, .updateDestination, .deleteDestination: return true
        case .addService, .updateService, .deleteService: return false
        }
    }
}

// MARK: - Receiving

/// State the libnl callbacks fill in; passed to them as an unretained pointer.
final class Receiver {
    enum Mode { case idle, acks, services, destinations }
    var mode: Mode = .idle

    // Acks of a window: errno per slot (0 = done), -1 = still pending.
    var ackBase: UInt32 = 0
    var ackErrno: [Int32] = []
    var pending = 0

    // Dumps.
    var dumpSeq: UInt32 = 0
    var dumpDone = false
    var dumpErrno: Int32 = 0
    var services: [VirtualService] = []
    var destinations: [RealServer] = []
    var destFamily: IPFamily = .ipv4
    /// `detailedDump`: also parse counters, connection counts and tunnel attributes, parallel
    /// to `services` and `destinations`.
    var collectDetails = false
    var serviceStats: [IPVSStats] = []
    var destinationDetails: [IPVSDestinationDetail] = []

    private let top = UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>.allocate(capacity: Int(EZLB_IPVS_CMD_ATTR_MAX) + 1)
    private let svcAttrs = UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>.allocate(capacity: Int(EZLB_IPVS_SVC_ATTR_MAX) + 1)
    private let destAttrs = UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>.allocate(capacity: Int(EZLB_IPVS_DEST_ATTR_MAX) + 1)
    private let statsAttrs = UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>.allocate(capacity: Int(IPVS_STATS_ATTR_PAD) + 1)

    deinit {
        top.deallocate()
        svcAttrs.deallocate()
        destAttrs.deallocate()
        statsAttrs.deallocate()
    }

    func beginAcks(base: UInt32, count: Int) {
        mode = .acks
        ackBase = base
        ackErrno = [Int32](repeating: -1, count: count)
        pending = count
    }

    func endAcks() {
        mode = .idle
        ackErrno = []
        pending = 0
    }

    func isPending(_ slot: Int) -> Bool { ackErrno[slot] < 0 }

    func settle(slot: Int, errno: Int32) {
        guard ackErrno[slot] < 0 else { return }
        ackErrno[slot] = errno
        pending -= 1
    }

    /// An ack or error for `seq`; stray replies (an earlier window's, after a lost reply) are ignored.
    func reply(seq: UInt32, errno: Int32) {
        switch mode {
        case .acks:
            let slot = Int(seq &- ackBase)
            if seq &- ackBase < UInt32(ackErrno.count) { settle(slot: slot, errno: errno) }
        case .services, .destinations:
            if seq == dumpSeq {
                dumpErrno = errno
                dumpDone = true
            }
        case .idle:
            break
        }
    }

    func beginDump(mode: Mode, seq: UInt32) {
        self.mode = mode
        dumpSeq = seq
        dumpDone = false
        dumpErrno = 0
    }

    func finish(seq: UInt32) {
        if mode != .acks && seq == dumpSeq { dumpDone = true }
    }

    func valid(_ msg: OpaquePointer) {
        guard mode == .services || mode == .destinations, ezlb_nlmsg_seq(msg) == dumpSeq else { return }
        let topMax = Int32(EZLB_IPVS_CMD_ATTR_MAX)
        guard ezlb_genl_parse(msg, top, topMax) == 0 else { return }
        if mode == .services {
            guard let nest = top[IPVS_CMD_ATTR_SERVICE],
                  nla_parse_nested(svcAttrs, Int32(EZLB_IPVS_SVC_ATTR_MAX), nest, nil) == 0,
                  let s = parseService(svcAttrs) else { return }
            services.append(s)
            if collectDetails { serviceStats.append(stats(svcAttrs[IPVS_SVC_ATTR_STATS64])) }
        } else {
            guard let nest = top[IPVS_CMD_ATTR_DEST],
                  nla_parse_nested(destAttrs, Int32(EZLB_IPVS_DEST_ATTR_MAX), nest, nil) == 0,
                  let d = parseDestination(destAttrs) else { return }
            destinations.append(d)
            if collectDetails {
                let a = destAttrs
                var tunnel: IPVSTunnel? = nil
                if d.forward == .tunnel {
                    // Kernels before 5.3 send no tunnel attributes: their tunnels are ipip.
                    tunnel = IPVSTunnel(type: u8(a[IPVS_DEST_ATTR_TUN_TYPE]) ?? 0,
                                        port: UInt16(bigEndian: u16(a[IPVS_DEST_ATTR_TUN_PORT]) ?? 0),
                                        flags: u16(a[IPVS_DEST_ATTR_TUN_FLAGS]) ?? 0)
                }
                destinationDetails.append(IPVSDestinationDetail(
                    activeConnections: u32(a[IPVS_DEST_ATTR_ACTIVE_CONNS]) ?? 0,
                    inactiveConnections: u32(a[IPVS_DEST_ATTR_INACT_CONNS]) ?? 0,
                    persistentConnections: u32(a[IPVS_DEST_ATTR_PERSIST_CONNS]) ?? 0,
                    stats: stats(a[IPVS_DEST_ATTR_STATS64]), tunnel: tunnel))
            }
        }
    }

    private func parseService(_ a: UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>) -> VirtualService? {
        guard let af = u16(a[IPVS_SVC_ATTR_AF]), let fam = IPFamily(af: af) else { return nil }
        let key: ServiceKey
        if let mark = u32(a[IPVS_SVC_ATTR_FWMARK]), mark != 0 {
            key = .fwmark(mark, fam)
        } else {
            guard let p = u16(a[IPVS_SVC_ATTR_PROTOCOL]), let proto = IPVSProtocol(number: p),
                  let addr = address(a[IPVS_SVC_ATTR_ADDR], fam),
                  let port = u16(a[IPVS_SVC_ATTR_PORT]) else { return nil }
            key = .inet(proto, Endpoint(address: addr, port: UInt16(bigEndian: port)))
        }
        var flags: UInt32 = 0
        if let f = a[IPVS_SVC_ATTR_FLAGS], nla_len(f) >= 4 {
            flags = nla_data(f).loadUnaligned(as: UInt32.self)
        }
        let rawMask = u32(a[IPVS_SVC_ATTR_NETMASK]) ?? (fam == .ipv4 ? 0xFFFF_FFFF : 128)
        let s = VirtualService(key: key, scheduler: string(a[IPVS_SVC_ATTR_SCHED_NAME]) ?? "none",
                               flags: flags & IPVSFlags.managedMask,
                               timeout: u32(a[IPVS_SVC_ATTR_TIMEOUT]) ?? 0,
                               netmask: fam == .ipv4 ? UInt32(bigEndian: rawMask) : rawMask)
        return s.normalized
    }

    private func parseDestination(_ a: UnsafeMutablePointer<UnsafeMutablePointer<nlattr>?>) -> RealServer? {
        var fam = destFamily
        if let af = u16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) {
            guard let f = IPFamily(af: af) else { return nil }
            fam = f
        }
        guard let addr = address(a[IPVS_DEST_ATTR_ADDR], fam), let port = u16(a[IPVS_DEST_ATTR_PORT]) else { return nil }
        // Only masq/route/tunnel can be set through netlink; anything else reads as masq,
        // so that a plan rewrites it.
        let fwd = ForwardMethod(connFlags: u32(a[IPVS_DEST_ATTR_FWD_METHOD]) ?? 0) ?? .masq
        return RealServer(endpoint: Endpoint(address: addr, port: UInt16(bigEndian: port)),
                          weight: u32(a[IPVS_DEST_ATTR_WEIGHT]) ?? 0, forward: fwd,
                          upperThreshold: u32(a[IPVS_DEST_ATTR_U_THRESH]) ?? 0,
                          lowerThreshold: u32(a[IPVS_DEST_ATTR_L_THRESH]) ?? 0)
    }

    /// A nested IPVS_*_ATTR_STATS64 (every counter a u64); zeros when absent.
    private func stats(_ nest: UnsafeMutablePointer<nlattr>?) -> IPVSStats {
        var st = IPVSStats()
        guard let nest, nla_parse_nested(statsAttrs, Int32(IPVS_STATS_ATTR_PAD), nest, nil) == 0 else { return st }
        func v(_ t: Int) -> UInt64 {
            guard let a = statsAttrs[t], nla_len(a) >= 8 else { return 0 }
            return nla_data(a).loadUnaligned(as: UInt64.self)
        }
        st.connections = v(IPVS_STATS_ATTR_CONNS)
        st.inPackets = v(IPVS_STATS_ATTR_INPKTS)
        st.outPackets = v(IPVS_STATS_ATTR_OUTPKTS)
        st.inBytes = v(IPVS_STATS_ATTR_INBYTES)
        st.outBytes = v(IPVS_STATS_ATTR_OUTBYTES)
        st.connectionsPerSecond = v(IPVS_STATS_ATTR_CPS)
        st.inPacketsPerSecond = v(IPVS_STATS_ATTR_INPPS)
        st.outPacketsPerSecond = v(IPVS_STATS_ATTR_OUTPPS)
        st.inBytesPerSecond = v(IPVS_STATS_ATTR_INBPS)
        st.outBytesPerSecond = v(IPVS_STATS_ATTR_OUTBPS)
        return st
    }

    private func u8(_ a: UnsafeMutablePointer<nlattr>?) -> UInt8? {
        guard let a, nla_len(a) >= 1 else { return nil }
        return nla_data(a).load(as: UInt8.self)
    }

    private func u16(_ a: UnsafeMutablePointer<nlattr>?) -> UInt16? {
        guard let a, nla_len(a) >= 2 else { return nil }
        return nla_data(a).loadUnaligned(as: UInt16.self)
    }

    private func u32(_ a: UnsafeMutablePointer<nlattr>?) -> UInt32? {
        guard let a, nla_len(a) >= 4 else { return nil }
        return nla_data(a).loadUnaligned(as: UInt32.self)
    }

    private func address(_ a: UnsafeMutablePointer<nlattr>?, _ fam: IPFamily) -> IPAddress? {
        let n = fam == .ipv4 ? 4 : 16
        guard let a, nla_len(a) >= n else { return nil }
        if n == 4 { return IPAddress(v4: UInt32(bigEndian: nla_data(a).loadUnaligned(as: UInt32.self))) }
        return IPAddress(bytes: Array(UnsafeRawBufferPointer(start: nla_data(a), count: n)))
    }

    private func string(_ a: UnsafeMutablePointer<nlattr>?) -> String? {
        guard let a else { return nil }
        let bytes = UnsafeRawBufferPointer(start: nla_data(a), count: Int(nla_len(a)))
        return String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}

private func receiver(_ arg: UnsafeMutableRawPointer?) -> Receiver {
    // swift-format-ignore: NeverForceUnwrap
    // libnl passes back the Receiver pointer ezlb registered with the callback.
    Unmanaged<Receiver>.fromOpaque(arg!).takeUnretainedValue()
}

private func ipvsValidCallback(_ msg: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    if let msg { receiver(arg).valid(msg) }
    return Int32(NL_OK.rawValue)
}

private func ipvsAckCallback(_ msg: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    if let msg { receiver(arg).reply(seq: ezlb_nlmsg_seq(msg), errno: 0) }
    return Int32(NL_OK.rawValue)
}

private func ipvsFinishCallback(_ msg: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    if let msg { receiver(arg).finish(seq: ezlb_nlmsg_seq(msg)) }
    return Int32(NL_OK.rawValue)
}

/// Acks are matched by sequence number in `Receiver`, so libnl's in-order check is off.
private func ipvsSeqCheckCallback(_ msg: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    Int32(NL_OK.rawValue)
}

/// Error acks: keep the kernel's errno (libnl would turn it into an NLE code) and go on reading.
private func ipvsErrorCallback(_ nla: UnsafeMutablePointer<sockaddr_nl>?, _ err: UnsafeMutablePointer<nlmsgerr>?,
                               _ arg: UnsafeMutableRawPointer?) -> Int32 {
    if let err {
        let e = err.pointee.error
        receiver(arg).reply(seq: err.pointee.msg.nlmsg_seq, errno: e < 0 ? -e : e)
    }
    return Int32(NL_SKIP.rawValue)
}
