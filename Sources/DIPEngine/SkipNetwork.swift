import DIPCore

/// Upstream's `skip()` encoder-decoder (models/skip.py, docs/semantics.md §4.1), trained in place.
///
/// Canonical order: `tensors` lists every parameter and buffer in upstream's state_dict order
/// under upstream's keys. Weights are initialised in that same order from one
/// `RandomStream(seed:, purpose: .weights)`, drawing sequentially: for each convolution its
/// weight ([O, I, k, k] in memory order) then its bias, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); for
/// each BatchNorm its gamma (U(0, 1), or no draw for `.one`); beta and the buffers take no draws.
/// So level i's skip branch, then its encoder, then all deeper levels, then its decoder, and the
/// output 1x1 convolution last.
///
/// Buffers are owned by the network and overwritten by every pass: the tensor `forward` returns
/// is valid until the next `forward`.
public final class SkipNetwork {
    /// The architecture.
    public let config: SkipConfig
    /// Where the convolutions run.
    public let backend: any ComputeBackend
    /// How BatchNorm gamma was initialised.
    public let gammaInit: GammaInit
    /// The convolution algorithm asked of the backend.
    public let convAlgorithm: ConvAlgorithm
    /// The seed of the weight stream.
    public let seed: UInt64
    /// Every parameter and buffer, in canonical (upstream state_dict) order.
    public let tensors: [NamedTensor]
    /// The input shape of the last `prepare`, nil before.
    public private(set) var inputShape: FeatureShape?

    private let root: SkipLevel
    private let outputConv: Conv2d
    private let outputConvModule: String
    private let sigmoid = Sigmoid()
    /// The backward's gradients, shared by every layer: a gradient's memory is reused once
    /// the layer below has consumed it.
    private let gradients = TensorPool()
    private var forwardDone = false
    /// Times each step of the passes where set (`bench --layers`); nil: no clock is read.
    var layerClock: LayerClock? {
        didSet { root.clock = layerClock }
    }

    /// Builds and initialises the network (see the type's comment for the draw order).
    public init(config: SkipConfig, backend: any ComputeBackend, gammaInit: GammaInit = .uniform,
                convAlgorithm: ConvAlgorithm = .auto, seed: UInt64) throws {
        try config.validate()
        self.config = config
        self.backend = backend
        self.gammaInit = gammaInit
        self.convAlgorithm = convAlgorithm
        self.seed = seed
        var rng = RandomStream(seed: seed, purpose: .weights)
        let parallel = ChannelParallel(threads: max(1, backend.threads))
        root = SkipLevel(config, level: 0, gammaInit: gammaInit, rng: &rng, parallel: parallel)
        outputConv = Conv2d(inChannels: config.up[0], outChannels: config.outputChannels, kernel: 1,
                            rng: &rng, parallel: parallel)
        // The top Sequential holds level 0's modules 1...5 (or 1...8 with the 1x1 block), then
        // the output conv, then the Sigmoid.
        outputConvModule = config.need1x1Up ? "9" : "6"
        tensors = root.namedTensors(prefix: "") + outputConv.namedTensors(module: outputConvModule)
    }

    /// Trainable values (buffers excluded), as PyTorch's `sum(p.numel() for p in parameters())`.
    public var parameterCount: Int { tensors.filter { !$0.isBuffer }.reduce(0) { $0 + $1.value.count } }

    /// Every convolution with its state_dict module key and geometry (after `prepare`), in
    /// canonical order.
    public var convolutions: [(key: String, geometry: ConvGeometry)] {
        (root.convolutions(prefix: "") + [(outputConvModule, outputConv)]).compactMap { key, conv in
            conv.geometry.map { (key, $0) }
        }
    }

    /// Every prepared convolution with the algorithm and implementation its backend chose, in
    /// the order of `convolutions`.
    var convolutionKernels: [(key: String, geometry: ConvGeometry, algorithm: ConvAlgorithm, implementation: String)] {
        (root.convolutions(prefix: "") + [(outputConvModule, outputConv)]).compactMap { key, conv in
            conv.convolution.map { (key, $0.geometry, $0.algorithm, $0.implementation) }
        }
    }

    /// Which algorithms run, in one line: "winograd on 10 of 26 convolutions (88.1 % of the
    /// MACs), direct on the rest; the largest (256->128 3x3/1 at 514x514): forward winograd
    /// (jit:avx512_core_winograd), ...". What `auto` chose, for `bench` and `inpaint`.
    var algorithmSummary: String {
        let kernels = convolutionKernels
        guard let largest = kernels.max(by: { $0.geometry.macs < $1.geometry.macs }) else { return "no convolutions prepared" }
        let total = kernels.reduce(0) { $0 + $1.geometry.macs }
        let winograd = kernels.filter { $0.algorithm == .winograd }
        let share = total > 0 ? 100 * Double(winograd.reduce(0) { $0 + $1.geometry.macs }) / Double(total) : 0
        let split = winograd.isEmpty ? "direct on all \(kernels.count) convolutions"
            : "winograd on \(winograd.count) of \(kernels.count) convolutions (\(String(format: "%.1f", share)) % of the MACs), direct on the rest"
        return "\(split); the largest (\(largest.geometry)): \(largest.implementation)"
    }

    /// Convolution multiply-accumulates of one forward pass at the prepared size.
    public var macsPerForward: Int { convolutions.reduce(0) { $0 + $1.geometry.macs } }

    /// Allocates every buffer and backend kernel for a height x width input. Throws a shape
    /// error naming the sizes that work if this one does not fit the depth, the reflection pads,
    /// or (for levels without a skip branch) the exact halving and doubling: the size rules live
    /// in NetworkSummary's walk alone, so the summary, the planner and the network never disagree.
    public func prepare(height: Int, width: Int) throws {
        let summary = try NetworkSummary(config: config, height: height, width: width)
        let s = FeatureShape(channels: config.inputChannels, height: height, width: width)
        // The padded inputs of the convolutions whose kernels keep what their backward needs
        // take turns in one buffer (Conv2d.prepare), as large as the largest of them.
        let paddedInputs = SharedScratch(capacity: summary.layers.reduce(0) { largest, layer in
            guard case .convolution(_, _, let p) = layer.operation, p > 0 else { return largest }
            return max(largest, layer.inChannels * (layer.inputSize.height + 2 * p) * (layer.inputSize.width + 2 * p))
        })
        let top = try root.prepare(inputShape: s, backend: backend, algorithm: convAlgorithm, gradients: gradients,
                                   paddedInputs: paddedInputs)
        let out = try outputConv.prepare(inputShape: top, backend: backend, algorithm: convAlgorithm, gradients: gradients,
                                         paddedInputs: paddedInputs)
        sigmoid.prepare(inputShape: out)
        inputShape = s
        forwardDone = false
    }

    /// The output image, [Cout, H, W] after the Sigmoid, for the input code `z` ([Cin, H, W]).
    public func forward(_ z: Tensor) throws -> Tensor {
        guard let s = inputShape else {
            throw EngineError.shape("forward before prepare(height:width:)")
        }
        guard z.dims == s.dims else {
            throw EngineError.shape("input code is \(z.dims) but the network was prepared for \(s.dims)")
        }
        let y = try root.forward(z)
        let out = try step(.forward, "output conv + sigmoid") { sigmoid.forward(try outputConv.forward(y)) }
        forwardDone = true
        return out
    }

    /// Back-propagates d loss / d output ([Cout, H, W]) through the last forward pass and
    /// overwrites every parameter's gradient. Once per forward: the backward reuses the
    /// forward's saved activations for its gradients.
    public func backward(gradOutput: Tensor) throws {
        guard forwardDone, let s = inputShape else {
            throw EngineError.shape("backward before forward (each forward allows one backward)")
        }
        let expected = [config.outputChannels, s.height, s.width]
        guard gradOutput.dims == expected else {
            throw EngineError.shape("output gradient is \(gradOutput.dims), expected \(expected)")
        }
        guard let g = try step(.backward, "output conv + sigmoid", { try outputConv.backward(sigmoid.backward(gradOutput)) }) else {
            preconditionFailure("the output convolution always returns its input gradient")
        }
        forwardDone = false
        _ = try root.backward(g)
    }

    /// `body`, timed as `name` of `pass` where a layer clock is set.
    func step<T>(_ pass: LayerTime.Pass, _ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        try LayerClock.time(on: layerClock, pass, name(), body)
    }
}

/// One level of skip(): an optional skip branch, an encoder that halves the size, the deeper
/// levels, and a decoder back at this level's resolution (docs/semantics.md §4.1).
///
/// The stored properties are declared, and therefore initialised, in upstream's state_dict
/// order, which is the weight-initialisation order.
final class SkipLevel {
    /// Skip branch: conv_ks + BN + LeakyReLU (absent when skip[i] = 0).
    let skipConv: Conv2d?
    let skipBN: BatchNorm?
    /// Encoder: conv_kd with stride 2 (or stride 1 + AvgPool) + BN + LReLU, conv_kd + BN + LReLU.
    let downConv: Conv2d
    let downPool: AvgPool2x2?
    let downBN: BatchNorm
    let downConv2: Conv2d
    let downBN2: BatchNorm
    /// Levels i+1 ...
    let deeper: SkipLevel?
    /// The deeper branch ends with the upsample; there is no conv between it and the concat.
    let upsample: Upsample2x
    /// Decoder: concat, a BN with no activation, conv_ku + BN + LReLU, [conv1x1 + BN + LReLU].
    let concat: Concat?
    let concatBN: BatchNorm
    let upConv: Conv2d
    let upBN: BatchNorm
    let up1x1Conv: Conv2d?
    let up1x1BN: BatchNorm?
    /// The threads of the level's own passes (the skip gradient's sum).
    private let parallel: ChannelParallel
    /// The level's index, 0 at the top.
    let level: Int
    /// Times each step of this level's passes and the deeper levels' where set.
    var clock: LayerClock? {
        didSet { deeper?.clock = clock }
    }

    init(_ c: SkipConfig, level i: Int, gammaInit: GammaInit, rng: inout RandomStream, parallel: ChannelParallel) {
        self.parallel = parallel
        level = i
        let inChannels = i == 0 ? c.inputChannels : c.down[i - 1]
        let readsCode = i == 0            // level 0 reads z, whose gradient nobody needs
        let slope: Float = 0.2
        func conv(_ cin: Int, _ cout: Int, _ k: Int, stride: Int = 1, inputGradient: Bool = true) -> Conv2d {
            Conv2d(inChannels: cin, outChannels: cout, kernel: k, stride: stride,
                   needsInputGradient: inputGradient, rng: &rng, parallel: parallel)
        }
        func bn(_ channels: Int, activation: Bool = true) -> BatchNorm {
            BatchNorm(channels: channels, negativeSlope: activation ? slope : nil, gammaInit: gammaInit,
                      rng: &rng, parallel: parallel)
        }

        let hasSkip = c.skip[i] > 0
        skipConv = hasSkip ? conv(inChannels, c.skip[i], c.kernelSkip, inputGradient: !readsCode) : nil
        skipBN = hasSkip ? bn(c.skip[i]) : nil

        let pooled = c.downsampling == .avgPool
        downConv = conv(inChannels, c.down[i], c.kernelDown, stride: pooled ? 1 : 2, inputGradient: !readsCode)
        downPool = pooled ? AvgPool2x2(parallel: parallel) : nil
        downBN = bn(c.down[i])
        downConv2 = conv(c.down[i], c.down[i], c.kernelDown)
        downBN2 = bn(c.down[i])

        let isDeepest = i == c.depth - 1
        deeper = isDeepest ? nil : SkipLevel(c, level: i + 1, gammaInit: gammaInit, rng: &rng, parallel: parallel)
        upsample = Upsample2x(mode: c.upsampling, parallel: parallel)

        let deeperChannels = isDeepest ? c.down[i] : c.up[i + 1]
        concat = hasSkip ? Concat(parallel: parallel) : nil
        concatBN = bn(c.skip[i] + deeperChannels, activation: false)
        upConv = conv(c.skip[i] + deeperChannels, c.up[i], c.kernelUp)
        upBN = bn(c.up[i])
        up1x1Conv = c.need1x1Up ? conv(c.up[i], c.up[i], 1) : nil
        up1x1BN = c.need1x1Up ? bn(c.up[i]) : nil
    }

    /// Allocates buffers and kernels; returns the output shape, which equals the input's size.
    ///
    /// Some layers write straight into the buffer of the layer after them, which is therefore
    /// prepared first: a BatchNorm before a padded convolution writes the interior of that
    /// convolution's padded input, and the skip branch and the upsample write their channels
    /// of the concat. So no unpadded or unconcatenated copy of those activations exists.
    /// `paddedInputs` is the network's one buffer for the padded inputs of convolutions whose
    /// kernels keep their input (see `Conv2d.prepare`).
    func prepare(inputShape x: FeatureShape, backend: any ComputeBackend, algorithm: ConvAlgorithm,
                 gradients: TensorPool, paddedInputs: SharedScratch) throws -> FeatureShape {
        func convolve(_ conv: Conv2d, _ s: FeatureShape) throws -> FeatureShape {
            try conv.prepare(inputShape: s, backend: backend, algorithm: algorithm, gradients: gradients,
                             paddedInputs: paddedInputs)
        }
        let s = try skipConv.map { try convolve($0, x) }
        var d = try convolve(downConv, x)
        if let downPool { d = try downPool.prepare(inputShape: d, gradients: gradients) }
        let d2 = try convolve(downConv2, d)
        try downBN.prepare(inputShape: d, into: downConv2.inputWindow)
        d = try downBN2.prepare(inputShape: d2)
        if let deeper {
            d = try deeper.prepare(inputShape: d, backend: backend, algorithm: algorithm, gradients: gradients,
                                   paddedInputs: paddedInputs)
        }
        var y = Upsample2x.outputShape(d)
        if let concat, let skipBN, let s {
            y = concat.prepare(skip: s, deeper: y, gradients: gradients)
            try skipBN.prepare(inputShape: s, into: concat.skipWindow)
        }
        upsample.prepare(inputShape: d, into: concat?.deeperWindow, gradients: gradients)
        guard y.height == x.height, y.width == x.width else {
            throw EngineError.shape("a level's decoder delivers \(y.height)x\(y.width) for its \(x.height)x\(x.width) input")
        }
        let u = try convolve(upConv, y)
        try concatBN.prepare(inputShape: y, into: upConv.inputWindow)
        y = try upBN.prepare(inputShape: u)
        if let up1x1Conv, let up1x1BN { y = try up1x1BN.prepare(inputShape: convolve(up1x1Conv, y)) }
        return y
    }

    /// Level_i(X) of docs/semantics.md §4.1. A layer that writes into the next one's buffer (see
    /// `prepare`) returns that buffer, and the next layer then skips its copy.
    func forward(_ x: Tensor) throws -> Tensor {
        var s: Tensor?
        if let skipConv, let skipBN {
            let c = try step(.forward, "skip conv") { try skipConv.forward(x) }
            s = step(.forward, "skip BN") { skipBN.forward(c) }
        }

        var d = try step(.forward, "down conv") { try downConv.forward(x) }
        if let downPool { d = step(.forward, "down pool") { downPool.forward(d) } }
        d = try step(.forward, "down BN + conv 2") { try Self.forward(downBN, downConv2, d) }
        d = step(.forward, "down BN 2") { downBN2.forward(d) }
        if let deeper { d = try deeper.forward(d) }
        d = step(.forward, "upsample") { upsample.forward(d) }

        var y = d
        if let concat, let s { y = step(.forward, "concat") { concat.forward(skip: s, deeper: d) } }
        y = try step(.forward, "concat BN + up conv") { try Self.forward(concatBN, upConv, y) }
        y = step(.forward, "up BN") { upBN.forward(y) }
        if let up1x1Conv, let up1x1BN {
            y = try step(.forward, "1x1 conv") { try up1x1Conv.forward(y) }
            y = step(.forward, "1x1 BN") { up1x1BN.forward(y) }
        }
        return y
    }

    /// The forward in reverse; returns d loss / d X (nil at level 0, which reads z).
    /// Gradients come from the network's pool and go back to it as soon as they are consumed.
    func backward(_ gradOutput: Tensor) throws -> Tensor? {
        var g = gradOutput
        if let up1x1Conv, let up1x1BN { g = try step(.backward, "1x1 BN + conv") { try Self.backward(up1x1Conv, up1x1BN, g)! } }
        g = try step(.backward, "up BN + conv") { try Self.backward(upConv, upBN, g)! }
        // Where the concat crops nothing, the concat BatchNorm hands the input gradient of the
        // upsample's channels to the upsample's backward a row at a time, after the skip
        // branch, so that gradient is never written whole and read back (32 MiB at table1's
        // 256x256 level); the skip channels' gradient is written first, as the skip branch
        // reads it. The same bits as the BatchNorm's backward, then the concat's and the
        // upsample's.
        // The concat's channels: the skip branch's, then from `firstUpsampled` on the upsample's.
        let all = concatBN.channels, firstUpsampled = all - upsample.inputShape.channels
        let handsOff = concat?.cropsNothing ?? true
        if !handsOff {
            g = step(.backward, "concat BN") { concatBN.backward(g) }
        } else if firstUpsampled > 0 {
            step(.backward, "concat BN") { concatBN.backward(g, channels: 0..<firstUpsampled) }
        }
        // The skip branch runs first, so that while the deeper levels run only its input
        // gradient is held (none at level 0), not the concat's.
        var gS: Tensor?
        if let concat, let skipConv, let skipBN {
            let (gSkip, gDeeper) = step(.backward, "concat") { concat.backward(g) }
            // Handing off, the BatchNorm reads the deeper channels from the whole gradient.
            if !handsOff { g = gDeeper }
            gS = try step(.backward, "skip BN + conv") { try Self.backward(skipConv, skipBN, gSkip) }
        }
        if handsOff {
            g = step(.backward, "concat BN + upsample") {
                let gradInput = upsample.makeGradInput()
                concatBN.backward(g, handingOff: firstUpsampled..<all) { c, rows in
                    upsample.backward(channel: c, into: gradInput) { oy, scratch in
                        rows.row(oy, into: scratch)
                        return UnsafePointer(scratch)
                    }
                }
                return gradInput
            }
        } else {
            g = step(.backward, "upsample") { upsample.backward(g) }
        }
        if let deeper { g = try deeper.backward(g)! }
        g = try step(.backward, "down BN 2 + conv 2") { try Self.backward(downConv2, downBN2, g)! }
        let gX: Tensor?
        if let downPool {
            gX = try step(.backward, "down BN + pool + conv") { try downConv.backward(downPool.backward(downBN.backward(g))) }
        } else {
            gX = try step(.backward, "down BN + conv") { try Self.backward(downConv, downBN, g) }
        }

        if let gX, let gS {
            // X feeds both branches: the skip branch's gradient adds onto the encoder's, in
            // blocks on the level's threads (one thread left the other core idle for this
            // pass; each element's sum is the same on any thread).
            let a = UncheckedBox(gX.pointer), b = UncheckedBox(UnsafePointer(gS.pointer)), n = gX.count
            step(.backward, "skip gradient added") {
                parallel.runBlocks((n + 4095) / 4096) { _, blocks in
                    let range = blocks.lowerBound * 4096 ..< min(blocks.upperBound * 4096, n)
                    for j in range { a.value[j] += b.value[j] }
                }
            }
        }
        return gX
    }

    /// `body`, timed as this level's step `name` of `pass` where a layer clock is set.
    private func step<T>(_ pass: LayerTime.Pass, _ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        try LayerClock.time(on: clock, pass, "L\(level) " + name(), body)
    }

    /// `conv.forward(bn.forward(x))`; where the convolution's kernel builds its padded input
    /// from the BatchNorm's statistics (`Conv2d.normalizingPad`), the BatchNorm computes only
    /// those and its output is never written (the same bits).
    static func forward(_ bn: BatchNorm, _ conv: Conv2d, _ x: Tensor) throws -> Tensor {
        guard let pad = conv.normalizingPad else { return try conv.forward(bn.forward(x)) }
        return try conv.forward(normalized: bn.normalizedInput(x, padded: pad))
    }

    /// The backward of a convolution the forward ran just before `bn`: where the convolution's
    /// bias gradient is the plane sum of its output gradient, `bn`'s backward, which writes that
    /// gradient, sums it as it writes (the same bits as the convolution's own pass over it).
    static func backward(_ conv: Conv2d, _ bn: BatchNorm, _ g: Tensor) throws -> Tensor? {
        guard conv.biasGradientIsPlaneSum else { return try conv.backward(bn.backward(g)) }
        return try conv.backward(bn.backward(g, planeSums: conv.gradBias.pointer), biasGradientSummed: true)
    }

    /// This level's state_dict entries and its deeper levels', in upstream's order. `prefix` is
    /// the path of the Sequential this level adds its modules to ("" at the top).
    func namedTensors(prefix p: String) -> [NamedTensor] {
        var out: [NamedTensor] = []
        // Module 1 is Concat(skip "0", deeper "1") or, without a skip branch, deeper itself.
        let deeperPath = skipConv == nil ? "\(p)1" : "\(p)1.1"
        if let skipConv, let skipBN {
            out += skipConv.namedTensors(module: "\(p)1.0.1") + skipBN.namedTensors(module: "\(p)1.0.2")
        }
        // deeper = [conv 1, bn 2, act 3, conv 4, bn 5, act 6, deeper_main 7, upsample 8].
        out += downConv.namedTensors(module: "\(deeperPath).1") + downBN.namedTensors(module: "\(deeperPath).2")
        out += downConv2.namedTensors(module: "\(deeperPath).4") + downBN2.namedTensors(module: "\(deeperPath).5")
        if let deeper { out += deeper.namedTensors(prefix: "\(deeperPath).7.") }
        // Then this level's decoder: bn 2, conv 3, bn 4, act 5, [conv 6, bn 7, act 8].
        out += concatBN.namedTensors(module: "\(p)2")
        out += upConv.namedTensors(module: "\(p)3") + upBN.namedTensors(module: "\(p)4")
        if let up1x1Conv, let up1x1BN {
            out += up1x1Conv.namedTensors(module: "\(p)6") + up1x1BN.namedTensors(module: "\(p)7")
        }
        return out
    }

    /// The convolutions with their module keys, in the same order.
    func convolutions(prefix p: String) -> [(String, Conv2d)] {
        let deeperPath = skipConv == nil ? "\(p)1" : "\(p)1.1"
        var out: [(String, Conv2d)] = []
        if let skipConv { out.append(("\(p)1.0.1", skipConv)) }
        out += [("\(deeperPath).1", downConv), ("\(deeperPath).4", downConv2)]
        if let deeper { out += deeper.convolutions(prefix: "\(deeperPath).7.") }
        out.append(("\(p)3", upConv))
        if let up1x1Conv { out.append(("\(p)6", up1x1Conv)) }
        return out
    }
}
