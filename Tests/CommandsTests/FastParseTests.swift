import ArgumentParser
@testable import Commands
import Foundation
import XCTest

/// The reflection-free parse of the per-operation commands gives exactly what
/// ArgumentParser gives, sets every property, and gives up (nil: ArgumentParser
/// runs) on everything it does not read itself.
final class FastParseTests: XCTestCase {
    /// What ArgumentParser's command hands to its `run()`: each fast command's `run()` is `try args.run()`.
    func args(_ c: ParsableCommand) -> (any FastRunnable)? {
        switch c {
        case let c as IPAMAllocate: return c.args
        case let c as IPAMRelease: return c.args
        case let c as BridgeConnect: return c.args
        case let c as BridgeDisconnect: return c.args
        case let c as XfrmSync: return c.args
        case let c as IPVSApply: return c.args
        case let c as SNATSync: return c.args
        default: return nil
        }
    }

    func check(_ argv: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let fast = try XCTUnwrap(FastParse.command(argv), "fast path gave up on \(argv)", file: file, line: line)
        let full = try XCTUnwrap(args(try Ezlb.parseAsRoot(argv)), "\(argv)", file: file, line: line)
        XCTAssertTrue(type(of: fast) == type(of: full), "\(argv)", file: file, line: line)
        XCTAssertTrue(Self.equal(fast, full), "\(argv): fast \(fast) != ArgumentParser \(full)", file: file, line: line)
    }

    static func equal<A: FastRunnable>(_ a: A, _ b: any FastRunnable) -> Bool { (b as? A) == a }

    /// Every option and argument a fast command declares reaches its `Args` (an option added to
    /// the command but not to `Args` would be parsed and then ignored).
    func testArgsCoverEveryDeclaredOption() throws {
        let commands: [(ParsableCommand, [String])] = [
            (try Ezlb.parseAsRoot(["ipam", "allocate", "--subnet", "10.1.0.0/24"]), ["target"]),
            (try Ezlb.parseAsRoot(["ipam", "release", "--subnet", "10.1.0.0/24"]), ["target"]),
            (try Ezlb.parseAsRoot(["bridge", "connect", "b", "--netns", "n", "--owner", "o"]), []),
            (try Ezlb.parseAsRoot(["bridge", "disconnect", "b", "--owner", "o"]), []),
            (try Ezlb.parseAsRoot(["xfrm", "sync"]), []),
            (try Ezlb.parseAsRoot(["ipvs", "apply"]), []),
            (try Ezlb.parseAsRoot(["snat", "sync"]), []),
        ]
        for (c, groups) in commands {
            let declared = Set(Mirror(reflecting: c).children.compactMap { $0.label.map { String($0.dropFirst()) } })
                .subtracting(groups)
            let plain = Set(Mirror(reflecting: try XCTUnwrap(args(c))).children.compactMap(\.label))
            XCTAssertTrue(declared.isSubset(of: plain), "\(type(of: c)): \(declared.subtracting(plain)) not in Args")
        }
    }

    let common = ["-c", "/x.yaml", "--state-dir", "/s", "--backend", "fake", "-o", "json", "--dry-run", "-v", "--verbose", "--detailed-exitcode"]
    let commonLong = ["--config=/y.yaml", "--state-dir=/t", "--backend=kernel", "--output=text"]

    func testSameAsArgumentParserForEveryOption() throws {
        // Minimal (defaults), every option set, long `=` forms, options before and after positionals.
        try check(["ipam", "allocate", "--subnet", "10.1.0.0/24"])
        try check(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1", "--ip", "10.1.0.9", "--range-start", "10.1.0.5",
                   "--range-end", "10.1.0.50", "--reserve", "10.1.0.7", "--reserve", "10.1.0.8-10.1.0.9", "--round-robin"] + common)
        try check(["ipam", "allocate", "--subnet=2001:db8::/64", "--owner", "", "--reserve=2001:db8::5"] + commonLong)
        try check(["ipam", "release", "--subnet", "10.1.0.0/24"])
        try check(["ipam", "release", "--subnet", "10.1.0.0/24", "--ip", "10.1.0.2", "--owner", "c1"] + common)
        try check(["bridge", "connect", "br0", "--netns", "c1", "--owner", "c1"])
        try check(["bridge", "connect", "--netns", "/run/netns/c1", "--owner", "c1", "--ifname", "net1", "--ip", "10.8.0.9"] + common + ["br0"])
        try check(["bridge", "disconnect", "br0", "--owner", "c1"])
        try check(["bridge", "disconnect", "--owner", "c1"] + commonLong + ["br0"])
        try check(["xfrm", "sync"])
        try check(["xfrm", "sync"] + common)
        try check(["xfrm", "sync"] + commonLong)
        try check(["ipvs", "apply"])
        try check(["ipvs", "apply", "--adopt", "--no-probe"] + common)
        try check(["ipvs", "apply", "--no-probe"] + commonLong)
        try check(["snat", "sync"])
        try check(["snat", "sync"] + common)
        try check(["snat", "sync"] + commonLong)
    }

    func testGivesUpOnAnythingElse() {
        for argv in [
            ["ipam", "allocate", "--help"], ["ipam", "allocate", "-h"], ["ipam", "allocate", "help"], ["--version"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--generate-completion-script", "bash"],
            ["ipam", "allocate"],                                                    // missing --subnet
            ["ipam", "allocate", "--subnet"],                                        // missing value
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "-vv"],                 // short cluster
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "a", "--owner", "b"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "-a"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner="],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--", "x"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--nope"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "extra"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--backend", "nope"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "-o", "yaml"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--state-dir", ""],     // validate() fails
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--dry-run", "--dry-run"],
            ["ipam", "allocate", "--subnet", "10.1.0.0/24", "--round-robin=yes"],
            ["bridge", "connect", "--netns", "c1", "--owner", "c1"],                 // no bridge name
            ["bridge", "connect", "a", "b", "--netns", "c1", "--owner", "c1"],
            ["bridge", "connect", "help"],
            ["ipvs", "apply", "--adopt", "--adopt"], ["ipvs", "apply", "--adopt=yes"], ["ipvs", "apply", "extra"],
            ["snat", "sync", "extra"], ["snat", "sync", "--help"], ["snat", "show"], ["snat", "cleanup"],
            ["ipam", "list"], ["ipvs", "plan"], ["bridge", "create", "br0", "--subnet", "10.8.0.0/24"],
        ] {
            XCTAssertNil(FastParse.command(argv), "\(argv)")
        }
    }

    /// Each fast command's spec is exactly the arguments ArgumentParser describes for it
    /// (`--experimental-dump-help`: names, option or flag, positionals; --help and --version
    /// are left to ArgumentParser), and a value FastParse leaves out gets ArgumentParser's
    /// default: a renamed, added or re-defaulted option fails here.
    func testSpecsAreArgumentParsersOwnDescription() throws {
        let tool = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Ezlb._dumpHelp().utf8)) as? [String: Any])
        let root = try XCTUnwrap(tool["command"] as? [String: Any])
        func sub(_ c: [String: Any], _ name: String) -> [String: Any]? {
            (c["subcommands"] as? [[String: Any]])?.first { $0["commandName"] as? String == name }
        }
        for (group, name, type) in FastParse.commands {
            let cmd = try XCTUnwrap(sub(root, group).flatMap { sub($0, name) }, "\(group) \(name)")
            var options: [[String]] = [], flags: [[String]] = [], positionals = 0
            for a in (cmd["arguments"] as? [[String: Any]]) ?? [] {
                let names = ((a["names"] as? [[String: Any]]) ?? []).map { n in
                    (n["kind"] as? String == "short" ? "-" : "--") + ((n["name"] as? String) ?? "")
                }
                switch a["kind"] as? String {
                case "option": options.append(names)
                case "flag" where !names.contains("--help") && !names.contains("--version"): flags.append(names)
                case "positional": positionals += 1
                default: break
                }
            }
            let spec = FastSpec.common.adding(type.fastSpec)
            XCTAssertEqual(Set(spec.options), Set(options), "\(group) \(name): options")
            XCTAssertEqual(Set(spec.flags), Set(flags), "\(group) \(name): flags")
            XCTAssertEqual(spec.positionals, positionals, "\(group) \(name): positionals")
        }
        // Defaults: the fewest arguments each command accepts, both ways.
        try check(["ipam", "allocate", "--subnet", "10.1.0.0/24"])
        try check(["bridge", "connect", "b", "--netns", "n", "--owner", "o"])
        try check(["ipvs", "apply"])
    }
}
