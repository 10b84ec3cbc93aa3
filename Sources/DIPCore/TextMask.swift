import CCairo
import Foundation

/// One string drawn into a text mask, placed the way PIL's `ImageDraw.text((x, y), text, font)`
/// places it with the default anchor: (x, y) is the top-left corner of the line box, y being
/// the ascender line, so the baseline lies at `y + ascender` of the font at `fontSize` pixels.
public struct TextStamp: Sendable, Codable, Hashable {
    /// The string, drawn on one line.
    public var text: String
    /// The em size in pixels (PIL's `truetype(size=)`).
    public var fontSize: Double
    /// Left edge of the pen start, in pixels.
    public var x: Double
    /// The ascender line, in pixels from the top.
    public var y: Double

    /// Em sizes a stamp may have, in pixels.
    public static let fontSizes: ClosedRange<Double> = 1...2000
    /// Largest magnitude of a position coordinate, pixels (far beyond any image's 16384).
    public static let maxCoordinate = 1e6

    /// What is wrong with drawing `text` as a stamp, nil when nothing: `OneLineText`'s rule. A
    /// line break is refused: PIL's `draw.text` lays several lines out with its own spacing
    /// rules, which these masks do not reproduce.
    public static func textProblem(_ text: String) -> String? {
        switch OneLineText.problem(text) {
        case nil: nil
        case .blank: text.isEmpty ? "is empty; give a string to draw" : "is blank (spaces only), which draws nothing; give a string to draw"
        case .notOneLine: "holds a line break or another control character; give each line as its own --text with its own --at"
        }
    }

    /// What is wrong with an em size, nil when nothing.
    public static func fontSizeProblem(_ size: Double) -> String? {
        fontSizes.contains(size) ? nil : "must be from \(TextMask.format(fontSizes.lowerBound)) to \(TextMask.format(fontSizes.upperBound)) pixels"
    }

    /// What is wrong with a position, nil when nothing.
    public static func positionProblem(x: Double, y: Double) -> String? {
        abs(x) < maxCoordinate && abs(y) < maxCoordinate ? nil : "each coordinate must be under \(Int(maxCoordinate)) pixels in magnitude"
    }

    /// A stamp of `text` at `fontSize` px whose line box starts at (x, y).
    public init(text: String, fontSize: Double, x: Double, y: Double) {
        self.text = text
        self.fontSize = fontSize
        self.x = x
        self.y = y
    }

    /// How people read it in messages: `"Image Corruption" 30 px at (128, 128)`.
    public var label: String {
        "\"\(text)\" \(TextMask.format(fontSize)) px at (\(TextMask.format(x)), \(TextMask.format(y)))"
    }
}

/// The ink bounding box of a stamp in image pixels (continuous coordinates: a pixel (x, y)
/// spans [x, x+1) x [y, y+1)).
public struct TextBox: Sendable, Hashable {
    /// Leftmost ink.
    public var minX: Double
    /// Topmost ink.
    public var minY: Double
    /// Rightmost ink.
    public var maxX: Double
    /// Bottom of the ink (descenders included).
    public var maxY: Double

    /// True when the box covers no area (a string of spaces).
    public var isEmpty: Bool { maxX <= minX || maxY <= minY }

    /// True when some of the box lies on a `width` x `height` image.
    public func intersects(height: Int, width: Int) -> Bool {
        !isEmpty && maxX > 0 && maxY > 0 && minX < Double(width) && minY < Double(height)
    }
}

/// Masks whose holes are text drawn over the image: the inpainting experiment on kate.png and
/// the seed report's own three strings.
///
/// Rendering uses cairo on an A8 surface with a font loaded straight from its file through
/// FreeType (never fontconfig, so no system font can stand in), grey antialiasing, no hinting
/// and unhinted metrics, so every machine with the same cairo and FreeType draws the same
/// pixels. A pixel is a hole when the text covers it at all (coverage > 0), as the seed report
/// marked every pixel the drawn text darkened.
public enum TextMask {
    /// The font file of the seed report (and upstream's unused text-mask helper).
    public static let seedReportFontFile = "FreeSansBold.ttf"

    /// The seed report's strings, drawn on kate.png (512 x 512) with FreeSansBold.
    public static let seedReport: [TextStamp] = [
        TextStamp(text: "Image Corruption", fontSize: 30, x: 128, y: 128),
        TextStamp(text: "Text Over Image", fontSize: 25, x: 250, y: 300),
        TextStamp(text: "Deep Learning Project", fontSize: 25, x: 200, y: 400),
    ]

    /// The image size the seed-report preset was made for (kate.png).
    public static let seedReportSize = (height: 512, width: 512)

    /// A one-channel `height` x `width` mask: 0 where any stamp's text covers the pixel at all,
    /// 1 elsewhere.
    ///
    /// Throws when the font file cannot be read as a scalable font, when a stamp is empty,
    /// has a size outside 1...2000 px, or lies wholly outside the image.
    public static func render(_ stamps: [TextStamp], height: Int, width: Int, fontPath: String) throws -> Image {
        guard height >= 1, width >= 1, height <= Image.maxSide, width <= Image.maxSide else {
            throw DIPError.invalidValue(name: "mask size", value: "\(width)x\(height)",
                                        reason: "each side must be from 1 to \(Image.maxSide) pixels")
        }
        guard !stamps.isEmpty else {
            throw DIPError.invalidValue(name: "text", value: "", reason: "give at least one string to draw")
        }
        let font = try loadFont(fontPath)
        // Layout first, through FreeType alone: cairo later sets the face's size itself and
        // assumes nobody else changed it while it holds the face.
        var baselines: [Double] = []
        for stamp in stamps {
            let layout = try font.layout(stamp)
            guard layout.box.intersects(height: height, width: width) else {
                if layout.box.isEmpty {
                    throw DIPError.invalidValue(name: "text", value: stamp.text,
                                                reason: "draws nothing (only spaces or characters the font lacks)")
                }
                throw DIPError.invalidValue(name: "text", value: stamp.label,
                                            reason: "falls wholly outside the \(width)x\(height) image (its ink spans x \(format(layout.box.minX))...\(format(layout.box.maxX)), y \(format(layout.box.minY))...\(format(layout.box.maxY))); move it or use a larger image")
            }
            baselines.append(layout.baseline)
        }

        let surface = cairo_image_surface_create(CAIRO_FORMAT_A8, Int32(width), Int32(height))
        defer { cairo_surface_destroy(surface) }
        guard cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw DIPError.invalidValue(name: "mask size", value: "\(width)x\(height)",
                                        reason: "cairo cannot create a surface this large (\(cairoMessage(cairo_surface_status(surface))))")
        }
        let cr = cairo_create(surface)
        defer { cairo_destroy(cr) }
        let face = try font.cairoFace(loadFlags: Int32(FT_LOAD_NO_HINTING))
        defer { cairo_font_face_destroy(face) }
        cairo_set_font_face(cr, face)

        let options = cairo_font_options_create()
        defer { cairo_font_options_destroy(options) }
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_set_source_rgba(cr, 0, 0, 0, 1)

        for (stamp, baseline) in zip(stamps, baselines) {
            cairo_set_font_size(cr, stamp.fontSize)
            cairo_move_to(cr, stamp.x, baseline)
            stamp.text.withCString { cairo_show_text(cr, $0) }
        }
        cairo_surface_flush(surface)
        let status = cairo_status(cr)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw DIPError.badFile(path: fontPath, reason: "cairo could not draw with this font (\(cairoMessage(status)))")
        }

        var mask = Image(channels: 1, height: height, width: width, value: 1)
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else {
            throw DIPError.invalidValue(name: "mask size", value: "\(width)x\(height)", reason: "cairo returned no pixels")
        }
        for y in 0..<height {
            let row = data + y * stride
            for x in 0..<width where row[x] != 0 {
                mask.pixels[y * width + x] = 0
            }
        }
        return mask
    }

    /// The cairo and FreeType versions that rasterise text masks, e.g. "cairo 1.16.0, FreeType
    /// 2.12.1": other versions may shade edge pixels differently, so results record it.
    public static var rendererVersion: String {
        "cairo \(String(cString: cairo_version_string())), FreeType \(FreeTypeFace.libraryVersion ?? "unknown")"
    }

    /// The ink box of `stamp`, from FreeType's unhinted glyph metrics and advances (no
    /// rasterising), placed as `render` places it. Tests use it to check where holes may be.
    public static func inkBox(of stamp: TextStamp, fontPath: String) throws -> TextBox {
        try loadFont(fontPath).layout(stamp).box
    }

    /// The baseline of `stamp` in image pixels: its y plus the font's ascender at its size,
    /// rounded up to whole pixels like PIL (FreeType's `size->metrics.ascender`, 26.6 fixed).
    public static func baseline(of stamp: TextStamp, fontPath: String) throws -> Double {
        try loadFont(fontPath).layout(stamp).baseline
    }

    /// The characters of `stamps` that the font at `fontPath` has no glyph for, in order of first
    /// appearance: FreeType draws them as empty boxes (or nothing), so the holes are not the text
    /// the user typed. White space is never reported.
    public static func missingCharacters(in stamps: [TextStamp], fontPath: String) throws -> [Unicode.Scalar] {
        let font = try loadFont(fontPath)
        var seen = Set<Unicode.Scalar>()
        var missing: [Unicode.Scalar] = []
        for scalar in stamps.flatMap(\.text.unicodeScalars)
        where !scalar.properties.isWhitespace && seen.insert(scalar).inserted
            && FT_Get_Char_Index(font.face, FT_ULong(scalar.value)) == 0 {
            missing.append(scalar)
        }
        return missing
    }

    /// A note for `missingCharacters`' result, nil when nothing is missing: which characters
    /// (and their code points), and what to do.
    public static func missingCharactersNote(_ missing: [Unicode.Scalar], fontPath: String) -> String? {
        guard !missing.isEmpty else { return nil }
        let shown = missing.prefix(12).map { "'\(Character($0))' U+\(String($0.value, radix: 16, uppercase: true))" }
        let more = missing.count > 12 ? " and \(missing.count - 12) more" : ""
        return "warning: \(URL(fileURLWithPath: fontPath).lastPathComponent) has no glyph for \(shown.joined(separator: ", "))\(more); they are drawn as empty boxes or not at all, so the holes do not spell the text. Pass --font with a font that has them (e.g. a Noto font for emoji, Arabic or CJK)"
    }

    /// The font at `fontPath` through FreeType, refused unless scalable: stamps come in any size.
    private static func loadFont(_ fontPath: String) throws -> FreeTypeFace {
        // The path is --font's, or the fonts folder's FreeSansBold (found there, so present).
        let font = try FreeTypeFace(path: fontPath, missingHint: "check the --font path",
                                    notAFontHint: "give a TrueType or OpenType file such as fonts/FreeSansBold.ttf")
        guard font.isScalable else {
            throw DIPError.badFile(path: fontPath, reason: "is a bitmap font; text masks need a scalable (TrueType or OpenType) font")
        }
        return font
    }

    /// Numbers in messages: integers without a fraction, others with up to two decimals.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.2f", value)
    }

    static func cairoMessage(_ status: cairo_status_t) -> String {
        String(cString: cairo_status_to_string(status))
    }
}

/// Text layout for masks, measured in FreeType alone.
private extension FreeTypeFace {
    /// Baseline and ink box of a stamp, from unhinted FreeType metrics.
    func layout(_ stamp: TextStamp) throws -> (baseline: Double, box: TextBox) {
        if let problem = TextStamp.textProblem(stamp.text) {
            throw DIPError.invalidValue(name: "text", value: stamp.text, reason: problem)
        }
        if let problem = TextStamp.fontSizeProblem(stamp.fontSize) {
            throw DIPError.invalidValue(name: "font size", value: TextMask.format(stamp.fontSize), reason: problem)
        }
        if let problem = TextStamp.positionProblem(x: stamp.x, y: stamp.y) {
            throw DIPError.invalidValue(name: "text position", value: "\(stamp.x),\(stamp.y)", reason: problem)
        }
        // 72 dpi makes points equal pixels: the same scale as FT_Set_Pixel_Sizes for whole sizes.
        let size26 = FT_F26Dot6((stamp.fontSize * 64).rounded())
        guard FT_Set_Char_Size(face, 0, size26, 72, 72) == 0 else {
            throw DIPError.badFile(path: path, reason: "FreeType cannot scale this font to \(TextMask.format(stamp.fontSize)) px")
        }
        let ascender = Double((face.pointee.size.pointee.metrics.ascender + 63) >> 6)
        let baseline = stamp.y + ascender
        var pen = 0.0
        var box = TextBox(minX: .infinity, minY: .infinity, maxX: -.infinity, maxY: -.infinity)
        for scalar in stamp.text.unicodeScalars {
            let index = FT_Get_Char_Index(face, FT_ULong(scalar.value))
            guard FT_Load_Glyph(face, index, FT_Int32(FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP)) == 0 else {
                throw DIPError.badFile(path: path, reason: "FreeType cannot load the glyph for U+\(String(scalar.value, radix: 16, uppercase: true))")
            }
            let slot = face.pointee.glyph.pointee
            let m = slot.metrics
            if m.width > 0 && m.height > 0 {
                let left = pen + Double(m.horiBearingX) / 64
                let top = Double(m.horiBearingY) / 64
                box.minX = min(box.minX, left)
                box.maxX = max(box.maxX, left + Double(m.width) / 64)
                box.minY = min(box.minY, -top)
                box.maxY = max(box.maxY, Double(m.height) / 64 - top)
            }
            // Unhinted advance in 16.16, as cairo uses with hint metrics off.
            pen += Double(slot.linearHoriAdvance) / 65536
        }
        if box.minX > box.maxX { return (baseline, TextBox(minX: stamp.x, minY: baseline, maxX: stamp.x, maxY: baseline)) }
        box.minX += stamp.x
        box.maxX += stamp.x
        box.minY += baseline
        box.maxY += baseline
        return (baseline, box)
    }
}
