import CLayerKernels

/// The sum of `count` floats in a fixed order (`dip_cpu_plane_sum`: 32 interleaved partial sums,
/// added together lane by lane at the end, then the tail). Not the reference's left-to-right
/// order (a serial sum of a 512x512 plane would take longer than its convolution), but the same
/// every time and on every CPU. The convolutions' bias gradients are these sums; where a
/// BatchNorm follows the convolution, its backward computes them as it writes the gradient
/// (`PlaneSumBiasGradient`).
func planeSum(_ p: UnsafePointer<Float>, count: Int) -> Float {
    dip_cpu_plane_sum(p, count)
}
