import CEzlbShim
import EzlbCore
import EzlbState

/// Opens the backend a command asked for.
public enum KernelBackends {
    public enum Kind: Sendable { case kernel, fake }

    /// Keeps freed heap memory for reuse (glibc mmap and trim thresholds raised):
    /// large tables allocate and free megabytes at a time, and every page given
    /// back is faulted in again later (a third of the page faults of a
    /// 25,000-object apply). Touches nothing outside the process.
    public static func tuneAllocator() { ezlb_tune_malloc() }

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
