import DIPCore
import DIPEngine
import Foundation
import Synchronization

extension Runner {

    /// Expected seconds for the pending runs on this machine, and the speed of the heaviest
    /// measured network in multiply-accumulates per second (forward and backward counted as 3x
    /// the forward, the figure `run` prints).
    ///
    /// Each run is costed by `RunTimeModel`, whose coefficients come from measurements made here
    /// and now (about `measurementBudget` seconds at most):
    /// - short fits time a network evaluation of some of the plan's network classes
    ///   (configuration and image size): the one with the largest share of the plan, the
    ///   cheapest, then the others by share while the budget allows. A side above 256 is
    ///   measured on a crop (128, or the network's smallest side). The first evaluation is left
    ///   out of the rate: it includes oneDNN's kernel creation, which, with the network set-up
    ///   and the final render, goes into the per-run set-up instead. The per-layer,
    ///   per-activation and per-MAC costs are fitted to these; a measured class also keeps its
    ///   own ratio to that fit;
    /// - PSNR sampling, the finishing work (scores, PNG encoding), each mask recipe and TV
    ///   iterations are timed directly on images of the plan's sizes.
    /// The runs are then dealt to `options.jobs` workers in order, as `execute` does. Runs that
    /// resume from a checkpoint are counted by the iterations they have left. On the CPU the
    /// timing runs alone, so concurrent jobs' competition for memory bandwidth is not in it (the
    /// 2-job quick build ran 5-9 % over). Where every job computes on one device (a GPU), the
    /// heaviest timed class is timed again as `jobs` fits at once, and every evaluation is
    /// scaled by how much slower each of them ran than it did alone.
    public func estimate(_ plan: RunPlan) throws -> (seconds: Double, macsPerSecond: Double) {
        let pending = plan.fitted
        guard !pending.isEmpty else { return (0, 0) }
        let backend = try options.backend.make(threads: options.threadsPerJob)
        var model = RunTimeModel()

        // Network classes and what each evaluation of theirs has to do; `classOfRun[i]` is the
        // class of `pending[i]` (nil for TV).
        var classes: [NetworkClass] = []
        var classOfRun: [Int?] = []
        for run in pending {
            guard case let .dip(config) = run.configuration.method else { classOfRun.append(nil); continue }
            let key = EstimateClass(network: config.network, height: run.size.height, width: run.size.width)
            if let i = classes.firstIndex(where: { $0.key == key }) {
                classes[i].evaluations += Double(run.iterationsLeft)
                classOfRun.append(i)
            } else {
                let (h, w) = Fitter.workingSize(for: config.network, height: run.size.height, width: run.size.width)
                classes.append(NetworkClass(
                    key: key, work: EvaluationWork(try NetworkSummary(config: config.network, height: h, width: w)),
                    measuredWork: EvaluationWork(try measuredSummary(key, channels: run.channels)),
                    evaluations: Double(run.iterationsLeft), config: config, channels: run.channels))
                classOfRun.append(classes.count - 1)
            }
        }

        var rate = 0.0
        // How much slower an evaluation runs when `jobs` fits share the device (1 on the CPU).
        var sharing = 1.0
        if !classes.isEmpty {
            let clock = ContinuousClock()
            let start = clock.now
            var timings: [(index: Int, timing: EvaluationTiming)] = []
            func measure(_ i: Int) throws {
                let c = classes[i]
                // A fit that diverges at once (not seen with these random images) times nothing.
                guard let t = try timeEvaluations(c.key, config: c.config, channels: c.channels, backend: backend) else { return }
                timings.append((i, t))
                let k = RunTimeModel.fitNonNegative(timings.map(\.timing.work.components), seconds: timings.map(\.timing.evaluation))
                (model.secondsPerLayer, model.secondsPerActivation, model.secondsPerMAC) = (k[0], k[1], k[2])
            }
            // First the class with the largest share of the plan (ranked with `priorCoefficients`),
            // then the cheapest, which pins the fixed cost per layer, then the rest by share while
            // the budget allows (after two, the fit so far says what each would cost to time). The
            // cheapest is always timed: the estimate needs one measurement.
            let byShare = classes.indices.sorted {
                Self.priorSeconds(classes[$0].work) * classes[$0].evaluations
                    > Self.priorSeconds(classes[$1].work) * classes[$1].evaluations
            }
            let cheapest = classes.indices.min { Self.priorSeconds(classes[$0].measuredWork) < Self.priorSeconds(classes[$1].measuredWork) } ?? 0
            for i in [byShare[0], cheapest] + byShare.dropFirst() where !timings.contains(where: { $0.index == i }) {
                let left = Self.measurementBudget - (clock.now - start).seconds
                if left <= 0 && !timings.isEmpty { break }
                if i == cheapest && timings.isEmpty { try measure(i); continue }
                // The prior is a 2-core CPU's: on a device it says nothing, and the plan's largest
                // class (timed at its own size there) is timed whatever it predicts.
                if !options.backend.computesOnHostCPU && timings.isEmpty { try measure(i); continue }
                // A timed fit costs its set-up and first evaluation (about 2 evaluations) and the timed ones.
                let work = classes[i].measuredWork
                let evaluation = timings.count < 2 ? Self.priorSeconds(work) : model.evaluationSeconds(work)
                if 2 * evaluation + max(Self.timedSeconds, evaluation) <= left { try measure(i) }
            }
            guard let heaviest = timings.max(by: { $0.timing.work.macs < $1.timing.work.macs })?.timing else {
                throw DIPError.invalidValue(name: "estimate", value: "", reason: "no network of the plan could be timed (every timed fit diverged); run with --no-estimate")
            }
            let s = RunTimeModel.fitNonNegative(timings.map { [1, $0.timing.work.activations] }, seconds: timings.map(\.timing.setup),
                                                preference: [[0], [1], [0, 1]])
            (model.setupSeconds, model.setupSecondsPerActivation) = (s[0], s[1])
            // A measured class keeps its own deviation from the model, scaled to its real size.
            for (i, t) in timings {
                let predicted = model.evaluationSeconds(t.work)
                if predicted > 0 { classes[i].scale = t.evaluation / predicted }
            }
            rate = 3 * heaviest.work.macs / heaviest.evaluation
            if options.backend.jobsShareDevice, options.jobs > 1,
               let h = timings.max(by: { $0.timing.work.macs < $1.timing.work.macs }) {
                sharing = try sharedDeviceSlowdown(classes[h.index], alone: h.timing.evaluation, backend: backend)
            }
        }

        // Per-value costs, timed on the most common image shape of the plan.
        let shapes = Dictionary(grouping: pending) { [$0.channels, $0.size.height, $0.size.width] }
        guard let shape = shapes.max(by: { $0.value.count < $1.value.count })?.key else { return (0, 0) }
        let (img, mask) = try Self.timingProblem(channels: shape[0], height: shape[1], width: shape[2])
        let values = Double(img.pixels.count)
        if !classes.isEmpty {
            model.secondsPerSampledValue = try Self.repeatedSeconds {
                // Fitter's measure: the cropped output, its masked copy and three PSNRs.
                let out = Image(channels: img.channels, height: img.height, width: img.width, pixels: img.pixels)
                _ = try Metrics.psnr(out.masked(by: mask), img.masked(by: mask))
                _ = try Metrics.psnr(out, img)
                _ = try? Metrics.psnr(out, img, mask: mask, region: .holes)
            } / values
        }
        model.finishingSecondsPerValue = try Self.repeatedSeconds {
            // Scores of the final and best pictures, the corrupted input's PSNR, five PNGs.
            for _ in 0..<2 { _ = try scores(img, img, mask) }
            let corrupted = img.masked(by: mask)
            _ = try Metrics.psnr(corrupted, img)
            for picture in [img, img, mask, corrupted, img] { _ = try PNGCodec.encode(picture) }
        } / values
        if pending.contains(where: { $0.macsPerForward == 0 }) {
            let (small, holes) = try Self.timingProblem(channels: 1, height: 64, width: 64)
            let iterations = 20
            model.tvSecondsPerValueIteration = try Self.repeatedSeconds {
                _ = try TVInpainting.inpaint(small, mask: holes, config: TVConfig(iterations: iterations))
            } / Double(64 * 64 * iterations)
        }
        // Masks are made per run (the text mask is drawn at the source's size): time one of each recipe.
        var maskSeconds: [MaskRecipe: Double] = [:]
        for run in pending where maskSeconds[run.spec.mask] == nil {
            let prepared = try preparedImage(run.image, spec: run.spec)
            maskSeconds[run.spec.mask] = try Self.repeatedSeconds(atLeast: 0.02, atMost: 3) {
                _ = try Preparation.mask(run.spec.mask, for: prepared, seed: run.key.seed,
                                         dataDirectory: options.dataDirectory, preprocessing: run.spec.preprocessing)
            }
        }

        let durations = zip(pending, classOfRun).map { run, classIndex -> Double in
            let values = run.channels * run.size.width * run.size.height
            let extra = maskSeconds[run.spec.mask] ?? 0
            switch (run.configuration.method, classIndex) {
            case let (.dip(config), i?):
                let c = classes[i]
                return model.dipSeconds(work: c.work, evaluations: run.iterationsLeft, values: values, psnrEvery: config.psnrEvery,
                                        backtrackingInterval: config.backtracking?.interval,
                                        evaluationScale: c.scale * sharing) + extra
            case let (.tv(tv), _):
                return model.tvSeconds(iterations: tv.iterations, values: values) + extra
            case (.dip, nil):
                preconditionFailure("every DIP run has a network class")
            }
        }
        return (RunTimeModel.makespan(durations, jobs: options.jobs), rate)
    }

    /// A stand-in problem of the given shape for timing: uniform noise (seeded, so every estimate
    /// times the same work) and a 50 % Bernoulli mask.
    private static func timingProblem(channels: Int, height: Int, width: Int) throws -> (image: Image, mask: Image) {
        var img = Image(channels: channels, height: height, width: width)
        img.pixels.withUnsafeMutableBufferPointer { RandomStream(seed: 0, purpose: .auxiliary).fillUniform($0, low: 0, high: 1) }
        return (img, try BernoulliMask.make(channels: 1, height: height, width: width, keepFraction: 0.5, seed: 0))
    }

    /// A network at an image size: what one evaluation costs depends on nothing else.
    private struct EstimateClass: Hashable {
        var network: SkipConfig
        var height: Int
        var width: Int
    }

    /// A network class of the plan: what one evaluation costs at the plan's size and at the size
    /// it is timed at, how many evaluations the plan needs, and how far its timing strayed from
    /// the fitted model (1 when it was not timed).
    private struct NetworkClass {
        var key: EstimateClass
        var work: EvaluationWork
        var measuredWork: EvaluationWork
        var evaluations: Double
        var config: FitConfig
        var channels: Int
        var scale = 1.0
    }

    /// One timed fit: the work of an evaluation at the measured size, the seconds it took, and
    /// the seconds besides the evaluations (set-up, first-use excess, final render).
    private struct EvaluationTiming {
        var key: EstimateClass
        var work: EvaluationWork
        var evaluation: Double
        var setup: Double
    }

    /// The size a class is measured at: on the host CPU its own up to 256 a side, else a square
    /// crop of 128 (raised to the network's smallest side), so the measurement stays short; on a
    /// device its own (an H200 runs a 512x512 iteration in 18 ms, and a 128x128 one is bound by
    /// launches, not arithmetic, so it says nothing of 512's cost: a crop made the estimate of
    /// the paper's Table 1 half the time the card took).
    private static func measuredSize(_ key: EstimateClass, onHostCPU: Bool) -> (height: Int, width: Int) {
        guard onHostCPU, max(key.height, key.width) > 256 else { return (key.height, key.width) }
        let side = max(128, Profile.minimumSide(key.network))
        return (min(side, key.height), min(side, key.width))
    }

    private func measuredSummary(_ key: EstimateClass, channels: Int) throws -> NetworkSummary {
        let (h, w) = Self.measuredSize(key, onHostCPU: options.backend.computesOnHostCPU)
        let (wh, ww) = Fitter.workingSize(for: key.network, height: h, width: w)
        return try NetworkSummary(config: key.network, height: wh, width: ww)
    }

    /// Times evaluations of a class's network at its measured size: one warm-up evaluation, then
    /// evaluations until `timedSeconds` have passed (at least 1, at most 30). Their mean, not
    /// their median, is the evaluation's time: the runs will be slowed by whatever else the
    /// machine does as much as these are. Nil when not one evaluation after the warm-up ran.
    /// `ready` is called once the fit is set up and has run its warm-up evaluation, before the
    /// timed ones (the concurrent timing lines its fits up there: a device fit's set-up includes
    /// recording its iteration, and several fits set up one at a time).
    private func timeEvaluations(_ key: EstimateClass, config original: FitConfig, channels: Int,
                                 backend: any ComputeBackend, ready: () -> Void = {}) throws -> EvaluationTiming? {
        let (h, w) = Self.measuredSize(key, onHostCPU: options.backend.computesOnHostCPU)
        let maximum = 30
        var config = original
        config.iterations = 1 + maximum + 1
        // Only the warm-up and the last are sampled: sampling is timed on its own.
        config.psnrEvery = config.iterations
        config.backtracking = nil
        // An evaluation costs the same under either optimiser; Adam skips L-BFGS's 100-step warm-up.
        config.optimizer = .adam(learningRate: config.optimizer.learningRate)
        let (img, mask) = try Self.timingProblem(channels: channels, height: h, width: w)
        let clock = ContinuousClock()
        let start = clock.now
        let fitter = try Fitter(problem: try FitProblem(image: img, mask: mask), config: config, seed: 0, backend: backend)
        // Progress comes after each iteration, or after each batch on a device that runs
        // iterations in batches: count iterations, not reports. The first comes after the warm-up.
        var marks: [(done: Int, at: ContinuousClock.Instant)] = []
        _ = try fitter.run(progress: {
            if marks.isEmpty { ready() }
            marks.append(($0.iteration, clock.now))
        }, shouldCancel: {
            guard let first = marks.first, let last = marks.last, marks.count > 1 else { return false }
            return last.done - first.done >= maximum || (last.at - first.at).seconds >= Self.timedSeconds
        })
        let end = clock.now
        guard let first = marks.first, let last = marks.last, last.done > first.done else { return nil }
        let evaluation = (last.at - first.at).seconds / Double(last.done - first.done)
        let summary = try NetworkSummary(config: config.network, height: fitter.workingHeight, width: fitter.workingWidth)
        return EvaluationTiming(key: key, work: EvaluationWork(summary), evaluation: evaluation,
                                setup: max(0, (end - start).seconds - Double(last.done) * evaluation))
    }

    /// How much slower one evaluation of class `c` runs as one of `options.jobs` fits at once on
    /// the shared device than alone (`alone` seconds): each fit on its own thread and backend, as
    /// `execute` runs jobs, lined up after their set-up and warm-up so their timed evaluations
    /// overlap. At least 1. The first job's backend is `backend`, the estimate's own.
    private func sharedDeviceSlowdown(_ c: NetworkClass, alone: Double, backend: any ComputeBackend) throws -> Double {
        let jobs = options.jobs
        let results = Mutex<[Result<EvaluationTiming?, any Error>]>([])
        let lineUp = Barrier(jobs)
        let group = DispatchGroup()
        let factory = options.backend, threads = options.threadsPerJob
        let backends = try [backend] + (1..<jobs).map { _ in try factory.make(threads: threads) }
        for job in 0..<jobs {
            group.enter()
            let own = UncheckedBox(backends[job])
            let thread = Thread { [self] in
                defer { group.leave() }
                InterruptSignals.blockInThisThread()  // it computes (see Runner.execute)
                var arrived = false
                let r = Result { try timeEvaluations(c.key, config: c.config, channels: c.channels, backend: own.value,
                                                     ready: { arrived = true; lineUp.arrive() }) }
                if !arrived { lineUp.arrive() }  // failed or ended before its warm-up: never leave the others waiting
                results.withLock { $0.append(r) }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        group.wait()
        let evaluations = try results.withLock { $0 }.compactMap { try $0.get()?.evaluation }
        guard !evaluations.isEmpty, alone > 0 else { return 1 }
        return max(1, evaluations.reduce(0, +) / Double(evaluations.count) / alone)
    }


    /// Mean seconds of `body`, run until `atLeast` seconds have passed (at least twice, at most
    /// 50 times, or once when a single call takes `atMost`).
    private static func repeatedSeconds(atLeast: Double = 0.02, atMost: Double = 1, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var n = 0
        repeat {
            try body()
            n += 1
        } while n < 50 && (n < 2 || (clock.now - start).seconds < atLeast) && (clock.now - start).seconds < atMost
        return (clock.now - start).seconds / Double(n)
    }

    /// Seconds the timed fits may take together (the last one started may run past it): on
    /// 2 cores the quick profile's two depth-8 networks at 512x512 and the cheapest one fit.
    static let measurementBudget = 5.0

    /// Seconds of evaluations a timed fit runs after its warm-up (at least one evaluation).
    static let timedSeconds = 0.3

    /// Seconds per layer, activation and MAC of an evaluation on a 2-core x86 machine (measured
    /// on the quick profile's networks). Only used to choose the first two classes to time and
    /// to budget the second, never in an estimate.
    static let priorCoefficients = [5e-5, 2e-9, 1.5e-11]

    /// An evaluation's seconds under `priorCoefficients`.
    static func priorSeconds(_ w: EvaluationWork) -> Double {
        zip(priorCoefficients, w.components).reduce(0) { $0 + $1.0 * $1.1 }
    }
}

/// Lets threads wait until `count` of them have arrived (a fit that failed before arriving
/// arrives anyway, so nobody waits for ever; extra arrivals are ignored).
private final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: Int

    init(_ count: Int) { waiting = count }

    func arrive() {
        condition.lock()
        defer { condition.unlock() }
        guard waiting > 0 else { return }
        waiting -= 1
        if waiting == 0 { condition.broadcast() }
        while waiting > 0 { condition.wait() }
    }
}

/// A backend handed to the thread that alone uses it.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
