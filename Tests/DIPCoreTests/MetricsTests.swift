import DIPTestSupport
import Foundation
import Testing
@testable import DIPCore

/// Reads a fixture written by Tests/Fixtures/metrics/make_fixtures.py: "DIPF32 C H W\n" then
/// C*H*W little-endian Float32 samples. The fixtures live outside the test target's folder so
/// SwiftPM does not flag them as unhandled resources.
func metricsFixture(_ name: String, file: String = #filePath) throws -> Image {
    let dir = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics")
    let data = try Data(contentsOf: dir.appendingPathComponent(name))
    guard let newline = data.firstIndex(of: 0x0A),
          let header = String(data: data[..<newline], encoding: .ascii) else {
        throw DIPError.badFile(path: name, reason: "no header line")
    }
    let fields = header.split(separator: " ")
    guard fields.count == 4, fields[0] == "DIPF32",
          let c = Int(fields[1]), let h = Int(fields[2]), let w = Int(fields[3]) else {
        throw DIPError.badFile(path: name, reason: "bad header '\(header)'")
    }
    let body = data[(newline + 1)...]
    guard body.count == c * h * w * 4 else { throw DIPError.badFile(path: name, reason: "truncated") }
    let bytes = [UInt8](body)
    var pixels = [Float](repeating: 0, count: c * h * w)
    for i in pixels.indices {
        let b0 = UInt32(bytes[4 * i]), b1 = UInt32(bytes[4 * i + 1])
        let b2 = UInt32(bytes[4 * i + 2]), b3 = UInt32(bytes[4 * i + 3])
        pixels[i] = Float(bitPattern: b0 | b1 << 8 | b2 << 16 | b3 << 24)
    }
    return Image(channels: c, height: h, width: w, pixels: pixels)
}

/// A deterministic gray ramp with a little texture; exact in Float (integers over a power of 2).
private func ramp(height: Int, width: Int, channels: Int = 1) -> Image {
    var img = Image(channels: channels, height: height, width: width)
    for c in 0..<channels {
        for y in 0..<height {
            for x in 0..<width { img[c, y, x] = Float((x * 7 + y * 13 + c * 5) % 31) / 32 }
        }
    }
    return img
}

@Suite("PSNR and SSIM")
struct MetricsTests {
    // Reference values: scikit-image 0.26.0 (numpy 2.4.6, scipy 1.17.1), printed by
    // Tests/Fixtures/metrics/make_fixtures.py, which also wrote the fixtures:
    //   peak_signal_noise_ratio(a, b, data_range=1)                         on the float32 arrays
    //   structural_similarity(a.astype(float64), b.astype(float64), data_range=1,
    //       gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=0[, full=True])
    // Region values: the full=True map (or the float32 squared differences) averaged with
    // numpy over mask < 0.5 (holes) or >= 0.5 (known), the mask broadcast over channels.

    @Test("PSNR matches skimage's peak_signal_noise_ratio with data_range=1")
    func psnrMatchesSkimage() throws {
        let a = try metricsFixture("rgb_a.f32"), b = try metricsFixture("rgb_b.f32")
        #expect(abs(try Metrics.psnr(a, b) - 20.642391277698575) < 1e-9)
        let g1 = try metricsFixture("gray_a.f32"), g2 = try metricsFixture("gray_b.f32")
        #expect(abs(try Metrics.psnr(g1, g2) - 18.49257157018637) < 1e-9)
    }

    @Test("SSIM matches skimage's structural_similarity (Gaussian 11x11, reflect, cropped mean)")
    func ssimMatchesSkimage() throws {
        let a = try metricsFixture("rgb_a.f32"), b = try metricsFixture("rgb_b.f32")
        #expect(abs(try Metrics.ssim(a, b) - 0.7810406018224815) < 1e-12)
        let map = try Metrics.ssimMap(a, b)
        // Corner, opposite corner and centre: the border handling and the channel layout.
        #expect(abs(map.values[(1 * 24 + 0) * 20 + 0] - 0.8134822009914042) < 1e-12)
        #expect(abs(map.values[(2 * 24 + 23) * 20 + 19] - 0.9617933901551172) < 1e-12)
        #expect(abs(map.values[(0 * 24 + 12) * 20 + 9] - 0.46849876894868275) < 1e-12)
        let g1 = try metricsFixture("gray_a.f32"), g2 = try metricsFixture("gray_b.f32")
        #expect(abs(try Metrics.ssim(g1, g2) - 0.8958829158384493) < 1e-12)
    }

    @Test("Masked PSNR and SSIM over holes and known pixels match numpy on skimage's map")
    func regions() throws {
        let a = try metricsFixture("rgb_a.f32"), b = try metricsFixture("rgb_b.f32")
        let mask = try metricsFixture("mask.f32")
        #expect(abs(try Metrics.psnr(a, b, mask: mask, region: .holes) - 20.675312947136916) < 1e-9)
        #expect(abs(try Metrics.psnr(a, b, mask: mask, region: .known) - 20.600426844219385) < 1e-9)
        #expect(try Metrics.psnr(a, b, mask: mask, region: .all) == (try Metrics.psnr(a, b)))
        #expect(abs(try Metrics.ssim(a, b, mask: mask, region: .holes) - 0.7809347810855153) < 1e-12)
        #expect(abs(try Metrics.ssim(a, b, mask: mask, region: .known) - 0.7811699382787731) < 1e-12)
        let all = try Metrics.psnrByRegion(a, b, mask: mask)
        #expect(abs(all.all - 20.642391277698575) < 1e-9)
        #expect(abs(all.holes - 20.675312947136916) < 1e-9)
        // A 3-channel mask equal to the broadcast one gives the same numbers.
        var mask3 = Image(channels: 3, height: 24, width: 20)
        for c in 0..<3 { for i in 0..<mask.planeSize { mask3.pixels[c * mask.planeSize + i] = mask.pixels[i] } }
        #expect(try Metrics.psnr(a, b, mask: mask3, region: .holes) == (try Metrics.psnr(a, b, mask: mask, region: .holes)))
    }

    @Test("Identical images: PSNR is +infinity, SSIM is 1")
    func identity() throws {
        let a = try metricsFixture("rgb_a.f32")
        #expect(try Metrics.psnr(a, a) == .infinity)
        #expect(abs(try Metrics.ssim(a, a) - 1) < 1e-12)
        let mask = try metricsFixture("mask.f32")
        #expect(try Metrics.psnr(a, a, mask: mask, region: .holes) == .infinity)
    }

    @Test("An SSIM map larger than the memory left is refused with the size before it is allocated")
    func ssimMemory() throws {
        // 4096x4096 RGB: 8 bytes a sample for the map, about 0.38 GiB with the filter's rows.
        let image = Image(channels: 3, height: 4096, width: 4096)
        #expect(throws: Never.self) { try Metrics.requireRoom(for: image, available: nil) }
        #expect(throws: Never.self) { try Metrics.requireRoom(for: image, available: 1 << 30) }
        do {
            try Metrics.requireRoom(for: image, available: 100 << 20)
            Issue.record("100 MiB were enough for the map")
        } catch {
            #expect("\(error)" == "image size '4096x4096 RGB': its SSIM needs about 0.4 GiB more memory and this process can have 0.1 GiB "
                + "here; compare crops of the images")
        }
    }

    @Test("PSNR and SSIM are symmetric")
    func symmetry() throws {
        let a = try metricsFixture("rgb_a.f32"), b = try metricsFixture("rgb_b.f32")
        #expect(try Metrics.psnr(a, b) == (try Metrics.psnr(b, a)))
        #expect(abs(try Metrics.ssim(a, b) - (try Metrics.ssim(b, a))) < 1e-15)
    }

    @Test("A constant offset d gives PSNR = -20 log10 d", arguments: [0.25, 0.125, 0.0625])
    func constantOffset(d: Double) throws {
        // Binary fractions keep a + d and the squared difference exact in Float32.
        let a = ramp(height: 9, width: 15, channels: 3)
        var b = a
        for i in b.pixels.indices { b.pixels[i] += Float(d) }
        #expect(abs(try Metrics.psnr(a, b) - (-20 * log10(d))) < 1e-12)
    }

    @Test("Mismatched shapes are errors that name both shapes")
    func mismatch() throws {
        let a = ramp(height: 16, width: 12), b = ramp(height: 16, width: 12, channels: 3)
        #expect(throws: DIPError.mismatch("cannot compare images of different shapes: 12x16 gray vs 12x16 RGB")) {
            try Metrics.psnr(a, b)
        }
        #expect(throws: DIPError.self) { try Metrics.ssim(a, ramp(height: 15, width: 12)) }
        #expect(throws: DIPError.self) { try Metrics.psnr(a, a, mask: ramp(height: 16, width: 11), region: .holes) }
        // SSIM's window needs 11x11; smaller is an error, not a crash.
        #expect(throws: DIPError.self) { try Metrics.ssim(ramp(height: 10, width: 30), ramp(height: 10, width: 30)) }
        // A mask with no holes has no hole PSNR.
        let full = Image(channels: 1, height: 16, width: 12, value: 1)
        #expect(throws: DIPError.self) { try Metrics.psnr(a, a, mask: full, region: .holes) }
        #expect(try Metrics.psnrByRegion(a, a, mask: full).holes.isNaN)
    }

    @Test("scores() gives the whole-image and per-region numbers of one comparison")
    func scores() throws {
        let a = try metricsFixture("rgb_a.f32"), b = try metricsFixture("rgb_b.f32")
        let mask = try metricsFixture("mask.f32")
        let rows = try Metrics.scores(a, b, mask: mask)
        #expect(rows.map(\.region) == [.all, .holes, .known])
        #expect(abs(rows[0].psnr - 20.642391277698575) < 1e-9)
        #expect(abs(rows[1].ssim! - 0.7809347810855153) < 1e-12)
        let holes = mask.pixels.filter { $0 < 0.5 }.count
        #expect(abs(rows[1].fraction - Double(holes) / Double(mask.pixels.count)) < 1e-15)
        #expect(try Metrics.scores(a, b).count == 1)
        // A mask that is all holes scores its holes exactly as the whole image (issue 11.15).
        let allHoles = Image(channels: 1, height: 24, width: 20, value: 0)
        let holeRows = try Metrics.scores(a, b, mask: allHoles)
        #expect(holeRows[1].ssim == holeRows[0].ssim && holeRows[1].psnr == holeRows[0].psnr)
        // Below the 11x11 window there is no SSIM, but PSNR still works.
        #expect(try Metrics.scores(ramp(height: 8, width: 8), ramp(height: 8, width: 8))[0].ssim == nil)
    }

    @Test("Real images: the two Lena 512 versions score as skimage scores them",
          .enabled(if: SharedTestData.file("bm3d/lena.png") != nil, "no shared data folder"))
    func realImages() throws {
        // PIL: np.array(Image.open(p)).astype(np.float32) / 255., then the calls above (float64 for SSIM).
        let a = try PNGCodec.read(SharedTestData.folder + "/bm3d/lena.png").image
        let b = try PNGCodec.read(SharedTestData.folder + "/seed-report/lena.png").image
        #expect(abs(try Metrics.psnr(a, b) - 50.11687495619913) < 1e-9)
        #expect(abs(try Metrics.ssim(a, b) - 0.9969991833463525) < 1e-10)
    }
}
