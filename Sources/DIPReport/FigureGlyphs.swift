import DIPCore
import Foundation

/// The figures draw their labels in one font file with no fallback (`Canvas.labelFontFile`), so
/// a character it has no glyph for (an emoji, most CJK) comes out as the font's empty box, where
/// the page's own text, drawn by the browser, shows it. `notes` names such labels, so a render
/// says why a legend shows boxes instead of leaving the reader to find out.
enum FigureGlyphs {
    /// One note per label holding characters the figures' font (at `fontPath`, nil: the project's
    /// DejaVuSans through `FontDirectory`) cannot draw, with those characters; none where the
    /// font draws every one, or where it cannot be opened (drawing the figures then fails with
    /// its own error).
    static func notes(labels: [String], fontPath: String?) -> [String] {
        guard let path = try? fontPath ?? FontDirectory.locate(Canvas.labelFontFile),
              let font = try? FreeTypeFace(path: path, missingHint: "", notAFontHint: "") else { return [] }
        let file = (path as NSString).lastPathComponent
        var seen = Set<String>()
        return labels.compactMap { label in
            guard seen.insert(label).inserted else { return nil }
            var missing: [Unicode.Scalar] = []
            for scalar in label.unicodeScalars where !scalar.properties.isWhitespace && !font.hasGlyph(scalar) {
                if !missing.contains(scalar) { missing.append(scalar) }
            }
            guard !missing.isEmpty else { return nil }
            let named = missing.map { "\(Character($0)) (U+\(String($0.value, radix: 16, uppercase: true)))" }
            return "the label '\(label)' holds \(named.joined(separator: ", ")), which the figures' font \(file) has no glyph for: its figures draw a box there (the page's text shows it)"
        }
    }
}
