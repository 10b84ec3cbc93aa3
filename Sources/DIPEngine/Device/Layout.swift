/// The device layouts and the host's, converted in one place: activations are [C, H, W] on the
/// host and [H, W, C] (NHWC, batch 1) on a device; filters [O, I, k, k] on the host and
/// [O, k, k, I] (KRSC) on a device, which is `items` = O blocks of the activation conversion with
/// C = I and H = W = k.
enum Layout {
    /// [items][C][H][W] to [items][H][W][C].
    static func hwc(fromCHW src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                    channels c: Int, height h: Int, width w: Int, items: Int = 1) {
        let plane = h * w, block = c * plane
        for n in 0..<items {
            let s = src + n * block, d = dst + n * block
            for ch in 0..<c { for p in 0..<plane { d[p * c + ch] = s[ch * plane + p] } }
        }
    }

    /// [items][H][W][C] to [items][C][H][W].
    static func chw(fromHWC src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>,
                    channels c: Int, height h: Int, width w: Int, items: Int = 1) {
        let plane = h * w, block = c * plane
        for n in 0..<items {
            let s = src + n * block, d = dst + n * block
            for ch in 0..<c { for p in 0..<plane { d[ch * plane + p] = s[p * c + ch] } }
        }
    }

    /// The same conversions on arrays, for checks and tests.
    static func hwc(fromCHW v: [Float], channels c: Int, height h: Int, width w: Int, items: Int = 1) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        v.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in
            hwc(fromCHW: s.baseAddress!, into: d.baseAddress!, channels: c, height: h, width: w, items: items)
        } }
        return out
    }

    /// [items][H][W][C] arrays to [items][C][H][W].
    static func chw(fromHWC v: [Float], channels c: Int, height h: Int, width w: Int, items: Int = 1) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        v.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in
            chw(fromHWC: s.baseAddress!, into: d.baseAddress!, channels: c, height: h, width: w, items: items)
        } }
        return out
    }
}
