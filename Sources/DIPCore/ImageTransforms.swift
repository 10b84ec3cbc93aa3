import Foundation

/// Resizing, cropping, padding and colour conversion, each matching what upstream's Python
/// (PIL, numpy, PyTorch) does to the same image, so our inputs equal theirs.
extension Image {
    // MARK: - Bicubic resize (Pillow's algorithm)

    /// Pillow's bicubic kernel (Keys, a = -0.5), support 2.
    static func bicubic(_ t: Double) -> Double {
        let a = -0.5
        let x = abs(t)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// One output sample's taps along an axis: the first input index and the weights.
    struct ResampleTaps {
        var first: [Int]
        var count: [Int]
        var weights: [[Double]]
    }

    /// Pillow's `precompute_coeffs` for an axis of `inSize` samples resized to `outSize`:
    /// centres at (i + 0.5) * scale, the kernel stretched by the scale when shrinking
    /// (antialiasing), weights normalised to sum to 1.
    static func resampleTaps(inSize: Int, outSize: Int) -> ResampleTaps {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        var taps = ResampleTaps(first: [], count: [], weights: [])
        for i in 0..<outSize {
            let centre = (Double(i) + 0.5) * scale
            // Pillow rounds with (int)(v + 0.5), which truncates towards zero.
            let lo = max(Int(centre - support + 0.5), 0)
            let hi = min(Int(centre + support + 0.5), inSize)
            // Multiplying by the reciprocal, as Pillow does, keeps the weights bit-identical.
            let inverse = 1.0 / filterScale
            var w = (lo..<hi).map { bicubic((Double($0) - centre + 0.5) * inverse) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            taps.first.append(lo)
            taps.count.append(hi - lo)
            taps.weights.append(w)
        }
        return taps
    }

    /// Whether current Pillow (since PR #9549, 2026) runs the vertical pass first: when the height
    /// shrinks by more than twice as many pixels as the width does. Older Pillow always ran the
    /// horizontal pass first; the two orders differ only in rounding between the passes.
    static func pillowResizesVerticallyFirst(from size: (height: Int, width: Int),
                                             to target: (height: Int, width: Int)) -> Bool {
        target.height < size.height && size.height - target.height > 2 * (size.width - target.width)
    }

    /// One separable pass of Pillow's resample over planar samples: resizes axis `vertical ?
    /// rows : columns` of `planes` planes of `rows` x `cols`, with `combine` turning the taps'
    /// weighted sum into the stored sample.
    static func resamplePass<T>(_ input: [T], planes: Int, rows: Int, cols: Int, vertical: Bool,
                                to outSize: Int, zero: T, combine: (_ taps: Int, _ sample: (Int) -> T) -> T,
                                taps: ResampleTaps) -> [T] {
        let outRows = vertical ? outSize : rows, outCols = vertical ? cols : outSize
        var out = [T](repeating: zero, count: planes * outRows * outCols)
        input.withUnsafeBufferPointer { src in
            for p in 0..<planes {
                for y in 0..<outRows {
                    for x in 0..<outCols {
                        let value: T
                        if vertical {
                            let first = taps.first[y], base = p * rows * cols + x
                            value = combine(y) { i in src[base + (first + i) * cols] }
                        } else {
                            let first = taps.first[x], base = (p * rows + y) * cols + first
                            value = combine(x) { i in src[base + i] }
                        }
                        out[(p * outRows + y) * outCols + x] = value
                    }
                }
            }
        }
        return out
    }

    /// Bicubic resize exactly as Pillow's `Image.resize((width, height), Image.BICUBIC)` does on
    /// a 32-bit float ("F") image, channel by channel: separable, weights and sums in Double,
    /// each pass stored as Float, no clamping (so ringing may leave [0, 1]).
    public func resized(height newHeight: Int, width newWidth: Int) -> Image {
        precondition(newHeight >= 1 && newWidth >= 1, "resize target must be positive")
        var samples = pixels
        var rows = height, cols = width
        func pass(vertical: Bool) {
            let inSize = vertical ? rows : cols, outSize = vertical ? newHeight : newWidth
            guard inSize != outSize else { return }
            let taps = Self.resampleTaps(inSize: inSize, outSize: outSize)
            samples = Self.resamplePass(samples, planes: channels, rows: rows, cols: cols, vertical: vertical,
                                        to: outSize, zero: Float(0), combine: { o, sample in
                var sum = 0.0
                for (i, w) in taps.weights[o].enumerated() { sum += Double(sample(i)) * w }
                return Float(sum)
            }, taps: taps)
            if vertical { rows = outSize } else { cols = outSize }
        }
        let verticalFirst = Self.pillowResizesVerticallyFirst(from: (height, width), to: (newHeight, newWidth))
        pass(vertical: verticalFirst)
        pass(vertical: !verticalFirst)
        return Image(channels: channels, height: newHeight, width: newWidth, pixels: samples)
    }

    /// Bicubic resize bit-exact with Pillow's `Image.resize((width, height), Image.BICUBIC)` on an
    /// 8-bit "L" or "RGB" image, as the seed report did before fitting.
    ///
    /// Samples are first put on the 8-bit grid (clamped, `round(v * 255)`), as saving to an
    /// 8-bit PNG would; inputs read from 8-bit files are already there. Pillow's 8-bit path then
    /// uses 22-bit fixed-point weights, rounds and clips to 0...255 after each pass, so the
    /// result is again a multiple of 1/255. Checked against Pillow 13.0.0; Pillow before PR #9549
    /// differs by one level at a few pixels when the height shrinks much more than the width
    /// (see `pillowResizesVerticallyFirst`), and is identical otherwise, e.g. for square resizes.
    /// Use `resized(height:width:)` for float images.
    public func resizedLikePillow(height newHeight: Int, width newWidth: Int) -> Image {
        precondition(newHeight >= 1 && newWidth >= 1, "resize target must be positive")
        let precisionBits = 22
        var levels = pixels.map { Int32((min(max(Double($0), 0), 1) * 255).rounded()) }
        var rows = height, cols = width
        func pass(vertical: Bool) {
            let inSize = vertical ? rows : cols, outSize = vertical ? newHeight : newWidth
            guard inSize != outSize else { return }
            let taps = Self.resampleTaps(inSize: inSize, outSize: outSize)
            // Pillow's normalize_coeffs_8bpc: (int)(w * 2^22 +- 0.5), i.e. half away from zero.
            let fixed = taps.weights.map { row in
                row.map { w -> Int in
                    let scaled = w * Double(1 << precisionBits)
                    return Int(scaled < 0 ? scaled - 0.5 : scaled + 0.5)
                }
            }
            levels = Self.resamplePass(levels, planes: channels, rows: rows, cols: cols, vertical: vertical,
                                       to: outSize, zero: Int32(0), combine: { o, sample in
                var sum = 1 << (precisionBits - 1)
                for (i, w) in fixed[o].enumerated() { sum += Int(sample(i)) * w }
                return Int32(min(max(sum >> precisionBits, 0), 255))
            }, taps: taps)
            if vertical { rows = outSize } else { cols = outSize }
        }
        let verticalFirst = Self.pillowResizesVerticallyFirst(from: (height, width), to: (newHeight, newWidth))
        pass(vertical: verticalFirst)
        pass(vertical: !verticalFirst)
        return Image(channels: channels, height: newHeight, width: newWidth,
                     pixels: levels.map { Float($0) / 255 })
    }

    // MARK: - Cropping and padding

    /// The rectangle of rows `top..<top+height` and columns `left..<left+width`, every channel.
    public func cropped(top: Int, left: Int, height newHeight: Int, width newWidth: Int) -> Image {
        precondition(top >= 0 && left >= 0 && newHeight >= 1 && newWidth >= 1
                     && top + newHeight <= height && left + newWidth <= width,
                     "crop rectangle must lie inside the image")
        var out = Image(channels: channels, height: newHeight, width: newWidth)
        for c in 0..<channels {
            for y in 0..<newHeight {
                let src = (c * height + top + y) * width + left
                let dst = (c * newHeight + y) * newWidth
                for x in 0..<newWidth { out.pixels[dst + x] = pixels[src + x] }
            }
        }
        return out
    }

    /// Upstream's `crop_image(img, d)`: each side cut down to a multiple of `d`, keeping the
    /// centre (the first `(size - new) / 2` rows and columns go, rounded down).
    public func centreCropped(toMultipleOf d: Int) throws -> Image {
        guard d >= 1 else {
            throw DIPError.invalidValue(name: "crop multiple", value: "\(d)", reason: "must be at least 1")
        }
        let newHeight = height - height % d, newWidth = width - width % d
        guard newHeight >= 1, newWidth >= 1 else {
            throw DIPError.invalidValue(name: "image size", value: "\(width)x\(height)",
                                        reason: "each side must be at least \(d) pixels to crop to a multiple of \(d)")
        }
        if newHeight == height && newWidth == width { return self }
        return cropped(top: (height - newHeight) / 2, left: (width - newWidth) / 2,
                       height: newHeight, width: newWidth)
    }

    /// Mirror padding by `p` pixels on every side without repeating the edge (index -1 reads 1,
    /// index n reads n-2), like numpy's 'reflect' mode and PyTorch's ReflectionPad2d.
    public func reflectionPadded(by p: Int) -> Image {
        precondition(p >= 0 && p < height && p < width, "reflection padding must be smaller than each side")
        if p == 0 { return self }
        let newHeight = height + 2 * p, newWidth = width + 2 * p
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * n - 2 - i : i) }
        let columns = (0..<newWidth).map { reflect($0 - p, width) }
        var out = Image(channels: channels, height: newHeight, width: newWidth)
        for c in 0..<channels {
            for y in 0..<newHeight {
                let src = (c * height + reflect(y - p, height)) * width
                let dst = (c * newHeight + y) * newWidth
                for x in 0..<newWidth { out.pixels[dst + x] = pixels[src + columns[x]] }
            }
        }
        return out
    }

    // MARK: - Colour

    /// Luma as PIL's `convert("L")` computes it (ITU-R 601 with weights 19595, 38470, 7471
    /// over 65536); rounding the result to 8 bits gives PIL's L image exactly. Gray images
    /// are returned unchanged.
    public func asGray() -> Image {
        if channels == 1 { return self }
        precondition(channels == 3, "gray conversion needs a 1- or 3-channel image")
        let n = planeSize
        var out = Image(channels: 1, height: height, width: width)
        for i in 0..<n {
            let luma = (19595 * Double(pixels[i]) + 38470 * Double(pixels[n + i]) + 7471 * Double(pixels[2 * n + i])) / 65536
            out.pixels[i] = Float(luma)
        }
        return out
    }

    /// Whether this is a 3-channel image whose channels are equal at every pixel: gray content
    /// stored as colour (a PNG with a gray palette, or RGB with R = G = B everywhere).
    public var isGrayInColour: Bool {
        guard channels == 3 else { return false }
        let n = planeSize
        for i in 0..<n where pixels[i] != pixels[n + i] || pixels[i] != pixels[2 * n + i] { return false }
        return true
    }

    /// Three equal channels from a gray image, as PIL's `convert("RGB")`; RGB images are
    /// returned unchanged.
    public func asRGB() -> Image {
        if channels == 3 { return self }
        precondition(channels == 1, "RGB conversion needs a 1- or 3-channel image")
        return Image(channels: 3, height: height, width: width, pixels: pixels + pixels + pixels)
    }
}
