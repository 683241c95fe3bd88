import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 in the test process, for health probes to hit.
/// `tcp` accepts and closes; `http` answers every request with `status` and
/// remembers the request heads. `stop()` closes the listener (probes then get
/// "connection refused"); `start()` listens again on the same port.
final class LoopbackServer: @unchecked Sendable {
    enum Mode { case tcp, http }
    let mode: Mode
    private(set) var port: UInt16 = 0
    private let lock = NSLock()
    private var _status = 200
    private var _requests: [String] = []
    private var fd: Int32 = -1
    private var thread: Thread?

    var status: Int {
        get { lock.withLock { _status } }
        set { lock.withLock { _status = newValue } }
    }
    var requests: [String] { lock.withLock { _requests } }
    var endpoint: String { "127.0.0.1:\(port)" }

    init(_ mode: Mode, port: UInt16 = 0) throws {
        self.mode = mode
        self.port = port
        try start()
    }

    deinit { stop() }

    func start() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(s, 128) == 0 else {
            let e = errno
            close(s)
            throw POSIXError(.init(rawValue: e) ?? .EIO)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(s, $0, &len) }
        }
        port = UInt16(bigEndian: sa.sin_port)
        fd = s
        let t = Thread { [weak self, s] in self?.serve(s) }
        thread = t
        t.start()
    }

    func stop() {
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        fd = -1
        thread = nil
    }

    private func serve(_ listener: Int32) {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            if mode == .http { answer(c) }
            close(c)
        }
    }

    private func answer(_ c: Int32) {
        var head = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            head += buf[0..<n]
            if String(decoding: head, as: UTF8.self).contains("\r\n\r\n") { break }
        }
        let req = String(decoding: head, as: UTF8.self)
        let status = lock.withLock { () -> Int in
            _requests.append(req)
            return _status
        }
        let resp = Array("HTTP/1.1 \(status) Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".utf8)
        _ = resp.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
