import EzlbConfig
import EzlbCore
import EzlbReconcile
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// ezlb as a CNI plugin: the runtime runs the binary (e.g. /usr/lib/cni/ezlb, a link to it)
/// with no arguments, CNI_* in the environment and the network configuration on stdin.
/// Parse → `CNIPlugin` → the result (or the spec's error JSON) on stdout, logs on stderr.
enum CNIEntry {
    /// A CNI invocation: no arguments, CNI_COMMAND set.
    static func isInvocation(_ arguments: [String]) -> Bool {
        arguments.isEmpty && getenv("CNI_COMMAND") != nil
    }

    static func run() -> Never {
        let stdin = readStandardInput(limit: (1 << 20) + 1)
        do {
            let request = try CNIRequest.parse(env: { getenv($0).map { String(cString: $0) } }, stdin: stdin)
            guard let network = request.network else {
                // VERSION.
                write(.object(["cniVersion": .string(request.cniVersion), "supportedVersions": .array(CNIVersion.supported.map { .string($0) })]))
                exit(0)
            }
            var log = Logger(label: "ezlb-cni") { _ in StreamLogHandler.standardError(label: "ezlb-cni") }
            log.logLevel = .warning
            if let result = try CNIPlugin(request, network: network, log: log).run() { write(result) }
            // A result that did not reach the runtime is a failure (as for every command).
            exit(OutputBuffer.writeError == nil ? 0 : 1)
        } catch {
            // Errors answer in the config's version when it has a usable one.
            let version = (try? CNINetwork.version(CNINetwork.object(stdin))) ?? CNIVersion.latest
            var o: [String: JSONValue] = ["cniVersion": .string(version), "code": .int(error.code), "msg": .string(error.msg)]
            if !error.details.isEmpty { o["details"] = .string(error.details) }
            write(.object(o))
            Runner.stderr("ezlb: cni: \(error)")
            exit(1)
        }
    }

    /// One JSON line on stdout, through the one output path.
    static func write(_ v: JSONValue) {
        var out = OutputBuffer()
        out.text.append(v.text)
        out.text.append("\n" as StaticString)
        out.flush()
    }

    /// Standard input up to `limit` bytes (more is refused by the parser as too large).
    static func readStandardInput(limit: Int) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while out.count < limit {
            let n = buf.withUnsafeMutableBytes { Glibc.read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
