import DIPEngine
import Foundation

/// What one run needs from a cluster node: seconds and peak memory.
public enum RunResources {
    /// Peak resident memory of a run in bytes, from its network's size at the run's image size.
    ///
    /// A fit keeps every activation of the forward pass for the backward pass, plus gradients
    /// of about the same size in one shared pool, plus oneDNN's Winograd scratch; parameters
    /// are held four times (weights, gradients, Adam's two moments), and an L-BFGS fit also
    /// holds its 100 curvature pairs (two parameter-sized vectors each). Fitted by hand to the
    /// peaks `bench` measured (max RSS; BENCHMARKS.md, "AMD EPYC, fifth part", the larger of the
    /// AVX-512 and AVX2 runs): table1 at 256 and 512, text at 256 and 512 are 789, 2863, 1112 and
    /// 4075 MiB, and this model gives 893, 2871, 1206 and 4087 MiB (1.00-1.13 of each: the
    /// per-activation bytes are those of the largest nets, so small ones are overestimated);
    /// `slurmMargin` adds a quarter on top, since Slurm kills a task that goes over its memory.
    public static func peakBytes(network: SkipConfig, height: Int, width: Int, lbfgs: Bool) throws -> Double {
        let (h, w) = Fitter.workingSize(for: network, height: height, width: width)
        let summary = try NetworkSummary(config: network, height: h, width: w)
        let activations = Double(summary.layers.reduce(0) { $0 + $1.outChannels * $1.outputSize.height * $1.outputSize.width })
        let parameters = Double(summary.parameters)
        let history = lbfgs ? 200 * parameters * 4 : 0
        return baseBytes + activationBytes * activations + 16 * parameters + history
    }

    /// A TV run: the image, its mask and a handful of image-sized buffers, in Float64.
    public static func tvPeakBytes(values: Int) -> Double { baseBytes + 16 * 8 * Double(values) }

    /// The process without a network: the binary, oneDNN, the prepared images.
    static let baseBytes = 200.0 * 1024 * 1024
    /// Bytes per activation value (see `peakBytes`).
    static let activationBytes = 5.8

    /// Slurm's memory limit over the estimated peak.
    public static let slurmMargin = 1.25
}
