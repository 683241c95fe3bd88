import EzlbConfig

/// What libraft says about this node at one poll.
public enum RaftRole: String, Sendable, CaseIterable {
    case follower, candidate, leader
    /// The engine is not running (starting, stopping, failed).
    case unavailable
}

/// One poll of the engine (ENGINE calls `HookDispatcher.observe` with it every 50–100 ms).
public struct LeadershipSample: Sendable, Equatable {
    public var role: RaftRole
    /// String id of the current leader, nil when unknown.
    public var leaderID: String?
    public var term: UInt64
    /// This node leads in the term right after a Master that released the VIP (its ToSlave
    /// succeeded) and recorded so in the log before handing leadership over: no VIP can be
    /// bound anywhere, so ToMaster needs no master_guard.
    public var handover: Bool
    /// This node is fit to be Master (`track:` passes, or there is no track section).
    public var eligible: Bool

    public init(role: RaftRole, leaderID: String?, term: UInt64, handover: Bool = false, eligible: Bool = true) {
        self.role = role
        self.leaderID = leaderID
        self.term = term
        self.handover = handover
        self.eligible = eligible
    }
}

/// What the dispatcher asks of the engine.
public protocol DispatcherActions: AnyObject, Sendable {
    /// A ToMaster hook failed with on_failure=abort (or retry, every attempt failed): the engine must transfer
    /// leadership away (raft_transfer). Called from the dispatcher's own thread, never while it holds its lock;
    /// the engine marshals it onto its loop (uv_async_send). The dispatcher then runs ToSlave itself.
    func abandonLeadership()
}
