import CEzlbShim
import Glibc
import EzlbCore
import EzlbState

/// Opens the backend a command asked for.
public enum KernelBackends {
    public enum Kind: Sendable { case kernel, fake }

    /// For a one-shot run over large tables (`ipvs apply`, `snat sync`, `xfrm sync`, their
    /// cleanups): keeps freed heap memory for reuse (glibc's mmap and trim thresholds raised)
    /// instead of giving it back and faulting fresh pages in again. Never for the long-lived
    /// `raft serve`, which would keep its peak heap for good.
    public static func tuneHeapForBatch() { ezlb_tune_malloc() }

    /// How often `tuneHeapForBatch` ran in this process.
    public static var heapTunings: Int { Int(ezlb_malloc_tunings()) }

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
