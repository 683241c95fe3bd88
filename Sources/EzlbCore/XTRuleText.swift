extension XTRule {
    /// `saveArguments`, written into `w` without a `String` per part (reports
    /// of tens of thousands of rules). Must print exactly what `saveArguments`
    /// prints; `XTRuleTextTests` checks that, and that no field was added to
    /// `XTRule` since (a new field must be printed here too).
    public func writeSaveArguments(into w: inout ByteText) {
        if case .other(let text) = target { return w.append(text) }
        let start = w.bytes.count
        func sep() { if w.bytes.count > start { w.bytes.append(UInt8(ascii: " ")) } }
        func prefix(_ p: XTPrefix) {
            w.append(p.address)
            w.bytes.append(UInt8(ascii: "/"))
            w.append(decimal: p.length)
        }
        if let s = source { sep(); w.append("-s " as StaticString); prefix(s) }
        if let d = destination { sep(); w.append("-d " as StaticString); prefix(d) }
        // iptables-save order: -s -d -i -o -p (as saveArguments).
        if let i = inInterface { sep(); w.append(i.save("i")) }
        if let o = outInterface { sep(); w.append(o.save("o")) }
        if let pr = proto {
            sep(); w.append("-p " as StaticString); w.append(pr.rawValue)
            if sourcePort != nil || destinationPort != nil {
                w.append(" -m " as StaticString); w.append(pr.rawValue)
                if let sp = sourcePort { w.append(" --sport " as StaticString); w.append(decimal: sp) }
                if let dp = destinationPort { w.append(" --dport " as StaticString); w.append(decimal: dp) }
            }
        }
        if ctstate != nil || ctOrigin != nil {
            sep(); w.append("-m conntrack" as StaticString)
            if let ct = ctstate { w.append(" --ctstate " as StaticString); w.append(ct.names.joined(separator: ",")) }
            if let o = ctOrigin {
                if let p = o.proto { w.append(" --ctproto " as StaticString); w.append(decimal: p.number) }
                if let a = o.address { w.append(" --ctorigdst " as StaticString); w.append(a) }
                if let p = o.port { w.append(" --ctorigdstport " as StaticString); w.append(decimal: p) }
            }
        }
        if let mk = mark { sep(); w.append("-m mark --mark " as StaticString); w.append(mk.description) }
        if let c = comment { sep(); w.append("-m comment --comment " as StaticString); Self.writeSaveString(c, into: &w) }
        switch target {
        case .accept: sep(); w.append("-j ACCEPT" as StaticString)
        case .drop: sep(); w.append("-j DROP" as StaticString)
        case .return: sep(); w.append("-j RETURN" as StaticString)
        case .jump(let c): sep(); w.append("-j " as StaticString); w.append(c)
        case .snat(let a): sep(); w.append("-j SNAT --to-source " as StaticString); w.append(a)
        case .masquerade: sep(); w.append("-j MASQUERADE" as StaticString)
        case .other: break
        }
    }

    /// `saveString(s)`, written into `w`.
    static func writeSaveString(_ s: String, into w: inout ByteText) {
        let utf8 = s.utf8
        let bare = !utf8.isEmpty && utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
        if bare { return w.append(s) }
        w.bytes.append(UInt8(ascii: "\""))
        for c in utf8 {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "'") { w.bytes.append(UInt8(ascii: "\\")) }
            w.bytes.append(c)
        }
        w.bytes.append(UInt8(ascii: "\""))
    }
}
