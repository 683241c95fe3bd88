import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class IPAMCLITests: CLITestCase {
    var ipamFile: String { stateDir + "/ipam.json" }

    func allocations(_ subnet: String? = nil) throws -> [[String: Any]] {
        var args = ["ipam", "list", "-o", "json"]
        if let s = subnet { args += ["--subnet", s] }
        let r = try ezlb(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.json["allocations"] as? [[String: Any]] ?? []
    }

    func testAllocateIdempotentReleaseList() throws {
        let a = try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, "10.1.0.2/24\n")
        XCTAssertEqual(a.stderr, "")

        // Same owner again: same address, nothing written.
        let before = stateSnapshot()
        let again = try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.changed, false)
        XCTAssertEqual(again.json["ip"] as? String, "10.1.0.2")
        XCTAssertEqual(again.json["prefix_length"] as? Int, 24)
        XCTAssertEqual(again.json["gateway"] as? String, "10.1.0.1")
        XCTAssertEqual(again.json["owner"] as? String, "c1")
        XCTAssertEqual(stateSnapshot(), before, "an idempotent allocate must not write")
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1"]).stdout, "10.1.0.2/24\n")

        let b = try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c2", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(b.status, 2, "changed with --detailed-exitcode")
        XCTAssertEqual(b.changed, true)
        XCTAssertEqual(b.json["address"] as? String, "10.1.0.3/24")
        XCTAssertEqual((b.json["actions"] as? [[String: Any]])?.first?["action"] as? String, "allocate")

        let v6 = try ezlb(["ipam", "allocate", "--subnet", "2001:db8:1::/64", "--owner", "c1"])
        XCTAssertEqual(v6.stdout, "2001:db8:1::2/64\n")
        let pinned = try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "web", "--ip", "10.1.0.80"])
        XCTAssertEqual(pinned.stdout, "10.1.0.80/24\n")

        let list = try ezlb(["ipam", "list"])
        XCTAssertTrue(list.stdout.contains("10.1.0.0/24 gateway 10.1.0.1 3/253 allocated"), list.stdout)
        XCTAssertTrue(list.stdout.contains("  10.1.0.80/24  web  "), list.stdout)
        XCTAssertTrue(list.stdout.hasSuffix("4 allocations in 2 subnets\n"), list.stdout)
        XCTAssertEqual(try allocations("10.1.0.0/24").count, 3)
        let byOwner = try ezlb(["ipam", "list", "--owner", "c1", "-o", "json"])
        XCTAssertEqual((byOwner.json["allocations"] as? [[String: Any]])?.compactMap { $0["address"] as? String },
                       ["10.1.0.2/24", "2001:db8:1::2/64"])

        // Release: by owner, by ip; releasing again is a no-op.
        let r1 = try ezlb(["ipam", "release", "--subnet", "10.1.0.0/24", "--owner", "c1"])
        XCTAssertEqual(r1.stdout, "- 10.1.0.2/24 owner c1\n")
        let r2 = try ezlb(["ipam", "release", "--subnet", "10.1.0.0/24", "--ip", "10.1.0.80", "-o", "json"])
        XCTAssertEqual(r2.changed, true)
        let quiet = stateSnapshot()
        let r3 = try ezlb(["ipam", "release", "--subnet", "10.1.0.0/24", "--owner", "c1", "-o", "json", "--detailed-exitcode"])
        XCTAssertEqual(r3.status, 0)
        XCTAssertEqual(r3.changed, false)
        XCTAssertEqual(try ezlb(["ipam", "release", "--subnet", "10.1.0.0/24", "--ip", "10.1.0.9"]).stdout, "no changes\n")
        XCTAssertEqual(stateSnapshot(), quiet)
        // The lowest free address is reused.
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c9"]).stdout, "10.1.0.2/24\n")
    }

    func testFullSubnetHasItsOwnExitCode() throws {
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.2.0.0/30", "--owner", "a"]).stdout, "10.2.0.2/30\n")
        let before = stateSnapshot()
        let r = try ezlb(["ipam", "allocate", "--subnet", "10.2.0.0/30", "--owner", "b"])
        XCTAssertEqual(r.status, 69)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "ezlb: error: subnet 10.2.0.0/30 is full: all 1 addresses of 10.2.0.2 are allocated or reserved\n")
        XCTAssertEqual(stateSnapshot(), before)
        let j = try ezlb(["ipam", "allocate", "--subnet", "10.2.0.0/30", "--owner", "b", "-o", "json"])
        XCTAssertEqual(j.status, 69)
        XCTAssertEqual((j.json["errors"] as? [String])?.count, 1)
        XCTAssertEqual(j.changed, false)
        // The holder still gets its address.
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.2.0.0/30", "--owner", "a"]).status, 0)
    }

    func testReservedFromConfigAndFlagsRangeAndRoundRobin() throws {
        let cfg = writeConfig("""
        ipam:
          reserved: [10.3.0.2, 10.3.0.4-10.3.0.9]
        services: []
        """)
        XCTAssertEqual(try ezlb(["ipam", "allocate", "-c", cfg, "--subnet", "10.3.0.0/24", "--owner", "a"]).stdout, "10.3.0.3/24\n")
        XCTAssertEqual(try ezlb(["ipam", "allocate", "-c", cfg, "--subnet", "10.3.0.0/24", "--owner", "b", "--reserve", "10.3.0.10/31"]).stdout, "10.3.0.12/24\n")
        let r = try ezlb(["ipam", "allocate", "-c", cfg, "--subnet", "10.3.0.0/24", "--ip", "10.3.0.5"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("--ip: '10.3.0.5': is reserved (10.3.0.4-10.3.0.9)"), r.stderr)
        // ipvs accepts the same file without warnings.
        XCTAssertEqual(try ezlb(["ipvs", "plan", "-c", cfg, "--allow-empty"]).stderr, "")

        let rg = try ezlb(["ipam", "allocate", "--subnet", "10.3.1.0/24", "--range-start", "10.3.1.100", "--range-end", "10.3.1.101"])
        XCTAssertEqual(rg.stdout, "10.3.1.100/24\n")

        for o in ["x", "y"] {
            _ = try ezlb(["ipam", "allocate", "--subnet", "10.3.2.0/29", "--owner", o, "--round-robin"])
        }
        _ = try ezlb(["ipam", "release", "--subnet", "10.3.2.0/29", "--owner", "y"])
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.3.2.0/29", "--owner", "z", "--round-robin"]).stdout, "10.3.2.4/29\n",
                       "round-robin does not reuse the just-released 10.3.2.3")
    }

    func testDryRunWritesNothing() throws {
        let r = try ezlb(["ipam", "allocate", "--subnet", "10.4.0.0/24", "--owner", "a", "--dry-run", "-o", "json"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.changed, true)
        XCTAssertEqual(r.json["dry_run"] as? Bool, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ipamFile))
        XCTAssertEqual(try allocations().count, 0)
    }

    /// Starts `ezlb` with stdout to a file; returns the process and the file.
    func start(_ args: [String]) throws -> (Process, String) {
        let p = makeProcess(args)
        let out = workDir + "/.par-\(UUID().uuidString)"
        XCTAssertTrue(FileManager.default.createFile(atPath: out, contents: nil))
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, out)
    }

    func testThirtyTwoConcurrentAllocatorsGetDistinctAddresses() throws {
        var procs: [(Process, String)] = []
        for i in 0..<32 {
            procs.append(try start(["ipam", "allocate", "--subnet", "10.5.0.0/24", "--owner", "c\(i)"]))
        }
        var got: [String] = []
        for (p, out) in procs {
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            got.append(String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self))
        }
        XCTAssertEqual(Set(got).count, 32, got.joined())
        XCTAssertTrue(got.allSatisfy { $0.hasPrefix("10.5.0.") && $0.hasSuffix("/24\n") })
        let listed = try allocations()
        XCTAssertEqual(listed.count, 32)
        XCTAssertEqual(Set(listed.compactMap { $0["address"] as? String }), Set(got.map { String($0.dropLast()) }))
        // Same for IPv6, anonymous owners.
        procs = try (0..<32).map { _ in try start(["ipam", "allocate", "--subnet", "2001:db8:5::/64"]) }
        for (p, _) in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        XCTAssertEqual(Set(try allocations("2001:db8:5::/64").compactMap { $0["ip"] as? String }).count, 32)
    }

    /// kill -9 at random moments never leaves a corrupted file or one address twice.
    func testKill9NeverCorruptsOrDoubleAllocates() throws {
        var rng = SystemRandomNumberGenerator()
        var killed = 0
        for round in 0..<25 {
            var procs: [Process] = []
            for _ in 0..<6 {
                let owner = "o\(Int.random(in: 0..<20, using: &rng))"
                let args = Bool.random(using: &rng)
                    ? ["ipam", "allocate", "--subnet", "10.6.0.0/27", "--owner", owner]
                    : ["ipam", "release", "--subnet", "10.6.0.0/27", "--owner", owner]
                procs.append(try spawn(args))
            }
            usleep(UInt32.random(in: 0..<60_000, using: &rng))
            for p in procs where p.isRunning && Bool.random(using: &rng) {
                kill(p.processIdentifier, SIGKILL)
                killed += 1
            }
            for p in procs { p.waitUntilExit() }
            // The file always reads back (list validates: no address or owner twice, all inside the subnet).
            let r = try ezlb(["ipam", "list", "-o", "json"])
            XCTAssertEqual(r.status, 0, "round \(round): \(r.stderr)")
            let ips = (r.json["allocations"] as? [[String: Any]] ?? []).compactMap { $0["ip"] as? String }
            XCTAssertEqual(ips.count, Set(ips).count, "round \(round): an address handed out twice")
        }
        XCTAssertGreaterThan(killed, 0)
        // The next writer removes temp files killed writers left behind.
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.6.1.0/24"]).status, 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: stateDir).filter { $0.contains(".tmp.") }
        XCTAssertEqual(leftovers, [])
    }
}
