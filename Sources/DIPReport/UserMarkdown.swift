import DIPCore
import Foundation
import Ink

/// The Markdown files the authors write (Discussion and Conclusion): created with placeholder
/// text on the first build, never overwritten, and rendered to HTML that cannot run script.
///
/// Ink passes raw HTML through, so the output goes through two guards: every `<` the user typed
/// is shown as text (Ink never sees it), and the final HTML keeps only the tags Ink itself writes,
/// with links limited to http(s), mailto and in-page anchors and images to PNG, JPEG, GIF or WebP
/// data embedded in the page, typed so or read from a local file (the page must work offline,
/// so remote pictures are not loaded).
/// Headings move down two levels (# becomes h3) to sit under the section's own h2.
enum UserMarkdown {
    /// Reads `path`, first writing `placeholder` there when the file does not exist. Returns the
    /// file's text and whether it was created now.
    static func readOrCreate(_ path: String, placeholder: String) throws -> (text: String, created: Bool) {
        var info = stat()
        if lstat(path, &info) == 0 {
            // The placeholder must never replace what a link points to (the user's text may be
            // there, on a disk not mounted now) or a folder.
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
                var targetInfo = stat()
                if stat(path, &targetInfo) != 0 {
                    throw DIPError.io(path: path, reason: "is a symbolic link to \(target), which does not exist; your text may be there: restore it (or remove the link to start from the placeholder)")
                }
                if targetInfo.st_mode & S_IFMT == S_IFDIR {
                    throw DIPError.io(path: path, reason: "is a symbolic link to the folder \(target), not to a Markdown file; point it at a file")
                }
            case S_IFDIR:
                throw DIPError.io(path: path, reason: "is a folder, not a Markdown file; move it away (a placeholder file is then written in its place)")
            default:
                break
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DIPError.io(path: path, reason: "cannot read it (check its permissions)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw DIPError.badFile(path: path, reason: "is not UTF-8 text; save it as UTF-8 Markdown")
            }
            return (text, false)
        }
        try AtomicFile.write(Data(placeholder.utf8), to: path)
        return (placeholder, true)
    }

    /// The most Markdown a section takes, in bytes: Ink turns about a MB into HTML in 9 s, and
    /// a 23.6 MB file had not rendered after two minutes and 1.1 GB (a paper's discussion is
    /// tens of KB; pictures are files beside it, not text).
    static let maxBytes = 2_000_000

    /// Stands in for every `<` of the user's text while Ink parses it, so Ink never sees raw
    /// HTML: an HTML block would swallow the Markdown after it (a lone `<b>` turned the rest of
    /// the file into one raw paragraph). A private-use character no Markdown construct uses.
    private static let lessThan: Character = "\u{E000}"

    /// Stands in for a `[` that cannot start a link, for the same reason: Ink tries every `[` as
    /// a link and, failing, tries the next one inside it again, so a run of unmatched or nested
    /// brackets takes exponential time (70 of them never finished; found by Fuzz/markdown.swift).
    private static let openBracket: Character = "\u{E001}"

    /// Stand in for `>` (except the blockquote markers that open a line) and for every `"`,
    /// for the same reason as `lessThan`: Ink copies a link's target into `href="..."` as typed,
    /// so a `>` or `"` in it ended the tag early and the rest of the target leaked into the page
    /// as text. Shown as `&gt;` and `&quot;` at the end, inside attributes as in text.
    private static let greaterThan: Character = "\u{E002}"
    private static let quote: Character = "\u{E003}"

    /// Stands in for an underscore inside a word (`snake_case_name`, `my_result_file.png`),
    /// which Ink takes for emphasis (`snake<em>case</em>name`) where CommonMark does not: an
    /// underscore between two letters or digits neither opens nor closes emphasis.
    private static let wordUnderscore: Character = "\u{E004}"

    /// The user's text as Ink should see it: `<`, `"` and `>` outside a line's leading
    /// blockquote markers, and underscores inside words, replaced by their stand-ins; the
    /// stand-ins themselves, typed, and NUL (not allowed in HTML text) as U+FFFD.
    static func standIns(_ text: String) -> [Character] {
        var out: [Character] = []
        out.reserveCapacity(text.count)
        var lineStart = true
        for c in text {
            switch c {
            case "<": out.append(lessThan)
            case "\"": out.append(quote)
            case ">": out.append(lineStart ? ">" : greaterThan)
            case lessThan, greaterThan, quote, openBracket, wordUnderscore, "\0": out.append("\u{FFFD}")
            default: out.append(c)
            }
            if c.isNewline { lineStart = true } else if c != " " && c != "\t" && c != ">" { lineStart = false }
        }
        // Runs of underscores with a letter or digit on both sides.
        var i = 0
        while i < out.count {
            guard out[i] == "_" else { i += 1; continue }
            var j = i
            while j < out.count && out[j] == "_" { j += 1 }
            if i > 0, j < out.count, out[i - 1].isLetter || out[i - 1].isNumber, out[j].isLetter || out[j].isNumber {
                for k in i..<j { out[k] = wordUnderscore }
            }
            i = j
        }
        return out
    }

    /// How far a link's text or target may reach, in characters; a `[` whose `]` or `)` lies
    /// further is shown as text. It bounds the scan, so the whole guard is linear.
    private static let linkReach = 4000

    /// Safe HTML for the Markdown `text`: every `<`, `>` and `"` the user typed is shown as text, the
    /// Markdown around it keeps its meaning, and links Ink writes that are not safe lose their
    /// tag but keep their text. Pictures are embedded (`embeddedPicture`), files found from
    /// `folder` (the Markdown file's); `notes` says which could not be, and why.
    static func html(_ text: String, folder: String? = nil, notes: inout [String]) -> String {
        let guarded = guardBrackets(standIns(text))
        return sanitise(MarkdownParser().html(from: String(guarded)), folder: folder, notes: &notes)
            .replacingOccurrences(of: String(lessThan), with: "&lt;")
            .replacingOccurrences(of: String(greaterThan), with: "&gt;")
            .replacingOccurrences(of: String(quote), with: "&quot;")
            .replacingOccurrences(of: String(openBracket), with: "[")
            .replacingOccurrences(of: String(wordUnderscore), with: "_")
    }

    /// `html(_:folder:notes:)` with picture paths from the working folder, and no notes.
    static func html(_ text: String) -> String {
        var notes: [String] = []
        return html(text, notes: &notes)
    }

    /// The largest picture file embedded: the page carries it as base64, a third larger.
    static let maxPictureBytes = 20 * 1_048_576

    /// A picture's `src` as the page can carry it: embedded data as it is, a picture file (a
    /// path from `folder`, absolute, or a `file://` URL) read and embedded when it is a PNG,
    /// JPEG, GIF or WebP of at most `maxPictureBytes`. Otherwise nil, and why not.
    static func embeddedPicture(_ src: String, folder: String?) -> (url: String?, problem: String?) {
        if src.wholeMatch(of: /data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+\/=]+/) != nil { return (src, nil) }
        let lower = src.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("//") {
            return (nil, "a remote picture is not loaded (the page works offline); save it and give its path")
        }
        if lower.hasPrefix("data:") { return (nil, "embedded data that is not a base64 PNG, JPEG, GIF or WebP picture") }
        var path = src
        if lower.hasPrefix("file://") {
            path = String(src.dropFirst("file://".count))
            if path.lowercased().hasPrefix("localhost/") { path = String(path.dropFirst("localhost".count)) }
        }
        if !FileManager.default.fileExists(atPath: resolved(path, folder)), let decoded = path.removingPercentEncoding { path = decoded }
        let file = resolved(path, folder)
        var info = stat()
        guard stat(file, &info) == 0 else {
            return (nil, "no such file \(file)" + (path.hasPrefix("/") ? "" : " (a relative path starts at the Markdown file's folder)"))
        }
        guard info.st_mode & S_IFMT == S_IFREG else { return (nil, "\(file) is not a file") }
        guard Int(info.st_size) <= maxPictureBytes else {
            return (nil, "\(file) is larger than \(maxPictureBytes / 1_048_576) MB; save a smaller copy")
        }
        guard let data = FileManager.default.contents(atPath: file) else { return (nil, "cannot read \(file) (check its permissions)") }
        guard let type = pictureType(Array(data.prefix(12))) else {
            return (nil, "\(file) is not a PNG, JPEG, GIF or WebP picture")
        }
        if type == "png", let problem = pngProblem([UInt8](data)) { return (nil, "\(file) \(problem)") }
        return ("data:image/\(type);base64,\(data.base64EncodedString())", nil)
    }

    /// The most pixels a PNG picture may declare: a browser shows none of a larger one (a
    /// 20000x20000 header on a small file was embedded and showed as a broken picture).
    static let maxPicturePixels = 100_000_000

    /// Why a PNG would show as a broken picture (cut short, or declaring a size no browser
    /// shows), nil when its header and end are whole.
    static func pngProblem(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 33, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return "is a damaged PNG (no header); save it again" }
        func word(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        let width = word(16), height = word(20)
        if width == 0 || height == 0 || width * height > maxPicturePixels {
            return "declares \(width)x\(height) pixels, which no browser shows; save a smaller copy"
        }
        guard Array(bytes.suffix(8).prefix(4)) == Array("IEND".utf8) else { return "is cut short (no IEND chunk at its end); save it again" }
        return nil
    }

    /// `path` as given when absolute, else from `folder`.
    private static func resolved(_ path: String, _ folder: String?) -> String {
        guard !path.hasPrefix("/"), let folder else { return path }
        return (folder as NSString).appendingPathComponent(path)
    }

    /// The picture type a file's first bytes say, as a data URL names it.
    private static func pictureType(_ head: [UInt8]) -> String? {
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "png" }
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpeg" }
        if head.starts(with: Array("GIF8".utf8)) { return "gif" }
        if head.count >= 12, head.starts(with: Array("RIFF".utf8)), Array(head[8..<12]) == Array("WEBP".utf8) { return "webp" }
        return nil
    }

    /// `chars` with every `[` that cannot open a link replaced by `openBracket`. A `[` stays when
    /// its `]` follows within `linkReach` with no `[` between (so links never nest) and the `]`
    /// is followed by a `(...)` closed on the same line, by a `[reference]`, or by `:` (a
    /// reference definition).
    static func guardBrackets(_ chars: [Character]) -> [Character] {
        var out = chars
        var reference = -1  // the `[` of a kept link's `[reference]`
        for i in chars.indices where chars[i] == "[" && i != reference {
            let end = min(chars.count, i + 1 + linkReach)
            var j = i + 1
            while j < end && chars[j] != "]" && chars[j] != "[" { j += 1 }
            guard j < end, chars[j] == "]", j + 1 < chars.count else {
                out[i] = openBracket
                continue
            }
            switch chars[j + 1] {
            case "(":
                var depth = 0, k = j + 2, closed = false
                while k < min(chars.count, j + 2 + linkReach) && !chars[k].isNewline {
                    if chars[k] == "(" { depth += 1 }
                    if chars[k] == ")" {
                        if depth == 0 { closed = true; break }
                        depth -= 1
                    }
                    k += 1
                }
                if !closed { out[i] = openBracket }
            case "[":
                var k = j + 2
                while k < min(chars.count, j + 2 + linkReach) && chars[k] != "]" && !chars[k].isNewline { k += 1 }
                if k < chars.count && chars[k] == "]" { reference = j + 1 } else { out[i] = openBracket }
            case ":":
                break
            default:
                out[i] = openBracket
            }
        }
        return out
    }

    /// Keeps the tags of `allowedTags` (exactly as Ink writes them) and turns every other `<`
    /// into `&lt;`, so no element, attribute or script from user text reaches the page.
    static func sanitise(_ html: String, folder: String? = nil, notes: inout [String]) -> String {
        var out = ""
        out.reserveCapacity(html.utf8.count)
        var rest = Substring(html)
        var droppedLinks = 0
        while let lt = rest.firstIndex(of: "<") {
            out += rest[..<lt]
            rest = rest[lt...]
            if let (tag, length) = allowedTag(at: rest, folder: folder, notes: &notes) {
                if tag == "</a>" && droppedLinks > 0 {
                    droppedLinks -= 1
                } else {
                    out += tag
                }
                rest = rest.dropFirst(length)
            } else if rest.hasPrefix("<a "), let gt = rest.firstIndex(of: ">") {
                // A link Ink wrote to an unsafe target (javascript:, data:, ...): keep its text.
                droppedLinks += 1
                rest = rest[rest.index(after: gt)...]
            } else {
                out += "&lt;"
                rest = rest.dropFirst()
            }
        }
        out += rest
        return out
    }

    /// Tags without attributes that Ink writes.
    private static let plainTags: Set<String> = ["p", "em", "strong", "s", "del", "code", "pre", "ul", "ol", "li",
                                                 "blockquote", "table", "thead", "tbody", "tr", "th", "td",
                                                 "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "a"]

    /// The tag starting at `s` when it is allowed: its safe rewrite and its length in characters.
    private static func allowedTag(at s: Substring, folder: String?, notes: inout [String]) -> (String, Int)? {
        guard let gt = s.firstIndex(of: ">") else { return nil }
        let tag = s[s.startIndex...gt]
        let body = tag.dropFirst().dropLast()
        let length = tag.count
        let closing = body.hasPrefix("/")
        let name = String(closing ? body.dropFirst() : body)
        if plainTags.contains(name) {
            // The links' opening tag always carries an href; a bare <a> is harmless but useless.
            if name == "a" && !closing { return nil }
            return (closing ? "</\(shift(name))>" : "<\(shift(name))>", length)
        }
        if closing { return nil }
        if let m = name.wholeMatch(of: /ol start="([0-9]{1,9})"/) { return ("<ol start=\"\(m.1)\">", length) }
        if let m = name.wholeMatch(of: /(th|td) align="(left|right|center)"/) { return ("<\(m.1) align=\"\(m.2)\">", length) }
        if let m = name.wholeMatch(of: /code class="language-([A-Za-z0-9_+-]{1,40})"/) { return ("<code class=\"language-\(m.1)\">", length) }
        if let m = name.wholeMatch(of: /a href="([^"<>]*)"/), let target = destination(m.1),
           let url = safeLink(target.address.replacingOccurrences(of: " ", with: "%20")) {
            return ("<a href=\"\(url)\"\(titleAttribute(target.title)) rel=\"noopener noreferrer\">", length)
        }
        if let m = name.wholeMatch(of: /img src="([^"<>]*)"(?: alt="([^"<>]*)")?\//), let target = destination(m.1) {
            let alt = m.2.map { " alt=\"\($0)\"" } ?? ""
            // Ink writes the target as typed, with the stand-ins of what the user typed as <, >, ", [ and _.
            let typed = target.address.replacingOccurrences(of: String(lessThan), with: "<").replacingOccurrences(of: String(greaterThan), with: ">")
                .replacingOccurrences(of: String(quote), with: "\"").replacingOccurrences(of: String(openBracket), with: "[")
                .replacingOccurrences(of: String(wordUnderscore), with: "_")
            let picture = embeddedPicture(typed, folder: folder)
            if let url = picture.url { return ("<img src=\"\(url)\"\(alt)\(titleAttribute(target.title))>", length) }
            notes.append("picture \(typed) not embedded: \(picture.problem ?? "")")
            return ("<span class=\"omitted\">[picture not embedded: \(HTMLText.escape(target.address))]</span>", length)
        }
        return nil
    }

    /// A link's or picture's target as Ink writes it (everything between the parentheses, as
    /// typed): `address`, `<address with spaces>`, either followed by a title in `"..."`,
    /// `'...'` or `(...)`. The address and the title; nil for anything else. (Ink keeps the
    /// title inside the target, where it made the link vanish and the picture show as text.)
    static func destination(_ written: Substring) -> (address: String, title: String?)? {
        var rest = written.drop { $0 == " " }
        let address: Substring
        if rest.first == lessThan {
            guard let end = rest.firstIndex(of: greaterThan) else { return nil }
            address = rest[rest.index(after: rest.startIndex)..<end]
            rest = rest[rest.index(after: end)...]
        } else {
            let end = rest.firstIndex(where: \.isWhitespace) ?? rest.endIndex
            address = rest[..<end]
            rest = rest[end...]
        }
        let title = rest.trimmingCharacters(in: .whitespaces)
        guard !title.isEmpty else { return (String(address), nil) }
        guard title.count >= 2, let first = title.first, let last = title.last,
              (first == quote && last == quote) || (first == "'" && last == "'") || (first == "(" && last == ")") else { return nil }
        return (String(address), String(title.dropFirst().dropLast()))
    }

    /// ` title="..."` for a target's title, nothing without one.
    private static func titleAttribute(_ title: String?) -> String {
        title.map { " title=\"\(HTMLText.escape($0))\"" } ?? ""
    }

    /// A link target allowed in the page: http(s) or mailto with no entity that could hide a
    /// scheme, or an in-page anchor; `&` is written as `&amp;`.
    static func safeLink(_ url: String) -> String? {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") || lower.hasPrefix("mailto:")
              || lower.hasPrefix("#") else { return nil }
        return url.replacingOccurrences(of: "&", with: "&amp;")
    }

    /// Headings two levels down (h1 -> h3, capped at h6); other tags unchanged.
    private static func shift(_ name: String) -> String {
        guard name.count == 2, name.first == "h", let level = Int(String(name.last!)) else { return name }
        return "h\(min(6, level + 2))"
    }
}
