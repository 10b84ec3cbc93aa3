import ArgumentParser
import DIPCore
import Foundation

/// `dip-report mask`: makes a Bernoulli or text mask, or checks a user's mask file, and writes
/// it as a PNG with 255 = known and 0 = hole.
struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mask",
        abstract: "Make an inpainting mask (Bernoulli or text), or check and normalise your own.",
        discussion: """
            Masks are PNG files where 255 (white) marks a known pixel and 0 (black) a hole; the \
            corrupted image is image x mask. Choose one kind: --bernoulli P (the default, P = 0.5), \
            --text (with --font-size and --at), --preset seed-report, or --from FILE. The size comes \
            from --size WxH or --like IMAGE.png (--preview IMAGE also gives it; --from and \
            --preset have their own). The font is fonts/FreeSansBold.ttf, found via $DIP_FONTS, \
            ./fonts or beside the executable, unless --font names one.

            Examples:
              dip-report mask --like barbara.png --bernoulli 0.5 --seed 1 --out m.png
              dip-report mask --preset seed-report --out m.png \\
                --preview kate.png --preview-out kate-text.png
              dip-report mask --size 320x200 --text Hi --font-size 40 --at 20,30 \\
                --out m.png
              dip-report mask --from theirs.png --like photo.png --invert --out m.png
            """)

    /// The named masks.
    enum Preset: String, ExpressibleByArgument, CaseIterable {
        case seedReport = "seed-report"
    }

    @Option(parsing: .unconditional, help: ArgumentHelp("Mask size as WIDTHxHEIGHT, e.g. 512x512 (each side 1 to \(Image.maxSide)).", valueName: "WxH"), transform: ImageSize.parse)
    var size: ImageSize?

    @Option(help: ArgumentHelp("Take the size from this PNG (and check --from against it).", valueName: "IMAGE.png"))
    var like: String?

    @Option(help: ArgumentHelp("Where to write the mask PNG (255 = known, 0 = hole).", valueName: "mask.png"))
    var out: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Bernoulli mask keeping this fraction of pixels, 0 < P <= 1 (default 0.5 when no other kind is chosen).", valueName: "P"))
    var bernoulli: Double?

    @Option(parsing: .unconditional, help: "Seed of the Bernoulli mask, 0 to \(UInt64.max) (default 0); the same seed gives the same mask on every machine.")
    var seed: UInt64?

    @Flag(help: "Draw an independent Bernoulli mask per colour channel (3 channels), as upstream does for RGB images.")
    var perChannel = false

    @OptionGroup(title: "Text mask")
    var text: TextMaskOptions

    @Option(help: ArgumentHelp("A named mask: seed-report (the seed report's three strings, 512x512 unless a size is given).", valueName: "NAME"))
    var preset: Preset?

    @Option(help: ArgumentHelp("Check and normalise this mask PNG instead of making one.", valueName: "FILE"))
    var from: String?

    @Flag(help: "With --from: swap known and hole, for masks whose white marks the holes.")
    var invert = false

    @Option(help: ArgumentHelp("Also write this image times the mask, to see the corruption.", valueName: "IMAGE.png"))
    var preview: String?

    @Option(name: .customLong("preview-out"), help: ArgumentHelp("Where to write the --preview picture.", valueName: "corrupted.png"))
    var previewOut: String?

    func validate() throws {
        let kinds = [bernoulli != nil, text.isChosen, preset != nil, from != nil].filter { $0 }.count
        if kinds > 1 {
            throw ValidationError("choose one kind of mask: --bernoulli, --text, --preset or --from")
        }
        if size != nil && like != nil { throw ValidationError("give --size or --like, not both") }
        if size == nil && like == nil && preview == nil && from == nil && preset == nil {
            throw ValidationError("give --size WxH, --like IMAGE.png or --preview IMAGE.png: a \(text.isChosen ? "--text" : "--bernoulli") mask needs a size")
        }
        if (preview == nil) != (previewOut == nil) {
            throw ValidationError("--preview and --preview-out go together")
        }
        if let p = bernoulli, !(p > 0 && p <= 1) {
            throw ValidationError("--bernoulli \(p): give the fraction of pixels kept, more than 0 and at most 1")
        }
        let isBernoulli = kinds == 0 || bernoulli != nil
        let bernoulliOnly = [seed != nil ? "--seed" : nil, perChannel ? "--per-channel" : nil].compactMap { $0 }
        if !isBernoulli && !bernoulliOnly.isEmpty {
            throw ValidationError("\(bernoulliOnly.joined(separator: " and ")) appl\(bernoulliOnly.count == 1 ? "ies" : "y") to Bernoulli masks only")
        }
        if invert && from == nil { throw ValidationError("--invert applies to --from") }
        let outputs = [NamedPath(flag: "--out", path: out)] + (previewOut.map { [NamedPath(flag: "--preview-out", path: $0)] } ?? [])
        let inputs = [("--like", like), ("--from", from), ("--preview", preview), ("--font", text.font)]
            .compactMap { flag, path in path.map { NamedPath(flag: flag, path: $0) } }
        for picture in outputs { try OutputFiles.checkPNGName(picture) }
        try OutputFiles.check(outputs, inputs: inputs)
    }

    func run() throws {
        let reference = try like.map { try PNGCodec.read($0).image }
        let previewImage = try preview.map { try PNGCodec.read($0).image }
        var target = size.map { (height: $0.height, width: $0.width, channels: Int?.none) }
            ?? reference.map { (height: $0.height, width: $0.width, channels: Int?.some($0.channels)) }
        if let previewImage, let preview {
            if let t = target, t.height != previewImage.height || t.width != previewImage.width {
                throw DIPError.mismatch("\(preview) is \(previewImage.width)x\(previewImage.height) but the mask is to be \(t.width)x\(t.height); preview on an image of the mask's size")
            }
            var t = target ?? (previewImage.height, previewImage.width, nil)
            t.channels = t.channels ?? previewImage.channels
            target = t
        }

        let spec: MaskSpec
        if let from {
            spec = .file(path: from, invert: invert)
            if let size, like == nil, preview == nil {
                // No image to match: the message below would speak of one.
                let d = try PNGCodec.dimensions(from)
                if d.width != size.width || d.height != size.height {
                    throw DIPError.mismatch("\(from): the mask is \(d.width)x\(d.height) but --size is \(size.width)x\(size.height); --from checks a mask, it does not resize one (leave --size out to keep the mask's own size)")
                }
            }
            if target == nil {
                let decoded = try PNGCodec.read(from)
                target = (decoded.image.height, decoded.image.width, nil)
            }
        } else if preset != nil {
            spec = .seedReportText
            target = target ?? (TextMask.seedReportSize.height, TextMask.seedReportSize.width, nil)
        } else if text.isChosen {
            spec = text.spec
        } else {
            spec = .bernoulli(keep: bernoulli ?? 0.5, seed: seed ?? 0, perChannel: perChannel)
        }
        guard let t = target else { throw ValidationError("give --size WxH or --like IMAGE.png") }  // validate() saw to it
        let made = try spec.make(height: t.height, width: t.width, channels: t.channels)
        let mask = made.mask, notes = made.notes, what = made.summary

        // Encode everything before writing anything, so a bad preview leaves no mask behind.
        let maskBytes = try PNGCodec.encode(mask)
        var previewBytes: [UInt8]?
        if let previewImage, let preview {
            guard mask.channels == 1 || mask.channels == previewImage.channels else {
                throw DIPError.mismatch("\(preview) is gray but the mask has \(mask.channels) channels; preview a per-channel mask on an RGB image")
            }
            previewBytes = try PNGCodec.encode(previewImage.masked(by: mask))
        }
        try AtomicFile.write(maskBytes, to: out)
        if let previewBytes, let previewOut {
            do {
                try AtomicFile.write(previewBytes, to: previewOut)
            } catch {
                unlink(out)
                throw error
            }
        }

        let stats = MaskStatistics(mask)
        let unit = mask.channels == 1 ? "pixels" : "samples over \(mask.channels) channels"
        print("\(out): \(mask.width)x\(mask.height), \(mask.channels) channel\(mask.channels == 1 ? "" : "s"), "
            + "\(String(format: "%.2f", stats.knownFraction * 100)) % known, \(stats.holes) hole \(unit) (\(what))"
            + (previewOut.map { "; preview \($0)" } ?? ""))
        for note in notes { printNote(note) }
    }
}
