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
    /// Threads used.
    public var threads: Int
    /// Convolution algorithm.
    public var conv: String
    /// Timed iterations (after one warm-up).
    public var iterations: Int
    /// Median seconds per iteration.
    public var iterationSeconds: Double
    /// Mean seconds in the forward pass per iteration.
    public var forwardSeconds: Double
    /// Mean seconds in loss + backward per iteration.
    public var backwardSeconds: Double
    /// Mean seconds in the optimiser per iteration.
    public var optimizerSeconds: Double
    /// Forward MACs of the network at this size.
    public var forwardMACs: Int
    /// Effective GFLOP/s: 3 x forward MACs x 2 flops per median iteration.
    public var gflops: Double
    /// Peak resident memory of the process, MiB.
    public var peakMemoryMiB: Double
    /// Where it ran: the CPU and the instruction set oneDNN uses (nil for the peer).
    public var device: String?
    /// Which convolution algorithms ran and oneDNN's implementation of the largest (nil for the peer).
    public var convolutions: String?
}

/// Times fits of a network on a synthetic image, the way the benchmark command needs it.
public enum Benchmark {
    /// Runs one warm-up and `iterations` timed Adam iterations of `net` at `size` x `size`.
    public static func run(net: String, size: Int, threads: Int, iterations: Int,
                           conv: ConvAlgorithm = .auto, backends: BackendFactory = .cpu) throws -> BenchmarkResult {
        let channels = net == "table1" ? 1 : 3
        var config = FitConfig(network: try SkipConfig.preset(net, outputChannels: channels))
        config.inputCode = .upstream(for: config.network)
        config.iterations = iterations + 1
        config.psnrEvery = iterations + 1
        config.convAlgorithm = conv
        // A synthetic image: speed does not depend on the pixels.
        var image = Image(channels: channels, height: size, width: size)
        image.pixels.withUnsafeMutableBufferPointer {
            RandomStream(seed: 0, purpose: .auxiliary).fillUniform($0)
        }
        let mask = try BernoulliMask.make(channels: 1, height: size, width: size, keepFraction: 0.5, seed: 0)
        let backend = try backends.make(threads: threads)
        let problem = try FitProblem(image: image, mask: mask)
        // The phase split excludes the first iteration (primitive creation, first touch of every
        // buffer): a one-iteration fit's phases are subtracted from the full fit's.
        var warm = config
        warm.iterations = 1
        let warmup = try Fitter(problem: problem, config: warm, seed: 0, backend: backend).run().timings
        let fitter = try Fitter(problem: problem, config: config, seed: 0, backend: backend)
        var stamps: [Double] = []
        let result = try fitter.run(progress: { stamps.append($0.elapsed) })
        let perIteration = zip(stamps.dropFirst(), stamps).map { $0 - $1 }.sorted()
        let median = perIteration.isEmpty ? result.timings.total : perIteration[perIteration.count / 2]
        let n = Double(iterations)
        let t = result.timings
        let macs = fitter.network.macsPerForward
        return BenchmarkResult(implementation: "dip-report \(backends.description)",
                               net: net, size: size, threads: threads, conv: conv.rawValue, iterations: iterations,
                               iterationSeconds: median, forwardSeconds: (t.forward - warmup.forward) / n,
                               backwardSeconds: (t.backward - warmup.backward) / n,
                               optimizerSeconds: (t.optimizer - warmup.optimizer) / n,
                               forwardMACs: macs, gflops: 6 * Double(macs) / median / 1e9,
                               peakMemoryMiB: peakResidentMiB(), device: backends.device,
                               convolutions: fitter.algorithmSummary)
    }

    /// Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB).
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
