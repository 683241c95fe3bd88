import EzlbCore

/// A compact binary form of the FullNAT services of a config (and the
/// warnings its validation gave) for `snat-config.cache`: decoding it costs a
/// fraction of re-parsing and re-validating a large YAML file. Any malformed
/// or foreign input decodes to nil, which callers treat as a cache miss.
///
/// Every stored property of `FullNATService` must be written here: decode
/// builds the value with the memberwise initializer, so a new property
/// without a default fails to compile until it is added (and one with a
/// default must be added by hand, and to `FullNATCodecTests`).
public enum FullNATCodec {
    static let magic: [UInt8] = Array("EZLBSNAT".utf8)
    static let formatVersion: UInt32 = 1

    public static func encode(_ services: [FullNATService], warnings: [String], tag: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(magic)
        w.u32(formatVersion)
        w.blob(tag)
        w.u32(UInt32(warnings.count))
        for s in warnings { w.string(s) }
        w.u32(UInt32(services.count))
        for s in services {
            w.string(s.name)
            w.u8(s.proto.map { UInt8($0.number) } ?? 0)
            if let a = s.snatIP { w.u8(1); w.address(a) } else { w.u8(0) }
            w.u32(UInt32(s.backends.count))
            for b in s.backends {
                w.address(b.address)
                w.u16(b.port)
            }
        }
        return w.out
    }

    public static func decode(_ data: [UInt8], tag: [UInt8]) -> (services: [FullNATService], warnings: [String])? {
        var r = ByteReader(data)
        guard r.match(magic), r.u32() == formatVersion, r.match(blob: tag), let wc = r.u32(), wc < 1 << 20 else { return nil }
        var warnings: [String] = []
        for _ in 0..<wc {
            guard let s = r.string() else { return nil }
            warnings.append(s)
        }
        guard let count = r.u32(), count < 1 << 24 else { return nil }
        var services: [FullNATService] = []
        services.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let name = r.string(), let pn = r.u8(), let hasSNAT = r.u8() else { return nil }
            var proto: IPVSProtocol? = nil
            if pn != 0 {
                guard let p = IPVSProtocol(number: UInt16(pn)) else { return nil }
                proto = p
            }
            var snat: IPAddress? = nil
            if hasSNAT == 1 {
                guard let a = r.address() else { return nil }
                snat = a
            } else if hasSNAT != 0 { return nil }
            guard let bc = r.u32(), bc < 1 << 24 else { return nil }
            var backends: [Endpoint] = []
            backends.reserveCapacity(Int(bc))
            for _ in 0..<bc {
                guard let a = r.address(), let port = r.u16() else { return nil }
                backends.append(Endpoint(address: a, port: port))
            }
            services.append(FullNATService(name: name, proto: proto, backends: backends, snatIP: snat))
        }
        guard r.atEnd else { return nil }
        return (services, warnings)
    }
}
