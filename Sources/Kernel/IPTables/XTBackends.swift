import EzlbCore
import EzlbState

extension KernelBackends {
    /// iptables on the running kernel (libiptc, under the xtables lock) or on the fake kernel in `stateDir`.
    public static func xtables(kind: Kind, stateDir: StateDirectory, lockTimeout: Int) throws -> XTBackend {
        switch kind {
        case .fake:
            return FakeXTBackend(kernel: try FakeKernel(dir: stateDir))
        case .kernel:
            return try LibIPTCBackend(lockTimeout: lockTimeout)
        }
    }
}
