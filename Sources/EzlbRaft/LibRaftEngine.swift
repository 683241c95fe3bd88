import CEzlbShim
import Crypto
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// libraft 0.15 with ezlb's authenticated TCP transport (CEzlbShim/raftwire.c)
/// and its on-disk log in `dataDir`, driven by one libuv loop (see CEzlbShim/ezlb_raft.h). Owns the C node;
/// `deinit` frees it once the loop has finished.
public final class LibRaftEngine: ConsensusEngine {
    public weak var delegate: ConsensusEngineDelegate?
    private var node: OpaquePointer?
    private var nextToken: UInt64 = 1
    private var pending: [UInt64: (RaftEngineError?) -> Void] = [:]
    private var pendingCall: [UInt64: String] = [:]
    private let nodeLock = Lock()   // guards `node` for wakeup() from other threads
    private var ran = false

    /// Opens the log in `dataDir` (must exist) for server `id` at `address`
    /// ("host:port"); `bootstrap` writes a one-voter configuration (this
    /// server) and fails with RAFT_CANTBOOTSTRAP when the log is not empty.
    /// Peers must prove the key derived from `secret` (`transportKey`).
    public init(dataDir: String, id: UInt64, address: String, secret: String? = nil, electionTimeoutMs: UInt32,
                heartbeatMs: UInt32, bootstrap: Bool) throws {
        var cb = ezlb_raft_callbacks()
        cb.ctx = Unmanaged.passUnretained(self).toOpaque()
        cb.tick = { ctx in LibRaftEngine.from(ctx).delegate?.engineTick() }
        cb.fsm_apply = { ctx, buf, len in
            let bytes = buf.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? []
            LibRaftEngine.from(ctx).delegate?.engineApply(bytes)
            return 0
        }
        cb.fsm_snapshot = { ctx, out, outLen in
            let bytes = LibRaftEngine.from(ctx).delegate?.engineSnapshot() ?? []
            guard let p = malloc(max(bytes.count, 1)) else { return 1 /* RAFT_NOMEM */ }
            bytes.withUnsafeBytes { if let b = $0.baseAddress { memcpy(p, b, bytes.count) } }
            out?.pointee = p
            outLen?.pointee = bytes.count
            return 0
        }
        cb.fsm_restore = { ctx, buf, len in
            let bytes = buf.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? []
            LibRaftEngine.from(ctx).delegate?.engineRestore(bytes)
            return 0
        }
        cb.signal = { ctx, sig in LibRaftEngine.from(ctx).delegate?.engineSignal(sig) }
        cb.wakeup = { ctx in LibRaftEngine.from(ctx).delegate?.engineWakeup() }
        cb.ctl_request = { ctx, conn, remote, peer, line, len in
            let text = line.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            let p = peer.map { String(cString: $0) } ?? ""
            LibRaftEngine.from(ctx).delegate?.engineControlRequest(conn: conn, remote: remote != 0, peer: p, line: text)
        }
        cb.done = { ctx, token, status in LibRaftEngine.from(ctx).finish(token: token, status: status) }
        cb.mac = { key, keyLen, msg, len, out in
            let code = HMAC<SHA256>.authenticationCode(for: UnsafeRawBufferPointer(start: msg, count: len),
                                                       using: SymmetricKey(data: UnsafeRawBufferPointer(start: key, count: keyLen)))
            guard let out else { return }
            code.withUnsafeBytes { out.update(from: Array($0), count: min($0.count, 32)) }
        }

        var err = ezlb_raft_error()
        let key = Self.transportKey(secret: secret)
        let n = ezlb_raft_create(&cb, dataDir, id, address, key, electionTimeoutMs, heartbeatMs, bootstrap ? 1 : 0, &err)
        guard let n else { throw Self.error(err) }
        node = n
    }

    deinit {
        if let n = node {
            if !ran {
                ezlb_raft_stop(n)
            }
            ezlb_raft_destroy(n)
        }
    }

    /// The key raft peers prove to each other: HMAC-SHA256(secret, "ezlb-raft-transport-v1").
    /// Without a secret (loopback-only clusters) a public constant: framing, not authentication.
    static func transportKey(secret: String?) -> [UInt8] {
        let label = Data("ezlb-raft-transport-v1".utf8)
        guard let secret else { return Array(SHA256.hash(data: label)) }
        return Array(HMAC<SHA256>.authenticationCode(for: label, using: SymmetricKey(data: Data(secret.utf8))))
    }

    private static func from(_ ctx: UnsafeMutableRawPointer?) -> LibRaftEngine {
        // swift-format-ignore: NeverForceUnwrap
        // the C shim hands back the engine pointer ezlb registered.
        Unmanaged<LibRaftEngine>.fromOpaque(ctx!).takeUnretainedValue()
    }

    private static func error(_ e: ezlb_raft_error) -> RaftEngineError {
        var e = e
        let call = withUnsafeBytes(of: &e.call) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let msg = withUnsafeBytes(of: &e.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return RaftEngineError(call: call, code: e.code, message: msg)
    }

    private func codeError(_ call: String, _ code: Int32) -> RaftEngineError {
        var message = String(cString: ezlb_raft_strerror(code))
        if let n = node {
            let detail = String(cString: ezlb_raft_errmsg(n))
            if !detail.isEmpty && detail != message { message += " (\(detail))" }
        }
        return RaftEngineError(call: call, code: code, message: message)
    }

    public func start(pollMs: UInt32) throws {
        var err = ezlb_raft_error()
        if ezlb_raft_start(node, pollMs, &err) != 0 { throw Self.error(err) }
    }

    public func listenUnix(path: String) throws {
        var err = ezlb_raft_error()
        if ezlb_raft_listen_unix(node, path, &err) != 0 { throw Self.error(err) }
    }

    public func listenTCP(host: String, port: Int) throws {
        var err = ezlb_raft_error()
        if ezlb_raft_listen_tcp(node, host, Int32(port), &err) != 0 { throw Self.error(err) }
    }

    public func run() {
        ran = true
        _ = ezlb_raft_run(node)
        // Requests still pending when raft closed have been completed by
        // libraft; anything left is failed here so no caller waits forever.
        let left = pending
        pending = [:]
        for (_, c) in left { c(RaftEngineError(call: "raft_close", code: 9, message: "shutdown")) }
    }

    public func stop() {
        nodeLock.lock()
        defer { nodeLock.unlock() }
        if let n = node { ezlb_raft_stop(n) }
    }

    public func wakeup() {
        nodeLock.lock()
        defer { nodeLock.unlock() }
        if let n = node { ezlb_raft_wakeup(n) }
    }

    public func status() -> EngineStatus {
        guard let n = node else {
            return EngineStatus(role: .unavailable, term: 0, leaderID: nil, leaderAddress: nil, members: [], lastIndex: 0, lastApplied: 0)
        }
        let role: EngineRole
        switch Int(ezlb_raft_state(n)) {
        case Int(EZLB_RAFT_FOLLOWER): role = .follower
        case Int(EZLB_RAFT_CANDIDATE): role = .candidate
        case Int(EZLB_RAFT_LEADER): role = .leader
        default: role = .unavailable
        }
        var buf = [CChar](repeating: 0, count: 256)
        let lid = ezlb_raft_leader(n, &buf, buf.count)
        let laddr = String(cBuffer: buf)
        var members: [EngineMember] = []
        for i in 0..<ezlb_raft_n_servers(n) {
            var r: Int32 = 0
            let id = ezlb_raft_server(n, i, &buf, buf.count, &r)
            if id == 0 { continue }
            let mr: MemberRole = r == Int32(EZLB_RAFT_VOTER) ? .voter : (r == Int32(EZLB_RAFT_STANDBY) ? .standby : .spare)
            members.append(EngineMember(id: id, address: String(cBuffer: buf), role: mr, reachable: ezlb_raft_heard(n, id) != 0))
        }
        return EngineStatus(role: role, term: ezlb_raft_term(n), leaderID: lid == 0 ? nil : lid,
                            leaderAddress: lid == 0 ? nil : laddr, members: members,
                            lastIndex: ezlb_raft_last_index(n), lastApplied: ezlb_raft_last_applied(n),
                            leaderLease: ezlb_raft_leader_lease(n) != 0,
                            refused: ezlb_raft_refused(n, &buf, buf.count), refusedPeer: String(cBuffer: buf))
    }

    public func respond(conn: UInt64, line: String) {
        var bytes = Array(line.utf8)
        bytes.removeAll { $0 == 0x0A }
        bytes.append(0) // never empty, so the buffer has storage
        bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { ezlb_raft_ctl_respond(node, conn, $0.baseAddress, b.count - 1) }
        }
    }

    private func begin(_ call: String, _ completion: @escaping (RaftEngineError?) -> Void,
                       _ body: (UInt64) -> Int32) {
        let token = nextToken
        nextToken += 1
        pending[token] = completion
        pendingCall[token] = call
        let rv = body(token)
        if rv != 0 {
            pending[token] = nil
            pendingCall[token] = nil
            completion(codeError(call, rv))
        }
    }

    private func finish(token: UInt64, status: Int32) {
        guard let c = pending.removeValue(forKey: token) else { return }
        let call = pendingCall.removeValue(forKey: token) ?? "raft"
        c(status == 0 ? nil : codeError(call, status))
    }

    public func add(id: UInt64, address: String, completion: @escaping (RaftEngineError?) -> Void) {
        begin("raft_add", completion) { ezlb_raft_add(node, $0, id, address) }
    }

    public func assign(id: UInt64, role: MemberRole, completion: @escaping (RaftEngineError?) -> Void) {
        let r: Int32
        switch role {
        case .voter: r = Int32(EZLB_RAFT_VOTER)
        case .standby: r = Int32(EZLB_RAFT_STANDBY)
        case .spare: r = Int32(EZLB_RAFT_SPARE)
        }
        begin("raft_assign", completion) { ezlb_raft_assign(node, $0, id, r) }
    }

    public func remove(id: UInt64, completion: @escaping (RaftEngineError?) -> Void) {
        begin("raft_remove", completion) { ezlb_raft_remove(node, $0, id) }
    }

    public func transfer(to: UInt64, completion: @escaping (RaftEngineError?) -> Void) {
        begin("raft_transfer", completion) { ezlb_raft_transfer(node, $0, to) }
    }

    public func barrier(completion: @escaping (RaftEngineError?) -> Void) {
        begin("raft_barrier", completion) { token in ezlb_raft_barrier(node, token) }
    }

    public func apply(_ entry: [UInt8], completion: @escaping (RaftEngineError?) -> Void) {
        begin("raft_apply", completion) { token in
            entry.withUnsafeBytes { ezlb_raft_apply(node, token, $0.baseAddress, entry.count) }
        }
    }
}
