/// Concat(skip, deeper) along channels, skip first, with upstream's centre crop: both inputs are
/// cropped to the smaller H and W, starting at offset (size - min) / 2 (docs/semantics.md §3.5).
final class Concat {
    private let parallel: ChannelParallel
    private(set) var skipShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var deeperShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var outputShape = FeatureShape(channels: 2, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private var gradients = TensorPool()

    init(parallel: ChannelParallel) { self.parallel = parallel }

    /// No parameters or MACs. The forward reads the cropped part of both inputs and writes the
    /// output; the backward returns views of the output gradient when nothing is cropped (no
    /// traffic), and otherwise reads it and writes both input gradients whole (zeros where the
    /// crop dropped pixels).
    static func cost(skip s: FeatureShape, deeper d: FeatureShape) -> LayerCost {
        let out = (s.channels + d.channels) * min(s.height, d.height) * min(s.width, d.width)
        let cropped = s.height != d.height || s.width != d.width
        return LayerCost(forwardValues: out + out, backwardValues: cropped ? out + s.count + d.count : 0)
    }

    /// Allocates the output for the two input shapes; the backward's gradients come from
    /// `gradients`.
    @discardableResult
    func prepare(skip s: FeatureShape, deeper d: FeatureShape, gradients: TensorPool = TensorPool()) -> FeatureShape {
        skipShape = s
        deeperShape = d
        outputShape = FeatureShape(channels: s.channels + d.channels,
                                   height: min(s.height, d.height), width: min(s.width, d.width))
        output = outputShape.makeTensor()
        self.gradients = gradients
        return outputShape
    }

    /// The skip channels of `output`, where the skip branch can write directly; nil when the
    /// skip input is cropped.
    var skipWindow: FeatureWindow? { window(skipShape, firstChannel: 0) }
    /// The deeper channels of `output`, likewise.
    var deeperWindow: FeatureWindow? { window(deeperShape, firstChannel: skipShape.channels) }

    /// Whether both inputs have the output's size: then the backward's gradients are views of
    /// the output gradient's two channel ranges, and each input channel's gradient is the
    /// output gradient's channel as it is.
    var cropsNothing: Bool { skipWindow != nil && deeperWindow != nil }

    private func window(_ s: FeatureShape, firstChannel: Int) -> FeatureWindow? {
        guard s.height == outputShape.height, s.width == outputShape.width else { return nil }
        return FeatureWindow(output, s, offset: firstChannel * s.plane, rowStride: s.width, planeStride: s.plane)
    }

    /// Copies the (cropped) skip channels, then the (cropped) deeper channels. An input that is
    /// `output` itself was written into its window already and is not copied.
    func forward(skip: Tensor, deeper: Tensor) -> Tensor {
        let o = outputShape, sc = skipShape.channels
        let out = UncheckedBox(output.pointer)
        let inputs = UncheckedBox((skip.pointer, deeper.pointer))
        let (ss, ds) = (skipShape, deeperShape)
        let inPlace = (skip: skip === output, deeper: deeper === output)
        parallel.run(o.channels) { c in
            let (sp, dp) = inputs.value
            let fromSkip = c < sc
            if fromSkip ? inPlace.skip : inPlace.deeper { return }
            let s = fromSkip ? ss : ds
            let base = (fromSkip ? sp + c * s.plane : dp + (c - sc) * s.plane)
                + (s.height - o.height) / 2 * s.width + (s.width - o.width) / 2
            let d = out.value + c * o.plane
            for y in 0..<o.height { (d + y * o.width).update(from: base + y * s.width, count: o.width) }
        }
        return output
    }

    /// Splits the gradient back (views of `gradOutput` when nothing was cropped); pixels the
    /// crop dropped get zero.
    func backward(_ gradOutput: Tensor) -> (skip: Tensor, deeper: Tensor) {
        if let s = skipWindow, let d = deeperWindow {
            // Nothing was cropped (`cropsNothing`): the two gradients are the two channel
            // ranges, no copy.
            return (Tensor(viewing: gradOutput, offset: s.offset, dims: s.shape.dims),
                    Tensor(viewing: gradOutput, offset: d.offset, dims: d.shape.dims))
        }
        let o = outputShape, sc = skipShape.channels
        let gradSkip = gradients.tensor(skipShape), gradDeeper = gradients.tensor(deeperShape)
        let g = UncheckedBox(gradOutput.pointer)
        let grads = UncheckedBox((gradSkip.pointer, gradDeeper.pointer))
        let (ss, ds) = (skipShape, deeperShape)
        parallel.run(o.channels) { c in
            let (sp, dp) = grads.value
            let fromSkip = c < sc
            let s = fromSkip ? ss : ds
            let plane = fromSkip ? sp + c * s.plane : dp + (c - sc) * s.plane
            if s.height != o.height || s.width != o.width { plane.update(repeating: 0, count: s.plane) }
            let base = plane + (s.height - o.height) / 2 * s.width + (s.width - o.width) / 2
            let gp = g.value + c * o.plane
            for y in 0..<o.height { (base + y * s.width).update(from: gp + y * o.width, count: o.width) }
        }
        return (gradSkip, gradDeeper)
    }
}
