import EzlbCore

/// The xfrm backend contract: the running kernel (libnl-xfrm) or the fake kernel.
public protocol XfrmBackend: AnyObject {
    /// Every policy and state the kernel holds (keys of states included for comparison).
    func dump() throws -> XfrmTables
    /// Several writes whose order among themselves is kept but that do not depend on each
    /// other's success (one planner phase): every one is attempted; nil = done. The kernel
    /// backend sends them in batches.
    func applyBatch(_ ops: [XfrmOperation]) -> [XfrmError?]
    /// Persists (fake) or does nothing (kernel: every write is already applied).
    func commit() throws
    /// Number of kernel writes made so far (0 on a converged run).
    var writes: Int { get }
    /// The digest (`StateDigest`) of every policy and SA the kernel holds now, any tool's,
    /// without what traffic and time change (lifetime counters, statistics, replay counters,
    /// last use) and independent of the order they are listed in; read without parsing
    /// objects. nil when it cannot be made (the caller then takes the full path).
    func currentDigest() -> [UInt8]?
    /// The same digest of exactly what the last `dump()` returned; nil before any dump.
    var dumpDigest: [UInt8]? { get }
}

extension XfrmBackend {
    /// One write; throws its `XfrmError`.
    public func apply(_ op: XfrmOperation) throws {
        if let e = applyBatch([op]).first ?? nil { throw e }
    }
}
