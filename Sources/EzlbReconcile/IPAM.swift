import EzlbConfig
import EzlbCore
import EzlbIPAM
import EzlbState
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// `ipam allocate|release|list` over `<state-dir>/ipam.json`, changed under `ipam.lock` and
/// written atomically, so concurrent runs never hand out one address twice and a crash never
/// corrupts the file. No kernel state is touched.
public struct IPAMReconciler {
    public let ctx: ReconcileContext
    var log: Logger { ctx.log }

    public init(_ ctx: ReconcileContext) { self.ctx = ctx }

    /// Takes `ipam.lock`.
    func lock() throws -> FileLock { try ctx.lock("ipam") }

    typealias Connected = (bridge: String, subnet: IPSubnet, owner: String, ip: IPAddress)

    /// The addresses bridge connections hold, from bridges.json as `bridges` holds it, else
    /// as the file is now (read without its lock: it is replaced by rename, so any read is one
    /// whole version).
    func connections(_ bridges: BridgeState? = nil) throws -> [Connected] {
        guard let bridges = try bridges ?? ctx.stateDir.load(BridgeState.self) else { return [] }
        return bridges.bridges.flatMap { b -> [Connected] in
            guard case .success(let subnet) = IPSubnet.parse(b.subnet) else { return [] }
            return b.connections.compactMap { c in IPAddress(c.ip).map { (b.name, subnet, c.owner, $0) } }
        }
    }

    /// ipam.json, with every address a bridge connection in bridges.json holds: a lost or
    /// older ipam.json (deleted, restored from a backup, killed between the two files' writes)
    /// must not hand out an address a connected container still uses. A connection whose
    /// address ipam.json gives to another owner (or whose owner holds another one there) is
    /// a warning: the address stays held either way. `connected`: the bridges' addresses when
    /// the caller has them (else bridges.json is read).
    func read(connected: [Connected]? = nil) throws -> IPAMState {
        let path = ctx.stateDir.file(IPAMState.fileName)
        var s = try ctx.stateDir.load(IPAMState.self) ?? IPAMState()
        if let v = s.invariantViolation() {
            throw StateError.corrupted(path: path, detail: v, recovery: IPAMState.recovery)
        }
        let now = Self.now()
        for c in try connected ?? connections() where c.subnet.contains(c.ip) {
            do {
                let out = try IPAM.allocate(&s, IPAM.Request(subnet: c.subnet, owner: c.owner, ip: c.ip, now: now))
                if out.created { log.warning("\(path): \(c.ip) of '\(c.owner)' (connected to bridge \(c.bridge) in bridges.json) was missing; restored") }
            } catch {
                log.warning("\(path): bridges.json connects '\(c.owner)' to \(c.bridge) with \(c.ip), but \(error)")
            }
        }
        return s
    }

    /// `syncDirectory: false` when another state file of the directory is written right after.
    func write(_ s: IPAMState, syncDirectory: Bool = true) throws {
        try ctx.stateDir.store(s, syncDirectory: syncDirectory)
    }

    /// `ipam allocate`: the owner's address (the same one again when it holds one), never a
    /// reserved one: `reserved` and the config's `ipam.reserved` (`ctx.configPath`, "" for none).
    public func allocate(_ request: IPAM.Request, reserved: [IPRange]) throws -> CommandReport {
        var report = CommandReport(command: "ipam allocate", dryRun: ctx.dryRun)
        var req = request
        req.reserved = try configReserved(report: &report) + reserved
        let lock = try self.lock()
        defer { withExtendedLifetime(lock) {} }
        var state = try read()
        let out = try IPAM.allocate(&state, req)
        let fields = Self.json(out.allocation, subnet: req.subnet)
        report.extra = fields
        let line = "\(out.allocation.ip)/\(req.subnet.prefixLength)"
        if out.created {
            if !ctx.dryRun { try write(state) }
            var j = fields
            j["action"] = "allocate"
            report.add(FieldAction(line, j))
        } else {
            report.body = line
        }
        log.info("\(out.created ? "allocated" : "already held") \(line) owner \(out.allocation.owner ?? "-")")
        return report
    }

    /// `ipam release`: by address, by owner, or both (then the address must be the owner's).
    /// Releasing what nobody holds changes nothing.
    public func release(subnet: IPSubnet, ip: IPAddress?, owner: String?) throws -> CommandReport {
        var report = CommandReport(command: "ipam release", dryRun: ctx.dryRun)
        guard ip != nil || owner != nil else { throw Failure.usage("ipam release: give --ip or --owner") }
        let lock = try self.lock()
        defer { withExtendedLifetime(lock) {} }
        let connected = try connections()
        var state = try read(connected: connected)
        let released = try IPAM.release(&state, subnet: subnet, ip: ip, owner: owner)
        for a in released {
            if let c = connected.first(where: { $0.subnet == subnet && $0.ip == a.ip }) {
                throw Failure(.failure, "\(a.ip) is '\(c.owner)''s address on bridge \(c.bridge); release it with 'ezlb bridge disconnect \(c.bridge) --owner \(c.owner)'")
            }
        }
        if !released.isEmpty && !ctx.dryRun { try write(state) }
        for a in released {
            var j = Self.json(a, subnet: subnet)
            j["action"] = "release"
            report.add(FieldAction("- \(a.ip)/\(subnet.prefixLength)" + (a.owner.map { " owner \($0)" } ?? ""), j))
        }
        if released.isEmpty { report.summary = "no changes" }
        return report
    }

    /// The allocations (no lock: writes are atomic renames, so a read sees one whole version).
    public func state() throws -> IPAMState { try read() }

    /// Reserved ranges from the config's `ipam.reserved` (no config: none).
    func configReserved(report: inout CommandReport) throws -> [IPRange] {
        guard !ctx.configPath.isEmpty else { return [] }
        let cfg = try IPAMConfig.load(path: ctx.configPath)
        report.warnings += cfg.unknownKeys.map { "\(ctx.configPath): \($0): unknown key, ignored" }
        return cfg.reserved
    }

    /// RFC 3339 UTC, e.g. 2026-11-21T05:40:00Z.
    public static func now() -> String {
        var t = time(nil)
        var tm = tm()
        gmtime_r(&t, &tm)
        return "\(tm.tm_year + 1900)-\(zeroPadded(tm.tm_mon + 1, width: 2))-\(zeroPadded(tm.tm_mday, width: 2))T"
            + "\(zeroPadded(tm.tm_hour, width: 2)):\(zeroPadded(tm.tm_min, width: 2)):\(zeroPadded(tm.tm_sec, width: 2))Z"
    }

    public static func json(_ a: Allocation, subnet: IPSubnet) -> [String: JSONValue] {
        [
            "ip": .string(a.ip.description),
            "address": .string("\(a.ip)/\(subnet.prefixLength)"),
            "prefix_length": .int(subnet.prefixLength),
            "subnet": .string(subnet.description),
            "gateway": SubnetLayout(subnet).gatewayAddress.map { .string($0.description) } ?? .null,
            "owner": a.owner.map { .string($0) } ?? .null,
            "allocated_at": .string(a.allocatedAt),
        ]
    }
}
