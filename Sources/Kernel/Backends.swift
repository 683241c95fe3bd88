import EzlbCore
import EzlbState

/// Opens the backend a command asked for.
public enum KernelBackends {
    public enum Kind: Sendable { case kernel, fake }

    /// IPVS on the running kernel (generic netlink) or on the fake kernel in `stateDir`.
    public static func ipvs(kind: Kind, stateDir: StateDirectory) throws -> IPVSBackend {
        switch kind {
        case .fake:
            return FakeIPVS(kernel: try FakeKernel(dir: stateDir))
        case .kernel:
            return try NetlinkIPVS()
        }
    }
}
