/// Documented exit codes (docs/cli.md "Exit codes", man page EXIT STATUS).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// Runtime failure: kernel refused an operation, partial apply, conflict, I/O, anything unforeseen.
    case failure = 1
    /// Something changed (only with --detailed-exitcode).
    case changed = 2
    /// Usage error: bad flags or arguments.
    case usage = 64
    /// A resource is exhausted: no free address left in an IPAM subnet or range (EX_UNAVAILABLE).
    case unavailable = 69
    /// Another run holds a lock ezlb needs (try again).
    case busy = 75
    /// Invalid config file or state file.
    case config = 78
}

/// The error model: every error a command can end with says how it ends. The message is
/// `description` (one line); an error that is not an `EzlbError` ends a command with 1.
public protocol EzlbError: Error, CustomStringConvertible {
    var exitStatus: ExitStatus { get }
}

/// A refusal of ezlb's own, with its message and exit status.
public struct Failure: EzlbError, Equatable, Sendable {
    public var exitStatus: ExitStatus
    public var message: String
    public init(_ status: ExitStatus, _ message: String) {
        exitStatus = status
        self.message = message
    }
    public var description: String { message }
    /// A bad flag, argument or environment value (exit 64).
    public static func usage(_ message: String) -> Failure { Failure(.usage, message) }
}

/// The kinds of refusal of one kernel interface (IPVS, x_tables, xfrm, links): the raw value
/// is the text the error shows.
public protocol OperationErrorKind: RawRepresentable, Hashable, Sendable where RawValue == String {
    var exitStatus: ExitStatus { get }
}

extension OperationErrorKind {
    public var exitStatus: ExitStatus { .failure }
}

/// A refused kernel (or fake kernel) operation: what was asked, the kind of refusal and the
/// kernel's own words. `IPVSError`, `XTError`, `XfrmError` and `LinkError` are this type.
public struct OperationError<K: OperationErrorKind>: EzlbError, Equatable, Sendable {
    public typealias Kind = K
    public var kind: K
    /// The operation, e.g. `add service tcp 10.0.0.1:80` or `ip4 nat: iptc_commit`.
    public var operation: String
    public var detail: String?

    public init(_ kind: K, operation: String, detail: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.detail = detail
    }

    /// `operation: kind (detail)`; the detail is left out when it only repeats the kind.
    public var description: String {
        var s = "\(operation): \(kind.rawValue)"
        if let d = detail, !d.isEmpty, d != kind.rawValue { s += " (\(d))" }
        return s
    }

    public var exitStatus: ExitStatus { kind.exitStatus }
}

/// Why a value (an address, a prefix, a range, a key) was refused; the caller adds the flag
/// or key and the value.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
