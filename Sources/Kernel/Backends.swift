import CEzlbShim
import EzlbCore
import EzlbState

/// Where changes go: the running kernel, or the fake kernel kept in the state directory.
public enum BackendKind: String, CaseIterable, Sendable {
    case kernel, fake
}

/// The one factory of backends: each subsystem's contract on the kernel or on the fake. On
/// the fake every backend opened here shares one `FakeKernel` (one lock, one file).
public final class Backends {
    public let kind: BackendKind
    public let stateDir: StateDirectory
    /// Seconds to wait for the xtables lock.
    public let lockTimeout: Int
    private var fake: FakeKernel?
    /// Opened once per run: every caller of one run shares the socket.
    private var nft: NFTBackend?
    private var links: BridgeBackend?

    public init(kind: BackendKind, stateDir: StateDirectory, lockTimeout: Int = 60) {
        self.kind = kind
        self.stateDir = stateDir
        self.lockTimeout = lockTimeout
    }

    /// The fake kernel, loaded (and locked) at first use.
    public func fakeKernel() throws -> FakeKernel {
        if let f = fake { return f }
        let f = try FakeKernel(dir: stateDir, lockTimeout: lockTimeout)
        fake = f
        return f
    }

    /// IPVS: generic netlink, or the fake.
    public func ipvs() throws -> IPVSBackend {
        kind == .fake ? FakeIPVS(kernel: try fakeKernel()) : try NetlinkIPVS()
    }

    /// iptables: libiptc under the xtables lock, or the fake.
    public func xtables() throws -> XTBackend {
        kind == .fake ? FakeXTBackend(kernel: try fakeKernel()) : try LibIPTCBackend(lockTimeout: lockTimeout)
    }

    /// nftables: libnftnl in the process's network namespace, or the fake.
    public func nftables() throws -> NFTBackend {
        if let n = nft { return n }
        let n: NFTBackend = kind == .fake ? FakeNFTBackend(kernel: try fakeKernel()) : try LibNftnlBackend()
        nft = n
        return n
    }

    /// xfrm: libnl-xfrm in the process's network namespace, or the fake.
    public func xfrm() throws -> XfrmBackend {
        kind == .fake ? FakeXfrmBackend(kernel: try fakeKernel()) : try NetlinkXfrm()
    }

    /// Links, addresses, routes and namespaces: libnl-route-3, or the fake.
    public func bridge() throws -> BridgeBackend {
        if let l = links { return l }
        let l: BridgeBackend = kind == .fake ? FakeBridge(kernel: try fakeKernel()) : try NetlinkBridge()
        links = l
        return l
    }

    /// For a one-shot run over large tables (`ipvs apply`, `snat sync`, `xfrm sync`, their
    /// cleanups): keeps freed heap memory for reuse (glibc's mmap and trim thresholds raised)
    /// instead of giving it back and faulting fresh pages in again. Never for the long-lived
    /// `raft serve`, which would keep its peak heap for good.
    public static func tuneHeapForBatch() { ezlb_tune_malloc() }

    /// How often `tuneHeapForBatch` ran in this process.
    public static var heapTunings: Int { Int(ezlb_malloc_tunings()) }
}
