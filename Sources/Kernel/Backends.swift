import CEzlbShim
import Glibc
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

    /// Grows the heap at once by what a run that plans FullNAT rules will use, and has
    /// another thread populate the new pages (MADV_POPULATE_WRITE) while this one parses
    /// and plans, instead of taking each page's fault in turn on the command's own path
    /// (10,000 backends: ~4,000 faults, ~5 ms). The sizes are measured (bench/snat-sync):
    /// ~45 bytes of heap per config byte when the config is parsed (a 600 KB config of
    /// 10,000 backends: ~27 MB with the report's rendering), ~3 KB per backend when it
    /// comes from snat-config.cache. Under 4 MB, or beyond 64 MB, nothing / 64 MB.
    /// Returns true when the pages are being populated.
    @discardableResult
    public static func prefaultHeap(forConfigFile path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        return prefaultHeap(bytes: Int(st.st_size) * 45)
    }

    @discardableResult
    public static func prefaultHeap(forBackends n: Int) -> Bool { prefaultHeap(bytes: n * 3072) }

    static func prefaultHeap(bytes: Int) -> Bool {
        guard bytes >= 4 << 20 else { return false }
        return ezlb_prefault_heap(min(bytes, 64 << 20)) == 0
    }

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
