/// ReflectionPad2d(p): the edge pixel is not repeated, so index -1 reads 1 and index n reads
/// n-2 (dip-spec §3.1). Needs p < H and p < W, as PyTorch does.
final class ReflectionPad {
    /// Pixels added on each side.
    let pad: Int
    private let parallel: ChannelParallel
    private(set) var inputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var outputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private(set) var gradInput = Tensor([1])

    init(pad: Int, parallel: ChannelParallel) {
        precondition(pad >= 0)
        self.pad = pad
        self.parallel = parallel
    }

    /// Allocates the buffers; refuses a pad that reaches past the opposite edge.
    @discardableResult
    func prepare(inputShape s: FeatureShape) throws -> FeatureShape {
        guard pad < s.height, pad < s.width else {
            throw EngineError.shape("reflection padding of \(pad) needs more than \(pad) rows and columns, got \(s.height)x\(s.width)")
        }
        inputShape = s
        outputShape = FeatureShape(channels: s.channels, height: s.height + 2 * pad, width: s.width + 2 * pad)
        output = outputShape.makeTensor()
        gradInput = s.makeTensor()
        return outputShape
    }

    /// Source index of padded index `i` in 0..<n+2p.
    @inline(__always) private static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
    }

    /// Pads `input` into `output`.
    func forward(_ input: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let src = UncheckedBox(input.pointer), dst = UncheckedBox(output.pointer)
        parallel.run(inputShape.channels) { c in
            let s = src.value + c * h * w, d = dst.value + c * ho * wo
            for oy in 0..<ho {
                let sr = s + Self.reflect(oy - p, h) * w
                let dr = d + oy * wo
                for j in 0..<p { dr[j] = sr[p - j] }
                (dr + p).update(from: sr, count: w)
                for j in 0..<p { dr[p + w + j] = sr[w - 2 - j] }
            }
        }
        return output
    }

    /// Folds the padded gradient back: each border gradient adds onto the pixel it copied.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let src = UncheckedBox(gradOutput.pointer), dst = UncheckedBox(gradInput.pointer)
        parallel.run(inputShape.channels) { c in
            let g = src.value + c * ho * wo, d = dst.value + c * h * w
            // Interior rows first (a plain copy), then the border rows add onto them.
            for y in 0..<h { (d + y * w).update(from: g + (y + p) * wo + p, count: w) }
            for oy in 0..<ho {
                let gr = g + oy * wo
                let dr = d + Self.reflect(oy - p, h) * w
                let interiorRow = oy >= p && oy < p + h
                if !interiorRow { for x in 0..<w { dr[x] += gr[p + x] } }
                for j in 0..<p {
                    dr[p - j] += gr[j]
                    dr[w - 2 - j] += gr[p + w + j]
                }
            }
        }
        return gradInput
    }
}
