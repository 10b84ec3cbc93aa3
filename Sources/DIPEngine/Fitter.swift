import DIPCore
import Foundation


/// One inpainting problem: the clean image (ground truth, used for PSNR when known) and the
/// mask (1 = known pixel, 0 = hole; one channel, or one per image channel).
///
/// The network only ever sees the known pixels: the loss is computed on m * out against
/// m * x0 (docs/semantics.md §6), so the hole pixels of `image` never influence the fit.
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

    /// SHA-256 of the image and the mask as the fit sees them (sizes and float pixels): what a
    /// checkpoint records of its problem, so that it is not resumed on another one
    /// (`FitCheckpoint.mismatch`).
    public var digest: String {
        var hash = SHA256()
        for picture in [image, mask] {
            hash.update(Array("\(picture.channels)x\(picture.height)x\(picture.width);".utf8))
            picture.pixels.withUnsafeBytes { hash.update($0) }
        }
        return SHA256.hexString(hash.finalize())
    }
}


/// Fits a skip network to one problem: the Deep Image Prior loop of docs/semantics.md §6.
///
/// Randomness: weights from the `.weights` stream, z from `.inputCode`, the perturbation of
/// step i (the i-th evaluation, also after a backtracking restore) from `.perturbation`
/// substream i, all from the one seed; so the same seed, backend and thread count give the same
/// curve to the bit.
public final class Fitter {
    /// The problem.
    public let problem: FitProblem
    /// The configuration.
    public let config: FitConfig
    /// The seed.
    public let seed: UInt64
    /// The network being fitted, on the host: keys, shapes, and its values after `run` returns
    /// (or after `loadWeights`).
    public var network: SkipNetwork { trainer.network }
    /// Whether the network's own layers run the fit (a host trainer), not a device's kernels.
    var runsHostNetwork: Bool { trainer is HostTrainer }
    /// The size the network runs at (the image size, or larger when it had to be padded).
    public let workingHeight: Int
    /// See `workingHeight`.
    public let workingWidth: Int

    /// Where the arithmetic happens (the backend's device).
    private let trainer: any NetworkTrainer
    /// `problem.digest`, which every checkpoint records.
    private let problemDigest: String

    /// Prepares a fit: validates, builds and initialises the network, draws z.
    public init(problem: FitProblem, config: FitConfig, seed: UInt64, backend: any ComputeBackend) throws {
        try config.validate()
        guard config.network.outputChannels == problem.image.channels else {
            throw EngineError.invalidConfig("the network outputs \(config.network.outputChannels) channels but the image has \(problem.image.channels)")
        }
        if backend.trainsInHostMemory {
            try FitMemory.requireRoom(network: config.network, height: problem.image.height, width: problem.image.width,
                                      optimizer: config.optimizer)
        }
        self.problem = problem
        self.config = config
        self.seed = seed
        problemDigest = problem.digest
        let (h, w) = Fitter.workingSize(for: config.network, height: problem.image.height, width: problem.image.width)
        workingHeight = h
        workingWidth = w
        let network = try SkipNetwork(config: config.network, backend: backend, gammaInit: config.gammaInit,
                                      convAlgorithm: config.convAlgorithm, seed: seed)
        let c = problem.image.channels
        let target = Tensor([c, h, w])
        let maskTensor = Tensor([c, h, w])
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
        let training = TrainingProblem(code: config.inputCode.make(height: h, width: w, seed: seed), target: target,
                                       mask: maskTensor, lossScale: Double(h * w) / Double(img.height * img.width),
                                       perturbation: config.perturbation, seed: seed)
        trainer = try backend.makeTrainer(network: network, problem: training)
    }

    /// Which convolution algorithms run, in one line (what `auto` chose).
    public var algorithmSummary: String { trainer.algorithmSummary }

    /// Loads a weights file (WeightsFile) into the network before `run`.
    public func loadWeights(_ path: String) throws {
        try WeightsFile.load(path, into: network)
        try trainer.pushState()
    }

    /// The size the network must run at for an image of `height` x `width`, each side on its own
    /// (rows and columns never interact): the image's side when every level has a skip branch
    /// (its concat crops to fit), else the next multiple of 2^depth; and where the network cannot
    /// run at that side (a side too small for its levels' padding), the smallest one above it that
    /// it can. The image is placed in the middle of a canvas the loss ignores.
    public static func workingSize(for net: SkipConfig, height: Int, width: Int) -> (Int, Int) {
        (workingSide(for: net, side: height), workingSide(for: net, side: width))
    }

    private static func workingSide(for net: SkipConfig, side: Int) -> Int {
        let d = net.sizeDivisor
        let crops = net.skip.allSatisfy({ $0 > 0 }) && net.downsampling == .stride
        let first = crops ? side : (side + d - 1) / d * d
        if NetworkSummary.fits(net, side: first) { return first }
        // Every multiple of 2^depth from the smallest that fits fits too, so this ends there
        // at the latest.
        let step = crops ? 1 : d
        var next = first + step
        while !NetworkSummary.fits(net, side: next) { next += step }
        return next
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

    /// Runs the fit. `progress` hears of every iteration; `shouldCancel` is polled before each;
    /// `onSample` receives every sampled point with its picture (e.g. to keep the picture at the
    /// bottom of a PSNR drop).
    ///
    /// Checkpoints: with a `checkpoints` schedule, `onCheckpoint` receives the whole state between
    /// two iterations whenever the schedule is due, and once more when the fit is cancelled;
    /// `resumingFrom` continues from such a state, giving bit for bit the result of an
    /// uninterrupted fit. An L-BFGS fit is checkpointed between its L-BFGS iterations (its state
    /// includes the curvature history); cancelled during its 100-step Adam warm-up it starts
    /// afresh.
    public func run(resumingFrom checkpoint: FitCheckpoint? = nil,
                    checkpoints: CheckpointSchedule? = nil,
                    onCheckpoint: (FitCheckpoint) throws -> Void = { _ in },
                    onSample: (CurvePoint, Image) -> Void = { _, _ in },
                    progress: (FitProgress) -> Void = { _ in },
                    shouldCancel: () -> Bool = { false }) throws -> FitResult {
        var loop = LoopState(planned: Fitter.plannedEvaluations(config), reserve: config.iterations)
        if let checkpoint {
            if let why = checkpoint.mismatch(config: config, seed: seed, problemDigest: problemDigest) {
                throw EngineError.invalidConfig("the checkpoint \(why); delete it to start afresh")
            }
            loop.resume(from: checkpoint)
        }
        switch config.optimizer {
        case let .adam(lr):
            try runAdam(learningRate: lr, loop: &loop, resumingFrom: checkpoint, schedule: checkpoints,
                        onCheckpoint: onCheckpoint, onSample: onSample, progress: progress, shouldCancel: shouldCancel)
        case let .lbfgs(lr):
            try runLBFGS(learningRate: lr, loop: &loop, resumingFrom: checkpoint, schedule: checkpoints,
                         onCheckpoint: onCheckpoint, onSample: onSample, progress: progress, shouldCancel: shouldCancel)
        }
        return try finish(&loop)
    }

    /// What a fit has produced so far: with the network and the optimiser's state, all a
    /// checkpoint holds.
    private struct LoopState {
        /// Network evaluations the whole fit makes (the progress total).
        let planned: Int
        /// When this call of `run` started.
        let start = ContinuousClock.now
        /// When the last checkpoint was handed over (or the loop started).
        var lastCheckpoint = ContinuousClock.now
        var curve: [CurvePoint] = []
        var losses: [Double] = []
        var best: BestIterate?
        var backtracks: [Int] = []
        var status = FitStatus.done
        var timings = FitTimings()
        /// The last sampled PSNR and the evaluation it belongs to.
        var lastPSNR: Double?
        var lastPSNRIteration: Int?
        /// Seconds spent before a resume.
        var priorSeconds = 0.0

        init(planned: Int, reserve: Int) {
            self.planned = planned
            losses.reserveCapacity(reserve)
        }

        /// Takes over what a checkpoint had produced.
        mutating func resume(from checkpoint: FitCheckpoint) {
            curve = checkpoint.curve
            losses = checkpoint.losses
            best = checkpoint.best
            backtracks = checkpoint.backtracks
            timings = checkpoint.timings
            lastPSNR = checkpoint.lastPSNR
            lastPSNRIteration = checkpoint.curve.last(where: { $0.psnr != nil })?.iteration
            priorSeconds = checkpoint.timings.total
        }

        /// Seconds since this call of `run` started.
        var elapsed: Double { (ContinuousClock.now - start).seconds }

        /// The progress report after `done` of `total` steps.
        func progress(done: Int, of total: Int, loss: Double) -> FitProgress {
            FitProgress(iteration: done, iterations: total, loss: loss, psnr: lastPSNR,
                        psnrIteration: lastPSNRIteration, elapsed: elapsed, timings: timings)
        }

        /// Whether the schedule wants a checkpoint after `done` steps.
        func checkpointDue(_ schedule: CheckpointSchedule?, done: Int) -> Bool {
            schedule?.isDue(iterations: done, secondsSinceLast: (ContinuousClock.now - lastCheckpoint).seconds) ?? false
        }
    }

    /// A checkpoint of the loop as it stands, with the optimiser's state.
    /// `adam` is false and `backtracker` nil for an L-BFGS fit (its state is `lbfgs`).
    private func snapshot(_ loop: LoopState, step: Int, counter: Int, adam: Bool, backtracker: Backtracker?,
                          lbfgs: LBFGS.State? = nil) throws -> FitCheckpoint {
        var t = loop.timings
        t.total = loop.priorSeconds + loop.elapsed
        try trainer.pullState()
        let moments = adam ? try trainer.adamState() : AdamState(first: [], second: [], steps: 0)
        return FitCheckpoint(config: config, seed: seed, problemDigest: problemDigest, step: step, counter: counter,
                             tensors: network.tensors.map { ($0.key, $0.value.array) },
                             adamFirst: moments.first, adamSecond: moments.second, adamSteps: moments.steps,
                             backtrackSaved: backtracker == nil ? [] : try trainer.savedParameters(),
                             backtrackPSNR: backtracker?.lastPSNR, curve: loop.curve, losses: loop.losses,
                             backtracks: loop.backtracks, best: loop.best, lastPSNR: loop.lastPSNR, timings: t, lbfgs: lbfgs)
    }

    /// One evaluation: perturb, forward, loss, measure, backward. Returns the loss; sets
    /// `backtrack` when backtracking (checked at this evaluation) wants the parameters restored.
    /// `iteration` is the notebook's counter (sampling, backtracking checks, the curve); `noise`
    /// the perturbation's substream, one per evaluation (the step), so that each draws a fresh
    /// ε as upstream's closure does, the one repeated after a restore too.
    private func evaluate(_ iteration: Int, noise: Int, loop: inout LoopState, backtracker: inout Backtracker,
                          backtrack: inout Bool, onSample: (CurvePoint, Image) -> Void) throws -> Double {
        let sample = Fitter.samplesPSNR(at: iteration, of: loop.planned, every: config.psnrEvery)
        let checkBacktrack = Fitter.checksBacktracking(at: iteration, interval: config.backtracking?.interval)
        let evaluation = try trainer.evaluate(iteration: noise, keepOutput: sample || checkBacktrack)
        let loss = evaluation.loss
        loop.timings.forward += evaluation.forwardSeconds
        loop.timings.backward += evaluation.backwardSeconds
        if evaluation.batchedSeconds > 0 { loop.timings.batched = (loop.timings.batched ?? 0) + evaluation.batchedSeconds }
        loop.losses.append(loss)
        guard loss.isFinite else { throw Divergence(iteration: iteration) }
        if let out = evaluation.output {
            let (point, img) = try measure(out, iteration: iteration, loss: loss)
            if sample {
                loop.curve.append(point)
                onSample(point, img)
                if let p = point.psnr {
                    loop.lastPSNR = p
                    loop.lastPSNRIteration = iteration
                    if loop.best.map({ p > $0.psnr }) ?? true { loop.best = BestIterate(psnr: p, iteration: iteration, image: img) }
                }
            }
            backtrack = try checkBacktrack && backtracker.shouldRestore(point.psnrKnown, save: trainer.saveParameters)
        }
        return loss
    }

    /// The Adam loop of the restoration notebook, with its backtracking. `counter` is the
    /// notebook's i: it does not advance on a fallback (docs/semantics.md §6).
    private func runAdam(learningRate lr: Double, loop: inout LoopState, resumingFrom checkpoint: FitCheckpoint?,
                         schedule: CheckpointSchedule?, onCheckpoint: (FitCheckpoint) throws -> Void,
                         onSample: (CurvePoint, Image) -> Void, progress: (FitProgress) -> Void,
                         shouldCancel: () -> Bool) throws {
        try trainer.startAdam(learningRate: lr)
        var backtracker = Backtracker(config.backtracking)
        var counter = 0
        var firstStep = 0
        if let checkpoint {
            guard checkpoint.lbfgs == nil else {
                throw EngineError.invalidConfig("the checkpoint is of an L-BFGS fit, this is an Adam fit; delete it to start afresh")
            }
            try checkpoint.restoreTensors(into: network)
            try trainer.pushState()
            try trainer.restoreAdam(AdamState(first: checkpoint.adamFirst, second: checkpoint.adamSecond,
                                              steps: checkpoint.adamSteps))
            try trainer.setSavedParameters(checkpoint.backtrackSaved)
            backtracker.lastPSNR = checkpoint.backtrackPSNR
            counter = checkpoint.counter
            firstStep = checkpoint.step
        }
        var step = firstStep
        while step < config.iterations {
            if shouldCancel() {
                loop.status = .cancelled(iteration: step)
                if schedule != nil {
                    try onCheckpoint(snapshot(loop, step: step, counter: counter, adam: true, backtracker: backtracker))
                }
                return
            }
            let plain = plainIterations(step: step, counter: counter, loop: loop, schedule: schedule)
            let loss: Double
            if plain > 1 {
                // A batch on the trainer's device: no output, no backtracking check, no
                // checkpoint inside it, so no fallback either and the counter advances with
                // every step.
                let run = try trainer.train(from: step, count: plain)
                loop.timings.forward += run.forwardSeconds
                loop.timings.backward += run.backwardSeconds
                loop.timings.optimizer += run.optimizerSeconds
                if run.batchedSeconds > 0 { loop.timings.batched = (loop.timings.batched ?? 0) + run.batchedSeconds }
                if let bad = run.losses.firstIndex(where: { !$0.isFinite }) {
                    loop.losses.append(contentsOf: run.losses[...bad])
                    loop.timings.iterations += bad
                    loop.status = .diverged(iteration: counter + bad)
                    return
                }
                guard run.losses.count == plain else {
                    throw EngineError.backend("\(network.backend.name): a batch of \(plain) iterations returned \(run.losses.count) losses")
                }
                loop.losses.append(contentsOf: run.losses)
                loss = run.losses[plain - 1]
                counter += plain
                step += plain
                loop.timings.iterations += plain
            } else {
                var restore = false
                do {
                    loss = try evaluate(counter, noise: step, loop: &loop, backtracker: &backtracker, backtrack: &restore,
                                        onSample: onSample)
                } catch let d as Divergence {
                    loop.status = .diverged(iteration: d.iteration)
                    return
                }
                if restore {
                    try trainer.restoreParameters()
                    loop.backtracks.append(counter)
                } else {
                    counter += 1
                }
                let t = ContinuousClock.now
                try trainer.adamStep()
                loop.timings.optimizer += (ContinuousClock.now - t).seconds
                loop.timings.iterations += 1
                step += 1
            }
            progress(loop.progress(done: step, of: config.iterations, loss: loss))
            if step < config.iterations, loop.checkpointDue(schedule, done: step) {
                try onCheckpoint(snapshot(loop, step: step, counter: counter, adam: true, backtracker: backtracker))
                loop.lastCheckpoint = .now
            }
        }
    }

    /// How many iterations from `step` (notebook counter `counter`) can run as one batch: none
    /// samples PSNR or checks backtracking (those need the output on the host), none but the
    /// last is followed by a checkpoint the schedule counts in iterations, and no more than the
    /// trainer wants at once. 0 or 1: run the next iteration on its own.
    private func plainIterations(step: Int, counter: Int, loop: LoopState, schedule: CheckpointSchedule?) -> Int {
        let limit = min(trainer.preferredBatch, config.iterations - step)
        guard limit > 1 else { return 0 }
        var n = 0
        while n < limit {
            let i = counter + n
            if Fitter.samplesPSNR(at: i, of: loop.planned, every: config.psnrEvery)
                || Fitter.checksBacktracking(at: i, interval: config.backtracking?.interval) {
                break
            }
            n += 1
            if let every = schedule?.iterations, every > 0, (step + n) % every == 0 { break }
        }
        return n
    }

    /// Upstream's optimize() for L-BFGS: first 100 Adam steps at lr 0.001, then one L-BFGS step
    /// of max_iter = iterations; the notebook's counter runs on through both. Checkpoints are
    /// taken between L-BFGS iterations only: the warm-up is a few minutes at most.
    private func runLBFGS(learningRate lr: Double, loop: inout LoopState, resumingFrom checkpoint: FitCheckpoint?,
                          schedule: CheckpointSchedule?, onCheckpoint: (FitCheckpoint) throws -> Void,
                          onSample: (CurvePoint, Image) -> Void, progress: (FitProgress) -> Void,
                          shouldCancel: () -> Bool) throws {
        guard let params = trainer.hostParameters else {
            throw EngineError.invalidConfig("L-BFGS runs on host memory only and the \(network.backend.name) backend keeps the parameters on its device; fit with Adam, or use the CPU backend")
        }
        // Upstream's L-BFGS path never restores: backtracking's verdict was always ignored here.
        var backtracker = Backtracker(nil)
        var evaluations = 0
        var resumed: LBFGS.State?
        if let checkpoint {
            guard let state = checkpoint.lbfgs else {
                throw EngineError.invalidConfig("the checkpoint is of an Adam fit, this is an L-BFGS fit; delete it to start afresh")
            }
            try checkpoint.restoreTensors(into: network)
            try trainer.pushState()
            evaluations = checkpoint.step
            resumed = state
        }
        func evaluation(_ loop: inout LoopState) throws -> Double {
            var ignored = false
            let loss = try evaluate(evaluations, noise: evaluations, loop: &loop, backtracker: &backtracker, backtrack: &ignored,
                                    onSample: onSample)
            evaluations += 1
            loop.timings.iterations += 1
            progress(loop.progress(done: evaluations, of: loop.planned, loss: loss))
            return loss
        }
        do {
            if resumed == nil {
                try trainer.startAdam(learningRate: Fitter.lbfgsWarmupLearningRate)
                for _ in 0..<Fitter.lbfgsWarmupSteps {
                    if shouldCancel() { throw Cancellation(iteration: evaluations) }
                    _ = try evaluation(&loop)
                    try trainer.adamStep()
                }
            }
            let lbfgs = LBFGS.upstream(parameters: params.map(\.value), iterations: config.iterations, learningRate: lr)
            try lbfgs.step(resumingFrom: resumed, closure: {
                let loss = try evaluation(&loop)
                return (loss, LBFGS.flatten(params.map { $0.gradient! }))
            }, beforeIteration: { state in
                // Between iterations the state is whole: cancel or checkpoint here.
                if shouldCancel() {
                    if schedule != nil {
                        try onCheckpoint(snapshot(loop, step: evaluations, counter: evaluations, adam: false,
                                                        backtracker: nil, lbfgs: state))
                    }
                    throw Cancellation(iteration: evaluations)
                }
                let atResumePoint = resumed.map { $0.iteration == state.iteration } ?? false
                if !atResumePoint, loop.checkpointDue(schedule, done: evaluations) {
                    try onCheckpoint(snapshot(loop, step: evaluations, counter: evaluations, adam: false,
                                                    backtracker: nil, lbfgs: state))
                    loop.lastCheckpoint = .now
                }
            })
        } catch let d as Divergence {
            loop.status = .diverged(iteration: d.iteration)
        } catch let c as Cancellation {
            loop.status = .cancelled(iteration: c.iteration)
        }
    }

    /// The final render, in train-mode BN like every other pass, and the result.
    private func finish(_ loop: inout LoopState) throws -> FitResult {
        let t = ContinuousClock.now
        let out: Tensor
        switch config.finalRender {
        case .unperturbed: out = try trainer.render(perturbedBy: nil)
        case .lastPerturbed: out = try trainer.render(perturbedBy: max(0, loop.timings.iterations - 1))
        }
        let finalImage = image(from: out)
        let finite = finalImage.pixels.allSatisfy { $0.isFinite }
        // The last update can make the parameters NaN after the last finite loss: the final
        // render is then the first evaluation to show it, and the fit diverged there.
        if case .done = loop.status, !finite {
            loop.status = .diverged(iteration: loop.timings.iterations)
        }
        try trainer.pullState()
        loop.timings.forward += (ContinuousClock.now - t).seconds
        loop.timings.total = loop.priorSeconds + loop.elapsed
        var finalPSNR: Double?, finalHoles: Double?
        if problem.hasGroundTruth, finite {
            finalPSNR = try Metrics.psnr(finalImage, problem.image)
            finalHoles = try Metrics.psnr(finalImage, problem.image, mask: problem.mask, region: .holes)
        }
        return FitResult(config: config, seed: seed, curve: loop.curve, losses: loop.losses, finalImage: finalImage,
                         finalPSNR: finalPSNR, finalPSNRHoles: finalHoles, best: loop.best, backtracks: loop.backtracks,
                         status: loop.status, timings: loop.timings, workingSize: (workingHeight, workingWidth))
    }
}

private struct Divergence: Error { let iteration: Int }
private struct Cancellation: Error { let iteration: Int }
