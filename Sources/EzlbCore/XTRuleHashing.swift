extension XTRule {
    /// Hashes the addresses, ports and comment length only: cheap for sets of tens of thousands
    /// of rules (no comment strings hashed), and consistent with the synthesized
    /// `==` (equal rules have equal addresses, ports and comments). Rules differing only
    /// in other fields collide, which sets and dictionaries resolve with `==`.
    public func hash(into h: inout Hasher) {
        h.combine(source?.address.hashWord ?? 0)
        h.combine(destination?.address.hashWord ?? 0)
        h.combine(UInt64(sourcePort ?? 0) << 32 | UInt64(destinationPort ?? 0) << 16 | UInt64(comment?.utf8.count ?? 0xffff))
    }
}
