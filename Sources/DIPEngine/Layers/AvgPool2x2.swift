/// AvgPool2d(2, 2): floor size; a trailing odd row or column is dropped (and gets no gradient).
final class AvgPool2x2 {
    private let parallel: ChannelParallel
    private(set) var inputShape = FeatureShape(channels: 1, height: 2, width: 2)
    private(set) var outputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private var gradients = TensorPool()

    init(parallel: ChannelParallel) { self.parallel = parallel }

    /// No parameters or MACs. The forward reads the pooled blocks and writes the output; the
    /// backward reads the output gradient and writes the input gradient (a dropped odd row or
    /// column is written with zeros).
    static func cost(inputShape s: FeatureShape) -> LayerCost {
        let pooled = s.channels * (s.height / 2 * 2) * (s.width / 2 * 2)
        let out = s.channels * (s.height / 2) * (s.width / 2)
        return LayerCost(forwardValues: pooled + out, backwardValues: out + s.count)
    }

    /// Allocates the output (the backward's gradient comes from `gradients`); needs at least
    /// 2x2 pixels.
    @discardableResult
    func prepare(inputShape s: FeatureShape, gradients: TensorPool = TensorPool()) throws -> FeatureShape {
        guard s.height >= 2, s.width >= 2 else {
            throw EngineError.shape("2x2 average pooling needs at least 2x2 pixels, got \(s.height)x\(s.width)")
        }
        inputShape = s
        outputShape = FeatureShape(channels: s.channels, height: s.height / 2, width: s.width / 2)
        output = outputShape.makeTensor()
        self.gradients = gradients
        return outputShape
    }

    /// The mean of each 2x2 block.
    func forward(_ input: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width
        let ho = outputShape.height, wo = outputShape.width
        let src = UncheckedBox(input.pointer), dst = UncheckedBox(output.pointer)
        parallel.run(inputShape.channels) { c in
            let s = src.value + c * h * w, d = dst.value + c * ho * wo
            for oy in 0..<ho {
                let r0 = s + 2 * oy * w, r1 = r0 + w, dr = d + oy * wo
                for ox in 0..<wo {
                    dr[ox] = (r0[2 * ox] + r0[2 * ox + 1] + r1[2 * ox] + r1[2 * ox + 1]) * 0.25
                }
            }
        }
        return output
    }

    /// A quarter of each block's gradient to each of its four pixels.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width
        let ho = outputShape.height, wo = outputShape.width
        let gradInput = gradients.tensor(inputShape)
        let src = UncheckedBox(gradOutput.pointer), dst = UncheckedBox(gradInput.pointer)
        parallel.run(inputShape.channels) { c in
            let g = src.value + c * ho * wo, d = dst.value + c * h * w
            if h != 2 * ho || w != 2 * wo { d.update(repeating: 0, count: h * w) }
            for oy in 0..<ho {
                let r0 = d + 2 * oy * w, r1 = r0 + w, gr = g + oy * wo
                for ox in 0..<wo {
                    let v = gr[ox] * 0.25
                    r0[2 * ox] = v; r0[2 * ox + 1] = v; r1[2 * ox] = v; r1[2 * ox + 1] = v
                }
            }
        }
        return gradInput
    }
}
