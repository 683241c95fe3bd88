import EzlbCore
import EzlbIPAM

/// A CNI failure as the spec reports it: a code (1-99 the spec's, 100+ the plugin's), a message
/// and details, printed as the error JSON on stdout.
public struct CNIError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var msg: String
    public var details: String

    public init(_ code: Code, _ msg: String, details: String = "") {
        self.code = code.rawValue
        self.msg = msg
        self.details = details
    }

    public init(code: Int, msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String { details.isEmpty ? msg : "\(msg): \(details)" }

    /// The spec's well-known error codes (SPEC.md, "Error").
    public enum Code: Int, Sendable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodeFailure = 6
        case invalidConfig = 7
        case tryAgainLater = 11
        case notAvailable = 50
        /// ezlb: no free address in the range (the CLI's exit 69).
        case addressesExhausted = 100
        /// ezlb: a kernel or state operation failed.
        case failed = 102
    }
}

/// What the runtime asked for: `CNI_COMMAND`.
public enum CNICommand: String, Sendable {
    case add = "ADD", del = "DEL", check = "CHECK", version = "VERSION", gc = "GC", status = "STATUS"
}

/// The CNI versions ezlb speaks (SPEC.md's version negotiation: the runtime sends the
/// network config's `cniVersion`; results use that version's layout).
public enum CNIVersion {
    public static let supported = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    public static let latest = "1.1.0"

    /// -1, 0, 1 as `a` is older than, equal to or newer than `b` (numeric per component).
    public static func compare(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }, y = b.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? x[i] : 0, r = i < y.count ? y[i] : 0
            if l != r { return l < r ? -1 : 1 }
        }
        return 0
    }

    public static func atLeast(_ v: String, _ min: String) -> Bool { compare(v, min) >= 0 }
}

/// One invocation: the environment (CNI_*) and the network configuration on stdin.
public struct CNIRequest: Sendable {
    public var command: CNICommand
    public var containerID = ""
    public var netns = ""
    public var ifname = ""
    /// CNI_ARGS (`K=V;K=V`).
    public var args: [String: String] = [:]
    /// The config's `cniVersion` (VERSION without a config: the latest).
    public var cniVersion = CNIVersion.latest
    /// nil for VERSION.
    public var network: CNINetwork?

    /// Who an attachment's address and veth belong to in ipam.json / bridges.json: the network,
    /// the container and the interface (the spec's key of an attachment).
    public static func owner(network: String, containerID: String, ifname: String) -> String {
        "cni:\(network):\(containerID):\(ifname)"
    }

    public var owner: String { Self.owner(network: network?.name ?? "", containerID: containerID, ifname: ifname) }

    /// The environment and stdin of a plugin invocation; `env` reads one variable.
    public static func parse(env: (String) -> String?, stdin: [UInt8]) throws(CNIError) -> CNIRequest {
        guard let cmd = env("CNI_COMMAND"), !cmd.isEmpty else {
            throw CNIError(.invalidEnvironment, "CNI_COMMAND is not set")
        }
        guard let command = CNICommand(rawValue: cmd) else {
            throw CNIError(.invalidEnvironment, "CNI_COMMAND: '\(cmd)': unknown command (ADD, DEL, CHECK, VERSION, GC, STATUS)")
        }
        var r = CNIRequest(command: command)
        if command == .version {
            // Version negotiation never fails: the config (optional) only picks the version the
            // answer is written in; one ezlb does not speak gets the latest.
            r.cniVersion = (try? CNINetwork.version(CNINetwork.object(stdin))) ?? CNIVersion.latest
            return r
        }
        // DEL must work on whatever ADD was given, also a config or CNI_ARGS ADD refused:
        // it checks only what it needs to find the attachment.
        let lenient = command == .del
        let n = try CNINetwork.parse(stdin, lenient: lenient)
        r.cniVersion = n.cniVersion
        r.network = n
        guard command != .gc && command != .status else { return r }
        r.containerID = env("CNI_CONTAINERID") ?? ""
        r.ifname = env("CNI_IFNAME") ?? ""
        r.netns = env("CNI_NETNS") ?? ""
        // SPEC.md, "Parameters": the container ID is alphanumeric plus _ . -; the interface
        // name at most 15 bytes, no '/', ':' or whitespace, not '.' or '..'.
        guard !r.containerID.isEmpty else { throw CNIError(.invalidEnvironment, "CNI_CONTAINERID is not set") }
        guard r.containerID.utf8.count <= 128, r.containerID.utf8.allSatisfy(isIDByte), r.containerID.utf8.first.map(isAlphanumeric) == true else {
            throw CNIError(.invalidEnvironment, "CNI_CONTAINERID: '\(printable(r.containerID))': letters, digits, '_', '.' and '-', starting with a letter or digit (at most 128)")
        }
        guard !r.ifname.isEmpty else { throw CNIError(.invalidEnvironment, "CNI_IFNAME is not set") }
        guard r.ifname.utf8.count <= 15, r.ifname != ".", r.ifname != "..",
              r.ifname.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }) else {
            throw CNIError(.invalidEnvironment, "CNI_IFNAME: '\(printable(r.ifname))': not a valid interface name (1-15 printable bytes, no '/', ':' or space)")
        }
        if (command == .add || command == .check) && r.netns.isEmpty {
            throw CNIError(.invalidEnvironment, "CNI_NETNS is not set")
        }
        if !r.netns.isEmpty && (r.netns.first != "/" || r.netns.utf8.contains(0)) {
            throw CNIError(.invalidEnvironment, "CNI_NETNS: '\(printable(r.netns))': not an absolute path")
        }
        do {
            r.args = try parseArgs(env("CNI_ARGS") ?? "")
        } catch where lenient {
            r.args = [:]
        }
        return r
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }

    static func isIDByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2E || b == 0x2D
    }

    static func printable(_ s: String) -> String { TerminalText.escaped(String(s.prefix(200))) }

    /// CNI_ARGS (CONVENTIONS.md): `IP` (a requested address, as host-local reads it) and
    /// `IgnoreUnknown`; other keys (K8S_POD_NAME, ...) are refused unless IgnoreUnknown is 1/true.
    static func parseArgs(_ text: String) throws(CNIError) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: ";", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS: '\(printable(String(pair)))': expected KEY=VALUE")
            }
            out[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        let ignore = ["1", "true"].contains((out["IgnoreUnknown"] ?? "").lowercased())
        for k in out.keys.sorted() where k != "IP" && k != "IgnoreUnknown" && !ignore {
            throw CNIError(.invalidEnvironment, "CNI_ARGS: '\(printable(k))': unknown key (IP, IgnoreUnknown; IgnoreUnknown=1 skips others)")
        }
        if let ip = out["IP"] {
            // CONVENTIONS.md: IP=<ip>[/<prefix>].
            let bare = ip.firstIndex(of: "/").map { String(ip[..<$0]) } ?? ip
            guard IPAddress(bare) != nil else {
                throw CNIError(.invalidEnvironment, "CNI_ARGS: IP: '\(printable(ip))': not an IP address")
            }
            out["IP"] = bare
        }
        return out
    }
}

/// The network configuration (stdin) as ezlb uses it, for the main plugin (`type: ezlb`: a
/// bridge, veths and addresses; the keys of the reference `bridge` plugin) and for the IPAM
/// plugin (`ipam.type: ezlb` under another main plugin; the keys of `host-local`).
public struct CNINetwork: Sendable {
    public struct Route: Equatable, Sendable {
        public var destination: IPSubnet
        public var gateway: IPAddress?
    }

    public var cniVersion = CNIVersion.latest
    public var name = ""
    public var type = ""
    /// `type` is ezlb's: the main plugin; otherwise ezlb is the IPAM plugin of `type`.
    public var isMain: Bool { type == "ezlb" }

    // Main plugin (the reference bridge plugin's keys).
    public var bridge = "cni0"
    public var mtu = 1500
    public var ipMasq = false
    // IPAM (host-local's keys).
    public var subnet: IPSubnet
    public var range: IPRange?
    /// The gateway the containers get (main plugin: the subnet's first address, the bridge's).
    public var gateway: IPAddress
    public var routes: [Route] = []
    public var reserved: [IPRange] = []
    public var dns: JSONValue? = nil
    // ezlb's keys.
    /// Only the config sets it: runtimes do not pass their environment on reliably (podman's
    /// DEL at container cleanup runs from conmon with a fresh one).
    public var stateDir = "/var/lib/ezlb"
    /// `kernel` or `fake` (the fake kernel in the state directory, for tests).
    public var backend = "kernel"
    public var firewall: FirewallChoice? = nil
    // From the runtime.
    public var prevResult: JSONValue? = nil
    /// runtimeConfig.ips (the `ips` capability): requested addresses.
    public var requestedIPs: [IPAddress] = []
    /// GC: `cni.dev/valid-attachments` as (container ID, ifname).
    public var validAttachments: [(String, String)]? = nil

    init(subnet: IPSubnet, gateway: IPAddress) {
        self.subnet = subnet
        self.gateway = gateway
    }

    static func fail(_ path: String, _ value: String?, _ reason: String, _ code: CNIError.Code = .invalidConfig) -> CNIError {
        CNIError(code, "network config: \(path)\(value.map { ": '\(CNIRequest.printable($0))'" } ?? ""): \(reason)")
    }

    /// Stdin as a JSON object (at most 1 MiB).
    public static func object(_ bytes: [UInt8]) throws(CNIError) -> [String: JSONValue] {
        guard bytes.count <= 1 << 20 else { throw CNIError(.decodeFailure, "network config: larger than 1 MiB") }
        let v: JSONValue
        do { v = try JSONValue.parse(bytes, maxDepth: 32) } catch { throw CNIError(.decodeFailure, "network config: \(error)") }
        guard case .object(let o) = v else { throw CNIError(.decodeFailure, "network config: expected a JSON object") }
        return o
    }

    /// `cniVersion`, one ezlb speaks.
    public static func version(_ root: [String: JSONValue]) throws(CNIError) -> String {
        // A config without a version is 0.1.0 (libcni's ConfigDecoder).
        guard let v = root["cniVersion"], v != .null else { return "0.1.0" }
        guard case .string(let version) = v else { throw fail("cniVersion", nil, "expected a string") }
        guard CNIVersion.supported.contains(version) else {
            throw CNIError(.incompatibleVersion, "network config: cniVersion: '\(CNIRequest.printable(version))': not supported (ezlb supports \(CNIVersion.supported.joined(separator: ", ")))")
        }
        return version
    }

    static func string(_ o: [String: JSONValue], _ key: String, _ path: String) throws(CNIError) -> String? {
        guard let v = o[key], v != .null else { return nil }
        guard case .string(let s) = v else { throw fail(path, nil, "expected a string") }
        return s
    }

    static func bool(_ o: [String: JSONValue], _ key: String, _ path: String) throws(CNIError) -> Bool? {
        guard let v = o[key], v != .null else { return nil }
        guard case .bool(let b) = v else { throw fail(path, nil, "expected true or false") }
        return b
    }

    /// A route destination: a CIDR with zero host bits, /0 (the default route) included.
    public static func routePrefix(_ text: String) -> IPSubnet? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPAddress(String(parts[0])), parts[1].count <= 3,
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(parts[1]) else { return nil }
        return IPSubnet(family: a.family, network: a.value, prefixLength: n)
    }

    static func address(_ text: String, _ path: String) throws(CNIError) -> IPAddress {
        guard let a = IPAddress(text) else { throw fail(path, text, "not an IP address") }
        return a
    }

    /// Parses the network configuration on stdin.
    /// `lenient` (DEL): the settings ADD would refuse are not checked.
    public static func parse(_ bytes: [UInt8], lenient: Bool = false) throws(CNIError) -> CNINetwork {
        let root = try object(bytes)
        let version = try version(root)
        let type = try string(root, "type", "type") ?? ""
        guard !type.isEmpty else { throw fail("type", nil, "missing") }
        guard case .object(let ipam)? = root["ipam"] else { throw fail("ipam", nil, "missing (an object with type \"ezlb\")") }
        let isMain = type == "ezlb"
        var n = try parseIPAM(ipam, isMain: isMain, lenient: lenient)
        n.cniVersion = version
        n.type = type
        n.name = try string(root, "name", "name") ?? ""
        guard !n.name.isEmpty else { throw fail("name", nil, "missing") }
        guard n.name.utf8.count <= 100, n.name.utf8.first.map({ CNIRequest.isIDByte($0) && $0 != 0x2E && $0 != 0x2D && $0 != 0x5F }) == true,
              n.name.utf8.allSatisfy(CNIRequest.isIDByte) else {
            throw fail("name", n.name, "letters, digits, '_', '.' and '-', starting with a letter or digit (at most 100)")
        }
        // The main plugin's keys; as an IPAM plugin they are the main plugin's business.
        if isMain {
            if let b = try string(root, "bridge", "bridge") {
                guard !b.isEmpty, b.utf8.count <= 15, b.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
                    throw fail("bridge", b, "not a valid interface name (1-15 printable bytes, no '/' or space)")
                }
                n.bridge = b
            }
            if let v = root["mtu"], v != .null, v != .int(0) {   // 0: the default, as the bridge plugin reads it
                guard case .int(let m) = v, (68...65535).contains(m) else { throw fail("mtu", v.text, "expected an integer in 68..65535 (0: 1500)") }
                n.mtu = m
            }
            if let m = try bool(root, "ipMasq", "ipMasq") { n.ipMasq = m }
            if !lenient, try bool(root, "isGateway", "isGateway") == false {
                throw fail("isGateway", "false", "ezlb's bridge always holds the gateway address (internal networks are not supported)", .unsupportedField)
            }
            if !lenient, let v = root["vlan"], v != .null, v != .int(0) {
                throw fail("vlan", v.text, "VLANs are not supported", .unsupportedField)
            }
        }
        if let s = try string(root, "stateDir", "stateDir") {
            guard s.first == "/" else { throw fail("stateDir", s, "expected an absolute path") }
            n.stateDir = s
        }
        if let b = try string(root, "backend", "backend") {
            guard b == "kernel" || b == "fake" else { throw fail("backend", b, "expected kernel or fake") }
            n.backend = b
        }
        if let f = try string(root, "firewall", "firewall") {
            guard let c = FirewallChoice(rawValue: f) else { throw fail("firewall", f, "expected auto, nftables or iptables") }
            n.firewall = c
        }
        if let d = root["dns"], d != .null {
            guard case .object = d else { throw fail("dns", nil, "expected an object") }
            n.dns = d
        }
        if let p = root["prevResult"], p != .null {
            guard case .object = p else { throw fail("prevResult", nil, "expected an object") }
            n.prevResult = p
        }
        if case .object(let rc)? = root["runtimeConfig"], let ips = rc["ips"], ips != .null {
            guard case .array(let list) = ips else { throw fail("runtimeConfig.ips", nil, "expected a list") }
            for (i, v) in list.enumerated() {
                guard case .string(let t) = v else { throw fail("runtimeConfig.ips[\(i)]", nil, "expected a string") }
                let addr = t.firstIndex(of: "/").map { String(t[..<$0]) } ?? t
                n.requestedIPs.append(try address(addr, "runtimeConfig.ips[\(i)]"))
            }
        }
        // GC's list: `cni.dev/valid-attachments`, called `cni.dev/attachments` in the 1.1.0 text
        // (libcni sends both).
        for key in ["cni.dev/valid-attachments", "cni.dev/attachments"] {
            guard n.validAttachments == nil, let va = root[key], va != .null else { continue }
            guard case .array(let list) = va else { throw fail(key, nil, "expected a list") }
            var out: [(String, String)] = []
            for (i, v) in list.enumerated() {
                guard case .object(let o) = v, case .string(let c)? = o["containerID"], case .string(let f)? = o["ifname"] else {
                    throw fail("\(key)[\(i)]", nil, "expected {\"containerID\": ..., \"ifname\": ...}")
                }
                out.append((c, f))
            }
            n.validAttachments = out
        }

        if n.isMain, let d = ipam["dns"], d != .null, n.dns == nil { n.dns = d }
        return n
    }

    /// `ipam` with host-local's keys: `ranges` (a list of range sets) or the older flat
    /// `subnet`/`rangeStart`/`rangeEnd`/`gateway`; exactly one subnet. `routes`, `reserved`.
    static func parseIPAM(_ ipam: [String: JSONValue], isMain: Bool, lenient: Bool) throws(CNIError) -> CNINetwork {
        let itype = try string(ipam, "type", "ipam.type") ?? ""
        guard itype == "ezlb" else {
            throw fail("ipam.type", itype, isMain ? "the ezlb plugin manages its addresses itself: use \"ezlb\"" : "expected \"ezlb\"")
        }
        var sets: [(path: String, obj: [String: JSONValue])] = []
        if let r = ipam["ranges"], r != .null {
            guard case .array(let outer) = r else { throw fail("ipam.ranges", nil, "expected a list of range sets") }
            for (i, set) in outer.enumerated() {
                guard case .array(let inner) = set else { throw fail("ipam.ranges[\(i)]", nil, "expected a list of ranges") }
                for (j, one) in inner.enumerated() {
                    guard case .object(let o) = one else { throw fail("ipam.ranges[\(i)][\(j)]", nil, "expected an object") }
                    sets.append(("ipam.ranges[\(i)][\(j)]", o))
                }
            }
        } else if ipam["subnet"] != nil {
            sets.append(("ipam", ipam))
        }
        guard sets.count == 1, let one = sets.first else {
            throw fail("ipam.ranges", nil, sets.isEmpty ? "missing: one range with a subnet" : "\(sets.count) ranges: ezlb takes one subnet per network",
                       sets.isEmpty ? .invalidConfig : .unsupportedField)
        }
        let sp = one.path + ".subnet"
        let stext = try string(one.obj, "subnet", sp) ?? ""
        let subnet: IPSubnet
        switch IPSubnet.parse(stext) {
        case .success(let s): subnet = s
        case .failure(let e): throw fail(sp, stext, e.reason)
        }
        let layout = SubnetLayout(subnet)
        guard let first = layout.gatewayAddress else { throw fail(sp, stext, "no room for a gateway and containers") }
        var gw = first
        if let g = try string(one.obj, "gateway", one.path + ".gateway") {
            let a = try address(g, one.path + ".gateway")
            guard subnet.contains(a) else { throw fail(one.path + ".gateway", g, "not in \(subnet)") }
            if isMain && a != first && !lenient {
                throw fail(one.path + ".gateway", g, "ezlb's bridge gateway is the subnet's first address, \(first)", .unsupportedField)
            }
            gw = a
        }
        var n = CNINetwork(subnet: subnet, gateway: gw)
        let start = try string(one.obj, "rangeStart", one.path + ".rangeStart").map { t throws(CNIError) in try address(t, one.path + ".rangeStart") }
        let end = try string(one.obj, "rangeEnd", one.path + ".rangeEnd").map { t throws(CNIError) in try address(t, one.path + ".rangeEnd") }
        for (a, key) in [(start, "rangeStart"), (end, "rangeEnd")] {
            if let a, !n.subnet.contains(a) { throw fail(one.path + "." + key, a.description, "not in \(n.subnet)") }
        }
        if start != nil || end != nil {
            let lo = start?.value ?? layout.pool.lowerBound, hi = end?.value ?? layout.pool.upperBound
            guard lo <= hi else { throw fail(one.path + ".rangeEnd", end?.description, "before rangeStart") }
            n.range = IPRange(family: n.subnet.family, bounds: lo...hi)
        }
        if let r = ipam["routes"], r != .null {
            guard case .array(let list) = r else { throw fail("ipam.routes", nil, "expected a list") }
            for (i, v) in list.enumerated() {
                let p = "ipam.routes[\(i)]"
                guard case .object(let o) = v else { throw fail(p, nil, "expected {\"dst\": CIDR, \"gw\": IP}") }
                let dtext = try string(o, "dst", p + ".dst") ?? ""
                guard let dst = routePrefix(dtext) else { throw fail(p + ".dst", dtext, "not a CIDR with zero host bits") }
                guard dst.family == n.subnet.family else { throw fail(p + ".dst", dtext, "not of the subnet's family") }
                let via = try string(o, "gw", p + ".gw").map { t throws(CNIError) in try address(t, p + ".gw") }
                if let via, !n.subnet.contains(via) { throw fail(p + ".gw", via.description, "not in \(n.subnet)") }
                if isMain, dst.prefixLength == 0, let via, via != n.gateway, !lenient {
                    throw fail(p + ".gw", via.description, "the default route goes via the bridge's gateway \(n.gateway)", .unsupportedField)
                }
                n.routes.append(Route(destination: dst, gateway: via))
            }
        }
        if let r = ipam["reserved"], r != .null {
            guard case .array(let list) = r else { throw fail("ipam.reserved", nil, "expected a list") }
            for (i, v) in list.enumerated() {
                guard case .string(let t) = v else { throw fail("ipam.reserved[\(i)]", nil, "expected a string") }
                switch IPRange.parse(t) {
                case .success(let x): n.reserved.append(x)
                case .failure(let e): throw fail("ipam.reserved[\(i)]", t, e.reason)
                }
            }
        }
        return n
    }
}
