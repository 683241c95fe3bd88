import EzlbCore

/// An IPVS operation as a report action, with why it was planned (a health verdict) when
/// that is known.
public struct IPVSAction: ReportAction {
    public let op: IPVSOperation
    public let reason: String?
    public init(_ op: IPVSOperation, reason: String? = nil) {
        self.op = op
        self.reason = reason
    }

    public var sign: UInt8 {
        switch op {
        case .addService, .addDestination: return UInt8(ascii: "+")
        case .updateService, .updateDestination: return UInt8(ascii: "~")
        case .deleteService, .deleteDestination: return UInt8(ascii: "-")
        }
    }

    @discardableResult public func appendText(to out: inout ByteText) -> Int {
        IPVSFormat.writeText(op, into: &out)
        if let r = reason { out.append(" (" as StaticString); out.append(r); out.append(")" as StaticString) }
        return out.bytes.count
    }

    public func appendJSON(to out: inout ByteText, done: Bool, error: String?, scratch: inout ByteText) {
        scratch.bytes.removeAll(keepingCapacity: true)
        appendText(to: &scratch)
        scratch.bytes.withUnsafeBufferPointer {
            IPVSFormat.writeJSON(op, text: $0, reason: reason, done: done, error: error, into: &out)
        }
    }
}

/// Human and machine renderings of IPVS objects and operations.
public enum IPVSFormat {
    /// `wrr persistent 300 netmask 255.255.255.0 flags sh-port`
    public static func serviceSettings(_ s: VirtualService) -> String {
        var parts = [s.scheduler]
        if s.isPersistent {
            parts.append("persistent \(s.timeout)")
            if s.netmask != VirtualService.defaultNetmask(s.key.family) { parts.append("netmask \(s.netmaskText)") }
        }
        let flags = s.schedulerFlags
        if !flags.isEmpty { parts.append("flags " + flags.map(\.rawValue).joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    /// `masq weight 5 upper 100 lower 10`
    public static func destSettings(_ d: RealServer) -> String {
        var s = "\(d.forward.rawValue) weight \(d.weight)"
        if d.upperThreshold != 0 { s += " upper \(d.upperThreshold)" }
        if d.lowerThreshold != 0 { s += " lower \(d.lowerThreshold)" }
        return s
    }

    /// The changed fields of a service: `scheduler wrr -> rr, persistent 0 -> 300`.
    public static func serviceChanges(_ a: VirtualService, _ b: VirtualService) -> String {
        var c: [String] = []
        if a.scheduler != b.scheduler { c.append("scheduler \(a.scheduler) -> \(b.scheduler)") }
        if a.isPersistent != b.isPersistent || a.timeout != b.timeout {
            c.append("persistence \(a.isPersistent ? String(a.timeout) : "off") -> \(b.isPersistent ? String(b.timeout) : "off")")
        }
        if a.netmask != b.netmask { c.append("netmask \(a.netmaskText) -> \(b.netmaskText)") }
        let fa = a.schedulerFlags.map(\.rawValue).joined(separator: ","), fb = b.schedulerFlags.map(\.rawValue).joined(separator: ",")
        let other = (a.flags ^ b.flags) & ~(IPVSFlags.persistent)
        if fa != fb || (other != 0 && a.scheduler == b.scheduler) {
            c.append("flags \(fa.isEmpty ? "none" : fa) -> \(fb.isEmpty ? "none" : fb)")
        }
        return c.joined(separator: ", ")
    }

    public static func destChanges(_ a: RealServer, _ b: RealServer) -> String {
        var c: [String] = []
        if a.weight != b.weight { c.append("weight \(a.weight) -> \(b.weight)") }
        if a.forward != b.forward { c.append("forward \(a.forward.rawValue) -> \(b.forward.rawValue)") }
        if a.upperThreshold != b.upperThreshold { c.append("upper \(a.upperThreshold) -> \(b.upperThreshold)") }
        if a.lowerThreshold != b.lowerThreshold { c.append("lower \(a.lowerThreshold) -> \(b.lowerThreshold)") }
        return c.joined(separator: ", ")
    }

    /// One line per operation: `+ service tcp 10.0.0.1:80 wrr`,
    /// `~ destination tcp 10.0.0.1:80 -> 192.168.1.10:8080 weight 3 -> 5`.
    public static func text(_ op: IPVSOperation) -> String {
        var w = ByteText(capacity: 80)
        writeText(op, into: &w)
        return w.string
    }

    /// `text(op)`, written into `w`.
    public static func writeText(_ op: IPVSOperation, into w: inout ByteText) {
        switch op {
        case .addService(let s):
            w.append("+ service " as StaticString); w.append(s.key); w.append(" " as StaticString); writeServiceSettings(s, into: &w)
        case .updateService(let a, let b):
            w.append("~ service " as StaticString); w.append(b.key); w.append(" " as StaticString); w.append(serviceChanges(a, b))
        case .deleteService(let s):
            w.append("- service " as StaticString); w.append(s.key)
        case .addDestination(let k, let d):
            w.append("+ destination " as StaticString); w.append(k); w.append(" -> " as StaticString); w.append(d.endpoint)
            w.append(" " as StaticString); writeDestSettings(d, into: &w)
        case .updateDestination(let k, let a, let b):
            w.append("~ destination " as StaticString); w.append(k); w.append(" -> " as StaticString); w.append(b.endpoint)
            w.append(" " as StaticString); w.append(destChanges(a, b))
        case .deleteDestination(let k, let d):
            w.append("- destination " as StaticString); w.append(k); w.append(" -> " as StaticString); w.append(d.endpoint)
        }
    }

    /// `serviceSettings(s)`, written into `w`.
    static func writeServiceSettings(_ s: VirtualService, into w: inout ByteText) {
        if !s.isPersistent && s.flags & (IPVSFlags.sched1 | IPVSFlags.sched2) == 0 { return w.append(s.scheduler) }
        w.append(serviceSettings(s))
    }

    /// `destSettings(d)`, written into `w`.
    static func writeDestSettings(_ d: RealServer, into w: inout ByteText) {
        w.append(d.forward.rawValue)
        w.append(" weight " as StaticString); w.append(decimal: d.weight)
        if d.upperThreshold != 0 { w.append(" upper " as StaticString); w.append(decimal: d.upperThreshold) }
        if d.lowerThreshold != 0 { w.append(" lower " as StaticString); w.append(decimal: d.lowerThreshold) }
    }

    /// `text(op)` with the reason that caused it: `... weight 3 -> 0 (unhealthy: ...)`.
    public static func text(_ op: IPVSOperation, reason: String?) -> String {
        guard let r = reason else { return text(op) }
        return "\(text(op)) (\(r))"
    }

    /// The JSON object of an operation in a report (keys sorted), `done` and `error` included;
    /// `text` is the action's text line.
    static func writeJSON(_ op: IPVSOperation, text: UnsafeBufferPointer<UInt8>, reason: String?, done: Bool, error: String?,
                          into w: inout ByteText) {
        let action: StaticString, object: StaticString
        var destination: Endpoint? = nil
        var from: Either? = nil, to: Either? = nil
        switch op {
        case .addService(let s): (action, object, to) = ("add", "service", .service(s))
        case .updateService(let a, let b): (action, object, from, to) = ("update", "service", .service(a), .service(b))
        case .deleteService(let s): (action, object, from) = ("delete", "service", .service(s))
        case .addDestination(_, let d):
            (action, object, to) = ("add", "destination", .dest(d)); destination = d.endpoint
        case .updateDestination(_, let a, let b):
            (action, object, from, to) = ("update", "destination", .dest(a), .dest(b)); destination = b.endpoint
        case .deleteDestination(_, let d):
            (action, object, from) = ("delete", "destination", .dest(d)); destination = d.endpoint
        }
        w.append("{\"action\":\"" as StaticString); w.append(action); w.append("\"" as StaticString)
        if let d = destination {
            // An endpoint needs no JSON escaping.
            w.append(",\"destination\":\"" as StaticString); w.append(d); w.append("\"" as StaticString)
        }
        w.append(done ? ",\"done\":true" as StaticString : ",\"done\":false" as StaticString)
        if let e = error { w.append(",\"error\":" as StaticString); w.appendJSONString(e) }
        if let f = from { w.append(",\"from\":" as StaticString); f.write(into: &w) }
        w.append(",\"object\":\"" as StaticString); w.append(object); w.append("\"" as StaticString)
        if let r = reason { w.append(",\"reason\":" as StaticString); w.appendJSONString(r) }
        w.append(",\"service\":" as StaticString)
        if case .inet = op.serviceKey {
            w.append("\"" as StaticString); w.append(op.serviceKey); w.append("\"" as StaticString)
        } else {
            w.appendJSONString(op.serviceKey.description)
        }
        w.append(",\"text\":" as StaticString); w.appendJSONString(buffer: text)
        if let t = to { w.append(",\"to\":" as StaticString); t.write(into: &w) }
        w.append("}" as StaticString)
    }

    private enum Either {
        case service(VirtualService), dest(RealServer)
        func write(into w: inout ByteText) {
            switch self {
            case .service(let s): writeServiceJSON(s, into: &w)
            case .dest(let d): writeDestJSON(d, into: &w)
            }
        }
    }

    public static func keyJSON(_ k: ServiceKey) -> [String: JSONValue] {
        switch k {
        case .inet(let p, let e):
            return ["protocol": .string(p.rawValue), "address": .string(e.address.description), "port": .int(Int(e.port)),
                    "family": .string(e.address.family.rawValue)]
        case .fwmark(let m, let f):
            return ["fwmark": .int(Int(m)), "family": .string(f.rawValue)]
        }
    }

    /// `serviceJSON` rendered directly to text (same keys, same order).
    static func serviceJSONText(_ s: VirtualService) -> JSONValue {
        var w = ByteText(capacity: 160)
        writeServiceJSON(s, into: &w)
        return .raw(w.string)
    }

    static func writeServiceJSON(_ s: VirtualService, into w: inout ByteText) {
        func common() {
            w.append("\"netmask\":" as StaticString); w.appendJSONString(s.netmaskText)
            w.append(",\"persistence\":" as StaticString)
            if s.isPersistent { w.append(decimal: s.timeout) } else { w.append("null" as StaticString) }
        }
        func flagsAndScheduler() {
            w.append(",\"sched_flags\":[" as StaticString)
            for (i, f) in s.schedulerFlags.enumerated() {
                if i > 0 { w.append("," as StaticString) }
                w.appendJSONString(f.rawValue)
            }
            w.append("],\"scheduler\":" as StaticString); w.appendJSONString(s.scheduler); w.append("}" as StaticString)
        }
        switch s.key {
        case .inet(let p, let e):
            w.append("{\"address\":\"" as StaticString); w.append(e.address)
            w.append("\",\"family\":\"" as StaticString); w.append(e.address.family.rawValue); w.append("\"," as StaticString)
            common()
            w.append(",\"port\":" as StaticString); w.append(decimal: e.port)
            w.append(",\"protocol\":\"" as StaticString); w.append(p.rawValue); w.append("\"" as StaticString)
            flagsAndScheduler()
        case .fwmark(let m, let f):
            w.append("{\"family\":\"" as StaticString); w.append(f.rawValue)
            w.append("\",\"fwmark\":" as StaticString); w.append(decimal: m); w.append("," as StaticString)
            common()
            flagsAndScheduler()
        }
    }

    /// `destJSON` rendered directly to text (same keys, same order).
    static func destJSONText(_ d: RealServer) -> JSONValue {
        var w = ByteText(capacity: 128)
        writeDestJSON(d, into: &w)
        return .raw(w.string)
    }

    static func writeDestJSON(_ d: RealServer, into w: inout ByteText) {
        w.append("{\"address\":\"" as StaticString); w.append(d.endpoint.address)
        w.append("\",\"forward\":\"" as StaticString); w.append(d.forward.rawValue)
        w.append("\",\"lower_threshold\":" as StaticString); w.append(decimal: d.lowerThreshold)
        w.append(",\"port\":" as StaticString); w.append(decimal: d.endpoint.port)
        w.append(",\"upper_threshold\":" as StaticString); w.append(decimal: d.upperThreshold)
        w.append(",\"weight\":" as StaticString); w.append(decimal: d.weight)
        w.append("}" as StaticString)
    }

    public static func serviceJSON(_ s: VirtualService) -> JSONValue {
        var o = keyJSON(s.key)
        o["scheduler"] = .string(s.scheduler)
        o["persistence"] = s.isPersistent ? .int(Int(s.timeout)) : .null
        o["netmask"] = .string(s.netmaskText)
        o["sched_flags"] = .array(s.schedulerFlags.map { .string($0.rawValue) })
        return .object(o)
    }

    /// The kernel's counters (`ipvs show -o json`).
    public static func statsJSON(_ s: IPVSStats) -> JSONValue {
        func n(_ v: UInt64) -> JSONValue { .int(Int(clamping: v)) }
        return .object(["connections": n(s.connections), "in_packets": n(s.inPackets), "out_packets": n(s.outPackets),
                        "in_bytes": n(s.inBytes), "out_bytes": n(s.outBytes),
                        "connections_per_second": n(s.connectionsPerSecond),
                        "in_packets_per_second": n(s.inPacketsPerSecond), "out_packets_per_second": n(s.outPacketsPerSecond),
                        "in_bytes_per_second": n(s.inBytesPerSecond), "out_bytes_per_second": n(s.outBytesPerSecond)])
    }

    /// The counters on one line of `ipvs show --stats`, named as ipvsadm's columns.
    public static func statsText(_ s: IPVSStats) -> String {
        "conns \(s.connections) inpkts \(s.inPackets) outpkts \(s.outPackets) inbytes \(s.inBytes) outbytes \(s.outBytes)"
            + " cps \(s.connectionsPerSecond) inpps \(s.inPacketsPerSecond) outpps \(s.outPacketsPerSecond)"
            + " inbps \(s.inBytesPerSecond) outbps \(s.outBytesPerSecond)"
    }

    /// A destination with what the kernel reports about it (`ipvs show -o json`).
    public static func destJSON(_ d: RealServer, detail: IPVSDestinationDetail) -> JSONValue {
        guard case .object(var o) = destJSON(d) else { return destJSON(d) }
        o["active_connections"] = .int(Int(detail.activeConnections))
        o["inactive_connections"] = .int(Int(detail.inactiveConnections))
        o["persistent_connections"] = .int(Int(detail.persistentConnections))
        o["stats"] = statsJSON(detail.stats)
        if let t = detail.tunnel {
            let types = ["ipip", "gue", "gre"]
            let checksum = ["none", "csum", "remcsum"]
            o["tunnel"] = .object(["type": .string(Int(t.type) < types.count ? types[Int(t.type)] : "\(t.type)"),
                                   "port": .int(Int(t.port)),
                                   "checksum": .string(Int(t.flags) < checksum.count ? checksum[Int(t.flags)] : "\(t.flags)")])
        }
        return .object(o)
    }

    public static func destJSON(_ d: RealServer) -> JSONValue {
        .object(["address": .string(d.endpoint.address.description), "port": .int(Int(d.endpoint.port)),
                 "weight": .int(Int(d.weight)), "forward": .string(d.forward.rawValue),
                 "upper_threshold": .int(Int(d.upperThreshold)), "lower_threshold": .int(Int(d.lowerThreshold))])
    }

    /// Exactly what `ipvsadm -S -n` prints for the same table, so `ipvsadm -R`
    /// accepts it. `table` must be in the kernel's dump order (services and
    /// destinations as the kernel lists them): ipvsadm sorts that order with
    /// libipvs' comparators through glibc's qsort (a top-down merge sort), and
    /// the comparators subtract unsigned values into an `int`, which is not a
    /// total order for addresses more than 2^31 apart. Replaying the same sort
    /// with the same comparisons on the same input gives the same output.
    /// Tunnel destinations end as ipvsadm 1.31 prints them: `--tun-type ipip`, or gue with its
    /// port and checksum option, or gre with its checksum option.
    public static func ipvsadmSave(_ table: [IPVSServiceDetail]) -> String {
        var out = ""
        for detail in glibcMergeSort(table, { ipvsadmCompareServices($0.state.service.key, $1.state.service.key) }) {
            let st = detail.state
            let s = st.service
            var line = "-A \(s.key.ipvsadmSelector) -s \(s.scheduler)"
            if s.isPersistent {
                line += " -p \(s.timeout)"
                if s.key.family == .ipv4 {
                    if s.netmask != 0xFFFF_FFFF { line += " -M \(s.netmaskText)" }
                } else if s.netmask != 128 {
                    line += " -M \(s.netmask)"
                }
            }
            if s.flags & IPVSFlags.onePacket != 0 { line += " -o" }
            let flags = s.schedulerFlags
            if !flags.isEmpty { line += " -b " + flags.map(\.rawValue).joined(separator: ",") }
            out += line + "\n"
            let sel = s.key.ipvsadmSelector
            // ipvsadm's rule format has no thresholds (they show only with -L --thresholds).
            let dests = zip(st.destinations, detail.destinations).map { ($0, $1.tunnel) }
            for (d, tunnel) in glibcMergeSort(dests, { ipvsadmCompareDests($0.0.endpoint, $1.0.endpoint) }) {
                out += "-a \(sel) -r \(d.endpoint) \(d.forward.ipvsadmFlag) -w \(d.weight)"
                if d.forward == .tunnel, let t = tunnel { out += ipvsadmTunnel(t) }
                out += "\n"
            }
        }
        return out
    }

    /// ipvsadm's `print_tunnel_rule` options for a tunnel destination (nothing for a type it
    /// does not know).
    static func ipvsadmTunnel(_ t: IPVSTunnel) -> String {
        let checksum = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"]
        let csum = Int(t.flags) < checksum.count ? checksum[Int(t.flags)] : ""
        switch t.type {
        case 0: return " --tun-type ipip"
        case 1: return " --tun-type gue --tun-port \(t.port) \(csum)"
        case 2: return " --tun-type gre \(csum)"
        default: return ""
        }
    }

    /// `r = a - b` of two unsigned 32-bit values, as the C `int` libipvs returns.
    @inline(__always) static func cDiff(_ a: UInt32, _ b: UInt32) -> Int32 { Int32(bitPattern: a &- b) }

    /// The address as libipvs compares it: ntohl() of each 32-bit word.
    static func words(_ a: IPAddress) -> [UInt32] {
        let b = a.bytes
        return stride(from: 0, to: b.count, by: 4).map { i -> UInt32 in
            var w = UInt32(b[i]) << 24
            w |= UInt32(b[i + 1]) << 16
            w |= UInt32(b[i + 2]) << 8
            return w | UInt32(b[i + 3])
        }
    }

    static func compareAddresses(_ a: IPAddress, _ b: IPAddress) -> Int32 {
        let wa = words(a), wb = words(b)
        var r: Int32 = 0
        var i = 0
        while r == 0 && i < min(wa.count, wb.count) {
            r = cDiff(wa[i], wb[i])
            i += 1
        }
        return r
    }

    /// libipvs `ipvs_cmp_services`: fwmark, address family, protocol, address, port.
    static func ipvsadmCompareServices(_ a: ServiceKey, _ b: ServiceKey) -> Int32 {
        func parts(_ k: ServiceKey) -> (mark: UInt32, af: Int32, proto: Int32, addr: IPAddress?, port: Int32) {
            switch k {
            // A fwmark service dumps with protocol TCP and a zero address and port.
            case .fwmark(let m, let f): return (m, Int32(f.af), Int32(IPVSProtocol.tcp.number), nil, 0)
            case .inet(let p, let e): return (0, Int32(e.address.family.af), Int32(p.number), e.address, Int32(e.port))
            }
        }
        let x = parts(a), y = parts(b)
        var r = cDiff(x.mark, y.mark)
        if r != 0 { return r }
        r = x.af - y.af
        if r != 0 { return r }
        r = x.proto - y.proto
        if r != 0 { return r }
        if let ax = x.addr, let ay = y.addr { r = compareAddresses(ax, ay) }
        if r != 0 { return r }
        return x.port - y.port
    }

    /// libipvs `ipvs_cmp_dests`: address, then port.
    static func ipvsadmCompareDests(_ a: Endpoint, _ b: Endpoint) -> Int32 {
        let r = compareAddresses(a.address, b.address)
        if r != 0 { return r }
        return Int32(a.port) - Int32(b.port)
    }

    /// glibc's qsort for arrays it can copy (msort.c): split at n/2, sort both
    /// halves, merge taking from the left while cmp(left, right) <= 0.
    static func glibcMergeSort<T>(_ items: [T], _ cmp: (T, T) -> Int32) -> [T] {
        var a = items
        var tmp = items
        func sort(_ lo: Int, _ n: Int) {
            if n <= 1 { return }
            let n1 = n / 2, n2 = n - n1
            sort(lo, n1)
            sort(lo + n1, n2)
            var i = lo, j = lo + n1, k = 0
            let iEnd = lo + n1, jEnd = lo + n
            while i < iEnd && j < jEnd {
                if cmp(a[i], a[j]) <= 0 { tmp[k] = a[i]; i += 1 } else { tmp[k] = a[j]; j += 1 }
                k += 1
            }
            // What remains of the left run goes after the merged part; the right run is already in place.
            while i < iEnd { tmp[k] = a[i]; i += 1; k += 1 }
            for m in 0..<k { a[lo + m] = tmp[m] }
        }
        sort(0, a.count)
        return a
    }
}
