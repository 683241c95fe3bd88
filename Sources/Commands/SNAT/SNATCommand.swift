import ArgumentParser

/// `ezlb snat …`: FullNAT — IPVS NAT plus iptables SNAT of the forwarded traffic.
public struct SNATCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "snat",
        abstract: "Reconcile the iptables rules FullNAT needs (SNAT/MASQUERADE towards backends, FORWARD accepts).",
        discussion: """
        For every service with full_nat: true, one rule per backend in the nat chain EZLB-SNAT \
        (jumped from POSTROUTING): SNAT to snat_ip, or MASQUERADE without one; and the filter chain \
        EZLB-FORWARD (jumped from the top of FORWARD) accepting the backends' replies, so FullNAT \
        works with a FORWARD policy of DROP. Rules are written with libiptc into the legacy \
        x_tables: list them with iptables-legacy-save (the nft variant of iptables does not show them). \
        ezlb owns only its EZLB-* chains and their jumps (recorded in <state-dir>/snat.json); \
        other rules are never touched.
        """,
        subcommands: [SNATSync.self, SNATShow.self, SNATCleanup.self]
    )
}
