import Foundation

/// What mask to use, as a user describes it: the one place that turns a description into an
/// Image, shared by `dip-report mask`, `dip-report inpaint` and the experiment catalog.
public enum MaskSpec: Sendable, Hashable, Codable {
    /// Bernoulli: keep each pixel with probability `keep`; `perChannel` draws one mask per
    /// colour channel, as upstream does for RGB images.
    case bernoulli(keep: Double, seed: UInt64, perChannel: Bool)
    /// Text drawn as holes; `fontPath` nil means fonts/FreeSansBold.ttf.
    case text([TextStamp], fontPath: String?)
    /// The seed report's three strings in FreeSansBold.
    case seedReportText
    /// A user's mask file, checked and normalised (`invert` swaps known and hole).
    case file(path: String, invert: Bool)

    /// A mask made from a spec, with what a user should be told about it.
    public struct Made: Sendable {
        /// The mask: 1 = known, 0 = hole.
        public var mask: Image
        /// Notes and warnings (alpha ignored, values thresholded, suspicious polarity...).
        public var notes: [String]
        /// A short description for summaries: "Bernoulli keep 0.5, seed 1".
        public var summary: String
    }

    /// Makes the mask for an image of `height` x `width` with `channels` channels (nil when the
    /// image is not known, e.g. a bare `--size`).
    public func make(height: Int, width: Int, channels: Int?) throws -> Made {
        switch self {
        case let .bernoulli(keep, seed, perChannel):
            if perChannel, let channels, channels != 3 {
                // A flag without a value: the message names the flag, not a made-up value.
                throw DIPError.mismatch("--per-channel draws one mask per colour channel, but the image has \(channels) channel\(channels == 1 ? "" : "s") (gray); leave --per-channel out")
            }
            let mask = try BernoulliMask.make(channels: perChannel ? 3 : 1, height: height, width: width,
                                              keepFraction: keep, seed: seed)
            // The same rule as for a mask file (MaskFile.normalise): nothing known, nothing to fit.
            if MaskStatistics(mask).known == 0 {
                throw DIPError.invalidValue(name: "--bernoulli", value: "\(keep)",
                                            reason: "keeps no pixel of this \(width)x\(height) image with seed \(seed), so nothing is known to fit; raise P (the fraction kept) or change the seed")
            }
            return Made(mask: mask, notes: [], summary: "Bernoulli keep \(keep), seed \(seed)\(perChannel ? ", per channel" : "")")
        case let .text(stamps, fontPath):
            let path = try fontPath ?? FontDirectory.locate(TextMask.seedReportFontFile)
            let mask = try TextMask.render(stamps, height: height, width: width, fontPath: path)
            if MaskStatistics(mask).known == 0 {
                throw DIPError.invalidValue(name: "--text", value: stamps.map(\.text).joined(separator: " | "),
                                            reason: "covers every pixel of this \(width)x\(height) image, so nothing is known to fit; use a smaller --font-size or move it with --at")
            }
            let missing = try TextMask.missingCharacters(in: stamps, fontPath: path)
            return Made(mask: mask, notes: TextMask.missingCharactersNote(missing, fontPath: path).map { [$0] } ?? [],
                        summary: "text, \(stamps.count) string\(stamps.count == 1 ? "" : "s") in \(URL(fileURLWithPath: path).lastPathComponent)")
        case .seedReportText:
            let path = try FontDirectory.locate(TextMask.seedReportFontFile)
            let mask = try TextMask.render(TextMask.seedReport, height: height, width: width, fontPath: path)
            return Made(mask: mask, notes: [], summary: "text preset seed-report in \(TextMask.seedReportFontFile)")
        case let .file(path, invert):
            let decoded = try PNGCodec.read(path)
            let (values, note) = MaskFile.values(of: decoded, path: path)
            let result = try MaskFile.normalise(values, path: path, height: height, width: width,
                                                channels: channels, invert: invert)
            return Made(mask: result.mask, notes: (note.map { [$0] } ?? []) + result.notes, summary: "checked \(path), \(decoded.sourceFormat)")
        }
    }
}
