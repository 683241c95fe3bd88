import EzlbCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Files of a node's data_dir that are ezlb's, not raft's.
public enum RaftPaths {
    public static func socket(_ dataDir: String) -> String { dataDir + "/control.sock" }
    public static func lock(_ dataDir: String) -> String { dataDir + "/serve.lock" }
    /// Files ezlb itself keeps in data_dir (not raft data).
    public static let own: Set<String> = ["control.sock", "serve.lock"]
}


/// The client side of the control endpoint, as `raft join|leave|status` use it.
public enum RaftClient {
    public static func localStatus(_ dataDir: String, timeout: Double = 5) throws -> RaftStatusInfo {
        let r: ControlResponse
        do {
            r = try ControlClient.call(.unix(RaftPaths.socket(dataDir)), ControlRequest(method: "status", body: "{}"), timeout: timeout)
        } catch let e as ControlClientError where e.unreachable {
            throw Failure(.failure, "no `ezlb raft serve` answers on \(RaftPaths.socket(dataDir)) (\(e.message)); start it first")
        }
        guard r.ok, let s = r.status else { throw Failure(.failure, r.error ?? "status failed") }
        return s
    }

    /// Sends a membership request to the cluster: follows redirects to the
    /// leader, retries while there is no leader or nothing answers, until
    /// `timeout`. Signs the request when a secret is configured.
    public static func clusterCall(start: ControlEndpoint, method: String, body: String, secret: String?,
                            timeout: Double, log: Logger) throws -> ControlResponse {
        let deadline = monotonicMs() + UInt64(max(0, timeout) * 1000)
        var target = start
        var hops = 0
        var lastError = ""
        while true {
            let req = ControlRequest.make(method: method, body: body, secret: secret, to: target)
            do {
                let r = try ControlClient.call(target, req, timeout: max(1, min(120, Double(Int64(deadline) - Int64(monotonicMs())) / 1000)))
                if r.ok { return r }
                switch r.code {
                case "not_leader":
                    if let red = r.redirect, let (h, p) = splitHostPort(red), hops < 8 {
                        log.info("\(target) is not the leader: redirected to \(red)")
                        target = .tcp(host: h, port: p)
                        hops += 1
                        continue
                    }
                    lastError = r.error ?? "not the leader"
                case "no_leader", "busy":
                    lastError = r.error ?? "no leader"
                    target = start
                default:
                    throw Failure(.failure, "\(target): \(r.error ?? "refused")")
                }
            } catch let e as ControlClientError where e.unreachable {
                lastError = e.message
                target = start
            }
            if monotonicMs() >= deadline {
                throw Failure(.failure, "\(method): gave up after \(Int(timeout)) s: \(lastError)")
            }
            log.info("\(method): \(lastError); retrying")
            usleep(500_000)
        }
    }

}
