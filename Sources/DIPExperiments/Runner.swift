import DIPCore
import DIPEngine
import Foundation

/// What `dip-report run` was asked to do.
public struct RunnerOptions: Sendable {
    /// The data folder (DataDirectory.resolve).
    public var dataDirectory: String
    /// The profile.
    public var profile: Profile
    /// Seeds; one run per (experiment, image, configuration, seed).
    public var seeds: [UInt64]
    /// Runs at once.
    public var jobs: Int
    /// Threads per run.
    public var threadsPerJob: Int
    /// Run again what is stored (the record is replaced).
    public var force: Bool
    /// When long runs write a checkpoint.
    public var checkpoints: CheckpointSchedule

    /// Creates options; `jobs`/`threads` default from the cores and memory (see `defaultParallelism`).
    public init(dataDirectory: String, profile: Profile, seeds: [UInt64]? = nil, jobs: Int? = nil,
                threadsPerJob: Int? = nil, force: Bool = false,
                checkpoints: CheckpointSchedule = CheckpointSchedule(seconds: 300)) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let d = RunnerOptions.defaultParallelism(cores: cores, memoryBytes: ProcessInfo.processInfo.physicalMemory)
        self.dataDirectory = dataDirectory
        self.profile = profile
        self.seeds = seeds ?? profile.defaultSeeds
        self.jobs = max(1, jobs ?? (threadsPerJob.map { max(1, cores / $0) } ?? d.jobs))
        self.threadsPerJob = max(1, threadsPerJob ?? (jobs.map { max(1, cores / $0) } ?? d.threads))
        self.force = force
        self.checkpoints = checkpoints
    }

    /// Memory one run may need at the paper's sizes: the heaviest catalog runs (depth 8 with
    /// skips and the text net at 512x512) peak at 3.7-3.8 GB, plus headroom.
    public static let memoryPerJob: UInt64 = 6 << 30

    /// As many jobs as cores, one thread each, while `memoryPerJob` fits in memory for each;
    /// the cores left over are shared out as threads. Independent fits use the cores better
    /// than threads inside one fit: on 2 cores the quick profile (1/20 of the iterations)
    /// took 11m59s as 2 jobs x 1 thread against 20m17s as 1 job x 2 threads, and the paper's table1 net at 512x512 did
    /// 18 % more iterations per second (BENCHMARKS.md).
    public static func defaultParallelism(cores: Int, memoryBytes: UInt64) -> (jobs: Int, threads: Int) {
        let cores = max(1, cores)
        let jobs = max(1, min(cores, Int(min(memoryBytes / memoryPerJob, UInt64(Int.max)))))
        return (jobs, max(1, cores / jobs))
    }
}

/// One run the runner will do (or found stored).
public struct PlannedRun: Sendable {
    /// Its key.
    public var key: RunKey
    /// The experiment's report section.
    public var group: String
    /// The configuration's label.
    public var label: String
    /// The configuration as the profile runs it.
    public var spec: RunSpec
    /// The image.
    public var image: ImageRef
    /// The hashed configuration.
    public var configuration: RunConfiguration
    /// Prepared size and channels.
    public var size: ImageSize
    /// Channels of the prepared image.
    public var channels: Int
    /// Iterations it will run (network evaluations, or TV iterations).
    public var iterations: Int
    /// Multiply-accumulates of one forward pass (0 for TV), for the estimate.
    public var macsPerForward: Int
    /// What the store holds for it.
    public var state: State

    /// What the store holds for a planned run.
    public enum State: Sendable, Equatable {
        /// Nothing: it will run.
        case missing
        /// A checkpoint: it will resume.
        case checkpointed
        /// A finished record: skipped unless --force.
        case stored
        /// A record file that cannot be read: reported and skipped, never overwritten.
        case blocked(String)
    }

    /// Whether it runs this time.
    public var willRun: Bool { state == .missing || state == .checkpointed }
}

/// Every run of a `dip-report run` invocation, and what the results folder holds.
public struct RunPlan: Sendable {
    /// The runs, in catalog order, seeds innermost.
    public var runs: [PlannedRun]
    /// Files in the results folder that are not readable records (left untouched).
    public var problems: [ResultStore.Problem]
    /// The profile.
    public var profile: Profile

    /// Runs that will run.
    public var pending: [PlannedRun] { runs.filter(\.willRun) }
}

/// What happens while the runner works; the CLI turns these into bars and lines.
public enum RunnerEvent: Sendable {
    /// A run started on job `job` (resuming at iteration `resumedAt` when it had a checkpoint).
    case started(PlannedRun, job: Int, resumedAt: Int?)
    /// A run progressed.
    case progress(key: RunKey, done: Int, total: Int, psnr: Double?)
    /// A long run wrote its checkpoint.
    case checkpointed(key: RunKey, iteration: Int)
    /// A run finished and was stored.
    case finished(PlannedRun, RunRecord)
    /// A run was interrupted: its state is checkpointed, or discarded (TV, an L-BFGS warm-up).
    case interrupted(PlannedRun, checkpointedAt: Int?)
    /// A run failed; the message says why and what to do.
    case failed(PlannedRun, String)
    /// Something the user should know (a damaged checkpoint, ...).
    case note(String)
}

/// How an execution ended.
public struct RunSummary: Sendable {
    /// Runs stored with status done.
    public var done = 0
    /// Runs stored with status diverged.
    public var diverged = 0
    /// Runs that failed.
    public var failed = 0
    /// Runs interrupted (checkpointed or discarded).
    public var interrupted = 0
    /// Runs skipped because they were stored (or blocked).
    public var skipped = 0
    /// Whether the execution stopped early (Ctrl-C or a write failure).
    public var stoppedEarly = false
    /// Why, when it did.
    public var stopReason: String?

    /// Creates an empty summary.
    public init() {}
}

/// Plans and executes runs against a result store.
public final class Runner: @unchecked Sendable {
    /// The results folder.
    public let store: ResultStore
    /// The options.
    public let options: RunnerOptions
    private let lock = NSLock()
    private var prepared: [String: Preparation.PreparedImage] = [:]
    private let machineThreads: Int
    private let software: SoftwareInfo

    /// A runner for `store` with `options`.
    public init(store: ResultStore, options: RunnerOptions) {
        self.store = store
        self.options = options
        machineThreads = options.threadsPerJob
        software = SoftwareInfo.current()
    }

    // MARK: planning

    /// Checks that every input exists (one error lists all missing files), prepares each image
    /// once, resolves every configuration and looks up what the store holds.
    public func plan(_ experiments: [Experiment]) throws -> RunPlan {
        guard !options.seeds.isEmpty else {
            throw DIPError.invalidValue(name: "--seeds", value: "", reason: "give at least one seed, e.g. --seeds 0,1,2")
        }
        var missing: [String] = []
        for e in experiments {
            for s in e.runs {
                var files = s.images.map(\.file)
                if case let .file(m) = s.mask { files.append(m) }
                for f in files {
                    let path = (options.dataDirectory as NSString).appendingPathComponent(f)
                    if !FileManager.default.fileExists(atPath: path), !missing.contains(path) { missing.append(path) }
                }
            }
        }
        if !missing.isEmpty {
            throw DIPError.io(path: options.dataDirectory,
                              reason: "\(missing.count) test image\(missing.count == 1 ? " is" : "s are") missing: \(missing.joined(separator: ", ")). Get them with `dip-report data fetch --data \(options.dataDirectory)`, or point --data (or DIP_DATA) at the folder that holds them")
        }
        let scan = store.scan()
        var problems = scan.problems
        var runs: [PlannedRun] = []
        for e in experiments {
            for raw in e.runs {
                let spec = options.profile.apply(raw)
                for ref in spec.images {
                    let img = try preparedImage(ref, spec: spec)
                    var method = spec.method
                    var macs = 0
                    var iterations = 0
                    switch method {
                    case var .dip(config):
                        config.network.outputChannels = img.image.channels
                        try config.validate()
                        method = .dip(config)
                        let (h, w) = Fitter.workingSize(for: config.network, height: img.image.height, width: img.image.width)
                        do {
                            macs = try NetworkSummary(config: config.network, height: h, width: w).macs
                        } catch {
                            throw DIPError.invalidValue(name: "experiment \(e.id)", value: "\(spec.label) on \(ref.name)",
                                                        reason: "the network does not fit a \(img.image.width)x\(img.image.height) image: \(error)")
                        }
                        iterations = Fitter.plannedEvaluations(config)
                    case let .tv(tv):
                        iterations = tv.iterations
                    }
                    let conf = RunConfiguration(imageFile: ref.file, preprocessing: spec.preprocessing, mask: spec.mask, method: method)
                    let hash = try conf.hash()
                    for seed in options.seeds {
                        let key = RunKey(experiment: e.id, image: ref.name, configHash: hash, seed: seed)
                        var state = PlannedRun.State.missing
                        if let bad = problems.first(where: { $0.path == store.recordPath(for: key) }) {
                            state = .blocked(bad.reason)
                        } else if store.hasRecordFile(key) {
                            state = options.force ? .missing : .stored
                        } else if FileManager.default.fileExists(atPath: store.checkpointPath(for: key)) {
                            state = options.force ? .missing : .checkpointed
                        }
                        if runs.contains(where: { $0.key == key }) { continue }
                        runs.append(PlannedRun(key: key, group: e.group, label: spec.label, spec: spec, image: ref,
                                               configuration: conf, size: ImageSize(width: img.image.width, height: img.image.height),
                                               channels: img.image.channels, iterations: iterations, macsPerForward: macs,
                                               state: state))
                    }
                }
            }
        }
        problems.sort { $0.path < $1.path }
        return RunPlan(runs: runs, problems: problems, profile: options.profile)
    }

    /// The prepared image of a spec (cached: many runs share an image).
    private func preparedImage(_ ref: ImageRef, spec: RunSpec) throws -> Preparation.PreparedImage {
        let cacheKey = (try? ConfigHash.of([ref.file])) ?? ref.file
        let id = cacheKey + ((try? ConfigHash.of(spec.preprocessing)) ?? "") + ((try? ConfigHash.of(spec.mask)) ?? "")
        lock.lock()
        if let p = prepared[id] { lock.unlock(); return p }
        lock.unlock()
        let focus = try Preparation.focus(of: spec.mask, source: ref, dataDirectory: options.dataDirectory,
                                          preprocessing: spec.preprocessing)
        let p = try Preparation.image(ref, dataDirectory: options.dataDirectory, preprocessing: spec.preprocessing, focus: focus)
        lock.lock()
        prepared[id] = p
        lock.unlock()
        return p
    }

    // MARK: estimate

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
    /// resume from a checkpoint are counted in full. The timing runs alone, so concurrent jobs'
    /// competition for memory bandwidth is not in it (the 2-job quick build ran 5-9 % over).
    public func estimate(_ plan: RunPlan) throws -> (seconds: Double, macsPerSecond: Double) {
        let pending = plan.pending
        guard !pending.isEmpty else { return (0, 0) }
        let backend = try CPUBackend(threads: options.threadsPerJob)
        var model = RunTimeModel()

        // Network classes and what each evaluation of theirs has to do.
        var classes: [EstimateClass: (work: EvaluationWork, evaluations: Double, config: FitConfig, channels: Int)] = [:]
        var order: [EstimateClass] = []
        for run in pending {
            guard case let .dip(config) = run.configuration.method else { continue }
            let key = EstimateClass(network: config.network, height: run.size.height, width: run.size.width)
            if classes[key] != nil {
                classes[key]!.evaluations += Double(run.iterations)
            } else {
                let (h, w) = Fitter.workingSize(for: config.network, height: run.size.height, width: run.size.width)
                let work = EvaluationWork(try NetworkSummary(config: config.network, height: h, width: w))
                classes[key] = (work, Double(run.iterations), config, run.channels)
                order.append(key)
            }
        }

        var rate = 0.0
        var scale: [EstimateClass: Double] = [:]
        if !order.isEmpty {
            let measuredWork = try Dictionary(uniqueKeysWithValues: order.map { k in
                (k, EvaluationWork(try measuredSummary(k, channels: classes[k]!.channels)))
            })
            let clock = ContinuousClock()
            let start = clock.now
            var timings: [EvaluationTiming] = []
            func measure(_ key: EstimateClass) throws {
                let c = classes[key]!
                // A fit that diverges at once (not seen with these random images) times nothing.
                guard let t = try timeEvaluations(key, config: c.config, channels: c.channels, backend: backend) else { return }
                timings.append(t)
                let k = RunTimeModel.fitNonNegative(timings.map(\.work.components), seconds: timings.map(\.evaluation))
                (model.secondsPerLayer, model.secondsPerActivation, model.secondsPerMAC) = (k[0], k[1], k[2])
            }
            // First the class with the largest share of the plan (ranked with `priorCoefficients`),
            // then the cheapest, which pins the fixed cost per layer, then the rest by share while
            // the budget allows (after two, the fit so far says what each would cost to time). The
            // cheapest is always timed: the estimate needs one measurement.
            let byShare = order.sorted {
                Self.priorSeconds(classes[$0]!.work) * classes[$0]!.evaluations
                    > Self.priorSeconds(classes[$1]!.work) * classes[$1]!.evaluations
            }
            let cheapest = order.min { Self.priorSeconds(measuredWork[$0]!) < Self.priorSeconds(measuredWork[$1]!) }!
            for key in [byShare[0], cheapest] + byShare.dropFirst() where !timings.contains(where: { $0.key == key }) {
                let left = Self.measurementBudget - (clock.now - start).seconds
                if left <= 0 && !timings.isEmpty { break }
                if key == cheapest && timings.isEmpty { try measure(key); continue }
                // A timed fit costs its set-up and first evaluation (about 2 evaluations) and the timed ones.
                let evaluation = timings.count < 2 ? Self.priorSeconds(measuredWork[key]!) : model.evaluationSeconds(measuredWork[key]!)
                if 2 * evaluation + max(Self.timedSeconds, evaluation) <= left { try measure(key) }
            }
            guard !timings.isEmpty else {
                throw DIPError.invalidValue(name: "estimate", value: "", reason: "no network of the plan could be timed (every timed fit diverged); run with --no-estimate")
            }
            let s = RunTimeModel.fitNonNegative(timings.map { [1, $0.work.activations] }, seconds: timings.map(\.setup),
                                                preference: [[0], [1], [0, 1]])
            (model.setupSeconds, model.setupSecondsPerActivation) = (s[0], s[1])
            // A measured class keeps its own deviation from the model, scaled to its real size.
            for t in timings {
                let predicted = model.evaluationSeconds(t.work)
                if predicted > 0 { scale[t.key] = t.evaluation / predicted }
            }
            let heaviest = timings.max { $0.work.macs < $1.work.macs }!
            rate = 3 * heaviest.work.macs / heaviest.evaluation
        }

        // Per-value costs, timed on the most common image shape of the plan.
        let shapes = Dictionary(grouping: pending) { [$0.channels, $0.size.height, $0.size.width] }
        let shape = shapes.max { $0.value.count < $1.value.count }!.key
        let (img, mask) = try Self.timingProblem(channels: shape[0], height: shape[1], width: shape[2])
        let values = Double(img.pixels.count)
        if !order.isEmpty {
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
                _ = try Preparation.mask(run.spec.mask, for: prepared, source: run.image, seed: run.key.seed,
                                         dataDirectory: options.dataDirectory, preprocessing: run.spec.preprocessing)
            }
        }

        let durations = pending.map { run -> Double in
            let values = run.channels * run.size.width * run.size.height
            let extra = maskSeconds[run.spec.mask] ?? 0
            switch run.configuration.method {
            case let .tv(tv):
                return model.tvSeconds(iterations: tv.iterations, values: values) + extra
            case let .dip(config):
                let key = EstimateClass(network: config.network, height: run.size.height, width: run.size.width)
                return model.dipSeconds(work: classes[key]!.work, evaluations: run.iterations, values: values, psnrEvery: config.psnrEvery,
                                        backtrackingInterval: config.backtracking?.interval, evaluationScale: scale[key] ?? 1) + extra
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

    /// One timed fit: the work of an evaluation at the measured size, the seconds it took, and
    /// the seconds besides the evaluations (set-up, first-use excess, final render).
    private struct EvaluationTiming {
        var key: EstimateClass
        var work: EvaluationWork
        var evaluation: Double
        var setup: Double
    }

    /// The size a class is measured at: its own up to 256 a side, else a square crop of 128
    /// (raised to the network's smallest side), so the measurement stays short.
    private static func measuredSize(_ key: EstimateClass) -> (height: Int, width: Int) {
        guard max(key.height, key.width) > 256 else { return (key.height, key.width) }
        let side = max(128, Profile.minimumSide(key.network))
        return (min(side, key.height), min(side, key.width))
    }

    private func measuredSummary(_ key: EstimateClass, channels: Int) throws -> NetworkSummary {
        let (h, w) = Self.measuredSize(key)
        let (wh, ww) = Fitter.workingSize(for: key.network, height: h, width: w)
        return try NetworkSummary(config: key.network, height: wh, width: ww)
    }

    /// Times evaluations of a class's network at its measured size: one warm-up evaluation, then
    /// evaluations until `timedSeconds` have passed (at least 1, at most 30). Their mean, not
    /// their median, is the evaluation's time: the runs will be slowed by whatever else the
    /// machine does as much as these are. Nil when not one evaluation after the warm-up ran.
    private func timeEvaluations(_ key: EstimateClass, config original: FitConfig, channels: Int,
                                 backend: CPUBackend) throws -> EvaluationTiming? {
        let (h, w) = Self.measuredSize(key)
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
        var marks: [ContinuousClock.Instant] = []
        _ = try fitter.run(progress: { _ in marks.append(clock.now) }, shouldCancel: {
            guard marks.count > 1 else { return false }
            return marks.count > maximum || (marks.last! - marks[0]).seconds >= Self.timedSeconds
        })
        let end = clock.now
        let timed = marks.count - 1
        guard timed >= 1 else { return nil }
        let evaluation = (marks.last! - marks[0]).seconds / Double(timed)
        let summary = try NetworkSummary(config: config.network, height: fitter.workingHeight, width: fitter.workingWidth)
        return EvaluationTiming(key: key, work: EvaluationWork(summary), evaluation: evaluation,
                                setup: max(0, (end - start).seconds - Double(marks.count) * evaluation))
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

    // MARK: execution

    /// Runs every pending run of `plan`, `options.jobs` at a time, each job with its own backend.
    /// `shouldCancel` is polled between iterations: on true, running fits write their checkpoint
    /// (a TV run, or an L-BFGS fit still in its warm-up, is discarded), and no new run starts.
    public func execute(_ plan: RunPlan, events: @escaping @Sendable (RunnerEvent) -> Void,
                        shouldCancel: @escaping @Sendable () -> Bool = { false }) -> RunSummary {
        let queue = WorkQueue(plan.pending)
        let summary = SummaryBox()
        summary.update { $0.skipped = plan.runs.count - plan.pending.count }
        let workers = min(options.jobs, plan.pending.count)
        let group = DispatchGroup()
        for job in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                let backend: CPUBackend
                do { backend = try CPUBackend(threads: options.threadsPerJob) } catch {
                    summary.update { $0.stoppedEarly = true; $0.stopReason = "\(error)" }
                    return
                }
                while !shouldCancel(), !summary.stopped, let run = queue.next() {
                    let outcome = self.perform(run, job: job, backend: backend, events: events, shouldCancel: shouldCancel)
                    summary.update { s in
                        switch outcome {
                        case .stored(.done): s.done += 1
                        case .stored: s.diverged += 1
                        case .interrupted: s.interrupted += 1
                        case .failed: s.failed += 1
                        case let .fatal(why): s.failed += 1; s.stoppedEarly = true; s.stopReason = why
                        }
                    }
                }
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        group.wait()
        if shouldCancel() { summary.update { $0.stoppedEarly = true; $0.stopReason = $0.stopReason ?? "interrupted" } }
        return summary.value
    }

    private enum Outcome { case stored(RunStatus), interrupted, failed, fatal(String) }

    /// The runner's own part of a checkpoint: what the engine's checkpoint does not hold.
    /// The checkpoint attachment holding SideState (JSON), and the one holding the drop picture.
    static let sideStateAttachment = "runner", dropAttachment = "drop"

    private struct SideState: Codable {
        var wallSeconds: Double
        var resumes: Int
        var dropIteration: Int?
    }

    private func perform(_ run: PlannedRun, job: Int, backend: CPUBackend, events: @Sendable (RunnerEvent) -> Void,
                         shouldCancel: () -> Bool) -> Outcome {
        let started = Date()
        do {
            let img = try preparedImage(run.image, spec: run.spec)
            let mask = try Preparation.mask(run.spec.mask, for: img, source: run.image, seed: run.key.seed,
                                            dataDirectory: options.dataDirectory, preprocessing: run.spec.preprocessing)
            switch run.configuration.method {
            case let .tv(tv):
                return try performTV(run, tv: tv, img: img, mask: mask, job: job, started: started, events: events, shouldCancel: shouldCancel)
            case let .dip(config):
                return try performDIP(run, config: config, img: img, mask: mask, job: job, backend: backend,
                                      started: started, events: events, shouldCancel: shouldCancel)
            }
        } catch let e as StoreWriteError {
            events(.failed(run, e.message))
            return .fatal(e.message)
        } catch {
            events(.failed(run, "\(error)"))
            return .failed
        }
    }

    private struct StoreWriteError: Error { let message: String }

    private func performTV(_ run: PlannedRun, tv: TVConfig, img: Preparation.PreparedImage, mask: Preparation.PreparedMask,
                           job: Int, started: Date, events: @Sendable (RunnerEvent) -> Void,
                           shouldCancel: () -> Bool) throws -> Outcome {
        events(.started(run, job: job, resumedAt: nil))
        let total = tv.iterations * img.image.channels
        let t0 = Date()
        let restored: Image
        do {
            restored = try TVInpainting.inpaint(img.image, mask: mask.mask, config: tv) { i in
                if i % max(1, total / 50) == 0 { events(.progress(key: run.key, done: i, total: total, psnr: nil)) }
                return !shouldCancel()
            }
        } catch is CancellationError {
            events(.interrupted(run, checkpointedAt: nil))
            return .interrupted
        }
        var timings = FitTimings()
        timings.total = Date().timeIntervalSince(t0)
        timings.iterations = tv.iterations
        let scores = try self.scores(restored, img.image, mask.mask)
        let record = try makeRecord(run, img: img, mask: mask, status: .done, stoppedAt: nil, iterations: tv.iterations,
                                    curve: [], losses: [], backtracks: [], final: scores, best: scores,
                                    bestIteration: tv.iterations - 1, drop: nil, timings: timings,
                                    wall: Date().timeIntervalSince(started), resumes: 0, hasBest: true, hasDrop: false)
        try save(record, [.final: restored, .best: restored, .mask: mask.mask, .corrupted: img.image.masked(by: mask.mask),
                          .clean: img.image])
        events(.finished(run, record))
        return .stored(.done)
    }

    private func performDIP(_ run: PlannedRun, config: FitConfig, img: Preparation.PreparedImage,
                            mask: Preparation.PreparedMask, job: Int, backend: CPUBackend, started: Date,
                            events: @Sendable (RunnerEvent) -> Void, shouldCancel: () -> Bool) throws -> Outcome {
        let problem = try FitProblem(image: img.image, mask: mask.mask)
        let fitter = try Fitter(problem: problem, config: config, seed: run.key.seed, backend: backend)
        let ckPath = store.checkpointPath(for: run.key)
        // Files of checkpoints written before the runner's state moved into the checkpoint.
        let legacy = [ckPath + ".json", ckPath + "-drop.png"]
        var checkpoint: FitCheckpoint?
        var side = SideState(wallSeconds: 0, resumes: 0, dropIteration: nil)
        var dropImage: Image?
        if !options.force, FileManager.default.fileExists(atPath: ckPath) {
            do {
                let ck = try FitCheckpoint.read(from: ckPath)
                guard let json = ck.attachments[Self.sideStateAttachment] else {
                    throw DIPError.badFile(path: ckPath, reason: "holds no runner state (written by an older dip-report)")
                }
                let s = try JSONDecoder().decode(SideState.self, from: Data(json.utf8))
                // Absent when the fit never caught the picture, as an uninterrupted run would be.
                if s.dropIteration != nil { dropImage = ck.attachedImages[Self.dropAttachment] }
                checkpoint = ck
                side = s
                side.resumes += 1
            } catch {
                events(.note("\(ckPath): unreadable checkpoint (\(error)); starting \(run.key) afresh"))
            }
        }
        let writer: FitCheckpointWriter
        do { writer = try FitCheckpointWriter(path: ckPath, resumed: checkpoint) } catch {
            throw StoreWriteError(message: "\(error)")
        }
        events(.started(run, job: job, resumedAt: checkpoint?.step))

        // The worst drop: the largest PSNR fall between consecutive samples; its bottom is kept.
        var previous: CurvePoint? = checkpoint?.curve.last
        var worstFall = 0.0
        if let ck = checkpoint, let d = Self.worstDrop(ck.curve) { worstFall = d.fall }
        let total = Fitter.plannedEvaluations(config)
        var lastEvent = Date.distantPast
        let result = try fitter.run(
            resumingFrom: checkpoint,
            checkpoints: options.checkpoints,
            onCheckpoint: { fitState in
                // The runner's state rides in the same file, so the two can never disagree.
                var ck = fitState
                var s = side
                s.wallSeconds += Date().timeIntervalSince(started)
                s.dropIteration = run.spec.keepWorstDrop ? Self.worstDrop(ck.curve)?.iteration : nil
                do {
                    ck.attachments[Self.sideStateAttachment] = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
                    if s.dropIteration != nil, let dropImage { ck.attachedImages[Self.dropAttachment] = dropImage }
                    try writer.write(ck)
                } catch {
                    throw StoreWriteError(message: "cannot write the checkpoint: \(error); is the disk full? Finished runs are safe")
                }
                events(.checkpointed(key: run.key, iteration: ck.step))
            },
            onSample: { point, image in
                guard run.spec.keepWorstDrop, let p = point.psnr else { previous = point; return }
                if let prev = previous?.psnr, prev - p > worstFall {
                    worstFall = prev - p
                    dropImage = image
                }
                previous = point
            },
            progress: { p in
                if p.iteration == p.iterations || Date().timeIntervalSince(lastEvent) > 0.2 {
                    lastEvent = Date()
                    events(.progress(key: run.key, done: p.iteration, total: total, psnr: p.psnr))
                }
            },
            shouldCancel: shouldCancel)

        let status: RunStatus
        var stoppedAt: Int?
        switch result.status {
        case .done: status = .done
        case let .diverged(i): status = .diverged; stoppedAt = i
        case .cancelled:
            // Cancelled before the first checkpoint could be taken (an L-BFGS warm-up): nothing kept.
            let kept = FileManager.default.fileExists(atPath: ckPath)
            events(.interrupted(run, checkpointedAt: kept ? result.timings.iterations : nil))
            return .interrupted
        }
        var final: Scores?
        if result.finalImage.pixels.allSatisfy({ $0.isFinite }) { final = try scores(result.finalImage, img.image, mask.mask) }
        var best: Scores?
        if let b = result.best { best = try scores(b.image, img.image, mask.mask) }
        let drop = run.spec.keepWorstDrop ? Self.worstDrop(result.curve) : nil
        // A diverged fit's final picture may hold NaN: no PNG can show it, the record says why.
        let finalIsFinite = result.finalImage.pixels.allSatisfy { $0.isFinite }
        var images: [RunImage: Image] = [.mask: mask.mask, .corrupted: img.image.masked(by: mask.mask), .clean: img.image]
        if finalIsFinite { images[.final] = result.finalImage }
        if let b = result.best { images[.best] = b.image }
        if drop != nil, let dropImage { images[.drop] = dropImage }
        let record = try makeRecord(run, img: img, mask: mask, status: status, stoppedAt: stoppedAt,
                                    iterations: result.timings.iterations, curve: result.curve, losses: result.losses,
                                    backtracks: result.backtracks, final: final, best: best,
                                    bestIteration: result.best?.iteration, drop: drop, timings: result.timings,
                                    wall: side.wallSeconds + Date().timeIntervalSince(started), resumes: side.resumes,
                                    hasBest: result.best != nil, hasDrop: images[.drop] != nil, hasFinal: finalIsFinite)
        try save(record, images)
        try? FitCheckpointWriter.remove(at: ckPath)
        for p in legacy { try? FileManager.default.removeItem(atPath: p) }
        events(.finished(run, record))
        return .stored(status)
    }

    /// The largest fall of PSNR between consecutive curve samples (nil when PSNR never falls).
    public static func worstDrop(_ curve: [CurvePoint]) -> WorstDrop? {
        var worst: WorstDrop?
        for (a, b) in zip(curve, curve.dropFirst()) {
            guard let pa = a.psnr, let pb = b.psnr, pa > pb, pa.isFinite else { continue }
            if worst == nil || pa - pb > worst!.fall {
                worst = WorstDrop(fromIteration: a.iteration, fromPSNR: pa, iteration: b.iteration, psnr: pb)
            }
        }
        return worst
    }

    private func scores(_ out: Image, _ clean: Image, _ mask: Image) throws -> Scores {
        Scores(psnr: try Metrics.psnr(out, clean),
               psnrHoles: try? Metrics.psnr(out, clean, mask: mask, region: .holes),
               ssim: try? Metrics.ssim(out, clean))
    }

    private func makeRecord(_ run: PlannedRun, img: Preparation.PreparedImage, mask: Preparation.PreparedMask,
                            status: RunStatus, stoppedAt: Int?, iterations: Int, curve: [CurvePoint], losses: [Double],
                            backtracks: [Int], final: Scores?, best: Scores?, bestIteration: Int?, drop: WorstDrop?,
                            timings: FitTimings, wall: Double, resumes: Int, hasBest: Bool, hasDrop: Bool,
                            hasFinal: Bool = true) throws -> RunRecord {
        var names: [RunImage: String] = [:]
        var roles: [RunImage] = [.mask, .corrupted, .clean]
        if hasFinal { roles.insert(.final, at: 0) }
        if hasBest { roles.append(.best) }
        if hasDrop { roles.append(.drop) }
        for r in roles { names[r] = ResultStore.imageFileName(run.key, r) }
        let holes = MaskStatistics(mask.mask).holeFraction
        return RunRecord(key: run.key, group: run.group, label: run.label, profile: options.profile.name,
                         configuration: run.configuration, imageSHA256: img.sha256, size: run.size, channels: run.channels,
                         maskSummary: mask.summary, holeFraction: holes,
                         corruptedPSNR: try Metrics.psnr(img.image.masked(by: mask.mask), img.image),
                         status: status, stoppedAt: stoppedAt, iterations: iterations, curve: curve, losses: losses,
                         backtracks: backtracks, final: final, best: best, bestIteration: bestIteration, worstDrop: drop,
                         timings: timings, wallSeconds: wall, resumes: resumes,
                         finishedAt: ISO8601DateFormatter().string(from: Date()),
                         machine: MachineInfo.current(threads: machineThreads), software: software, images: names)
    }

    private func save(_ record: RunRecord, _ images: [RunImage: Image]) throws {
        // Only a failed write stops the whole execution; a picture that cannot be encoded (NaN)
        // fails this run alone, and is no reason to suspect the disk.
        do { try store.save(record, images: images, force: options.force) } catch let error as DIPError {
            guard case .io = error else { throw error }
            throw StoreWriteError(message: "cannot store \(record.key): \(error); is the disk full? Finished runs are safe")
        }
    }
}

/// The pending runs, handed out one at a time to the jobs.
private final class WorkQueue: @unchecked Sendable {
    private var runs: [PlannedRun]
    private var index = 0
    private let lock = NSLock()

    init(_ runs: [PlannedRun]) { self.runs = runs }

    func next() -> PlannedRun? {
        lock.lock()
        defer { lock.unlock() }
        guard index < runs.count else { return nil }
        index += 1
        return runs[index - 1]
    }
}

/// The summary, updated by every job.
private final class SummaryBox: @unchecked Sendable {
    private var summary = RunSummary()
    private let lock = NSLock()

    func update(_ f: (inout RunSummary) -> Void) {
        lock.lock()
        f(&summary)
        lock.unlock()
    }

    var value: RunSummary {
        lock.lock()
        defer { lock.unlock() }
        return summary
    }

    var stopped: Bool { value.stoppedEarly }
}
