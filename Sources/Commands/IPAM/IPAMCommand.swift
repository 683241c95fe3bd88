import ArgumentParser
import EzlbCore
import EzlbIPAM

/// `ezlb ipam …`: crash-safe IP address management in the state directory.
public struct IPAMCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "ipam",
        abstract: "Allocate and release IP addresses of a subnet (state in <state-dir>/ipam.json).",
        discussion: """
        Allocations live in <state-dir>/ipam.json, changed under an flock and written atomically, \
        so concurrent runs never hand out one address twice and a crash never corrupts the file. \
        The gateway (first usable address) is never handed out, nor, for IPv4, the network and broadcast \
        addresses. Addresses listed under 'ipam.reserved' in the config (-c, optional) or given with \
        --reserve are skipped. A full subnet exits 69. No kernel state is touched.
        """,
        subcommands: [IPAMAllocate.self, IPAMRelease.self, IPAMList.self]
    )
}

/// Options every ipam subcommand shares besides `CommonOptions`.
struct IPAMSubnetOption: ParsableArguments {
    @Option(help: ArgumentHelp("The subnet, e.g. 10.1.0.0/24 or 2001:db8::/64.", valueName: "cidr"))
    var subnet: String
}

/// Flag values as typed values; a bad one is a usage error naming the flag and the value.
enum FlagValue {
    static func subnet(_ text: String, flag: String = "--subnet") throws -> IPSubnet {
        switch IPSubnet.parse(text) {
        case .success(let s): return s
        case .failure(let e): throw Failure.usage("\(flag): '\(text)': \(e.reason)")
        }
    }

    static func address(_ text: String, flag: String) throws -> IPAddress {
        guard let a = IPAddress(text) else { throw Failure.usage("\(flag): '\(text)': not an IP address") }
        return a
    }

    static func range(_ text: String, flag: String) throws -> IPRange {
        switch IPRange.parse(text) {
        case .success(let r): return r
        case .failure(let e): throw Failure.usage("\(flag): '\(text)': \(e.reason)")
        }
    }
}
