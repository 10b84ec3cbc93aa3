import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

/// The test pattern the Pillow references were made from:
/// level(c, y, x) = (x*37 + y*91 + c*53 + (x*y) % 7 * 29) % 256, divided by 255.
private func pattern(channels: Int, height: Int, width: Int) -> Image {
    var image = Image(channels: channels, height: height, width: width)
    for c in 0..<channels {
        for y in 0..<height {
            for x in 0..<width {
                image[c, y, x] = Float((x * 37 + y * 91 + c * 53 + (x * y) % 7 * 29) % 256) / 255
            }
        }
    }
    return image
}

/// Levels 0...255 of an image, C x H x W.
private func levels(_ image: Image) -> [Int] {
    image.pixels.map { Int(($0 * 255).rounded()) }
}

@Suite("Image transforms")
struct ImageTransformTests {
    // Expected values below come from Pillow 13.0.0 (Python 3.11), with `img` built from the
    // pattern above as a uint8 array through Image.fromarray(a, "RGB" or "L"):
    //   np.array(img.resize((width, height), Image.BICUBIC)), transposed to C x H x W.

    @Test("7x5 RGB upscaled to 12x9 matches Pillow's bicubic bit for bit")
    func upscaleMatchesPillow() {
        let out = pattern(channels: 3, height: 5, width: 7).resizedLikePillow(height: 9, width: 12)
        #expect(out.channels == 3 && out.height == 9 && out.width == 12)
        let expected = [
            0, 2, 25, 45, 68, 102, 129, 147, 168, 189, 212, 224, 20, 37, 72, 104, 118, 89, 92, 127, 154, 181, 216, 235,
            75, 102, 150, 205, 203, 74, 34, 92, 131, 168, 217, 244, 149, 127, 99, 155, 190, 130, 96, 96, 135, 177, 158, 142,
            195, 126, 23, 58, 129, 198, 188, 108, 147, 196, 93, 24, 86, 90, 92, 49, 48, 177, 186, 81, 140, 219, 116, 45,
            7, 60, 135, 68, 28, 145, 154, 56, 131, 231, 154, 97, 79, 63, 46, 104, 155, 143, 104, 53, 127, 219, 176, 140,
            125, 66, 0, 125, 229, 143, 77, 54, 126, 212, 186, 163, 43, 54, 78, 110, 141, 161, 181, 200, 236, 234, 91, 1,
            71, 93, 127, 108, 95, 128, 158, 182, 222, 227, 89, 3, 127, 164, 208, 103, 19, 67, 114, 148, 199, 215, 90, 9,
            202, 187, 155, 115, 74, 36, 57, 139, 212, 240, 117, 37, 248, 179, 76, 128, 159, 40, 30, 138, 218, 249, 146, 77,
            139, 142, 145, 129, 120, 136, 139, 129, 127, 127, 126, 124, 60, 113, 189, 108, 63, 202, 226, 122, 48, 18, 110, 171,
            132, 124, 102, 42, 30, 152, 186, 121, 46, 8, 132, 214, 178, 131, 50, 6, 15, 119, 158, 121, 50, 10, 146, 236,
            94, 115, 152, 174, 193, 213, 242, 255, 159, 34, 51, 74, 140, 123, 101, 120, 152, 183, 219, 243, 146, 26, 49, 76,
            212, 135, 15, 31, 83, 128, 175, 213, 123, 13, 50, 82, 134, 96, 43, 92, 136, 105, 130, 206, 128, 24, 72, 111,
            25, 59, 123, 196, 212, 93, 91, 203, 141, 47, 106, 150, 57, 116, 209, 208, 158, 54, 60, 173, 134, 70, 150, 205,
            125, 174, 242, 177, 94, 51, 74, 152, 125, 82, 154, 202, 195, 183, 155, 100, 76, 139, 173, 166, 119, 66, 63, 67,
            231, 184, 103, 57, 70, 189, 228, 176, 116, 56, 12, 0,
        ]
        #expect(levels(out) == expected)
        #expect(out.pixels.allSatisfy { $0 == Float(Int(($0 * 255).rounded())) / 255 })
    }

    @Test("16x16 gray downscaled to 6x6 matches Pillow's antialiased bicubic bit for bit")
    func downscaleMatchesPillow() {
        let out = pattern(channels: 1, height: 16, width: 16).resizedLikePillow(height: 6, width: 6)
        let expected = [
            95, 132, 138, 107, 152, 115, 96, 122, 136, 100, 144, 115, 160, 91, 106, 122, 72, 136,
            118, 144, 117, 135, 136, 119, 151, 155, 123, 162, 141, 109, 129, 121, 173, 119, 148, 116,
        ]
        #expect(levels(out) == expected)
    }

    @Test("A height cut much more than the width is resampled vertically first, as Pillow 13 does")
    func verticalFirstMatchesPillow() {
        let image = pattern(channels: 1, height: 29, width: 8)
        #expect(Image.pillowResizesVerticallyFirst(from: (29, 8), to: (4, 9)))
        #expect(!Image.pillowResizesVerticallyFirst(from: (256, 256), to: (512, 512)))
        // Horizontal-first (older Pillow) would differ at 15 of these 36 pixels.
        let expected = [
            99, 98, 135, 134, 90, 105, 168, 130, 101, 146, 118, 146, 142, 142, 130, 104, 134, 148,
            118, 133, 138, 149, 104, 98, 155, 126, 121, 143, 115, 137, 148, 151, 124, 91, 128, 146,
        ]
        #expect(levels(image.resizedLikePillow(height: 4, width: 9)) == expected)
    }

    // Pillow 13.0.0: Image.fromarray(a.astype(np.float32) / 255, "F").resize((6, 6), Image.BICUBIC).
    @Test("The float resize matches Pillow's mode-F bicubic")
    func floatMatchesPillow() {
        let out = pattern(channels: 1, height: 16, width: 16).resized(height: 6, width: 6)
        let expected: [Float] = [
            0.3735714852809906, 0.5189535617828369, 0.5421881675720215, 0.4211931824684143, 0.5970250964164734, 0.45040595531463623,
            0.37848079204559326, 0.4795149564743042, 0.5345388650894165, 0.39362186193466187, 0.5628165006637573, 0.45219624042510986,
            0.6260183453559875, 0.35483965277671814, 0.41662999987602234, 0.48093292117118835, 0.28115662932395935, 0.5333213806152344,
            0.46250519156455994, 0.5632737874984741, 0.4595126807689667, 0.5306524634361267, 0.5346256494522095, 0.46806371212005615,
            0.5898033976554871, 0.6044560074806213, 0.48241275548934937, 0.6332792639732361, 0.5543202757835388, 0.4287374019622803,
            0.5079365372657776, 0.4724520444869995, 0.6811789870262146, 0.46457889676094055, 0.5807053446769714, 0.45251360535621643,
        ]
        #expect(out.height == 6 && out.width == 6)
        for (a, b) in zip(out.pixels, expected) { #expect(abs(a - b) <= 1e-6) }
    }

    @Test("Resizing to the same size changes nothing")
    func identity() {
        let image = pattern(channels: 3, height: 5, width: 7)
        #expect(image.resizedLikePillow(height: 5, width: 7) == image)
        #expect(image.resized(height: 5, width: 7) == image)
    }

    // Pillow 13.0.0: np.array(Image.open("bm3d/house.png").resize((512, 512), Image.BICUBIC)),
    // flat = a.astype(np.int64).reshape(-1); sum and (flat * (np.arange(flat.size) % 251 + 1)).sum().
    @Test("house.png upscaled 256 -> 512 as the seed report did matches Pillow's checksums",
          .enabled(if: SharedTestData.file("bm3d/house.png") != nil, "shared data absent"))
    func houseUpscale() throws {
        let house = try PNGCodec.read(SharedTestData.file("bm3d/house.png")!).image
        let big = house.resizedLikePillow(height: 512, width: 512)
        let l = levels(big)
        var weighted = 0
        for (i, v) in l.enumerated() { weighted += v * (i % 251 + 1) }
        #expect(big.channels == 1 && big.height == 512 && big.width == 512)
        #expect(l.reduce(0, +) == 36_173_671)
        #expect(weighted == 4_559_999_852)
    }

    @Test("Centre crop follows upstream crop_image: floor to a multiple, offset (size - new) / 2")
    func centreCrop() throws {
        let image = pattern(channels: 2, height: 70, width: 75)
        let out = try image.centreCropped(toMultipleOf: 32)
        #expect(out.height == 64 && out.width == 64)
        // (70 - 64) / 2 = 3 rows and (75 - 64) / 2 = 5 columns go first.
        #expect(out == image.cropped(top: 3, left: 5, height: 64, width: 64))
        #expect(out[1, 0, 0] == image[1, 3, 5])
        #expect(try image.centreCropped(toMultipleOf: 1) == image)
        #expect(throws: DIPError.self) { try image.centreCropped(toMultipleOf: 128) }
        #expect(throws: DIPError.self) { try image.centreCropped(toMultipleOf: 0) }
    }

    @Test("Crop takes the named rectangle from every channel")
    func crop() {
        let image = pattern(channels: 3, height: 5, width: 7)
        let out = image.cropped(top: 1, left: 2, height: 3, width: 4)
        for c in 0..<3 { for y in 0..<3 { for x in 0..<4 { #expect(out[c, y, x] == image[c, y + 1, x + 2]) } } }
    }

    @Test("Reflection padding mirrors without repeating the edge, like numpy's 'reflect'")
    func reflectionPad() {
        let row = Image(channels: 1, height: 3, width: 4, pixels: (0..<12).map { Float($0) })
        let out = row.reflectionPadded(by: 2)
        #expect(out.height == 7 && out.width == 8)
        // np.pad(np.arange(12).reshape(3, 4), 2, mode="reflect")
        let expected: [Float] = [
            10, 9, 8, 9, 10, 11, 10, 9,
            6, 5, 4, 5, 6, 7, 6, 5,
            2, 1, 0, 1, 2, 3, 2, 1,
            6, 5, 4, 5, 6, 7, 6, 5,
            10, 9, 8, 9, 10, 11, 10, 9,
            6, 5, 4, 5, 6, 7, 6, 5,
            2, 1, 0, 1, 2, 3, 2, 1,
        ]
        #expect(out.pixels == expected)
        let barbara = pattern(channels: 1, height: 8, width: 8).reflectionPadded(by: 1)
        #expect(barbara.height == 10 && barbara.cropped(top: 1, left: 1, height: 8, width: 8) == pattern(channels: 1, height: 8, width: 8))
    }

    // PIL's convert("L") is (R*19595 + G*38470 + B*7471 + 0x8000) >> 16 on 8-bit levels.
    @Test("Gray conversion rounds to PIL's convert(\"L\") levels; RGB replicates gray")
    func colour() {
        let rgb = pattern(channels: 3, height: 5, width: 7)
        let gray = rgb.asGray()
        let l = levels(rgb)
        let n = 35
        for i in 0..<n {
            let pil = (l[i] * 19595 + l[n + i] * 38470 + l[2 * n + i] * 7471 + 0x8000) >> 16
            #expect(Int((gray.pixels[i] * 255).rounded()) == pil)
        }
        let white = Image(channels: 3, height: 1, width: 1, value: 1).asGray()
        #expect(white.pixels == [1])
        #expect(gray.asRGB().channel(2) == gray)
        #expect(rgb.asRGB() == rgb && gray.asGray() == gray)
    }

    @Test("Gray content stored as colour is recognised: three channels equal at every pixel, and nothing else")
    func grayInColour() {
        let gray = pattern(channels: 1, height: 5, width: 7)
        #expect(gray.asRGB().isGrayInColour)
        #expect(!gray.isGrayInColour && !pattern(channels: 3, height: 5, width: 7).isGrayInColour)
        var almost = gray.asRGB()
        almost.pixels[2 * 35 + 34] += 1.0 / 255  // one blue sample off by one level
        #expect(!almost.isGrayInColour)
        // Converting equal channels gives the channel itself, to the bit.
        #expect(gray.asRGB().asGray() == gray)
    }
}
