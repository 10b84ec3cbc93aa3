import DIPEngine
import Foundation

/// What one run needs from a cluster node: seconds and peak memory.
public enum RunResources {
    /// A TV run: the image, its mask and a handful of image-sized buffers, in Float64.
    public static func tvPeakBytes(values: Int) -> Double { FitMemory.processBytes + 16 * 8 * Double(values) }

    /// Slurm's memory limit over the estimated peak (a DIP run's is `FitMemory.peakBytes`): a
    /// quarter on top, since Slurm kills a task that goes over its memory.
    public static let slurmMargin = 1.25
}
