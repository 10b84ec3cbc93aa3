import CLayerKernels
import DIPCore

/// The perturbation of the input code (docs/semantics.md §6): z + sigma_p * N(0, 1), the noise of
/// iteration i from substream i of the seed's `.perturbation` stream, so any iteration's noise can
/// be drawn again without state (a resumed fit, a final render).
enum Perturbation {
    /// out = z + sigma * noise over `count` values in [C, H, W] order. The draw is split into a
    /// fixed 64 block ranges, whatever the thread count: the same bits on 1 thread or 8. The
    /// arithmetic is CLayerKernels' `dip_cpu_perturb` (an AVX2 version where the CPU has it),
    /// RandomStream.fillNormal's bits plus z, as a test checks.
    static func fill(_ z: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int,
                     sigma: Float, seed: UInt64, iteration: Int, parallel: ChannelParallel) {
        let stream = RandomStream(seed: seed, purpose: .perturbation, substream: UInt64(iteration))
        let blocks = (n + 3) / 4
        let parts = 64
        let zp = UncheckedBox(z), op = UncheckedBox(out)
        parallel.run(parts) { part in
            let lo = blocks * part / parts, hi = blocks * (part + 1) / parts
            dip_cpu_perturb(zp.value, op.value, n, UInt64(lo), UInt64(hi), stream.key.0, stream.key.1, stream.substream,
                            Double(sigma))
        }
    }
}
