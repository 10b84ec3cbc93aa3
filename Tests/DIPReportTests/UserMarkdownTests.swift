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
            #expect(!html.contains("src=\"https://"), "\(attack) -> \(html)")
        }
    }

    @Test("embedded PNG pictures are kept")
    func dataImages() {
        let html = UserMarkdown.html("![plot](data:image/png;base64,iVBORw0KGgo=)")
        #expect(html.contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"plot\">"))
    }
}
