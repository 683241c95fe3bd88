import EzlbIPAM
import EzlbCore
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The `ipam:` section of the config file (optional; only `ezlb ipam` and `ezlb bridge` read it).
///
/// ```yaml
/// ipam:
///   reserved: [10.1.0.10, 10.1.0.200-10.1.0.254, "2001:db8::/120"]
/// ```
/// Reserved addresses are never handed out automatically and `--ip` of one is refused.
/// Entries outside the subnet being allocated from are ignored.
public struct IPAMConfig: Equatable, Sendable {
    public var reserved: [IPRange] = []
    /// Keys under `ipam` that ezlb does not know (likely typos).
    public var unknownKeys: [String] = []
    public init() {}

    /// Reads the `ipam` section of `path`; the rest of the file is not validated here.
    public static func load(path: String) throws -> IPAMConfig {
        try parse(EzlbConfiguration.readText(path: path), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> IPAMConfig {
        let root = try YAMLCursor.document(text, file: file)
        var cfg = IPAMConfig()
        let section = root["ipam"]
        try section.requireMapping()
        for item in try section["reserved"].items() {
            let t = try item.requiredString()
            switch IPRange.parse(t.trimmedSpaces()) {
            case .success(let r): cfg.reserved.append(r)
            case .failure(let e): throw item.error(e.reason)
            }
        }
        cfg.unknownKeys = root.unreadKeys.filter { $0.hasPrefix("ipam.") }
        return cfg
    }
}
