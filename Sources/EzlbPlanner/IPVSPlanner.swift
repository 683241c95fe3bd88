import EzlbCore

/// A desired service with the config name it came from.
public struct NamedService: Hashable, Sendable {
    public var name: String
    public var state: IPVSServiceState
    public init(name: String, state: IPVSServiceState) {
        self.name = name
        self.state = state
    }
}

/// The result of planning: ordered kernel operations plus what ezlb will own afterwards.
public struct IPVSPlan: Equatable, Sendable {
    public var operations: [IPVSOperation] = []
    /// Desired services whose key is held by a service ezlb does not own (left alone).
    public var conflicts: [NamedService] = []
    /// Foreign services taken over because of `--adopt`.
    public var adopted: [ServiceKey] = []
    /// Ownership if every operation succeeds: key → config name.
    public var ownedAfter: [ServiceKey: String] = [:]
    /// Ownership to record *before* touching the kernel: everything owned now plus
    /// everything about to be created, so a crash mid-apply never orphans a service.
    public var ownedIntent: [ServiceKey: String] = [:]

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }
}

public enum IPVSPlanner {
    /// Plans the smallest set of operations that turns `actual` (the kernel's
    /// dump) into `desired` for the services ezlb owns.
    ///
    /// - Services in `owned` but no longer desired are deleted (destinations first).
    /// - Desired services missing from the kernel are added (service, then destinations).
    /// - Desired services present in the kernel are updated in place when owned
    ///   (or adopted with `adopt`); otherwise they are reported as conflicts.
    /// - Within a kept service, new destinations are added before old ones are
    ///   deleted, so it never runs empty during the change.
    public static func plan(desired: [NamedService], actual: [IPVSServiceState],
                            owned: [ServiceKey: String], adopt: Bool) -> IPVSPlan {
        var plan = IPVSPlan()
        plan.ownedAfter.reserveCapacity(desired.count)
        plan.ownedIntent.reserveCapacity(desired.count + owned.count)
        let actualByKey = Dictionary(actual.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let desiredByKey = Dictionary(desired.map { ($0.state.key, $0) }, uniquingKeysWith: { a, _ in a })

        // 1. Owned services that left the config.
        for key in owned.keys.filter({ desiredByKey[$0] == nil }).sorted(by: { $0.orderKey < $1.orderKey }) {
            guard let have = actualByKey[key] else { continue }
            for d in have.destinations.sorted(by: { $0.endpoint < $1.endpoint }) {
                plan.operations.append(.deleteDestination(key, d))
            }
            plan.operations.append(.deleteService(have.service))
            plan.ownedIntent[key] = owned[key]
        }

        // 2. Desired services, in key order.
        for (key, want) in desiredByKey.sorted(by: { $0.key.orderKey < $1.key.orderKey }) {
            guard let have = actualByKey[key] else {
                plan.operations.append(.addService(want.state.service.normalized))
                for d in want.state.destinations.sorted(by: { $0.endpoint < $1.endpoint }) {
                    plan.operations.append(.addDestination(key, d))
                }
                plan.ownedAfter[key] = want.name
                plan.ownedIntent[key] = want.name
                continue
            }
            if owned[key] == nil {
                guard adopt else {
                    plan.conflicts.append(want)
                    continue
                }
                plan.adopted.append(key)
            }
            plan.ownedAfter[key] = want.name
            plan.ownedIntent[key] = want.name
            plan.operations += diff(want: want.state, have: have)
        }
        return plan
    }

    /// Operations that turn one existing service into the wanted one.
    public static func diff(want: IPVSServiceState, have: IPVSServiceState) -> [IPVSOperation] {
        var ops: [IPVSOperation] = []
        let key = want.key
        let ws = want.service.normalized, hs = have.service.normalized
        if ws != hs { ops.append(.updateService(from: hs, to: ws)) }
        // The usual case on a converged table: the same destinations, in any order
        // (endpoints are unique within a list, so equal counts and every wanted
        // one present means equal sets). Small lists need no sorting or maps.
        let n = want.destinations.count
        if n == have.destinations.count {
            if n <= 16 {
                if want.destinations.allSatisfy({ have.destinations.contains($0) }) { return ops }
            } else if want.destinations.sorted(by: { $0.endpoint < $1.endpoint })
                        == have.destinations.sorted(by: { $0.endpoint < $1.endpoint }) {
                return ops
            }
        }
        let haveDests = Dictionary(have.destinations.map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        let wantDests = Dictionary(want.destinations.map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        var updates: [IPVSOperation] = []
        for (ep, w) in wantDests.sorted(by: { $0.key < $1.key }) {
            if let h = haveDests[ep] {
                if h != w { updates.append(.updateDestination(key, from: h, to: w)) }
            } else {
                ops.append(.addDestination(key, w))
            }
        }
        ops += updates
        for (ep, h) in haveDests.sorted(by: { $0.key < $1.key }) where wantDests[ep] == nil {
            ops.append(.deleteDestination(key, h))
        }
        return ops
    }

    /// Plans the removal of everything ezlb owns, and nothing else.
    public static func cleanup(actual: [IPVSServiceState], owned: [ServiceKey: String]) -> IPVSPlan {
        plan(desired: [], actual: actual, owned: owned, adopt: false)
    }
}
