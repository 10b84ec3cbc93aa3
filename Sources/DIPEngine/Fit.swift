import DIPCore
import Foundation

/// One inpainting problem: the clean image (ground truth, used for PSNR when known) and the
/// mask (1 = known pixel, 0 = hole; one channel, or one per image channel).
///
/// The network only ever sees the known pixels: the loss is computed on m * out against
/// m * x0 (dip-spec §6), so the hole pixels of `image` never influence the fit.
public struct FitProblem: Sendable {
    /// The image; its known pixels are the data, all of it is the ground truth when
    /// `hasGroundTruth`.
    public var image: Image
    /// The mask.
    public var mask: Image
    /// Whether `image` is clean everywhere (a benchmark) or only at the known pixels (a user's
    /// damaged photo): without ground truth no PSNR against it is reported.
    public var hasGroundTruth: Bool

    /// Creates a problem; the mask must match the image's size.
    public init(image: Image, mask: Image, hasGroundTruth: Bool = true) throws {
        guard mask.height == image.height, mask.width == image.width,
              mask.channels == 1 || mask.channels == image.channels else {
            throw EngineError.shape("the mask is \(mask.sizeDescription) but the image is \(image.sizeDescription)")
        }
        self.image = image
        self.mask = mask
        self.hasGroundTruth = hasGroundTruth
    }
}

/// One sampled point of a fit's curve.
public struct CurvePoint: Sendable, Codable, Hashable {
    /// 0-based iteration whose (pre-step) output was measured.
    public var iteration: Int
    /// The masked MSE loss.
    public var loss: Double
    /// PSNR of the output against the clean image, all pixels (nil without ground truth).
    public var psnr: Double?
    /// PSNR over the hole pixels only.
    public var psnrHoles: Double?
    /// PSNR(x0 * m, out * m): what backtracking watches; needs no ground truth.
    public var psnrKnown: Double

    /// Creates a point.
    public init(iteration: Int, loss: Double, psnr: Double?, psnrHoles: Double?, psnrKnown: Double) {
        self.iteration = iteration
        self.loss = loss
        self.psnr = psnr
        self.psnrHoles = psnrHoles
        self.psnrKnown = psnrKnown
    }
}

/// How a fit ended.
public enum FitStatus: Sendable, Codable, Hashable, CustomStringConvertible {
    /// All iterations ran.
    case done
    /// The loss became NaN or infinite at this iteration; the fit stopped there.
    case diverged(iteration: Int)
    /// The caller cancelled before this iteration.
    case cancelled(iteration: Int)

    /// "done", "diverged at iteration 12", ...
    public var description: String {
        switch self {
        case .done: return "done"
        case let .diverged(i): return "diverged at iteration \(i)"
        case let .cancelled(i): return "cancelled at iteration \(i)"
        }
    }
}

/// Seconds spent in each phase, summed over the fit.
public struct FitTimings: Sendable, Codable, Hashable {
    /// Input perturbation and forward pass.
    public var forward: Double = 0
    /// Loss, metrics and backward pass.
    public var backward: Double = 0
    /// Optimiser steps.
    public var optimizer: Double = 0
    /// Everything, set-up excluded.
    public var total: Double = 0
    /// Iterations actually run.
    public var iterations: Int = 0

    /// All zero.
    public init() {}
}

/// The best sampled iterate.
public struct BestIterate: Sendable {
    /// Its PSNR against the clean image.
    public var psnr: Double
    /// Its iteration.
    public var iteration: Int
    /// The picture.
    public var image: Image
}

/// What a fit produced.
public struct FitResult: Sendable {
    /// The configuration that ran.
    public var config: FitConfig
    /// The seed.
    public var seed: UInt64
    /// Sampled points (every `psnrEvery` iterations and the last).
    public var curve: [CurvePoint]
    /// The loss of every iteration.
    public var losses: [Double]
    /// The final render (see FinalRender), clamped to [0, 1] by the sigmoid already.
    public var finalImage: Image
    /// PSNR of the final render (nil without ground truth).
    public var finalPSNR: Double?
    /// PSNR of the final render over the hole pixels.
    public var finalPSNRHoles: Double?
    /// The best sampled iterate (nil without ground truth).
    public var best: BestIterate?
    /// Iterations at which backtracking restored the checkpoint.
    public var backtracks: [Int]
    /// How the fit ended.
    public var status: FitStatus
    /// Where the time went.
    public var timings: FitTimings
    /// Whether the network ran on a reflection-padded canvas (and by how much).
    public var workingSize: (height: Int, width: Int)
}

/// Progress, reported after every iteration.
public struct FitProgress: Sendable {
    /// Iterations completed.
    public var iteration: Int
    /// Iterations planned.
    public var iterations: Int
    /// Loss of the last iteration.
    public var loss: Double
    /// Last measured PSNR (whole image), if any.
    public var psnr: Double?
    /// Seconds since the loop started.
    public var elapsed: Double
}

/// Fits a skip network to one problem: the Deep Image Prior loop of dip-spec §6.
///
/// Randomness: weights from the `.weights` stream, z from `.inputCode`, the perturbation of
/// iteration i from `.perturbation` substream i, all from the one seed; so the same seed, backend
/// and thread count give the same curve to the bit.
public final class Fitter {
    /// The problem.
    public let problem: FitProblem
    /// The configuration.
    public let config: FitConfig
    /// The seed.
    public let seed: UInt64
    /// The network being fitted.
    public let network: SkipNetwork
    /// The size the network runs at (the image size, or larger when it had to be padded).
    public let workingHeight: Int
    /// See `workingHeight`.
    public let workingWidth: Int

    private let z: Tensor
    private let zIt: Tensor
    private let target: Tensor
    private let maskTensor: Tensor
    private let gradient: Tensor
    private let parallel: ChannelParallel
    /// Scale that turns the padded canvas's mean into upstream's mean over the image's C*H*W.
    private let lossScale: Double

    /// Prepares a fit: validates, builds and initialises the network, draws z.
    public init(problem: FitProblem, config: FitConfig, seed: UInt64, backend: any ComputeBackend) throws {
        try config.validate()
        guard config.network.outputChannels == problem.image.channels else {
            throw EngineError.invalidConfig("the network outputs \(config.network.outputChannels) channels but the image has \(problem.image.channels)")
        }
        self.problem = problem
        self.config = config
        self.seed = seed
        let (h, w) = Fitter.workingSize(for: config.network, height: problem.image.height, width: problem.image.width)
        workingHeight = h
        workingWidth = w
        network = try SkipNetwork(config: config.network, backend: backend, gammaInit: config.gammaInit,
                                  convAlgorithm: config.convAlgorithm, seed: seed)
        try network.prepare(height: h, width: w)
        z = config.inputCode.make(height: h, width: w, seed: seed)
        zIt = Tensor(z.dims)
        parallel = ChannelParallel(threads: max(1, backend.threads))
        let c = problem.image.channels
        target = Tensor([c, h, w])
        maskTensor = Tensor([c, h, w])
        gradient = Tensor([c, h, w])
        // The canvas is the image at offset (top, left); the padding has mask 0 so it never
        // enters the loss, and the loss is rescaled to upstream's normaliser C*H*W.
        let top = (h - problem.image.height) / 2, left = (w - problem.image.width) / 2
        let img = problem.image, m = problem.mask
        for ch in 0..<c {
            let mc = m.channels == 1 ? 0 : ch
            for y in 0..<img.height {
                for x in 0..<img.width {
                    let o = (ch * h + y + top) * w + x + left
                    target.pointer[o] = img[ch, y, x]
                    maskTensor.pointer[o] = m[mc, y, x]
                }
            }
        }
        lossScale = Double(h * w) / Double(img.height * img.width)
    }

    /// The size the network must run at for an image of `height` x `width`: the image size when
    /// every level has a skip branch (its concat crops to fit), else the next multiple of
    /// 2^depth, where the image is placed in the middle of a canvas the loss ignores.
    public static func workingSize(for net: SkipConfig, height: Int, width: Int) -> (Int, Int) {
        if net.skip.allSatisfy({ $0 > 0 }) && net.downsampling == .stride { return (height, width) }
        let d = net.sizeDivisor
        return ((height + d - 1) / d * d, (width + d - 1) / d * d)
    }

    /// Adam steps upstream's optimize() runs before L-BFGS.
    public static let lbfgsWarmupSteps = 100
    /// Their learning rate.
    public static let lbfgsWarmupLearningRate = 0.001

    /// Network evaluations a fit will make: the iterations, plus the Adam warm-up for L-BFGS.
    public static func plannedEvaluations(_ config: FitConfig) -> Int {
        if case .lbfgs = config.optimizer { return config.iterations + lbfgsWarmupSteps }
        return config.iterations
    }

    /// Whether evaluation `iteration` of `total` samples PSNR: every `every`-th and the last.
    public static func samplesPSNR(at iteration: Int, of total: Int, every: Int) -> Bool {
        iteration % every == 0 || iteration == total - 1
    }

    /// Whether evaluation `iteration` is one where backtracking (when on) checks the fit.
    public static func checksBacktracking(at iteration: Int, interval: Int?) -> Bool {
        interval.map { iteration % $0 == 0 } ?? false
    }

    /// Whether the network runs on a larger canvas than the image.
    public var isPadded: Bool { workingHeight != problem.image.height || workingWidth != problem.image.width }

    /// Fills zIt with z + sigma_p * N(0, 1) of iteration `iteration`'s stream (or copies z).
    private func perturb(iteration: Int) {
        guard config.perturbation > 0 else { zIt.copy(from: z); return }
        let stream = RandomStream(seed: seed, purpose: .perturbation, substream: UInt64(iteration))
        let n = z.count, blocks = (n + 3) / 4
        let parts = 64
        let sigma = config.perturbation
        let zp = UncheckedBox(z.pointer), op = UncheckedBox(zIt.pointer)
        // Fixed partition into 64 block ranges, whatever the thread count: same bits.
        parallel.run(parts) { part in
            let lo = blocks * part / parts, hi = blocks * (part + 1) / parts
            let out = UnsafeMutableBufferPointer(start: op.value, count: n)
            stream.fillNormal(out, blocks: UInt64(lo)..<UInt64(hi), mean: 0, std: sigma)
            let start = lo * 4, end = min(hi * 4, n)
            if start < end { for i in start..<end { out[i] += zp.value[i] } }
        }
    }

    /// The network output cropped to the image.
    private func image(from output: Tensor) -> Image {
        let c = problem.image.channels, H = problem.image.height, W = problem.image.width
        var out = Image(channels: c, height: H, width: W)
        let top = (workingHeight - H) / 2, left = (workingWidth - W) / 2
        out.pixels.withUnsafeMutableBufferPointer { dst in
            for ch in 0..<c {
                for y in 0..<H {
                    let src = output.pointer + (ch * workingHeight + y + top) * workingWidth + left
                    (dst.baseAddress! + (ch * H + y) * W).update(from: src, count: W)
                }
            }
        }
        return out
    }

    /// Measures one output: the curve point and the picture.
    private func measure(_ output: Tensor, iteration: Int, loss: Double) throws -> (CurvePoint, Image) {
        let img = image(from: output)
        let known = try Metrics.psnr(img.masked(by: problem.mask), problem.image.masked(by: problem.mask))
        var point = CurvePoint(iteration: iteration, loss: loss, psnr: nil, psnrHoles: nil, psnrKnown: known)
        if problem.hasGroundTruth {
            point.psnr = try Metrics.psnr(img, problem.image)
            point.psnrHoles = try Metrics.psnr(img, problem.image, mask: problem.mask, region: .holes)
        }
        return (point, img)
    }

    /// Loss and gradient (written into `gradient`) of a network output.
    private func lossAndGradient(_ output: Tensor) throws -> Double {
        let loss = try MaskedMSELoss.value(output: output, target: target, mask: maskTensor) * lossScale
        try MaskedMSELoss.gradient(output: output, target: target, mask: maskTensor, into: gradient)
        if lossScale != 1 {
            let s = Float(lossScale)
            for i in 0..<gradient.count { gradient.pointer[i] *= s }
        }
        return loss
    }

    /// Runs the fit. `progress` hears of every iteration; `shouldCancel` is polled before each;
    /// `onSample` receives every sampled point with its picture (e.g. to keep the picture at the
    /// bottom of a PSNR drop).
    ///
    /// Checkpoints: with a `checkpoints` schedule, `onCheckpoint` receives the whole state between
    /// two iterations whenever the schedule is due, and once more when the fit is cancelled;
    /// `resumingFrom` continues from such a state, giving bit for bit the result of an
    /// uninterrupted fit. An L-BFGS fit is checkpointed between its L-BFGS iterations (its state
    /// includes the curvature history, see FitCheckpointWriter); cancelled during its 100-step
    /// Adam warm-up it starts afresh.
    public func run(resumingFrom checkpoint: FitCheckpoint? = nil,
                    checkpoints: CheckpointSchedule? = nil,
                    onCheckpoint: (FitCheckpoint) throws -> Void = { _ in },
                    onSample: (CurvePoint, Image) -> Void = { _, _ in },
                    progress: (FitProgress) -> Void = { _ in },
                    shouldCancel: () -> Bool = { false }) throws -> FitResult {
        let params = network.tensors.filter { !$0.isBuffer }
        var curve: [CurvePoint] = []
        var losses: [Double] = []
        losses.reserveCapacity(config.iterations)
        var best: BestIterate?
        var backtracks: [Int] = []
        var status = FitStatus.done
        var timings = FitTimings()
        let clock = ContinuousClock()
        let start = clock.now
        var lastPSNR: Double?
        let totalSteps = Fitter.plannedEvaluations(config)
        var priorSeconds = 0.0
        if let checkpoint {
            guard checkpoint.config == config, checkpoint.seed == seed else {
                throw EngineError.invalidConfig("the checkpoint was written for another configuration or seed; delete it to start afresh")
            }
            curve = checkpoint.curve
            losses = checkpoint.losses
            best = checkpoint.best
            backtracks = checkpoint.backtracks
            timings = checkpoint.timings
            lastPSNR = checkpoint.lastPSNR
            priorSeconds = checkpoint.timings.total
        }

        // One evaluation: perturb, forward, loss, measure, backward. Returns the loss.
        func evaluate(_ iteration: Int, backtrack: inout Bool) throws -> Double {
            let t0 = clock.now
            perturb(iteration: iteration)
            let out = try network.forward(zIt)
            let t1 = clock.now
            let loss = try lossAndGradient(out)
            losses.append(loss)
            guard loss.isFinite else { throw Divergence(iteration: iteration) }
            let sample = Fitter.samplesPSNR(at: iteration, of: totalSteps, every: config.psnrEvery)
            let checkBacktrack = Fitter.checksBacktracking(at: iteration, interval: config.backtracking?.interval)
            if sample || checkBacktrack {
                let (point, img) = try measure(out, iteration: iteration, loss: loss)
                if sample {
                    curve.append(point)
                    onSample(point, img)
                    if let p = point.psnr {
                        lastPSNR = p
                        if best == nil || p > best!.psnr { best = BestIterate(psnr: p, iteration: iteration, image: img) }
                    }
                }
                backtrack = checkBacktrack && backtracker.shouldRestore(point.psnrKnown)
            }
            try network.backward(gradOutput: gradient)
            timings.forward += (t1 - t0).seconds
            timings.backward += (clock.now - t1).seconds
            return loss
        }

        var backtracker = Backtracker(config.backtracking, params: params)
        switch config.optimizer {
        case let .adam(lr):
            let adam = try Adam(params.map { (parameter: $0.value, gradient: $0.gradient!) }, learningRate: lr)
            // `counter` is the notebook's i: it does not advance on a fallback (dip-spec §6).
            var counter = 0
            var firstStep = 0
            if let checkpoint {
                guard checkpoint.lbfgs == nil else {
                    throw EngineError.invalidConfig("the checkpoint is of an L-BFGS fit, this is an Adam fit; delete it to start afresh")
                }
                try checkpoint.restore(into: network, adam: adam)
                backtracker.saved = checkpoint.backtrackSaved
                backtracker.lastPSNR = checkpoint.backtrackPSNR
                counter = checkpoint.counter
                firstStep = checkpoint.step
            }
            var lastCheckpoint = clock.now
            func snapshot(_ step: Int) -> FitCheckpoint {
                var t = timings
                t.total = priorSeconds + (clock.now - start).seconds
                return FitCheckpoint(config: config, seed: seed, step: step, counter: counter,
                                     tensors: network.tensors.map { ($0.key, $0.value.array) },
                                     adamFirst: adam.firstMoments.map(\.array), adamSecond: adam.secondMoments.map(\.array),
                                     adamSteps: adam.stepCount, backtrackSaved: backtracker.saved,
                                     backtrackPSNR: backtracker.lastPSNR, curve: curve, losses: losses,
                                     backtracks: backtracks, best: best, lastPSNR: lastPSNR, timings: t)
            }
            for step in firstStep..<config.iterations {
                if shouldCancel() {
                    status = .cancelled(iteration: step)
                    if checkpoints != nil { try onCheckpoint(snapshot(step)) }
                    break
                }
                var restore = false
                let loss: Double
                do { loss = try evaluate(counter, backtrack: &restore) } catch let d as Divergence {
                    status = .diverged(iteration: d.iteration); break
                }
                if restore {
                    backtracker.restore()
                    backtracks.append(counter)
                } else {
                    counter += 1
                }
                let t = clock.now
                adam.step()
                timings.optimizer += (clock.now - t).seconds
                timings.iterations += 1
                progress(FitProgress(iteration: step + 1, iterations: config.iterations, loss: loss,
                                     psnr: lastPSNR, elapsed: (clock.now - start).seconds))
                if let schedule = checkpoints, step + 1 < config.iterations,
                   schedule.isDue(iterations: step + 1, secondsSinceLast: (clock.now - lastCheckpoint).seconds) {
                    try onCheckpoint(snapshot(step + 1))
                    lastCheckpoint = clock.now
                }
            }
        case let .lbfgs(lr):
            // Upstream's optimize() first runs 100 Adam steps at lr 0.001, then one L-BFGS step of
            // max_iter = iterations; the notebook's counter runs on through both. Checkpoints are
            // taken between L-BFGS iterations only: the warm-up is a few minutes at most.
            var evaluations = 0
            var resumed: LBFGS.State?
            if let checkpoint {
                guard let state = checkpoint.lbfgs else {
                    throw EngineError.invalidConfig("the checkpoint is of an Adam fit, this is an L-BFGS fit; delete it to start afresh")
                }
                try checkpoint.restoreTensors(into: network)
                evaluations = checkpoint.step
                resumed = state
            }
            var lastCheckpoint = clock.now
            func snapshot(_ state: LBFGS.State) -> FitCheckpoint {
                var t = timings
                t.total = priorSeconds + (clock.now - start).seconds
                return FitCheckpoint(config: config, seed: seed, step: evaluations, counter: evaluations,
                                     tensors: network.tensors.map { ($0.key, $0.value.array) },
                                     adamFirst: [], adamSecond: [], adamSteps: 0, backtrackSaved: [],
                                     backtrackPSNR: nil, curve: curve, losses: losses, backtracks: backtracks,
                                     best: best, lastPSNR: lastPSNR, timings: t, lbfgs: state)
            }
            do {
                if resumed == nil {
                    let warmup = try Adam(params.map { (parameter: $0.value, gradient: $0.gradient!) },
                                          learningRate: Fitter.lbfgsWarmupLearningRate)
                    for _ in 0..<Fitter.lbfgsWarmupSteps {
                        if shouldCancel() { throw Cancellation(iteration: evaluations) }
                        var ignored = false
                        let loss = try evaluate(evaluations, backtrack: &ignored)
                        warmup.step()
                        evaluations += 1
                        timings.iterations += 1
                        progress(FitProgress(iteration: evaluations, iterations: totalSteps, loss: loss,
                                             psnr: lastPSNR, elapsed: (clock.now - start).seconds))
                    }
                }
                let lbfgs = LBFGS.upstream(parameters: params.map(\.value), iterations: config.iterations, learningRate: lr)
                try lbfgs.step(resumingFrom: resumed, closure: {
                    var ignored = false
                    let loss = try evaluate(evaluations, backtrack: &ignored)
                    evaluations += 1
                    timings.iterations += 1
                    progress(FitProgress(iteration: evaluations, iterations: totalSteps, loss: loss,
                                         psnr: lastPSNR, elapsed: (clock.now - start).seconds))
                    return (loss, LBFGS.flatten(params.map { $0.gradient! }))
                }, beforeIteration: { state in
                    // Between iterations the state is whole: cancel or checkpoint here.
                    if shouldCancel() {
                        if checkpoints != nil { try onCheckpoint(snapshot(state)) }
                        throw Cancellation(iteration: evaluations)
                    }
                    let atResumePoint = resumed.map { $0.iteration == state.iteration } ?? false
                    if !atResumePoint, let schedule = checkpoints,
                       schedule.isDue(iterations: evaluations, secondsSinceLast: (clock.now - lastCheckpoint).seconds) {
                        try onCheckpoint(snapshot(state))
                        lastCheckpoint = clock.now
                    }
                })
            } catch let d as Divergence {
                status = .diverged(iteration: d.iteration)
            } catch let c as Cancellation {
                status = .cancelled(iteration: c.iteration)
            }
        }

        // The final render, in train-mode BN like every other pass.
        let t = clock.now
        switch config.finalRender {
        case .unperturbed: zIt.copy(from: z)
        case .lastPerturbed: perturb(iteration: max(0, timings.iterations - 1))
        }
        let out = try network.forward(zIt)
        let finalImage = image(from: out)
        timings.forward += (clock.now - t).seconds
        timings.total = priorSeconds + (clock.now - start).seconds
        var finalPSNR: Double?, finalHoles: Double?
        if problem.hasGroundTruth, finalImage.pixels.allSatisfy({ $0.isFinite }) {
            finalPSNR = try Metrics.psnr(finalImage, problem.image)
            finalHoles = try Metrics.psnr(finalImage, problem.image, mask: problem.mask, region: .holes)
        }
        return FitResult(config: config, seed: seed, curve: curve, losses: losses, finalImage: finalImage,
                         finalPSNR: finalPSNR, finalPSNRHoles: finalHoles, best: best, backtracks: backtracks,
                         status: status, timings: timings, workingSize: (workingHeight, workingWidth))
    }
}

private struct Divergence: Error { let iteration: Int }
private struct Cancellation: Error { let iteration: Int }

/// The restoration notebook's checkpoint of the parameters (not the BN buffers, which are not
/// parameters) and its PSNR on the known pixels.
private struct Backtracker {
    let settings: Backtracking?
    let params: [NamedTensor]
    // Parameter values at the last check (empty before the first).
    var saved: [[Float]] = []
    var lastPSNR: Double?

    init(_ settings: Backtracking?, params: [NamedTensor]) {
        self.settings = settings
        self.params = params
    }

    /// Called every `interval` iterations with PSNR(x0 m, out m): true means "restore";
    /// otherwise the checkpoint moves here.
    mutating func shouldRestore(_ psnr: Double) -> Bool {
        guard let settings else { return false }
        if let last = lastPSNR, psnr - last < -settings.threshold { return true }
        saved = params.map { $0.value.array }
        lastPSNR = psnr
        return false
    }

    /// Copies the checkpoint back into the parameters.
    func restore() {
        for (p, v) in zip(params, saved) {
            v.withUnsafeBufferPointer { p.value.pointer.update(from: $0.baseAddress!, count: v.count) }
        }
    }
}

extension FitResult {
    /// The curve as JSON: every iteration's loss, the sampled PSNR points, the best iterate and
    /// the status; the file `dip-report inpaint --curve` writes.
    public func curveJSON() throws -> [UInt8] {
        struct Payload: Encodable {
            var schema = "dip-report/curve"
            var version = 1
            var seed: UInt64
            var config: FitConfig
            var status: String
            var iterations: Int
            var finalPSNR: Double?
            var finalPSNRHoles: Double?
            var bestPSNR: Double?
            var bestIteration: Int?
            var backtracks: [Int]
            var seconds: Double
            var samples: [CurvePoint]
            var losses: [Double]
        }
        let p = Payload(seed: seed, config: config, status: status.description, iterations: timings.iterations,
                        finalPSNR: finalPSNR, finalPSNRHoles: finalPSNRHoles, bestPSNR: best?.psnr,
                        bestIteration: best?.iteration, backtracks: backtracks, seconds: timings.total,
                        samples: curve, losses: losses)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // JSON has no infinity or NaN: a perfect fit's PSNR is "inf", a diverged loss "nan".
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Array(try encoder.encode(p))
    }
}

/// When a fit hands its state to `onCheckpoint`: every `iterations` iterations, or when `seconds`
/// have passed since the last checkpoint, whichever comes first.
public struct CheckpointSchedule: Sendable, Hashable {
    /// Iterations between checkpoints (nil = by time only).
    public var iterations: Int?
    /// Seconds between checkpoints (nil = by count only).
    public var seconds: Double?

    /// Creates a schedule.
    public init(iterations: Int? = nil, seconds: Double? = nil) {
        self.iterations = iterations
        self.seconds = seconds
    }

    /// Whether a checkpoint is due after `iterations` completed iterations.
    func isDue(iterations done: Int, secondsSinceLast: Double) -> Bool {
        if let n = iterations, n > 0, done % n == 0 { return true }
        if let s = seconds, secondsSinceLast >= s { return true }
        return false
    }
}

/// The state of a fit between two iterations: parameters and BatchNorm buffers, the optimizer's
/// state (Adam's moments and step, or L-BFGS's history and position), backtracking's saved
/// parameters, the curve and losses so far, the best iterate and the counters. The perturbation
/// needs no state: iteration i's noise is substream i of the seed's stream.
public struct FitCheckpoint: Sendable {
    /// The configuration it belongs to (a checkpoint is refused by any other).
    public var config: FitConfig
    /// The seed.
    public var seed: UInt64
    /// Loop iterations completed.
    public var step: Int
    /// The notebook's iteration counter (it lags `step` by the backtracking fallbacks).
    public var counter: Int
    /// Every network tensor (parameters and buffers) by key.
    public var tensors: [(key: String, values: [Float])]
    /// Adam's first moments, in parameter order.
    public var adamFirst: [[Float]]
    /// Adam's second moments.
    public var adamSecond: [[Float]]
    /// Adam's step count.
    public var adamSteps: Int
    /// Backtracking's saved parameters (empty before its first check).
    public var backtrackSaved: [[Float]]
    /// Backtracking's PSNR at its checkpoint.
    public var backtrackPSNR: Double?
    /// Curve so far.
    public var curve: [CurvePoint]
    /// Losses so far.
    public var losses: [Double]
    /// Backtracking restores so far.
    public var backtracks: [Int]
    /// The best iterate so far.
    public var best: BestIterate?
    /// The last sampled PSNR.
    public var lastPSNR: Double?
    /// Timings so far (total = seconds spent before this checkpoint).
    public var timings: FitTimings
    /// An L-BFGS fit's optimizer state (nil for Adam, whose state is in the adam fields).
    public var lbfgs: LBFGS.State?
    /// The caller's own state, saved in the same file so that it can never disagree with the
    /// fit's (e.g. the runner's wall time and the picture at the worst drop so far).
    public var attachments: [String: String] = [:]
    /// The caller's pictures, saved in the same file.
    public var attachedImages: [String: Image] = [:]

    /// Creates a checkpoint.
    public init(config: FitConfig, seed: UInt64, step: Int, counter: Int, tensors: [(key: String, values: [Float])],
                adamFirst: [[Float]], adamSecond: [[Float]], adamSteps: Int, backtrackSaved: [[Float]],
                backtrackPSNR: Double?, curve: [CurvePoint], losses: [Double], backtracks: [Int],
                best: BestIterate?, lastPSNR: Double?, timings: FitTimings, lbfgs: LBFGS.State? = nil) {
        self.lbfgs = lbfgs
        self.config = config
        self.seed = seed
        self.step = step
        self.counter = counter
        self.tensors = tensors
        self.adamFirst = adamFirst
        self.adamSecond = adamSecond
        self.adamSteps = adamSteps
        self.backtrackSaved = backtrackSaved
        self.backtrackPSNR = backtrackPSNR
        self.curve = curve
        self.losses = losses
        self.backtracks = backtracks
        self.best = best
        self.lastPSNR = lastPSNR
        self.timings = timings
    }

    /// Copies the network tensors (parameters and buffers) back.
    func restoreTensors(into network: SkipNetwork) throws {
        let byKey = Dictionary(tensors.map { ($0.key, $0.values) }, uniquingKeysWith: { a, _ in a })
        for t in network.tensors {
            guard let v = byKey[t.key], v.count == t.value.count else {
                throw EngineError.weights("checkpoint: '\(t.key)' is missing or has the wrong size; delete the checkpoint to start afresh")
            }
            v.withUnsafeBufferPointer { t.value.pointer.update(from: $0.baseAddress!, count: v.count) }
        }
    }

    /// Copies the network tensors and Adam's state back.
    func restore(into network: SkipNetwork, adam: Adam) throws {
        try restoreTensors(into: network)
        guard adamFirst.count == adam.firstMoments.count, adamSecond.count == adam.secondMoments.count else {
            throw EngineError.weights("checkpoint: Adam state does not match the network; delete the checkpoint to start afresh")
        }
        for (dst, src) in zip(adam.firstMoments + adam.secondMoments, adamFirst + adamSecond) {
            guard dst.count == src.count else { throw EngineError.weights("checkpoint: Adam moment of the wrong size") }
            src.withUnsafeBufferPointer { dst.pointer.update(from: $0.baseAddress!, count: src.count) }
        }
        adam.stepCount = adamSteps
    }

    /// The JSON part: everything but the float arrays.
    private struct State: Codable {
        var schema = "dip-report/fit-checkpoint"
        var version = 1
        var config: FitConfig
        var seed: UInt64
        var step: Int
        var counter: Int
        var tensorKeys: [String]
        var adamSteps: Int
        var moments: Int
        var backtrackSaved: Int
        var backtrackPSNR: Double?
        var curve: [CurvePoint]
        var losses: [Double]
        var backtracks: [Int]
        var bestPSNR: Double?
        var bestIteration: Int?
        var lastPSNR: Double?
        var timings: FitTimings
        var lbfgs: LBFGSScalars?
    }

    /// L-BFGS's scalars and the serials of its pairs (the vectors are tensors and pair files).
    private struct LBFGSScalars: Codable {
        var totalIterations: Int
        var totalEvaluations: Int
        var pairsStored: Int
        var pairs: [Int]
        var inverseCurvatures: [Double]
        var hessianDiagonal: Double
        var stepLength: Double
        var iteration: Int
        var evaluations: Int
        var initialLoss: Double
        var loss: Double
        var hasPreviousGradient: Bool
    }

    /// Writes the checkpoint to `path` (atomically), replacing whatever checkpoint was there. An
    /// L-BFGS checkpoint's pairs go beside it (see FitCheckpointWriter, which writes a series of
    /// checkpoints without rewriting the pairs saved already).
    public func write(to path: String) throws {
        try FitCheckpointWriter(path: path, resumed: nil).write(self)
    }

    /// The main file: the float arrays as F32 tensors, the rest as JSON in the metadata (Doubles
    /// print in shortest round-trip form, so they read back to the same bits). L-BFGS's pairs are
    /// not in it.
    func mainFile() throws -> SafetensorsFile {
        var scalars: LBFGSScalars?
        if let l = lbfgs {
            scalars = LBFGSScalars(totalIterations: l.totalIterations, totalEvaluations: l.totalEvaluations,
                                   pairsStored: l.pairsStored, pairs: l.history.map(\.serial),
                                   inverseCurvatures: l.history.map(\.inverseCurvature), hessianDiagonal: l.hessianDiagonal,
                                   stepLength: l.stepLength, iteration: l.iteration, evaluations: l.evaluations,
                                   initialLoss: l.initialLoss, loss: l.loss, hasPreviousGradient: l.previousGradient != nil)
        }
        let state = State(config: config, seed: seed, step: step, counter: counter, tensorKeys: tensors.map(\.key),
                          adamSteps: adamSteps, moments: adamFirst.count, backtrackSaved: backtrackSaved.count,
                          backtrackPSNR: backtrackPSNR, curve: curve, losses: losses, backtracks: backtracks,
                          bestPSNR: best?.psnr, bestIteration: best?.iteration, lastPSNR: lastPSNR, timings: timings,
                          lbfgs: scalars)
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var file = SafetensorsFile(metadata: ["state": String(decoding: try encoder.encode(state), as: UTF8.self)])
        for (name, text) in attachments { file.metadata["attachment." + name] = text }
        for (name, image) in attachedImages {
            file.tensors["attached." + name] = try .init(float32: image.pixels, shape: [image.channels, image.height, image.width])
        }
        for (i, t) in tensors.enumerated() { file.tensors["net.\(i)"] = try .init(float32: t.values) }
        for (i, m) in adamFirst.enumerated() { file.tensors["adam.m.\(i)"] = try .init(float32: m) }
        for (i, v) in adamSecond.enumerated() { file.tensors["adam.v.\(i)"] = try .init(float32: v) }
        for (i, b) in backtrackSaved.enumerated() { file.tensors["backtrack.\(i)"] = try .init(float32: b) }
        if let best {
            file.tensors["best.image"] = try .init(float32: best.image.pixels,
                                                   shape: [best.image.channels, best.image.height, best.image.width])
        }
        if let l = lbfgs {
            file.tensors["lbfgs.gradient"] = try .init(float32: l.gradient)
            file.tensors["lbfgs.direction"] = try .init(float32: l.direction)
            if let p = l.previousGradient { file.tensors["lbfgs.previous"] = try .init(float32: p) }
        }
        return file
    }

    /// Reads a checkpoint written by `write(to:)`; problems name the file.
    public static func read(from path: String) throws -> FitCheckpoint {
        let file = try SafetensorsFile.read(from: path)
        guard let json = file.metadata["state"] else {
            throw EngineError.weights("\(path): not a fit checkpoint (no state); delete it to start afresh")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let state: State
        do { state = try decoder.decode(State.self, from: Data(json.utf8)) } catch {
            throw EngineError.weights("\(path): damaged checkpoint state (\(error)); delete it to start afresh")
        }
        func floats(_ name: String) throws -> [Float] {
            guard let e = file.tensors[name] else { throw EngineError.weights("\(path): checkpoint lacks '\(name)'; delete it to start afresh") }
            return try e.float32Values()
        }
        var best: BestIterate?
        if let p = state.bestPSNR, let i = state.bestIteration, let e = file.tensors["best.image"], e.shape.count == 3 {
            best = BestIterate(psnr: p, iteration: i,
                               image: Image(channels: e.shape[0], height: e.shape[1], width: e.shape[2], pixels: try e.float32Values()))
        }
        var lbfgs: LBFGS.State?
        if let l = state.lbfgs {
            guard l.pairs.count == l.inverseCurvatures.count else {
                throw EngineError.weights("\(path): damaged L-BFGS state (\(l.pairs.count) pairs, \(l.inverseCurvatures.count) curvatures); delete it to start afresh")
            }
            let history = try zip(l.pairs, l.inverseCurvatures).map { serial, rho in
                let (y, s) = try FitCheckpointWriter.readPair(serial, checkpoint: path)
                return LBFGS.Pair(serial: serial, y: y, s: s, inverseCurvature: rho)
            }
            lbfgs = LBFGS.State(totalIterations: l.totalIterations, totalEvaluations: l.totalEvaluations,
                                pairsStored: l.pairsStored, history: history, hessianDiagonal: l.hessianDiagonal,
                                direction: try floats("lbfgs.direction"), stepLength: l.stepLength,
                                previousGradient: l.hasPreviousGradient ? try floats("lbfgs.previous") : nil,
                                iteration: l.iteration, evaluations: l.evaluations, initialLoss: l.initialLoss,
                                loss: l.loss, gradient: try floats("lbfgs.gradient"))
        }
        var checkpoint = FitCheckpoint(config: state.config, seed: state.seed, step: state.step, counter: state.counter,
                             tensors: try state.tensorKeys.enumerated().map { ($0.element, try floats("net.\($0.offset)")) },
                             adamFirst: try (0..<state.moments).map { try floats("adam.m.\($0)") },
                             adamSecond: try (0..<state.moments).map { try floats("adam.v.\($0)") },
                             adamSteps: state.adamSteps,
                             backtrackSaved: try (0..<state.backtrackSaved).map { try floats("backtrack.\($0)") },
                             backtrackPSNR: state.backtrackPSNR, curve: state.curve, losses: state.losses,
                             backtracks: state.backtracks, best: best, lastPSNR: state.lastPSNR, timings: state.timings,
                             lbfgs: lbfgs)
        for (key, text) in file.metadata where key.hasPrefix("attachment.") {
            checkpoint.attachments[String(key.dropFirst("attachment.".count))] = text
        }
        for (key, e) in file.tensors where key.hasPrefix("attached.") {
            guard e.shape.count == 3 else { throw EngineError.weights("\(path): attached picture '\(key)' is not C x H x W; delete it to start afresh") }
            checkpoint.attachedImages[String(key.dropFirst("attached.".count))] =
                Image(channels: e.shape[0], height: e.shape[1], width: e.shape[2], pixels: try e.float32Values())
        }
        return checkpoint
    }
}

/// Writes a fit's checkpoints to one path, one after another. An L-BFGS checkpoint holds up to
/// 100 curvature pairs, two parameter-sized vectors each (2.4 GB for the 3M-parameter text
/// net), so the pairs live beside the main file in `<path>.lbfgs/pair-<serial>.safetensors`,
/// each written once: a new checkpoint writes only the pairs made since the last one, then the
/// main file (atomically; it names its pairs), then deletes the pairs no longer named. A crash
/// at any point leaves the previous or the new checkpoint whole. Disk: the history plus the
/// pairs made between two checkpoints (at most twice the history).
public final class FitCheckpointWriter {
    /// The main file.
    public let path: String
    private var pairsOnDisk: Set<Int>

    /// A writer for `path`. `resumed` is the checkpoint read from `path` that the fit resumed
    /// from: its pairs are on disk already. Without one, any checkpoint at `path` is stale and
    /// is removed now, so no pair of an earlier fit is ever taken for one of this fit.
    public init(path: String, resumed: FitCheckpoint?) throws {
        self.path = path
        if let resumed {
            pairsOnDisk = Set(resumed.lbfgs?.history.map(\.serial) ?? [])
        } else {
            pairsOnDisk = []
            try Self.remove(at: path)
        }
    }

    /// The folder of an L-BFGS checkpoint's pairs.
    public static func historyDirectory(for path: String) -> String { path + ".lbfgs" }

    /// Removes the checkpoint at `path` with its pairs (nothing there is fine).
    public static func remove(at path: String) throws {
        let fm = FileManager.default
        for p in [path, historyDirectory(for: path)] where fm.fileExists(atPath: p) {
            do { try fm.removeItem(atPath: p) } catch {
                throw EngineError.weights("\(p): cannot remove the old checkpoint (\(error.localizedDescription))")
            }
        }
    }

    /// Writes `checkpoint`: new pairs, then the main file, then the pairs it no longer needs go.
    public func write(_ checkpoint: FitCheckpoint) throws {
        let main = try checkpoint.mainFile()
        let directory = Self.historyDirectory(for: path)
        let history = checkpoint.lbfgs?.history ?? []
        if !history.isEmpty {
            do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw EngineError.weights("\(directory): cannot create the checkpoint's pair folder (\(error.localizedDescription))")
            }
        }
        for pair in history where !pairsOnDisk.contains(pair.serial) {
            var file = SafetensorsFile(metadata: ["serial": String(pair.serial)])
            file.tensors["y"] = try .init(float32: pair.y)
            file.tensors["s"] = try .init(float32: pair.s)
            try file.write(to: Self.pairPath(pair.serial, directory: directory))
            pairsOnDisk.insert(pair.serial)
        }
        try main.write(to: path)
        let keep = Set(history.map(\.serial))
        for serial in pairsOnDisk.subtracting(keep) {
            try? FileManager.default.removeItem(atPath: Self.pairPath(serial, directory: directory))
        }
        pairsOnDisk = keep
        if history.isEmpty { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func pairPath(_ serial: Int, directory: String) -> String {
        (directory as NSString).appendingPathComponent("pair-\(serial).safetensors")
    }

    /// Reads pair `serial` of the checkpoint at `path`; a missing or foreign pair names the file.
    static func readPair(_ serial: Int, checkpoint path: String) throws -> (y: [Float], s: [Float]) {
        let file = pairPath(serial, directory: historyDirectory(for: path))
        let pair = try SafetensorsFile.read(from: file)
        guard pair.metadata["serial"] == String(serial), let y = pair.tensors["y"], let s = pair.tensors["s"] else {
            throw EngineError.weights("\(file): not pair \(serial) of this checkpoint; delete \(path) to start afresh")
        }
        return (try y.float32Values(), try s.float32Values())
    }
}
