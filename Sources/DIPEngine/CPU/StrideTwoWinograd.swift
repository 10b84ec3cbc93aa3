import CWinograd
import DIPCore

/// A 3x3 stride-2 convolution as a 2x2 stride-1 one over its input's four phases, through
/// Winograd F(6x6, 2x2) (WinogradConvolution): 4 x 49 / 36 = 5.44 multiplications an output and
/// channel pair instead of the direct 9. On AVX2 the nets' stride-2 layers ran on oneDNN's direct
/// kernels at about 77 % of the FMA peak forward and 54-70 % backward, 15-17 % of a table1
/// iteration (BENCHMARKS.md, twenty-ninth part): the layers furthest from the peak, on
/// AVX-512 too. Where it pays is `pays`.
///
/// Phase (p, q) of input channel c is the plane x[c, 2Y + p, 2X + q], channel 4c + 2p + q of a
/// [4 Cin, Ho + 1, Wo + 1] tensor (zeros where 2Y + p or 2X + q falls past the input); its 2x2
/// filter holds w[o, c, 2a + p, 2b + q] where that tap exists and zero where it does not (7 of a
/// channel's 16), since out[o, y, x] = Σ w[o, c, ky, kx] x[c, 2y + ky, 2x + kx] and ky = 2a + p.
/// - forward: the phases, then the 2x2 convolution (which keeps its transformed input, as every
///   Winograd forward, for the backward-weights pass of the same input);
/// - backward-data: the 2x2 convolution's input gradient, merged back into the input's layout;
///   the rows and columns no output reads (past 2 Ho and 2 Wo) get exact zeros;
/// - backward-weights: the 2x2 filters' gradient, each existing tap's to its 3x3 place (the
///   zero taps' gradients are dropped: those taps are not parameters).
///
/// The bits are WinogradConvolution's: the same for every thread count. The phases' split and
/// merge are data movement only.
///
/// Memory: the phases (the input's size, once per layer), the 2x2 filters and their gradient,
/// and what the 2x2 convolution keeps (its transformed input, about 1.4x the input): a table1
/// 512 fit's peak 49 MiB higher (2130 MiB), text's 55 (3129).
final class StrideTwoWinograd: PlaneSumBiasGradient {
    /// The geometry this kernel was made for (3x3, stride 2).
    let geometry: ConvGeometry
    /// Winograd.
    let algorithm = ConvAlgorithm.winograd
    /// What runs, for `bench` and the records.
    let implementation: String
    private let backend: CPUBackend
    /// The 2x2 stride-1 convolution over the phases.
    private let phaseConvolution: WinogradConvolution
    /// The input's phases (forward, backward-weights of another input) or their gradient
    /// (backward-data): [4 Cin, Ho + 1, Wo + 1].
    private let phases: Tensor
    /// The 2x2 filters [Cout, 4 Cin, 2, 2] and their gradient.
    private let phaseWeight: Tensor, phaseWeightGradient: Tensor
    /// The input the last forward read, until a backward-weights pass takes it: that pass then
    /// reads the 2x2 convolution's kept tiles instead of splitting the input again.
    private var forwardInput: UnsafeMutablePointer<Float>?

    /// Whether this kernel can run `g`: 3x3, stride 2.
    static func fits(_ g: ConvGeometry) -> Bool { g.kernel == 3 && g.stride == 2 }

    /// Whether this kernel is the faster one for `g` (which must fit): where the destination is
    /// 128x128 or more, on every ISA (oneDNN 2.6 has no stride-2 Winograd; its direct kernels run
    /// the other stride-2 layers). Measured per layer with `bench --layers`: on a Zen 3 (AVX2, 2
    /// threads; BENCHMARKS.md, thirtieth part) the forward is level with oneDNN's direct one at
    /// 256x256 destinations, up to 17 % slower at 128x128 and far slower below (5.44 products
    /// against 9 do not make up for our passes' transforms and smaller products, where oneDNN's
    /// direct forward reaches 77 % of the peak); the backward passes, at 54-62 % of the peak on
    /// oneDNN, take 27-46 % less time from 128x128 on, the same at 64x64 and more at 32x32. So a
    /// table1 512 iteration's stride-2 layers take about 40 ms less of 1300, text's 45 of 1900.
    /// On an Intel Xeon with AVX-512 (thirty-second part) likewise: table1 512 on one thread (the
    /// paper profile's own mode) each large layer's forward 8-13 ms slower and its backward 34-46
    /// ms faster; table1 256 on two threads its one such layer level (forward 2.7 ms slower,
    /// backward 2.3 faster).
    static func pays(_ g: ConvGeometry) -> Bool {
        min(g.outputHeight, g.outputWidth) >= 128
    }

    /// A kernel for `geometry`, which must be 3x3 stride 2 (else `EngineError.shape`);
    /// `rowsPerBand` and `kernels` as WinogradConvolution's (tests force them).
    init(geometry g: ConvGeometry, backend: CPUBackend, rowsPerBand: Int? = nil, kernels: WinogradKernels = .best) throws {
        try g.validate()
        guard Self.fits(g) else {
            throw EngineError.shape("convolution \(g): the stride-2 Winograd kernel needs a 3x3 stride-2 convolution; use --conv direct or auto")
        }
        geometry = g
        self.backend = backend
        let inner = ConvGeometry(inChannels: 4 * g.inChannels, outChannels: g.outChannels, kernel: 2, stride: 1,
                                 inputHeight: g.outputHeight + 1, inputWidth: g.outputWidth + 1)
        phaseConvolution = try WinogradConvolution(geometry: inner, backend: backend, tile: .f62, rowsPerBand: rowsPerBand,
                                                   kernels: kernels)
        phases = Tensor(inner.inputDims)
        phaseWeight = Tensor(inner.weightDims)
        phaseWeightGradient = Tensor(inner.weightDims)
        implementation = "winograd F(6x6,2x2) over the input's four phases (dip-report; \(phaseConvolution.products), \(kernels) tile transforms)"
            + " for forward, backward-data and backward-weights"
    }

    /// Every forward keeps what the backward-weights pass of its input needs (the 2x2
    /// convolution's transformed phases).
    var keepsForwardInput: Bool { true }

    /// output = conv(input, weight) + bias.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws {
        try geometry.checkForward(input: input, weight: weight, bias: bias, output: output)
        forwardInput = nil
        split(input)
        arrangeFilters(weight)
        try phaseConvolution.forward(input: phases, weight: phaseWeight, bias: bias, output: output)
        forwardInput = input.pointer
    }

    /// gradInput = d loss / d input, given d loss / d output.
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws {
        try geometry.checkBackwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput)
        arrangeFilters(weight)
        // The phases' memory now holds their gradient: a later backward-weights pass of the
        // forward's input reads the kept tiles, never this tensor.
        try phaseConvolution.backwardData(gradOutput: gradOutput, weight: phaseWeight, gradInput: phases)
        merge(into: gradInput)
    }

    /// gradWeight, gradBias = d loss / d weight, d loss / d bias.
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws {
        try geometry.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        try preparePhases(of: input)
        try phaseConvolution.backwardWeights(input: phases, gradOutput: gradOutput, gradWeight: phaseWeightGradient,
                                             gradBias: gradBias)
        gatherFilterGradient(into: gradWeight)
    }

    /// `backwardWeights`, the bias gradient left to the caller.
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, keepingSummedBias gradBias: Tensor) throws {
        try geometry.checkBackwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        try preparePhases(of: input)
        try phaseConvolution.backwardWeights(input: phases, gradOutput: gradOutput, gradWeight: phaseWeightGradient,
                                             keepingSummedBias: gradBias)
        gatherFilterGradient(into: gradWeight)
    }

    /// Where `input` is the last forward's (once), the 2x2 convolution reads its kept tiles of
    /// `phases`; otherwise the phases of `input` are split again and nothing kept is used.
    private func preparePhases(of input: Tensor) throws {
        defer { forwardInput = nil }
        guard input.pointer != forwardInput else { return }
        phaseConvolution.discardKeptInput()
        split(input)
    }

    // MARK: Phases and filters

    /// phases[4c + 2p + q, Y, X] = input[c, 2Y + p, 2X + q], 0 past the input.
    private func split(_ input: Tensor) {
        let g = geometry, (h, w) = (g.inputHeight, g.inputWidth)
        let (ph, pw) = (g.outputHeight + 1, g.outputWidth + 1)
        let (x, out) = (input.pointer, phases.pointer)
        ChannelParallel(threads: backend.threads).run(g.inChannels) { c in
            let planes = out + 4 * c * ph * pw
            for p in 0..<2 {
                let even = planes + 2 * p * ph * pw, odd = even + ph * pw
                for row in 0..<ph {
                    let y = 2 * row + p
                    guard y < h else {
                        (even + row * pw).update(repeating: 0, count: pw)
                        (odd + row * pw).update(repeating: 0, count: pw)
                        continue
                    }
                    dip_split_column_phases(x + (c * h + y) * w, w, pw, even + row * pw, odd + row * pw)
                }
            }
        }
    }

    /// gradInput[c, y, x] = phases[4c + 2(y % 2) + x % 2, y / 2, x / 2] for y <= 2 Ho and
    /// x <= 2 Wo (the rows and columns the outputs read), 0 elsewhere.
    private func merge(into gradInput: Tensor) {
        let g = geometry, (h, w) = (g.inputHeight, g.inputWidth)
        let (ph, pw) = (g.outputHeight + 1, g.outputWidth + 1)
        let usedRows = 2 * g.outputHeight + 1, usedColumns = 2 * g.outputWidth + 1
        let (dx, source) = (gradInput.pointer, phases.pointer)
        ChannelParallel(threads: backend.threads).run(g.inChannels) { c in
            let planes = source + 4 * c * ph * pw, plane = dx + c * h * w
            for y in 0..<h {
                guard y < usedRows else {
                    (plane + y * w).update(repeating: 0, count: w)
                    continue
                }
                let even = planes + (2 * (y % 2) * ph + y / 2) * pw
                dip_merge_column_phases(even, even + ph * pw, usedColumns, w, plane + y * w)
            }
        }
    }

    /// Where tap k of the 16 a channel pair has over its four 2x2 filters (k = 4 (2p + q) + 2a + b,
    /// phase (p, q), tap (a, b)) lies among the 3x3 filter's 9 (3 ky + kx with ky = 2a + p,
    /// kx = 2b + q), or nil where that would be row or column 3: the one correspondence both
    /// directions below follow.
    private static let threeByThreeTap: [Int?] = (0..<16).map { k in
        let (phase, tap) = (k / 4, k % 4)
        let (ky, kx) = (2 * (tap / 2) + phase / 2, 2 * (tap % 2) + phase % 2)
        return ky < 3 && kx < 3 ? 3 * ky + kx : nil
    }

    /// The 2x2 filters of each channel pair from its 3x3 one, zeros where no tap lies.
    private func arrangeFilters(_ weight: Tensor) {
        let map = Self.threeByThreeTap
        forEachChannelPair(phases: phaseWeight, taps: weight) { phase, taps in
            for k in 0..<16 { phase[k] = map[k].map { taps[$0] } ?? 0 }
        }
    }

    /// Each 3x3 tap's gradient from the 2x2 filters' gradient; the taps that lie nowhere (zeros
    /// in every forward) have no gradient to give.
    private func gatherFilterGradient(into gradWeight: Tensor) {
        let map = Self.threeByThreeTap
        forEachChannelPair(phases: phaseWeightGradient, taps: gradWeight) { phase, taps in
            for k in 0..<16 { if let t = map[k] { taps[t] = phase[k] } }
        }
    }

    /// `body(phase, taps)` for every channel pair (o, c), in parallel over o: its 16 floats of
    /// `phases` ([Cout, 4 Cin, 2, 2]) and its 9 of `taps` ([Cout, Cin, 3, 3]).
    private func forEachChannelPair(phases: Tensor, taps: Tensor,
                                    _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let ci = geometry.inChannels, (sixteen, nine) = (phases.pointer, taps.pointer)
        ChannelParallel(threads: backend.threads).run(geometry.outChannels) { o in
            for c in 0..<ci { body(sixteen + (o * ci + c) * 16, nine + (o * ci + c) * 9) }
        }
    }
}
