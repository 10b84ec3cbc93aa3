/// Random masks in which every element is kept independently with a fixed probability: the
/// masks of the paper's Table 1 ("50 % of pixels missing") and of the 98 %-missing kate run.
///
/// Semantics follow upstream's `get_bernoulli_mask`: draw u ~ U[0, 1) per element and keep the
/// element iff `u > zeroFraction`, where `zeroFraction = 1 - keepFraction`.
///
/// Reproducibility: the draws come from `RandomStream(seed: seed, purpose: .mask)` through
/// `fillUniform`, and element i of the C x H x W mask (planar index `(c * H + y) * W + x`) uses
/// word i of that stream, converted with `RandomStream.unitFloat` (24 bits). The same
/// (seed, shape, keepFraction) therefore gives the same mask on every machine, and a one-channel
/// mask is exactly channel 0 of the per-channel mask drawn with the same seed.
public enum BernoulliMask {
    /// A `channels` x `height` x `width` mask of 0 (hole) and 1 (known), each element kept with
    /// probability `keepFraction`.
    ///
    /// Use `channels: 1` for one mask shared by all colour channels and the image's channel
    /// count for upstream's per-channel masks (it draws with the image's shape).
    public static func make(channels: Int, height: Int, width: Int,
                            keepFraction: Double, seed: UInt64) throws -> Image {
        guard keepFraction.isFinite, keepFraction >= 0, keepFraction <= 1 else {
            throw DIPError.invalidValue(name: "keep fraction", value: "\(keepFraction)",
                                        reason: "must be a number from 0 to 1 (the fraction of pixels kept)")
        }
        for (name, value) in [("channels", channels), ("height", height), ("width", width)] {
            guard value >= 1, value <= (name == "channels" ? 4 : Image.maxSide) else {
                throw DIPError.invalidValue(name: "mask \(name)", value: "\(value)",
                                            reason: "must be from 1 to \(name == "channels" ? 4 : Image.maxSide)")
            }
        }
        var mask = Image(channels: channels, height: height, width: width)
        let stream = RandomStream(seed: seed, purpose: .mask)
        // Compare in Double like upstream (numpy compares float64 draws with a Python float);
        // every 24-bit draw is exact in Double, so there is no rounding in the test itself.
        let zeroFraction = 1 - keepFraction
        mask.pixels.withUnsafeMutableBufferPointer { buffer in
            stream.fillUniform(buffer)
            for i in buffer.indices {
                buffer[i] = Double(buffer[i]) > zeroFraction ? 1 : 0
            }
        }
        return mask
    }
}
