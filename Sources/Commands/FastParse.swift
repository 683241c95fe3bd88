import ArgumentParser
import EzlbCore
import Kernel

/// Reflection-free parsing of the commands a container runtime or a sync loop runs once per
/// operation (`ipam allocate|release`, `bridge connect|disconnect`, `xfrm sync`, `ipvs apply`,
/// `snat sync`): ArgumentParser builds a command's arguments through `Mirror` and dynamic
/// casts, whose first use scans the binary's protocol-conformance table; this path saves
/// 1.3–1.7 ms per process natively (docs/benchmarks.md, "Speed tricks"). It reads only the
/// plain forms of each command's options as its `spec` names them; anything else (help,
/// `--version`, completion requests, short-option clusters, `--`, a repeated single-valued
/// option, a value that starts with `-`, an unknown name, a failed validation) returns nil and
/// ArgumentParser runs, so help, errors and exit codes are its own. FastParseTests checks every
/// spec against ArgumentParser's own description of the command (`--experimental-dump-help`)
/// and every result against ArgumentParser's.
protocol FastRunnable: Equatable {
    func run() throws
}

/// A command FastParse covers: its parsed values as plain `Args`, whose `run()` is the
/// command's body (so both ways of parsing run the same code).
protocol FastCommand: ParsableCommand {
    associatedtype Args: FastRunnable
    var args: Args { get }
    /// The command's own arguments, besides `CommonOptions` (which every fast command has).
    static var fastSpec: FastSpec { get }
    /// `Args` from the parsed arguments; nil when a required one is missing.
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args?
}

extension FastCommand {
    func run() throws { try args.run() }
}

/// The arguments FastParse reads for a command: value options and flags by every name they
/// have (`["-c", "--config"]`), and how many positionals.
struct FastSpec {
    var options: [[String]] = []
    var flags: [[String]] = []
    var positionals = 0

    static let common = FastSpec(options: [["-c", "--config"], ["--state-dir"], ["--backend"], ["-o", "--output"], ["--metrics-file"]],
                                 flags: [["--dry-run"], ["-v", "--verbose"], ["--detailed-exitcode"], ["-q", "--quiet"]])

    func adding(_ other: FastSpec) -> FastSpec {
        FastSpec(options: options + other.options, flags: flags + other.flags, positionals: positionals + other.positionals)
    }
}

enum FastParse {
    /// Every fast command, by its group and name.
    static let commands: [(group: String, name: String, type: any FastCommand.Type)] = [
        ("ipam", "allocate", IPAMAllocate.self), ("ipam", "release", IPAMRelease.self),
        ("bridge", "connect", BridgeConnect.self), ("bridge", "disconnect", BridgeDisconnect.self),
        ("xfrm", "sync", XfrmSync.self), ("ipvs", "apply", IPVSApply.self), ("snat", "sync", SNATSync.self),
    ]

    static func command(_ args: [String]) -> (any FastRunnable)? {
        guard args.count >= 2, let c = commands.first(where: { $0.group == args[0] && $0.name == args[1] }) else { return nil }
        return parse(c.type, args.dropFirst(2))
    }

    static func parse<C: FastCommand>(_ type: C.Type, _ args: ArraySlice<String>) -> C.Args? {
        guard var p = FastArguments(args, spec: FastSpec.common.adding(C.fastSpec)), let options = CommonOptions.fast(&p),
              let a = C.fastArgs(&p, options), p.finished else { return nil }
        return a
    }
}

/// The arguments after the subcommand, split by a spec. Values are taken out as the command's
/// properties are filled; `finished` is false when anything is left over or was malformed.
struct FastArguments {
    // Plain arrays, not dictionaries: a Dictionary<String, …> here would be the process's
    // first use of String: Hashable, itself a scan of the conformance table.
    private var values: [(name: String, value: String)] = []
    private var flags: [String] = []
    private(set) var positionals: [String] = []
    private var failed = false

    init?(_ args: ArraySlice<String>, spec: FastSpec) {
        let options = spec.options.flatMap { $0 }, flagNames = spec.flags.flatMap { $0 }
        var i = args.startIndex
        while i < args.endIndex {
            let a = args[i]
            i += 1
            guard a.hasPrefix("-") else {
                if a == "help" { return nil }
                positionals.append(a)
                continue
            }
            var name = a
            var inline: String? = nil
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            if options.contains(name) {
                let v: String
                if let inline { v = inline } else {
                    guard i < args.endIndex else { return nil }
                    v = args[i]
                    i += 1
                }
                // `-x` would be an option to ArgumentParser; `--name=` is a missing value.
                if v.hasPrefix("-") || inline?.isEmpty == true { return nil }
                values.append((name, v))
            } else if flagNames.contains(name), inline == nil {
                flags.append(name)
            } else {
                return nil
            }
        }
        if positionals.count > spec.positionals { return nil }
    }

    private mutating func take(_ names: [String]) -> [String] {
        let v = values.filter { names.contains($0.name) }.map(\.value)
        values.removeAll { names.contains($0.name) }
        return v
    }

    /// The value of a single-valued option (any of `names`); nil when absent. Given twice: failure.
    mutating func string(_ names: String...) -> String? {
        let v = take(names)
        if v.count > 1 { failed = true }
        return v.first
    }

    /// Every value of a repeatable option, in order.
    mutating func strings(_ name: String) -> [String] { take([name]) }

    /// A value parsed by `parse`; a value it rejects is a failure.
    mutating func value<T>(_ names: String..., parse: (String) -> T?) -> T?? {
        let v = take(names)
        if v.count > 1 { failed = true }
        guard let s = v.first else { return .some(nil) }
        guard let t = parse(s) else { failed = true; return nil }
        return .some(t)
    }

    /// How often a counted flag was given (any of `names`).
    mutating func count(_ names: String...) -> Int {
        let n = flags.filter { names.contains($0) }.count
        flags.removeAll { names.contains($0) }
        return n
    }

    /// A boolean flag; given twice: failure.
    mutating func flag(_ name: String) -> Bool {
        let n = count(name)
        if n > 1 { failed = true }
        return n == 1
    }

    /// The next positional argument.
    mutating func positional() -> String? {
        guard !positionals.isEmpty else { failed = true; return nil }
        return positionals.removeFirst()
    }

    /// True when every argument was used and nothing was malformed.
    var finished: Bool { !failed && values.isEmpty && flags.isEmpty && positionals.isEmpty }
}

extension CommonOptions {
    /// The options as ArgumentParser would set them, validated; nil when not.
    static func fast(_ p: inout FastArguments) -> CommonValues? {
        var o = CommonValues()
        o.config = CommonValues.config(p.string("-c", "--config"))
        o.stateDirOption = p.string("--state-dir")
        guard let backend = p.value("--backend", parse: BackendKind.init(rawValue:)),
              let output = p.value("-o", "--output", parse: OutputFormat.init(rawValue:)) else { return nil }
        o.backendOption = backend
        o.output = output ?? CommonValues.defaultOutput
        o.dryRun = p.flag("--dry-run")
        o.verbosity = p.count("-v", "--verbose")
        o.detailedExitcode = p.flag("--detailed-exitcode")
        o.quiet = p.count("-q", "--quiet") > 0
        o.metricsFile = CommonValues.metricsFile(p.string("--metrics-file"))
        do { try o.validate() } catch { return nil }
        return o
    }
}

extension IPAMAllocate {
    static let fastSpec = FastSpec(options: [["--subnet"], ["--owner"], ["--ip"], ["--range-start"], ["--range-end"], ["--reserve"]],
                                   flags: [["--round-robin"]])
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        guard let subnet = p.string("--subnet") else { return nil }
        return Args(options: options, subnet: subnet, owner: p.string("--owner"), ip: p.string("--ip"),
                    rangeStart: p.string("--range-start"), rangeEnd: p.string("--range-end"),
                    reserve: p.strings("--reserve"), roundRobin: p.flag("--round-robin"))
    }
}

extension IPAMRelease {
    static let fastSpec = FastSpec(options: [["--subnet"], ["--ip"], ["--owner"]])
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        guard let subnet = p.string("--subnet") else { return nil }
        return Args(options: options, subnet: subnet, ip: p.string("--ip"), owner: p.string("--owner"))
    }
}

extension BridgeConnect {
    static let fastSpec = FastSpec(options: [["--netns"], ["--owner"], ["--ifname"], ["--ip"]], positionals: 1)
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        guard let name = p.positional(), let netns = p.string("--netns"), let owner = p.string("--owner") else { return nil }
        return Args(options: options, name: name, netns: netns, owner: owner, ifname: p.string("--ifname") ?? defaultIfname, ip: p.string("--ip"))
    }
}

extension BridgeDisconnect {
    static let fastSpec = FastSpec(options: [["--owner"]], positionals: 1)
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        guard let name = p.positional(), let owner = p.string("--owner") else { return nil }
        return Args(options: options, name: name, owner: owner)
    }
}

extension XfrmSync {
    static let fastSpec = FastSpec(flags: [["--allow-empty"]])
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        Args(options: options, allowEmpty: p.flag("--allow-empty"))
    }
}

extension IPVSApply {
    static let fastSpec = FastSpec(flags: [["--adopt"], ["--no-probe"], ["--allow-empty"]])
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        Args(options: options, adopt: p.flag("--adopt"), noProbe: p.flag("--no-probe"), allowEmpty: p.flag("--allow-empty"))
    }
}

extension SNATSync {
    static let fastSpec = FastSpec(options: [["--firewall"]], flags: [["--allow-empty"]])
    static func fastArgs(_ p: inout FastArguments, _ options: CommonValues) -> Args? {
        guard let firewall = p.value("--firewall", parse: FirewallChoice.init(rawValue:)) else { return nil }
        return Args(options: options, allowEmpty: p.flag("--allow-empty"), firewall: firewall)
    }
}
