import DIPCore
import Foundation

/// Speed of one network at one size: the figures `dip-report bench` reports.
public struct BenchmarkResult: Sendable, Codable {
    /// "ours" or the peer's name.
    public var implementation: String
    /// Network preset.
    public var net: String
    /// Side of the square input.
    public var size: Int
    /// The canvas side the network ran at, where it needs more than `size` (as `inpaint` fits
    /// such an image: on a larger canvas, cropped back); nil where it ran at `size`. The time
    /// is a `size` image's; the MACs and GFLOP/s are the canvas's.
    public var canvas: Int?
    /// Threads used.
    public var threads: Int
    /// Convolution algorithm.
    public var conv: String
    /// Timed iterations (after one warm-up).
    public var iterations: Int
    /// Seconds per iteration over the timed iterations: their total over their number, PSNR
    /// sampling and every other cost of a fit included, so the rate a fit shows.
    public var iterationSeconds: Double
    /// Median seconds of one timed iteration (nil in older results): below `iterationSeconds`
    /// by what the iterations that sample PSNR and the occasional slow one add.
    public var medianIterationSeconds: Double?
    /// PSNR was sampled every this many iterations, as in a fit (nil in older results).
    public var psnrEvery: Int?
    /// Mean seconds in the forward pass per iteration.
    public var forwardSeconds: Double
    /// Mean seconds in loss + backward per iteration.
    public var backwardSeconds: Double
    /// Mean seconds in the optimiser per iteration.
    public var optimizerSeconds: Double
    /// Mean seconds per timed iteration spent in batches a device ran as one piece of work (a
    /// GPU's replayed graphs), which the three phases above leave out; nil where none ran.
    public var batchedSeconds: Double?
    /// Forward MACs of the network at this size.
    public var forwardMACs: Int
    /// Effective GFLOP/s: 3 x forward MACs x 2 flops per iteration (`iterationSeconds`).
    public var gflops: Double
    /// The machine's FMA peak for the instruction set oneDNN uses, at `threads` threads: what
    /// `gflops` of direct convolutions cannot pass (nil for the peer, and where oneDNN runs
    /// without FMA).
    public var fmaPeak: FMAPeak?
    /// Peak memory, MiB, of what the fit ran on: the process's resident memory for the CPU,
    /// the device memory it allocated for a GPU (the peer likewise).
    public var peakMemoryMiB: Double
    /// Where it ran: the CPU and the instruction set oneDNN uses (nil for the peer).
    public var device: String?
    /// Which convolution algorithms ran and oneDNN's implementation of the largest (nil for the peer).
    public var convolutions: String?
    /// Seconds per timed iteration of each step of the passes (`layers: true`; nil otherwise).
    public var layers: [LayerTime]?
}

/// Times fits of a network on a synthetic image, the way the benchmark command needs it.
public enum Benchmark {
    /// Timed iterations by default: enough that the figure is the sustained rate of a fit
    /// (PSNR sampling and the occasional slow iteration included), short enough for a benchmark.
    public static let defaultIterations = 20

    /// Runs a fit of 1 + `iterations` Adam iterations of `net` at `size` x `size`, sampling PSNR
    /// every `psnrEvery` iterations as a fit does (nil: a fit's default), and times the
    /// `iterations` after the first (whose first touch of every buffer no later iteration
    /// repeats), phase by phase; then measures the FMA peak at `threads` threads. With `layers`,
    /// also each step of the passes (a host backend's only: a device trainer runs its own).
    public static func run(net: String, size: Int, threads: Int, iterations: Int, psnrEvery: Int? = nil,
                           conv: ConvAlgorithm = .auto, backends: BackendFactory = .cpu,
                           layers: Bool = false) throws -> BenchmarkResult {
        let channels = net == "table1" ? 1 : 3
        var config = FitConfig(network: try SkipConfig.preset(net, outputChannels: channels))
        config.inputCode = .upstream(for: config.network)
        config.iterations = iterations + 1
        if let psnrEvery { config.psnrEvery = psnrEvery }
        config.convAlgorithm = conv
        // Before the image: at a size the machine cannot hold, that allocation would fail first.
        if backends.computesOnHostCPU {
            try FitMemory.requireRoom(network: config.network, height: size, width: size, optimizer: config.optimizer)
        }
        // A synthetic image: speed does not depend on the pixels.
        var image = Image(channels: channels, height: size, width: size)
        image.pixels.withUnsafeMutableBufferPointer {
            RandomStream(seed: 0, purpose: .auxiliary).fillUniform($0)
        }
        let mask = try BernoulliMask.make(channels: 1, height: size, width: size, keepFraction: 0.5, seed: 0)
        let backend = try backends.make(threads: threads)
        let problem = try FitProblem(image: image, mask: mask)
        let fitter = try Fitter(problem: problem, config: config, seed: 0, backend: backend)
        let clock: LayerClock? = layers ? LayerClock() : nil
        if let clock {
            guard fitter.runsHostNetwork else {
                throw EngineError.invalidConfig("per-layer times (--layers) are measured on the CPU only: \(backends.name) runs its own kernels")
            }
            fitter.network.layerClock = clock
        }
        // Progress comes after every iteration, or after every batch where a device runs
        // iterations in batches: each stamp is (iterations done, seconds, phase seconds so far).
        // The first stamp is the end of the untimed first iteration (primitive creation, first
        // touch of every buffer), so every figure is a difference from it. (A separate warm-up
        // fit's phases are no stand-in: its first touch of memory cost more than the timed
        // fit's, and subtracting it gave negative forward times.)
        var stamps: [(done: Int, elapsed: Double, timings: FitTimings)] = []
        stamps.reserveCapacity(config.iterations)
        let result = try fitter.run(progress: {
            stamps.append(($0.iteration, $0.elapsed, $0.timings))
            // The steps of the timed iterations only, as every other figure: not the warm-up,
            // nor the final render after the last.
            if stamps.count == 1 { clock?.reset() }
            if $0.iteration >= config.iterations { fitter.network.layerClock = nil }
        })
        fitter.network.layerClock = nil
        let n = Double(iterations)
        // The rate a fit shows: the timed iterations' total time over their number (the first
        // stamp is the end of the untimed first iteration).
        let mean = stamps.count > 1 ? (stamps.last!.elapsed - stamps.first!.elapsed) / n : result.timings.total
        // The median iteration, a batch counting as its iterations at its mean.
        let perIteration = zip(stamps.dropFirst(), stamps).flatMap { next, previous in
            let k = max(1, next.done - previous.done)
            return [Double](repeating: (next.elapsed - previous.elapsed) / Double(k), count: k)
        }.sorted()
        let median = perIteration.isEmpty ? mean : perIteration[perIteration.count / 2]
        // The last stamp, not the result: the result's forward also counts the final render.
        let t = stamps.last?.timings ?? result.timings, first = stamps.first?.timings ?? FitTimings()
        // From the summary (the one size rule), not the host network, which a device trainer
        // never prepares.
        let macs = try NetworkSummary(config: config.network, height: fitter.workingHeight, width: fitter.workingWidth).macs
        return BenchmarkResult(implementation: "dip-report \(backends.description)",
                               net: net, size: size, canvas: fitter.isPadded ? max(fitter.workingHeight, fitter.workingWidth) : nil,
                               threads: threads, conv: conv.rawValue, iterations: iterations,
                               iterationSeconds: mean, medianIterationSeconds: median, psnrEvery: config.psnrEvery,
                               forwardSeconds: (t.forward - first.forward) / n,
                               backwardSeconds: (t.backward - first.backward) / n,
                               optimizerSeconds: (t.optimizer - first.optimizer) / n,
                               batchedSeconds: t.batched.map { ($0 - (first.batched ?? 0)) / n },
                               forwardMACs: macs, gflops: 6 * Double(macs) / mean / 1e9,
                               fmaPeak: backends.computesOnHostCPU ? FMAPeak.measure(threads: threads) : nil,
                               peakMemoryMiB: backends.peakMemoryMiB(),
                               device: backends.device,
                               convolutions: fitter.algorithmSummary,
                               layers: clock.map { $0.perIteration(stamps.count > 1 ? iterations : iterations + 1) })
    }

    /// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
