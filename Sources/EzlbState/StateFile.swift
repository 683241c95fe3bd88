import EzlbCore
import EzlbIPAM

/// A file of the state directory: JSON in an envelope `{"schema": N, "kind": K, "data": …}`,
/// read whole and checked (kind, schema no newer than this ezlb reads, every value by key
/// path), written temp → fsync → rename → fsync(dir). Parsed with `JSONValue`, not Codable:
/// the per-operation commands read one on every run, and Codable's first use per type is a
/// large part of a short process (EzlbCore/JSONReading.swift).
public protocol StateFile {
    static var fileName: String { get }
    static var kind: String { get }
    static var schema: Int { get }
    /// What to do about a corrupted file (the end of the one-line error).
    static var recovery: String { get }
    /// The envelope's `data`; bad values name their key path (`data.peers[2].reqid`).
    init(stateJSON: JSONValue) throws(JSONShapeError)
    var stateJSON: JSONValue { get }
}

extension StateDirectory {
    /// The file's content; nil when it does not exist.
    public func load<F: StateFile>(_ type: F.Type) throws -> F? {
        guard let bytes = try readRaw(F.fileName) else { return nil }
        return try load(F.self, bytes: bytes)
    }

    /// `load` of bytes already read from the file.
    public func load<F: StateFile>(_ type: F.Type, bytes: [UInt8]) throws -> F {
        try decodeJSON(bytes: bytes, from: F.fileName, kind: F.kind, schema: F.schema, recovery: F.recovery) {
            v throws(JSONShapeError) in try F(stateJSON: v)
        }
    }

    /// Writes the file atomically and durably. `syncDirectory: false` when another state
    /// file of the directory is written right after (its directory fsync covers both).
    public func store<F: StateFile>(_ value: F, syncDirectory: Bool = true) throws {
        try writeJSON(value.stateJSON, to: F.fileName, kind: F.kind, schema: F.schema, syncDirectory: syncDirectory)
    }
}

extension IPAMState: StateFile {
    public init(stateJSON: JSONValue) throws(JSONShapeError) { try self.init(json: stateJSON) }
    public var stateJSON: JSONValue { json }
}
