import EzlbCore
#if canImport(Glibc)
import Glibc
#endif

/// `--firewall auto`: the firewall interface the host itself uses, and why (shown with -v).
///
///  - tables in the nft ruleset other than ezlb's own (nftables.service, firewalld, iptables-nft,
///    Docker or kube-proxy through iptables-nft) and no legacy x_tables table loaded → nftables;
///  - legacy x_tables tables loaded (/proc/net/ip{,6}_tables_names) and no foreign nft table → iptables;
///  - both or neither: what `iptables` is on this host (the Debian/RHEL alternative:
///    xtables-nft-multi → nftables, xtables-legacy-multi → iptables);
///  - no iptables command at all → nftables, the kernel's current interface.
/// On the fake kernel the same questions go to its model; with neither kind of table there it
/// answers iptables (the fake has no `iptables` command to ask).
public struct FirewallDetection: Equatable, Sendable {
    public var firewall: Firewall
    public var reason: String

    public static func detect(_ backends: Backends, ownTable: String = "ezlb") -> FirewallDetection {
        var nftTables: [String] = []
        var legacy: [String] = []
        if backends.kind == .fake {
            if let k = try? backends.fakeKernel() {
                nftTables = k.model.nftables.tables.filter { !$0.name.hasPrefix(ownTable) }.map(\.description)
                legacy = k.model.iptables.tables.filter { t in
                    t.chains.contains { !$0.rules.isEmpty || ($0.policy != nil && $0.policy != "ACCEPT") || ($0.policy == nil && !$0.name.hasPrefix("EZLB")) }
                }.map(\.ref.description)
            }
        } else {
            if let n = try? LibNftnlBackend() { nftTables = ((try? n.tableNames()) ?? []).filter { !$0.hasSuffix(" " + ownTable) && $0.firstRange(of: " \(ownTable)-") == nil } }
            for (f, path) in [("ip4", "/proc/net/ip_tables_names"), ("ip6", "/proc/net/ip6_tables_names")] {
                if case .success(let b) = FileBytes.read(path) {
                    legacy += String(decoding: b, as: UTF8.self).split(separator: "\n").map { "\(f) \($0)" }
                }
            }
        }
        let nft = !nftTables.isEmpty, old = !legacy.isEmpty
        if nft && !old { return FirewallDetection(firewall: .nftables, reason: "the nft ruleset holds \(nftTables.prefix(4).joined(separator: ", ")) and no legacy x_tables table is loaded") }
        if old && !nft { return FirewallDetection(firewall: .iptables, reason: "legacy x_tables tables are in use (\(legacy.joined(separator: ", "))) and the nft ruleset holds no other table") }
        let both = nft && old ? "both nft tables (\(nftTables.prefix(3).joined(separator: ", "))) and legacy x_tables tables are in use; " : ""
        if backends.kind == .fake { return FirewallDetection(firewall: nft && !old ? .nftables : .iptables, reason: both + "the fake kernel defaults to iptables") }
        if let target = realPath("/usr/sbin/iptables") ?? realPath("/sbin/iptables") {
            if target.firstRange(of: "nft") != nil { return FirewallDetection(firewall: .nftables, reason: both + "iptables is the nft variant (\(target))") }
            if target.firstRange(of: "legacy") != nil { return FirewallDetection(firewall: .iptables, reason: both + "iptables is the legacy variant (\(target))") }
        }
        return FirewallDetection(firewall: .nftables, reason: both + "no iptables alternative says otherwise; nftables is the kernel's current interface")
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
