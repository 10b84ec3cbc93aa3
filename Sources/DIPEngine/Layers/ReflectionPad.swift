/// ReflectionPad2d(p): the edge pixel is not repeated, so index -1 reads 1 and index n reads
/// n-2 (docs/semantics.md §3.1). Needs p < H and p < W, as PyTorch does.
final class ReflectionPad {
    /// Pixels added on each side.
    let pad: Int
    private let parallel: ChannelParallel
    private(set) var inputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var outputShape = FeatureShape(channels: 1, height: 1, width: 1)
    private(set) var output = Tensor([1])
    private var gradients = TensorPool()

    init(pad: Int, parallel: ChannelParallel) {
        precondition(pad >= 0)
        self.pad = pad
        self.parallel = parallel
    }

    /// The padded shape of `s`. Refuses a pad that reaches past the opposite edge.
    func outputShape(for s: FeatureShape) throws -> FeatureShape {
        guard pad < s.height, pad < s.width else {
            throw EngineError.shape("reflection padding of \(pad) needs more than \(pad) rows and columns, got \(s.height)x\(s.width)")
        }
        return FeatureShape(channels: s.channels, height: s.height + 2 * pad, width: s.width + 2 * pad)
    }

    /// Allocates the padded buffer, or takes it from `shared` (a buffer other layers use too,
    /// for a consumer that needs the padded tensor only while it reads it); the backward's
    /// gradient comes from `gradients`. Refuses a pad that reaches past the opposite edge.
    @discardableResult
    func prepare(inputShape s: FeatureShape, gradients: TensorPool = TensorPool(),
                 shared: SharedScratch? = nil) throws -> FeatureShape {
        outputShape = try outputShape(for: s)
        inputShape = s
        output = try shared?.view(outputShape) ?? outputShape.makeTensor()
        self.gradients = gradients
        return outputShape
    }

    /// The unpadded part of `output`: a producer that writes its result here, then calls
    /// `forward(output)`, saves the copy.
    var interior: FeatureWindow {
        FeatureWindow(output, inputShape, offset: pad * outputShape.width + pad, rowStride: outputShape.width,
                      planeStride: outputShape.plane)
    }

    /// No parameters or MACs. The forward reads the input and writes the padded output; the
    /// backward reads the padded gradient and writes the input gradient, then adds the border's
    /// gradients onto it (read and written).
    static func cost(inputShape s: FeatureShape, pad: Int) -> LayerCost {
        let padded = s.channels * (s.height + 2 * pad) * (s.width + 2 * pad)
        return LayerCost(forwardValues: s.count + padded, backwardValues: padded + 2 * s.count)
    }

    /// Source index of padded index `i` in 0..<n+2p.
    @inline(__always) private static func reflect(_ i: Int, _ n: Int) -> Int {
        i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i)
    }

    /// Pads `input` into `output`; when `input` is `output` itself (a producer wrote the
    /// interior), only the border is filled.
    func forward(_ input: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let inPlace = input === output
        let src = UncheckedBox(input.pointer), dst = UncheckedBox(output.pointer)
        parallel.run(inputShape.channels) { c in
            let d = dst.value + c * ho * wo
            // Source rows: the caller's tensor, or the interior of the padded buffer.
            let s = inPlace ? d + p * wo + p : src.value + c * h * w, stride = inPlace ? wo : w
            for oy in 0..<ho {
                let sr = s + Self.reflect(oy - p, h) * stride
                let dr = d + oy * wo
                for j in 0..<p { dr[j] = sr[p - j] }
                if !inPlace || oy < p || oy >= p + h { (dr + p).update(from: sr, count: w) }
                for j in 0..<p { dr[p + w + j] = sr[w - 2 - j] }
            }
        }
        return output
    }

    /// Folds the padded gradient back: each border gradient adds onto the pixel it copied.
    func backward(_ gradOutput: Tensor) -> Tensor {
        let h = inputShape.height, w = inputShape.width, p = pad
        let ho = outputShape.height, wo = outputShape.width
        let gradInput = gradients.tensor(inputShape)
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
