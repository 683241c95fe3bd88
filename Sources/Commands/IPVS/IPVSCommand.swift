import ArgumentParser

/// `ezlb ipvs …`: IPVS virtual services and real servers.
public struct IPVSCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "ipvs",
        abstract: "Reconcile IPVS virtual services and real servers with the config.",
        discussion: """
        ezlb owns only the services it created (recorded in <state-dir>/ipvs.json); \
        services made by keepalived, kube-proxy or ipvsadm are never changed or deleted.
        """,
        subcommands: [IPVSApply.self, IPVSPlanCommand.self, IPVSShow.self, IPVSHealth.self, IPVSCleanup.self]
    )
}
