/// The rule for a text the tool lays out on one line: a text mask's stamp (drawn), an
/// experiment's label or group (shown on the page and in tables). Both once had rules of their
/// own that disagreed on blank text and on Unicode's line separators.
public enum OneLineText {
    /// What keeps a text off one line.
    public enum Problem: Sendable, Equatable {
        /// Empty, or spaces only: nothing to draw or read.
        case blank
        /// A line break (also U+2028 and U+2029, which are no control characters), a tab or
        /// another control character.
        case notOneLine
    }

    /// What is wrong with `text`, nil when nothing.
    public static func problem(_ text: String) -> Problem? {
        if text.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .spaceSeparator }) {
            return .blank
        }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) || text.contains(where: \.isNewline) {
            return .notOneLine
        }
        return nil
    }
}
