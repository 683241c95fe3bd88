/// Byte-level rendering of the xfrm model for reports of thousands of objects: the same
/// text the types' `description`s print (and `XfrmFormat.hex`), without a `String` per
/// piece. `xfrm sync` of 3,000 policies spent more instructions formatting its report
/// (interpolated descriptions, a `[String: JSONValue]` per action) than on everything else.
extension ByteText {
    /// `XfrmFormat.hex`: `0x` and at least eight lower-case hex digits.
    @inlinable public mutating func append(hex v: UInt32) {
        let digits: StaticString = "0123456789abcdef"
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "x"))
        var shift: UInt32 = 28
        while true {
            bytes.append(digits.utf8Start[Int((v >> shift) & 0xf)])
            if shift == 0 { break }
            shift -= 4
        }
    }

    /// `XfrmPrefix.description`: `10.0.0.0/24`.
    @inlinable public mutating func append(_ p: XfrmPrefix) {
        append(p.address)
        bytes.append(UInt8(ascii: "/"))
        append(decimal: p.length)
    }

    /// ` other` when there is one (the part of a selector, template or policy ezlb does not model).
    mutating func append(spaced other: String?) {
        guard let o = other else { return }
        bytes.append(UInt8(ascii: " "))
        append(o)
    }

    /// `XfrmSelector.description`.
    public mutating func append(_ s: XfrmSelector) {
        append("src " as StaticString)
        append(s.src)
        append(" dst " as StaticString)
        append(s.dst)
        append(spaced: s.other)
    }

    /// `XfrmTemplate.description`.
    public mutating func append(_ t: XfrmTemplate) {
        append("tmpl src " as StaticString)
        append(t.src)
        append(" dst " as StaticString)
        append(t.dst)
        append(" proto esp reqid " as StaticString)
        append(hex: t.reqid)
        append(" mode tunnel" as StaticString)
        append(spaced: t.other)
    }

    /// `XfrmPolicy.description`.
    public mutating func append(_ p: XfrmPolicy) {
        append(p.selector)
        append(" dir " as StaticString)
        append(p.dir.rawValue)
        append(" priority " as StaticString)
        append(decimal: p.priority)
        append(spaced: p.other)
        for t in p.templates {
            bytes.append(UInt8(ascii: " "))
            append(t)
        }
    }

    /// `XfrmStateID.description`.
    public mutating func append(_ id: XfrmStateID) {
        append("src " as StaticString)
        append(id.src)
        append(" dst " as StaticString)
        append(id.dst)
        if id.proto == 50 {
            append(" proto esp spi " as StaticString)
        } else {
            append(" proto " as StaticString)
            append(decimal: id.proto)
            append(" spi " as StaticString)
        }
        append(hex: id.spi)
    }

    /// A string value that needs no escaping (an address, a prefix): `"…"`.
    @inlinable mutating func appendQuoted(_ p: XfrmPrefix) {
        bytes.append(UInt8(ascii: "\""))
        append(p)
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable mutating func appendQuoted(_ a: IPAddress) {
        bytes.append(UInt8(ascii: "\""))
        append(a)
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable mutating func appendQuoted(hex v: UInt32) {
        bytes.append(UInt8(ascii: "\""))
        append(hex: v)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The JSON object `XfrmPlanner.policyJSON` builds, rendered directly (keys sorted, same bytes).
    public mutating func appendJSON(_ p: XfrmPolicy) {
        append("{\"dir\":\"" as StaticString)
        append(p.dir.rawValue)
        append("\",\"dst\":" as StaticString)
        appendQuoted(p.selector.dst)
        if let x = p.other ?? p.selector.other {
            append(",\"other\":" as StaticString)
            appendJSONString(x)
        }
        append(",\"priority\":" as StaticString)
        append(decimal: p.priority)
        append(",\"src\":" as StaticString)
        appendQuoted(p.selector.src)
        append(",\"templates\":[" as StaticString)
        for (i, t) in p.templates.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            append("{\"dst\":" as StaticString)
            appendQuoted(t.dst)
            append(",\"mode\":\"tunnel\",\"proto\":\"esp\",\"reqid\":" as StaticString)
            appendQuoted(hex: t.reqid)
            append(",\"src\":" as StaticString)
            appendQuoted(t.src)
            bytes.append(UInt8(ascii: "}"))
        }
        append("]}" as StaticString)
    }

    /// The JSON object `XfrmPlanner.stateJSON` builds (no key, only its length), rendered directly.
    public mutating func appendJSON(_ s: XfrmState) {
        append("{\"aead\":" as StaticString)
        appendJSONString(s.aead)
        append(",\"dst\":" as StaticString)
        appendQuoted(s.id.dst)
        append(",\"icv_bits\":" as StaticString)
        append(decimal: s.icvBits)
        append(",\"key_bits\":" as StaticString)
        append(decimal: s.key.bytes.count * 8)
        append(",\"mode\":\"tunnel\"" as StaticString)
        if let x = s.other {
            append(",\"other\":" as StaticString)
            appendJSONString(x)
        }
        if s.id.proto == 50 {
            append(",\"proto\":\"esp\"" as StaticString)
        } else {
            append(",\"proto\":\"" as StaticString)
            append(decimal: s.id.proto)
            bytes.append(UInt8(ascii: "\""))
        }
        append(",\"replay_window\":" as StaticString)
        append(decimal: s.replayWindow)
        append(",\"reqid\":" as StaticString)
        appendQuoted(hex: s.reqid)
        append(",\"spi\":" as StaticString)
        appendQuoted(hex: s.id.spi)
        append(",\"src\":" as StaticString)
        appendQuoted(s.id.src)
        bytes.append(UInt8(ascii: "}"))
    }
}
