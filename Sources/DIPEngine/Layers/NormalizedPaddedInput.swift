import CLayerKernels

/// A padded convolution's input described by what would produce it: BatchNorm's output (with
/// its fused LeakyReLU, if any) of `source`, reflection-padded by `pad`. A kernel that
/// `NormalizesItsInput` builds the rows it reads from this as it reads them, so the padded
/// tensor is never written and read back (at text's 256->128 layer at 256x256 that was 64 MiB
/// written and read again each forward; BENCHMARKS.md, twenty-seventh part). Each row has the
/// bits `BatchNorm.forward` into the pad's interior and `ReflectionPad.forward` would give it:
/// the same apply kernel per element, and the same copies for the border.
///
/// It points into the BatchNorm's input and statistics: valid until that BatchNorm's next
/// forward.
struct NormalizedPaddedInput {
    /// The BatchNorm's input, [C, H, W] (unpadded).
    let source: UnsafePointer<Float>
    /// Its shape.
    let shape: FeatureShape
    /// Reflection padding on each side (less than H and W).
    let pad: Int
    /// Per channel, as the BatchNorm applies them: (x - mean) * scale + shift.
    let mean: UnsafePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    /// The fused LeakyReLU's negative slope, or nil.
    let slope: Float?

    /// The padded shape: what the convolution's geometry reads.
    var paddedShape: FeatureShape {
        FeatureShape(channels: shape.channels, height: shape.height + 2 * pad, width: shape.width + 2 * pad)
    }

    /// Padded row `row` (0 ..< H + 2 pad) of `channel`, W + 2 pad floats into `out`.
    func row(channel c: Int, paddedRow row: Int, into out: UnsafeMutablePointer<Float>) {
        let w = shape.width, p = pad
        let from = source + c * shape.plane + ReflectionPad.reflect(row - p, shape.height) * w
        dip_cpu_bn_apply(from, out + p, 1, w, w, mean[c], scale[c], shift[c], slope == nil ? 0 : 1, slope ?? 1)
        ReflectionPad.reflectColumns(out, pad: p, width: w)
    }

    /// The unpadded rows that padded rows `rows` read (a range that holds them all, for
    /// prefetching).
    func sourceRows(ofPaddedRows rows: Range<Int>) -> Range<Int> {
        let first = min(max(rows.lowerBound - 2 * pad, 0), shape.height)
        return first..<max(first, min(rows.upperBound, shape.height))
    }
}
