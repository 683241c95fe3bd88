import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Receives leadership samples (the hook dispatcher, behind an adapter).
/// Called on the engine thread; must not block.
public protocol LeadershipObserver: AnyObject {
    func observe(role: EngineRole, leaderName: String?, term: UInt64, handover: Bool, eligible: Bool)
    /// Shutdown: a Master starts releasing the VIP (ToSlave); false when this node is not Master.
    func beginRelease() -> Bool
    /// Preemption: a Master releases the VIP (ToSlave) and stays leader until the transfer;
    /// false when this node is not Master.
    func beginHandover() -> Bool
    /// The handover did not happen: this node may be Master again.
    func cancelHandover()
    /// After `beginRelease`: nil until the ToSlave finished, then whether it succeeded.
    var released: Bool? { get }
    /// The last hook event that completed (for `raft status`).
    var lastEvent: String? { get }
    /// SIGHUP.
    func reload()
}

/// "The Master of `term` released the VIP": appended by a Master handing over (graceful stop,
/// preemption) after its ToSlave succeeded, before the transfer; the leader of the next term
/// needs no guard. `claimed` voids it: the transfer failed and the same leader is Master again.
struct ReleaseEntry: Codable, Equatable {
    var op: String = "released"
    var raftID: String
    var term: UInt64
    enum CodingKeys: String, CodingKey { case op, raftID = "raft_id", term }
}

/// "Server `raftID`'s track check passes (or not)": the leader appends it when a member's
/// health changes, so every node knows whom leadership may go to.
struct HealthEntry: Codable, Equatable {
    var op: String = "health"
    var raftID: String
    var healthy: Bool
    enum CodingKeys: String, CodingKey { case op, raftID = "raft_id", healthy }
}

/// The replicated state: names of the servers (libraft only knows numeric ids).
struct NameEntry: Codable, Equatable {
    var op: String = "name"
    var raftID: String
    var id: String
    var addr: String
    enum CodingKeys: String, CodingKey { case op, raftID = "raft_id", id, addr }
}

/// `ezlb raft serve`: the engine, leadership polling, membership changes and
/// the control endpoint. Everything runs on the engine thread except
/// `requestAbandonLeadership` (any thread).
public final class RaftServer: ConsensusEngineDelegate {
    public struct Config {
        public var nodeName: String
        public var raftID: UInt64
        public var address: String
        public var electionTimeoutMs: UInt32
        /// Names known from the config file (cluster.nodes), used until the replicated ones arrive.
        public var configNames: [UInt64: (name: String, addr: String)]
        public var numericID: (String) -> UInt64
        /// A member's control endpoint (`IP:port`) from its raft address (redirects).
        public var controlAddress: (String) -> String?
        /// cluster.nodes[].priority by raft id (others: 100), cluster.preempt, preempt_delay.
        public var priorities: [UInt64: Int] = [:]
        public var preempt = true
        public var preemptDelayMs: UInt32 = 5000
        public init(nodeName: String, raftID: UInt64, address: String, electionTimeoutMs: UInt32,
                    configNames: [UInt64: (name: String, addr: String)], numericID: @escaping (String) -> UInt64,
                    controlAddress: @escaping (String) -> String? = { controlEndpoint(forRaftAddress: $0)?.description },
                    priorities: [UInt64: Int] = [:], preempt: Bool = true, preemptDelayMs: UInt32 = 5000) {
            self.nodeName = nodeName
            self.raftID = raftID
            self.address = address
            self.electionTimeoutMs = electionTimeoutMs
            self.configNames = configNames
            self.numericID = numericID
            self.controlAddress = controlAddress
            self.priorities = priorities
            self.preempt = preempt
            self.preemptDelayMs = preemptDelayMs
        }
    }

    private let engine: ConsensusEngine
    let config: Config
    private let auth: RequestAuthenticator
    private let secret: String?
    private let log: Logger
    public weak var observer: LeadershipObserver?

    private var names: [UInt64: NameEntry] = [:]
    private var nameInFlight = false
    private var queue: [(String, () -> Void)] = []
    private var opRunning = false
    private var wasMember = false
    private var refusedReported: UInt64 = 0
    private var nextRefusedReport = Date.distantPast
    private var lastRole: EngineRole = .unavailable
    private var lastLeader: UInt64?
    private let abandonLock = Lock()
    private var abandonRequested = false
    /// `releasing`: a Master hands over, to `target` (preemption) or to any live voter (nil: shutdown).
    private enum Phase { case running, releasing(deadline: Date, target: UInt64?), transferring(deadline: Date), stopped }
    /// The last ReleaseEntry applied.
    private var lastRelease: ReleaseEntry?
    /// Term in which this node's barrier (learning its predecessors' committed entries) was sent.
    private var barrierTerm: UInt64?
    /// Term whose barrier completed: every entry of earlier terms is applied.
    private var barrierDoneTerm: UInt64?
    private var phase = Phase.running
    /// Set when SIGTERM/SIGINT ended the loop.
    public private(set) var stoppedBySignal: Int32?
    /// Called on every poll tick with the engine's status (`raft serve`: systemd notifications,
    /// --metrics-file).
    var onTick: ((EngineStatus) -> Void)?

    /// `controlAddress`: this node's TCP control endpoint, the only target signed requests may name.
    public init(engine: ConsensusEngine, config: Config, secret: String?, controlAddress: ControlEndpoint?, log: Logger) {
        self.engine = engine
        self.config = config
        self.auth = RequestAuthenticator(secret: secret, address: controlAddress)
        self.secret = secret
        self.log = log
        engine.delegate = self
    }

    /// Thread-safe: the ToMaster hook failed with on_failure=abort.
    public func requestAbandonLeadership() {
        abandonLock.lock()
        abandonRequested = true
        abandonLock.unlock()
        engine.wakeup()
    }

    /// The TCP control endpoint of the member at raft address `raftAddress` (its control_addr, else raft port + 1).
    func memberControlEndpoint(_ raftAddress: String) -> ControlEndpoint? {
        config.controlAddress(raftAddress).flatMap(splitHostPort).map { ControlEndpoint.tcp(host: $0.0, port: $0.1) }
    }

    // MARK: names

    func name(of id: UInt64) -> String {
        if let n = names[id] { return n.id }
        if let n = config.configNames[id] { return n.name }
        if id == config.raftID { return config.nodeName }
        return String(id)
    }

    /// A replicated entry: its `op` picks the one type it is decoded as.
    public func engineApply(_ entry: [UInt8]) {
        struct Op: Decodable { var op: String }
        let data = Data(entry)
        let decoder = JSONDecoder()
        switch (try? decoder.decode(Op.self, from: data))?.op {
        case "health"?:
            if let h = try? decoder.decode(HealthEntry.self, from: data), let rid = UInt64(h.raftID) {
                health[rid] = h.healthy
                return
            }
        case "released"?, "claimed"?:
            if let r = try? decoder.decode(ReleaseEntry.self, from: data) {
                lastRelease = r.op == "released" ? r : nil
                return
            }
        case "name"?:
            if let e = try? decoder.decode(NameEntry.self, from: data), let rid = UInt64(e.raftID) {
                names[rid] = e
                return
            }
        default:
            break
        }
        log.warning("ignoring an unknown replicated entry (\(entry.count) bytes): \(String(decoding: entry.prefix(120), as: UTF8.self).debugDescription)")
    }

    public func engineSnapshot() -> [UInt8] {
        Array(jsonText(names.values.sorted { $0.raftID < $1.raftID }).utf8)
    }

    public func engineRestore(_ snapshot: [UInt8]) {
        guard let list = try? JSONDecoder().decode([NameEntry].self, from: Data(snapshot)) else {
            log.error("snapshot with unreadable member names ignored")
            return
        }
        names = [:]
        for e in list { if let rid = UInt64(e.raftID) { names[rid] = e } }
    }

    // MARK: polling

    public func engineTick() {
        runDelayed()
        let st = engine.status()
        onTick?(st)
        if case .releasing(let deadline, let target) = phase {
            observe(st)
            continueRelease(st, deadline: deadline, target: target)
            return
        }
        if case .transferring(let deadline) = phase {
            if st.role != .leader || Date() >= deadline { finishStop() } else { observe(st) }
            return
        }
        guard case .running = phase else { return }
        reportRefused(st)
        checkRemoved(st)
        checkHealth(st)
        checkPreempt(st)
        observe(st)
        tryAbandon(st)
        let member = st.members.contains { $0.id == config.raftID }
        if member { wasMember = true } else if wasMember {
            log.notice("this node is no longer a member of the cluster (removed)")
            wasMember = false
        }
        // The leader records its own name once (the bootstrap node, or after a rename).
        if st.role == .leader, !nameInFlight,
           names[config.raftID].map({ $0.id != config.nodeName || $0.addr != config.address }) ?? true {
            nameInFlight = true
            let e = NameEntry(raftID: String(config.raftID), id: config.nodeName, addr: config.address)
            engine.apply(Array(jsonText(e).utf8)) { [weak self] err in
                self?.nameInFlight = false
                if let err { self?.log.debug("recording this node's name: \(err)") }
            }
        }
    }

    /// What the hooks see: a leader without its lease (no majority heard
    /// within the election timeout) is reported as a candidate with no
    /// known leader, so the Master steps down as soon as it is cut off.
    private func hookView(_ st: EngineStatus) -> (EngineRole, String?) {
        if st.role == .leader && !st.leaderLease { return (.candidate, nil) }
        return (st.role, st.leaderID.map(name(of:)))
    }

    private func observe(_ st: EngineStatus) {
        if st.role == .leader, leaderTermSince?.term != st.term { leaderTermSince = (st.term, Date()) }
        if st.role != lastRole || st.leaderID != lastLeader || (st.role == .leader && st.leaderLease != lastLease) {
            let lease = st.role == .leader ? (st.leaderLease ? "" : " (no majority heard within the election timeout: not Master)") : ""
            log.info("raft: \(st.role.rawValue), term \(st.term), leader \(st.leaderID.map(name(of:)) ?? "none")\(lease)")
            lastRole = st.role
            lastLeader = st.leaderID
            lastLease = st.leaderLease
        }
        let (role, leader) = hookView(st)
        // A new leader commits a barrier at once: it then knows every entry its predecessors
        // committed, the previous Master's ReleaseEntry among them (libraft 0.15 appends none).
        if st.role == .leader, barrierTerm != st.term {
            barrierTerm = st.term
            let term = st.term
            engine.barrier { [weak self] err in
                if let err { self?.log.debug("barrier: \(err)") } else { self?.barrierDoneTerm = term }
            }
        }
        let handover = st.role == .leader && barrierDoneTerm == st.term
            && lastRelease.map { $0.term + 1 == st.term && $0.raftID != String(config.raftID) } == true
        if handover && !handoverLogged {
            log.info("the previous Master released the VIP in term \(st.term - 1): ToMaster without master_guard")
        }
        handoverLogged = handover
        observer?.observe(role: role, leaderName: leader, term: st.term, handover: handover,
                          eligible: tracker.map { $0.healthy == true } ?? true)
    }
    private var lastLease = false
    /// When this node was first seen leading in the current term.
    private var leaderTermSince: (term: UInt64, at: Date)?
    private var handoverLogged = false

    public func engineWakeup() {
        abandonLock.lock()
        let abandon = abandonRequested
        abandonRequested = false
        abandonLock.unlock()
        if abandon {
            let st = engine.status()
            guard st.role == .leader else { return }
            log.warning("ToMaster hook failed (on_failure: abort): transferring leadership away")
            abandonTerm = st.term
            abandonNext = Date.distantPast
            tryAbandon(st)
        }
    }

    /// Leadership to hand away in this term (a failed ToMaster with abort);
    /// retried until another voter can take it (e.g. one that joins later).
    private var abandonTerm: UInt64?
    private var abandonNext = Date.distantPast
    private var abandonInFlight = false

    private func tryAbandon(_ st: EngineStatus) {
        guard let t = abandonTerm else { return }
        guard st.role == .leader, st.term == t else { abandonTerm = nil; return }
        guard !abandonInFlight, Date() >= abandonNext else { return }
        guard let target = transferTarget(st) else {
            // Leader but not Master until a live voter can take over: checked again each
            // election timeout, no transfer attempted meanwhile (no spinning towards a dead node).
            if abandonNext == .distantPast { log.warning("no live voter to take leadership yet; staying leader without the Master role until one is reachable") }
            abandonNext = Date().addingTimeInterval(Double(config.electionTimeoutMs) / 1000)
            return
        }
        abandonInFlight = true
        abandonNext = Date().addingTimeInterval(Double(config.electionTimeoutMs) / 1000)
        engine.transfer(to: target) { [weak self] err in
            self?.abandonInFlight = false
            if let err { self?.log.error("leadership transfer: \(err)") }
        }
    }

    /// Whom to hand leadership to: a voter other than this node that acknowledged it within
    /// the last election timeout (so it is alive and receiving the log). libraft's own choice
    /// (`raft_transfer` with id 0) is the voter with the highest match index, which may be a
    /// stopped node: a leader whose ToMaster failed kept transferring towards the node that had
    /// just shut down, never to the live one, until libraft's connect path crashed (#19).
    /// Among those, one whose track check passes (as replicated) first, one not known to fail next.
    func transferTarget(_ st: EngineStatus) -> UInt64? {
        let live = st.members.filter { $0.role == .voter && $0.id != config.raftID && $0.reachable }
        return (live.first { health[$0.id] == true } ?? live.first { health[$0.id] != false })?.id
    }

    // MARK: signals and shutdown

    public func engineSignal(_ signal: Int32) {
        switch signal {
        case SIGHUP:
            log.notice("SIGHUP: reloading the hooks section")
            observer?.reload()
        default:
            if case .releasing(let deadline, let target) = phase, target != nil {
                // Stopping in the middle of a preemption: the release goes on, then any live voter.
                stoppedBySignal = signal
                _ = observer?.beginRelease()
                phase = .releasing(deadline: deadline, target: nil)
                return
            }
            guard case .running = phase else { return }
            stoppedBySignal = signal
            beginStop()
        }
    }

    /// Transfers leadership if this node leads (bounded by the election
    /// timeout), then closes the engine; `run` returns after.
    public func beginStop() {
        let st = engine.status()
        // A Master releases the VIP first and records that in the log, so that the next
        // leader can take it without master_guard (graceful handover).
        if st.role == .leader, transferTarget(st) != nil, observer?.beginRelease() == true {
            log.notice("shutting down: releasing the VIP (ToSlave), then handing leadership over")
            phase = .releasing(deadline: Date().addingTimeInterval(releaseBudget), target: nil)
            return
        }
        transferOrStop(st)
    }

    /// How long a stopping Master waits for its ToSlave before handing over anyway (the new
    /// leader then keeps its guard).
    public var releaseBudget: Double = 30

    private func continueRelease(_ st: EngineStatus, deadline: Date, target: UInt64?) {
        guard !releaseInFlight else { return }
        let released = observer?.released
        if released == nil && Date() < deadline && st.role == .leader { return }
        guard released == true, st.role == .leader else {
            if released != true { log.warning("ToSlave did not finish successfully: the next Master waits its master_guard") }
            return target.map { handOver(to: $0, recorded: false) } ?? transferOrStop(st)
        }
        releaseInFlight = true
        engine.apply(Array(jsonText(ReleaseEntry(raftID: String(config.raftID), term: st.term)).utf8)) { [weak self] err in
            guard let self else { return }
            self.releaseInFlight = false
            if let err { self.log.warning("recording the release: \(err)") }
            if let target { self.handOver(to: target, recorded: err == nil) } else { self.transferOrStop(self.engine.status()) }
        }
    }

    // MARK: tracking (keepalived's track_script / track_interface)

    /// The `track:` checker (nil: no track section, always fit to be Master).
    public var tracker: Tracker?
    /// Replicated track results by raft id (HealthEntry); absent: unknown.
    private var health: [UInt64: Bool] = [:]
    private var healthPublishNext = Date.distantPast
    private var healthHandoverNext = Date.distantPast

    /// Publishes this node's track result to the log (the leader appends it; a follower asks
    /// the leader over the control endpoint), and makes an unhealthy leader hand the Master
    /// role to a healthy live voter (gracefully when it is Master). With no such voter it
    /// stays leader without the Master role (no VIP anywhere, as keepalived in FAULT).
    private func checkHealth(_ st: EngineStatus) {
        guard let tracker, let mine = tracker.healthy else { return }
        let now = Date()
        if health[config.raftID] != mine, now >= healthPublishNext {
            healthPublishNext = now.addingTimeInterval(1)
            let entry = HealthEntry(raftID: String(config.raftID), healthy: mine)
            if st.role == .leader {
                engine.apply(Array(jsonText(entry).utf8)) { [weak self] err in
                    if let err { self?.log.debug("recording this node's health: \(err)") }
                }
            } else if let addr = st.leaderAddress, let target = memberControlEndpoint(addr) {
                let secret = self.secret, body = jsonText(entry), log = self.log
                let t = PosixThread {
                    let req = ControlRequest.make(method: "health", body: body, secret: secret, to: target)
                    if let r = try? ControlClient.call(target, req, timeout: 2), !r.ok { log.debug("health to the leader: \(r.error ?? "refused")") }
                }
                t.name = "ezlb-health"
                t.start()
            }
        }
        guard st.role == .leader, !mine, case .running = phase, !releaseInFlight, !transferInFlight, now >= healthHandoverNext else { return }
        healthHandoverNext = now.addingTimeInterval(Double(config.electionTimeoutMs) / 1000)
        guard let target = transferTarget(st), health[target] != false else { return }
        if observer?.beginHandover() == true {
            log.notice("track failed: releasing the VIP (ToSlave), then handing the Master role to \(name(of: target))")
            phase = .releasing(deadline: now.addingTimeInterval(releaseBudget), target: target)
        } else {
            log.notice("track failed: handing leadership to \(name(of: target))")
            handOver(to: target, recorded: false)
        }
    }

    private func recordHealth(_ b: HealthEntry, _ done: @escaping (ControlResponse) -> Void) {
        let st = engine.status()
        guard st.role == .leader else { return done(notLeader(st)) }
        guard let rid = UInt64(b.raftID), st.members.contains(where: { $0.id == rid }) else {
            return done(.failure("bad_request", "health: \(b.raftID) is not a member"))
        }
        if health[rid] == b.healthy { return done(.success(changed: false)) }
        engine.apply(Array(jsonText(HealthEntry(raftID: b.raftID, healthy: b.healthy)).utf8)) { err in
            done(err.map { .failure("failed", "health: \($0)") } ?? .success(changed: true))
        }
    }

    // MARK: preference (priority / preempt)

    private var reachableSince: [UInt64: Date] = [:]

    private func priority(_ id: UInt64) -> Int { config.priorities[id] ?? 100 }

    /// A leader hands the Master role to a voter of higher priority that has been reachable for
    /// `preemptDelay` (keepalived's preempt): gracefully, so the VIP moves without a guard.
    private func checkPreempt(_ st: EngineStatus) {
        guard config.preempt, st.role == .leader, tracker.map({ $0.healthy == true }) ?? true else { reachableSince = [:]; return }
        let now = Date()
        var best: EngineMember?
        for m in st.members where m.role == .voter && m.id != config.raftID {
            guard m.reachable, health[m.id] != false else { reachableSince[m.id] = nil; continue }
            let since = reachableSince[m.id] ?? now
            reachableSince[m.id] = since
            if priority(m.id) > priority(config.raftID), now.timeIntervalSince(since) * 1000 >= Double(config.preemptDelayMs),
               priority(m.id) > best.map({ priority($0.id) }) ?? 0 {
                best = m
            }
        }
        guard let best, !releaseInFlight, !transferInFlight else { return }
        let name = name(of: best.id)
        if observer?.beginHandover() == true {
            log.notice("\(name) has priority \(priority(best.id)) > \(priority(config.raftID)): releasing the VIP (ToSlave), then handing the Master role over")
            phase = .releasing(deadline: Date().addingTimeInterval(releaseBudget), target: best.id)
        } else {
            log.notice("\(name) has priority \(priority(best.id)) > \(priority(config.raftID)): handing leadership over")
            handOver(to: best.id, recorded: false)
        }
    }
    private var transferInFlight = false
    /// The control request (transfer) waiting for a graceful handover to finish.
    private var handoverReply: ((ControlResponse) -> Void)?

    /// Transfers leadership to `target`; when that fails and a release was recorded, this leader
    /// voids it in the log (`claimed`) before it may be Master again.
    private func handOver(to target: UInt64, recorded: Bool) {
        phase = .running
        transferInFlight = true
        engine.transfer(to: target) { [weak self] err in
            guard let self else { return }
            self.transferInFlight = false
            if let err { self.log.warning("leadership transfer to \(self.name(of: target)): \(err)") }
            let st = self.engine.status()
            if let reply = self.handoverReply {
                self.handoverReply = nil
                if st.role == .leader {
                    reply(.failure("failed", "leadership transfer did not complete within the election timeout"))
                } else {
                    self.observe(st)
                    reply(.success(changed: true, status: self.statusInfo()))
                }
            }
            guard st.role == .leader else { return }
            self.reachableSince[target] = nil   // try again only after another preempt_delay
            guard recorded else { return self.observer?.cancelHandover() ?? () }
            self.releaseInFlight = true
            self.engine.apply(Array(jsonText(ReleaseEntry(op: "claimed", raftID: String(self.config.raftID), term: st.term)).utf8)) { [weak self] err in
                guard let self else { return }
                self.releaseInFlight = false
                if let err { return self.log.warning("voiding the release: \(err); not Master again in this term") }
                self.observer?.cancelHandover()
            }
        }
    }

    private var releaseInFlight = false

    private func transferOrStop(_ st: EngineStatus) {
        if st.role == .leader, let target = transferTarget(st) {
            log.notice("shutting down: transferring leadership first")
            phase = .transferring(deadline: Date().addingTimeInterval(Double(config.electionTimeoutMs) * 2 / 1000))
            engine.transfer(to: target) { [weak self] err in
                if let err { self?.log.warning("leadership transfer: \(err)") }
            }
        } else {
            finishStop()
        }
    }

    private func finishStop() {
        if case .stopped = phase { return }
        observe(engine.status())
        phase = .stopped
        engine.stop()
    }

    // MARK: control endpoint

    public func engineControlRequest(conn: UInt64, remote: Bool, peer: String, line: String) {
        guard let req = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8)) else {
            engine.respond(conn: conn, line: ControlResponse.failure("bad_request", "malformed request").line)
            return
        }
        if let why = auth.check(req, remote: remote) {
            log.warning("control: \(req.method) from \(peer) refused: \(why)")
            engine.respond(conn: conn, line: ControlResponse.failure("unauthorized", why).line)
            return
        }
        let reply: (ControlResponse) -> Void = { [weak self] r in self?.engine.respond(conn: conn, line: r.line) }
        guard case .running = phase else {
            reply(.failure("busy", "\(config.nodeName) is shutting down"))
            return
        }
        switch req.method {
        case "status":
            reply(.success(changed: false, status: statusInfo()))
        case "transfer":
            guard !remote else { return reply(.failure("bad_request", "transfer is only accepted on the unix socket")) }
            transferAway(reply)
        case "shutdown":
            // `raft leave` after this node was removed: stop as on SIGTERM.
            guard !remote else { return reply(.failure("bad_request", "shutdown is only accepted on the unix socket")) }
            log.notice("control: shutdown requested (node left the cluster)")
            reply(.success(changed: true))
            after(0.1) { [weak self] in self?.beginStop() }
        case "join":
            guard let b = try? JSONDecoder().decode(JoinBody.self, from: Data(req.body.utf8)), !b.id.isEmpty,
                  splitHostPort(b.addr) != nil else {
                return reply(.failure("bad_request", "join: expected {\"id\":…,\"addr\":\"host:port\"}"))
            }
            log.info("control: join \(b.id) \(b.addr) from \(peer)")
            enqueue("join \(b.id)", reply) { [weak self] done in self?.join(b, done) }
        case "health":
            guard let b = try? JSONDecoder().decode(HealthEntry.self, from: Data(req.body.utf8)) else {
                return reply(.failure("bad_request", "health: expected {\"raft_id\":…,\"healthy\":true|false}"))
            }
            recordHealth(b, reply)
        case "remove":
            guard let b = try? JSONDecoder().decode(RemoveBody.self, from: Data(req.body.utf8)), !b.id.isEmpty else {
                return reply(.failure("bad_request", "remove: expected {\"id\":…}"))
            }
            log.info("control: remove \(b.id) from \(peer)")
            enqueue("remove \(b.id)", reply) { [weak self] done in self?.remove(b, done) }
        default:
            reply(.failure("bad_request", "unknown method '\(req.method)'"))
        }
    }

    // MARK: a node removed while it was away

    /// A node that has seen no leader for `orphanAfter` asks the other members' control
    /// endpoints (signed) whether their leader still lists it: removed while it was down, or
    /// restarted on old data, it hears nothing through raft (no leader sends to a non-member)
    /// and would otherwise stay candidate and claim to be a member forever.
    public var orphanAfter: Double = 5
    private var noLeaderSince: Date?
    private var probeNext = Date.distantPast
    private var probing = false
    private let probeLock = Lock()
    private var probeResult: String??   // set by the probe thread: .some(leader name or nil)
    /// The leader whose configuration no longer lists this node.
    private var removedBy: String?

    private func checkRemoved(_ st: EngineStatus) {
        if let r = probeLock.withLock({ () -> String?? in defer { probeResult = nil }; return probeResult }) {
            probing = false
            if let leader = r, removedBy == nil {
                log.notice("this node was removed from the cluster: leader \(leader)'s configuration does not list it (run `ezlb raft join` to come back)")
            }
            removedBy = r
        }
        if st.role == .leader || st.leaderID != nil {
            noLeaderSince = nil
            removedBy = nil
            return
        }
        let now = Date()
        let since = noLeaderSince ?? now
        noLeaderSince = since
        guard !probing, now >= probeNext, now.timeIntervalSince(since) >= orphanAfter else { return }
        let me = String(config.raftID)
        let targets = st.members.filter { $0.id != config.raftID }.compactMap { memberControlEndpoint($0.address) }
        guard !targets.isEmpty else { return }
        probing = true
        probeNext = now.addingTimeInterval(orphanAfter)
        let secret = self.secret
        let t = PosixThread { [weak self] in
            var verdict: String?
            for target in targets {
                let req = ControlRequest.make(method: "status", body: "{}", secret: secret, to: target)
                guard let r = try? ControlClient.call(target, req, timeout: 2), r.ok, let s = r.status, s.role == "leader" else { continue }
                if !s.members.contains(where: { $0.raftID == me }) { verdict = s.node }
                break
            }
            guard let self else { return }
            self.probeLock.withLock { self.probeResult = .some(verdict) }
        }
        t.name = "ezlb-probe"
        if !t.start() { probing = false }
    }

    /// Refused raft connections, at most one warning per 10 s (a flood must not flood the log).
    private func reportRefused(_ st: EngineStatus) {
        guard st.refused > refusedReported, Date() >= nextRefusedReport else { return }
        log.warning("refused \(st.refused - refusedReported) raft connection(s) that did not prove the cluster secret (last from \(st.refusedPeer))")
        refusedReported = st.refused
        nextRefusedReport = Date().addingTimeInterval(10)
    }

    public func statusInfo() -> RaftStatusInfo {
        let st = engine.status()
        let members = st.members.map {
            MemberInfo(id: name(of: $0.id), raftID: String($0.id), addr: $0.address, role: $0.role.rawValue)
        }
        let leader = st.leaderID.map { MemberInfo(id: name(of: $0), raftID: String($0), addr: st.leaderAddress ?? "", role: "voter") }
        return RaftStatusInfo(node: config.nodeName, raftID: String(config.raftID), addr: config.address,
                              role: st.role.rawValue, term: st.term, leader: leader,
                              member: st.members.contains { $0.id == config.raftID } && removedBy == nil, members: members,
                              hook: observer?.lastEvent, lastIndex: st.lastIndex, appliedIndex: st.lastApplied,
                              refusedConnections: st.refused, refusedLastPeer: st.refused == 0 ? nil : st.refusedPeer,
                              healthy: tracker.map { $0.healthy ?? false },
                              unhealthy: st.members.filter { health[$0.id] == false }.map { name(of: $0.id) }.sorted())
    }

    /// Membership changes run one at a time, in arrival order.
    private func enqueue(_ what: String, _ reply: @escaping (ControlResponse) -> Void,
                         _ op: @escaping (@escaping (ControlResponse) -> Void) -> Void) {
        let run = { [weak self] in
            op { r in
                reply(r)
                self?.opRunning = false
                self?.next()
            }
        }
        queue.append((what, run))
        next()
    }

    private func next() {
        guard !opRunning, !queue.isEmpty else { return }
        opRunning = true
        let (_, run) = queue.removeFirst()
        run()
    }

    /// The answer for a member that is not the leader.
    private func notLeader(_ st: EngineStatus) -> ControlResponse {
        // A node with no configuration (started empty, never joined) knows no leader and
        // never will: say so, instead of "no leader yet" that clients retry until their timeout.
        if st.members.isEmpty {
            return .failure("not_member", "\(config.nodeName) is not a member of a cluster (it waits to be joined); ask a member")
        }
        if let addr = st.leaderAddress, let ep = config.controlAddress(addr) {
            return .failure("not_leader", "\(config.nodeName) is not the leader", redirect: ep)
        }
        return .failure("no_leader", "no leader elected yet; retry")
    }

    /// Runs a configuration change, retrying while libraft reports another
    /// change in progress (e.g. right after an election).
    private func change(_ what: String, attempts: Int = 25,
                        _ op: @escaping (@escaping (RaftEngineError?) -> Void) -> Void,
                        _ done: @escaping (RaftEngineError?) -> Void) {
        op { [weak self] err in
            if let err, err.code == 11 /* RAFT_CANTCHANGE */, attempts > 1, let self {
                self.after(0.2) { self.change(what, attempts: attempts - 1, op, done) }
            } else {
                done(err)
            }
        }
    }

    private func after(_ seconds: Double, _ body: @escaping () -> Void) {
        // The poll tick drives delayed work: no extra timers needed.
        let deadline = Date().addingTimeInterval(seconds)
        delayed.append((deadline, body))
    }
    private var delayed: [(Date, () -> Void)] = []

    /// Called from the tick: runs delayed work whose time has come.
    func runDelayed() {
        let now = Date()
        let due = delayed.filter { $0.0 <= now }
        delayed.removeAll { $0.0 <= now }
        for (_, b) in due { b() }
    }

    private func join(_ b: JoinBody, _ done: @escaping (ControlResponse) -> Void) {
        let st = engine.status()
        guard st.role == .leader else { return done(notLeader(st)) }
        let rid = config.numericID(b.id)
        if let other = st.members.first(where: { $0.address == b.addr && $0.id != rid }) {
            return done(.failure("failed", "address \(b.addr) already belongs to member \(name(of: other.id))"))
        }
        let existing = st.members.first { $0.id == rid }
        if let e = existing, e.address != b.addr {
            return done(.failure("failed", "\(b.id) is already a member at \(e.address); remove it first"))
        }
        if existing?.role == .voter {
            return done(.success(changed: false, status: statusInfo()))
        }
        let entry = NameEntry(raftID: String(rid), id: b.id, addr: b.addr)
        let fail: (String, RaftEngineError) -> Void = { [weak self] step, err in
            guard let self else { return }
            self.log.error("join \(b.id): \(step): \(err)")
            // Roll back an add this request made, so nothing is left half-done.
            if existing == nil, self.engine.status().members.contains(where: { $0.id == rid }) {
                self.change("remove", { self.engine.remove(id: rid, completion: $0) }) { rerr in
                    if let rerr { self.log.error("join \(b.id): rollback: \(rerr)") }
                    done(.failure("failed", "join \(b.id): \(err) (rolled back)"))
                }
            } else {
                done(.failure("failed", "join \(b.id): \(err)"))
            }
        }
        // 1. record the name, 2. add as spare, 3. standby (replicates the
        //    log: catch-up), 4. voter (libraft runs catch-up rounds first).
        engine.apply(Array(jsonText(entry).utf8)) { [weak self] err in
            guard let self else { return }
            if let err { return fail("recording the name", err) }
            let assignVoter = {
                self.change("assign voter", { self.engine.assign(id: rid, role: .voter, completion: $0) }) { err in
                    if let err { return fail("promoting to voter", err) }
                    self.log.notice("\(b.id) (\(b.addr)) joined as voter")
                    done(.success(changed: true, status: self.statusInfo()))
                }
            }
            let assignStandby = {
                self.change("assign standby", { self.engine.assign(id: rid, role: .standby, completion: $0) }) { err in
                    if let err { return fail("assigning standby", err) }
                    assignVoter()
                }
            }
            switch existing?.role {
            case nil:
                self.change("add", { self.engine.add(id: rid, address: b.addr, completion: $0) }) { err in
                    if let err { return fail("adding as spare", err) }
                    assignStandby()
                }
            case .spare: assignStandby()
            default: assignVoter()
            }
        }
    }

    private func remove(_ b: RemoveBody, _ done: @escaping (ControlResponse) -> Void) {
        let st = engine.status()
        guard st.role == .leader else { return done(notLeader(st)) }
        let rid = UInt64(b.id).flatMap { n in st.members.contains { $0.id == n } ? n : nil } ?? config.numericID(b.id)
        guard st.members.contains(where: { $0.id == rid }) else {
            return done(.success(changed: false, status: statusInfo()))
        }
        if rid == config.raftID {
            return done(.failure("failed", "\(b.id) is the leader: transfer leadership first (ezlb raft leave does)"))
        }
        // The voters left must still have a reachable majority, or the cluster stops (no
        // Master) until the unreachable ones return.
        let after = st.members.filter { $0.role == .voter && $0.id != rid }
        let reachable = after.filter(\.reachable).count
        // A leader elected moments ago (e.g. by the handover of `raft leave` itself) has not
        // heard from every voter yet: ask again once it has led for an election timeout.
        let led = leaderTermSince.map { $0.term == st.term ? Date().timeIntervalSince($0.at) : 0 } ?? 0
        let timeout = Double(config.electionTimeoutMs) / 1000
        if !after.isEmpty, reachable * 2 <= after.count, b.force != true, led < timeout {
            return self.after(timeout - led + 0.05) { [weak self] in self?.remove(b, done) }
        }
        if !after.isEmpty, reachable * 2 <= after.count, b.force != true {
            let down = after.filter { !$0.reachable }.map { config.configNames[$0.id]?.name ?? $0.address }
            return done(.failure("failed", "removing \(b.id) would leave \(after.count) voters of which \(reachable) are reachable (not reachable: \(down.joined(separator: ", "))): no majority; bring them back first, or force it (raft leave --force)"))
        }
        change("remove", { self.engine.remove(id: rid, completion: $0) }) { [weak self] err in
            guard let self else { return }
            if let err {
                // The new configuration may be in the log although its commit failed (a forced
                // removal without a reachable majority, leadership lost): say what is true.
                if !self.engine.status().members.contains(where: { $0.id == rid }) {
                    self.log.warning("\(b.id): the configuration without it is in the log but not committed (\(err))")
                    return done(.failure("pending", "remove \(b.id): the configuration without it is in the log but not committed (\(err)); it takes effect once a majority of voters is reachable"))
                }
                return done(.failure("failed", "remove \(b.id): \(err)"))
            }
            self.log.notice("\(b.id) removed from the cluster")
            done(.success(changed: true, status: self.statusInfo()))
        }
    }

    private func transferAway(_ done: @escaping (ControlResponse) -> Void) {
        let st = engine.status()
        guard st.role == .leader else { return done(.success(changed: false, status: statusInfo())) }
        guard let target = transferTarget(st) else {
            let any = st.members.contains { $0.role == .voter && $0.id != config.raftID }
            return done(.failure("failed", any ? "no other voter is reachable to take leadership" : "no other voter to transfer leadership to"))
        }
        // A Master hands over gracefully (raft leave): ToSlave, the release in the log, then
        // the transfer; the answer comes when the transfer is done (handOver).
        if case .running = phase, !releaseInFlight, !transferInFlight, observer?.beginHandover() == true {
            log.notice("leadership transfer requested: releasing the VIP (ToSlave), then handing the Master role to \(name(of: target))")
            handoverReply = done
            phase = .releasing(deadline: Date().addingTimeInterval(releaseBudget), target: target)
            return
        }
        engine.transfer(to: target) { [weak self] err in
            guard let self else { return }
            if let err { return done(.failure("failed", "\(err)")) }
            let now = self.engine.status()
            if now.role == .leader {
                done(.failure("failed", "leadership transfer did not complete within the election timeout"))
            } else {
                self.observe(now)
                done(.success(changed: true, status: self.statusInfo()))
            }
        }
    }
}
