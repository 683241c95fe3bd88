extension XTRule {
    /// Hashes the addresses, ports and comment length only: cheap for sets of tens of thousands
    /// of rules (no comment strings hashed), and consistent with
    /// `==` (the fields'; equal rules have equal addresses, ports and comments). Rules differing only
    /// in other fields collide, which sets and dictionaries resolve with `==`.
    public func hash(into h: inout Hasher) {
        h.combine(source?.address.hashWord ?? 0)
        h.combine(destination?.address.hashWord ?? 0)
        h.combine(UInt64(sourcePort ?? 0) << 32 | UInt64(destinationPort ?? 0) << 16 | UInt64(comment?.utf8.count ?? 0xffff))
    }
}

extension XTRule {
    /// A hash of every field that tells ezlb's own rules apart (the cheap `hash(into:)`
    /// leaves out the comment's text, the protocol and the target): for de-duplicating
    /// tens of thousands of rules by hash first and `==` only on a match.
    public var fullHash: Int {
        var h = Hasher()
        h.combine(source?.address.hashWord ?? 0)
        h.combine(UInt64(source?.length ?? 255) << 8 | UInt64(destination?.length ?? 255))
        h.combine(destination?.address.hashWord ?? 0)
        h.combine(UInt64(sourcePort ?? 0) << 32 | UInt64(destinationPort ?? 0) << 16 | UInt64(proto?.number ?? 0))
        h.combine(ctOrigin)
        h.combine(mark)
        h.combine(comment)
        h.combine(target)
        return h.finalize()
    }
}
