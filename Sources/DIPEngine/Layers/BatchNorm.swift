import DIPCore
import CLayerKernels
import Foundation

/// BatchNorm2d in training mode, optionally fused with the LeakyReLU that follows it.
///
/// Every forward normalises with the current tensor's own statistics (N = 1: per channel, over
/// H*W, biased variance, eps 1e-5), because upstream never switches the network to eval mode
/// (docs/semantics.md §3.2). Running statistics are updated exactly as PyTorch does (momentum 0.1,
/// unbiased variance) so a saved state_dict matches, but they never feed the output.
///
/// Sums (mean, variance, and the two reductions of the backward) are accumulated in Float64
/// with four interleaved partial sums in a fixed order per channel: a plane can hold 2.6e5
/// values, where a Float32 running sum would lose about 4 digits, and Float64 is cheap here
/// because the pass is memory-bound. Mean and variance come from one pass over the input
/// (`dip_cpu_bn_moments`: sums of d = x - x[0] and d², which in Float64 lose nothing that
/// matters unless the mean lies some 1e5 standard deviations from the first value), where a
/// second pass for the squared deviations from the mean took 20-25 % of the forward's time
/// (BENCHMARKS.md, seventeenth part). One thread owns each channel (or pair of channels,
/// `planesAtOnce`), whose sums do not depend on its neighbour, so the result does not depend on
/// the thread count.
final class BatchNorm {
    /// PyTorch's default epsilon.
    static let epsilon = 1e-5
    /// PyTorch's default momentum for the running statistics.
    static let momentum = 0.1

    /// Channels.
    let channels: Int
    /// The fused LeakyReLU's negative slope, or nil for a plain BatchNorm.
    let negativeSlope: Float?
    /// gamma, [C].
    let weight: Tensor
    /// beta, [C].
    let bias: Tensor
    /// d loss / d gamma.
    let gradWeight: Tensor
    /// d loss / d beta.
    let gradBias: Tensor
    /// Running mean (buffer), starts at 0.
    let runningMean: Tensor
    /// Running unbiased variance (buffer), starts at 1.
    let runningVar: Tensor
    /// Forward passes seen (buffer, one element; PyTorch's is an int64 scalar).
    let numBatchesTracked: Tensor

    private let parallel: ChannelParallel
    private let mean: UnsafeMutablePointer<Double>
    private let invStd: UnsafeMutablePointer<Double>
    /// The mean, gamma * invStd and beta as the forward applied them, so the backward can
    /// recompute the activation's sign from the input instead of keeping the output, and a
    /// consumer can apply them itself (`normalizedInput`).
    private let appliedMean: UnsafeMutablePointer<Float>
    private let scale: UnsafeMutablePointer<Float>
    private let shift: UnsafeMutablePointer<Float>
    private(set) var shape = FeatureShape(channels: 1, height: 1, width: 1)
    private var input: Tensor?
    /// Where the forward writes (a buffer of its own, or a window of the consumer's).
    private(set) var output = FeatureWindow(Tensor([1]), FeatureShape(channels: 1, height: 1, width: 1))

    /// gamma from U(0, 1) (`.uniform`) or 1, beta 0; draws come from `rng` in channel order.
    init(channels: Int, negativeSlope: Float?, gammaInit: GammaInit, rng: inout RandomStream,
         parallel: ChannelParallel) {
        self.channels = channels
        self.negativeSlope = negativeSlope
        self.parallel = parallel
        weight = Tensor([channels])
        bias = Tensor([channels])
        gradWeight = Tensor([channels])
        gradBias = Tensor([channels])
        runningMean = Tensor([channels])
        runningVar = Tensor([channels])
        numBatchesTracked = Tensor([1])
        for c in 0..<channels {
            weight.pointer[c] = gammaInit == .uniform ? rng.uniform() : 1
            runningVar.pointer[c] = 1
        }
        mean = .allocate(capacity: channels)
        invStd = .allocate(capacity: channels)
        mean.initialize(repeating: 0, count: channels)
        invStd.initialize(repeating: 1, count: channels)
        appliedMean = .allocate(capacity: channels)
        scale = .allocate(capacity: channels)
        shift = .allocate(capacity: channels)
        appliedMean.initialize(repeating: 0, count: channels)
        scale.initialize(repeating: 1, count: channels)
        shift.initialize(repeating: 0, count: channels)
    }

    deinit {
        mean.deallocate()
        invStd.deallocate()
        appliedMean.deallocate()
        scale.deallocate()
        shift.deallocate()
    }

    /// 2C parameters (gamma, beta), no MACs, with or without the fused activation (it runs
    /// inside the same passes). The forward reads the input twice (mean and variance together,
    /// then normalise), writes the output once, reads gamma, beta and the running statistics and
    /// writes the running statistics; the backward reads input and output gradient in each of
    /// its two passes (both sums together, then the input gradient, written over the output
    /// gradient), reads gamma and writes the two parameter gradients.
    static func cost(inputShape s: FeatureShape) -> LayerCost {
        let n = s.count, c = s.channels
        return LayerCost(parameters: 2 * c, forwardValues: 2 * n + n + 4 * c + 2 * c,
                         backwardValues: 2 * 2 * n + n + c + 2 * c)
    }

    /// The LeakyReLU the network fuses into the BatchNorm before it: no parameters, no MACs and
    /// no memory traffic of its own (the BatchNorm's cost carries its passes).
    static let fusedActivationCost = LayerCost.zero

    /// Allocates the output, or adopts `window` (a consumer's buffer, e.g. the padded input of
    /// the next convolution) as the place to write; batch statistics need more than one value
    /// per channel.
    @discardableResult
    func prepare(inputShape s: FeatureShape, into window: FeatureWindow? = nil) throws -> FeatureShape {
        guard s.channels == channels else {
            throw EngineError.shape("BatchNorm of \(channels) channels got \(s.channels)")
        }
        guard s.plane > 1 else {
            throw EngineError.shape("BatchNorm in training mode needs more than one value per channel, got \(s.height)x\(s.width)")
        }
        if let window {
            guard window.shape == s else {
                throw EngineError.shape("BatchNorm of \(s) cannot write into a window of \(window.shape)")
            }
        }
        shape = s
        output = window ?? FeatureWindow(s.makeTensor(), s)
        return s
    }

    /// The last forward's batch mean and 1/sqrt(variance + eps) per channel.
    var savedStatistics: (mean: UnsafeMutablePointer<Double>, invStd: UnsafeMutablePointer<Double>) { (mean, invStd) }

    /// Normalises `x` with its own statistics, applies gamma, beta and the fused activation,
    /// and updates the running statistics. Returns the tensor written: the whole buffer when
    /// the output is a window of a consumer's buffer.
    func forward(_ x: Tensor) -> Tensor {
        run(x, applying: true)
        return output.tensor
    }

    /// The forward without its output: the statistics of `x` (and the running statistics'
    /// update) as `forward` computes them, and the output described for a padded convolution
    /// that applies them as it reads (`NormalizesItsInput`), reflection-padded by `pad`. The
    /// backward is the same as after `forward`.
    func normalizedInput(_ x: Tensor, padded pad: Int) -> NormalizedPaddedInput {
        run(x, applying: false)
        return NormalizedPaddedInput(source: x.pointer, shape: shape, pad: pad, mean: appliedMean, scale: scale,
                                     shift: shift, slope: negativeSlope)
    }

    private func run(_ x: Tensor, applying: Bool) {
        precondition(x.count == shape.count, "BatchNorm.forward got \(x.dims) for \(shape)")
        input = x
        let n = shape.plane, h = shape.height, w = shape.width
        let out = output
        let xs = UncheckedBox(x.pointer), st = UncheckedBox((mean, invStd, scale, shift, appliedMean))
        let params = UncheckedBox((weight.pointer, bias.pointer, runningMean.pointer, runningVar.pointer))
        let slope = negativeSlope
        let group = Self.planesAtOnce(plane: n, arrays: 1), channels = channels
        parallel.run((channels + group - 1) / group) { unit in
            let first = unit * group, count = min(group, channels - first)
            // The passes are CLayerKernels' (an AVX2 version where the CPU has it, same bits):
            // the moments of the unit's planes together, then each plane's apply, which reads
            // the plane back from the L2 (or, not applying, leaves it to the consumer).
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * group) { sums in
                let means = sums.baseAddress!, variances = means + group
                dip_cpu_bn_moments(xs.value + first * n, n, count, means, variances)
                for c in first..<(first + count) {
                    let m = means[c - first], variance = variances[c - first]
                    let inv = 1 / (variance + Self.epsilon).squareRoot()
                    let (gamma, beta, rm, rv) = params.value
                    let meanF = Float(m), scale = Float(Double(gamma[c]) * inv), shift = beta[c]
                    st.value.0[c] = m
                    st.value.1[c] = inv
                    st.value.2[c] = scale
                    st.value.3[c] = shift
                    st.value.4[c] = meanF
                    if applying {
                        dip_cpu_bn_apply(xs.value + c * n, out.plane(c), h, w, out.rowStride, meanF, scale, shift,
                                         slope == nil ? 0 : 1, slope ?? 1)
                    }
                    let mom = Self.momentum
                    rm[c] = Float((1 - mom) * Double(rm[c]) + mom * m)
                    rv[c] = Float((1 - mom) * Double(rv[c]) + mom * variance * Double(n) / Double(n - 1))
                }
            }
        }
        numBatchesTracked.pointer[0] += 1
    }

    /// Fills gradWeight and gradBias (overwriting) and returns d loss / d input, written over
    /// `gradOutput` (each element is read before its own slot is written). With `planeSums`
    /// (one per channel), also the `planeSum` of each channel of d loss / d input, as it is
    /// written: the bias gradient of the convolution before (PlaneSumBiasGradient).
    func backward(_ gradOutput: Tensor, planeSums: UnsafeMutablePointer<Float>? = nil) -> Tensor {
        backward(gradOutput, channels: 0..<channels, planeSums: planeSums, handingTo: nil)
        return gradOutput
    }

    /// `backward` for channels `range` alone: their parameter gradients, and their input
    /// gradient written over theirs in `gradOutput`; the other channels are left as they are.
    /// Each channel's bits do not depend on the others, so calls over ranges that cover all
    /// channels give `backward`'s bits.
    func backward(_ gradOutput: Tensor, channels range: Range<Int>) {
        backward(gradOutput, channels: range, planeSums: nil, handingTo: nil)
    }

    /// One channel's input gradient, made a row at a time for a consumer that reads each row
    /// once (`backward(_:handingOff:to:)`): the values `backward` would write over the
    /// gradient, the same bits.
    struct GradientRows {
        /// Values a row.
        let width: Int
        fileprivate let x: UnsafePointer<Float>, g: UnsafePointer<Float>
        fileprivate let mean: Float, scale: Float, shift: Float, slope: Float, invStd: Float, k: Float, a: Float, b: Float

        /// Row `r` into `out` (`width` values).
        func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
            dip_cpu_bn_backward_apply_into(x + r * width, g + r * width, out, width, mean, scale, shift, slope, invStd, k, a, b)
        }
    }

    /// `backward(_:channels:)` for channels `range`, but their input gradient is not written:
    /// `consumer(c - range.lowerBound, rows)` gets each of them, on the thread that made the
    /// channel's sums, right after them (its planes then still in that core's L2), and reads it
    /// row by row. So a layer that reads the gradient once (the upsample behind the concat)
    /// takes it without the whole tensor being written and read back.
    func backward(_ gradOutput: Tensor, handingOff range: Range<Int>, to consumer: (Int, GradientRows) -> Void) {
        // Optional closures escape; this one is only called before `backward` returns.
        withoutActuallyEscaping(consumer) { backward(gradOutput, channels: range, planeSums: nil, handingTo: $0) }
    }

    private func backward(_ gradOutput: Tensor, channels range: Range<Int>, planeSums: UnsafeMutablePointer<Float>?,
                          handingTo consumer: ((Int, GradientRows) -> Void)?) {
        guard let x = input else { preconditionFailure("BatchNorm.backward before forward") }
        precondition(gradOutput.count == shape.count, "BatchNorm.backward got \(gradOutput.dims) for \(shape)")
        precondition(range.lowerBound >= 0 && range.upperBound <= channels, "BatchNorm.backward of channels \(range) of \(channels)")
        let n = shape.plane, width = shape.width
        let xs = UncheckedBox(x.pointer), gs = UncheckedBox(gradOutput.pointer)
        let st = UncheckedBox((appliedMean, invStd, scale, shift))
        let params = UncheckedBox((weight.pointer, gradWeight.pointer, gradBias.pointer))
        let sums = UncheckedBox(planeSums)
        let slope = negativeSlope ?? 1
        let group = Self.planesAtOnce(plane: n, arrays: 2)
        parallel.run((range.count + group - 1) / group) { unit in
            let first = range.lowerBound + unit * group, count = min(group, range.upperBound - first)
            let (meansF, invStd, scale, shift) = st.value
            // The activation's derivative needs the sign of the pre-activation: recomputed
            // from the input by the forward's own expression, so the output need not be kept.
            // Without the activation the slope is 1 and both branches give the gradient. The
            // sums of the unit's planes together, then each plane's input gradient.
            // The means as the forward applied them (`appliedMean`), 1/std in Float likewise.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: group) { floats in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * group) { doubles in
                    let invsF = floats.baseAddress!
                    let sumsDy = doubles.baseAddress!, sumsDyXhat = sumsDy + group
                    for j in 0..<count { invsF[j] = Float(invStd[first + j]) }
                    dip_cpu_bn_backward_sums(xs.value + first * n, gs.value + first * n, n, count, meansF + first, scale + first,
                                             shift + first, slope, invsF, sumsDy, sumsDyXhat)
                    for c in first..<(first + count) {
                        let j = c - first, sumDy = sumsDy[j], sumDyXhat = sumsDyXhat[j], inv = invStd[c]
                        let (gamma, dGamma, dBeta) = params.value
                        dGamma[c] = Float(sumDyXhat)
                        dBeta[c] = Float(sumDy)
                        let k = Float(Double(gamma[c]) * inv)
                        let a = Float(sumDy / Double(n)), b = Float(sumDyXhat / Double(n))
                        let xc = xs.value + c * n, dx = gs.value + c * n
                        if let consumer {
                            consumer(c - range.lowerBound,
                                     GradientRows(width: width, x: xc, g: dx, mean: meansF[c], scale: scale[c], shift: shift[c],
                                                  slope: slope, invStd: invsF[j], k: k, a: a, b: b))
                        } else {
                            dip_cpu_bn_backward_apply(xc, dx, n, meansF[c], scale[c], shift[c], slope, invsF[j], k, a, b,
                                                      sums.value.map { $0 + c })
                        }
                    }
                }
            }
        }
    }

    /// Planes a thread's pass takes at once: two where the two planes of each of the pass's
    /// `arrays` arrays (the input, and in the backward the gradient) fit in half the L2
    /// (`HostCPU.assumedLevel2Bytes` where unknown), so each plane's second pass still finds them
    /// there; else one. Two at once kept more reads in flight: the backward's sums 20-35 %
    /// faster, the moments about 15 %, on an Intel Xeon with 2 MiB of L2 (BENCHMARKS.md,
    /// nineteenth part); a Zen 3's 512 KiB holds no pair of 256x256 planes. The bits are those of
    /// one plane at a time.
    static func planesAtOnce(plane: Int, arrays: Int, level2Bytes: Int? = HostCPU.level2Bytes) -> Int {
        2 * arrays * plane * MemoryLayout<Float>.stride <= (level2Bytes ?? HostCPU.assumedLevel2Bytes) / 2 ? 2 : 1
    }

    /// sum_{i<n} term(i) in Float64 with four interleaved partial sums (a fixed order).
    @inline(__always)
    static func sum(_ n: Int, _ term: (Int) -> Double) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= n {
            s0 += term(i); s1 += term(i + 1); s2 += term(i + 2); s3 += term(i + 3)
            i += 4
        }
        while i < n { s0 += term(i); i += 1 }
        return (s0 + s1) + (s2 + s3)
    }
}
