import EzlbCore
import EzlbState

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

    public init(ipvs: [IPVSServiceState] = [], iptables: FakeXTables = FakeXTables(), net: FakeNet = FakeNet(),
                xfrm: FakeXfrmModel = FakeXfrmModel()) {
        self.ipvs = ipvs
        self.iptables = iptables
        self.net = net
        self.xfrm = xfrm
    }

    private enum CodingKeys: String, CodingKey { case ipvs, iptables, net, xfrm }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ipvs = try c.decodeIfPresent([IPVSServiceState].self, forKey: .ipvs) ?? []
        iptables = try c.decodeIfPresent(FakeXTables.self, forKey: .iptables) ?? FakeXTables()
        net = try c.decodeIfPresent(FakeNet.self, forKey: .net) ?? FakeNet()
        xfrm = try c.decodeIfPresent(FakeXfrmModel.self, forKey: .xfrm) ?? FakeXfrmModel()
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

    public init(dir: StateDirectory) throws {
        self.dir = dir
        lock = try dir.lock(Self.fileName)
        model = try dir.read(FakeKernelModel.self, from: Self.fileName, kind: Self.kind, schema: Self.schema,
                             recovery: "delete it to start the fake kernel empty") ?? FakeKernelModel()
    }

    public func markDirty() { dirty = true }

    /// Writes the model if anything changed since load.
    public func save() throws {
        guard dirty else { return }
        try dir.write(model, to: Self.fileName, kind: Self.kind, schema: Self.schema)
        dirty = false
    }
}
