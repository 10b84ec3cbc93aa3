/// Upstream's data term: mean over all C*H*W of (m * out - m * x0)^2 (docs/semantics.md §1, §9.4: the
/// divisor is the whole image, not the count of known pixels).
///
/// The mask has 1 channel (broadcast over the image's channels) or as many as the image.
public enum MaskedMSELoss {
    /// Checks that output, target and mask fit together.
    static func check(_ output: Tensor, _ target: Tensor, _ mask: Tensor) throws {
        guard output.dims.count == 3, output.dims == target.dims else {
            throw EngineError.shape("loss: network output \(output.dims) and target image \(target.dims) differ")
        }
        guard mask.dims.count == 3, mask.dims[1] == output.dims[1], mask.dims[2] == output.dims[2],
              mask.dims[0] == 1 || mask.dims[0] == output.dims[0] else {
            throw EngineError.shape("loss: mask \(mask.dims) does not fit image \(output.dims); it needs 1 or \(output.dims[0]) channels of \(output.dims[1])x\(output.dims[2])")
        }
    }

    /// The loss, accumulated in Float64 in a fixed order.
    public static func value(output: Tensor, target: Tensor, mask: Tensor) throws -> Double {
        try check(output, target, mask)
        let c = output.dims[0], plane = output.dims[1] * output.dims[2]
        let o = output.pointer, t = target.pointer, m = mask.pointer
        let maskStride = mask.dims[0] == 1 ? 0 : plane
        var total = 0.0
        for ch in 0..<c {
            let op = o + ch * plane, tp = t + ch * plane, mp = m + ch * maskStride
            total += BatchNorm.sum(plane) { i in
                let d = Double(mp[i] * op[i] - mp[i] * tp[i])
                return d * d
            }
        }
        return total / Double(c * plane)
    }

    /// Writes d loss / d output = 2 m (m out - m x0) / (C H W) into `gradient` (which is
    /// 2 m (out - x0) / (C H W) for a 0/1 mask).
    public static func gradient(output: Tensor, target: Tensor, mask: Tensor, into gradient: Tensor) throws {
        try check(output, target, mask)
        guard gradient.dims == output.dims else {
            throw EngineError.shape("loss gradient buffer \(gradient.dims) differs from the output \(output.dims)")
        }
        let c = output.dims[0], plane = output.dims[1] * output.dims[2]
        let o = output.pointer, t = target.pointer, m = mask.pointer, g = gradient.pointer
        let maskStride = mask.dims[0] == 1 ? 0 : plane
        let scale = Float(2.0 / Double(c * plane))
        for ch in 0..<c {
            let op = o + ch * plane, tp = t + ch * plane, mp = m + ch * maskStride, gp = g + ch * plane
            for i in 0..<plane { gp[i] = scale * mp[i] * (mp[i] * op[i] - mp[i] * tp[i]) }
        }
    }

    /// The loss times `scale` and its gradient times `scale` (written into `gradient`): what a
    /// fit on a padded canvas uses to keep upstream's normaliser, the image's C*H*W.
    static func scaled(output: Tensor, target: Tensor, mask: Tensor, scale: Double, gradient: Tensor) throws -> Double {
        let loss = try value(output: output, target: target, mask: mask) * scale
        try self.gradient(output: output, target: target, mask: mask, into: gradient)
        if scale != 1 {
            let s = Float(scale)
            for i in 0..<gradient.count { gradient.pointer[i] *= s }
        }
        return loss
    }
}
