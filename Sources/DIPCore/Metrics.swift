import Foundation

/// Image quality measures, computed the way the DIP repository and scikit-image compute them
/// (docs/semantics.md §7), so that our numbers can sit beside the paper's.
///
/// Conventions shared by every function here:
/// - Both images hold samples in [0, 1]; the data range is 1 (upstream's `compare_psnr` infers
///   exactly that for float images with a non-negative ground truth).
/// - A mask is an `Image` of the same width and height with 1 channel (broadcast over the
///   image's channels) or as many channels as the images; a sample >= 0.5 is a known pixel,
///   below 0.5 a hole (upstream masks are exactly 0 and 1; the threshold only makes
///   interpolated masks behave predictably).
/// - Shape disagreements are thrown as `DIPError.mismatch` naming both shapes, never a crash.
public enum Metrics {
    /// Which pixels a masked measure looks at.
    public enum Region: String, Sendable, CaseIterable {
        /// Every pixel: the same as the unmasked measure.
        case all
        /// Pixels the mask marks as missing (mask 0): what inpainting had to invent.
        case holes
        /// Pixels the mask marks as observed (mask 1): what the network was fitted to.
        case known
    }

    /// PSNR of the whole image and of its hole and known parts, from one pass over the pixels.
    public struct RegionPSNR: Sendable, Equatable {
        /// PSNR over every sample (upstream's number).
        public var all: Double
        /// PSNR over the hole samples only; NaN when the mask has no holes.
        public var holes: Double
        /// PSNR over the known samples only; NaN when the mask has no known pixels.
        public var known: Double
    }

    // MARK: PSNR

    /// Mean squared error over all channels and pixels, as skimage's `mean_squared_error` on
    /// float32 arrays: each difference is squared in Float32, the mean is accumulated in Float64.
    public static func mse(_ a: Image, _ b: Image) throws -> Double {
        try checkSameShape(a, b)
        let n = a.pixels.count
        let sum: Double = a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                // Four accumulators break the add dependency chain so the loop vectorises;
                // the result differs from numpy's pairwise sum only in the last bits.
                var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                var i = 0
                while i + 4 <= n {
                    let d0 = pa[i] - pb[i], d1 = pa[i + 1] - pb[i + 1]
                    let d2 = pa[i + 2] - pb[i + 2], d3 = pa[i + 3] - pb[i + 3]
                    s0 += Double(d0 * d0); s1 += Double(d1 * d1)
                    s2 += Double(d2 * d2); s3 += Double(d3 * d3)
                    i += 4
                }
                while i < n {
                    let d = pa[i] - pb[i]
                    s0 += Double(d * d)
                    i += 1
                }
                return (s0 + s1) + (s2 + s3)
            }
        }
        return sum / Double(n)
    }

    /// PSNR with data range 1: `10 log10(1 / MSE)` over all channels and pixels, as upstream's
    /// `compare_psnr(gt, out)`. Identical images give `+infinity` (callers print "inf").
    public static func psnr(_ a: Image, _ b: Image) throws -> Double {
        psnr(mse: try mse(a, b))
    }

    /// PSNR over one region of `mask`. `.all` equals `psnr(a, b)`; `.holes` and `.known` take the
    /// MSE over those samples only (with a one-channel mask each pixel contributes all its
    /// channels). Throws when the region is empty, since a PSNR of nothing means nothing.
    public static func psnr(_ a: Image, _ b: Image, mask: Image, region: Region) throws -> Double {
        if region == .all { return try psnr(a, b) }
        let r = try psnrByRegion(a, b, mask: mask)
        let value = region == .holes ? r.holes : r.known
        if value.isNaN {
            throw DIPError.invalidValue(name: "mask", value: mask.sizeDescription,
                                        reason: "has no \(region == .holes ? "hole" : "known") pixels, so PSNR over them is undefined")
        }
        return value
    }

    /// PSNR over the whole image, the holes and the known pixels in one pass; an empty region
    /// gives NaN rather than an error so that a fit loop can log all three without branching.
    public static func psnrByRegion(_ a: Image, _ b: Image, mask: Image) throws -> RegionPSNR {
        try checkSameShape(a, b)
        try checkMask(mask, for: a)
        let plane = a.planeSize
        var holeSum = 0.0, knownSum = 0.0
        var holeCount = 0, knownCount = 0
        a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                mask.pixels.withUnsafeBufferPointer { pm in
                    for c in 0..<a.channels {
                        let base = c * plane
                        let mbase = mask.channels == 1 ? 0 : base
                        var hs = 0.0, ks = 0.0, hc = 0
                        for i in 0..<plane {
                            let d = pa[base + i] - pb[base + i]
                            let sq = Double(d * d)
                            let isKnown = pm[mbase + i] >= 0.5
                            ks += isKnown ? sq : 0
                            hs += isKnown ? 0 : sq
                            hc += isKnown ? 0 : 1
                        }
                        holeSum += hs; knownSum += ks
                        holeCount += hc; knownCount += plane - hc
                    }
                }
            }
        }
        let total = Double(holeCount + knownCount)
        return RegionPSNR(
            all: psnr(mse: (holeSum + knownSum) / total),
            holes: holeCount == 0 ? .nan : psnr(mse: holeSum / Double(holeCount)),
            known: knownCount == 0 ? .nan : psnr(mse: knownSum / Double(knownCount)))
    }

    /// `10 log10(1 / mse)`; zero error is `+infinity`.
    public static func psnr(mse: Double) -> Double {
        mse == 0 ? .infinity : -10 * log10(mse)
    }

    // MARK: SSIM

    /// Gaussian window standard deviation (Wang et al. 2004).
    public static let ssimSigma = 1.5
    /// Window radius: skimage's `int(truncate * sigma + 0.5)` with truncate 3.5, so 11x11.
    public static let ssimRadius = 5
    /// Stabilising constant for the means, times the data range.
    public static let ssimK1 = 0.01
    /// Stabilising constant for the (co)variances, times the data range.
    public static let ssimK2 = 0.03

    /// The per-pixel SSIM values of two images, one plane per channel, in Float64.
    public struct SSIMMap: Sendable, Equatable {
        /// Channels, as in the images compared.
        public let channels: Int
        /// Rows.
        public let height: Int
        /// Columns.
        public let width: Int
        /// Values, channel-major then row-major like `Image.pixels`.
        public var values: [Double]

        /// skimage's score: per channel, the mean over the map with `ssimRadius` pixels cropped
        /// from every side (their windows reach into the reflected border); then the mean over
        /// channels.
        public func mean() -> Double {
            let r = Metrics.ssimRadius
            var total = 0.0
            for c in 0..<channels {
                var s = 0.0
                for y in r..<(height - r) {
                    let row = (c * height + y) * width
                    for x in r..<(width - r) { s += values[row + x] }
                }
                total += s / Double((height - 2 * r) * (width - 2 * r))
            }
            return total / Double(channels)
        }

        /// The mean over one mask region, taken like `mean()`: per channel over the region's
        /// samples inside the same `ssimRadius` crop, then over the channels that have any, so a
        /// region that covers every pixel scores exactly the whole image's SSIM. Holes within
        /// `ssimRadius` pixels of the edge do not count: their windows reach into the reflected
        /// border, which skimage's score leaves out too. NaN when the region has no sample
        /// inside the crop.
        public func mean(mask: Image, region: Region) -> Double {
            if region == .all { return mean() }
            let r = Metrics.ssimRadius
            let plane = height * width
            var total = 0.0
            var counted = 0
            for c in 0..<channels {
                let mbase = mask.channels == 1 ? 0 : c * plane
                var s = 0.0
                var count = 0
                for y in r..<max(r, height - r) {
                    let row = y * width
                    for x in r..<max(r, width - r) where (mask.pixels[mbase + row + x] >= 0.5) == (region == .known) {
                        s += values[c * plane + row + x]
                        count += 1
                    }
                }
                if count > 0 {
                    total += s / Double(count)
                    counted += 1
                }
            }
            return counted == 0 ? .nan : total / Double(counted)
        }
    }

    /// SSIM as `skimage.metrics.structural_similarity(a, b, data_range=1, gaussian_weights=True,
    /// sigma=1.5, use_sample_covariance=False, channel_axis=0)` on float64 arrays; RGB is the
    /// mean of the channel scores. Both sides must be at least 11 pixels.
    public static func ssim(_ a: Image, _ b: Image) throws -> Double {
        try ssimMap(a, b).mean()
    }

    /// SSIM over one mask region: `.all` is `ssim(a, b)`; `.holes` and `.known` average the SSIM
    /// map over those samples within the same border crop (see `SSIMMap.mean(mask:region:)`).
    /// Throws when the region is empty.
    public static func ssim(_ a: Image, _ b: Image, mask: Image, region: Region) throws -> Double {
        if region == .all { return try ssim(a, b) }
        try checkMask(mask, for: a)
        let value = try ssimMap(a, b).mean(mask: mask, region: region)
        if value.isNaN {
            throw DIPError.invalidValue(name: "mask", value: mask.sizeDescription,
                                        reason: "has no \(region == .holes ? "hole" : "known") pixels more than \(ssimRadius) pixels from the edge, so SSIM over them is undefined")
        }
        return value
    }

    /// The SSIM map (skimage's `full=True` output): Gaussian-weighted local means, population
    /// variances and covariance, filtered with scipy's 'reflect' border (edge sample repeated).
    public static func ssimMap(_ a: Image, _ b: Image) throws -> SSIMMap {
        try checkSameShape(a, b)
        let side = 2 * ssimRadius + 1
        guard a.height >= side && a.width >= side else {
            throw DIPError.invalidValue(name: "image size", value: a.sizeDescription,
                                        reason: "SSIM needs at least \(side)x\(side) pixels (its Gaussian window)")
        }
        try requireRoom(for: a)
        let h = a.height, w = a.width, plane = h * w
        let weights = gaussianWeights()
        let k = weights.count, r = k / 2
        let c1 = ssimK1 * ssimK1, c2 = ssimK2 * ssimK2
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i) }
        var out = [Double](repeating: 0, count: a.pixels.count)
        // The separable Gaussian filter of the five planes (x, y, x², y², xy), streamed: each
        // row filtered along itself once, into slot row % k of a ring of k rows per plane, and
        // each output row summed from the k rows it reads (all within row ± r, reflections
        // included). The whole planes and their filtered copies took 104 bytes a pixel (a
        // 16384x16384 `psnr` ran out of 24 GiB); the sums are taken in the same order, so the
        // same bits.
        let n = w + 2 * r
        var ring = [Double](repeating: 0, count: 5 * k * w)
        var line = [Double](repeating: 0, count: 5 * n)
        var mean = [Double](repeating: 0, count: 5 * w)
        for c in 0..<a.channels {
            let base = c * plane
            var filtered = -1
            for y in 0..<h {
                while filtered < min(h - 1, y + r) {
                    filtered += 1
                    let row = base + filtered * w, slot = filtered % k
                    for i in 0..<n {
                        let at = row + reflect(i - r, w)
                        let u = Double(a.pixels[at]), v = Double(b.pixels[at])
                        line[i] = u; line[n + i] = v; line[2 * n + i] = u * u; line[3 * n + i] = v * v; line[4 * n + i] = u * v
                    }
                    for q in 0..<5 {
                        let from = q * n, to = (q * k + slot) * w
                        for x in 0..<w {
                            var s = 0.0
                            for j in 0..<k { s += weights[j] * line[from + x + j] }
                            ring[to + x] = s
                        }
                    }
                }
                for q in 0..<5 {
                    for x in 0..<w { mean[q * w + x] = 0 }
                    for j in 0..<k {
                        let from = (q * k + reflect(y + j - r, h) % k) * w, wj = weights[j]
                        for x in 0..<w { mean[q * w + x] += wj * ring[from + x] }
                    }
                }
                for x in 0..<w {
                    let mx = mean[x], my = mean[w + x]
                    let vx = mean[2 * w + x] - mx * mx, vy = mean[3 * w + x] - my * my, vxy = mean[4 * w + x] - mx * my
                    let a1 = 2 * mx * my + c1, a2 = 2 * vxy + c2
                    let b1 = mx * mx + my * my + c1, b2 = vx + vy + c2
                    out[base + y * w + x] = (a1 * a2) / (b1 * b2)
                }
            }
        }
        return SSIMMap(channels: a.channels, height: h, width: w, values: out)
    }

    /// scipy's `_gaussian_kernel1d`: exp(-x^2 / 2 sigma^2) on -radius...radius, normalised.
    static func gaussianWeights() -> [Double] {
        let r = ssimRadius
        let raw = (-r...r).map { exp(-0.5 * Double($0 * $0) / (ssimSigma * ssimSigma)) }
        let sum = raw.reduce(0, +)
        return raw.map { $0 / sum }
    }

    // MARK: Summary

    /// PSNR and SSIM over one region, with the share of the image's samples it covers.
    public struct RegionScores: Sendable, Equatable {
        /// Which pixels.
        public var region: Region
        /// Fraction of all samples in the region (1 for `.all`).
        public var fraction: Double
        /// PSNR in dB; +infinity for equal pixels, NaN when the region is empty.
        public var psnr: Double
        /// SSIM; nil when the image is smaller than the 11x11 window, NaN when the region is empty.
        public var ssim: Double?
    }

    /// The memory `scores` and `ssimMap` take beyond the two images: the SSIM map (8 bytes a
    /// sample) and the filter's rows.
    static func workingBytes(of image: Image) -> UInt64 {
        UInt64(image.pixels.count) * 8 + UInt64(image.width + 2 * ssimRadius) * 5 * UInt64(2 * ssimRadius + 3) * 8
    }

    /// Throws, naming the size, when the SSIM map of an image like `image` needs more memory
    /// (`workingBytes`) than this process can have (`available`, by default
    /// `HostMemory.available()`; nothing is checked where that is unknown, nor below
    /// `HostMemory.checkedFrom`): past it the kernel
    /// would end the process with no word, or the machine would swap for minutes.
    static func requireRoom(for image: Image, available: @autoclosure () -> UInt64? = HostMemory.available()) throws {
        let needed = workingBytes(of: image)
        guard HostMemory.worthChecking(Double(needed)), let available = available(), needed > available else { return }
        throw DIPError.invalidValue(name: "image size", value: image.sizeDescription,
                                    reason: "its SSIM needs about \(ByteSize.gib(Double(needed))) more memory and this process can have "
                                        + "\(ByteSize.gib(Double(available))) here; compare crops of the images")
    }

    /// Every score a comparison report shows: the whole image and, given a mask, its holes and
    /// known pixels; one PSNR pass and one SSIM map however many regions are asked for.
    public static func scores(_ a: Image, _ b: Image, mask: Image? = nil) throws -> [RegionScores] {
        try checkSameShape(a, b)
        let side = 2 * ssimRadius + 1
        let map = a.height >= side && a.width >= side ? try ssimMap(a, b) : nil
        guard let mask else {
            return [RegionScores(region: .all, fraction: 1, psnr: try psnr(a, b), ssim: map?.mean())]
        }
        let p = try psnrByRegion(a, b, mask: mask)
        var holes = 0
        for c in 0..<a.channels {
            let mbase = mask.channels == 1 ? 0 : c * a.planeSize
            for i in 0..<a.planeSize where mask.pixels[mbase + i] < 0.5 { holes += 1 }
        }
        let holeFraction = Double(holes) / Double(a.pixels.count)
        return [
            RegionScores(region: .all, fraction: 1, psnr: p.all, ssim: map?.mean()),
            RegionScores(region: .holes, fraction: holeFraction, psnr: p.holes, ssim: map?.mean(mask: mask, region: .holes)),
            RegionScores(region: .known, fraction: 1 - holeFraction, psnr: p.known, ssim: map?.mean(mask: mask, region: .known)),
        ]
    }

    // MARK: Checks

    /// Throws `DIPError.mismatch` naming both shapes unless `a` and `b` agree in size and channels.
    public static func checkSameShape(_ a: Image, _ b: Image) throws {
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw DIPError.mismatch("cannot compare images of different shapes: \(a.sizeDescription) vs \(b.sizeDescription)")
        }
    }

    /// Throws `DIPError.mismatch` unless `mask` has the image's size and 1 or its channel count.
    public static func checkMask(_ mask: Image, for image: Image) throws {
        guard mask.height == image.height, mask.width == image.width,
              mask.channels == 1 || mask.channels == image.channels else {
            throw DIPError.mismatch("mask is \(mask.sizeDescription) but the image is \(image.sizeDescription); the mask needs the same size and 1 or \(image.channels) channels")
        }
    }
}
