import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

/// The repository's fonts/ folder and the test fixtures, found from this file's path so the
/// tests need no resources in Package.swift.
private enum Fixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fonts = repository.appendingPathComponent("fonts").path
    static let freeSansBold = repository.appendingPathComponent("fonts/FreeSansBold.ttf").path
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden").path
}

private func temporaryDirectory() throws -> String {
    let dir = TestFolder.path("dip-mask-tests")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite("Bernoulli masks")
struct BernoulliMaskTests {
    @Test("the kept fraction is within 5 standard errors of P", arguments: [0.02, 0.25, 0.5, 0.9])
    func keptFraction(p: Double) throws {
        let mask = try BernoulliMask.make(channels: 1, height: 256, width: 256, keepFraction: p, seed: 7)
        let n = Double(mask.pixels.count)
        let kept = Double(MaskStatistics(mask).known) / n
        let standardError = (p * (1 - p) / n).squareRoot()
        #expect(abs(kept - p) < 5 * standardError, "kept \(kept) for P = \(p)")
        #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 1 })
    }

    @Test("P = 0 and P = 1 give all holes and (almost surely) all known")
    func extremes() throws {
        let none = try BernoulliMask.make(channels: 1, height: 64, width: 64, keepFraction: 0, seed: 1)
        #expect(MaskStatistics(none).known == 0)
        let all = try BernoulliMask.make(channels: 1, height: 64, width: 64, keepFraction: 1, seed: 1)
        #expect(MaskStatistics(all).holes == 0)
    }

    @Test("the same seed gives the same mask; other seeds give other masks")
    func determinism() throws {
        let a = try BernoulliMask.make(channels: 1, height: 100, width: 70, keepFraction: 0.5, seed: 42)
        let b = try BernoulliMask.make(channels: 1, height: 100, width: 70, keepFraction: 0.5, seed: 42)
        let c = try BernoulliMask.make(channels: 1, height: 100, width: 70, keepFraction: 0.5, seed: 43)
        #expect(a == b)
        let differing = zip(a.pixels, c.pixels).filter { $0 != $1 }.count
        // Two independent P = 0.5 masks differ in about half the pixels.
        #expect(differing > 3000 && differing < 4000, "\(differing) of 7000 differ")
    }

    @Test("element i is word i of the seed's mask stream, kept iff u > 1 - P")
    func documentedDraws() throws {
        let p = 0.3
        let mask = try BernoulliMask.make(channels: 3, height: 5, width: 7, keepFraction: p, seed: 2024)
        let stream = RandomStream(seed: 2024, purpose: .mask)
        for i in [0, 1, 2, 3, 4, 5, 50, 104] {
            let w = stream.words(block: UInt64(i / 4))
            let word = [w.0, w.1, w.2, w.3][i % 4]
            let expected: Float = Double(RandomStream.unitFloat(word)) > 1 - p ? 1 : 0
            #expect(mask.pixels[i] == expected, "element \(i)")
        }
        // So a shared mask is exactly channel 0 of the per-channel mask of the same seed.
        let shared = try BernoulliMask.make(channels: 1, height: 5, width: 7, keepFraction: p, seed: 2024)
        #expect(shared == mask.channel(0))
    }

    @Test("per-channel masks are independent across channels")
    func perChannelIndependence() throws {
        let p = 0.5
        let mask = try BernoulliMask.make(channels: 3, height: 128, width: 128, keepFraction: p, seed: 9)
        let n = mask.planeSize
        let standardError = (p * p * (1 - p * p) / Double(n)).squareRoot()
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            var both = 0
            for i in 0..<n where mask.pixels[a * n + i] == 1 && mask.pixels[b * n + i] == 1 { both += 1 }
            // Independent channels: P(both kept) = P^2.
            #expect(abs(Double(both) / Double(n) - p * p) < 5 * standardError, "channels \(a), \(b)")
        }
    }

    @Test("a keep fraction outside 0...1 is refused with its value")
    func badFraction() {
        #expect(throws: DIPError.self) {
            try BernoulliMask.make(channels: 1, height: 8, width: 8, keepFraction: 1.5, seed: 0)
        }
        do {
            _ = try BernoulliMask.make(channels: 1, height: 8, width: 8, keepFraction: .nan, seed: 0)
            Issue.record("NaN accepted")
        } catch {
            #expect("\(error)".contains("nan"))
        }
    }
}

@Suite("Text masks")
struct TextMaskTests {
    @Test("seed-report preset: holes only inside each string's FreeType box, and the box is filled to its edges")
    func seedReportGeometry() throws {
        let mask = try TextMask.render(TextMask.seedReport, height: 512, width: 512, fontPath: Fixtures.freeSansBold)
        #expect(mask.pixels.allSatisfy { $0 == 0 || $0 == 1 })
        let boxes = try TextMask.seedReport.map { try TextMask.inkBox(of: $0, fontPath: Fixtures.freeSansBold) }
        // Pixel-index ranges a box may touch: pixel x spans [x, x+1), so ink from 128.4 to
        // 300.2 covers pixels 128...300. One pixel of margin absorbs rounding in the rasteriser.
        let margin = 1
        var holesPerBox = [Int](repeating: 0, count: boxes.count)
        var extents = [(Int, Int, Int, Int)](repeating: (Int.max, Int.max, Int.min, Int.min), count: boxes.count)
        for y in 0..<512 {
            for x in 0..<512 where mask[0, y, x] == 0 {
                let owner = boxes.firstIndex { box in
                    x >= Int(box.minX.rounded(.down)) - margin && x <= Int(box.maxX.rounded(.up)) - 1 + margin &&
                        y >= Int(box.minY.rounded(.down)) - margin && y <= Int(box.maxY.rounded(.up)) - 1 + margin
                }
                guard let owner else {
                    Issue.record("hole at (\(x), \(y)) outside every string's box")
                    continue
                }
                holesPerBox[owner] += 1
                let e = extents[owner]
                extents[owner] = (min(e.0, x), min(e.1, y), max(e.2, x), max(e.3, y))
            }
        }
        for (i, box) in boxes.enumerated() {
            let area = (box.maxX - box.minX) * (box.maxY - box.minY)
            // Bold text covers roughly a third to a half of its box.
            #expect(Double(holesPerBox[i]) > 0.25 * area && Double(holesPerBox[i]) < 0.8 * area,
                    "\(TextMask.seedReport[i].label): \(holesPerBox[i]) holes in a box of \(area) px²")
            let e = extents[i]
            #expect(abs(e.0 - Int(box.minX.rounded(.down))) <= margin, "left edge of \(TextMask.seedReport[i].label)")
            #expect(abs(e.1 - Int(box.minY.rounded(.down))) <= margin, "top edge of \(TextMask.seedReport[i].label)")
            #expect(abs(e.2 - (Int(box.maxX.rounded(.up)) - 1)) <= margin, "right edge of \(TextMask.seedReport[i].label)")
            #expect(abs(e.3 - (Int(box.maxY.rounded(.up)) - 1)) <= margin, "bottom edge of \(TextMask.seedReport[i].label)")
        }
    }

    @Test("PIL placement: the baseline is y + the ascender; capitals start just below y")
    func placement() throws {
        // FreeSansBold sets OS/2 USE_TYPO_METRICS, so FreeType (2.12.1 here, 2.14.3 in Pillow
        // 13.0.0) takes the typo ascender, 800/1000 em: 24 px at 30 px and 20 px at 25 px.
        // Pillow's ImageFont.truetype("fonts/FreeSansBold.ttf", 30).getmetrics() gives (24, 6).
        #expect(try TextMask.baseline(of: TextMask.seedReport[0], fontPath: Fixtures.freeSansBold) == 128 + 24)
        #expect(try TextMask.baseline(of: TextMask.seedReport[1], fontPath: Fixtures.freeSansBold) == 300 + 20)
        // Pillow 13.0.0 with raqm layout: ImageDraw.text((128, 128), "Image Corruption", fill=0,
        // font=ImageFont.truetype("fonts/FreeSansBold.ttf", 30)) on a white 512x512 "L" image
        // darkens rows 129...158 and columns 130...379 (377 with the basic layout, no kerning).
        let box = try TextMask.inkBox(of: TextMask.seedReport[0], fontPath: Fixtures.freeSansBold)
        #expect(Int(box.minY.rounded(.down)) == 129 && Int(box.maxY.rounded(.up)) - 1 == 158, "\(box)")
        #expect(Int(box.minX.rounded(.down)) == 130 && abs(Int(box.maxX.rounded(.up)) - 1 - 379) <= 2, "\(box)")
    }

    /// Made by `dip-report mask --preset seed-report --out Tests/DIPCoreTests/Golden/seed-report-text-mask.png`
    /// with these renderer versions (Debian 12). It is also pixel-identical to Pillow 13.0.0's
    /// rendering with raqm layout: ImageDraw.text((x, y), s, font=ImageFont.truetype(
    /// "fonts/FreeSansBold.ttf", size), fill=0) for the three strings on a white 512x512 "L"
    /// image, holes = pixels below 255 (7562 of them in both).
    static let goldenRenderer = "cairo 1.16.0, FreeType 2.12.1"

    @Test("seed-report preset equals the committed golden mask")
    func seedReportGolden() throws {
        let golden = try PNGCodec.read(Fixtures.golden + "/seed-report-text-mask.png").image
        let mask = try TextMask.render(TextMask.seedReport, height: 512, width: 512, fontPath: Fixtures.freeSansBold)
        #expect(MaskStatistics(golden).holes == 7562)
        let differing = zip(golden.pixels, mask.pixels).filter { $0 != $1 }.count
        if TextMask.rendererVersion == Self.goldenRenderer {
            #expect(differing == 0, "regenerate the golden only if the change is intended (see goldenRenderer)")
        } else {
            // Another rasteriser may shade a few edge pixels differently; the shapes must agree.
            #expect(differing < 76, "\(differing) pixels differ under \(TextMask.rendererVersion)")
        }
    }

    @Test("rendering is deterministic")
    func deterministic() throws {
        let stamps = [TextStamp(text: "hello world", fontSize: 20, x: 10.5, y: 3)]
        let a = try TextMask.render(stamps, height: 40, width: 160, fontPath: Fixtures.freeSansBold)
        let b = try TextMask.render(stamps, height: 40, width: 160, fontPath: Fixtures.freeSansBold)
        #expect(a == b)
        #expect(MaskStatistics(a).holes > 200)
    }

    @Test("a missing font and a file that is no font are errors naming the file")
    func badFonts() throws {
        let missing = "/nonexistent/NoSuchFont.ttf"
        do {
            _ = try TextMask.render(TextMask.seedReport, height: 512, width: 512, fontPath: missing)
            Issue.record("missing font accepted")
        } catch let error as DIPError {
            #expect(error.description.contains(missing))
        }
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fake = dir + "/fake.ttf"
        try Data("this is not a font".utf8).write(to: URL(fileURLWithPath: fake))
        do {
            _ = try TextMask.render(TextMask.seedReport, height: 512, width: 512, fontPath: fake)
            Issue.record("non-font accepted")
        } catch let error as DIPError {
            #expect(error.description.contains(fake))
            #expect(error.description.contains("not a font"))
        }
    }

    @Test("a stamp wholly outside the image, an empty stamp and a silly size are refused")
    func badStamps() throws {
        let outside = TextStamp(text: "Far Away", fontSize: 20, x: 600, y: 10)
        do {
            _ = try TextMask.render([TextMask.seedReport[0], outside], height: 512, width: 512,
                                   fontPath: Fixtures.freeSansBold)
            Issue.record("stamp outside the image accepted")
        } catch let error as DIPError {
            #expect(error.description.contains("Far Away"))
            #expect(error.description.contains("outside"))
        }
        // Partly outside is fine: the visible part is drawn.
        let partly = try TextMask.render([TextStamp(text: "Edge", fontSize: 20, x: -10, y: 0)],
                                         height: 30, width: 30, fontPath: Fixtures.freeSansBold)
        #expect(MaskStatistics(partly).holes > 0)
        #expect(throws: DIPError.self) {
            try TextMask.render([TextStamp(text: "", fontSize: 20, x: 0, y: 0)], height: 30, width: 30,
                                fontPath: Fixtures.freeSansBold)
        }
        #expect(throws: DIPError.self) {
            try TextMask.render([TextStamp(text: "   ", fontSize: 20, x: 0, y: 0)], height: 30, width: 30,
                                fontPath: Fixtures.freeSansBold)
        }
        #expect(throws: DIPError.self) {
            try TextMask.render([TextStamp(text: "x", fontSize: 0, x: 0, y: 0)], height: 30, width: 30,
                                fontPath: Fixtures.freeSansBold)
        }
    }
}

@Suite("Font folder")
struct FontDirectoryTests {
    @Test("DIP_FONTS wins and is the only place searched")
    func environment() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FontDirectory.candidates(environment: ["DIP_FONTS": dir], currentDirectory: "/", executablePath: nil) == [dir])
        do {
            _ = try FontDirectory.locate("FreeSansBold.ttf", environment: ["DIP_FONTS": dir],
                                         currentDirectory: Fixtures.repository.path, executablePath: nil)
            Issue.record("found a font outside DIP_FONTS")
        } catch let error as DIPError {
            #expect(error.description.contains(dir))
            #expect(error.description.contains("DIP_FONTS"))
        }
    }

    @Test("found from the working directory, and from a build folder's or an install's executable")
    func searchOrder() throws {
        let fromRepo = try FontDirectory.locate("FreeSansBold.ttf", environment: [:],
                                                currentDirectory: Fixtures.repository.path, executablePath: nil)
        #expect(fromRepo == Fixtures.freeSansBold)
        let exe = Fixtures.repository.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug/dip-report").path
        let fromBuild = try FontDirectory.locate("FreeSansBold.ttf", environment: [:], currentDirectory: "/",
                                                 executablePath: exe)
        #expect(fromBuild == Fixtures.freeSansBold)
        let prefix = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        try FileManager.default.createDirectory(atPath: prefix + "/share/dip-report/fonts", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.freeSansBold, toPath: prefix + "/share/dip-report/fonts/FreeSansBold.ttf")
        let installed = try FontDirectory.locate("FreeSansBold.ttf", environment: [:], currentDirectory: "/",
                                                 executablePath: prefix + "/bin/dip-report")
        #expect(installed == URL(fileURLWithPath: prefix + "/share/dip-report/fonts/FreeSansBold.ttf").standardizedFileURL.path)
    }
}

@Suite("Mask files")
struct MaskFileTests {
    /// A gray mask with the left `holes` columns black.
    private func mask(height: Int = 4, width: Int = 10, holes: Int, channels: Int = 1) -> Image {
        var m = Image(channels: channels, height: height, width: width, value: 1)
        for c in 0..<channels { for y in 0..<height { for x in 0..<holes { m[c, y, x] = 0 } } }
        return m
    }

    @Test("a good mask passes unchanged and without notes")
    func clean() throws {
        let m = mask(holes: 3)
        let result = try MaskFile.normalise(m, path: "m.png", height: 4, width: 10)
        #expect(result.mask == m)
        #expect(result.notes.isEmpty)
    }

    @Test("a mask of the wrong size is refused, naming both sizes")
    func sizeMismatch() {
        do {
            _ = try MaskFile.normalise(mask(holes: 3), path: "m.png", height: 512, width: 320)
            Issue.record("wrong size accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("m.png") && text.contains("10x4") && text.contains("320x512"))
        }
    }

    @Test("grey values are thresholded at 50 % and counted")
    func nonBinary() throws {
        var m = mask(holes: 3)
        m[0, 0, 5] = 0.6
        m[0, 1, 5] = 0.4
        m[0, 2, 0] = 0.2
        let result = try MaskFile.normalise(m, path: "m.png", height: 4, width: 10)
        #expect(result.mask[0, 0, 5] == 1 && result.mask[0, 1, 5] == 0 && result.mask[0, 2, 0] == 0)
        #expect(result.mask.pixels.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(result.notes.contains { $0.contains("3 of 40") })
    }

    @Test("mostly holes raises the polarity warning with the --invert hint, and --invert flips; Table 1's half holes do not")
    func polarity() throws {
        let m = mask(holes: 9)
        let result = try MaskFile.normalise(m, path: "m.png", height: 4, width: 10)
        #expect(result.notes.contains { $0.hasPrefix("warning:") && $0.contains("--invert") && $0.contains("90.0 %") })
        let inverted = try MaskFile.normalise(m, path: "m.png", height: 4, width: 10, invert: true)
        #expect(MaskStatistics(inverted.mask).holes == 4)  // the one known column, 4 rows
        #expect(!inverted.notes.contains { $0.hasPrefix("warning:") })
        #expect(inverted.notes.contains("m.png: inverted: its white pixels are the holes"))
        // A Bernoulli mask of Table 1 holds about half holes: a valid mask, no suspicion.
        let half = try BernoulliMask.make(channels: 1, height: 64, width: 64, keepFraction: 0.5, seed: 1)
        #expect(MaskStatistics(half).holeFraction > 0.5)
        #expect(try MaskFile.normalise(half, path: "m.png", height: 64, width: 64).notes.isEmpty)
    }

    @Test("a 0/1 mask saved as 8 bits reads 1 as known, and says so; a mask read as all holes says what it saw")
    func zeroOne() throws {
        var m = mask(holes: 3)
        for i in m.pixels.indices where m.pixels[i] == 1 { m.pixels[i] = 1 / 255 }
        let result = try MaskFile.normalise(m, path: "m01.png", height: 4, width: 10)
        #expect(result.mask == mask(holes: 3))
        #expect(result.notes == ["m01.png: its values are 0 and 1 (out of 255), as a 0/1 array saved as 8 bits: 1 read as known, 0 as hole; save white (255, or 65535 with 16 bits) for known to silence this"])
        // The same mask as 16-bit files holding 0/1 and 0/255 (an 8-bit mask saved with 16 bits),
        // through a real file: read alike, each said (psnr read them as all holes).
        let folder = TestFolder.path("zero-one")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (stored, origin) in [(1, "a 0/1 array saved as 16 bits"), (255, "an 8-bit mask saved as 16 bits")] {
            var wide = mask(holes: 3)
            for i in wide.pixels.indices where wide.pixels[i] == 1 { wide.pixels[i] = Float(stored) / 65535 }
            let path = folder + "/m\(stored).png"
            try PNGCodec.write(wide, to: path, bitDepth: 16)
            let read = try MaskFile.normalise(try PNGCodec.read(path).image, path: "m.png", height: 4, width: 10)
            #expect(read.mask == mask(holes: 3))
            #expect(read.notes == ["m.png: its values are 0 and \(stored) (out of 65535), as \(origin): \(stored) read as known, 0 as hole; save white (255, or 65535 with 16 bits) for known to silence this"])
        }
        // Grey values that all fall below half: the error names them, not only "all holes".
        var dark = mask(holes: 3)
        for i in dark.pixels.indices where dark.pixels[i] == 1 { dark.pixels[i] = 0.3 }
        #expect {
            try MaskFile.normalise(dark, path: "dark.png", height: 4, width: 10)
        } throws: { "\($0)".contains("every pixel is a hole") && "\($0)".contains("28 of 40 values were neither black nor white") }
    }

    @Test("an RGB mask with equal channels becomes one channel; unequal ones stay per-channel")
    func rgb() throws {
        let rgb = mask(holes: 3, channels: 3)
        let result = try MaskFile.normalise(rgb, path: "m.png", height: 4, width: 10, channels: 3)
        #expect(result.mask == mask(holes: 3))
        #expect(result.notes.contains { $0.contains("equal channels") })
        var perChannel = rgb
        perChannel[2, 0, 9] = 0
        let kept = try MaskFile.normalise(perChannel, path: "m.png", height: 4, width: 10, channels: 3)
        #expect(kept.mask.channels == 3)
        #expect(throws: DIPError.self) {
            try MaskFile.normalise(perChannel, path: "m.png", height: 4, width: 10, channels: 1)
        }
    }

    @Test("all holes or no holes is an error")
    func degenerate() {
        do {
            _ = try MaskFile.normalise(mask(holes: 10), path: "black.png", height: 4, width: 10)
            Issue.record("all-hole mask accepted")
        } catch {
            #expect("\(error)".contains("black.png") && "\(error)".contains("nothing is known"))
        }
        do {
            _ = try MaskFile.normalise(mask(holes: 0), path: "white.png", height: 4, width: 10)
            Issue.record("hole-free mask accepted")
        } catch {
            #expect("\(error)".contains("white.png") && "\(error)".contains("nothing to inpaint"))
        }
        #expect(throws: DIPError.self) {
            try MaskFile.normalise(mask(holes: 0), path: "white.png", height: 4, width: 10, invert: true)
        }
    }
}
