import ArgumentParser
import DIPCore
import Foundation

/// `dip-report psnr A.png B.png [--mask M.png]`: PSNR and SSIM of two images, as the paper computes them.
struct PSNRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "psnr",
        abstract: "Print PSNR and SSIM between two PNG images (optionally over a mask's holes and known pixels).",
        discussion: """
            PSNR is upstream's: 10 log10(1/MSE) with samples in [0, 1], the MSE over all channels and \
            pixels. SSIM is scikit-image's structural_similarity with an 11x11 Gaussian window \
            (sigma 1.5), data range 1, averaged over channels. With --mask (white, 255 = known \
            pixel, black, 0 = hole, as the DIP repository's masks; read as `inpaint` reads one: \
            grey values thresholded at half, a 0/1 file read as 1 = known, each said) the scores are also given over the holes \
            only and the known pixels only; those SSIMs average the SSIM map over the region within \
            the same 5-pixel border crop as the whole-image score (so a region covering every pixel \
            scores exactly the whole image).
            """)

    @Argument(help: ArgumentHelp("One image, usually the ground truth.", valueName: "A.png"))
    var first: String

    @Argument(help: ArgumentHelp("The image to compare with it.", valueName: "B.png"))
    var second: String

    @Option(name: .long, help: ArgumentHelp("A mask of the same size: white (255) = known pixel, black (0) = hole.", valueName: "M.png"))
    var mask: String?

    @Flag(help: "With --mask: swap known and hole, for a mask whose white marks the holes (as inpaint's --invert).")
    var invert = false

    func validate() throws {
        if invert, mask == nil { throw ValidationError("--invert needs --mask M.png") }
    }

    func run() throws {
        let a = try load(first), b = try load(second)
        if a.channels != b.channels || a.height != b.height || a.width != b.width {
            throw DIPError.mismatch("\(first) is \(a.sizeDescription) but \(second) is \(b.sizeDescription); "
                + "PSNR needs two images of the same size and colour mode")
        }
        var m: Image? = nil
        if let maskPath = mask {
            let decoded = try PNGCodec.read(maskPath)
            let (raw, alphaNote) = MaskFile.values(of: decoded, path: maskPath)
            if let alphaNote { printNote(alphaNote) }
            if raw.height != a.height || raw.width != a.width {
                throw DIPError.mismatch("mask \(maskPath) is \(raw.sizeDescription) but the images are \(a.sizeDescription); "
                    + "the mask needs the same size (gray, or one channel per image channel)")
            }
            // Read as inpaint reads a mask (0/1 files, grey values, channels), saying how.
            let read = try MaskFile.binarise(raw, path: maskPath, channels: a.channels, invert: invert)
            for note in read.notes { printNote(note) }
            // All holes is allowed here (the holes' scores are then the whole image's), but
            // mostly holes is worth the same warning as inpaint's.
            if let warning = MaskFile.polarityWarning(MaskStatistics(read.mask), path: maskPath, invert: invert) { printNote(warning) }
            m = read.mask
        }
        let scores = try Metrics.scores(a, b, mask: m)
        print("A: \(first) (\(a.sizeDescription))")
        print("B: \(second) (\(b.sizeDescription))")
        if let mask { print("mask: \(mask)") }
        print("")
        print("region  share    PSNR (dB)  SSIM")
        for s in scores {
            let share = String(format: "%5.1f%%", s.fraction * 100)
            // + 0: an MSE of 1 gives -0.0, printed "-0.0000".
            let psnr = s.psnr.isNaN ? "n/a" : s.psnr.isInfinite ? "inf" : String(format: "%.4f", s.psnr + 0)
            let ssim = s.ssim.map { $0.isNaN ? "n/a" : String(format: "%.6f", $0) } ?? "n/a (smaller than 11x11)"
            print(s.region.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0) + "  " + share + "   "
                  + psnr.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + ssim)
        }
    }

    /// Reads a PNG and tells the user when transparency was ignored.
    private func load(_ path: String) throws -> Image {
        let decoded = try PNGCodec.read(path)
        if decoded.droppedAlpha {
            printNote("\(path) has transparency (\(decoded.sourceFormat)); it is ignored, only the colour is compared")
        }
        return decoded.image
    }
}
