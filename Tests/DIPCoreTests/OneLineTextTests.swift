import DIPCore
import Testing

@Suite("One-line text: the rule for text masks' stamps and experiments' labels and groups")
struct OneLineTextTests {
    @Test("blank text and text that would break the line are refused; any other line, spaces and symbols included, is fine")
    func rule() {
        for text in ["", "   ", "\u{00A0}"] { #expect(OneLineText.problem(text) == .blank, "\(text.debugDescription)") }
        for text in ["a\nb", "a\r", "\tlr", "a\u{2028}b", "a\u{2029}", "a\u{85}b"] {
            #expect(OneLineText.problem(text) == .notOneLine, "\(text.debugDescription)")
        }
        for text in ["Image Corruption", " lr 0.01 ", "Adam, β = 0.9 ✓", "深度"] {
            #expect(OneLineText.problem(text) == nil, "\(text.debugDescription)")
        }
    }

    @Test("a text mask's stamp says which problem and what to give instead")
    func stampMessages() {
        #expect(TextStamp.textProblem("") == "is empty; give a string to draw")
        #expect(TextStamp.textProblem("  ")?.hasPrefix("is blank (spaces only)") == true)
        #expect(TextStamp.textProblem("a\u{2028}b")?.contains("give each line as its own --text") == true)
        #expect(TextStamp.textProblem("Image Corruption") == nil)
    }
}
