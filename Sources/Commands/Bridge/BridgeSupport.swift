import EzlbCore
import EzlbIPAM
import EzlbPlanner
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Kernel
import Logging

/// The wiring every `bridge` subcommand shares: locks (bridges, then ipam), state, backends, MASQUERADE chains.
final class BridgeSession {
    let opts: CommonValues
    let log: Logger
    let dir: StateDirectory
    let ipam: IPAMSession
    private var locks: [FileLock] = []
    private var fake: FakeKernel?
    private var bridgeBackend: BridgeBackend?
    private var xtBackend: XTBackend?

    convenience init(_ opts: CommonOptions, log: Logger) {
        self.init(opts.values, log: log)
    }

    init(_ opts: CommonValues, log: Logger) {
        self.opts = opts
        self.log = log
        dir = StateDirectory(path: opts.stateDir)
        ipam = IPAMSession(opts, log: log)
    }

    /// Takes `bridges.lock`, then `ipam.lock` (always in this order).
    func lock() throws {
        locks.append(try dir.lock("bridges", timeoutSeconds: opts.lockTimeout))
        // Temp files of a writer killed mid-write (every bridges.json writer holds this lock).
        dir.removeStaleFiles(prefix: ".\(BridgeState.fileName).tmp.")
        locks.append(try ipam.lock())
    }

    func readState() throws -> BridgeState { try dir.readBridgeState() }
    func writeState(_ s: BridgeState) throws { try dir.writeBridgeState(s) }

    private func fakeKernel() throws -> FakeKernel {
        if let f = fake { return f }
        let f = try FakeKernel(dir: dir)
        fake = f
        return f
    }

    func links() throws -> BridgeBackend {
        if let b = bridgeBackend { return b }
        let b: BridgeBackend
        if try opts.backend() == .fake { b = FakeBridge(kernel: try fakeKernel()) } else { b = try KernelBackends.bridge() }
        bridgeBackend = b
        return b
    }

    func xtables() throws -> XTBackend {
        if let x = xtBackend { return x }
        let x: XTBackend
        do {
            if try opts.backend() == .fake { x = FakeXTBackend(kernel: try fakeKernel()) }
            else { x = try KernelBackends.xtables(kind: .kernel, stateDir: dir, lockTimeout: opts.lockTimeout) }
        } catch let e as XTError {
            throw Failure(e.kind == .lockTimeout ? .busy : .failure, e.description)
        }
        xtBackend = x
        return x
    }

    /// Saves the fake kernel (no-op on the real one).
    func commitFake() throws { try fake?.save() }

    static func bridgeName(_ n: String) throws -> String {
        if let why = BridgeNames.invalidInterfaceName(n) { throw Failure.usage("bridge name: '\(n)': \(why)") }
        return n
    }

    /// The nat chain of a bridge: everything from the subnet that leaves through
    /// another interface is masqueraded (`-s SUBNET ! -o NAME -j MASQUERADE`);
    /// traffic between containers on the bridge keeps its addresses.
    static func natChain(_ b: BridgeState.Bridge) -> ManagedChain? {
        guard b.masquerade, case .success(let s) = IPSubnet.parse(b.subnet) else { return nil }
        let rules = [XTRule(source: XTPrefix(s.networkAddress, length: s.prefixLength),
                            outInterface: XTInterface(b.name, invert: true), target: .masquerade)]
        return ManagedChain(ref: XTTableRef(s.family, .nat), name: BridgeNames.natChain(b.name), hook: "POSTROUTING",
                            position: .append, rules: rules)
    }

    static func natChainID(_ b: BridgeState.Bridge) -> ManagedChainID? { natChain(b)?.id }

    /// Makes the nat chains match `desired` bridges; removes `owned` chains no longer wanted.
    func syncMasquerade(desired: [BridgeState.Bridge], owned: [ManagedChainID], report: inout CommandReport) throws {
        let want = desired.compactMap(Self.natChain)
        let refs = Set(want.map(\.ref) + owned.map(\.ref)).sorted()
        if refs.isEmpty { return }
        let xt = try xtables()
        for ref in refs {
            let d = want.filter { $0.ref == ref }, o = owned.filter { $0.ref == ref }
            do {
                let actual = try xt.read(ref, chains: ManagedChainPlanner.chainsToRead(desired: d, owned: o))
                let plan = ManagedChainPlanner.plan(desired: d, owned: o, actual: actual)
                if plan.needsCommit && !opts.dryRun { try xt.commit(ref, plan.operations) }
                report.actions += plan.changes.map { ActionRecord(text: $0.text, json: $0.json, error: nil) }
            } catch let e as XTError {
                throw Failure(e.kind == .lockTimeout ? .busy : .failure, e.description)
            }
        }
    }

    static func action(_ text: String, _ fields: [String: JSONValue]) -> ActionRecord {
        var j = fields
        j["text"] = .string(text)
        return ActionRecord(text: text, json: j, error: nil)
    }

    /// Removes one connection: the veth (if still there), then the address.
    func disconnect(_ b: BridgeState.Bridge, _ c: BridgeState.Connection, subnet: IPSubnet, ipamState: inout IPAMState,
                    report: inout CommandReport) throws {
        let l = try links()
        if try l.link(c.hostVeth) != nil {
            if !opts.dryRun {
                do { try l.deleteLink(c.hostVeth) } catch let e as LinkError { throw e }
            }
            report.actions.append(Self.action("- veth \(c.hostVeth) (\(c.owner) \(c.ifname) in \(c.netns))",
                                              ["action": "delete", "object": "veth", "bridge": .string(b.name), "owner": .string(c.owner), "name": .string(c.hostVeth)]))
        }
        let released = (try? IPAM.release(&ipamState, subnet: subnet, ip: IPAddress(c.ip), owner: c.owner)) ?? []
        for a in released {
            report.actions.append(Self.action("- address \(a.ip)/\(subnet.prefixLength) owner \(c.owner)",
                                              ["action": "release", "object": "address", "ip": .string(a.ip.description), "owner": .string(c.owner)]))
        }
    }
}
