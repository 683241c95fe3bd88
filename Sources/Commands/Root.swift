import ArgumentParser
import EzlbCore
import CEzlbMain
import EzlbState
import Kernel

/// The root command. Nothing runs before argument parsing, so --help,
/// completions and man generation work for any user on any machine.
public struct Ezlb: ParsableCommand {
    public init() {}
    /// `ezlb --version`: the version and the commit it was built from (scripts/build-release
    /// records it; the Debian package's version is the first).
    public static let version = "ezlb \(ezlbVersion) (\(String(cString: ezlb_git_commit())))"
    public static let configuration = CommandConfiguration(
        commandName: "ezlb",
        abstract: "Reconcile the kernel's L4 load-balancing and host-networking state with a config file.",
        discussion: """
        Each subcommand loads the config (YAML) and its state, compares them with what the kernel \
        actually holds, applies the smallest change and exits. Use --backend fake to run against \
        an in-memory kernel kept in the state directory (no root needed).

        Run with no arguments and CNI_COMMAND in the environment (as /usr/lib/cni/ezlb, by a \
        container runtime), ezlb is a CNI plugin: a bridge and addresses for the container \
        (docs/cni.md).

        EXIT STATUS: 0 success (changed or not); 1 runtime failure (partial apply reports what was \
        done and what failed); 2 changed (only with --detailed-exitcode); 64 usage error; \
        69 no free address left (ipam: subnet or range full); 75 another ezlb run holds the lock; \
        78 invalid config or state file.
        """,
        version: version,
        subcommands: [IPVSCommand.self, IPAMCommand.self, BridgeCommand.self, SNATCommand.self, XfrmCommand.self, RaftCommand.self, Doctor.self]
    )
}

extension Ezlb {
    /// The arguments (without the program name) as the kernel passed them; the Swift runtime's
    /// `CommandLine` needs /proc, and without it a command would run with none (and print the help).
    static func commandLine() throws -> [String] {
        let argc = Int(ezlb_argc())
        if argc > 0, let argv = ezlb_argv() {
            return (1..<argc).compactMap { argv[$0].map { String(cString: $0) } }
        }
        guard !CommandLine.arguments.isEmpty else {
            throw Failure.usage("cannot read the command line (is /proc mounted?)")
        }
        return Array(CommandLine.arguments.dropFirst())
    }

    /// Parses arguments and runs the chosen command. Parse errors print one
    /// line (`ezlb: error: …`) and exit 64; help and version print as usual.
    public static func runMain(_ arguments: [String]? = nil) -> Never {
        do {
            // The per-operation commands skip ArgumentParser's reflection when their
            // arguments are plain (FastParse.swift); anything else goes the full way.
            let args = try arguments ?? commandLine()
            // A container runtime running ezlb as its CNI plugin (CNI.swift).
            if CNIEntry.isInvocation(args) { CNIEntry.run() }
            if let fast = FastParse.command(args) {
                try fast.run()
            } else {
                var command = try parseAsRoot(args)
                try command.run()
            }
            exit(withError: nil)
        } catch let e as ExitCode {
            exit(withError: e)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error) // --help, --version, completion scripts
            }
            let message = Ezlb.message(for: error)
                .split(separator: "\n", omittingEmptySubsequences: true)
                .first.map(String.init) ?? "invalid arguments"
            writeStandardError("ezlb: error: \(TerminalText.escaped(message)) (see --help)\n")
            exit(withError: ExitCode(ExitStatus.usage.rawValue))
        }
    }
}

import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
