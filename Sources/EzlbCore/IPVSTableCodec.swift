/// A compact binary form of a desired IPVS table (service names, services,
/// destinations) for the config cache: decoding it costs a fraction of
/// re-parsing and re-validating a large YAML file. Any malformed or
/// foreign input decodes to nil, which callers treat as a cache miss.
public enum IPVSTableCodec {
    static let magic: [UInt8] = Array("EZLBIPVS".utf8)
    /// 2: health checks per service name after the services.
    static let formatVersion: UInt32 = 2

    public struct Table: Equatable, Sendable {
        public var services: [(name: String, state: IPVSServiceState)]
        public var notes: [String]
        /// Health checks of the services that have one, by service name.
        public var health: [String: HealthCheckSpec]

        public init(services: [(name: String, state: IPVSServiceState)], notes: [String], health: [String: HealthCheckSpec] = [:]) {
            self.services = services
            self.notes = notes
            self.health = health
        }

        public static func == (a: Table, b: Table) -> Bool {
            a.notes == b.notes && a.health == b.health && a.services.count == b.services.count
                && zip(a.services, b.services).allSatisfy { $0.name == $1.name && $0.state == $1.state }
        }
    }

    /// `tag` identifies what the table was derived from (e.g. a config digest
    /// and the ezlb version); decoding with another tag is a miss.
    public static func encode(_ t: Table, tag: [UInt8]) -> [UInt8] {
        var w = Writer()
        w.bytes(magic)
        w.u32(formatVersion)
        w.blob(tag)
        w.u32(UInt32(t.notes.count))
        for n in t.notes { w.string(n) }
        w.u32(UInt32(t.services.count))
        for (name, st) in t.services {
            w.string(name)
            let s = st.service
            w.key(s.key)
            w.string(s.scheduler)
            w.u32(s.flags)
            w.u32(s.timeout)
            w.u32(s.netmask)
            w.u32(UInt32(st.destinations.count))
            for d in st.destinations { w.dest(d) }
        }
        w.u32(UInt32(t.health.count))
        for name in t.health.keys.sorted() {
            let h = t.health[name]!
            w.string(name)
            w.u8(UInt8(HealthCheckSpec.Kind.allCases.firstIndex(of: h.kind)!))
            w.u64(h.interval.bitPattern)
            w.u64(h.timeout.bitPattern)
            w.u32(UInt32(h.failCount))
            w.u32(UInt32(h.riseCount))
            w.string(h.httpPath)
            w.u32(UInt32(h.httpExpectedStatus))
            w.u8(h.httpHost == nil ? 0 : 1)
            if let host = h.httpHost { w.string(host) }
            w.u32(UInt32(h.command.count))
            for a in h.command { w.string(a) }
            w.u8(h.onUnhealthy == .quiesce ? 0 : 1)
            w.u8(h.sorryServer == nil ? 0 : 1)
            if let d = h.sorryServer { w.dest(d) }
        }
        return w.out
    }

    public static func decode(_ data: [UInt8], tag: [UInt8]) -> Table? {
        var r = Reader(data: data)
        guard r.bytes(magic.count) == magic, r.u32() == formatVersion, r.blob() == tag,
              let noteCount = r.u32(), noteCount < 1 << 20 else { return nil }
        var notes: [String] = []
        for _ in 0..<noteCount {
            guard let n = r.string() else { return nil }
            notes.append(n)
        }
        guard let count = r.u32(), count < 1 << 24 else { return nil }
        var services: [(name: String, state: IPVSServiceState)] = []
        services.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let name = r.string(), let key = r.key() else { return nil }
            guard let sched = r.string(), let flags = r.u32(), let timeout = r.u32(), let netmask = r.u32(),
                  let dc = r.u32(), dc < 1 << 24 else { return nil }
            var dests: [RealServer] = []
            dests.reserveCapacity(Int(dc))
            for _ in 0..<dc {
                guard let d = r.dest() else { return nil }
                dests.append(d)
            }
            let svc = VirtualService(key: key, scheduler: sched, flags: flags, timeout: timeout, netmask: netmask)
            services.append((name, IPVSServiceState(service: svc, destinations: dests)))
        }
        guard let hc = r.u32(), hc < 1 << 24 else { return nil }
        var health: [String: HealthCheckSpec] = [:]
        for _ in 0..<hc {
            guard let name = r.string(), let k = r.u8(), Int(k) < HealthCheckSpec.Kind.allCases.count,
                  let interval = r.u64(), let timeout = r.u64(), let fail = r.u32(), let rise = r.u32(),
                  let path = r.string(), let status = r.u32(), let hasHost = r.u8() else { return nil }
            var host: String? = nil
            if hasHost == 1 { guard let h = r.string() else { return nil }; host = h }
            guard let argc = r.u32(), argc < 1 << 16 else { return nil }
            var command: [String] = []
            for _ in 0..<argc {
                guard let a = r.string() else { return nil }
                command.append(a)
            }
            guard let on = r.u8(), on <= 1, let hasSorry = r.u8() else { return nil }
            var sorry: RealServer? = nil
            if hasSorry == 1 { guard let d = r.dest() else { return nil }; sorry = d }
            health[name] = HealthCheckSpec(kind: HealthCheckSpec.Kind.allCases[Int(k)], interval: Double(bitPattern: interval),
                                           timeout: Double(bitPattern: timeout), failCount: Int(fail), riseCount: Int(rise),
                                           httpPath: path, httpExpectedStatus: Int(status), httpHost: host, command: command,
                                           onUnhealthy: on == 0 ? .quiesce : .remove, sorryServer: sorry)
        }
        guard r.atEnd else { return nil }
        return Table(services: services, notes: notes, health: health)
    }

    /// Service keys with names (ownership), in the same framing.
    public static func encodeKeys(_ entries: [(key: ServiceKey, name: String)], tag: [UInt8]) -> [UInt8] {
        var w = Writer()
        w.bytes(magic)
        w.u32(formatVersion | 0x8000_0000)
        w.blob(tag)
        w.u32(UInt32(entries.count))
        for (key, name) in entries {
            w.string(name)
            w.key(key)
        }
        return w.out
    }

    public static func decodeKeys(_ data: [UInt8], tag: [UInt8]) -> [(key: ServiceKey, name: String)]? {
        var r = Reader(data: data)
        guard r.bytes(magic.count) == magic, r.u32() == formatVersion | 0x8000_0000, r.blob() == tag,
              let count = r.u32(), count < 1 << 24 else { return nil }
        var out: [(key: ServiceKey, name: String)] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let name = r.string(), let key = r.key() else { return nil }
            out.append((key, name))
        }
        return r.atEnd ? out : nil
    }

    struct Writer {
        var out: [UInt8] = []
        mutating func u8(_ v: UInt8) { out.append(v) }
        mutating func u16(_ v: UInt16) { out.append(UInt8(v >> 8)); out.append(UInt8(v & 0xff)) }
        mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
        mutating func u64(_ v: UInt64) { u32(UInt32(truncatingIfNeeded: v >> 32)); u32(UInt32(truncatingIfNeeded: v)) }
        mutating func dest(_ d: RealServer) {
            address(d.endpoint.address)
            u16(d.endpoint.port)
            u32(d.weight)
            u8(UInt8(d.forward.connFlags))
            u32(d.upperThreshold)
            u32(d.lowerThreshold)
        }
        mutating func bytes(_ b: [UInt8]) { out += b }
        mutating func blob(_ b: [UInt8]) { u32(UInt32(b.count)); out += b }
        mutating func string(_ s: String) { blob(Array(s.utf8)) }
        mutating func address(_ a: IPAddress) { blob(a.bytes) }
        mutating func key(_ k: ServiceKey) {
            switch k {
            case .inet(let p, let e):
                u8(0)
                u8(UInt8(p.number))
                address(e.address)
                u16(e.port)
            case .fwmark(let m, let f):
                u8(1)
                u32(m)
                u8(f == .ipv4 ? 4 : 6)
            }
        }
    }

    struct Reader {
        let data: [UInt8]
        var pos = 0
        var atEnd: Bool { pos == data.count }
        mutating func bytes(_ n: Int) -> [UInt8]? {
            guard n >= 0, pos + n <= data.count else { return nil }
            defer { pos += n }
            return Array(data[pos..<pos + n])
        }
        mutating func u8() -> UInt8? {
            guard pos < data.count else { return nil }
            defer { pos += 1 }
            return data[pos]
        }
        mutating func u16() -> UInt16? {
            guard pos + 2 <= data.count else { return nil }
            defer { pos += 2 }
            return UInt16(data[pos]) << 8 | UInt16(data[pos + 1])
        }
        mutating func u32() -> UInt32? {
            guard pos + 4 <= data.count else { return nil }
            defer { pos += 4 }
            var v: UInt32 = 0
            for i in 0..<4 { v = v << 8 | UInt32(data[pos + i]) }
            return v
        }
        mutating func u64() -> UInt64? {
            guard let hi = u32(), let lo = u32() else { return nil }
            return UInt64(hi) << 32 | UInt64(lo)
        }
        mutating func dest() -> RealServer? {
            guard let a = address(), let port = u16(), let weight = u32(), let fw = u8(),
                  let forward = ForwardMethod(connFlags: UInt32(fw)), let up = u32(), let lo = u32() else { return nil }
            return RealServer(endpoint: Endpoint(address: a, port: port), weight: weight, forward: forward,
                              upperThreshold: up, lowerThreshold: lo)
        }
        mutating func blob() -> [UInt8]? {
            guard let n = u32() else { return nil }
            return bytes(Int(n))
        }
        mutating func string() -> String? {
            // Straight from the buffer: no array per string (tens of thousands per table).
            guard let n = u32(), pos + Int(n) <= data.count else { return nil }
            defer { pos += Int(n) }
            return data.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[pos..<pos + Int(n)]), as: UTF8.self) }
        }
        mutating func address() -> IPAddress? {
            guard let n = u32() else { return nil }
            if n == 4, let v = u32() { return IPAddress(v4: v) }
            guard let b = bytes(Int(n)) else { return nil }
            return IPAddress(bytes: b)
        }
        mutating func key() -> ServiceKey? {
            switch u8() {
            case 0?:
                guard let pn = u8(), let proto = IPVSProtocol(number: UInt16(pn)), let a = address(), let port = u16() else { return nil }
                return .inet(proto, Endpoint(address: a, port: port))
            case 1?:
                guard let m = u32(), let f = u8(), f == 4 || f == 6 else { return nil }
                return .fwmark(m, f == 4 ? .ipv4 : .ipv6)
            default:
                return nil
            }
        }
    }
}
