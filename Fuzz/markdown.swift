// libFuzzer target: the neutraliser of the report's sections 8 and 9 (UserMarkdown.html). On
// any text, the HTML may hold only the tags Ink writes, links to http(s)/mailto/anchors, and
// embedded pictures; it is compiled into this target with UserMarkdown.swift and HTMLText.swift.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMarkdown(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let html = UserMarkdown.html(text)
    let allowed: Set<String> = ["p", "em", "strong", "s", "del", "code", "pre", "ul", "ol", "li", "blockquote",
                                "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "h3", "h4", "h5",
                                "h6", "a", "img", "span"]
    for match in html.matches(of: /<\/?([A-Za-z][A-Za-z0-9]*)([^>]*)>?/) {
        let name = String(match.1).lowercased()
        guard allowed.contains(name) else { fatalError("tag <\(name)> reached the page from \(text.debugDescription)") }
        let attributes = String(match.2).lowercased()
        // Outside the quoted values: no event handler, no unquoted attribute.
        let bare = attributes.replacing(/"[^"]*"/, with: "\"\"")
        if bare.contains(" on") || bare.contains("<") {
            fatalError("unsafe attribute \(attributes) reached the page from \(text.debugDescription)")
        }
        for href in attributes.matches(of: /href="([^"]*)"/) {
            let url = String(href.1)
            guard ["http://", "https://", "mailto:", "#"].contains(where: { url.hasPrefix($0) }) else {
                fatalError("link to \(url) reached the page from \(text.debugDescription)")
            }
        }
        for src in attributes.matches(of: /src="([^"]*)"/) where !src.1.hasPrefix("data:image/") {
            fatalError("picture from \(src.1) reached the page from \(text.debugDescription)")
        }
    }
    return 0
}
