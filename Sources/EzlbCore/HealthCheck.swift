/// Health checking models shared by the config, the health planner, the
/// prober and the state file. Pure values: no I/O here.

/// How one service's backends are probed and what happens to unhealthy ones.
/// Only services whose check is enabled and not of type `none` have one.
public struct HealthCheckSpec: Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case tcp, http, exec }
    /// What an unhealthy backend becomes: weight 0 (existing connections finish), or no destination at all.
    public enum OnUnhealthy: String, Sendable, CaseIterable { case quiesce, remove }

    public var kind: Kind
    /// Seconds: a backend probed less than this long ago is not probed again.
    public var interval: Double
    /// Seconds one probe may take (connect, request and response; or the command's run time).
    public var timeout: Double
    public var failCount: Int
    public var riseCount: Int
    public var httpPath: String
    public var httpExpectedStatus: Int
    /// The HTTP Host header; nil sends the backend's own `address:port`.
    public var httpHost: String?
    /// `exec`: program and arguments (no shell).
    public var command: [String]
    public var onUnhealthy: OnUnhealthy
    /// Added to the service only while every backend is unhealthy.
    public var sorryServer: RealServer?

    public init(kind: Kind, interval: Double = 5, timeout: Double = 3, failCount: Int = 3, riseCount: Int = 2,
                httpPath: String = "/", httpExpectedStatus: Int = 200, httpHost: String? = nil,
                command: [String] = [], onUnhealthy: OnUnhealthy = .quiesce, sorryServer: RealServer? = nil) {
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.failCount = failCount
        self.riseCount = riseCount
        self.httpPath = httpPath
        self.httpExpectedStatus = httpExpectedStatus
        self.httpHost = httpHost
        self.command = command
        self.onUnhealthy = onUnhealthy
        self.sorryServer = sorryServer
    }

    /// `tcp every 5s, timeout 3s, fail 3, rise 2, quiesce`
    public var summary: String {
        var what = kind.rawValue
        switch kind {
        case .http: what += " GET \(httpPath) -> \(httpExpectedStatus)" + (httpHost.map { " (Host: \($0))" } ?? "")
        case .exec: what += " " + command.joined(separator: " ")
        case .tcp: break
        }
        var s = "\(what), every \(DurationText.format(interval)), timeout \(DurationText.format(timeout)), fail \(failCount), rise \(riseCount), on unhealthy \(onUnhealthy.rawValue)"
        if let sorry = sorryServer { s += ", sorry server \(sorry.endpoint)" }
        return s
    }
}

/// What ezlb remembers about one backend of one service between runs.
public struct BackendHealth: Hashable, Sendable {
    /// Consecutive counts stop here (a backend down for years must not overflow them).
    public static let maxCounter = 1_000_000
    public var service: String
    public var backend: Endpoint
    public var healthy: Bool
    /// Consecutive successful probes (0 after a failure).
    public var successes: Int
    /// Consecutive failed probes (0 after a success).
    public var failures: Int
    /// Unix time of the last probe; nil before the first.
    public var lastProbe: Double?
    /// Why the last probe failed; nil when it succeeded.
    public var lastError: String?
    /// Unix time of the last healthy <-> unhealthy transition; nil when never.
    public var since: Double?

    public init(service: String, backend: Endpoint, healthy: Bool = true, successes: Int = 0, failures: Int = 0,
                lastProbe: Double? = nil, lastError: String? = nil, since: Double? = nil) {
        self.service = service
        self.backend = backend
        self.healthy = healthy
        self.successes = successes
        self.failures = failures
        self.lastProbe = lastProbe
        self.lastError = lastError
        self.since = since
    }
}

/// Identifies a health record: config service name + backend endpoint.
public struct HealthKey: Hashable, Sendable, Comparable {
    public var service: String
    public var backend: Endpoint
    public init(service: String, backend: Endpoint) {
        self.service = service
        self.backend = backend
    }
    public static func < (a: HealthKey, b: HealthKey) -> Bool {
        a.service != b.service ? a.service < b.service : a.backend < b.backend
    }
}

/// Every health record, plus the services whose sorry server is in use: what
/// `ipvs apply` decided last, and what `snat sync` and `ipvs health` read.
public struct HealthTable: Equatable, Sendable {
    public var records: [HealthKey: BackendHealth]
    /// Service name -> its sorry server's endpoint, while it is in use.
    public var sorry: [String: Endpoint]

    public init(records: [HealthKey: BackendHealth] = [:], sorry: [String: Endpoint] = [:]) {
        self.records = records
        self.sorry = sorry
    }

    public subscript(service: String, backend: Endpoint) -> BackendHealth? {
        records[HealthKey(service: service, backend: backend)]
    }

    public var isEmpty: Bool { records.isEmpty && sorry.isEmpty }
}

/// One probe to run: a backend of a service with that service's check.
public struct ProbeTarget: Hashable, Sendable {
    /// The service's config name.
    public var service: String
    public var serviceKey: ServiceKey
    public var backend: Endpoint
    public var spec: HealthCheckSpec

    public init(service: String, serviceKey: ServiceKey, backend: Endpoint, spec: HealthCheckSpec) {
        self.service = service
        self.serviceKey = serviceKey
        self.backend = backend
        self.spec = spec
    }

    public var key: HealthKey { HealthKey(service: service, backend: backend) }
}

/// What one probe found.
public struct ProbeResult: Equatable, Sendable {
    public var ok: Bool
    /// Why it failed (`connect: connection refused`, `timeout after 1s`, `status 503, expected 200`).
    public var error: String?

    public init(ok: Bool, error: String? = nil) {
        self.ok = ok
        self.error = ok ? nil : (error ?? "failed")
    }

    public static let success = ProbeResult(ok: true)
    public static func failure(_ why: String) -> ProbeResult { ProbeResult(ok: false, error: why) }
}

/// Go-style duration text for seconds: `5s`, `1.5s`, `250ms`, `1m30s`.
public enum DurationText {
    public static func format(_ seconds: Double) -> String {
        if seconds < 1 {
            let ms = (seconds * 1000).rounded()
            return ms == ms.rounded(.down) && ms >= 1 ? "\(Int(ms))ms" : "\(seconds)s"
        }
        if seconds == seconds.rounded(.down) {
            let s = Int(seconds)
            if s >= 3600 && s % 60 == 0 { return s % 3600 == 0 ? "\(s / 3600)h" : "\(s / 3600)h\(s % 3600 / 60)m" }
            if s >= 60 { return s % 60 == 0 ? "\(s / 60)m" : "\(s / 60)m\(s % 60)s" }
            return "\(s)s"
        }
        return "\(seconds)s"
    }
}
