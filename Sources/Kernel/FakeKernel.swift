import EzlbCore
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The fake kernel's model, persisted as `<state-dir>/fake-kernel.json`.
/// Each subsystem keeps its own section; later subsystems add theirs.
public struct FakeKernelModel: Codable, Equatable, Sendable {
    public var ipvs: [IPVSServiceState]
    /// iptables tables, chains and rules (FakeIPTables.swift).
    public var iptables: FakeXTables
    /// Links, namespaces and routes (FakeBridge.swift).
    public var net: FakeNet
    /// xfrm policies and SAs (FakeXfrm.swift).
    public var xfrm: FakeXfrmModel
    /// nftables tables (FakeNFT.swift).
    public var nftables: FakeNFTables

    public init(ipvs: [IPVSServiceState] = [], iptables: FakeXTables = FakeXTables(), net: FakeNet = FakeNet(),
                xfrm: FakeXfrmModel = FakeXfrmModel(), nftables: FakeNFTables = FakeNFTables()) {
        self.ipvs = ipvs
        self.iptables = iptables
        self.net = net
        self.xfrm = xfrm
        self.nftables = nftables
    }

    private enum CodingKeys: String, CodingKey, CaseIterable { case ipvs, iptables, net, xfrm, nftables }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A section may be missing (a file from before that subsystem); a key that is no section
    /// means the file is not a fake kernel, which must not be read as an empty one.
    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let k = all.allKeys.first(where: { CodingKeys(rawValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorruptedError(forKey: k, in: all,
                debugDescription: "unknown section '\(k.stringValue)' (expected \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipvs = try c.decodeIfPresent([IPVSServiceState].self, forKey: .ipvs) ?? []
        iptables = try c.decodeIfPresent(FakeXTables.self, forKey: .iptables) ?? FakeXTables()
        net = try c.decodeIfPresent(FakeNet.self, forKey: .net) ?? FakeNet()
        xfrm = try c.decodeIfPresent(FakeXfrmModel.self, forKey: .xfrm) ?? FakeXfrmModel()
        nftables = try c.decodeIfPresent(FakeNFTables.self, forKey: .nftables) ?? FakeNFTables()
    }
}

/// An in-memory kernel loaded from and saved to the state directory, held under
/// its own lock from load until the object is freed.
public final class FakeKernel {
    public static let fileName = "fake-kernel.json"
    public static let kind = "fake-kernel"
    public static let schema = 1

    public let dir: StateDirectory
    public var model: FakeKernelModel
    private let lock: FileLock
    private var dirty = false

    /// The file's envelope, as every state file has (the model itself is Codable: the fake
    /// world is for tests and demos, not per-operation speed).
    private struct Envelope: Codable {
        var schema: Int
        var kind: String
        var data: FakeKernelModel
    }

    public init(dir: StateDirectory, lockTimeout: Int = 60) throws {
        self.dir = dir
        lock = try dir.lock(Self.fileName, timeoutSeconds: lockTimeout)
        guard let bytes = try dir.readRaw(Self.fileName) else {
            model = FakeKernelModel()
            return
        }
        let p = dir.file(Self.fileName)
        let recovery = "delete it to start the fake kernel empty"
        let e: Envelope
        // The strict parser first: Foundation's decoder takes trailing commas and repeated keys.
        do { _ = try JSONValue.parse(bytes) } catch {
            throw StateError.corrupted(path: p, detail: "\(error)", recovery: recovery)
        }
        do { e = try JSONDecoder().decode(Envelope.self, from: Data(bytes)) } catch {
            throw StateError.corrupted(path: p, detail: Self.describe(error), recovery: recovery)
        }
        guard e.kind == Self.kind else {
            throw StateError.corrupted(path: p, detail: "kind is '\(e.kind)', expected '\(Self.kind)'", recovery: recovery)
        }
        guard e.schema >= 1 else {
            throw StateError.corrupted(path: p, detail: "schema: \(e.schema) is not a schema version", recovery: recovery)
        }
        guard e.schema <= Self.schema else { throw StateError.newerSchema(path: p, found: e.schema, supported: Self.schema) }
        model = e.data
    }

    /// A decoding error as `key.path: what` (one line).
    static func describe(_ error: Error) -> String {
        let context: DecodingError.Context
        switch error as? DecodingError {
        case .dataCorrupted(let c)?, .keyNotFound(_, let c)?, .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: context = c
        default: return "\(error)"
        }
        var path = ""
        for k in context.codingPath {
            if let i = k.intValue { path += "[\(i)]" } else { path += (path.isEmpty ? "" : ".") + k.stringValue }
        }
        if case .keyNotFound(let k, _)? = error as? DecodingError { path += (path.isEmpty ? "" : ".") + k.stringValue }
        return (path.isEmpty ? "" : path + ": ") + context.debugDescription
    }

    public func markDirty() { dirty = true }

    /// Writes the model if anything changed since load.
    public func save() throws {
        guard dirty else { return }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try dir.writeRaw([UInt8](try enc.encode(Envelope(schema: Self.schema, kind: Self.kind, data: model))), to: Self.fileName)
        dirty = false
    }
}
