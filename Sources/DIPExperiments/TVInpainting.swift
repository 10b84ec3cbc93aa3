import DIPCore
import DIPEngine
import Foundation

/// Total-variation inpainting, the classical baseline of Table 1: per channel,
/// min_x TV(x) subject to x = x0 on the known pixels (or, with a data weight lambda,
/// min_x lambda/2 ||m (x - x0)||^2 + TV(x)), with isotropic TV on forward differences, solved by
/// Chambolle-Pock's primal-dual algorithm for a fixed number of iterations. Deterministic.
public enum TVInpainting {
    /// Step sizes: tau * sigma * ||grad||^2 < 1 with ||grad||^2 <= 8.
    static let tau = 0.99 / 8.0.squareRoot()
    /// See `tau`.
    static let sigma = 0.99 / 8.0.squareRoot()

    /// Inpaints `image` where `mask` is 0 (mask: 1 channel or one per image channel). Hole pixels of
    /// `image` are never read. `progress` hears of every iteration (1-based) and may return false
    /// to stop early.
    public static func inpaint(_ image: Image, mask: Image, config: TVConfig,
                               progress: (Int) -> Bool = { _ in true }) throws -> Image {
        guard mask.height == image.height, mask.width == image.width,
              mask.channels == 1 || mask.channels == image.channels else {
            throw DIPError.mismatch("TV inpainting: the mask is \(mask.sizeDescription) but the image is \(image.sizeDescription)")
        }
        if let problem = FitConfig.iterationsProblem(config.iterations) {
            throw DIPError.invalidValue(name: "TV iterations", value: "\(config.iterations)", reason: problem)
        }
        if let l = config.dataWeight, !(l > 0) {
            throw DIPError.invalidValue(name: "TV data weight", value: "\(l)", reason: "must be positive (or absent for exact known pixels)")
        }
        let h = image.height, w = image.width, n = h * w
        var out = image
        var x = [Double](repeating: 0, count: n), xBar = x, x0 = x, m = x
        var px = x, py = x
        var stopped = false
        for c in 0..<image.channels where !stopped {
            let mc = mask.channels == 1 ? 0 : c
            var sum = 0.0, count = 0.0
            for i in 0..<n {
                m[i] = mask.pixels[mc * n + i] > 0.5 ? 1 : 0
                x0[i] = m[i] > 0 ? Double(image.pixels[c * n + i]) : 0
                sum += x0[i]
                count += m[i]
            }
            // Holes start at the mean of the known pixels: the fixed point does not depend on it,
            // but a fixed iteration count does, and this start is neutral.
            let fill = count > 0 ? sum / count : 0.5
            for i in 0..<n {
                x[i] = m[i] > 0 ? x0[i] : fill
                xBar[i] = x[i]
                px[i] = 0
                py[i] = 0
            }
            x.withUnsafeMutableBufferPointer { x in
            xBar.withUnsafeMutableBufferPointer { xb in
            px.withUnsafeMutableBufferPointer { px in
            py.withUnsafeMutableBufferPointer { py in
            x0.withUnsafeBufferPointer { x0 in
            m.withUnsafeBufferPointer { m in
                for it in 1...config.iterations {
                    // Dual ascent on grad(xBar), projected onto the unit ball pointwise.
                    for y in 0..<h {
                        for xx in 0..<w {
                            let i = y * w + xx
                            let gx = xx + 1 < w ? xb[i + 1] - xb[i] : 0
                            let gy = y + 1 < h ? xb[i + w] - xb[i] : 0
                            let qx = px[i] + sigma * gx, qy = py[i] + sigma * gy
                            let norm = max(1, (qx * qx + qy * qy).squareRoot())
                            px[i] = qx / norm
                            py[i] = qy / norm
                        }
                    }
                    // Primal descent on -div(p), then the data term's proximal map.
                    for y in 0..<h {
                        for xx in 0..<w {
                            let i = y * w + xx
                            var div = 0.0
                            div += xx + 1 < w ? px[i] : 0
                            div -= xx > 0 ? px[i - 1] : 0
                            div += y + 1 < h ? py[i] : 0
                            div -= y > 0 ? py[i - w] : 0
                            let old = x[i]
                            var v = old + tau * div
                            if m[i] > 0 {
                                if let l = config.dataWeight { v = (v + tau * l * x0[i]) / (1 + tau * l) } else { v = x0[i] }
                            }
                            v = min(1, max(0, v))
                            x[i] = v
                            xb[i] = 2 * v - old
                        }
                    }
                    if !progress(it) { stopped = true; break }
                }
            }}}}}}
            for i in 0..<n { out.pixels[c * n + i] = Float(x[i]) }
        }
        if stopped { throw CancellationError() }
        return out
    }
}
