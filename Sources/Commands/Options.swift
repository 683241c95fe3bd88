import ArgumentParser
import EzlbCore
import EzlbState
#if canImport(Glibc)
import Glibc
#endif

public enum BackendKind: String, ExpressibleByArgument, CaseIterable, Sendable {
    case kernel, fake
}

public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Options shared by every kernel-facing subcommand.
public struct CommonOptions: ParsableArguments {
    public init() {}

    @Option(name: [.short, .customLong("config")], help: ArgumentHelp("Config file (YAML).", valueName: "path"))
    public var config: String = "/etc/ezlb/ezlb.yaml"

    @Option(name: .customLong("state-dir"),
            help: ArgumentHelp("State directory (ownership records, fake kernel). Env: EZLB_STATE_DIR. [default: /var/lib/ezlb]", valueName: "dir"))
    public var stateDirOption: String?

    @Option(name: .customLong("backend"),
            help: ArgumentHelp("Where changes go: the running kernel, or the fake kernel in <state-dir>/fake-kernel.json. Env: EZLB_BACKEND. [default: kernel]", valueName: "kernel|fake"))
    public var backendOption: BackendKind?

    @Flag(name: .customLong("dry-run"), help: "Print the plan; change nothing.")
    public var dryRun = false

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Result format on stdout.", valueName: "text|json"))
    public var output: OutputFormat = .text

    @Flag(name: [.short, .customLong("verbose")], help: "More detail on stderr (repeat for debug).")
    public var verbosity: Int

    @Flag(name: .customLong("detailed-exitcode"), help: "Exit 2 (instead of 0) when something changed or would change.")
    public var detailedExitcode = false

    /// The parsed values as a plain struct (what sessions and the runner use).
    public var values: CommonValues {
        CommonValues(config: config, stateDirOption: stateDirOption, backendOption: backendOption, dryRun: dryRun,
                     output: output, verbosity: verbosity, detailedExitcode: detailedExitcode)
    }

    public var lockTimeout: Int { values.lockTimeout }
    public var stateDir: String { values.stateDir }
    public func backend() throws -> BackendKind { try values.backend() }
    public mutating func validate() throws { try values.validate() }
}


/// `CommonOptions` as plain values: what sessions and `Runner` work with, and what the
/// per-operation fast path (FastParse.swift) builds without creating ArgumentParser's
/// property wrappers (their first initialisation is a conformance-table scan).
public struct CommonValues: Equatable, Sendable {
    public var config = "/etc/ezlb/ezlb.yaml"
    public var stateDirOption: String? = nil
    public var backendOption: BackendKind? = nil
    public var dryRun = false
    public var output: OutputFormat = .text
    public var verbosity = 0
    public var detailedExitcode = false

    public init(config: String = "/etc/ezlb/ezlb.yaml", stateDirOption: String? = nil, backendOption: BackendKind? = nil,
                dryRun: Bool = false, output: OutputFormat = .text, verbosity: Int = 0, detailedExitcode: Bool = false) {
        self.config = config
        self.stateDirOption = stateDirOption
        self.backendOption = backendOption
        self.dryRun = dryRun
        self.output = output
        self.verbosity = verbosity
        self.detailedExitcode = detailedExitcode
    }

    /// An environment variable (getenv: ProcessInfo.environment copies the whole environment).
    static func env(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// How long to wait for another run's lock (env EZLB_LOCK_TIMEOUT, seconds; default 60).
    public var lockTimeout: Int {
        Int(Self.env("EZLB_LOCK_TIMEOUT") ?? "") ?? 60
    }

    public var stateDir: String {
        if let s = stateDirOption { return s }
        if let e = Self.env("EZLB_STATE_DIR"), !e.isEmpty { return e }
        return "/var/lib/ezlb"
    }

    public func backend() throws -> BackendKind {
        if let b = backendOption { return b }
        if let e = Self.env("EZLB_BACKEND"), !e.isEmpty {
            guard let b = BackendKind(rawValue: e) else {
                throw Failure.usage("EZLB_BACKEND: '\(e)': expected kernel or fake")
            }
            return b
        }
        return .kernel
    }

    public func validate() throws {
        if let e = Self.env("EZLB_BACKEND"), !e.isEmpty, backendOption == nil,
           BackendKind(rawValue: e) == nil {
            throw ValidationError("EZLB_BACKEND: '\(e)': expected kernel or fake")
        }
        if stateDir.isEmpty { throw ValidationError("--state-dir: must not be empty") }
        let k = StateDirectory.kind(of: stateDir)
        if k.exists, !k.isDirectory {
            throw ValidationError("--state-dir: '\(stateDir)' exists and is not a directory")
        }
        if let t = Self.env("EZLB_LOCK_TIMEOUT"), Int(t) == nil || Int(t)! < 0 {
            throw ValidationError("EZLB_LOCK_TIMEOUT: '\(t)': expected whole seconds >= 0")
        }
    }
}
