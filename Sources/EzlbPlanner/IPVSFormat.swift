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

    /// The machine form of an operation for `-o json`.
    public static func json(_ op: IPVSOperation) -> [String: JSONValue] {
        var o: [String: JSONValue] = ["text": .string(text(op)), "service": .string(op.serviceKey.description)]
        switch op {
        case .addService(let s):
            o["action"] = "add"; o["object"] = "service"; o["to"] = serviceJSON(s)
        case .updateService(let a, let b):
            o["action"] = "update"; o["object"] = "service"; o["from"] = serviceJSON(a); o["to"] = serviceJSON(b)
        case .deleteService(let s):
            o["action"] = "delete"; o["object"] = "service"; o["from"] = serviceJSON(s)
        case .addDestination(_, let d):
            o["action"] = "add"; o["object"] = "destination"; o["destination"] = .string(d.endpoint.description); o["to"] = destJSON(d)
        case .updateDestination(_, let a, let b):
            o["action"] = "update"; o["object"] = "destination"; o["destination"] = .string(b.endpoint.description)
            o["from"] = destJSON(a); o["to"] = destJSON(b)
        case .deleteDestination(_, let d):
            o["action"] = "delete"; o["object"] = "destination"; o["destination"] = .string(d.endpoint.description); o["from"] = destJSON(d)
        }
        return o
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

    /// Exactly what `ipvsadm -S -n` prints for the same table (services and
    /// destinations in ipvsadm's sort order), so `ipvsadm -R` accepts it.
    public static func ipvsadmSave(_ table: [IPVSServiceState]) -> String {
        var out = ""
        for st in table.sorted(by: { ipvsadmServiceOrder($0.service.key, $1.service.key) }) {
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
            for d in st.destinations.sorted(by: { $0.endpoint < $1.endpoint }) {
                var l = "-a \(sel) -r \(d.endpoint) \(d.forward.ipvsadmFlag) -w \(d.weight)"
                if d.upperThreshold != 0 { l += " -x \(d.upperThreshold)" }
                if d.lowerThreshold != 0 { l += " -y \(d.lowerThreshold)" }
                out += l + "\n"
            }
        }
        return out
    }

    /// ipvsadm sorts services by fwmark, then protocol, then address, then port
    /// (libipvs `ipvs_cmp_services`), with IPv4 and IPv6 interleaved by raw address bytes.
    static func ipvsadmServiceOrder(_ a: ServiceKey, _ b: ServiceKey) -> Bool {
        func parts(_ k: ServiceKey) -> (UInt32, UInt16, [UInt8], UInt16) {
            switch k {
            case .inet(let p, let e): return (0, p.number, e.address.netlinkBytes, e.port)
            case .fwmark(let m, let f): return (m, 0, [UInt8](repeating: 0, count: 16), f.af)
            }
        }
        let x = parts(a), y = parts(b)
        if x.0 != y.0 { return x.0 < y.0 }
        if x.1 != y.1 { return x.1 < y.1 }
        if x.2 != y.2 { return x.2.lexicographicallyPrecedes(y.2) }
        return x.3 < y.3
    }
}
