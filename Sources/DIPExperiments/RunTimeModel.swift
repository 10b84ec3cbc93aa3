import DIPEngine
import Foundation

/// What one network evaluation (perturb, forward, loss, backward, optimiser step) has to do, in
/// the three quantities its time grows with.
///
/// Multiply-accumulates alone mislead: on 2-4 cores a narrow network (the width sweep's 4
/// channels) spends most of its time in the fixed cost of each layer, and a shallow one or a
/// skip network in the element-wise passes (BatchNorm, LeakyReLU, padding, concat, upsampling)
/// over its activations, which Winograd convolutions do not shrink.
public struct EvaluationWork: Sendable, Hashable {
    /// Layers of the forward pass; each also runs backward.
    public var layers: Double
    /// Values the forward pass writes: the sum of every layer's output size.
    public var activations: Double
    /// Multiply-accumulates of the forward convolutions (the backward does about twice as many).
    public var macs: Double

    /// Work from explicit counts.
    public init(layers: Double, activations: Double, macs: Double) {
        self.layers = layers
        self.activations = activations
        self.macs = macs
    }

    /// The work of a network at the size a summary describes.
    public init(_ summary: NetworkSummary) {
        layers = Double(summary.layers.count)
        activations = Double(summary.layers.reduce(0) { $0 + $1.outChannels * $1.outputSize.height * $1.outputSize.width })
        macs = Double(summary.macs)
    }

    /// The three counts in a fixed order (layers, activations, MACs), for fitting.
    var components: [Double] { [layers, activations, macs] }
}

/// How long runs take on this machine: a model whose coefficients `Runner.estimate` measures
/// with a few short fits before a build, kept apart from the measuring so its arithmetic can be
/// checked on its own.
///
/// A DIP run of E network evaluations, S of them sampled for PSNR, on an image of V values
/// (channels x pixels), costs
///
///     setup + E * evaluation(work) + S * V * secondsPerSampledValue + finishing(V)
///
/// where evaluation(work) = secondsPerLayer * layers + secondsPerActivation * activations
/// + secondsPerMAC * macs; setup (building the network, creating its oneDNN primitives, the
/// slower first evaluation and the final render) = setupSeconds + setupSecondsPerActivation *
/// activations; finishing (mask, scores, PNG files, record) = finishingSeconds +
/// finishingSecondsPerValue * V. A TV run costs tvSecondsPerValueIteration * V * iterations plus
/// the same finishing.
public struct RunTimeModel: Sendable, Hashable {
    /// Seconds per evaluation and forward layer.
    public var secondsPerLayer: Double = 0
    /// Seconds per evaluation and activation value.
    public var secondsPerActivation: Double = 0
    /// Seconds per evaluation and forward multiply-accumulate.
    public var secondsPerMAC: Double = 0
    /// Seconds of one PSNR sample per image value.
    public var secondsPerSampledValue: Double = 0
    /// Fixed seconds of a DIP run's set-up.
    public var setupSeconds: Double = 0
    /// Set-up seconds per activation value of one evaluation (buffers are allocated and first
    /// touched in proportion to them).
    public var setupSecondsPerActivation: Double = 0
    /// Fixed seconds of a run's finishing.
    public var finishingSeconds: Double = 0
    /// Finishing seconds per image value.
    public var finishingSecondsPerValue: Double = 0
    /// TV seconds per image value and iteration.
    public var tvSecondsPerValueIteration: Double = 0

    /// A model with every coefficient zero.
    public init() {}

    /// Seconds of one network evaluation.
    public func evaluationSeconds(_ w: EvaluationWork) -> Double {
        secondsPerLayer * w.layers + secondsPerActivation * w.activations + secondsPerMAC * w.macs
    }

    /// Seconds of a DIP run: `evaluations` evaluations of `work` on an image of `values` values,
    /// sampling PSNR every `psnrEvery` evaluations (and backtracking's checks every
    /// `backtrackingInterval`, which measure the same way). `evaluationScale` multiplies the
    /// evaluation's modelled time: a network that was timed keeps its measured ratio to the model.
    public func dipSeconds(work: EvaluationWork, evaluations: Int, values: Int, psnrEvery: Int,
                           backtrackingInterval: Int? = nil, evaluationScale: Double = 1) -> Double {
        let samples = RunTimeModel.sampledEvaluations(evaluations, psnrEvery: psnrEvery,
                                                      backtrackingInterval: backtrackingInterval)
        return setupSeconds + setupSecondsPerActivation * work.activations
            + Double(evaluations) * evaluationSeconds(work) * evaluationScale
            + Double(samples * values) * secondsPerSampledValue
            + finishingSeconds + finishingSecondsPerValue * Double(values)
    }

    /// Seconds of a TV run of `iterations` iterations on an image of `values` values.
    public func tvSeconds(iterations: Int, values: Int) -> Double {
        tvSecondsPerValueIteration * Double(values * iterations) + finishingSeconds + finishingSecondsPerValue * Double(values)
    }

    /// Evaluations among 0..<evaluations that the fit measures (a PSNR sample or a backtracking
    /// check), by Fitter's own rules. Counting them one by one costs microseconds per run.
    public static func sampledEvaluations(_ evaluations: Int, psnrEvery: Int, backtrackingInterval: Int? = nil) -> Int {
        let every = max(1, psnrEvery)
        let interval = backtrackingInterval.flatMap { $0 > 0 ? $0 : nil }
        return (0..<max(0, evaluations)).reduce(0) { n, i in
            n + (Fitter.samplesPSNR(at: i, of: evaluations, every: every)
                 || Fitter.checksBacktracking(at: i, interval: interval) ? 1 : 0)
        }
    }

    /// When `jobs` workers take `durations` in order, each next one going to the first worker
    /// that is free (the runner's queue): the time until the last finishes.
    public static func makespan(_ durations: [Double], jobs: Int) -> Double {
        var free = [Double](repeating: 0, count: max(1, min(jobs, durations.count)))
        for d in durations {
            let i = free.indices.min { free[$0] < free[$1] }!
            free[i] += d
        }
        return free.max() ?? 0
    }

    /// The order in which `fitNonNegative` prefers subsets of (layers, activations, MACs) when
    /// several fit the measurements equally well (one or two measurements fit exactly in many
    /// ways): fewest features first; alone, activations, then MACs (both grow with the image, so
    /// a fit measured on a crop extrapolates), then layers; in pairs, a cost per layer plus one
    /// per activation (what predicted the quick profile's networks best from two of them), then
    /// per layer plus a MAC rate, then activations with MACs.
    public static let featurePreference: [[Int]] = [[1], [2], [0], [0, 1], [0, 2], [1, 2], [0, 1, 2]]

    /// Non-negative coefficients c minimising the relative error of sum_j c_j x_ij against
    /// each `seconds_i` (least squares on errors divided by the measured time, so a 5 ms and a
    /// 500 ms measurement count alike). Exact for the few features used here: every subset of
    /// features in `preference` is solved unconstrained and the best solution without a negative
    /// coefficient wins, a later subset only where its squared error is below `clearlyBetter`
    /// times the earlier one's. Features that are zero in every row get 0; with no usable
    /// measurement every coefficient is 0.
    public static func fitNonNegative(_ rows: [[Double]], seconds: [Double],
                                      preference: [[Int]] = featurePreference) -> [Double] {
        let n = rows.first?.count ?? 0
        let usable = zip(rows, seconds).filter { $1 > 0 && $1.isFinite && $0.count == n }
        guard n > 0, !usable.isEmpty else { return [Double](repeating: 0, count: n) }
        // Each row is divided by its time (relative errors); each column by its largest value
        // (conditioning: layers are ~100, MACs ~1e9).
        let scale = (0..<n).map { j in usable.map { abs($0.0[j]) }.max() ?? 0 }
        let a = usable.map { row, t in (0..<n).map { j in scale[j] > 0 ? row[j] / scale[j] / t : 0 } }
        let b = [Double](repeating: 1, count: usable.count)
        var best: (residual: Double, coefficients: [Double])?
        let subsets = preference.filter { !$0.isEmpty && $0.allSatisfy { $0 < n && scale[$0] > 0 } }
        for subset in subsets {
            guard let x = leastSquares(a.map { row in subset.map { row[$0] } }, b), x.allSatisfy({ $0 >= 0 }) else { continue }
            var r = 0.0
            for (row, target) in zip(a, b) {
                let e = zip(subset, x).reduce(0) { $0 + row[$1.0] * $1.1 } - target
                r += e * e
            }
            // A later subset must be clearly better to win: where the measurements cannot tell
            // the features apart (timed at nearly the same work, as the crops of a plan's large
            // images are), which one fits their noise best is chance, and their predictions for
            // the full-size work differ many times over; the preference decides there. (The
            // 1e-12: exact fits differ by rounding, ~1e-30.)
            if best == nil || r < best!.residual * Self.clearlyBetter - 1e-12 {
                var c = [Double](repeating: 0, count: n)
                for (j, v) in zip(subset, x) { c[j] = v / scale[j] }
                best = (r, c)
            }
        }
        return best?.coefficients ?? [Double](repeating: 0, count: n)
    }

    /// How much smaller a later subset's squared relative error must be to win over an earlier
    /// one in `fitNonNegative`. Noise of a few per cent between timings of nearly the same work
    /// moved the single features' errors by about 10 % against each other (the paper's Table 1,
    /// an estimate's three crops: layers 7.4e-4, activations 8.1e-4, so 11h43m instead of 137h
    /// in about half the invocations); a feature the measurements really call for fits them many
    /// times better.
    static let clearlyBetter = 0.5

    /// Least squares by the normal equations (at most 3 unknowns here), nil when singular.
    static func leastSquares(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        guard let k = a.first?.count, k > 0 else { return nil }
        var m = [[Double]](repeating: [Double](repeating: 0, count: k + 1), count: k)
        for (row, y) in zip(a, b) {
            for i in 0..<k {
                for j in 0..<k { m[i][j] += row[i] * row[j] }
                m[i][k] += row[i] * y
            }
        }
        // Gauss-Jordan with partial pivoting; a pivot this small means dependent columns.
        let tiny = 1e-12 * max(1, m.map { $0[0..<k].map(abs).max() ?? 0 }.max() ?? 0)
        for c in 0..<k {
            guard let p = (c..<k).max(by: { abs(m[$0][c]) < abs(m[$1][c]) }), abs(m[p][c]) > tiny else { return nil }
            m.swapAt(c, p)
            for r in 0..<k where r != c {
                let f = m[r][c] / m[c][c]
                for j in c...k { m[r][j] -= f * m[c][j] }
            }
        }
        return (0..<k).map { m[$0][k] / m[$0][$0] }
    }
}
