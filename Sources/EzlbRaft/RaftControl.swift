import CEzlbShim
import Crypto
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The control protocol of `ezlb raft serve`: one JSON request line, one JSON
/// response line, then the server closes the connection.
///
/// Requests over TCP are signed when the cluster has a secret:
/// `sig = hex(HMAC-SHA256(secret, "ezlb-raft-v2\n" + to + "\n" + method + "\n" + body + "\n" + ts + "\n" + nonce))`,
/// `to` the control address the request is sent to (`host:port`; a node accepts only its
/// own, so a request captured at one node is no use at another), `ts` in Unix seconds
/// (accepted within ±30 s), `nonce` 16–64 characters never seen before within the window.
/// The unix socket (mode 0600 in data_dir) needs no signature: file permissions are the
/// authentication.
public struct ControlRequest: Codable, Sendable, Equatable {
    public var method: String
    /// The parameters as a JSON text, signed byte for byte.
    public var body: String
    public var ts: Int64?
    public var nonce: String?
    public var sig: String?
    /// The control address the request was signed for.
    public var to: String?

    public init(method: String, body: String, ts: Int64? = nil, nonce: String? = nil, sig: String? = nil, to: String? = nil) {
        self.method = method
        self.body = body
        self.ts = ts
        self.nonce = nonce
        self.sig = sig
        self.to = to
    }

    static func signedText(method: String, body: String, ts: Int64, nonce: String, to: String) -> String {
        "ezlb-raft-v2\n\(to)\n\(method)\n\(body)\n\(ts)\n\(nonce)"
    }

    /// A request for the node at `to`: signed when the cluster has a secret, plain otherwise.
    public static func make(method: String, body: String, secret: String?, to: ControlEndpoint) -> ControlRequest {
        secret.map { signed(method: method, body: body, secret: $0, to: to) } ?? ControlRequest(method: method, body: body)
    }

    /// A request for the node at control address `to`, signed with `secret` at `now`.
    public static func signed(method: String, body: String, secret: String, to: ControlEndpoint, now: Date = Date()) -> ControlRequest {
        let ts = Int64(now.timeIntervalSince1970)
        var rng = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in hexPadded(UInt8.random(in: 0...255, using: &rng), width: 2) }.joined()
        let target = to.description
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signedText(method: method, body: body, ts: ts, nonce: nonce, to: target).utf8),
                                                   using: SymmetricKey(data: Data(secret.utf8)))
        return ControlRequest(method: method, body: body, ts: ts, nonce: nonce, sig: mac.map { hexPadded($0, width: 2) }.joined(), to: target)
    }
}

public struct MemberInfo: Codable, Sendable, Equatable {
    public var id: String
    public var raftID: String
    public var addr: String
    public var role: String
    enum CodingKeys: String, CodingKey { case id, raftID = "raft_id", addr, role }
    public init(id: String, raftID: String, addr: String, role: String) {
        self.id = id
        self.raftID = raftID
        self.addr = addr
        self.role = role
    }
}

/// What `raft status` shows.
public struct RaftStatusInfo: Codable, Sendable, Equatable {
    public var node: String
    public var raftID: String
    public var addr: String
    public var role: String
    public var term: UInt64
    public var leader: MemberInfo?
    public var member: Bool
    public var members: [MemberInfo]
    public var hook: String?
    public var lastIndex: UInt64
    public var appliedIndex: UInt64
    /// Raft connections refused since start (peer without the cluster secret, bad frame MAC).
    public var refusedConnections: UInt64 = 0
    public var refusedLastPeer: String? = nil
    /// This node's track result (nil: no track section); members whose track fails (replicated).
    public var healthy: Bool? = nil
    public var unhealthy: [String] = []
    enum CodingKeys: String, CodingKey {
        case node, raftID = "raft_id", addr, role, term, leader, member, members, hook
        case lastIndex = "last_index", appliedIndex = "applied_index"
        case refusedConnections = "refused_connections", refusedLastPeer = "refused_last_peer"
        case healthy, unhealthy
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// not_leader (with redirect), no_leader, unauthorized, bad_request, busy, failed
    public var code: String?
    public var error: String?
    public var redirect: String?
    public var changed: Bool?
    public var status: RaftStatusInfo?

    public static func success(changed: Bool, status: RaftStatusInfo? = nil) -> ControlResponse {
        ControlResponse(ok: true, code: nil, error: nil, redirect: nil, changed: changed, status: status)
    }
    public static func failure(_ code: String, _ error: String, redirect: String? = nil) -> ControlResponse {
        ControlResponse(ok: false, code: code, error: error, redirect: redirect, changed: nil, status: nil)
    }

    public var line: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? enc.encode(self)) ?? Data("{\"ok\":false}".utf8), as: UTF8.self)
    }
}

public struct JoinBody: Codable, Sendable { public var id: String; public var addr: String
    public init(id: String, addr: String) { self.id = id; self.addr = addr } }
public struct RemoveBody: Codable, Sendable {
    public var id: String
    /// Remove even when the voters left would have no reachable majority.
    public var force: Bool?
    public init(id: String, force: Bool? = nil) {
        self.id = id
        self.force = force
    }
}

/// Sorted-key JSON of a control message.
public func jsonText<T: Encodable>(_ v: T) -> String {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? enc.encode(v)) ?? Data("{}".utf8), as: UTF8.self)
}

/// Verifies signed requests: HMAC, clock window and nonce replay.
public final class RequestAuthenticator {
    public static let window: Int64 = 30
    private let key: SymmetricKey?
    /// This node's control address, canonical (`controlKey`): what `to` must name.
    private let address: String?
    private var seen: [String: Int64] = [:]   // nonce -> expiry (unix seconds)

    public init(secret: String?, address: ControlEndpoint?) {
        key = secret.map { SymmetricKey(data: Data($0.utf8)) }
        self.address = address.flatMap(Self.controlKey)
    }

    /// `host:port` with the host's address in canonical form (`::1` however it was written).
    static func controlKey(_ e: ControlEndpoint) -> String? {
        guard case .tcp(let h, let p) = e else { return nil }
        return "\(IPAddress(h)?.description ?? h)|\(p)"
    }

    public var hasSecret: Bool { key != nil }

    /// nil when the request may proceed, else the reason for refusing it.
    /// Unix-socket requests always pass; TCP requests need a valid signature
    /// whenever a secret is configured.
    public func check(_ r: ControlRequest, remote: Bool, now: Int64 = Int64(Date().timeIntervalSince1970)) -> String? {
        guard remote, let key else { return nil }
        guard let ts = r.ts, let nonce = r.nonce, let sig = r.sig else {
            return "unsigned request refused (this cluster requires the shared secret)"
        }
        // Client-chosen: compare without arithmetic that can overflow (ts = Int64.min/max).
        let (delta, overflow) = now.subtractingReportingOverflow(ts)
        guard !overflow, delta >= -Self.window, delta <= Self.window else {
            return "request timestamp \(ts) is outside ±\(Self.window) s of the server clock \(now)"
        }
        guard (16...64).contains(nonce.count), let mac = hexBytes(sig) else {
            return "malformed signature"
        }
        guard let to = r.to else { return "request names no target node (an ezlb older than this node's signs without one)" }
        let text = ControlRequest.signedText(method: r.method, body: r.body, ts: ts, nonce: nonce, to: to)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(text.utf8), using: key) else {
            return "bad signature (wrong shared secret?)"
        }
        let target = splitHostPort(to).flatMap { Self.controlKey(.tcp(host: $0.0, port: $0.1)) }
        guard let address, target == address else {
            return "request was signed for \(to), not for this node: refused (a request captured at another node?)"
        }
        if seen.count > 4096 { seen = seen.filter { $0.value > now } }
        if let exp = seen[nonce], exp > now { return "replayed request refused" }
        seen[nonce] = ts + 2 * Self.window
        return nil
    }

    private func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var i = 0
        while i < u.count {
            guard let h = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(h)
            i += 2
        }
        return out
    }
}

/// Where a control endpoint listens.
public enum ControlEndpoint: CustomStringConvertible, Sendable, Equatable {
    case unix(String)
    case tcp(host: String, port: Int)
    public var description: String {
        switch self {
        case .unix(let p): return p
        case .tcp(let h, let p): return h.contains(":" as Character) ? "[\(h)]:\(p)" : "\(h):\(p)"
        }
    }
}

public struct ControlClientError: EzlbError, Sendable {
    public var exitStatus: ExitStatus { .failure }
    public var message: String
    /// True when nothing answered (connection refused, timeout): worth retrying.
    public var unreachable: Bool
    public var description: String { message }
}

/// Splits "host:port" / "[v6]:port".
public func splitHostPort(_ s: String) -> (host: String, port: Int)? {
    if s.hasPrefix("[") {
        guard let close = s.firstIndex(of: "]") else { return nil }
        let host = String(s[s.index(after: s.startIndex)..<close])
        let rest = s[s.index(after: close)...]
        guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
        return (host, p)
    }
    guard let colon = s.lastIndex(of: ":") else { return nil }
    let host = String(s[..<colon])
    guard !host.isEmpty, !host.contains(":" as Character), let p = Int(s[s.index(after: colon)...]), (1...65535).contains(p) else { return nil }
    return (host, p)
}

/// Binds a TCP socket to `addr` (IP:port) and lets it go: a port in use or an address not
/// on this host is one line naming the address and the errno, not libraft's "I/O error".
func checkBindable(_ addr: String, what: String) throws {
    guard let (host, port) = splitHostPort(addr), let ip = IPAddress(host) else { return }
    let fd = socket(ip.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var rc: Int32
    if ip.family == .ipv4 {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = UInt16(port).bigEndian
        ip.bytes.withUnsafeBytes { sa.sin_addr.s_addr = $0.loadUnaligned(as: UInt32.self) }
        rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    } else {
        var sa = sockaddr_in6()
        sa.sin6_family = sa_family_t(AF_INET6)
        sa.sin6_port = UInt16(port).bigEndian
        ip.bytes.withUnsafeBytes { raw in withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyMemory(from: raw) } }
        rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
    }
    if rc != 0 {
        throw Failure(.failure, "\(what) \(addr): cannot bind: \(String(cString: strerror(errno)))")
    }
}

/// The control endpoint of a node whose raft address is `raftAddr`: same host, port + 1.
public func controlEndpoint(forRaftAddress raftAddr: String) -> ControlEndpoint? {
    guard let (h, p) = splitHostPort(raftAddr), p < 65535 else { return nil }
    return .tcp(host: h, port: p + 1)
}

public func isLoopbackHost(_ host: String) -> Bool {
    host == "::1" || host == "localhost" || host.hasPrefix("127.")
}

/// Blocking one-request client.
public enum ControlClient {
    public static func call(_ endpoint: ControlEndpoint, _ request: ControlRequest, timeout: Double) throws -> ControlResponse {
        let timeout = clamped(timeout)
        let fd = try connect(endpoint, timeout: timeout)
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var out = Array(jsonText(request).utf8)
        out.append(0x0A)
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                throw ControlClientError(message: "\(endpoint): send: \(String(cString: strerror(errno)))", unreachable: true)
            }
            sent += n
        }
        var buf = [UInt8](repeating: 0, count: 65536)
        var data: [UInt8] = []
        while !data.contains(0x0A) {
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                let e = errno
                throw ControlClientError(message: "\(endpoint): no answer: \(e == EAGAIN ? "timed out after \(Int(timeout)) s" : String(cString: strerror(e)))", unreachable: true)
            }
            if n == 0 { break }
            data += buf[0..<n]
            if data.count > 1 << 20 { break }
        }
        guard let nl = data.firstIndex(of: 0x0A) else {
            throw ControlClientError(message: "\(endpoint): connection closed without an answer", unreachable: data.isEmpty)
        }
        do {
            return try JSONDecoder().decode(ControlResponse.self, from: Data(data[..<nl]))
        } catch {
            throw ControlClientError(message: "\(endpoint): malformed answer", unreachable: false)
        }
    }

    /// Timeouts are converted to Int/Int32 milliseconds: keep them finite and in (1 ms, 1 h].
    static func clamped(_ timeout: Double) -> Double {
        guard timeout.isFinite else { return timeout.isNaN ? 0.001 : (timeout > 0 ? 3600 : 0.001) }
        return min(max(timeout, 0.001), 3600)
    }

    static func connect(_ endpoint: ControlEndpoint, timeout: Double) throws -> Int32 {
        let timeout = clamped(timeout)
        switch endpoint {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ControlClientError(message: "socket: \(String(cString: strerror(errno)))", unreachable: true) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(fd)
                throw ControlClientError(message: "\(path): socket path too long", unreachable: true)
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { p in
                for (i, b) in bytes.enumerated() { p[i] = b }
            }
            let rv = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rv != 0 {
                let e = errno
                close(fd)
                throw ControlClientError(message: "\(path): \(String(cString: strerror(e)))", unreachable: true)
            }
            return fd
        case .tcp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var res: UnsafeMutablePointer<addrinfo>?
            let gai = getaddrinfo(host, String(port), &hints, &res)
            guard gai == 0, let ai = res else {
                throw ControlClientError(message: "\(endpoint): \(String(cString: gai_strerror(gai)))", unreachable: true)
            }
            defer { freeaddrinfo(res) }
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw ControlClientError(message: "socket: \(String(cString: strerror(errno)))", unreachable: true) }
            // Bounded connect: non-blocking connect + poll.
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var rv = Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            if rv != 0 && errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let pr = poll(&pfd, 1, Int32(timeout * 1000))
                if pr == 1 {
                    var soerr: Int32 = 0
                    var len = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len)
                    rv = soerr == 0 ? 0 : -1
                    errno = soerr
                } else {
                    rv = -1
                    errno = ETIMEDOUT
                }
            }
            if rv != 0 {
                let e = errno
                close(fd)
                throw ControlClientError(message: "\(endpoint): \(String(cString: strerror(e)))", unreachable: true)
            }
            _ = fcntl(fd, F_SETFL, flags)
            return fd
        }
    }
}
