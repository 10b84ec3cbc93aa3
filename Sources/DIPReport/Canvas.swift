import CCairo
import DIPCore
import Foundation

/// An RGB colour with components in 0...1.
struct Colour: Sendable, Hashable {
    /// Red.
    var r: Double
    /// Green.
    var g: Double
    /// Blue.
    var b: Double

    /// Creates a colour.
    init(_ r: Double, _ g: Double, _ b: Double) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// A colour from 0xRRGGBB.
    init(hex: UInt32) {
        self.init(Double((hex >> 16) & 0xFF) / 255, Double((hex >> 8) & 0xFF) / 255, Double(hex & 0xFF) / 255)
    }

    /// Text and axes.
    static let ink = Colour(hex: 0x222222)
    /// Grid lines.
    static let grid = Colour(hex: 0xDDDDDD)
    /// Better than the reference.
    static let positive = Colour(hex: 0x2E7D32)
    /// Worse than the reference.
    static let negative = Colour(hex: 0xC62828)
    /// Reference lines (the paper's value).
    static let reference = Colour(hex: 0x555555)

    /// Ten distinguishable series colours (Tableau 10), cycled by `series(_:)`.
    static let palette: [Colour] = [0x4E79A7, 0xF28E2B, 0xE15759, 0x76B7B2, 0x59A14F,
                                           0xEDC948, 0xB07AA1, 0xFF9DA7, 0x9C755F, 0xBAB0AC].map { Colour(hex: $0) }

    /// The colour of series `index`.
    static func series(_ index: Int) -> Colour { palette[index % palette.count] }
}

/// How a text's anchor point relates to its box.
enum TextAlign: Sendable {
    /// The anchor is the left end of the baseline.
    case left
    /// The anchor is the middle of the baseline.
    case centre
    /// The anchor is the right end of the baseline.
    case right
}

/// A cairo drawing surface with the project's label font (DejaVuSans from fonts/, loaded through
/// FreeType directly, never fontconfig), drawn at `scale` device pixels per unit so figures stay
/// sharp on high-density screens, and encoded to PNG in memory.
///
/// One canvas belongs to one thread: cairo contexts and FreeType faces are not shared.
final class Canvas {
    /// The file of the label font in fonts/.
    static let labelFontFile = "DejaVuSans.ttf"

    /// Width in drawing units.
    let width: Double
    /// Height in drawing units.
    let height: Double
    /// The cairo context; figures draw with it directly.
    let cr: OpaquePointer
    private let surface: OpaquePointer
    private let face: OpaquePointer

    /// A white canvas of `width` x `height` units, `scale` pixels per unit, labels in the font at
    /// `fontPath` (nil: DejaVuSans located through `FontDirectory`).
    init(width: Double, height: Double, scale: Double = 2, fontPath: String? = nil) throws {
        guard width >= 1, height >= 1, width * scale <= 8192, height * scale <= 8192, scale > 0 else {
            throw DIPError.invalidValue(name: "figure size", value: "\(width)x\(height) at scale \(scale)",
                                        reason: "each side must be from 1 to 8192 pixels")
        }
        self.width = width
        self.height = height
        let path = try fontPath ?? FontDirectory.locate(Self.labelFontFile)
        // Load flags 0: FreeType's default hinting, as figures have always been drawn (text
        // masks turn hinting off to match PIL; labels need no such match).
        let hint = "set \(FontDirectory.environmentVariable) to the project's fonts/ folder"
        face = try FreeTypeFace(path: path, missingHint: hint, notAFontHint: hint).cairoFace(loadFlags: 0)
        surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32((width * scale).rounded(.up)),
                                             Int32((height * scale).rounded(.up)))
        cr = cairo_create(surface)
        guard cairo_status(cr) == CAIRO_STATUS_SUCCESS else {
            let message = String(cString: cairo_status_to_string(cairo_status(cr)))
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
            cairo_font_face_destroy(face)
            throw DIPError.invalidValue(name: "figure size", value: "\(width)x\(height)", reason: "cairo cannot draw it (\(message))")
        }
        cairo_scale(cr, scale, scale)
        cairo_set_font_face(cr, face)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
        cairo_font_face_destroy(face)
    }

    /// Sets the source colour.
    func setColour(_ c: Colour, alpha: Double = 1) {
        cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha)
    }

    /// A straight line.
    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, colour: Colour, width: Double = 1, dash: [Double] = []) {
        cairo_save(cr)
        setColour(colour)
        cairo_set_line_width(cr, width)
        if !dash.isEmpty { cairo_set_dash(cr, dash, Int32(dash.count), 0) }
        cairo_move_to(cr, x0, y0)
        cairo_line_to(cr, x1, y1)
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    /// A rectangle, filled and/or stroked.
    func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: Colour?, stroke: Colour? = nil, lineWidth: Double = 1, radius: Double = 0) {
        cairo_save(cr)
        if radius > 0 {
            let r = min(radius, w / 2, h / 2)
            cairo_new_sub_path(cr)
            cairo_arc(cr, x + w - r, y + r, r, -Double.pi / 2, 0)
            cairo_arc(cr, x + w - r, y + h - r, r, 0, Double.pi / 2)
            cairo_arc(cr, x + r, y + h - r, r, Double.pi / 2, Double.pi)
            cairo_arc(cr, x + r, y + r, r, Double.pi, 1.5 * Double.pi)
            cairo_close_path(cr)
        } else {
            cairo_rectangle(cr, x, y, w, h)
        }
        if let fill {
            setColour(fill)
            if stroke != nil { cairo_fill_preserve(cr) } else { cairo_fill(cr) }
        }
        if let stroke {
            setColour(stroke)
            cairo_set_line_width(cr, lineWidth)
            cairo_stroke(cr)
        }
        cairo_new_path(cr)
        cairo_restore(cr)
    }

    /// A filled circle.
    func dot(_ x: Double, _ y: Double, radius: Double, colour: Colour) {
        setColour(colour)
        cairo_arc(cr, x, y, radius, 0, 2 * Double.pi)
        cairo_fill(cr)
    }

    /// An arrow from (x0, y0) to (x1, y1) with a filled head.
    func arrow(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, colour: Colour, width: Double = 1.2, head: Double = 6) {
        let angle = atan2(y1 - y0, x1 - x0)
        let bx = x1 - head * cos(angle), by = y1 - head * sin(angle)
        line(x0, y0, bx, by, colour: colour, width: width)
        setColour(colour)
        cairo_move_to(cr, x1, y1)
        cairo_line_to(cr, bx + head * 0.5 * sin(angle), by - head * 0.5 * cos(angle))
        cairo_line_to(cr, bx - head * 0.5 * sin(angle), by + head * 0.5 * cos(angle))
        cairo_close_path(cr)
        cairo_fill(cr)
    }

    /// The advance width of `text` at `size` units.
    func textWidth(_ text: String, size: Double) -> Double {
        cairo_set_font_size(cr, size)
        var extents = cairo_text_extents_t()
        text.withCString { cairo_text_extents(cr, $0, &extents) }
        return extents.x_advance
    }

    /// Draws `text` at `size` units with its baseline anchor at (x, y), optionally rotated by
    /// `angle` radians about the anchor (-pi/2 for a vertical axis title).
    func text(_ text: String, x: Double, y: Double, size: Double, colour: Colour = .ink,
                     align: TextAlign = .left, angle: Double = 0) {
        guard !text.isEmpty else { return }
        let w = textWidth(text, size: size)
        cairo_save(cr)
        setColour(colour)
        cairo_translate(cr, x, y)
        if angle != 0 { cairo_rotate(cr, angle) }
        switch align {
        case .left: cairo_move_to(cr, 0, 0)
        case .centre: cairo_move_to(cr, -w / 2, 0)
        case .right: cairo_move_to(cr, -w, 0)
        }
        text.withCString { cairo_show_text(cr, $0) }
        cairo_new_path(cr)
        cairo_restore(cr)
    }

    /// Starts a clip to the rectangle; pair with `endClip()`.
    func beginClip(_ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        cairo_save(cr)
        cairo_rectangle(cr, x, y, w, h)
        cairo_clip(cr)
    }

    /// Ends the clip begun last.
    func endClip() {
        cairo_restore(cr)
    }

    /// A polyline through `points`; a nil point breaks the line (a missing or non-finite sample).
    func polyline(_ points: [(Double, Double)?], colour: Colour, width: Double, alpha: Double = 1) {
        cairo_save(cr)
        setColour(colour, alpha: alpha)
        cairo_set_line_width(cr, width)
        var pen = false
        for p in points {
            guard let (x, y) = p else { pen = false; continue }
            if pen { cairo_line_to(cr, x, y) } else { cairo_move_to(cr, x, y); pen = true }
        }
        cairo_stroke(cr)
        cairo_restore(cr)
    }

    /// The picture as PNG bytes, encoded by cairo in memory.
    func pngBytes() throws -> [UInt8] {
        cairo_surface_flush(surface)
        let sink = PNGSink()
        let status = cairo_surface_write_to_png_stream(surface, { closure, data, length in
            guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
            let sink = Unmanaged<PNGSink>.fromOpaque(closure).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
            return CAIRO_STATUS_SUCCESS
        }, Unmanaged.passUnretained(sink).toOpaque())
        guard status == CAIRO_STATUS_SUCCESS else {
            throw DIPError.invalidValue(name: "figure", value: "PNG", reason: "cairo could not encode it (\(String(cString: cairo_status_to_string(status))))")
        }
        return sink.bytes
    }

    /// The picture as a `data:image/png;base64,...` URI.
    func dataURI() throws -> String {
        DataURI.png(try pngBytes())
    }
}

/// Collects the bytes cairo's PNG writer hands out.
private final class PNGSink {
    var bytes: [UInt8] = []
}

/// `data:` URIs for embedding pictures in the self-contained page.
enum DataURI {
    /// `data:image/png;base64,...` for PNG bytes.
    static func png(_ bytes: [UInt8]) -> String {
        "data:image/png;base64," + Data(bytes).base64EncodedString()
    }
}
