import EzlbCore
import EzlbState

extension KernelBackends {
    /// xfrm on the running kernel (libnl-xfrm, in the process's network namespace) or on the fake kernel in `stateDir`.
    public static func xfrm(kind: Kind, stateDir: StateDirectory) throws -> XfrmBackend {
        switch kind {
        case .fake:
            return FakeXfrmBackend(kernel: try FakeKernel(dir: stateDir))
        case .kernel:
            return try NetlinkXfrm()
        }
    }
}
