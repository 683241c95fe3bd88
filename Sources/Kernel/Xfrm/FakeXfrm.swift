import EzlbCore
import EzlbState
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The fake kernel's xfrm database: policies and SAs with the kernel's identity
/// rules and errors (EEXIST on a duplicate, ENOENT on a missing object, EINVAL
/// on a key whose length does not fit the algorithm), and a write counter.
public struct FakeXfrmModel: Codable, Equatable, Sendable {
    public var tables: XfrmTables
    /// Netlink writes made (for "no write when converged" checks).
    public var writes: Int
    public init(tables: XfrmTables = XfrmTables(), writes: Int = 0) {
        self.tables = tables
        self.writes = writes
    }
}

/// `XfrmBackend` on the fake kernel in the state directory; `commit()` saves it. Its
/// digest makes every object's JSON one element of a `StateDigest` multiset: any edit of
/// the fake kernel's xfrm tables changes it, their order does not.
public final class FakeXfrmBackend: XfrmBackend {
    let kernel: FakeKernel
    public private(set) var writes = 0
    public private(set) var dumpDigest: [UInt8]? = nil

    public init(kernel: FakeKernel) {
        self.kernel = kernel
    }

    public func dump() throws -> XfrmTables {
        let t = kernel.model.xfrm.tables
        dumpDigest = Self.digest(t)
        return t
    }

    public func currentDigest() -> [UInt8]? { Self.digest(kernel.model.xfrm.tables) }

    static func digest(_ t: XfrmTables) -> [UInt8]? {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let d = StateDigest()
        do {
            for p in t.policies { d.element(Array("policy".utf8) + [UInt8](try enc.encode(p))) }
            for s in t.states { d.element(Array("state".utf8) + [UInt8](try enc.encode(s))) }
        } catch { return nil }
        return d.finish("fake xfrm")
    }

    public func applyBatch(_ ops: [XfrmOperation]) -> [XfrmError?] {
        ops.map { op in
            do { try apply(op); return nil } catch let e as XfrmError { return e } catch {
                return XfrmError(.other, operation: op.description, detail: "\(error)")
            }
        }
    }

    public func apply(_ op: XfrmOperation) throws {
        var t = kernel.model.xfrm.tables
        switch op {
        case .addState(let s):
            if t.states.contains(where: { $0.id.dst == s.id.dst && $0.id.spi == s.id.spi && $0.id.proto == s.id.proto }) {
                throw XfrmError(.exists, operation: op.description, detail: "File exists (an SA with this destination and SPI exists)")
            }
            let want = s.aead == "rfc4106(gcm(aes))" ? [20, 28, 36] : []
            guard want.contains(s.key.bytes.count), s.icvBits == 128 || s.icvBits == 96 || s.icvBits == 64 else {
                throw XfrmError(.invalid, operation: op.description, detail: "Invalid argument (algorithm, key length or ICV)")
            }
            t.states.append(s)
        case .deleteState(let id):
            guard let i = t.states.firstIndex(where: { $0.id.dst == id.dst && $0.id.spi == id.spi && $0.id.proto == id.proto }) else {
                throw XfrmError(.notFound, operation: op.description, detail: "No such process (no such SA)")
            }
            t.states.remove(at: i)
        case .addPolicy(let p):
            if t.policies.contains(where: { $0.id == p.id }) {
                throw XfrmError(.exists, operation: op.description, detail: "File exists (a policy with this selector and direction exists)")
            }
            t.policies.append(p)
        case .updatePolicy(let p):
            if let i = t.policies.firstIndex(where: { $0.id == p.id }) { t.policies[i] = p } else { t.policies.append(p) }
        case .deletePolicy(let id):
            guard let i = t.policies.firstIndex(where: { $0.id == id }) else {
                throw XfrmError(.notFound, operation: op.description, detail: "No such file or directory (no such policy)")
            }
            t.policies.remove(at: i)
        }
        kernel.model.xfrm.tables = t
        kernel.model.xfrm.writes += 1
        writes += 1
        kernel.markDirty()
    }

    public func commit() throws { try kernel.save() }
}
