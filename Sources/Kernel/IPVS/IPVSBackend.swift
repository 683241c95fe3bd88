import EzlbCore

/// The contract every IPVS backend (real netlink, fake) fulfils. Errors are
/// `IPVSError`s with the same meaning on both, so callers and tests cannot
/// tell them apart.
public protocol IPVSBackend: AnyObject {
    /// Every service in the kernel with its destinations.
    func dump() throws -> [IPVSServiceState]
    /// `dump()` with each service's and destination's counters, connection counts and tunnel
    /// encapsulation (`ipvs show`). A backend without traffic (the fake) reports zeros.
    func detailedDump() throws -> [IPVSServiceDetail]
    func addService(_ service: VirtualService) throws
    func updateService(_ service: VirtualService) throws
    func deleteService(_ key: ServiceKey) throws
    func addDestination(_ key: ServiceKey, _ dest: RealServer) throws
    func updateDestination(_ key: ServiceKey, _ dest: RealServer) throws
    func deleteDestination(_ key: ServiceKey, _ endpoint: Endpoint) throws
    /// Runs a plan's operations in order and returns each one's error (nil = done). Every
    /// operation is attempted, so a partial apply reports exactly what was done and what
    /// failed; `progress` is told how many are done so far. The kernel backend pipelines
    /// them (many requests per round trip); a requirement, so callers holding
    /// `any IPVSBackend` get each backend's own batching.
    func apply(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?]
    /// Makes the changes durable (the fake writes its model; the kernel needs nothing).
    func commit() throws
}

extension IPVSBackend {
    public func detailedDump() throws -> [IPVSServiceDetail] { try dump().map { IPVSServiceDetail(state: $0) } }

    /// Runs one plan operation.
    public func execute(_ op: IPVSOperation) throws {
        switch op {
        case .addService(let s): try addService(s)
        case .updateService(_, let s): try updateService(s)
        case .deleteService(let s): try deleteService(s.key)
        case .addDestination(let k, let d): try addDestination(k, d)
        case .updateDestination(let k, _, let d): try updateDestination(k, d)
        case .deleteDestination(let k, let d): try deleteDestination(k, d.endpoint)
        }
    }
}

/// What an IPVS operation can fail with, on the kernel and on the fake alike.
public typealias IPVSError = OperationError<IPVSErrorKind>

public enum IPVSErrorKind: String, OperationErrorKind {
    case serviceExists = "service already exists"
    case serviceNotFound = "no such service"
    case destinationExists = "destination already exists"
    case destinationNotFound = "no such destination"
    case schedulerNotFound = "scheduler not found"
    case invalidArgument = "invalid argument"
    case notSupported = "IPVS is not available (is the ip_vs module loadable?)"
    case permissionDenied = "permission denied (needs CAP_NET_ADMIN)"
    case other = "kernel error"
}

extension IPVSError {
    /// Maps an errno returned by the IPVS netlink family to the kernel's meaning
    /// for that command (ip_vs_ctl.c returns ESRCH for unknown services, ENOENT
    /// for unknown destinations and unknown schedulers, EEXIST for duplicates).
    public static func fromErrno(_ errno: Int32, operation: String, isDestinationOp: Bool) -> IPVSError {
        switch errno {
        case 3: // ESRCH
            return IPVSError(.serviceNotFound, operation: operation)
        case 17: // EEXIST
            return IPVSError(isDestinationOp ? .destinationExists : .serviceExists, operation: operation)
        case 2: // ENOENT
            if isDestinationOp { return IPVSError(.destinationNotFound, operation: operation) }
            // Service commands report a missing service as ESRCH; ENOENT is the scheduler module.
            return IPVSError(.schedulerNotFound, operation: operation)
        case 22, 34: // EINVAL, ERANGE (negative weight, lower threshold above upper)
            return IPVSError(.invalidArgument, operation: operation)
        case 1, 13: // EPERM, EACCES
            return IPVSError(.permissionDenied, operation: operation)
        case 95, 93, 97: // EOPNOTSUPP, EPROTONOSUPPORT, EAFNOSUPPORT
            return IPVSError(.notSupported, operation: operation)
        default:
            return IPVSError(.other, operation: operation, detail: "errno \(errno)")
        }
    }
}

extension IPVSOperation {
    /// Short verb-object text naming the operation in errors.
    public var operationName: String {
        switch self {
        case .addService(let s): return "add service \(s.key)"
        case .updateService(_, let s): return "update service \(s.key)"
        case .deleteService(let s): return "delete service \(s.key)"
        case .addDestination(let k, let d): return "add destination \(k) -> \(d.endpoint)"
        case .updateDestination(let k, _, let d): return "update destination \(k) -> \(d.endpoint)"
        case .deleteDestination(let k, let d): return "delete destination \(k) -> \(d.endpoint)"
        }
    }
}

extension IPVSBackend {
    /// `apply(_:progress:)` without progress.
    public func apply(_ ops: [IPVSOperation]) -> [IPVSError?] { apply(ops, progress: { _ in }) }

    /// `apply` one operation at a time (a backend without round trips to save).
    public func applyEach(_ ops: [IPVSOperation], progress: (Int) -> Void) -> [IPVSError?] {
        var results: [IPVSError?] = []
        results.reserveCapacity(ops.count)
        for op in ops {
            do {
                try execute(op)
                results.append(nil)
            } catch let e as IPVSError {
                results.append(e)
            } catch {
                results.append(IPVSError(.other, operation: op.operationName, detail: "\(error)"))
            }
            if results.count % 256 == 0 { progress(results.count) }
        }
        progress(results.count)
        return results
    }
}
