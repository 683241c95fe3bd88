import EzlbCore

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
        switch op {
        case .addService(let s): return "+ service \(s.key) \(serviceSettings(s))"
        case .updateService(let a, let b): return "~ service \(b.key) \(serviceChanges(a, b))"
        case .deleteService(let s): return "- service \(s.key)"
        case .addDestination(let k, let d): return "+ destination \(k) -> \(d.endpoint) \(destSettings(d))"
        case .updateDestination(let k, let a, let b): return "~ destination \(k) -> \(b.endpoint) \(destChanges(a, b))"
        case .deleteDestination(let k, let d): return "- destination \(k) -> \(d.endpoint)"
        }
    }

    /// `text(op)` with the health reason that caused it: `... weight 3 -> 0 (unhealthy: 3 failures: ...)`.
    public static func text(_ op: IPVSOperation, reason: String?) -> String {
        guard let r = reason else { return text(op) }
        return "\(text(op)) (\(r))"
    }

    /// The machine form of an operation for `-o json` (`reason`: why health checks caused it).
    public static func json(_ op: IPVSOperation, reason: String? = nil) -> [String: JSONValue] {
        var o: [String: JSONValue] = ["text": .string(text(op, reason: reason)), "service": .string(op.serviceKey.description)]
        if let r = reason { o["reason"] = .string(r) }
        switch op {
        case .addService(let s):
            o["action"] = "add"; o["object"] = "service"; o["to"] = serviceJSONText(s)
        case .updateService(let a, let b):
            o["action"] = "update"; o["object"] = "service"; o["from"] = serviceJSONText(a); o["to"] = serviceJSONText(b)
        case .deleteService(let s):
            o["action"] = "delete"; o["object"] = "service"; o["from"] = serviceJSONText(s)
        case .addDestination(_, let d):
            o["action"] = "add"; o["object"] = "destination"; o["destination"] = .string(d.endpoint.description); o["to"] = destJSONText(d)
        case .updateDestination(_, let a, let b):
            o["action"] = "update"; o["object"] = "destination"; o["destination"] = .string(b.endpoint.description)
            o["from"] = destJSONText(a); o["to"] = destJSONText(b)
        case .deleteDestination(_, let d):
            o["action"] = "delete"; o["object"] = "destination"; o["destination"] = .string(d.endpoint.description); o["from"] = destJSONText(d)
        }
        return o
    }

    /// `json(op)` plus `done` and `error`, rendered straight to one JSON object
    /// (keys in the same sorted order as the generic rendering).
    public static func jsonText(_ op: IPVSOperation, done: Bool, error: String?, reason: String? = nil) -> String {
        let q = JSONValue.quoted
        var parts: [String] = []
        func add(_ k: String, _ v: String) { parts.append("\"\(k)\":\(v)") }
        let action: String, object: String
        var destination: String? = nil
        var from: JSONValue? = nil, to: JSONValue? = nil
        switch op {
        case .addService(let s): (action, object, to) = ("add", "service", serviceJSONText(s))
        case .updateService(let a, let b): (action, object, from, to) = ("update", "service", serviceJSONText(a), serviceJSONText(b))
        case .deleteService(let s): (action, object, from) = ("delete", "service", serviceJSONText(s))
        case .addDestination(_, let d):
            (action, object, to) = ("add", "destination", destJSONText(d)); destination = d.endpoint.description
        case .updateDestination(_, let a, let b):
            (action, object, from, to) = ("update", "destination", destJSONText(a), destJSONText(b)); destination = b.endpoint.description
        case .deleteDestination(_, let d):
            (action, object, from) = ("delete", "destination", destJSONText(d)); destination = d.endpoint.description
        }
        add("action", "\"\(action)\"")
        if let d = destination { add("destination", q(d)) }
        add("done", done ? "true" : "false")
        if let e = error { add("error", q(e)) }
        if let f = from { add("from", f.text) }
        add("object", "\"\(object)\"")
        if let r = reason { add("reason", q(r)) }
        add("service", q(op.serviceKey.description))
        add("text", q(text(op, reason: reason)))
        if let t = to { add("to", t.text) }
        return "{" + parts.joined(separator: ",") + "}"
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
        let q = JSONValue.quoted
        let persistence = s.isPersistent ? String(s.timeout) : "null"
        let flags = "[" + s.schedulerFlags.map { q($0.rawValue) }.joined(separator: ",") + "]"
        let common = "\"netmask\":\(q(s.netmaskText)),\"persistence\":\(persistence)"
        switch s.key {
        case .inet(let p, let e):
            return .raw("{\"address\":\(q(e.address.description)),\"family\":\"\(e.address.family.rawValue)\",\(common),\"port\":\(e.port),\"protocol\":\"\(p.rawValue)\",\"sched_flags\":\(flags),\"scheduler\":\(q(s.scheduler))}")
        case .fwmark(let m, let f):
            return .raw("{\"family\":\"\(f.rawValue)\",\"fwmark\":\(m),\(common),\"sched_flags\":\(flags),\"scheduler\":\(q(s.scheduler))}")
        }
    }

    /// `destJSON` rendered directly to text (same keys, same order).
    static func destJSONText(_ d: RealServer) -> JSONValue {
        .raw("{\"address\":\(JSONValue.quoted(d.endpoint.address.description)),\"forward\":\"\(d.forward.rawValue)\",\"lower_threshold\":\(d.lowerThreshold),\"port\":\(d.endpoint.port),\"upper_threshold\":\(d.upperThreshold),\"weight\":\(d.weight)}")
    }

    public static func serviceJSON(_ s: VirtualService) -> JSONValue {
        var o = keyJSON(s.key)
        o["scheduler"] = .string(s.scheduler)
        o["persistence"] = s.isPersistent ? .int(Int(s.timeout)) : .null
        o["netmask"] = .string(s.netmaskText)
        o["sched_flags"] = .array(s.schedulerFlags.map { .string($0.rawValue) })
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
    public static func ipvsadmSave(_ table: [IPVSServiceState]) -> String {
        var out = ""
        for st in glibcMergeSort(table, { ipvsadmCompareServices($0.service.key, $1.service.key) }) {
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
            for d in glibcMergeSort(st.destinations, { ipvsadmCompareDests($0.endpoint, $1.endpoint) }) {
                out += "-a \(sel) -r \(d.endpoint) \(d.forward.ipvsadmFlag) -w \(d.weight)\n"
            }
        }
        return out
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
