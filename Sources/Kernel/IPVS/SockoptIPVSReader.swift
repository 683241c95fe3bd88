import CEzlbShim
import EzlbCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads IPv4 services' destinations through the kernel's older, IPv4-only
/// IPVS sockopt interface (getsockopt IP_VS_SO_GET_SERVICES / IP_VS_SO_GET_DESTS
/// on an AF_INET raw socket), which `NetlinkIPVS.dump()` uses as a fast path:
/// one getsockopt per service instead of a netlink dump (a send and two
/// receives, two dump skbs and ~30 attributes per destination).
///
/// It only ever reads. Whatever it cannot answer exactly (IPv6 services,
/// IPv4 services with IPv6 tunnel destinations, a table changing underneath)
/// makes it return nil, and the caller falls back to netlink.
final class SockoptIPVSReader {
    private let fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int

    private static let servicesHeader = Int(EZLB_IP_VS_GET_SERVICES_HDRLEN)
    private static let serviceEntry = Int(EZLB_IP_VS_SERVICE_ENTRY_SIZE)
    private static let destsHeader = Int(EZLB_IP_VS_GET_DESTS_HDRLEN)
    private static let destEntry = Int(EZLB_IP_VS_DEST_ENTRY_SIZE)

    init?() {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_RAW))
        guard fd >= 0 else { return nil }
        self.fd = fd
        capacity = 1 << 16
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    private func reserve(_ bytes: Int) {
        guard bytes > capacity else { return }
        buffer.deallocate()
        capacity = max(bytes, capacity * 2)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    private func get(_ cmd: Int32, _ length: Int) -> Bool {
        var len = socklen_t(length)
        return getsockopt(fd, Int32(IPPROTO_IP), cmd, buffer, &len) == 0
    }

    /// The number of destinations of each IPv4 service, asking for at most `services` entries
    /// (the kernel wants the exact buffer size for that many).
    func destinationCounts(services: Int) -> [ServiceKey: Int]? {
        guard services > 0 else { return [:] }
        let length = Self.servicesHeader + services * Self.serviceEntry
        reserve(length)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        buffer.storeBytes(of: UInt32(services), as: UInt32.self)  // num_services
        guard get(Int32(EZLB_IP_VS_SO_GET_SERVICES), length) else { return nil }
        var counts: [ServiceKey: Int] = [:]
        counts.reserveCapacity(services)
        for i in 0..<services {
            let e = (buffer + Self.servicesHeader + i * Self.serviceEntry).loadUnaligned(as: ip_vs_service_entry.self)
            let key: ServiceKey
            if e.fwmark != 0 {
                key = .fwmark(e.fwmark, .ipv4)
            } else {
                // protocol 0: an entry the kernel did not fill (fewer services than asked for).
                guard let proto = IPVSProtocol(number: e.protocol) else { continue }
                key = .inet(proto, Endpoint(address: IPAddress(v4: UInt32(bigEndian: e.addr)), port: UInt16(bigEndian: e.port)))
            }
            counts[key] = Int(e.num_dests)
        }
        return counts
    }

    /// The destinations of IPv4 service `key`, which has `count` of them; nil when
    /// they cannot be read exactly this way.
    func destinations(of key: ServiceKey, count: Int) -> [RealServer]? {
        guard key.family == .ipv4 else { return nil }
        if count == 0 { return [] }
        let length = Self.destsHeader + count * Self.destEntry
        reserve(length)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        var request = ip_vs_get_dests()
        switch key {
        case .fwmark(let mark, _):
            request.fwmark = mark
        case .inet(let proto, let ep):
            request.protocol = proto.number
            ep.address.bytes.withUnsafeBytes { request.addr = $0.loadUnaligned(as: UInt32.self) }
            request.port = ep.port.bigEndian
        }
        request.num_dests = UInt32(count)
        withUnsafeBytes(of: &request) { src in
            if let base = src.baseAddress { buffer.copyMemory(from: base, byteCount: min(src.count, Self.destsHeader)) }
        }
        guard get(Int32(EZLB_IP_VS_SO_GET_DESTS), length) else { return nil }
        var dests: [RealServer] = []
        dests.reserveCapacity(count)
        for i in 0..<count {
            let e = (buffer + Self.destsHeader + i * Self.destEntry).loadUnaligned(as: ip_vs_dest_entry.self)
            // Entries are filled from the front; the kernel never holds a 0.0.0.0 destination.
            // An unfilled one means a destination this interface cannot show (IPv6) or a race.
            guard e.addr != 0 else { return nil }
            let addr = IPAddress(v4: UInt32(bigEndian: e.addr)) // network order, no array
            dests.append(RealServer(endpoint: Endpoint(address: addr, port: UInt16(bigEndian: e.port)),
                                    weight: UInt32(bitPattern: e.weight),
                                    forward: ForwardMethod(connFlags: e.conn_flags & UInt32(IP_VS_CONN_F_FWD_MASK)) ?? .masq,
                                    upperThreshold: e.u_threshold, lowerThreshold: e.l_threshold))
        }
        return dests
    }
}
