#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads with open/read(2): the config and key files every command starts
/// with. Foundation's `Data(contentsOf:)`/`FileManager.contents(atPath:)` ran its URL,
/// file-manager and NSError machinery for the first time in each short-lived process.
public enum FileBytes {
    /// A failed open/read: its errno.
    public struct Failure: Error, Equatable {
        public var errno: Int32
    }

    /// The file's bytes, or the errno of the failing open/read.
    public static func read(_ path: String) -> Result<[UInt8], Failure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Failure(errno: errno)) }
        defer { close(fd) }
        var st = stat()
        var capacity = 1 << 12
        if fstat(fd, &st) == 0, st.st_size > 0 { capacity = Int(st.st_size) + 1 }
        var data = [UInt8](repeating: 0, count: capacity)
        var count = 0
        while true {
            if count == data.count { data.append(contentsOf: repeatElement(0, count: data.count)) }
            let n = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Failure(errno: errno))
            }
            if n == 0 { break }
            count += n
        }
        data.removeSubrange(count...)
        return .success(data)
    }

    /// `strerror(e)` as a String.
    public static func describe(_ e: Int32) -> String { String(cString: strerror(e)) }
}

extension String {
    /// `self` without leading and trailing ASCII whitespace (space, tab, newlines): the byte-level
    /// equivalent of `trimmingCharacters(in: .whitespacesAndNewlines)` for ASCII input, which is
    /// all an address, a prefix or a hex/base64 key can be. Non-ASCII whitespace is kept.
    public var trimmingASCIIWhitespace: String {
        let u = utf8
        guard let first = u.firstIndex(where: { !$0.isASCIISpaceByte }) else { return "" }
        let last = u.lastIndex(where: { !$0.isASCIISpaceByte })!
        if first == u.startIndex && last == u.index(before: u.endIndex) { return self }
        return String(Substring(u[first...last]))
    }
}

extension UInt8 {
    @inlinable public var isASCIISpaceByte: Bool {
        self == 0x20 || self == 0x09 || self == 0x0A || self == 0x0D || self == 0x0B || self == 0x0C
    }
}
