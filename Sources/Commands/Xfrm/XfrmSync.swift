import ArgumentParser
import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbState
import Kernel
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct XfrmSync: FastCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Make ezlb's xfrm policies and ESP states match the ipsec: section of the config.",
        discussion: """
        Dumps the kernel's policies and SAs, plans and applies the smallest change in make-before-break \
        order (new IN states, new OUT states, policies, then stale policies and states). A re-run with no \
        change makes no netlink write. A run that finds every policy and SA exactly as the last converged \
        sync left them, with the same config, key, pods file and xfrm.json and no rotation step due \
        (<state-dir>/xfrm-kernel.cache; counters do not count), stops there. Key rotation (a new \
        ipsec.generation) takes three runs spaced by ipsec.rotation_delay: accept the new keys, switch OUT \
        to them, drop the old ones.
        """
    )

    @OptionGroup var options: CommonOptions

    /// The parsed arguments as plain values (FastParse builds these directly).
    var args: Args { Args(options: options.values) }

    struct Args: FastRunnable {
        var options: CommonValues

        func run() throws {
            try Runner.run(options, command: "xfrm sync") { log in
                KernelBackends.tuneHeapForBatch()
                var report = CommandReport(command: "xfrm sync", dryRun: options.dryRun)
                var clock = PhaseClock(log: log)
                let s = XfrmSession(options, log: log)
                let lock = try s.dir.lock("xfrm", timeoutSeconds: options.lockTimeout)
                defer { withExtendedLifetime(lock) {} }
                let backend = try s.openBackend()
                clock.lap("lock, open backend")
                // Converged fast path: inputs, xfrm.json and the kernel as the last converged sync left them.
                if case .success(let bytes) = FileBytes.read(options.config),
                   let rec = s.convergedRecord(configBytes: bytes, backend: backend, now: XfrmSession.unixTime()) {
                    clock.lap("compare with the last converged kernel")
                    report.warnings = rec.warnings
                    report.extra["writes"] = .int(backend.writes)
                    report.extra["rotation"] = XfrmSession.rotationJSON(rec.rotation)
                    report.extra["policies"] = .int(rec.policies)
                    report.extra["states"] = .int(rec.states)
                    s.summarize(&report)
                    return report
                }
                clock.lap("compare with the last converged kernel")
                let cfg = try IPsecConfig.load(path: options.config)
                for k in cfg.unknownKeys { report.warnings.append("\(cfg.file): \(k): unknown key, ignored") }
                clock.lap("load config")
                let old = try s.dir.readXfrmOwnership()
                let rule = XfrmSession.rule(old)
                let actual = try s.dump(backend)
                clock.lap("read ownership, dump kernel")
                let reqids = XfrmPlanner.assignReqids(peers: cfg.peers.map(\.address), recorded: old?.reqids ?? [:],
                                                      local: cfg.local, kernel: actual, rule: rule)
                let rotation = XfrmPlanner.advance(old?.rotation, target: cfg.generation,
                                                   now: Date().timeIntervalSince1970, delay: cfg.rotationDelay)
                if let o = old?.rotation, o != rotation {
                    log.info("rotation: out generation \(o.out) -> \(rotation.out), accepting \(rotation.acceptedGenerations)")
                }
                let intent = XfrmIntent(local: cfg.local, pods: cfg.pods,
                                        peers: cfg.peers.map { XfrmIntent.Peer(address: $0.address, pods: $0.pods) },
                                        psk: cfg.psk, algorithm: cfg.algorithm, keyBits: cfg.keyBits, icvBits: cfg.icvBits,
                                        rotation: rotation, reqids: reqids)
                let desired = XfrmPlanner.desired(intent, rule: rule)
                report.errors += desired.problems
                let plan = XfrmPlanner.plan(desired: desired, actual: actual, local: cfg.local, rule: rule)
                log.debug("xfrm: \(desired.policies.count) policies, \(desired.states.count) states wanted; \(plan.changes.count) changes")
                let new = XfrmOwnership(priority: rule.priority, reqidFirst: rule.reqidFirst, reqidLast: rule.reqidLast,
                                        local: cfg.local,
                                        peers: reqids.map { XfrmOwnership.PeerReqid(peer: $0.key, reqid: $0.value) },
                                        rotation: rotation)
                clock.lap("plan")
                try s.execute(plan, backend: backend, old: old, new: new, report: &report)
                clock.lap("apply and record state")
                report.extra["rotation"] = XfrmSession.rotationJSON(rotation)
                report.extra["policies"] = .int(desired.policies.count)
                report.extra["states"] = .int(desired.states.count)
                if rotation.out != cfg.generation || rotation.accepting.count > 1 {
                    let step = rotation.out != cfg.generation ? "OUT switches to generation \(cfg.generation)" : "old generations are removed"
                    let msg = "key rotation in progress: out generation \(rotation.out), accepting \(rotation.acceptedGenerations.map(String.init).joined(separator: " ")); \(step) on a sync at least \(Int(cfg.rotationDelay))s from now"
                    report.warnings.append(msg)
                }
                s.recordIfConverged(cfg: cfg, desired: desired, plan: plan, rule: rule, rotation: rotation, backend: backend, report: report)
                clock.lap("record converged state")
                return report
            }
        }
    }
}
