import DIPCore
import DIPEngine
import Foundation

/// Turns a run's description into pixels: reads the image from the data folder, prepares it, and
/// makes its mask.
public enum Preparation {
    /// An image read and prepared, with what the report needs to know about it.
    public struct PreparedImage: Sendable {
        /// The prepared image (0...1).
        public var image: Image
        /// SHA-256 of the file that was read.
        public var sha256: String
        /// The crop window's top-left in the resized (or source) image, when a window was cut.
        public var cropOrigin: WindowOrigin?
        /// Whether that window was placed on the mask's holes (`holeWindow`), not centred.
        public var followsHoles = false
        /// `cropOrigin` where the window follows the holes (what a run's key records,
        /// `RunConfiguration.window`); nil for a centred window or none.
        public var holeWindowOrigin: WindowOrigin? { followsHoles ? cropOrigin : nil }
        /// The colour conversion that changed the image ("gray" or "rgb"); nil when none did
        /// (none asked for, or "auto" on a colour image, or "gray" on a gray one).
        public var convertedColour: String?
        /// The image's shape after the resize and crop-to-multiple steps, before the window and
        /// the padding: where text and file masks are made (so a run's mask needs no second
        /// decode of the image to learn it).
        public var sourceShape: (channels: Int, height: Int, width: Int)
    }

    /// Reads `ref` from `dataDirectory` and prepares it. With a text or file `mask` and a
    /// centre-crop window, the window is centred on the mask's holes (`holeWindow`: the densest
    /// window, or one half holes where windows hold more) instead of the image's centre, so a
    /// small crop still has holes to fill.
    public static func image(_ ref: ImageRef, dataDirectory: String, preprocessing: Preprocessing,
                             mask recipe: MaskRecipe? = nil) throws -> PreparedImage {
        let path = (dataDirectory as NSString).appendingPathComponent(ref.file)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DIPError.io(path: path, reason: "missing; get the test images with `dip-report data fetch` (or point --data / DIP_DATA at them)")
        }
        let bytes = [UInt8](data)
        let decoded = try PNGCodec.decode(bytes, name: path).image
        var img = decoded
        switch preprocessing.colour {
        case nil: break
        case "gray": img = img.asGray()
        case "rgb": img = img.asRGB()
        case "auto": if img.isGrayInColour { img = img.asGray() }
        case let other?:
            throw DIPError.invalidValue(name: "colour", value: other, reason: "must be gray, rgb or auto (or absent)")
        }
        let converted = img.channels == decoded.channels ? nil : img.channels == 1 ? "gray" : "rgb"
        let sized = try sizeSteps(img, preprocessing)
        let shape = (channels: sized.channels, height: sized.height, width: sized.width)
        var focus: (y: Int, x: Int)?
        switch recipe {
        case nil, .bernoulli?:
            break  // uniform holes: the centre is as good as any
        case .seedReportText?, .file?:
            if let side = preprocessing.centreCrop {
                let m = try sourceMask(recipe!, height: shape.height, width: shape.width, channels: shape.channels,
                                       dataDirectory: dataDirectory, preprocessing: preprocessing).mask
                focus = holeWindow(m, side: side)
            }
        }
        let (out, origin) = try windowSteps(sized, preprocessing, focus: focus)
        return PreparedImage(image: out, sha256: SHA256.hex(of: bytes), cropOrigin: origin, followsHoles: focus != nil && origin != nil,
                             convertedColour: converted, sourceShape: shape)
    }

    /// The geometric steps (resize, crop to a multiple, centre-crop window, pad), applied alike to
    /// images and to masks made at the source size.
    static func geometry(_ input: Image, _ p: Preprocessing, focus: (y: Int, x: Int)?,
                         origin fixed: WindowOrigin? = nil) throws -> (Image, WindowOrigin?) {
        try windowSteps(try sizeSteps(input, p), p, focus: focus, origin: fixed)
    }

    /// The steps that set the size: resize, then crop to a multiple.
    private static func sizeSteps(_ input: Image, _ p: Preprocessing) throws -> Image {
        var img = input
        if let r = p.resize, r.width != img.width || r.height != img.height {
            guard r.width >= 1, r.height >= 1 else {
                throw DIPError.invalidValue(name: "resize", value: r.description, reason: "sides must be at least 1")
            }
            img = img.resizedLikePillow(height: r.height, width: r.width)
        }
        if let d = p.cropToMultipleOf { img = try img.centreCropped(toMultipleOf: d) }
        return img
    }

    /// The steps after the size: the centre-crop window (at `fixed`, or centred on `focus`, or on
    /// the image's centre), then the reflection padding.
    private static func windowSteps(_ input: Image, _ p: Preprocessing, focus: (y: Int, x: Int)?,
                                    origin fixed: WindowOrigin? = nil) throws -> (Image, WindowOrigin?) {
        var img = input
        var origin: WindowOrigin?
        if let c = p.centreCrop, c.width < img.width || c.height < img.height {
            // A catalog file can say anything: a window must have pixels (the crop's own
            // precondition is no message for a user).
            guard c.width >= 1, c.height >= 1 else {
                throw DIPError.invalidValue(name: "centreCrop", value: c.description, reason: "sides must be at least 1")
            }
            let ch = min(c.height, img.height), cw = min(c.width, img.width)
            if let fixed {
                origin = fixed
            } else {
                let cy = focus?.y ?? img.height / 2, cx = focus?.x ?? img.width / 2
                origin = WindowOrigin(top: min(max(0, cy - ch / 2), img.height - ch), left: min(max(0, cx - cw / 2), img.width - cw))
            }
            img = img.cropped(top: origin!.top, left: origin!.left, height: ch, width: cw)
        }
        if let pad = p.reflectionPad, pad > 0 {
            guard pad < img.height, pad < img.width else {
                throw DIPError.invalidValue(name: "reflection padding", value: "\(pad)", reason: "must be smaller than the image (\(img.sizeDescription))")
            }
            img = img.reflectionPadded(by: pad)
        }
        return (img, origin)
    }

    /// A mask made, with its description.
    public struct PreparedMask: Sendable {
        /// 1 = known, 0 = hole; one channel or one per image channel.
        public var mask: Image
        /// "Bernoulli keep 0.5, seed 1, per channel".
        public var summary: String
        /// SHA-256 of the mask file's bytes as they were decoded (what `maskFileSHA256` gives while
        /// the file is unchanged); nil for drawn masks.
        public var fileSHA256: String?
        /// What reading a mask file found, one line each, as `inpaint` says it (channels,
        /// levels, thresholded edges, a polarity that looks inverted); empty for drawn masks.
        public var notes: [String] = []
    }

    /// SHA-256 of the file a `.file` recipe reads from `dataDirectory`; nil for drawn masks.
    /// Runs are keyed by the file's path, not its content, so records keep this to tell a mask
    /// edited in place since (as they keep the image's).
    public static func maskFileSHA256(_ recipe: MaskRecipe, dataDirectory: String) throws -> String? {
        guard case let .file(rel) = recipe else { return nil }
        return try SHA256.hex(ofFileAt: (dataDirectory as NSString).appendingPathComponent(rel))
    }

    /// The centre of the crop window whose holes come closest to the most any window holds,
    /// capped at half the window (searched on an 8-pixel grid, the first such window wins): a
    /// small crop of a text mask still has holes to fill, and one of the library's large holes
    /// is a half-known problem, as Table 1's, not a window of 96 % holes (the densest one).
    static func holeWindow(_ m: Image, side: ImageSize) -> (y: Int, x: Int)? {
        let h = m.height, w = m.width
        let wh = min(side.height, h), ww = min(side.width, w)
        var integral = [Int](repeating: 0, count: (h + 1) * (w + 1))
        for y in 0..<h {
            var row = 0
            for x in 0..<w {
                row += m[0, y, x] < 0.5 ? 1 : 0
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row
            }
        }
        var windows: [(holes: Int, centre: (y: Int, x: Int))] = []
        for top in stride(from: 0, through: h - wh, by: 8) {
            for left in stride(from: 0, through: w - ww, by: 8) {
                let n = integral[(top + wh) * (w + 1) + left + ww] - integral[top * (w + 1) + left + ww]
                    - integral[(top + wh) * (w + 1) + left] + integral[top * (w + 1) + left]
                windows.append((n, (top + wh / 2, left + ww / 2)))
            }
        }
        guard let most = windows.map(\.holes).max(), most > 0 else { return nil }
        let target = min(most, wh * ww / 2)
        return windows.min { abs($0.holes - target) < abs($1.holes - target) }?.centre
    }

    /// A text or file mask at the prepared size of the crop/pad pipeline `p` (no window), and for
    /// a file the SHA-256 of the bytes it was decoded from (`PreparedMask.fileSHA256`).
    static func sourceMask(_ recipe: MaskRecipe, height: Int, width: Int, channels: Int, dataDirectory: String,
                           preprocessing p: Preprocessing) throws -> (mask: Image, fileSHA256: String?, notes: [String]) {
        switch recipe {
        case .bernoulli:
            preconditionFailure("Bernoulli masks are drawn at the prepared size")
        case .seedReportText:
            // Drawn at the resized size, where the strings' positions are meant.
            let made = try MaskSpec.seedReportText.make(height: height, width: width, channels: channels)
            return (made.mask, nil, [])
        case let .file(rel):
            let path = (dataDirectory as NSString).appendingPathComponent(rel)
            guard FileManager.default.fileExists(atPath: path) else {
                throw DIPError.io(path: path, reason: "missing; get the test images with `dip-report data fetch` (or point --data / DIP_DATA at them)")
            }
            let bytes = try PNGCodec.fileBytes(path)
            // Read as inpaint and psnr read a mask file: a mask painted as transparency from its
            // alpha; equal channels as one, channels that differ as a per-channel mask (refused
            // on an image of another channel count); what the reading finds is noted. (Only the
            // first channel was read, silently: a per-channel mask lost two of its three.)
            let (values, alphaNote) = MaskFile.values(of: try PNGCodec.decode(bytes, name: path), path: path)
            let read = try MaskFile.binarise(values, path: path, channels: channels)
            var raw = read.mask.channels == values.channels ? values : values.channel(0)
            // A 0/1 file reads 1 as known, as inpaint and psnr read it (every pixel was a hole).
            // Other masks go on unchanged: their grey values are resized, then thresholded.
            if MaskFile.lowKnownLevel(raw) != nil { raw.pixels = raw.pixels.map { $0 > 0 ? 1 : 0 } }
            let m = try sizeSteps(raw, p)
            let binary = Image(channels: m.channels, height: m.height, width: m.width, pixels: m.pixels.map { $0 >= 0.5 ? 1 : 0 })
            let mask = try MaskFile.normalise(binary, path: path, height: height, width: width, channels: channels).mask
            let polarity = MaskFile.polarityWarning(MaskStatistics(mask), path: path, invert: false,
                                                    remedy: "save it inverted (a catalog's file mask is read as it is)")
            return (mask, SHA256.hex(of: bytes), (alphaNote.map { [$0] } ?? []) + read.notes + (polarity.map { [$0] } ?? []))
        }
    }

    /// The mask of a run at the prepared image's size: Bernoulli masks are drawn there from the
    /// run's seed (upstream draws Barbara's at 514²); text and file masks are made at the source
    /// size and go through the image's own crop and padding.
    public static func mask(_ recipe: MaskRecipe, for prepared: PreparedImage, seed: UInt64,
                            dataDirectory: String, preprocessing: Preprocessing) throws -> PreparedMask {
        let img = prepared.image
        switch recipe {
        case let .bernoulli(keep, perChannel):
            let spec = MaskSpec.bernoulli(keep: keep, seed: seed, perChannel: perChannel && img.channels == 3)
            let made = try spec.make(height: img.height, width: img.width, channels: img.channels)
            return PreparedMask(mask: made.mask, summary: made.summary)
        case .seedReportText, .file:
            let shape = prepared.sourceShape
            let (m, fileSHA256, notes) = try sourceMask(recipe, height: shape.height, width: shape.width, channels: shape.channels,
                                                        dataDirectory: dataDirectory, preprocessing: preprocessing)
            let (out, _) = try windowSteps(m, preprocessing, focus: nil, origin: prepared.cropOrigin)
            let binary = Image(channels: out.channels, height: out.height, width: out.width,
                               pixels: out.pixels.map { $0 >= 0.5 ? 1 : 0 })
            return PreparedMask(mask: binary, summary: recipe.summary, fileSHA256: fileSHA256, notes: notes)
        }
    }
}
