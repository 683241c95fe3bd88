import ArgumentParser

/// Reflection-free parsing of the commands a container runtime or a sync loop runs
/// once per operation or from a sync loop (`ipam allocate|release`, `bridge
/// connect|disconnect`, `xfrm sync`, `ipvs apply`, `snat sync`). swift-argument-parser builds every command's argument set through
/// `Mirror` and dynamic casts, and each first cast of a (type, protocol) pair scans
/// the whole binary's protocol-conformance table (about 7,000 records, most of them
/// Foundation's): two thirds of an `ipam allocate` process's instructions were
/// parsing. This path reads only the plain forms of those commands' own options;
/// anything else (help, `--version`, completion requests, short-option clusters,
/// `--`, a repeated single-valued option, a value that starts with `-`, an unknown
/// name, a failed `validate()`) returns nil and the full ArgumentParser run handles
/// it, so help, errors and exit codes are ArgumentParser's own.
/// `FastParseTests` checks each command's result equals ArgumentParser's for every
/// option it declares and that no property is left unset.
/// A parsed per-operation command as plain values; `run()` is the command's own `run()`
/// (each command's `run()` is `try args.run()`).
protocol FastRunnable: Equatable {
    func run() throws
}

/// A command FastParse covers: its parsed values as plain `Args`, whose `run()` is the
/// command's body (so both ways of parsing run the same code).
protocol FastCommand: ParsableCommand {
    associatedtype Args: FastRunnable
    var args: Args { get }
}

extension FastCommand {
    func run() throws { try args.run() }
}

enum FastParse {
    static func command(_ args: [String]) -> (any FastRunnable)? {
        guard args.count >= 2 else { return nil }
        let rest = args.dropFirst(2)
        switch (args[0], args[1]) {
        case ("ipam", "allocate"): return IPAMAllocate.fastParse(rest)
        case ("ipam", "release"): return IPAMRelease.fastParse(rest)
        case ("bridge", "connect"): return BridgeConnect.fastParse(rest)
        case ("bridge", "disconnect"): return BridgeDisconnect.fastParse(rest)
        case ("xfrm", "sync"): return XfrmSync.fastParse(rest)
        case ("ipvs", "apply"): return IPVSApply.fastParse(rest)
        case ("snat", "sync"): return SNATSync.fastParse(rest)
        default: return nil
        }
    }
}

/// The arguments after the subcommand, split by a table of option names. Values are
/// taken out as the command's properties are filled; `finish()` fails when anything
/// is left over or was malformed.
struct FastArguments {
    // Plain arrays, not dictionaries: a Dictionary<String, …> here would be the process's
    // first use of String: Hashable, itself a scan of the conformance table.
    private var values: [(name: String, value: String)] = []
    private var flags: [String] = []
    private(set) var positionals: [String] = []
    private var failed = false

    /// `options` take one value (`--name v`, `--name=v`, `-o v`); `flags` take none.
    init?(_ args: ArraySlice<String>, options: [String], flags: [String]) {
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
            } else if flags.contains(name), inline == nil {
                self.flags.append(name)
            } else {
                return nil
            }
        }
    }

    /// Removes and returns the values given under any of `names`, in order.
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
    mutating func strings(_ name: String) -> [String] {
        take([name])
    }

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

    /// The single positional argument.
    mutating func positional() -> String? {
        guard positionals.count == 1 else { failed = true; return nil }
        return positionals.removeFirst()
    }

    /// True when every argument was used and nothing was malformed.
    var finished: Bool { !failed && values.isEmpty && flags.isEmpty && positionals.isEmpty }
}

extension CommonOptions {
    static let fastOptions = ["-c", "--config", "--state-dir", "--backend", "-o", "--output"]
    static let fastFlags = ["--dry-run", "-v", "--verbose", "--detailed-exitcode"]

    /// The options as ArgumentParser would set them, validated; nil when not.
    static func fast(_ p: inout FastArguments) -> CommonValues? {
        var o = CommonValues()
        o.config = p.string("-c", "--config") ?? "/etc/ezlb/ezlb.yaml"
        o.stateDirOption = p.string("--state-dir")
        guard let backend = p.value("--backend", parse: BackendKind.init(rawValue:)),
              let output = p.value("-o", "--output", parse: OutputFormat.init(rawValue:)) else { return nil }
        o.backendOption = backend
        o.output = output ?? .text
        o.dryRun = p.flag("--dry-run")
        o.verbosity = p.count("-v", "--verbose")
        o.detailedExitcode = p.flag("--detailed-exitcode")
        do { try o.validate() } catch { return nil }
        return o
    }
}

extension IPAMAllocate {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions + ["--subnet", "--owner", "--ip", "--range-start", "--range-end", "--reserve"],
                                    flags: CommonOptions.fastFlags + ["--round-robin"]),
              let options = CommonOptions.fast(&p), let subnet = p.string("--subnet") else { return nil }
        let a = Args(options: options, subnet: subnet, owner: p.string("--owner"), ip: p.string("--ip"),
                     rangeStart: p.string("--range-start"), rangeEnd: p.string("--range-end"),
                     reserve: p.strings("--reserve"), roundRobin: p.flag("--round-robin"))
        return p.finished ? a : nil
    }
}

extension IPAMRelease {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions + ["--subnet", "--ip", "--owner"],
                                    flags: CommonOptions.fastFlags),
              let options = CommonOptions.fast(&p), let subnet = p.string("--subnet") else { return nil }
        let a = Args(options: options, subnet: subnet, ip: p.string("--ip"), owner: p.string("--owner"))
        return p.finished ? a : nil
    }
}

extension BridgeConnect {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions + ["--netns", "--owner", "--ifname", "--ip"],
                                    flags: CommonOptions.fastFlags),
              let options = CommonOptions.fast(&p), let name = p.positional(),
              let netns = p.string("--netns"), let owner = p.string("--owner") else { return nil }
        let a = Args(options: options, name: name, netns: netns, owner: owner, ifname: p.string("--ifname") ?? "eth0", ip: p.string("--ip"))
        return p.finished ? a : nil
    }
}

extension BridgeDisconnect {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions + ["--owner"], flags: CommonOptions.fastFlags),
              let options = CommonOptions.fast(&p), let name = p.positional(), let owner = p.string("--owner") else { return nil }
        let a = Args(options: options, name: name, owner: owner)
        return p.finished ? a : nil
    }
}

extension XfrmSync {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions, flags: CommonOptions.fastFlags),
              let options = CommonOptions.fast(&p) else { return nil }
        let a = Args(options: options)
        return p.finished ? a : nil
    }
}

extension IPVSApply {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions, flags: CommonOptions.fastFlags + ["--adopt", "--no-probe"]),
              let options = CommonOptions.fast(&p) else { return nil }
        let a = Args(options: options, adopt: p.flag("--adopt"), noProbe: p.flag("--no-probe"))
        return p.finished ? a : nil
    }
}

extension SNATSync {
    static func fastParse(_ args: ArraySlice<String>) -> Args? {
        guard var p = FastArguments(args, options: CommonOptions.fastOptions, flags: CommonOptions.fastFlags),
              let options = CommonOptions.fast(&p) else { return nil }
        let a = Args(options: options)
        return p.finished ? a : nil
    }
}
