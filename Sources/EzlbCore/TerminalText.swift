/// What reaches a terminal: names and values that come from configs, flags and state files
/// are shown with control characters (C0, DEL, C1) and invisible format characters (bidi
/// overrides and isolates, zero-width characters, line/paragraph separators) escaped, so a
/// crafted name cannot move the cursor, rewrite earlier lines or reorder what is shown. JSON
/// output needs none of this: its encoder escapes controls itself.
public enum TerminalText {
    /// True for a scalar that must not reach a terminal raw: Cc (controls), Cf (format:
    /// bidi, zero-width), Zl and Zp (line and paragraph separators).
    @inlinable public static func isUnsafe(_ u: Unicode.Scalar) -> Bool {
        if u.value < 0x20 || (0x7F...0x9F).contains(u.value) { return true }
        if u.isASCII { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: return true
        default: return false
        }
    }

    /// `s` with every unsafe scalar written as `\n`, `\r`, `\t`, `\xNN` or `\u{NNNN}`;
    /// `keepNewlines`: newlines stay (a multi-line body whose values were vetted).
    public static func escaped(_ s: String, keepNewlines: Bool = false) -> String {
        guard s.unicodeScalars.contains(where: { isUnsafe($0) && !(keepNewlines && $0 == "\n") }) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            guard isUnsafe(u), !(keepNewlines && u == "\n") else {
                out.append(u)
                continue
            }
            let text: String
            switch u {
            case "\n": text = "\\n"
            case "\r": text = "\\r"
            case "\t": text = "\\t"
            default:
                let hex = String(u.value, radix: 16)
                text = u.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{" + hex + "}"
            }
            out.append(contentsOf: text.unicodeScalars)
        }
        return String(out)
    }

    /// Escapes, in place, what `escaped(_:keepNewlines: true)` would in UTF-8 text that may
    /// also hold invalid bytes (shown as `\xNN`). Cheap when there is nothing to escape: one
    /// pass over the bytes, no copy.
    public static func escapeLines(_ bytes: inout [UInt8]) {
        guard bytes.contains(where: { $0 >= 0x80 || ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }) else { return }
        let s = String(decoding: bytes, as: UTF8.self) // invalid bytes become U+FFFD
        let e = escaped(s, keepNewlines: true)
        if e.utf8.count != bytes.count || !e.utf8.elementsEqual(bytes) { bytes = Array(e.utf8) }
    }

    /// Why `name` (a service name, an owner) is refused, or nil: names are shown in text
    /// output and logs, so they are 1 to `maxLength` printable characters.
    public static func nameProblem(_ name: String, maxLength: Int = 253) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > maxLength { return "longer than \(maxLength) bytes" }
        if let u = name.unicodeScalars.first(where: isUnsafe) {
            return "contains a control or invisible character (U+\(String(u.value, radix: 16, uppercase: true)))"
        }
        return nil
    }
}
