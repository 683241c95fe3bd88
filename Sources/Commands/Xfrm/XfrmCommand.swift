import ArgumentParser

/// `ezlb xfrm …`: node-to-node IPsec (ESP tunnel mode) between managed pods only.
public struct XfrmCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "xfrm",
        abstract: "Reconcile IPsec (xfrm) policies and ESP states that encrypt traffic between managed pods on different nodes.",
        discussion: """
        Reads the ipsec: section of the config. Per peer node: ESP tunnel-mode SAs out (local -> peer) \
        and in (peer -> local) with keys and SPIs derived from the pre-shared key (HKDF-SHA256), and \
        policies out/in/fwd whose selectors are the managed pod prefixes of both nodes, so traffic \
        from or to unmanaged pods and the host never matches an ezlb policy. ezlb owns only policies \
        at its priority with templates in its reqid range and SAs in that range (recorded in \
        <state-dir>/xfrm.json); it never flushes. Key rotation: bump ipsec.generation.
        """,
        subcommands: [XfrmSync.self, XfrmShow.self, XfrmCleanup.self]
    )
}
