/// Counts that describe a mask: how much of it is known and how much is hole.
public struct MaskStatistics: Sendable, Hashable {
    /// Number of mask elements (channels x height x width).
    public let elements: Int
    /// Elements that are holes (value below 0.5).
    public let holes: Int

    /// Counts the holes of `mask` (a value below 0.5 is a hole).
    public init(_ mask: Image) {
        elements = mask.pixels.count
        holes = mask.pixels.reduce(0) { $0 + ($1 < 0.5 ? 1 : 0) }
    }

    /// Elements that are known.
    public var known: Int { elements - holes }
    /// Fraction of elements that are known, 0...1.
    public var knownFraction: Double { elements == 0 ? 0 : Double(known) / Double(elements) }
    /// Fraction of elements that are holes, 0...1.
    public var holeFraction: Double { elements == 0 ? 0 : Double(holes) / Double(elements) }
}

/// A user's mask after `MaskFile.normalise`: binary, the image's size, and what was done to it.
public struct NormalisedMask: Sendable, Equatable {
    /// Values exactly 0 (hole) or 1 (known); 1 channel, or the image's channel count for a
    /// per-channel mask.
    public var mask: Image
    /// One human-readable line per change made or suspicion raised, for the user to read.
    public var notes: [String]
}

/// Checks a mask that a user brings (a PNG, 255 = known, 0 = hole) against the image it is for,
/// and puts it into the form the fit expects. Upstream's issue tracker shows how often masks go
/// wrong: wrong size, anti-aliased edges, RGB files, and above all inverted polarity.
public enum MaskFile {
    /// Fraction of holes above which the polarity is suspected to be inverted. Above a half:
    /// Table 1's own Bernoulli masks hold 50 % holes and drew the warning (50.1 %); an inverted
    /// text or scribble mask holds 90 % and more.
    public static let invertedSuspicionThreshold = 0.8

    /// Checks `mask` (read from `path`, named in messages) against an image of
    /// `height` x `width` (and `channels`, when known) and normalises it.
    ///
    /// - Wrong size: error naming both sizes.
    /// - Its values read as known or hole as `binarise` says (noted).
    /// - `invert`: swaps known and hole after thresholding, for masks drawn with white holes.
    /// - More than `invertedSuspicionThreshold` holes: a note that the polarity may be inverted.
    /// - All holes or no holes: error, since there is nothing known or nothing to inpaint; the
    ///   notes of the reading go into the message (they often say why, e.g. 0/255 confusion).
    public static func normalise(_ mask: Image, path: String, height: Int, width: Int,
                                 channels: Int? = nil, invert: Bool = false) throws -> NormalisedMask {
        guard mask.height == height, mask.width == width else {
            throw DIPError.mismatch("\(path): the mask is \(mask.width)x\(mask.height) but the image is \(width)x\(height); masks must have the image's size (make one with `dip-report mask --like IMAGE`)")
        }
        var read = try binarise(mask, path: path, channels: channels, invert: invert)
        let stats = MaskStatistics(read.mask)
        // What the reading noted may be why (values neither 0 nor 255): said with the error.
        let why = read.notes.map { "; " + $0.replacingOccurrences(of: "\(path): ", with: "") }.joined()
        if stats.holes == stats.elements {
            throw DIPError.badFile(path: path, reason: "every pixel is a hole after \(invert ? "inverting" : "reading"), so nothing is known to fit; 255 (white) must mean known\(invert ? " (drop --invert?)" : "")" + why)
        }
        if stats.holes == 0 {
            throw DIPError.badFile(path: path, reason: "has no holes after \(invert ? "inverting" : "reading"), so there is nothing to inpaint; 0 (black) must mark the holes\(invert ? " (drop --invert?)" : " (or pass --invert if white marks them)")" + why)
        }
        if let warning = polarityWarning(stats, path: path, invert: invert) { read.notes.append(warning) }
        return read
    }

    /// The warning for a mask read with more than `invertedSuspicionThreshold` holes, whose
    /// polarity may be inverted (`invert`: it was read with --invert); nil below that. `remedy`
    /// replaces the advice to pass or drop --invert where there is no such flag (a catalog).
    public static func polarityWarning(_ stats: MaskStatistics, path: String, invert: Bool, remedy: String? = nil) -> String? {
        guard stats.holeFraction > invertedSuspicionThreshold else { return nil }
        let percent = (stats.holeFraction * 1000).rounded() / 10
        return "warning: \(path): \(percent) % of pixels are holes; 255 (white) must mean known and 0 (black) hole, so if white marks the holes here, \(remedy ?? "\(invert ? "drop" : "pass") --invert")"
    }

    /// The values a decoded mask file is read from, and what to tell the user about its alpha:
    /// its colours, unless every pixel has the same colour while its alpha varies. That is a
    /// mask painted as transparency in an image editor, whose holes only the alpha channel
    /// holds: it is read from alpha (transparent, below half, is a hole).
    public static func values(of decoded: DecodedPNG, path: String) -> (values: Image, note: String?) {
        let colours = decoded.image
        let plane = colours.planeSize
        let oneColour = plane > 0 && (0..<colours.channels).allSatisfy { c in
            let values = colours.pixels[(c * plane)..<((c + 1) * plane)]
            return values.allSatisfy { $0 == values.first }
        }
        if let alpha = decoded.alpha, let a = alpha.first, oneColour, alpha.contains(where: { $0 != a }) {
            return (Image(channels: 1, height: colours.height, width: colours.width, pixels: alpha),
                    "\(path): every pixel has the same colour and only the alpha channel varies, so the mask is read from alpha: transparent (below half) is a hole, opaque is known")
        }
        return (colours, decoded.droppedAlpha ? "\(path): the alpha channel was ignored; the mask is read from the gray/colour values" : nil)
    }

    /// A dark level that, as a mask's only value besides 0, means known: what a 0/1 array
    /// becomes when saved as a PNG (as numpy masks often are), and an 8-bit mask saved with 16
    /// bits. Read at half white, every such pixel would be a hole.
    public struct LowKnownLevel: Sendable, Equatable {
        /// The level, as decoded (the stored value over the file's maximum).
        public let value: Float
        /// The stored value and its maximum, e.g. "1 (out of 255)".
        public let stored: String
        /// How such a file comes about.
        public let origin: String
    }

    /// The levels `lowKnownLevel` recognises.
    static let lowKnownLevels = [
        LowKnownLevel(value: 1 / 255, stored: "1 (out of 255)", origin: "a 0/1 array saved as 8 bits"),
        LowKnownLevel(value: 1 / 65535, stored: "1 (out of 65535)", origin: "a 0/1 array saved as 16 bits"),
        LowKnownLevel(value: 255 / 65535, stored: "255 (out of 65535)", origin: "an 8-bit mask saved as 16 bits"),
    ]

    /// The level of `lowKnownLevels` when every value of `mask` is 0 or that level, and some
    /// are the level; nil otherwise.
    public static func lowKnownLevel(_ mask: Image) -> LowKnownLevel? {
        lowKnownLevels.first { level in
            func isLevel(_ v: Float) -> Bool { abs(v - level.value) < level.value * 1e-3 }
            return mask.pixels.contains(where: isLevel) && mask.pixels.allSatisfy { $0 == 0 || isLevel($0) }
        }
    }

    /// Reads `mask`'s values as known (1) or hole (0), saying in `notes` what it did:
    ///
    /// - Several channels that are all equal: collapsed to one channel. Unequal channels are
    ///   kept as a per-channel mask if they match `channels` (when given), else an error.
    /// - Values only 0 and one of `lowKnownLevels` (a 0/1 array saved as 8 or 16 bits, as numpy
    ///   masks often are, or an 8-bit mask saved as 16 bits): that level reads as known.
    ///   Thresholded at 50 % they would all be holes.
    /// - Other values than 0 and 255: thresholded, at least 0.5 counts as known.
    /// - `invert`: swaps known and hole afterwards.
    public static func binarise(_ mask: Image, path: String, channels: Int? = nil, invert: Bool = false) throws -> NormalisedMask {
        var notes: [String] = []
        var m = mask
        if m.channels > 1 {
            let plane = m.planeSize
            let first = m.pixels[0..<plane]
            let allEqual = (1..<m.channels).allSatisfy { c in m.pixels[(c * plane)..<((c + 1) * plane)].elementsEqual(first) }
            if allEqual {
                m = m.channel(0)
                notes.append("\(path): \(mask.channels) equal channels, used as one gray mask")
            } else if let channels, channels != m.channels {
                throw DIPError.mismatch("\(path): the mask's \(m.channels) channels differ from each other, so it is a per-channel mask, but the image has \(channels) channel\(channels == 1 ? "" : "s"); save the mask as grayscale")
            } else {
                notes.append("\(path): the \(m.channels) channels differ, used as a per-channel mask")
            }
        }
        let low = lowKnownLevel(m)
        let threshold: Float = low.map { $0.value / 2 } ?? 0.5
        var nonBinary = 0
        for i in m.pixels.indices {
            let v = m.pixels[i]
            if v != 0 && v != 1 { nonBinary += 1 }
            // NaN compares false and so becomes a hole, the safe reading of a broken value.
            var known = v >= threshold
            if invert { known.toggle() }
            m.pixels[i] = known ? 1 : 0
        }
        if let low {
            notes.append("\(path): its values are 0 and \(low.stored), as \(low.origin): \(low.stored.prefix { $0 != " " }) read as known, 0 as hole; save white (255, or 65535 with 16 bits) for known to silence this")
        } else if nonBinary > 0 {
            notes.append("\(path): \(nonBinary) of \(m.pixels.count) values were neither black nor white (0 nor 255, or 65535 with 16 bits; anti-aliased or lossy?); thresholded at 50 %, at least half-white counts as known")
        }
        if invert { notes.append("\(path): inverted: its white pixels are the holes") }
        return NormalisedMask(mask: m, notes: notes)
    }
}
