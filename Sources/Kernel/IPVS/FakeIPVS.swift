import EzlbCore

/// IPVS on the fake kernel: the same contract and errors as ip_vs_ctl.c.
public final class FakeIPVS: IPVSBackend {
    private let kernel: FakeKernel
    /// Index of each service in `kernel.model.ipvs`.
    private var index: [ServiceKey: Int] = [:]
    /// Number of kernel writes performed (for tests of "no write when converged").
    public private(set) var writes = 0

    public init(kernel: FakeKernel) {
        self.kernel = kernel
        reindex()
    }

    private func reindex() {
        index = [:]
        for (i, s) in kernel.model.ipvs.enumerated() { index[s.key] = i }
    }

    private func wrote() {
        writes += 1
        kernel.markDirty()
    }

    public func dump() throws -> [IPVSServiceState] { kernel.model.ipvs }

    private func checkService(_ s: VirtualService, op: String) throws {
        guard Scheduler(rawValue: s.scheduler) != nil else { throw IPVSError(.schedulerNotFound, operation: op) }
        if s.key.family == .ipv6 && !(1...128).contains(s.netmask) { throw IPVSError(.invalidArgument, operation: op) }
        if case .fwmark(let m, _) = s.key, m == 0 { throw IPVSError(.invalidArgument, operation: op) }
    }

    private func checkDest(_ key: ServiceKey, _ d: RealServer, op: String) throws {
        if d.weight > UInt32(Int32.max) { throw IPVSError(.invalidArgument, operation: op) }
        if d.lowerThreshold > d.upperThreshold { throw IPVSError(.invalidArgument, operation: op) }
        if d.endpoint.address.family != key.family && d.forward != .tunnel { throw IPVSError(.invalidArgument, operation: op) }
    }

    public func addService(_ s: VirtualService) throws {
        let op = IPVSOperation.addService(s).operationName
        try checkService(s, op: op)
        guard index[s.key] == nil else { throw IPVSError(.serviceExists, operation: op) }
        kernel.model.ipvs.append(IPVSServiceState(service: s.normalized, destinations: []))
        index[s.key] = kernel.model.ipvs.count - 1
        wrote()
    }

    public func updateService(_ s: VirtualService) throws {
        let op = IPVSOperation.updateService(from: s, to: s).operationName
        guard let i = index[s.key] else { throw IPVSError(.serviceNotFound, operation: op) }
        try checkService(s, op: op)
        kernel.model.ipvs[i].service = s.normalized
        wrote()
    }

    public func deleteService(_ key: ServiceKey) throws {
        guard let i = index[key] else { throw IPVSError(.serviceNotFound, operation: "delete service \(key)") }
        kernel.model.ipvs.remove(at: i)
        reindex()
        wrote()
    }

    public func addDestination(_ key: ServiceKey, _ d: RealServer) throws {
        let op = IPVSOperation.addDestination(key, d).operationName
        guard let i = index[key] else { throw IPVSError(.serviceNotFound, operation: op) }
        try checkDest(key, d, op: op)
        if kernel.model.ipvs[i].destinations.contains(where: { $0.endpoint == d.endpoint }) {
            throw IPVSError(.destinationExists, operation: op)
        }
        // ip_vs_add_dest links a new destination at the head of the service's list.
        kernel.model.ipvs[i].destinations.insert(d, at: 0)
        wrote()
    }

    public func updateDestination(_ key: ServiceKey, _ d: RealServer) throws {
        let op = IPVSOperation.updateDestination(key, from: d, to: d).operationName
        guard let i = index[key] else { throw IPVSError(.serviceNotFound, operation: op) }
        try checkDest(key, d, op: op)
        guard let j = kernel.model.ipvs[i].destinations.firstIndex(where: { $0.endpoint == d.endpoint }) else {
            throw IPVSError(.destinationNotFound, operation: op)
        }
        kernel.model.ipvs[i].destinations[j] = d
        wrote()
    }

    public func deleteDestination(_ key: ServiceKey, _ endpoint: Endpoint) throws {
        let op = "delete destination \(key) -> \(endpoint)"
        guard let i = index[key] else { throw IPVSError(.serviceNotFound, operation: op) }
        guard let j = kernel.model.ipvs[i].destinations.firstIndex(where: { $0.endpoint == endpoint }) else {
            throw IPVSError(.destinationNotFound, operation: op)
        }
        kernel.model.ipvs[i].destinations.remove(at: j)
        wrote()
    }

    public func apply(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?] {
        applyEach(ops, progress: progress)
    }

    public func commit() throws {
        try kernel.save()
    }
}
