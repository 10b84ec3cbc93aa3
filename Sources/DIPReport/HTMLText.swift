/// Escaping for text placed in HTML. Templates escape by default (swift-mustache); this is
/// for the few strings the report assembles in code (table cells, figure captions).
enum HTMLText {
    /// `text` with &, <, >, " and ' replaced by character references.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}
