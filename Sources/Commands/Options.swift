import ArgumentParser
import EzlbCore
import EzlbReconcile
import EzlbState
import Kernel
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension BackendKind: ExpressibleByArgument {}
extension FirewallChoice: ExpressibleByArgument {}

/// `--firewall` of the commands that write firewall rules (snat, bridge masquerade).
public struct FirewallOptions: ParsableArguments {
    public init() {}
    @Option(name: .customLong("firewall"),
            help: ArgumentHelp("Firewall interface for ezlb's rules: what the host uses (auto), nftables or iptables (legacy x_tables). Env: EZLB_FIREWALL; config key firewall. [default: auto]",
                               valueName: "auto|nftables|iptables"))
    public var firewall: FirewallChoice?

    /// The flag, else EZLB_FIREWALL (nil: the config's key, else auto). A bad variable is a usage error.
    public static func resolve(_ flag: FirewallChoice?) throws -> FirewallChoice? {
        if let flag { return flag }
        guard let e = CommonValues.env("EZLB_FIREWALL") else { return nil }
        guard let c = FirewallChoice(rawValue: e) else { throw Failure.usage("EZLB_FIREWALL: '\(e)': expected auto, nftables or iptables") }
        return c
    }
}
extension OutputFormat: ExpressibleByArgument {}

/// Options shared by every kernel-facing subcommand.
public struct CommonOptions: ParsableArguments {
    public init() {}

    @Option(name: [.short, .customLong("config")],
            help: ArgumentHelp("Config file (YAML). Env: EZLB_CONFIG. [default: /etc/ezlb/ezlb.yaml]", valueName: "path"),
            completion: .file(extensions: ["yaml", "yml"]))
    public var configOption: String?

    @Option(name: .customLong("state-dir"),
            help: ArgumentHelp("State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]", valueName: "dir"),
            completion: .directory)
    public var stateDirOption: String?

    @Option(name: .customLong("backend"),
            help: ArgumentHelp("Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]", valueName: "kernel|fake"))
    public var backendOption: BackendKind?

    @Flag(name: .customLong("dry-run"), help: "Print the plan; change nothing.")
    public var dryRun = false

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Result format on stdout.", valueName: "text|json"))
    public var output: OutputFormat = CommonValues.defaultOutput

    @Flag(name: [.short, .customLong("verbose")], help: "More detail on stderr (repeat for debug).")
    public var verbosity: Int

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 (instead of 0) when something changed or would change.")
    public var detailedExitcode = false

    @Flag(name: [.short, .customLong("quiet")], help: "Print nothing when nothing changed and nothing failed (for cron); errors still go to stderr.")
    public var quiet = false

    @Option(name: .customLong("metrics-file"),
            help: ArgumentHelp("After the run, write how it went as Prometheus text to this file (node_exporter's textfile collector; one file per command). Env: EZLB_METRICS_FILE.", valueName: "path"),
            completion: .file(extensions: ["prom"]))
    public var metricsFile: String?

    /// The parsed values as a plain struct (what the runner uses, and what FastParse builds).
    public var values: CommonValues {
        CommonValues(config: CommonValues.config(configOption), stateDirOption: stateDirOption, backendOption: backendOption, dryRun: dryRun,
                     output: output, verbosity: verbosity, detailedExitcode: detailedExitcode, quiet: quiet,
                     metricsFile: CommonValues.metricsFile(metricsFile))
    }

    public mutating func validate() throws { try values.validate() }
}

/// `CommonOptions` as plain values: what commands hand the runner and the reconcilers, and
/// what the per-operation fast path (FastParse.swift) builds without ArgumentParser's
/// property wrappers (their first initialisation is a conformance-table scan).
public struct CommonValues: Equatable, Sendable {
    public static let defaultConfig = "/etc/ezlb/ezlb.yaml"
    public static let defaultOutput = OutputFormat.text
    public var config = CommonValues.defaultConfig
    public var stateDirOption: String? = nil
    public var backendOption: BackendKind? = nil
    public var dryRun = false
    public var output = CommonValues.defaultOutput
    public var verbosity = 0
    public var detailedExitcode = false
    /// `-q`: no output when nothing changed and nothing failed.
    public var quiet = false
    /// `--metrics-file` (else EZLB_METRICS_FILE): where the run's Prometheus metrics go.
    public var metricsFile: String? = nil
    /// `--allow-empty` of the commands that take it (ipvs apply/plan, snat sync, xfrm sync).
    public var allowEmpty = false

    public init(config: String = CommonValues.defaultConfig, stateDirOption: String? = nil, backendOption: BackendKind? = nil,
                dryRun: Bool = false, output: OutputFormat = CommonValues.defaultOutput, verbosity: Int = 0, detailedExitcode: Bool = false,
                quiet: Bool = false, metricsFile: String? = nil) {
        self.quiet = quiet
        self.metricsFile = metricsFile
        self.config = config
        self.stateDirOption = stateDirOption
        self.backendOption = backendOption
        self.dryRun = dryRun
        self.output = output
        self.verbosity = verbosity
        self.detailedExitcode = detailedExitcode
    }

    func allowingEmpty(_ allow: Bool) -> CommonValues {
        var v = self
        v.allowEmpty = allow
        return v
    }

    /// An environment variable (getenv: ProcessInfo.environment copies the whole environment).
    static func env(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// `-c`, else EZLB_CONFIG, else /etc/ezlb/ezlb.yaml (`validate()` refuses an empty EZLB_CONFIG).
    static func config(_ option: String?) -> String {
        option ?? env("EZLB_CONFIG").flatMap { $0.isEmpty ? nil : $0 } ?? defaultConfig
    }

    /// `--metrics-file`, else EZLB_METRICS_FILE (set but empty: none).
    static func metricsFile(_ option: String?) -> String? {
        option ?? env("EZLB_METRICS_FILE").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// How long to wait for another run's lock (env EZLB_LOCK_TIMEOUT, seconds; default 60).
    public var lockTimeout: Int { Int(Self.env("EZLB_LOCK_TIMEOUT") ?? "") ?? 60 }

    public var stateDir: String {
        if let s = stateDirOption { return s }
        if let e = Self.env("EZLB_STATE_DIR"), !e.isEmpty { return e }
        return "/var/lib/ezlb"
    }

    /// The backend (flag, else EZLB_BACKEND, else the kernel); `validate()` vetted the variable.
    public var backend: BackendKind {
        backendOption ?? Self.env("EZLB_BACKEND").flatMap(BackendKind.init(rawValue:)) ?? .kernel
    }

    public func validate() throws {
        // Set but empty is refused, not read as unset: `EZLB_BACKEND=$UNSET_VAR ezlb …` must not
        // reach the real kernel, nor an empty EZLB_STATE_DIR the system's state directory.
        if let e = Self.env("EZLB_BACKEND"), backendOption == nil, BackendKind(rawValue: e) == nil {
            throw ValidationError("EZLB_BACKEND: '\(e)': expected kernel or fake")
        }
        if Self.env("EZLB_CONFIG") == "" {
            throw ValidationError("EZLB_CONFIG: '': must not be empty (unset it for /etc/ezlb/ezlb.yaml)")
        }
        if stateDirOption == nil, Self.env("EZLB_STATE_DIR") == "" {
            throw ValidationError("EZLB_STATE_DIR: '': must not be empty (unset it for /var/lib/ezlb)")
        }
        if stateDir.isEmpty { throw ValidationError("--state-dir: must not be empty") }
        let k = StateDirectory.kind(of: stateDir)
        if k.exists, !k.isDirectory {
            throw ValidationError("--state-dir: '\(stateDir)' exists and is not a directory")
        }
        if let t = Self.env("EZLB_LOCK_TIMEOUT"), (Int(t) ?? -1) < 0 {
            throw ValidationError("EZLB_LOCK_TIMEOUT: '\(t)': expected whole seconds >= 0")
        }
    }

    /// What the reconcilers work with. `optionalConfig`: the config may be absent at its
    /// default path (ipam, doctor); `configPath` is then "".
    public func context(log: Logger, optionalConfig: Bool = false) -> ReconcileContext {
        let path = optionalConfig && config == Self.defaultConfig && !StateDirectory.kind(of: config).exists ? "" : config
        return ReconcileContext(stateDir: stateDir, backend: backend, configPath: path, dryRun: dryRun, allowEmpty: allowEmpty,
                                lockTimeout: lockTimeout, log: log)
    }
}
