import EzlbCore
import EzlbState
import Kernel
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What every reconciler works with: the state directory, the backends, the config file,
/// whether to change anything, how long to wait for locks, where to log.
public struct ReconcileContext {
    public var stateDir: StateDirectory
    public var backends: Backends
    public var configPath: String
    public var dryRun: Bool
    /// A config may state that nothing is to be managed (`--allow-empty`).
    public var allowEmpty: Bool
    public var lockTimeout: Int
    public var log: Logger
    /// `--firewall` or EZLB_FIREWALL (nil: the config's `firewall`, else auto).
    public var firewall: FirewallChoice? = nil

    public init(stateDir: String, backend: BackendKind, configPath: String, dryRun: Bool = false, allowEmpty: Bool = false,
                lockTimeout: Int = 60, log: Logger = Logger(label: "ezlb")) {
        self.allowEmpty = allowEmpty
        self.stateDir = StateDirectory(path: stateDir)
        backends = Backends(kind: backend, stateDir: self.stateDir, lockTimeout: lockTimeout)
        self.configPath = configPath
        self.dryRun = dryRun
        self.lockTimeout = lockTimeout
        self.log = log
    }

    /// Takes `<state-dir>/<name>.lock` (held while the result lives).
    func lock(_ name: String) throws -> FileLock {
        try stateDir.lock(name, timeoutSeconds: lockTimeout)
    }

    /// A convergence key for this run's backend.
    func key(_ subsystem: String) -> ConvergenceCache.Key {
        ConvergenceCache.Key(subsystem: subsystem, backend: backends.kind.rawValue)
    }

    /// The bytes of a state file as they are now (nil: no such file).
    func bytes(of name: String) throws -> [UInt8]? { try stateDir.readRaw(name) }
}

/// Logs how long each phase of a run took, at debug level (`-vv`).
public struct PhaseClock {
    private var last = monotonicNs()
    private let log: Logger

    public init(log: Logger) { self.log = log }

    public mutating func lap(_ phase: String) {
        let now = monotonicNs()
        let tenths = (now - last) / 100_000
        log.debug("\(phase): \(tenths / 10).\(tenths % 10) ms")
        last = now
    }
}

/// A progress line on stderr, shown only when stderr is a terminal and the work is large.
struct Progress {
    let total: Int
    let label: String
    let enabled: Bool

    init(total: Int, label: String) {
        self.total = total
        self.label = label
        enabled = isatty(2) == 1 && total >= 500
    }

    func update(_ done: Int) {
        guard enabled else { return }
        writeStandardError("\r\(label) \(done)/\(total)")
    }

    func finish() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[K")
    }
}

/// Seconds since the epoch (clock_gettime: no Foundation on the per-operation paths).
func unixTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1_000_000_000
}
