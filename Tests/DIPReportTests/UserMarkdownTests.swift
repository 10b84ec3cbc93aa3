import DIPCore
import DIPTestSupport
import Foundation
import Testing
@testable import DIPReport

@Suite("User Markdown")
struct UserMarkdownTests {
    @Test("Markdown formatting survives; headings move under the section's h2")
    func formatting() {
        let html = UserMarkdown.html("# Title\n\nSome **bold** and `code <b>` and a [link](https://example.org/?a=1&b=2).\n\n- one\n- two\n")
        #expect(html.contains("<h3>Title</h3>"))
        #expect(html.contains("<strong>bold</strong>"))
        #expect(html.contains("<code>code &lt;b&gt;</code>"))
        #expect(html.contains("<a href=\"https://example.org/?a=1&amp;b=2\" rel=\"noopener noreferrer\">link</a>"))
        #expect(html.contains("<ul><li>one</li><li>two</li></ul>"))
    }

    @Test("an underscore inside a word stays an underscore (Ink made snake_case_name 'snake<em>case</em>name'); emphasis by underscores and code keep theirs")
    func wordUnderscores() throws {
        let html = UserMarkdown.html("See snake_case_name, my__result_file.png and [the log](https://example.org/run_3/log_file.txt).\n\n"
                                     + "An _emphasised_ word, __strong__ text, `a_b` in code, and 2_000_000.\n")
        #expect(html.contains("See snake_case_name, my__result_file.png and "))
        #expect(html.contains("<a href=\"https://example.org/run_3/log_file.txt\" rel=\"noopener noreferrer\">the log</a>"))
        #expect(html.contains("An <em>emphasised</em> word, <strong>strong</strong> text, <code>a_b</code> in code, and 2_000_000."))
        #expect(!html.contains("\u{E004}"))
        // A picture file whose name has underscores inside words is found and embedded.
        let folder = TestFolder.path("markdown-underscores")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try PNGCodec.write(Image(channels: 1, height: 2, width: 2, pixels: [0, 1, 1, 0]), to: folder + "/psnr_curve_seed_0.png")
        var notes: [String] = []
        let page = UserMarkdown.html("![curve](psnr_curve_seed_0.png)", folder: folder, notes: &notes)
        #expect(notes.isEmpty && page.contains("<img src=\"data:image/png;base64,"), "\(notes)")
    }

    @Test("raw HTML, script links, event handlers and remote pictures cannot get through")
    func hostile() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "[click](javascript&#58;alert(1))",
            "[x](https://ok\"onmouseover=\"alert(1))",
            "![p](https://tracker.example/p.png)",
            "<div onclick=\"alert(1)\">hi</div>",
            "text <iframe src=\"https://evil\"></iframe>",
            "<a href=\"https://ok\" onclick=\"alert(1)\">x</a>",
        ]
        for attack in attacks {
            let html = UserMarkdown.html(attack)
            #expect(!html.contains("<script"), "\(attack) -> \(html)")
            #expect(!html.contains("<img src=\"x\"") && !html.contains("<img src=x"), "\(attack) -> \(html)")
            // Escaped text may show the attack; no live tag may carry it.
            #expect(html.matches(of: /<a [^>]*href="javascript/).isEmpty, "\(attack) -> \(html)")
            #expect(!html.contains("<iframe") && !html.contains("<div"), "\(attack) -> \(html)")
            #expect(html.matches(of: /<[a-z0-9]+[^>]*\son[a-z]+=/).isEmpty, "\(attack) -> \(html)")
            // Shown as text is fine ("&lt;iframe src=..."); no live tag may load a remote source.
            #expect(html.matches(of: /<[a-z]+[^<>]*src="https:/).isEmpty, "\(attack) -> \(html)")
        }
    }

    @Test("embedded PNG pictures are kept")
    func dataImages() {
        let html = UserMarkdown.html("![plot](data:image/png;base64,iVBORw0KGgo=)")
        #expect(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"plot\">"))
    }

    /// A new temporary folder holding `figs/my plot.png` (a 3x2 gray PNG), and that picture as
    /// the data URL the page embeds. The caller removes the folder.
    static func folderWithPicture(_ name: String) throws -> (dir: String, embedded: String) {
        let dir = TestFolder.path("usermd-\(name)")
        try FileManager.default.createDirectory(atPath: dir + "/figs", withIntermediateDirectories: true)
        try PNGCodec.write(Image(channels: 1, height: 2, width: 3, pixels: [0, 0.5, 1, 1, 0.5, 0]), to: dir + "/figs/my plot.png")
        let embedded = "data:image/png;base64,\(try Data(contentsOf: URL(fileURLWithPath: dir + "/figs/my plot.png")).base64EncodedString())"
        return (dir, embedded)
    }

    @Test("a picture file the Markdown names (from its folder, absolute or file://) is embedded; one that cannot be is named in a note")
    func localPictures() throws {
        let (dir, embedded) = try Self.folderWithPicture("pictures")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "not a picture".write(toFile: dir + "/notes.png", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: dir + "/figs/my plot.png", toPath: dir + "/plot[1].png")
        var notes: [String] = []
        let html = UserMarkdown.html("""
            ![mine](figs/my%20plot.png) ![again](file://\(dir)/figs/my%20plot.png) ![bracket](plot[1].png)

            ![gone](figs/nope.png) ![web](https://example.org/x.png) ![text](notes.png)
            """, folder: dir, notes: &notes)
        #expect(html.components(separatedBy: "<img src=\"\(embedded)\"").count == 4, "\(html)")
        #expect(html.contains("[picture not embedded: figs/nope.png]") && !html.contains("src=\"https:"), "\(html)")
        #expect(notes.count == 3, "\(notes)")
        #expect(notes.contains { $0.contains("figs/nope.png not embedded: no such file \(dir)/figs/nope.png (a relative path starts at the Markdown file's folder)") }, "\(notes)")
        #expect(notes.contains { $0.contains("https://example.org/x.png not embedded: a remote picture is not loaded") }, "\(notes)")
        #expect(notes.contains { $0.contains("notes.png is not a PNG, JPEG, GIF or WebP picture") }, "\(notes)")
    }

    @Test("a link's or picture's title and a <target with spaces> keep the link and the picture (the link vanished, the picture showed as text)")
    func titlesAndAngleTargets() throws {
        let (dir, embedded) = try Self.folderWithPicture("titles")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var notes: [String] = []
        let html = UserMarkdown.html("""
            See [the paper](https://arxiv.org/abs/1711.10925 "DIP's \"paper\" & <more>"), [two](<https://a.b/c d> 'x') and [three](https://e.f (y)).
            ![Kate](<figs/my plot.png> "Kate, final") ![bad](javascript:alert(1) "t") [worse](javascript:alert(1) "t")
            """, folder: dir, notes: &notes)
        #expect(html.contains("<a href=\"https://arxiv.org/abs/1711.10925\" title=\"DIP&#39;s &quot;paper&quot; &amp; &lt;more&gt;\" rel=\"noopener noreferrer\">the paper</a>"), "\(html)")
        #expect(html.contains("<a href=\"https://a.b/c%20d\" title=\"x\" rel=\"noopener noreferrer\">two</a>"), "\(html)")
        #expect(html.contains("<a href=\"https://e.f\" title=\"y\" rel=\"noopener noreferrer\">three</a>"), "\(html)")
        #expect(html.contains("<img src=\"\(embedded)\" alt=\"Kate\" title=\"Kate, final\">"), "\(html)")
        #expect(!html.contains("=\"javascript") && html.contains("[picture not embedded: javascript:alert(1)]</span> worse</p>"), "\(html)")
        #expect(notes.count == 1 && notes[0].contains("javascript:alert(1) not embedded"), "\(notes)")
    }

    @Test("a PNG cut short or declaring more pixels than a browser shows is named in a note, not embedded as a broken picture")
    func brokenPictures() throws {
        let dir = TestFolder.path("usermd-broken")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try PNGCodec.write(Image(channels: 1, height: 2, width: 3, pixels: [0, 0.5, 1, 1, 0.5, 0]), to: dir + "/good.png")
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/good.png")))
        try Data(good.dropLast(20)).write(to: URL(fileURLWithPath: dir + "/cut.png"))
        var huge = good
        huge.replaceSubrange(16..<24, with: [0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20])  // 20000 x 20000
        try Data(huge).write(to: URL(fileURLWithPath: dir + "/huge.png"))
        var notes: [String] = []
        let html = UserMarkdown.html("![a](good.png) ![b](cut.png) ![c](huge.png)", folder: dir, notes: &notes)
        #expect(html.components(separatedBy: "<img ").count == 2, "\(html)")
        #expect(notes.count == 2 && notes[0].contains("cut.png is cut short (no IEND chunk at its end)")
                && notes[1].contains("huge.png declares 20000x20000 pixels, which no browser shows"), "\(notes)")
    }

    @Test("an inline tag or prose about a tag leaves the Markdown after it intact (issue 11.14)")
    func tagsInProse() {
        for line in ["a <b>tag", "the <script> tag", "<div>", "x </p> y"] {
            let html = UserMarkdown.html("\(line)\n\n- **one**\n- [two](https://example.org)\n\nlast paragraph\n")
            #expect(html.contains("<ul><li><strong>one</strong></li>"), "\(line) -> \(html)")
            #expect(html.contains("<a href=\"https://example.org\" rel=\"noopener noreferrer\">two</a>"), "\(line) -> \(html)")
            #expect(html.contains("<p>last paragraph</p>"), "\(line) -> \(html)")
            #expect(html.contains("&lt;"), "\(line) -> \(html)")
            #expect(!html.contains("<script") && !html.contains("<div") && !html.contains("<b>"), "\(line) -> \(html)")
        }
    }

    @Test("an unsafe link keeps its text and shows no markup (issue 11.14)")
    func unsafeLinkText() {
        let html = UserMarkdown.html("see [click here](javascript:alert(1)) now")
        #expect(html.contains("see click here now"), "\(html)")
        #expect(!html.contains("href") && !html.contains("&lt;a") && !html.contains("</a>"), "\(html)")
    }

    @Test("a link target or picture text holding > or \" stays inside its tag; NUL is replaced (an audit saw 'y\">' and 'alert(1)' leak as text)")
    func quotesAndAngles() {
        #expect(UserMarkdown.html("[lt](https://a.com/<x>y)") == "<p><a href=\"https://a.com/&lt;x&gt;y\" rel=\"noopener noreferrer\">lt</a></p>")
        #expect(UserMarkdown.html("[x](data:text/html,<script>alert(1)</script>)") == "<p>x</p>")
        #expect(UserMarkdown.html("![a\"b](data:image/png;base64,AAAA)") == "<img src=\"data:image/png;base64,AAAA\" alt=\"a&quot;b\">")
        #expect(UserMarkdown.html("a\u{0}b") == "<p>a\u{FFFD}b</p>")
        // Blockquote markers still open a quote; a > inside the line is text.
        #expect(UserMarkdown.html("> a > b") == "<blockquote><p>a &gt; b</p></blockquote>")
    }

    @Test("a dangling link or a folder in place of discussion.md is refused, never replaced (issue 11.8)")
    func specialFiles() throws {
        let dir = TestFolder.path("usermd")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/discussion.md"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir + "/elsewhere/discussion.md")
        #expect(throws: (any Error).self) { try UserMarkdown.readOrCreate(link, placeholder: "placeholder") }
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == dir + "/elsewhere/discussion.md")
        do {
            _ = try UserMarkdown.readOrCreate(link, placeholder: "placeholder")
        } catch {
            #expect("\(error)".contains("does not exist"), "\(error)")
        }
        let folder = dir + "/conclusion.md"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        do {
            _ = try UserMarkdown.readOrCreate(folder, placeholder: "placeholder")
            Issue.record("a folder was read as Markdown")
        } catch {
            #expect("\(error)".contains("is a folder"), "\(error)")
        }
        // A link to a file that exists is read through.
        try "mine".write(toFile: dir + "/real.md", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/other.md", withDestinationPath: dir + "/real.md")
        #expect(try UserMarkdown.readOrCreate(dir + "/other.md", placeholder: "placeholder").text == "mine")
    }

    @Test("links, references and brackets as text survive the bracket guard")
    func brackets() {
        let html = UserMarkdown.html("""
            A [link](https://example.org/a_(b)), ![p](data:image/png;base64,iVBORw0KGgo=), a [ref][r], \
            [plain] text, `a[i]`, [[inner](https://example.org/i)] and [unclosed.

            [r]: https://example.org/r
            """)
        #expect(html.contains("<a href=\"https://example.org/a_(b)\" rel=\"noopener noreferrer\">link</a>"), "\(html)")
        #expect(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"p\">"), "\(html)")
        #expect(html.contains("<a href=\"https://example.org/r\" rel=\"noopener noreferrer\">ref</a>"), "\(html)")
        #expect(html.contains("[plain] text") && html.contains("<code>a[i]</code>") && html.contains("[unclosed."), "\(html)")
        #expect(html.contains("[<a href=\"https://example.org/i\" rel=\"noopener noreferrer\">inner</a>]"), "\(html)")
    }

    @Test("fuzz regressions: inputs that once hung or crashed the neutraliser render",
          arguments: try FileManager.default.contentsOfDirectory(atPath: fuzzFixtures).sorted())
    func fuzzRegressions(name: String) throws {
        // As the fuzz target reads its bytes: invalid UTF-8 becomes U+FFFD.
        let data = try Data(contentsOf: URL(fileURLWithPath: fuzzFixtures + "/" + name))
        let text = String(decoding: data, as: UTF8.self)
        let html = UserMarkdown.html(text)
        #expect(!html.isEmpty)
        #expect(html.matches(of: /<[a-z]+[^<>]*src="https:/).isEmpty)
        #expect(!html.contains("<script") && !html.contains("<b>"))
    }
}

/// Inputs found by Fuzz/markdown.swift (docs/fuzzing.md).
private let fuzzFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fuzz").path
