import DIPCore

/// Upstream's conv(): ReflectionPad2d((k-1)/2) (none for 1x1), then a valid convolution with
/// bias, run by the backend's ConvolutionKernel. Weights are [O, I, k, k].
final class Conv2d {
    /// Input channels.
    let inChannels: Int
    /// Output channels.
    let outChannels: Int
    /// Square kernel side.
    let kernel: Int
    /// Stride, 1 or 2.
    let stride: Int
    /// False for a convolution that reads the input code z, whose gradient nobody needs.
    let needsInputGradient: Bool
    /// [O, I, k, k].
    let weight: Tensor
    /// [O].
    let bias: Tensor
    /// d loss / d weight.
    let gradWeight: Tensor
    /// d loss / d bias.
    let gradBias: Tensor

    private let pad: ReflectionPad?
    private(set) var convolution: (any ConvolutionKernel)?
    private var kernelInput: Tensor?
    private(set) var output = Tensor([1])

    /// PyTorch's default init: weight, then bias, each element from U(-b, b) with
    /// b = 1 / sqrt(fan_in), fan_in = inChannels * k * k, drawn from `rng` in memory order.
    init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, needsInputGradient: Bool = true,
         rng: inout RandomStream, parallel: ChannelParallel) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.needsInputGradient = needsInputGradient
        weight = Tensor([outChannels, inChannels, kernel, kernel])
        bias = Tensor([outChannels])
        gradWeight = Tensor(weight.dims)
        gradBias = Tensor(bias.dims)
        pad = kernel > 1 ? ReflectionPad(pad: (kernel - 1) / 2, parallel: parallel) : nil
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        for t in [weight, bias] {
            for i in 0..<t.count { t.pointer[i] = -bound + 2 * bound * rng.uniform() }
        }
    }

    /// The cost of a convolution of `g` (whose input is the padded one) and of the reflection
    /// padding in front of it: weights [O, I, k, k] and O biases; MACs `g.macs`. The forward
    /// pads, then reads the padded input, the weights and the bias and writes the output; the
    /// backward's weight pass reads the padded input and the output gradient and writes both
    /// parameter gradients, and unless `needsInputGradient` is false its data pass reads the
    /// output gradient and the weights, writes the padded input gradient, and the pad folds it.
    static func cost(_ g: ConvGeometry, needsInputGradient: Bool = true) -> LayerCost {
        let weights = g.outChannels * g.inChannels * g.kernel * g.kernel, biases = g.outChannels
        let input = g.inChannels * g.inputHeight * g.inputWidth
        let output = g.outChannels * g.outputHeight * g.outputWidth
        let dataPass = needsInputGradient ? output + weights + input : 0
        let own = LayerCost(parameters: weights + biases, macs: g.macs,
                            forwardValues: input + weights + biases + output,
                            backwardValues: input + output + weights + biases + dataPass)
        let p = (g.kernel - 1) / 2
        guard p > 0 else { return own }
        let unpadded = FeatureShape(channels: g.inChannels, height: g.inputHeight - 2 * p, width: g.inputWidth - 2 * p)
        var pad = ReflectionPad.cost(inputShape: unpadded, pad: p)
        if !needsInputGradient { pad.backwardBytes = 0 }
        return own + pad
    }

    /// The kernel's geometry (valid after prepare).
    var geometry: ConvGeometry? { convolution?.geometry }

    /// Prepares the pad and a backend kernel for `inputShape`; returns the output shape. The
    /// pad's backward takes the unpadded input gradient from `gradients`. When the kernel keeps
    /// what its backward needs of the padded input (`keepsForwardInput`), the padded buffer is
    /// only alive while the pad writes it and the kernel reads it, in the forward and again in
    /// the backward (as the padded input gradient), so it is a view of `paddedInputs`, one
    /// buffer the network's convolutions use in turn.
    @discardableResult
    func prepare(inputShape s: FeatureShape, backend: any ComputeBackend, algorithm: ConvAlgorithm,
                 gradients: TensorPool = TensorPool(), paddedInputs: SharedScratch? = nil) throws -> FeatureShape {
        guard s.channels == inChannels else {
            throw EngineError.shape("convolution \(inChannels)->\(outChannels) got \(s.channels) input channels")
        }
        let padded = try pad?.outputShape(for: s) ?? s
        let g = ConvGeometry(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                             inputHeight: padded.height, inputWidth: padded.width)
        guard g.outputHeight >= 1, g.outputWidth >= 1 else {
            throw EngineError.shape("convolution \(g) has no output pixels")
        }
        let kernel = try backend.makeConvolution(g, algorithm: algorithm)
        convolution = kernel
        try pad?.prepare(inputShape: s, gradients: gradients, shared: kernel.keepsForwardInput ? paddedInputs : nil)
        let out = FeatureShape(channels: outChannels, height: g.outputHeight, width: g.outputWidth)
        output = out.makeTensor()
        return out
    }

    /// Where a producer can write this convolution's input so that the padding needs no copy
    /// (the interior of the padded buffer; then pass the buffer to `forward`); nil without a pad.
    var inputWindow: FeatureWindow? { pad?.interior }

    /// output = conv(pad(input), weight) + bias. `input` may be the padded buffer itself, its
    /// interior written through `inputWindow`.
    func forward(_ input: Tensor) throws -> Tensor {
        guard let convolution else { preconditionFailure("Conv2d.forward before prepare") }
        let x = pad?.forward(input) ?? input
        kernelInput = x
        try convolution.forward(input: x, weight: weight, bias: bias, output: output)
        return output
    }

    /// The reflection pad of a convolution whose kernel builds its padded input itself from a
    /// BatchNorm's statistics (`forward(normalized:)`); nil where the input must be written
    /// (no pad, a kernel that reads a tensor, or one where building the rows does not pay).
    var normalizingPad: Int? {
        guard let pad, let kernel = convolution as? any NormalizesItsInput, kernel.normalizingPays else { return nil }
        return pad.pad
    }

    /// output = conv(input's padded rows, weight) + bias, with `input` from the BatchNorm in
    /// front (`BatchNorm.normalizedInput(_:padded: normalizingPad)`): the same bits as
    /// `forward` of that BatchNorm's output, which is never written.
    func forward(normalized input: NormalizedPaddedInput) throws -> Tensor {
        guard let kernel = convolution as? any NormalizesItsInput, let pad, input.pad == pad.pad else {
            preconditionFailure("Conv2d.forward(normalized:) where normalizingPad is nil or another pad")
        }
        // The padded buffer stands for the input: the kernel keeps what its backward reads,
        // and the backward may write the padded gradient there.
        kernelInput = pad.output
        try kernel.forward(normalizing: input, standingFor: pad.output, weight: weight, bias: bias, output: output)
        return output
    }

    /// Whether the kernel's bias gradient is the `planeSum` of each channel of the output
    /// gradient, which the layer writing that gradient may then compute as it writes it
    /// (`backward(_:biasGradientSummed:)`).
    var biasGradientIsPlaneSum: Bool { convolution is any PlaneSumBiasGradient }

    /// Overwrites gradWeight and gradBias (or, with `biasGradientSummed`, leaves gradBias as the
    /// caller wrote it: the plane sums of `gradOutput`, only where `biasGradientIsPlaneSum`);
    /// returns d loss / d input, or nil when `needsInputGradient` is false.
    ///
    /// Once the weight gradient is done the saved input is dead until the next forward, so the
    /// input gradient is written over it (the padded buffer, or for a 1x1 convolution the
    /// tensor the forward was given): the caller must not need that tensor after backward.
    ///
    /// A kernel that folds the pad's gradient as it writes (`FoldsReflectionPadGradient`)
    /// writes the unpadded input gradient directly, after the weight gradients, where the
    /// input is large enough to fold (a 2x2 level of a 64x64 input is not: there the padded
    /// gradient is written and the pad's backward runs, as for any other kernel).
    func backward(_ gradOutput: Tensor, biasGradientSummed: Bool = false) throws -> Tensor? {
        guard let convolution, let x = kernelInput else { preconditionFailure("Conv2d.backward before forward") }
        kernelInput = nil
        let summed = biasGradientSummed ? convolution as? any PlaneSumBiasGradient : nil
        precondition(!biasGradientSummed || summed != nil, "Conv2d.backward: this kernel's bias gradient is not a plane sum")
        func weights() throws {
            if let summed {
                try summed.backwardWeights(input: x, gradOutput: gradOutput, gradWeight: gradWeight, keepingSummedBias: gradBias)
            } else {
                try convolution.backwardWeights(input: x, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
            }
        }
        if needsInputGradient, let pad, let folding = convolution as? any FoldsReflectionPadGradient,
           folding.foldsReflectionPad(pad.pad) {
            try weights()
            return try pad.backward { gradInput in
                try folding.backwardData(gradOutput: gradOutput, weight: weight, foldingReflectionPad: pad.pad, into: gradInput)
            }
        }
        if summed != nil {
            // Weights first: the input gradient is written over the input.
            try weights()
            if needsInputGradient { try convolution.backwardData(gradOutput: gradOutput, weight: weight, gradInput: x) }
        } else {
            try convolution.backward(input: x, gradOutput: gradOutput, weight: weight, gradWeight: gradWeight, gradBias: gradBias,
                                     gradInput: needsInputGradient ? x : nil)
        }
        guard needsInputGradient else { return nil }
        return pad?.backward(x) ?? x
    }
}
