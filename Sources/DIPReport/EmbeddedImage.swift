import DIPCore
import Foundation

/// A picture for the page: a small thumbnail shown in the gallery and the full-size picture
/// opened on click, both PNG data URIs.
struct EmbeddedImage: Sendable, Hashable {
    /// What the picture shows ("best, iteration 4200, 32.10 dB").
    var caption: String
    /// The thumbnail, at most `thumbnailSide` pixels on its longer side.
    var thumbnail: String
    /// The full-size picture; nil when the thumbnail already is the full size.
    var full: String?
    /// Full-size width and height, for the caption.
    var size: String

    /// The longer side of gallery thumbnails: small enough that 13 images x 6 pictures stay
    /// well under a megabyte of thumbnails.
    static let thumbnailSide = 128

    /// Embeds `image`: a Pillow-exact bicubic thumbnail and the full picture.
    init(_ image: Image, caption: String, thumbnailSide: Int = EmbeddedImage.thumbnailSide) throws {
        self.caption = caption
        size = "\(image.width)x\(image.height)"
        let fullBytes = try PNGCodec.encode(image.clamped())
        let longer = max(image.width, image.height)
        if longer <= thumbnailSide {
            thumbnail = DataURI.png(fullBytes)
            full = nil
        } else {
            let scale = Double(thumbnailSide) / Double(longer)
            let small = image.resizedLikePillow(height: max(1, Int((Double(image.height) * scale).rounded())),
                                                width: max(1, Int((Double(image.width) * scale).rounded())))
            thumbnail = DataURI.png(try PNGCodec.encode(small))
            full = DataURI.png(fullBytes)
        }
    }

    /// The absolute error |a - b| averaged over channels, amplified `gain` times and shown on a
    /// dark-to-bright heat scale (black = exact, yellow-white = off by 1/gain or more).
    static func errorMap(_ a: Image, _ b: Image, gain: Float = 4) throws -> Image {
        try Metrics.checkSameShape(a, b)
        let plane = a.planeSize
        var out = Image(channels: 3, height: a.height, width: a.width)
        for p in 0..<plane {
            var e: Float = 0
            for ch in 0..<a.channels { e += abs(a.pixels[ch * plane + p] - b.pixels[ch * plane + p]) }
            let t = e.isFinite ? min(1, e / Float(a.channels) * gain) : 1
            // A piecewise "hot" scale: black -> red -> yellow -> white.
            out.pixels[p] = min(1, 3 * t)
            out.pixels[plane + p] = min(1, max(0, 3 * t - 1))
            out.pixels[2 * plane + p] = min(1, max(0, 3 * t - 2))
        }
        return out
    }
}
