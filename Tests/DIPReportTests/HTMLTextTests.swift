import Testing
@testable import DIPReport

@Suite("HTML escaping")
struct HTMLTextTests {
    @Test("markup characters in user strings become inert text")
    func escapes() {
        #expect(HTMLText.escape("<script>alert('x') & \"y\"</script>")
                == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
    }
}
