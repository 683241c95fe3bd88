import Foundation
import XCTest

/// Every bad ipam input: one line on stderr naming flag or file/key and value,
/// a documented exit code, empty stdout, and no change to the state directory.
final class IPAMBadInputTests: CLITestCase {
    func testBadInputs() throws {
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1"]).status, 0)
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.9.0.0/30", "--owner", "full"]).status, 0)
        let alloc = ["ipam", "allocate", "--subnet", "10.1.0.0/24"]
        let badCfg = writeConfig("ipam:\n  reserved: [10.1.0.300]\n", name: "bad.yaml")
        let typoCfg = writeConfig("ipam: [1, 2]\n", name: "typo.yaml")
        let cases: [(String, [String], Int32, [String])] = [
            ("not a CIDR", ["ipam", "allocate", "--subnet", "10.1.0.0"], 64, ["--subnet", "'10.1.0.0'", "CIDR"]),
            ("bad address", ["ipam", "allocate", "--subnet", "10.1.0.300/24"], 64, ["--subnet", "10.1.0.300"]),
            ("host bits", ["ipam", "allocate", "--subnet", "10.1.0.7/24"], 64, ["--subnet", "10.1.0.7/24", "10.1.0.0/24"]),
            ("prefix", ["ipam", "allocate", "--subnet", "10.1.0.0/40"], 64, ["--subnet", "40"]),
            ("ip outside", alloc + ["--ip", "10.2.0.5"], 64, ["--ip", "10.2.0.5", "outside 10.1.0.0/24"]),
            ("ip gateway", alloc + ["--ip", "10.1.0.1"], 64, ["--ip", "10.1.0.1", "gateway"]),
            ("ip network", alloc + ["--ip", "10.1.0.0"], 64, ["--ip", "network address"]),
            ("ip broadcast", alloc + ["--ip", "10.1.0.255"], 64, ["--ip", "broadcast"]),
            ("ip not an address", alloc + ["--ip", "ten"], 64, ["--ip", "'ten'"]),
            ("ip other family", alloc + ["--ip", "2001:db8::5"], 64, ["--ip", "2001:db8::5"]),
            ("owner with space", alloc + ["--owner", "a b"], 64, ["--owner", "'a b'"]),
            ("bad reserve", alloc + ["--reserve", "10.1.0.9-10.1.0.2"], 64, ["--reserve", "ends before it starts"]),
            ("range outside", alloc + ["--range-start", "10.7.0.1", "--range-end", "10.7.0.9"], 64, ["--range-start", "'10.7.0.1': not in --subnet 10.1.0.0/24"]),
            ("range reversed", alloc + ["--range-start", "10.1.0.9", "--range-end", "10.1.0.2"], 64, ["--range-start", "ends before"]),
            ("release needs ip or owner", ["ipam", "release", "--subnet", "10.1.0.0/24"], 64, ["--ip or --owner"]),
            ("release outside", ["ipam", "release", "--subnet", "10.1.0.0/24", "--ip", "10.3.0.1"], 64, ["--ip", "outside"]),
            ("missing --subnet", ["ipam", "allocate"], 64, ["--subnet"]),
            ("taken by other", alloc + ["--owner", "c2", "--ip", "10.1.0.2"], 1, ["10.1.0.2", "'c1'"]),
            ("owner holds other", alloc + ["--owner", "c1", "--ip", "10.1.0.50"], 1, ["'c1'", "already holds 10.1.0.2"]),
            ("release someone else's", ["ipam", "release", "--subnet", "10.1.0.0/24", "--ip", "10.1.0.2", "--owner", "c2"], 1, ["held by 'c1'"]),
            ("overlap", ["ipam", "allocate", "--subnet", "10.1.0.0/16"], 1, ["overlaps 10.1.0.0/24"]),
            ("full", ["ipam", "allocate", "--subnet", "10.9.0.0/30"], 69, ["10.9.0.0/30 is full"]),
            ("explicit config missing", alloc + ["-c", workDir + "/nope.yaml"], 78, ["nope.yaml", "no such file"]),
            ("bad reserved in config", alloc + ["-c", badCfg], 78, ["bad.yaml", "ipam.reserved[0]", "10.1.0.300"]),
            ("ipam not a mapping", alloc + ["-c", typoCfg], 78, ["typo.yaml", "ipam", "mapping"]),
        ]
        for (name, args, status, mentions) in cases {
            let before = stateSnapshot()
            let r = try ezlb(args)
            XCTAssertEqual(r.status, status, "\(name): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("ezlb: error: "), "\(name): \(r.stderr)")
            for m in mentions { XCTAssertTrue(r.stderr.contains(m), "\(name): '\(m)' missing in: \(r.stderr)") }
            XCTAssertEqual(r.stdout, "", name)
            XCTAssertEqual(stateSnapshot(), before, "\(name): state changed")
        }
    }

    func testCorruptedStateStopsEveryCommand() throws {
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c1"]).status, 0)
        XCTAssertEqual(try ezlb(["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c2"]).status, 0)
        let path = stateDir + "/ipam.json"
        let good = try String(contentsOfFile: path, encoding: .utf8)
        let bad: [(String, String)] = [
            ("truncated", String(good.prefix(good.count / 2))),
            ("empty", ""),
            ("duplicate address", good.replacingOccurrences(of: "10.1.0.3", with: "10.1.0.2")),
            ("address outside", good.replacingOccurrences(of: "10.1.0.3", with: "10.7.0.3")),
            ("wrong kind", good.replacingOccurrences(of: "\"ipam\"", with: "\"ipvs\"")),
        ]
        for (name, text) in bad {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            let before = stateSnapshot()
            for args in [["ipam", "allocate", "--subnet", "10.1.0.0/24", "--owner", "c3"], ["ipam", "list"],
                         ["ipam", "release", "--subnet", "10.1.0.0/24", "--owner", "c1"]] {
                let r = try ezlb(args)
                XCTAssertEqual(r.status, 78, "\(name) \(args[1]): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("ipam.json: state file is corrupted"), r.stderr)
                XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
            }
            XCTAssertEqual(stateSnapshot(), before, name)
        }
    }
}
