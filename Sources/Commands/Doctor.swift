import ArgumentParser
import EzlbConfig
import EzlbCore
import EzlbPlanner
import EzlbReconcile
import EzlbState
import Kernel
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `ezlb doctor`: the host preconditions for IPVS and FullNAT.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the host's preconditions for IPVS and FullNAT (sysctls, modules, firewall, forward path, xtables lock).",
        discussion: """
        Checks net.ipv4.ip_forward, net.ipv4.vs.conntrack (needed to SNAT IPVS traffic; checked when \
        IPVS is loaded), rp_filter (0 or 2), whether ip_vs and the configured schedulers' modules are \
        available, which firewall interface snat sync uses and why, the xtables lock, and every chain \
        on the forward hook — nftables (native, iptables-nft, firewalld) and legacy x_tables — that \
        would drop FullNAT's replies, each with the command that admits them. Exits 1 when a check \
        fails (a dropping chain fails when FullNAT is configured or ezlb owns FullNAT rules). --fix \
        sets the sysctls it can (ip_forward=1, vs.conntrack=1, rp_filter=2 where it is 1); it never \
        edits another program's firewall. Sysctls and modules are the running host's; the firewall \
        checks read the --backend's tables.

        Example:
          ezlb doctor -c /etc/ezlb/ezlb.yaml --fix --dry-run
        """
    )

    @OptionGroup var options: CommonOptions

    @OptionGroup var firewall: FirewallOptions

    @Flag(help: "Set the sysctls that fail (with --dry-run: only say what would be set).")
    var fix = false

    struct Check {
        enum Status: String { case ok, warn, fail, fixed, info }
        var name: String
        var status: Status
        var value: String
        var message: String
        var fix: (path: String, value: String)? = nil
        /// A command the operator can run (doctor never edits another program's firewall).
        var command: String? = nil
    }

    var procRoot: String { ProcessInfo.processInfo.environment["EZLB_PROC_ROOT"] ?? "/proc" }
    var modulesRoot: String { ProcessInfo.processInfo.environment["EZLB_MODULES_ROOT"] ?? "/lib/modules" }

    func run() throws {
        try Runner.run(options.values, command: "doctor") { ctx in
            var report = CommandReport(command: "doctor", dryRun: options.dryRun)
            // The config is optional: without one, scheduler checks are skipped.
            var cfg: EzlbConfiguration? = nil
            let path = options.values.config
            if path != CommonValues.defaultConfig || FileManager.default.fileExists(atPath: path) {
                cfg = try EzlbConfiguration.load(path: path)
            }
            var checks = gather(cfg)
            var fctx = ctx
            fctx.firewall = try FirewallOptions.resolve(firewall.firewall)
            checks += forwardPath(cfg, fctx)
            if fix {
                for i in checks.indices where checks[i].status == .fail {
                    guard let f = checks[i].fix else { continue }
                    let text = "~ \(checks[i].name) \(checks[i].value) -> \(f.value)"
                    var err: String? = nil
                    if !options.dryRun {
                        if write(f.value, to: f.path) { checks[i].status = .fixed; checks[i].value = f.value }
                        else { err = "\(f.path): write failed: \(String(cString: strerror(errno)))" }
                    }
                    report.add(FieldAction(text, ["action": "set", "object": "sysctl", "name": .string(checks[i].name), "to": .string(f.value)]),
                               error: err)
                }
            }
            var body = ""
            for c in checks {
                let tag = c.status == .fail ? "FAIL" : c.status.rawValue
                body += "\(tag.padded(to: 5)) \(c.name): \(c.value)"
                body += c.message.isEmpty ? "\n" : " — \(c.message)\n"
                if let cmd = c.command { body += "      fix: \(cmd)\n" }
            }
            report.body = body
            report.extra["checks"] = .array(checks.map { c in
                var o: [String: JSONValue] = ["name": .string(c.name), "status": .string(c.status.rawValue), "value": .string(c.value),
                                              "message": .string(c.message), "fixable": .bool(c.fix != nil)]
                if let cmd = c.command { o["fix_command"] = .string(cmd) }
                return .object(o)
            })
            let failed = checks.filter { $0.status == .fail }
            if !failed.isEmpty {
                report.errors.append("\(failed.count) check(s) failed: \(failed.map(\.name).joined(separator: ", "))" +
                                     (failed.contains { $0.fix != nil } && !fix ? " (ezlb doctor --fix sets the sysctls)" : ""))
            }
            return report
        }
    }

    func read(_ path: String) -> String? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: d, as: UTF8.self).trimmed()
    }

    func write(_ value: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_TRUNC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count
    }

    func sysctl(_ name: String) -> String { procRoot + "/sys/" + name.replacing(".", with: "/") }

    func gather(_ cfg: EzlbConfiguration?) -> [Check] {
        var out: [Check] = []
        let fullNAT = cfg?.services.filter(\.fullNAT) ?? []

        // Forwarding: IPVS NAT sends replies through FORWARD.
        let fwd = sysctl("net.ipv4.ip_forward")
        switch read(fwd) {
        case "1": out.append(Check(name: "net.ipv4.ip_forward", status: .ok, value: "1", message: ""))
        case let v?: out.append(Check(name: "net.ipv4.ip_forward", status: .fail, value: v,
                                      message: "IPVS NAT needs forwarding for the replies", fix: (fwd, "1")))
        case nil: out.append(Check(name: "net.ipv4.ip_forward", status: .fail, value: "unreadable", message: "cannot read \(fwd)"))
        }
        if cfg?.services.contains(where: { $0.key.family == .ipv6 }) == true {
            let p = procRoot + "/sys/net/ipv6/conf/all/forwarding"
            let v = read(p) ?? "unreadable"
            out.append(Check(name: "net.ipv6.conf.all.forwarding", status: v == "1" ? .ok : .fail, value: v,
                             message: v == "1" ? "" : "IPv6 services need forwarding", fix: v == "0" ? (p, "1") : nil))
        }

        // IPVS connection tracking: without it conntrack never sees IPVS's DNAT and SNAT rules never apply.
        let ipvsLoaded = FileManager.default.fileExists(atPath: procRoot + "/net/ip_vs")
            || FileManager.default.fileExists(atPath: procRoot + "/sys/net/ipv4/vs")
        let ct = sysctl("net.ipv4.vs.conntrack")
        if !ipvsLoaded {
            out.append(Check(name: "net.ipv4.vs.conntrack", status: .info, value: "n/a",
                             message: "IPVS is not loaded yet (the first 'ipvs apply' loads it); run doctor again after"))
        } else if let v = read(ct) {
            let need = cfg == nil || !fullNAT.isEmpty
            out.append(Check(name: "net.ipv4.vs.conntrack", status: v == "1" ? .ok : (need ? .fail : .warn), value: v,
                             message: v == "1" ? "" : "FullNAT (snat sync) needs it: SNAT of IPVS traffic only works on tracked connections",
                             fix: v == "1" ? nil : (ct, "1")))
        }

        // rp_filter: strict mode (1) drops replies arriving on the "wrong" interface; effective value is max(all, iface).
        let confDir = procRoot + "/sys/net/ipv4/conf"
        let ifaces = ((try? FileManager.default.contentsOfDirectory(atPath: confDir)) ?? []).sorted()
        var strict: [String] = []
        for i in ifaces where read("\(confDir)/\(i)/rp_filter") == "1" { strict.append(i) }
        if ifaces.isEmpty {
            out.append(Check(name: "rp_filter", status: .warn, value: "unreadable", message: "cannot read \(confDir)"))
        } else if strict.isEmpty {
            out.append(Check(name: "rp_filter", status: .ok, value: "0 or 2 everywhere", message: ""))
        } else {
            for i in strict {
                out.append(Check(name: "net.ipv4.conf.\(i).rp_filter", status: .fail, value: "1",
                                 message: "strict reverse-path filtering drops asymmetric IPVS traffic; use 0 or 2",
                                 fix: ("\(confDir)/\(i)/rp_filter", "2")))
            }
        }

        // Modules: ip_vs and the configured schedulers.
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let dep = read("\(modulesRoot)/\(release)/modules.dep")
        let builtin = read("\(modulesRoot)/\(release)/modules.builtin") ?? ""
        func available(_ m: String) -> Bool? {
            if FileManager.default.fileExists(atPath: "/sys/module/\(m)") { return true }
            if builtin.firstRange(of: "/\(m).ko") != nil { return true }
            guard let dep else { return nil }
            return dep.firstRange(of: "/\(m).ko") != nil
        }
        var mods = ["ip_vs"]
        for s in cfg?.services.map(\.scheduler.rawValue) ?? [] where !mods.contains("ip_vs_\(s)") { mods.append("ip_vs_\(s)") }
        if !fullNAT.isEmpty { mods += ["iptable_nat", "xt_conntrack", "xt_comment"] }
        for m in mods {
            switch available(m) {
            case true?: out.append(Check(name: "module \(m)", status: .ok, value: "available", message: ""))
            case false?: out.append(Check(name: "module \(m)", status: .fail, value: "missing",
                                          message: "not in \(modulesRoot)/\(release)/modules.dep nor built in"))
            case nil: out.append(Check(name: "module \(m)", status: .warn, value: "unknown",
                                       message: "no \(modulesRoot)/\(release)/modules.dep to look in"))
            }
        }

        // Which iptables the host's `iptables` command is.
        out.append(iptablesVariant())

        // The xtables lock libiptc writers share with iptables -w.
        let lockPath = ProcessInfo.processInfo.environment["XTABLES_LOCKFILE"] ?? "/run/xtables.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            out.append(Check(name: "xtables lock", status: .fail, value: lockPath,
                             message: "cannot open: \(String(cString: strerror(errno))) (snat sync takes it before writing)"))
        } else {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                flock(fd, LOCK_UN)
                out.append(Check(name: "xtables lock", status: .ok, value: lockPath, message: "free"))
            } else {
                out.append(Check(name: "xtables lock", status: .warn, value: lockPath,
                                 message: "held by another program right now (snat sync waits up to EZLB_LOCK_TIMEOUT seconds)"))
            }
            close(fd)
        }
        return out
    }

    /// Which firewall interface `snat sync` uses, and every forward-hook chain that would drop
    /// FullNAT's replies (ForwardPath), with the command that admits them.
    func forwardPath(_ cfg: EzlbConfiguration?, _ ctx: ReconcileContext) -> [Check] {
        var out: [Check] = []
        let record = (try? ctx.stateDir.load(SNATOwnership.self)) ?? nil
        let inUse = cfg?.services.contains(where: \.fullNAT) == true || !(record?.chains.isEmpty ?? true) || !(record?.nftTables.isEmpty ?? true)
        let fw: Firewall
        let why: String
        if let r = record, !r.nftTables.isEmpty { fw = .nftables; why = "ezlb's FullNAT rules are in nftables (snat.json)" }
        else if let r = record, !r.chains.isEmpty { fw = .iptables; why = "ezlb's FullNAT rules are in iptables (snat.json)" }
        else if let f = ctx.firewall?.fixed ?? cfg?.firewall?.fixed { fw = f; why = "chosen by --firewall, EZLB_FIREWALL or the config" }
        else { let d = FirewallDetection.detect(ctx.backends); fw = d.firewall; why = "auto: " + d.reason }
        out.append(Check(name: "firewall", status: .info, value: fw.rawValue, message: why))
        let mark = cfg?.forwardMark ?? SNATNFT.defaultForwardMark
        var findings: [ForwardPath.Finding] = []
        do {
            findings += ForwardPath.check(nft: try ctx.backends.nftables().ruleset(), firewall: fw, mark: mark)
        } catch {
            out.append(Check(name: "forward path (nftables)", status: .warn, value: "unreadable", message: "\(error)"))
        }
        // Legacy x_tables: only a table the kernel already has (reading one would create it).
        var legacy: [XTTableRef] = []
        for f in IPFamily.allCases {
            let ref = XTTableRef(f, .filter)
            if ctx.backends.kind == .fake {
                if (try? ctx.backends.fakeKernel())?.model.iptables.tables.contains(where: { $0.ref == ref }) == true { legacy.append(ref) }
            } else if read(procRoot + (f == .ipv4 ? "/net/ip_tables_names" : "/net/ip6_tables_names"))?.split(separator: "\n").contains("filter") == true {
                legacy.append(ref)
            }
        }
        if !legacy.isEmpty {
            do {
                let xt = try ctx.backends.xtables()
                for ref in legacy {
                    let (st, policies) = try xt.readAll(ref)
                    if let f = ForwardPath.check(legacy: st, policy: policies["FORWARD"] ?? "ACCEPT", firewall: fw, mark: mark) { findings.append(f) }
                }
            } catch {
                out.append(Check(name: "forward path (legacy x_tables)", status: .warn, value: "unreadable", message: "\(error)"))
            }
        }
        for f in findings {
            switch f.verdict {
            case .admits: continue
            case .drops(let w):
                out.append(Check(name: "forward path: \(f.chain)", status: inUse ? .fail : .warn, value: "drops FullNAT replies",
                                 message: w + (fw == .nftables && mark != 0 ? "; ezlb marks its replies with 0x\(String(mark, radix: 16))" : ""),
                                 command: f.fix))
            case .unknown(let w):
                out.append(Check(name: "forward path: \(f.chain)", status: .warn, value: "cannot tell", message: w + " (if it drops FullNAT replies)",
                                 command: f.fix))
            }
        }
        if findings.isEmpty {
            out.append(Check(name: "forward path", status: .ok, value: "no chain on the forward hook drops FullNAT replies", message: ""))
        }
        return out
    }

    func iptablesVariant() -> Check {
        let note = "the tables the iptables command lists; ezlb's own rules: ezlb snat show"
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .split(separator: ":").map { "\($0)/iptables" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            return Check(name: "iptables variant", status: .info, value: "no iptables command", message: note)
        }
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        guard let output = ChildProcess.run([path, "-V"], environment: env).map({ String(decoding: $0.output, as: UTF8.self) }) else {
            return Check(name: "iptables variant", status: .warn, value: "unknown", message: "\(path) -V failed; " + note)
        }
        let text = output.trimmed()
        if text.firstRange(of: "nf_tables") != nil {
            return Check(name: "iptables variant", status: .info, value: "nf_tables (\(text))", message: note)
        }
        return Check(name: "iptables variant", status: .ok, value: text.firstRange(of: "legacy") != nil ? "legacy (\(text))" : text,
                     message: note)
    }
}
