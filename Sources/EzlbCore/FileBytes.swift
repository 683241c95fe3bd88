import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads (swift-system, EINTR retried): the config, key and state files every
/// command starts with, without Foundation's file machinery.
public enum FileBytes {
    /// A failed open/read: its errno.
    public struct Failure: Error, Equatable {
        public var errno: Int32
    }

    /// The file's bytes, or the errno of the failing open/read.
    public static func read(_ path: String) -> Result<[UInt8], Failure> {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
            return .success(try fd.closeAfter {
                var st = stat()
                var data = [UInt8](repeating: 0, count: fstat(fd.rawValue, &st) == 0 && st.st_size > 0 ? Int(st.st_size) + 1 : 1 << 12)
                var count = 0
                while true {
                    if count == data.count { data.append(contentsOf: repeatElement(0, count: data.count)) }
                    let n = try data.withUnsafeMutableBytes { try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[count...])) }
                    if n == 0 { break }
                    count += n
                }
                data.removeSubrange(count...)
                return data
            })
        } catch let e as Errno {
            return .failure(Failure(errno: e.rawValue))
        } catch {
            return .failure(Failure(errno: EIO))
        }
    }

    /// `strerror(e)` as a String.
    public static func describe(_ e: Int32) -> String { Errno(rawValue: e).description }
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
