import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Health-check settings: upstream ezlb's keys plus `http_host`, `command`/`args`
/// (type exec) and `on_unhealthy`. `type` absent means tcp for tcp services and
/// none for udp, sctp and fwmark services (see `ServiceConfig.healthSpec`).
public struct HealthCheckConfig: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case tcp, http, exec, none }
    public var enabled: Bool = true
    public var type: Kind? = nil
    public var interval: Double = 5
    public var timeout: Double = 3
    public var failCount: Int = 3
    public var riseCount: Int = 2
    public var httpPath: String = "/"
    public var httpExpectedStatus: Int = 200
    public var httpHost: String? = nil
    /// exec: program (searched in PATH when it has no '/') and arguments; no shell.
    public var command: [String] = []
    public var onUnhealthy: HealthCheckSpec.OnUnhealthy = .quiesce
    public init() {}
}

public struct BackendConfig: Equatable, Sendable {
    public var endpoint: Endpoint
    public var weight: UInt32
    public var forward: ForwardMethod?
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32
}

public struct ServiceConfig: Equatable, Sendable {
    public var name: String
    public var key: ServiceKey
    public var scheduler: Scheduler
    public var schedulerFlags: [SchedulerFlag]
    /// Persistence timeout in seconds, nil when not persistent.
    public var persistence: UInt32?
    /// Persistence netmask in the kernel's form (IPv4 mask value or IPv6 prefix length).
    public var persistenceNetmask: UInt32?
    public var forward: ForwardMethod
    public var fullNAT: Bool
    public var snatIP: IPAddress?
    public var healthCheck: HealthCheckConfig
    /// Added as a destination only while every backend is unhealthy.
    public var sorryServer: BackendConfig? = nil
    public var backends: [BackendConfig]

    /// The probe type when `type` is absent: tcp for tcp services; none for
    /// udp, sctp and fwmark services (a TCP connect says nothing about them).
    public var defaultHealthKind: HealthCheckConfig.Kind {
        if case .inet(.tcp, _) = key { return .tcp }
        return .none
    }

    /// The effective health check; nil when disabled or of type none.
    public var healthSpec: HealthCheckSpec? {
        let h = healthCheck
        guard h.enabled else { return nil }
        let kind: HealthCheckSpec.Kind
        switch h.type ?? defaultHealthKind {
        case .none: return nil
        case .tcp: kind = .tcp
        case .http: kind = .http
        case .exec: kind = .exec
        }
        let sorry = sorryServer.map {
            RealServer(endpoint: $0.endpoint, weight: $0.weight, forward: $0.forward ?? forward,
                       upperThreshold: $0.upperThreshold, lowerThreshold: $0.lowerThreshold)
        }
        return HealthCheckSpec(kind: kind, interval: h.interval, timeout: h.timeout, failCount: h.failCount,
                               riseCount: h.riseCount, httpPath: h.httpPath, httpExpectedStatus: h.httpExpectedStatus,
                               httpHost: h.httpHost, command: h.command, onUnhealthy: h.onUnhealthy, sorryServer: sorry)
    }

    /// The kernel objects this service wants.
    public var ipvsState: IPVSServiceState {
        var flags: UInt32 = 0
        if persistence != nil { flags |= IPVSFlags.persistent }
        for f in schedulerFlags { flags |= f.bit }
        let svc = VirtualService(key: key, scheduler: scheduler.rawValue, flags: flags,
                                 timeout: persistence ?? 0, netmask: persistenceNetmask)
        let dests = backends.map {
            RealServer(endpoint: $0.endpoint, weight: $0.weight, forward: $0.forward ?? forward,
                       upperThreshold: $0.upperThreshold, lowerThreshold: $0.lowerThreshold)
        }
        return IPVSServiceState(service: svc, destinations: dests.sorted { $0.endpoint < $1.endpoint })
    }
}

/// A loaded and validated config file.
public struct EzlbConfiguration: Sendable {
    public var file: String
    public var services: [ServiceConfig]
    /// Keys the file has that ezlb does not know (likely typos); always worth a warning.
    public var unknownKeys: [String]
    /// Keys ezlb knows (upstream compatibility) but does not use yet; reported with -v.
    public var unusedKeys: [String]
    /// Valid but doubtful settings (`file: key path: why`); always worth a warning.
    public var warnings: [String] = []
    /// `services` was written as a list (possibly `[]`), not missing or without a value.
    public var servicesListed = true
    /// `firewall:` — the interface `snat sync` writes through (nil: not set, auto).
    public var firewall: FirewallChoice? = nil
    /// `forward_mark:` — the mark bit the nftables backend sets on FullNAT replies (nil: the default; 0: none).
    public var forwardMark: UInt32? = nil

    /// Refuses a config that would remove every managed service unless that is stated: a
    /// missing `services` key or one with no value (an empty, comment-only or truncated file)
    /// is always refused; `services: []` only when ezlb manages something (`managing`) and
    /// `--allow-empty` is not given. `cleanup` names the command that removes everything.
    public func requireServices(allowEmpty: Bool, managing: Bool, cleanup: String) throws {
        try Self.requireServices(file: file, listed: servicesListed, empty: services.isEmpty, allowEmpty: allowEmpty || !managing,
                                 cleanup: cleanup)
    }

    public static func requireServices(file: String, listed servicesListed: Bool, empty: Bool, allowEmpty: Bool, cleanup: String) throws {
        if !servicesListed {
            throw ConfigError(file: file, keyPath: "services",
                              reason: "missing or without a value (an empty or truncated config?); to remove every service write 'services: []' and pass --allow-empty, or run '\(cleanup)'")
        }
        if empty && !allowEmpty {
            throw ConfigError(file: file, keyPath: "services", value: "[]",
                              reason: "would remove every service ezlb manages; pass --allow-empty to confirm, or run '\(cleanup)'")
        }
    }

    /// Reads and validates `path`. Every problem is a `ConfigError`.
    public static func load(path: String) throws -> EzlbConfiguration {
        try parse(readText(path: path), file: path)
    }

    /// The config file's text, or a one-line `ConfigError` saying why it cannot be read.
    public static func readText(path: String) throws -> String {
        try text(readBytes(path: path), path: path)
    }

    /// The bytes of the config file at `path`; a missing or unreadable file is a `ConfigError`.
    public static func readBytes(path: String) throws -> [UInt8] {
        switch FileBytes.read(path) {
        case .success(let b): return b
        case .failure(let f):
            let why: String
            switch f.errno {
            case ENOENT?, ENOTDIR?: why = "no such file (pass -c PATH)"
            case EACCES?, EPERM?: why = "permission denied"
            case let e?: why = "cannot read: \(FileBytes.describe(e))"
            case nil: why = "cannot read: \(f)"
            }
            throw ConfigError(file: path, keyPath: "", reason: why)
        }
    }

    /// `bytes` (the file at `path`) as text; not UTF-8 is a `ConfigError`.
    public static func text(_ bytes: [UInt8], path: String) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(file: path, keyPath: "", reason: "not UTF-8 text")
        }
        return text
    }

    public static func parse(_ text: String, file: String) throws -> EzlbConfiguration {
        let root = try YAMLCursor.document(text, file: file)
        // Upstream's global block: accepted, not used by the one-shot CLI.
        let global = root["global"]
        try global.requireMapping()
        global.markSubtreeRead()
        var unused = global.isNull ? [] : ["global"]
        // The ipam section belongs to `ezlb ipam` (IPAMConfig); ipvs accepts and ignores it.
        let ipamSection = root["ipam"]
        ipamSection.markSubtreeRead()
        if !ipamSection.isNull { unused.append("ipam") }
        // The ipsec section belongs to `ezlb xfrm` (IPsecConfig).
        let ipsecSection = root["ipsec"]
        ipsecSection.markSubtreeRead()
        if !ipsecSection.isNull { unused.append("ipsec") }

        var firewall: FirewallChoice? = nil
        if let f = try root["firewall"].string() {
            guard let c = FirewallChoice(rawValue: f) else { throw root["firewall"].error("expected auto, nftables or iptables") }
            firewall = c
        }
        var forwardMark: UInt32? = nil
        if let m = try root["forward_mark"].string() {
            let t = m.lowercased()
            let v = t.hasPrefix("0x") ? UInt32(t.dropFirst(2), radix: 16) : UInt32(t)
            guard let v, v & (v &- 1) == 0 else {
                throw root["forward_mark"].error("expected one mark bit, e.g. 0x200000 (or 0 for none)")
            }
            forwardMark = v
        }

        let servicesListed = !root["services"].isNull
        let items = try root["services"].items()
        // Sized up front: 2,500 services would regrow (and rehash) both tables a dozen times.
        var services: [ServiceConfig] = []
        services.reserveCapacity(items.count)
        var names = [String: Int](minimumCapacity: items.count)
        var keys = [ServiceKey: Int](minimumCapacity: items.count)
        var warnings: [String] = []
        for svc in items {
            let s = try parseService(svc, unused: &unused, warnings: &warnings)
            if let other = names[s.name] {
                throw svc["name"].error("duplicate service name (also services[\(other)].name)")
            }
            names[s.name] = services.count
            if let other = keys[s.key] {
                let p = s.key.isFwmark ? svc["fwmark"] : svc["listen"]
                throw p.error("duplicate service \(s.key) (also services[\(other)])")
            }
            keys[s.key] = services.count
            services.append(s)
        }
        let unread = root.unreadKeys
        var seenUnused = Set<String>()
        unused = unused.filter { seenUnused.insert($0).inserted }
        var cfg = EzlbConfiguration(file: file, services: services, unknownKeys: unread, unusedKeys: unused,
                                    warnings: warnings.map { "\(file): \($0)" })
        cfg.servicesListed = servicesListed
        cfg.firewall = firewall
        cfg.forwardMark = forwardMark
        return cfg
    }

    static func parseService(_ c: YAMLCursor, unused: inout [String], warnings: inout [String]) throws -> ServiceConfig {
        try c.requireMapping()
        if c.isNull { throw c.error("expected a service mapping", value: nil) }
        let name = try c["name"].requiredString()
        if let why = TerminalText.nameProblem(name) { throw c["name"].error(why) }

        // Key: listen + protocol, or fwmark + family.
        let key: ServiceKey
        let family: IPFamily
        if c.has("fwmark") {
            guard let mark = try c["fwmark"].int(in: 1...Int64(UInt32.max)) else { throw c["fwmark"].error("is required") }
            if c.has("listen") { throw c["listen"].error("not allowed with fwmark (a fwmark service has no address)") }
            if c.has("protocol") { throw c["protocol"].error("not allowed with fwmark (the mark selects the traffic)") }
            guard let f = try c["family"].string() else {
                throw c["family"].error("is required with fwmark (ipv4 or ipv6)", value: nil)
            }
            guard let fam = IPFamily(rawValue: f) else { throw c["family"].error("expected ipv4 or ipv6") }
            family = fam
            key = .fwmark(UInt32(mark), fam)
        } else {
            let listenText = try c["listen"].requiredString()
            let listen: Endpoint
            switch Endpoint.parse(listenText) {
            case .success(let e): listen = e
            case .failure(let e): throw c["listen"].error(e.description)
            }
            let protoText = try c["protocol"].string() ?? "tcp"
            guard let proto = IPVSProtocol(rawValue: protoText.lowercased()) else {
                throw c["protocol"].error("expected tcp, udp or sctp")
            }
            if let f = try c["family"].string() {
                guard IPFamily(rawValue: f) == listen.address.family else {
                    throw c["family"].error("does not match the listen address (\(listen.address.family.rawValue))")
                }
            }
            family = listen.address.family
            key = .inet(proto, listen)
        }

        // Scheduler and its flags.
        let schedText = try c["scheduler"].string() ?? "wlc"
        guard let scheduler = Scheduler(rawValue: schedText.lowercased()) else {
            throw c["scheduler"].error("unknown scheduler (one of: \(Scheduler.allCases.map(\.rawValue).joined(separator: " ")))")
        }
        var flags: [SchedulerFlag] = []
        let sf = c["sched_flags"]
        var flagTexts: [(String, YAMLCursor)] = []
        if case .sequence? = sf.node {
            for item in try sf.items() { flagTexts.append((try item.requiredString(), item)) }
        } else if let s = try sf.string() {
            flagTexts = s.split(separator: ",").map { ($0.trimmedSpaces(), sf) }
        }
        for (t, cur) in flagTexts {
            guard let f = SchedulerFlag(rawValue: t) else {
                throw cur.error("unknown scheduler flag (one of: \(SchedulerFlag.allCases.map(\.rawValue).joined(separator: " ")))", value: t)
            }
            guard f.scheduler == scheduler else {
                throw cur.error("only valid with scheduler \(f.scheduler.rawValue), not \(scheduler.rawValue)", value: t)
            }
            if !flags.contains(f) { flags.append(f) }
        }

        // Persistence.
        var persistence: UInt32? = nil
        let pc = c["persistence"]
        if !pc.isNull {
            if let n = Int64(pc.scalarText ?? "x") {
                guard n >= 1 && n <= Int64(UInt32.max) else { throw pc.error("must be between 1 and \(UInt32.max) seconds") }
                persistence = UInt32(n)
            } else if let d = try pc.duration() {
                guard d >= 1, d <= Double(UInt32.max) else { throw pc.error("must be at least 1s") }
                persistence = UInt32(d.rounded())
            }
        }
        var netmask: UInt32? = nil
        let nc = c["persistence_netmask"]
        if !nc.isNull {
            guard persistence != nil else { throw nc.error("requires persistence") }
            netmask = try parseNetmask(nc, family: family)
        }

        let forwardText = try c["forward"].string() ?? "masq"
        guard let forward = ForwardMethod(rawValue: forwardText.lowercased()) else {
            throw c["forward"].error("expected masq, route or tunnel")
        }

        // FullNAT settings (upstream keys; used by `snat sync`).
        let fullNAT = try c["full_nat"].bool() ?? false
        var snat: IPAddress? = nil
        if let s = try c["snat_ip"].string() {
            guard let a = IPAddress(s) else { throw c["snat_ip"].error("not an IP address") }
            guard fullNAT else { throw c["snat_ip"].error("requires full_nat: true") }
            guard a.family == family else { throw c["snat_ip"].error("must be \(family.rawValue) like the service") }
            snat = a
        }
        if fullNAT && forward != .masq {
            throw c["full_nat"].error("requires forward: masq (FullNAT is NAT plus SNAT)", value: "true")
        }
        if c.has("full_nat") || c.has("snat_ip") { unused.append("services[].full_nat") }

        let hc = try parseHealthCheck(c["health_check"])

        // Backends.
        var backends: [BackendConfig] = []
        // Duplicate backends: a look through the list for the usual few, a dictionary from
        // the 17th on (a dictionary per service cost 2,500 allocations for a 10,000-backend config).
        var seen: [Endpoint: Int]? = nil
        let bc = c["backends"]
        for (j, b) in try bc.items().enumerated() {
            try b.requireMapping()
            let bAddr = try b["address"].requiredString()
            let portOptional: Bool
            var bForward: ForwardMethod? = nil
            if let ft = try b["forward"].string() {
                guard let f = ForwardMethod(rawValue: ft.lowercased()) else { throw b["forward"].error("expected masq, route or tunnel") }
                bForward = f
            }
            let effForward = bForward ?? forward
            if fullNAT && effForward != .masq { throw b["forward"].error("full_nat services need masq backends") }
            if case .fwmark = key { portOptional = true } else { portOptional = effForward != .masq }
            var ep: Endpoint
            switch Endpoint.parse(bAddr, portOptional: portOptional) {
            case .success(let e): ep = e
            case .failure(let e): throw b["address"].error(e.description)
            }
            guard ep.address.family == family else {
                throw b["address"].error("is \(ep.address.family.rawValue) but the service is \(family.rawValue)")
            }
            if case .inet(_, let listen) = key, effForward != .masq {
                // Direct routing and tunnelling cannot change the port: the real server sees the VIP's port.
                if ep.port == 0 { ep.port = listen.port }
                guard ep.port == listen.port else {
                    throw b["address"].error("forward \(effForward.rawValue) keeps the service port \(listen.port); use masq to change ports")
                }
            }
            // Every item so far appended one backend: backends[i] is item i.
            let other: Int?
            if let s = seen { other = s[ep] } else { other = backends.firstIndex { $0.endpoint == ep } }
            if let other { throw b["address"].error("duplicate backend (also backends[\(other)])") }
            if seen == nil && j >= 16 { seen = Dictionary(uniqueKeysWithValues: backends.enumerated().map { ($1.endpoint, $0) }) }
            seen?[ep] = j
            let weight = try b["weight"].int(in: 0...65535) ?? 1
            let upper = try b["upper_threshold"].int(in: 0...Int64(UInt32.max)) ?? 0
            let lower = try b["lower_threshold"].int(in: 0...Int64(UInt32.max)) ?? 0
            if lower > 0 && (upper == 0 || lower > upper) {
                throw b["lower_threshold"].error("must not exceed upper_threshold (\(upper))")
            }
            backends.append(BackendConfig(endpoint: ep, weight: UInt32(weight), forward: bForward,
                                          upperThreshold: UInt32(upper), lowerThreshold: UInt32(lower)))
        }

        var svc = ServiceConfig(name: name, key: key, scheduler: scheduler, schedulerFlags: flags.sorted(),
                                persistence: persistence, persistenceNetmask: netmask, forward: forward,
                                fullNAT: fullNAT, snatIP: snat, healthCheck: hc, backends: backends)
        try checkHealth(c, &svc, family: family, warnings: &warnings)
        return svc
    }

    /// Health-check rules that need the whole service: the sorry server, the
    /// probe type against the protocol, ports for tcp/http probes.
    static func checkHealth(_ c: YAMLCursor, _ svc: inout ServiceConfig, family: IPFamily, warnings: inout [String]) throws {
        let hcCursor = c["health_check"]
        let sc = c["sorry_server"]
        if !sc.isNull {
            let text = try sc.requiredString()
            let forward = svc.forward
            var ep: Endpoint
            switch Endpoint.parse(text, portOptional: svc.key.isFwmark || forward != .masq) {
            case .success(let e): ep = e
            case .failure(let e): throw sc.error(e.description)
            }
            guard ep.address.family == family else { throw sc.error("is \(ep.address.family.rawValue) but the service is \(family.rawValue)") }
            if case .inet(_, let listen) = svc.key, forward != .masq {
                if ep.port == 0 { ep.port = listen.port }
                guard ep.port == listen.port else { throw sc.error("forward \(forward.rawValue) keeps the service port \(listen.port)") }
            }
            if svc.backends.contains(where: { $0.endpoint == ep }) { throw sc.error("is also a backend of this service") }
            svc.sorryServer = BackendConfig(endpoint: ep, weight: 1, forward: nil, upperThreshold: 0, lowerThreshold: 0)
            if svc.healthSpec == nil {
                warnings.append("\(sc.path): unused: the service has no health check (enabled: false, or type none)")
            }
        }
        let h = svc.healthCheck
        guard h.enabled else { return }
        let kind = h.type ?? svc.defaultHealthKind
        if kind == .exec && h.command.isEmpty { throw hcCursor["command"].error("is required with type exec", value: nil) }
        if kind != .exec && !h.command.isEmpty { throw hcCursor["command"].error("only used with type exec") }
        if kind != .http && h.httpHost != nil { throw hcCursor["http_host"].error("only used with type http") }
        guard kind == .tcp || kind == .http else { return }
        switch svc.key {
        case .inet(let p, _) where p != .tcp:
            warnings.append("\(hcCursor["type"].path): \(kind.rawValue) probes a \(p.rawValue) service's backends over TCP; fine for servers that also listen on TCP (DNS), otherwise use exec or none")
        case .fwmark:
            if let (j, _) = svc.backends.enumerated().first(where: { $0.element.endpoint.port == 0 }) {
                throw try c["backends"].items()[j]["address"].error("a \(kind.rawValue) health check needs the backend's port")
            }
        default: break
        }
    }

    static func parseNetmask(_ c: YAMLCursor, family: IPFamily) throws -> UInt32 {
        let text = c.scalarText ?? ""
        if family == .ipv6 {
            guard let n = try c.int(in: 1...128) else { throw c.error("expected a prefix length 1..128") }
            return UInt32(n)
        }
        if let n = Int(text) {
            guard (0...32).contains(n) else { throw c.error("expected a prefix length 0..32 or a netmask like 255.255.255.0") }
            return n == 0 ? 0 : UInt32.max << (32 - UInt32(n))
        }
        guard let a = IPAddress(text), a.family == .ipv4 else {
            throw c.error("expected a prefix length 0..32 or a netmask like 255.255.255.0")
        }
        let v = a.bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // Contiguous ones only.
        guard (~v) & (~v &+ 1) == 0 else { throw c.error("netmask bits must be contiguous") }
        return v
    }

    static func parseHealthCheck(_ c: YAMLCursor) throws -> HealthCheckConfig {
        var h = HealthCheckConfig()
        try c.requireMapping()
        if c.isNull { return h }
        h.enabled = try c["enabled"].bool() ?? true
        if let t = try c["type"].string() {
            guard let k = HealthCheckConfig.Kind(rawValue: t.lowercased()) else { throw c["type"].error("expected tcp, http, exec or none") }
            h.type = k
        }
        h.interval = try c["interval"].duration() ?? h.interval
        h.timeout = try c["timeout"].duration() ?? h.timeout
        h.failCount = Int(try c["fail_count"].int(in: 1...1000) ?? 3)
        h.riseCount = Int(try c["rise_count"].int(in: 1...1000) ?? 2)
        if let p = try c["http_path"].string() {
            guard p.hasPrefix("/") else { throw c["http_path"].error("must start with '/'") }
            // It goes into the request line as is: no spaces, line breaks or other control bytes.
            guard !p.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
                throw c["http_path"].error("must not contain spaces or control characters (percent-encode them)")
            }
            h.httpPath = p
        }
        h.httpExpectedStatus = Int(try c["http_expected_status"].int(in: 100...599) ?? 200)
        if let host = try c["http_host"].string() {
            guard !host.isEmpty, !host.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " }) else {
                throw c["http_host"].error("expected a host name (no spaces or line breaks)")
            }
            h.httpHost = host
        }
        if let cmd = try c["command"].string() {
            guard !cmd.isEmpty else { throw c["command"].error("must not be empty") }
            h.command = [cmd]
            let ac = c["args"]
            if !ac.isNull {
                for item in try ac.items() { h.command.append(try item.requiredString()) }
            }
        } else if c.has("args") {
            throw c["args"].error("requires command")
        }
        if let o = try c["on_unhealthy"].string() {
            guard let v = HealthCheckSpec.OnUnhealthy(rawValue: o.lowercased()) else { throw c["on_unhealthy"].error("expected quiesce or remove") }
            h.onUnhealthy = v
        }
        return h
    }
}

