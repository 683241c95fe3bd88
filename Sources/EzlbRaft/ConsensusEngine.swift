/// The consensus engine behind `ezlb raft serve`, as an interface so the
/// implementation can be swapped (libraft 0.15 today; upstream continues as
/// cowsql/raft). One thread owns the engine: every method except `wakeup`
/// must be called on it (from a delegate callback, or before `run`).
import EzlbCore

public enum EngineRole: String, Sendable {
    case unavailable, follower, candidate, leader
}

public enum MemberRole: String, Sendable, Codable {
    /// Replicates the log and votes.
    case voter
    /// Replicates the log, does not vote.
    case standby
    /// Neither replicates nor votes (a node just added).
    case spare
}

public struct EngineMember: Sendable, Equatable {
    public var id: UInt64
    public var address: String
    public var role: MemberRole
    /// Leader only: acknowledged this node as leader within the last election timeout
    /// (always true for the leader itself; false on other nodes).
    public var reachable: Bool
    public init(id: UInt64, address: String, role: MemberRole, reachable: Bool = false) {
        self.id = id
        self.address = address
        self.role = role
        self.reachable = reachable
    }
}

/// What the engine reports when polled.
public struct EngineStatus: Sendable, Equatable {
    public var role: EngineRole
    public var term: UInt64
    public var leaderID: UInt64?
    public var leaderAddress: String?
    public var members: [EngineMember]
    public var lastIndex: UInt64
    public var lastApplied: UInt64
    /// Leader that heard from a majority of voters within the last election
    /// timeout. libraft 0.15 itself notices a lost majority only up to two
    /// election timeouts late; the Master role follows this lease instead.
    public var leaderLease: Bool = false
    /// Raft connections refused because the peer did not prove the cluster secret
    /// (or sent a frame with a bad MAC), and the last one's address.
    public var refused: UInt64 = 0
    public var refusedPeer: String = ""
}

/// A failed engine call: which call, its code (RAFT_* or UV_*) and message.
public struct RaftEngineError: EzlbError, Sendable {
    public var exitStatus: ExitStatus { .failure }
    public var call: String
    public var code: Int32
    public var message: String
    public init(call: String, code: Int32, message: String) {
        self.call = call
        self.code = code
        self.message = message
    }
    public var description: String { "\(call): \(message)" }
}

/// Callbacks from the engine, all on the engine thread.
public protocol ConsensusEngineDelegate: AnyObject {
    /// The poll timer fired (leadership is observed here).
    func engineTick()
    /// A committed command entry.
    func engineApply(_ entry: [UInt8])
    /// The replicated state, for a snapshot.
    func engineSnapshot() -> [UInt8]
    /// Replace the replicated state with a snapshot's.
    func engineRestore(_ snapshot: [UInt8])
    func engineSignal(_ signal: Int32)
    /// `wakeup()` was called from another thread.
    func engineWakeup()
    /// One request line from a control connection; answer with `respond(conn:line:)`.
    func engineControlRequest(conn: UInt64, remote: Bool, peer: String, line: String)
}

public protocol ConsensusEngine: AnyObject {
    var delegate: ConsensusEngineDelegate? { get set }
    /// Starts the engine, the poll timer (`pollMs`) and the signal watchers.
    func start(pollMs: UInt32) throws
    func listenUnix(path: String) throws
    func listenTCP(host: String, port: Int) throws
    /// Runs until `stop()` has closed everything.
    func run()
    /// Closes the engine and every handle; `run` then returns.
    func stop()
    /// Thread-safe: calls `delegate.engineWakeup()` on the engine thread.
    func wakeup()
    func status() -> EngineStatus
    func respond(conn: UInt64, line: String)

    // Leader operations; the completion runs on the engine thread exactly once.
    func add(id: UInt64, address: String, completion: @escaping (RaftEngineError?) -> Void)
    func assign(id: UInt64, role: MemberRole, completion: @escaping (RaftEngineError?) -> Void)
    func remove(id: UInt64, completion: @escaping (RaftEngineError?) -> Void)
    /// Transfers leadership (`to` 0: any voter); completes when done or timed out.
    func transfer(to: UInt64, completion: @escaping (RaftEngineError?) -> Void)
    /// Appends a command entry; completes once it is committed and applied.
    func apply(_ entry: [UInt8], completion: @escaping (RaftEngineError?) -> Void)
    /// Leader: completes once every earlier entry is committed and applied.
    func barrier(completion: @escaping (RaftEngineError?) -> Void)
}
