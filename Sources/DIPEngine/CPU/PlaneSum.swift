/// The sum of `count` floats in a fixed order: 32 interleaved partial sums (four vectors), added
/// together lane by lane at the end, then the tail. Not the reference's left-to-right order
/// (a serial sum of a 512x512 plane would take longer than its convolution), but the same
/// every time. The convolutions' bias gradients are these sums.
func planeSum(_ p: UnsafePointer<Float>, count: Int) -> Float {
    var acc = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
    var i = 0
    while i + 32 <= count {
        acc.0 += loadLanes(p + i)
        acc.1 += loadLanes(p + i + 8)
        acc.2 += loadLanes(p + i + 16)
        acc.3 += loadLanes(p + i + 24)
        i += 32
    }
    let lanes = (acc.0 + acc.1) + (acc.2 + acc.3)
    var sum: Float = 0
    for l in 0..<8 { sum += lanes[l] }
    while i < count {
        sum += p[i]
        i += 1
    }
    return sum
}
