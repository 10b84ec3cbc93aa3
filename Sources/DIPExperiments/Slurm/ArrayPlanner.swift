import DIPCore
import DIPEngine
import Foundation

/// Turns the pending runs of a plan into the tasks of a job array: estimates each run's seconds
/// and memory, packs short runs, and sizes each task's time and memory limits.
public struct ArrayPlanner: Sendable {
    /// Runs shorter than this are packed with others into tasks of at least about this long:
    /// a task costs seconds of scheduling and start-up, which a minute of work hides.
    public var minimumTaskSeconds = 60.0
    /// A fixed time limit for every task (--time), instead of one from the estimate.
    public var timeLimit: Int?
    /// A fixed memory for every run (--mem-per-run SIZE, in bytes), instead of the estimate.
    public var memoryBytes: Double?
    /// Measure this machine's speed (`Runner.estimate`); false uses fixed prior costs.
    public var measure = true
    /// The runs go to GPU nodes and this machine has no GPU to time them on: Adam fits are
    /// costed at `gpuPriorSeconds` (TV and L-BFGS runs still run on the CPU, and are costed as
    /// before).
    public var gpuPrior = false

    /// A planner with the defaults.
    public init() {}

    /// Seconds a task's time limit adds to its estimate, beyond `timeMargin` times it: start-up,
    /// a checkpoint and storing the record on a busy file system.
    public static let timeAllowance = 120.0
    /// The time limit's factor over the estimate (the estimate runs alone; a node shared with
    /// other jobs is slower, 5-9 % on this machine, more where memory bandwidth is scarce).
    public static let timeMargin = 1.5

    /// Each pending run with its estimated seconds and peak bytes. The estimate is measured once
    /// per network at an image size (`Runner.estimate` on one run of it), and a run of the same
    /// class costs in proportion to the iterations it has left.
    public func estimateRuns(_ plan: RunPlan, runner: Runner) throws -> [FrozenPlan.Run] {
        var classSeconds: [String: (seconds: Double, iterations: Int)] = [:]
        return try plan.pending.map { run in
            let cls = try Self.classKey(run)
            if classSeconds[cls] == nil {
                // The class is costed as a whole fit, whichever of its runs comes first: a run
                // resumed near its end would otherwise spread its set-up over every iteration.
                var whole = run
                whole.iterationsDone = 0
                // Tasks fit twins at the same moment: a planned copy is costed as the fit it may be.
                whole.copiesTwin = false
                let seconds = gpuPrior && Self.runsOnGPU(whole)
                    ? try Self.gpuPriorSeconds(whole)
                    : measure
                    ? try runner.estimate(RunPlan(runs: [whole], problems: [], profile: plan.profile)).seconds
                    : try Self.priorSeconds(whole)
                classSeconds[cls] = (seconds, max(1, whole.iterations))
            }
            let c = classSeconds[cls]!
            let peak: Double
            switch run.configuration.method {
            case let .dip(config):
                peak = try FitMemory.peakBytes(network: config.network, height: run.size.height, width: run.size.width,
                                               optimizer: config.optimizer)
            case .tv:
                peak = RunResources.tvPeakBytes(values: run.channels * run.size.width * run.size.height)
            }
            return FrozenPlan.Run(key: run.key, label: run.label, iterations: run.iterations,
                                  // What a checkpoint holds is done: a run costs the iterations it has left.
                                  seconds: c.seconds * Double(run.iterationsLeft) / Double(c.iterations),
                                  peakBytes: memoryBytes ?? peak)
        }
    }

    /// Packs runs into tasks (a run of at least `minimumTaskSeconds` alone; shorter ones
    /// together, in plan order, until a task reaches it) and sizes them; longest task first.
    public func tasks(_ runs: [FrozenPlan.Run]) -> [FrozenPlan.Task] {
        var groups: [[Int]] = []
        var open: [Int] = []
        var openSeconds = 0.0
        for (i, r) in runs.enumerated() {
            if r.seconds >= minimumTaskSeconds { groups.append([i]); continue }
            open.append(i)
            openSeconds += r.seconds
            if openSeconds >= minimumTaskSeconds { groups.append(open); open = []; openSeconds = 0 }
        }
        if !open.isEmpty { groups.append(open) }
        let tasks = groups.map { g -> FrozenPlan.Task in
            let seconds = g.reduce(0) { $0 + runs[$1].seconds }
            let peak = g.map { runs[$0].peakBytes }.max() ?? 0
            return FrozenPlan.Task(runs: g, seconds: seconds, peakBytes: peak,
                                   timeLimit: timeLimit ?? Self.bucketedTime(seconds * Self.timeMargin + Self.timeAllowance),
                                   // A size the user gave is asked for as given (in whole MiB); estimates in steps.
                                   memoryMiB: memoryBytes.map { Int(($0 / 1_048_576).rounded(.up)) }
                                       ?? Self.bucketedMemory(peak * RunResources.slurmMargin))
        }
        return tasks.enumerated().sorted { ($0.element.seconds, -$0.offset) > ($1.element.seconds, -$1.offset) }.map(\.element)
    }

    /// Time limits come in a few sizes (minutes): tasks of one size share an array.
    static let timeBuckets = [5, 10, 15, 30, 60, 120, 240, 480, 720, 1440, 2880, 5760, 10080]
    /// Memory limits in MiB, likewise.
    static let memoryBuckets = [512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 65536]

    /// The smallest bucket at or above `seconds`, in seconds (beyond the largest: whole days).
    static func bucketedTime(_ seconds: Double) -> Int {
        let minutes = Int((seconds / 60).rounded(.up))
        if let b = timeBuckets.first(where: { $0 >= minutes }) { return b * 60 }
        return Int((Double(minutes) / 1440).rounded(.up)) * 1440 * 60
    }

    /// The smallest memory bucket at or above `bytes`, in MiB (beyond the largest: whole GiB).
    static func bucketedMemory(_ bytes: Double) -> Int {
        let mib = Int((bytes / 1_048_576).rounded(.up))
        if let b = memoryBuckets.first(where: { $0 >= mib }) { return b }
        return Int((Double(mib) / 1024).rounded(.up)) * 1024
    }

    /// The class a run's estimate is shared with: the method's kind, network and image shape.
    static func classKey(_ run: PlannedRun) throws -> String {
        let shape = "\(run.channels)x\(run.size.width)x\(run.size.height)"
        switch run.configuration.method {
        case let .dip(config): return "dip \(try ConfigHash.of(config.network)) \(config.psnrEvery) \(shape)"
        case .tv: return "tv \(shape)"
        }
    }

    /// Seconds from fixed per-layer, per-activation and per-MAC costs of a 2-core x86 machine
    /// (`Runner.priorCoefficients`), for plans made without a measurement.
    static func priorSeconds(_ run: PlannedRun) throws -> Double {
        switch run.configuration.method {
        case let .dip(config):
            let (h, w) = Fitter.workingSize(for: config.network, height: run.size.height, width: run.size.width)
            let work = EvaluationWork(try NetworkSummary(config: config.network, height: h, width: w))
            return 2 + Runner.priorSeconds(work) * Double(run.iterations)
        case .tv:
            return 0.5 + 2e-8 * Double(run.channels * run.size.width * run.size.height * run.iterations)
        }
    }

    /// Whether a run goes to the GPU when the plan's device is cuda: Adam fits do; TV runs and
    /// L-BFGS fits (parameters on the host) run on the CPU (BackendFactory.forFit).
    static func runsOnGPU(_ run: PlannedRun) -> Bool {
        guard case let .dip(config) = run.configuration.method, case .adam = config.optimizer else { return false }
        return true
    }

    /// PyTorch's time per iteration of the table1 network at 512x512 on an NVIDIA H100 (17.6 ms,
    /// issue 14's measurement), the prior for GPU runs where no GPU is here to time them: our
    /// backend is meant to be several times faster, so limits from it are generous, not short.
    static let gpuPriorIterationSeconds = 17.6e-3

    /// A GPU run's seconds at the prior rate: its iterations at the table1-512 figure, scaled
    /// by whichever is larger, the run's layers or its MACs relative to table1's at 512 (small
    /// images are launch-bound, large ones compute-bound), plus 10 s of set-up.
    static func gpuPriorSeconds(_ run: PlannedRun) throws -> Double {
        guard case let .dip(config) = run.configuration.method else { return try priorSeconds(run) }
        let (h, w) = Fitter.workingSize(for: config.network, height: run.size.height, width: run.size.width)
        let work = try NetworkSummary(config: config.network, height: h, width: w)
        let reference = try NetworkSummary(config: try SkipConfig.preset("table1", outputChannels: 1), height: 512, width: 512)
        let scale = max(Double(work.layers.count) / Double(reference.layers.count), Double(work.macs) / Double(reference.macs))
        return 10 + gpuPriorIterationSeconds * scale * Double(run.iterations)
    }

    /// Wall seconds of `tasks` with `parallel` running at once, each taking `overhead` seconds
    /// more than its estimate (tasks are started longest first, as the array lists them).
    public static func wallSeconds(_ tasks: [FrozenPlan.Task], parallel: Int, overhead: Double = 0) -> Double {
        RunTimeModel.makespan(tasks.map { $0.seconds + overhead }, jobs: max(1, parallel))
    }
}
