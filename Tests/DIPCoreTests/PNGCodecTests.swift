import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

/// Where the imaging tests find their files (the shared images: `SharedTestData`).
enum ImagingTestData {
    /// The committed PNG fixtures (written by Fixtures/png/make_fixtures.py).
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/png/\(name)").path
    }

    /// A fresh empty folder under the system's temporary directory.
    static func temporaryFolder() throws -> String {
        let path = TestFolder.path("dip-png-tests")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// The fixtures' pixel formula, the same as `sample()` in make_fixtures.py.
private func sample(_ c: Int, _ y: Int, _ x: Int, bits: Int) -> Int {
    let mult = [1: 1, 2: 1, 4: 3, 8: 29, 16: 2459][bits]!
    return ((x * 7 + y * 13 + c * 5 + 3) * mult) % (1 << bits)
}

/// Palette entry k of the palette fixtures, as in make_fixtures.py.
private func paletteEntry(_ k: Int) -> [Int] {
    [(k * 40 + 10) % 256, ((255 - k * 30) % 256 + 256) % 256, (k * 17) % 256]
}

/// One fixture and what reading it must give.
struct PNGFixture: CustomStringConvertible, Sendable {
    let file: String
    let channels: Int
    let bits: Int
    let palette: Bool
    let droppedAlpha: Bool
    let sourceFormat: String
    var description: String { file }

    /// The expected image, from the formula (5 x 3 pixels).
    var expected: Image {
        var image = Image(channels: channels, height: 3, width: 5)
        let maxValue = Float((1 << bits) - 1)
        for y in 0..<3 {
            for x in 0..<5 {
                for c in 0..<channels {
                    if palette {
                        let k = (x + 2 * y) % (1 << bits)
                        image[c, y, x] = Float(paletteEntry(k)[c]) / 255
                    } else {
                        image[c, y, x] = Float(sample(c, y, x, bits: bits)) / maxValue
                    }
                }
            }
        }
        return image
    }
}

@Suite("PNG codec")
struct PNGCodecTests {
    static let fixtures: [PNGFixture] = {
        var list: [PNGFixture] = []
        for b in [1, 2, 4, 8, 16] {
            list.append(.init(file: "gray\(b).png", channels: 1, bits: b, palette: false, droppedAlpha: false, sourceFormat: "\(b)-bit gray"))
        }
        list += [
            .init(file: "gray8-trns.png", channels: 1, bits: 8, palette: false, droppedAlpha: true, sourceFormat: "8-bit gray with tRNS transparency"),
            .init(file: "gray16-trns.png", channels: 1, bits: 16, palette: false, droppedAlpha: true, sourceFormat: "16-bit gray with tRNS transparency"),
            .init(file: "gray-alpha8.png", channels: 1, bits: 8, palette: false, droppedAlpha: true, sourceFormat: "8-bit gray+alpha"),
            .init(file: "gray-alpha16.png", channels: 1, bits: 16, palette: false, droppedAlpha: true, sourceFormat: "16-bit gray+alpha"),
            .init(file: "gray-alpha16-adam7.png", channels: 1, bits: 16, palette: false, droppedAlpha: true, sourceFormat: "16-bit gray+alpha"),
            .init(file: "rgb8.png", channels: 3, bits: 8, palette: false, droppedAlpha: false, sourceFormat: "8-bit RGB"),
            .init(file: "rgb8-adam7.png", channels: 3, bits: 8, palette: false, droppedAlpha: false, sourceFormat: "8-bit RGB"),
            .init(file: "rgb8-gamma1.png", channels: 3, bits: 8, palette: false, droppedAlpha: false, sourceFormat: "8-bit RGB"),
            .init(file: "rgb8-trns.png", channels: 3, bits: 8, palette: false, droppedAlpha: true, sourceFormat: "8-bit RGB with tRNS transparency"),
            .init(file: "rgb16.png", channels: 3, bits: 16, palette: false, droppedAlpha: false, sourceFormat: "16-bit RGB"),
            .init(file: "rgb16-adam7.png", channels: 3, bits: 16, palette: false, droppedAlpha: false, sourceFormat: "16-bit RGB"),
            .init(file: "rgba8.png", channels: 3, bits: 8, palette: false, droppedAlpha: true, sourceFormat: "8-bit RGBA"),
            .init(file: "rgba16.png", channels: 3, bits: 16, palette: false, droppedAlpha: true, sourceFormat: "16-bit RGBA"),
            .init(file: "rgba16-gamma1.png", channels: 3, bits: 16, palette: false, droppedAlpha: true, sourceFormat: "16-bit RGBA"),
        ]
        for b in [1, 2, 4, 8] {
            list.append(.init(file: "palette\(b).png", channels: 3, bits: b, palette: true, droppedAlpha: false, sourceFormat: "\(b)-bit palette"))
            list.append(.init(file: "palette\(b)-trns.png", channels: 3, bits: b, palette: true, droppedAlpha: true, sourceFormat: "\(b)-bit palette with tRNS transparency"))
        }
        return list
    }()

    @Test("Every colour type and bit depth reads as the stored values over the maximum", arguments: fixtures)
    func readsFixture(_ fixture: PNGFixture) throws {
        let decoded = try PNGCodec.read(ImagingTestData.fixture(fixture.file))
        #expect(decoded.image == fixture.expected)
        #expect(decoded.droppedAlpha == fixture.droppedAlpha)
        #expect(decoded.sourceFormat == fixture.sourceFormat)
        #expect(decoded.bitDepth == (fixture.bits == 16 ? 16 : 8))
    }

    @Test("The dropped alpha channel is kept aside, as stored; files without one, or with a 16-bit tRNS key, have none",
          arguments: fixtures)
    func alphaKeptAside(_ fixture: PNGFixture) throws {
        let decoded = try PNGCodec.read(ImagingTestData.fixture(fixture.file))
        let alphaChannel = ["gray-alpha", "rgba"].contains { fixture.file.hasPrefix($0) }
        if alphaChannel {
            // The fixtures store alpha as the formula's channel after the colours.
            let channel = fixture.channels, maxValue = Float((1 << fixture.bits) - 1)
            let expected = (0..<15).map { Float(sample(channel, $0 / 5, $0 % 5, bits: fixture.bits)) / maxValue }
            #expect(decoded.alpha == expected)
        } else if fixture.droppedAlpha && fixture.bits <= 8 {
            #expect(decoded.alpha?.count == 15, "libpng expands an 8-bit tRNS into alpha")
        } else {
            #expect(decoded.alpha == nil)
        }
    }

    @Test("A mask painted as transparency (one colour, holes only in alpha) is read from its alpha channel, with a note")
    func maskPaintedAsTransparency() throws {
        let path = ImagingTestData.fixture("mask-alpha8.png")
        let made = try MaskSpec.file(path: path, invert: false).make(height: 3, width: 5, channels: 3)
        // make_fixtures.py: transparent on the diagonal and in the last column.
        let holes = (0..<15).map { $0 % 5 == $0 / 5 || $0 % 5 == 4 }
        #expect(made.mask.channels == 1 && made.mask.pixels == holes.map { $0 ? 0 : 1 })
        #expect(made.notes.contains { $0.contains("only the alpha channel varies, so the mask is read from alpha") }, "\(made.notes)")
        // One colour that is not gray (red) counts as one colour too.
        let red = Image(channels: 3, height: 1, width: 4, pixels: [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        let painted = MaskFile.values(of: DecodedPNG(image: red, sourceFormat: "8-bit RGBA", droppedAlpha: true, bitDepth: 8, alpha: [1, 0, 1, 1]), path: "m.png")
        #expect(painted.values.pixels == [1, 0, 1, 1] && painted.note?.contains("read from alpha") == true)
        // Where the colours vary, they are the mask and alpha is ignored, as before.
        let colours = try MaskSpec.file(path: ImagingTestData.fixture("rgba8.png"), invert: false).make(height: 3, width: 5, channels: 3)
        #expect(colours.notes.contains { $0.contains("the alpha channel was ignored") }, "\(colours.notes)")
    }

    @Test("A file's width and height come from its header, as decoding gives them; a file that is no PNG is refused by name",
          arguments: fixtures)
    func dimensions(_ fixture: PNGFixture) throws {
        let path = ImagingTestData.fixture(fixture.file)
        let size = try PNGCodec.dimensions(path)
        #expect(size.width == fixture.expected.width && size.height == fixture.expected.height)
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, bytes) in [("text.png", Array("not a png".utf8)), ("short.png", Array(PNGCodec.signature) + [0, 0, 0, 13])] {
            try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name))
            #expect { try PNGCodec.dimensions(folder + "/" + name) } throws: { "\($0)".contains(name) }
        }
    }

    @Test("a JPEG, GIF or WebP given as an image is named as one, with how to convert it to PNG")
    func otherFormatsNamed() throws {
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
        let webp = Array("RIFF".utf8) + [36, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [0, 0, 0, 0]
        for (bytes, kind) in [(jpeg, "a JPEG"), (Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0], "a GIF"), (webp, "a WebP")] {
            #expect { try PNGCodec.decode(bytes, name: "photo.png") } throws: {
                "\($0)".contains("photo.png") && "\($0)".contains("it is \(kind) image") && "\($0)".contains("reads PNG only: convert it")
            }
        }
        #expect { try PNGCodec.decode(Array("not a png".utf8), name: "x.png") } throws: {
            "\($0)".contains("not a PNG file") && !"\($0)".contains("it is a")
        }
    }

    /// A deterministic image whose samples are exactly representable at `bits` bits.
    static func levelImage(channels: Int, height: Int, width: Int, bits: Int) -> Image {
        var image = Image(channels: channels, height: height, width: width)
        let maxValue = (1 << bits) - 1
        for i in image.pixels.indices {
            image.pixels[i] = Float((i * 7919 + i / 3) % (maxValue + 1)) / Float(maxValue)
        }
        image.pixels[0] = 0
        image.pixels[image.pixels.count - 1] = 1
        return image
    }

    @Test("Writing then reading gives back the same samples", arguments: [(1, 8), (3, 8), (1, 16), (3, 16)])
    func roundTrip(channels: Int, bits: Int) throws {
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let image = Self.levelImage(channels: channels, height: 37, width: 53, bits: bits)
        let path = folder + "/out.png"
        try PNGCodec.write(image, to: path, bitDepth: bits)
        let back = try PNGCodec.read(path)
        #expect(back.image == image)
        #expect(back.bitDepth == bits)
        #expect(back.droppedAlpha == false)
        #expect(back.sourceFormat == "\(bits)-bit \(channels == 1 ? "gray" : "RGB")")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["out.png"])
    }

    @Test("Writing clamps to [0, 1] and rounds to the nearest level")
    func quantises() throws {
        let image = Image(channels: 1, height: 1, width: 6, pixels: [-0.5, 1.7, 0.5, 100.4 / 255, 100.6 / 255, 0.00001])
        let eight = try PNGCodec.decode(PNGCodec.encode(image), name: "mem").image
        let levels: [Float] = [0, 255, 128, 100, 101, 0]
        #expect(eight.pixels == levels.map { $0 / 255 })
        let sixteen = try PNGCodec.decode(PNGCodec.encode(image, bitDepth: 16), name: "mem").image
        #expect(sixteen.pixels[2] == Float(32768.0 / 65535))
        #expect(sixteen.pixels[5] == Float(1.0 / 65535))
    }

    @Test("16-bit output carries no linear-gamma tag, so viewers show it like the 8-bit file")
    func sixteenBitHasNoGamma() throws {
        let bytes = try PNGCodec.encode(Self.levelImage(channels: 3, height: 4, width: 4, bits: 16), bitDepth: 16)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("gAMA") && !text.contains("cHRM"))
        #expect(bytes[24] == 16 && bytes[25] == 2)
    }

    @Test("Writing refuses channel counts, bit depths and NaNs PNG cannot hold")
    func writeRejects() throws {
        #expect(throws: DIPError.self) { try PNGCodec.encode(Image(channels: 2, height: 2, width: 2)) }
        #expect(throws: DIPError.self) { try PNGCodec.encode(Image(channels: 4, height: 2, width: 2)) }
        #expect(throws: DIPError.self) { try PNGCodec.encode(Image(channels: 1, height: 2, width: 2), bitDepth: 12) }
        var nan = Image(channels: 1, height: 2, width: 2)
        nan.pixels[3] = .nan
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let error = #expect(throws: DIPError.self) { try PNGCodec.write(nan, to: folder + "/nan.png") }
        #expect(error?.description.contains("nan.png") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test("Writing where a folder cannot exist fails with the path and leaves nothing behind")
    func writeIntoImpossibleFolder() throws {
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let blocker = folder + "/plain-file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let error = #expect(throws: DIPError.self) {
            try PNGCodec.write(Image(channels: 1, height: 2, width: 2), to: blocker + "/sub/out.png")
        }
        #expect(error?.description.contains(blocker) == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["plain-file"])
    }

    @Test("Writing into a read-only folder fails with the path and leaves nothing behind",
          .enabled(if: geteuid() != 0, "root may write anywhere"))
    func writeIntoReadOnlyFolder() throws {
        let folder = try ImagingTestData.temporaryFolder()
        defer {
            chmod(folder, 0o755)
            try? FileManager.default.removeItem(atPath: folder)
        }
        chmod(folder, 0o555)
        let error = #expect(throws: DIPError.self) {
            try PNGCodec.write(Image(channels: 1, height: 2, width: 2), to: folder + "/out.png")
        }
        #expect(error?.description.contains("out.png") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test("Writing creates missing parent folders (AtomicFile's behaviour)")
    func writeCreatesFolders() throws {
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try PNGCodec.write(Image(channels: 1, height: 2, width: 2), to: folder + "/a/b/out.png")
        #expect(try PNGCodec.read(folder + "/a/b/out.png").image == Image(channels: 1, height: 2, width: 2))
    }

    /// Decodes and returns the error's text, or nil if decoding succeeded.
    static func failure(_ bytes: [UInt8], name: String) -> String? {
        do {
            _ = try PNGCodec.decode(bytes, name: name)
            return nil
        } catch let error as DIPError {
            return error.description
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    /// The offset of the first byte of the first IDAT chunk's data.
    static func idatData(_ bytes: [UInt8]) -> Int {
        var offset = 8
        while true {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            if Array(bytes[(offset + 4)..<(offset + 8)]) == Array("IDAT".utf8) { return offset + 8 }
            offset += 12 + length
        }
    }

    @Test("Truncated, corrupted, empty and non-PNG files each give an error naming the file", arguments: [8, 16])
    func badFiles(bits: Int) throws {
        let folder = try ImagingTestData.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let good = try PNGCodec.encode(Self.levelImage(channels: 3, height: 64, width: 64, bits: bits), bitDepth: bits)
        var flipped = good
        let idat = Self.idatData(good)
        for i in 0..<8 { flipped[idat + 20 + i] ^= 0xA5 }
        let cases: [(String, [UInt8])] = [
            ("half.png", Array(good.prefix(good.count / 2))),
            ("flipped.png", flipped),
            ("empty.png", []),
            ("text.png", Array("this is not an image\n".utf8)),
            ("signature-only.png", Array(good.prefix(8))),
        ]
        for (name, bytes) in cases {
            let path = folder + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: DIPError.self, "\(name)") { try PNGCodec.read(path) }
            #expect(error?.description.contains(path) == true, "\(name): \(String(describing: error))")
        }
        let missing = #expect(throws: DIPError.self) { try PNGCodec.read(folder + "/missing.png") }
        #expect(missing?.description.contains("missing.png") == true)
    }

    @Test("No byte string crashes the reader: every truncation and every flipped byte of small files",
          arguments: ["rgb8-adam7.png", "rgba16.png", "gray-alpha16-adam7.png", "palette4-trns.png", "gray1.png"])
    func noCrash(file: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImagingTestData.fixture(file))))
        for n in 0..<bytes.count {
            #expect(Self.failure(Array(bytes.prefix(n)), name: "cut") != nil, "cut at \(n)")
        }
        for i in 0..<bytes.count {
            var bad = bytes
            bad[i] ^= 0xFF
            if let text = Self.failure(bad, name: "flip") { #expect(text.hasPrefix("flip"), "\(i): \(text)") }
        }
    }

    /// CRC-32 as PNG chunks use it, to build headers libpng will accept.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    /// A PNG with a valid IHDR of the given size and no image data.
    static func header(width: UInt32, height: UInt32) -> [UInt8] {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        let body = Array("IHDR".utf8) + be(width) + be(height) + [8, 0, 0, 0, 0]
        return PNGCodec.signature + be(13) + body + be(crc32(body))
    }

    @Test("Images with a zero side or a side over Image.maxSide are refused by name")
    func sizeLimits() {
        for (w, h) in [(0, 10), (10, 0), (UInt32(Image.maxSide + 1), 10), (10, 1 << 30)] {
            let text = Self.failure(Self.header(width: UInt32(w), height: UInt32(h)), name: "big.png")
            #expect(text?.hasPrefix("big.png") == true, "\(w)x\(h): \(String(describing: text))")
        }
        // A legal header with no data is accepted by the header check but fails as truncated.
        #expect(Self.failure(Self.header(width: 4, height: 4), name: "short.png")?.hasPrefix("short.png") == true)
    }

    @Test("An image too large to decode in the memory left is refused by name, with the sizes, before its pixels are read")
    func decodeMemory() {
        // An 8000x8000 RGB file: 12 bytes of floats and 3 of samples a pixel, about 0.9 GiB.
        func check(available: UInt64?) throws {
            try PNGCodec.requireRoom(name: "big.png", width: 8000, height: 8000, outChannels: 3, fileChannels: 3, sampleBytes: 1,
                                     keepsAlpha: false, available: available)
        }
        #expect(throws: Never.self) { try check(available: nil) }
        #expect(throws: Never.self) { try check(available: 1 << 30) }
        do {
            try check(available: 200 << 20)
            Issue.record("200 MiB were enough for 0.9 GiB")
        } catch {
            #expect("\(error)" == "big.png: decoding this 8000x8000 image needs about 0.9 GiB of memory and this process can have "
                + "0.2 GiB here; use a smaller image or a crop of it, or free memory")
        }
        // 16-bit RGBA, alpha kept: 12 + 8 + 4 bytes a pixel for a 4096x4096 file, 384 MiB exactly.
        #expect(throws: DIPError.self) {
            try PNGCodec.requireRoom(name: "a.png", width: 4096, height: 4096, outChannels: 3, fileChannels: 4, sampleBytes: 2,
                                     keepsAlpha: true, available: 383 << 20)
        }
        #expect(throws: Never.self) {
            try PNGCodec.requireRoom(name: "a.png", width: 4096, height: 4096, outChannels: 3, fileChannels: 4, sampleBytes: 2,
                                     keepsAlpha: true, available: 384 << 20)
        }
    }

    @Test("A small image is decoded without reading the memory figures (a render decodes hundreds)")
    func smallDecodeUnchecked() throws {
        var probes = 0
        func probe() -> UInt64? {
            probes += 1
            return 0
        }
        // 2048x2048 RGB: 15 bytes a pixel, 60 MiB, under HostMemory.checkedFrom.
        try PNGCodec.requireRoom(name: "tile.png", width: 2048, height: 2048, outChannels: 3, fileChannels: 3, sampleBytes: 1,
                                 keepsAlpha: false, available: probe())
        #expect(probes == 0)
        #expect(throws: DIPError.self) {
            try PNGCodec.requireRoom(name: "big.png", width: 2400, height: 2400, outChannels: 3, fileChannels: 3, sampleBytes: 1,
                                     keepsAlpha: false, available: probe())
        }
        #expect(probes == 1)
    }

    // Checksums computed independently with Pillow 13.0.0:
    //   a = np.array(Image.open(p).convert(mode)).astype(np.int64), laid out C x H x W,
    //   flat = a.reshape(-1); sum = flat.sum(); weighted = (flat * (np.arange(flat.size) % 251 + 1)).sum()
    // with mode 'RGB' for both files below.
    @Test("The seed report's palette cameraman reads as Pillow's RGB conversion",
          .enabled(if: SharedTestData.file("seed-report/cameraman.png") != nil, "shared data absent"))
    func sharedCameraman() throws {
        let decoded = try PNGCodec.read(SharedTestData.file("seed-report/cameraman.png")!)
        #expect(decoded.sourceFormat == "8-bit palette")
        #expect(decoded.droppedAlpha == false)
        #expect(Self.checksums(decoded.image) == Checksums(channels: 3, height: 512, width: 512, sum: 92_772_213, weighted: 11_685_505_230))
    }

    @Test("Lena (colour) reads as Pillow reads it",
          .enabled(if: SharedTestData.file("bm3d/lenacolor.png") != nil, "shared data absent"))
    func sharedLena() throws {
        let decoded = try PNGCodec.read(SharedTestData.file("bm3d/lenacolor.png")!)
        #expect(decoded.sourceFormat == "8-bit RGB")
        #expect(Self.checksums(decoded.image) == Checksums(channels: 3, height: 512, width: 512, sum: 100_842_898, weighted: 12_704_785_742))
    }

    /// Shape and two integer checksums of an 8-bit image's levels.
    struct Checksums: Equatable {
        var channels, height, width: Int
        var sum, weighted: Int
    }

    static func checksums(_ image: Image) -> Checksums {
        var sum = 0, weighted = 0
        for (i, v) in image.pixels.enumerated() {
            let level = Int((v * 255).rounded())
            sum += level
            weighted += level * (i % 251 + 1)
        }
        return Checksums(channels: image.channels, height: image.height, width: image.width, sum: sum, weighted: weighted)
    }
}
