import EzlbCore

/// The contract every iptables backend (libiptc, fake) fulfils, digests included: a
/// digest of a table's scope (`XTDigestScope`, made with `StateDigest`) is equal for two
/// tables exactly when the managed-chain planner reads equal chains from them. Counters
/// never count.
public protocol XTBackend: AnyObject {
    /// The named chains of a table; chains that do not exist are absent.
    func read(_ ref: XTTableRef, chains: [String]) throws -> XTTableState
    /// Every chain of a table, and the built-in chains' policies (`ezlb doctor`).
    func readAll(_ ref: XTTableRef) throws -> (state: XTTableState, policies: [String: String])
    /// Applies `ops` in order and commits the table once (atomically: all or nothing). With
    /// `scope`, returns the digest of it in the table as committed (nil when it cannot be
    /// made; the commit happened all the same).
    @discardableResult
    func commit(_ ref: XTTableRef, _ ops: [XTOperation], digest scope: XTDigestScope?) throws -> [UInt8]?
    /// The digest of `scope` in the table as the last `read` of it returned it; nil when it
    /// was not read (or was committed since).
    func readDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]?
    /// The digest of `scope` in the table as the kernel holds it now, read without building
    /// anything per rule; nil when it cannot be made (the caller then takes the full path).
    func currentDigest(_ ref: XTTableRef, scope: XTDigestScope) -> [UInt8]?
}

extension XTBackend {
    public func commit(_ ref: XTTableRef, _ ops: [XTOperation]) throws {
        try commit(ref, ops, digest: nil)
    }
}
