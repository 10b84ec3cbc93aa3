import DIPCore
import Foundation

/// What a fit holds in host memory at its peak, and the check a fit on the host makes before it
/// allocates: Slurm's memory requests and the fit's own refusal of an image too large for the
/// machine come from this one model.
public enum FitMemory {
    /// Peak resident memory of a fit in bytes, from its network's size at the image's size.
    ///
    /// A fit keeps every activation of the forward pass for the backward pass, plus gradients
    /// of about the same size in one shared pool, plus oneDNN's Winograd scratch; parameters
    /// are held four times (weights, gradients, Adam's two moments), and an L-BFGS fit also
    /// holds its 100 curvature pairs (two parameter-sized vectors each). Fitted by hand to the
    /// peaks `bench` measured (max RSS; BENCHMARKS.md, "AMD EPYC, fifth part", the larger of the
    /// AVX-512 and AVX2 runs): table1 at 256 and 512, text at 256 and 512 are 789, 2863, 1112 and
    /// 4075 MiB, and this model gives 893, 2871, 1206 and 4087 MiB (1.00-1.13 of each: the
    /// per-activation bytes are those of the largest nets, so small ones are overestimated).
    public static func peakBytes(network: SkipConfig, height: Int, width: Int, optimizer: OptimizerChoice) throws -> Double {
        let (h, w) = Fitter.workingSize(for: network, height: height, width: width)
        let summary = try NetworkSummary(config: network, height: h, width: w)
        let activations = Double(summary.layers.reduce(0) { $0 + $1.outChannels * $1.outputSize.height * $1.outputSize.width })
        let parameters = Double(summary.parameters)
        var history = 0.0
        if case .lbfgs = optimizer { history = 200 * parameters * 4 }
        return processBytes + activationBytes * activations + 16 * parameters + history
    }

    /// The process without a network: the binary, oneDNN, the prepared images.
    public static let processBytes = 200.0 * 1024 * 1024
    /// Bytes per activation value (see `peakBytes`).
    static let activationBytes = 5.8

    /// Throws, naming the sizes, when a fit of `network` on a `height` x `width` image needs more
    /// memory (`peakBytes`) than this process can have: what it can still take (`available`, by
    /// default `HostMemory.available()`; nothing is checked where that is unknown) plus what it
    /// holds already (`resident`, by default `HostMemory.resident()`), since a run after another
    /// in the same process reuses the memory the first one freed but the C library kept, which
    /// neither the kernel's nor a control group's figure counts as available. (So two jobs of
    /// one process credit each other's memory: the check catches a fit no machine of this size
    /// could hold, not two that only fit one after the other.) A fit on the host calls it before
    /// building its network: past that point the allocation itself fails, or the machine swaps
    /// until the out-of-memory killer ends the process (a 4096x4096 `inpaint` with its default
    /// net did, after a minute, on a 24 GiB machine).
    static func requireRoom(network: SkipConfig, height: Int, width: Int, optimizer: OptimizerChoice,
                            available: UInt64? = HostMemory.available(), resident: UInt64? = HostMemory.resident()) throws {
        guard let available else { return }
        let needed = try peakBytes(network: network, height: height, width: width, optimizer: optimizer)
        let room = Double(available) + Double(resident ?? 0)
        guard needed > room else { return }
        let gib = ByteSize.gib
        throw DIPError.invalidValue(
            name: "image size", value: "\(width)x\(height)",
            reason: "a fit of this network at this size needs about \(gib(needed)) of memory (it keeps every activation "
                + "for the backward pass) and this process can have \(gib(room)) here; "
                + "use a smaller image or a crop of it, or free memory (fewer jobs at once)")
    }
}
