/// Eight lanes of Float: eight tiles of one tile row (input, output and output-gradient
/// transforms) or eight channels (filter transforms) go through a transform together.
typealias WinogradLanes = SIMD8<Float>

/// The 1-D transforms of one Winograd F(m x m, r x r) (n = m + r - 1 interpolation points),
/// each reading p[k * ps] and writing q[k * qs]; the 2-D transforms below apply them to the
/// columns, then to the rows, the same way for every tile (CWinograd's kernels in that order).
protocol WinogradTileTransforms {
    /// m.
    static var outputSize: Int { get }
    /// r.
    static var filterSize: Int { get }
    /// Bᵀ (n -> n).
    static func bt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int)
    /// Aᵀ (n -> m).
    static func at(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int)
    /// A (m -> n), the transpose of `at`.
    static func a(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int)
    /// G (r -> n).
    static func g(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int)
    /// Gᵀ (n -> r), the transpose of `g`.
    static func gt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int)
}

// MARK: 2-D transforms of n x n tiles (row-major), m x m outputs and r x r filters; `work`
// holds at least n² lanes.
extension WinogradTileTransforms {
    /// n.
    @inline(__always) static var inputSize: Int { outputSize + filterSize - 1 }

    /// A 1-D transform: p[k * ps] in, q[k * qs] out.
    typealias OneD = (UnsafePointer<WinogradLanes>, Int, UnsafeMutablePointer<WinogradLanes>, Int) -> Void

    /// The 2-D transform by `t` (k -> l): the k x k block `x` to the l x l block `y`, the
    /// columns into `work` (l x k), then its rows. Every 2-D transform below is one of these.
    @inline(__always)
    static func separable(_ t: OneD, from k: Int, to l: Int, _ x: UnsafePointer<WinogradLanes>,
                          _ y: UnsafeMutablePointer<WinogradLanes>, work: UnsafeMutablePointer<WinogradLanes>) {
        for c in 0..<k { t(x + c, k, work + c, k) }
        for r in 0..<l { t(work + k * r, 1, y + l * r, 1) }
    }

    /// V = Bᵀ d B: n x n -> n x n.
    @inline(__always)
    static func input(_ d: UnsafePointer<WinogradLanes>, _ v: UnsafeMutablePointer<WinogradLanes>,
                      work: UnsafeMutablePointer<WinogradLanes>) {
        separable(bt, from: inputSize, to: inputSize, d, v, work: work)
    }

    /// Y = Aᵀ m A: n x n -> m x m.
    @inline(__always)
    static func output(_ m: UnsafePointer<WinogradLanes>, _ y: UnsafeMutablePointer<WinogradLanes>,
                       work: UnsafeMutablePointer<WinogradLanes>) {
        separable(at, from: inputSize, to: outputSize, m, y, work: work)
    }

    /// dM = A dY Aᵀ: m x m -> n x n.
    @inline(__always)
    static func outputGradient(_ dy: UnsafePointer<WinogradLanes>, _ dm: UnsafeMutablePointer<WinogradLanes>,
                               work: UnsafeMutablePointer<WinogradLanes>) {
        separable(a, from: outputSize, to: inputSize, dy, dm, work: work)
    }

    /// U = G g Gᵀ: r x r -> n x n.
    @inline(__always)
    static func filter(_ w: UnsafePointer<WinogradLanes>, _ u: UnsafeMutablePointer<WinogradLanes>,
                       work: UnsafeMutablePointer<WinogradLanes>) {
        separable(g, from: filterSize, to: inputSize, w, u, work: work)
    }

    /// dg = Gᵀ dU G: n x n -> r x r.
    @inline(__always)
    static func filterGradient(_ du: UnsafePointer<WinogradLanes>, _ dg: UnsafeMutablePointer<WinogradLanes>,
                               work: UnsafeMutablePointer<WinogradLanes>) {
        separable(gt, from: inputSize, to: filterSize, du, dg, work: work)
    }
}

/// The tile transforms of Winograd F(4x4, 3x3) (Lavin & Gray 2016, interpolation points 0, ±1,
/// ±2 and infinity): a 4x4 output tile of a 3x3 valid convolution is
/// `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` for the 6x6 input tile d and the 3x3 filter g, which takes
/// 36 multiplications instead of 144.
///
/// Each 2-D transform is the 1-D one applied to the columns, then to the rows. The backward
/// passes use the transposed transforms: the gradient of the product domain is `A dY Aᵀ`, and
/// the filter gradient is `Gᵀ dU G` (the chain rule through the two linear maps).
///
/// Tiles are 6x6 (or 4x4, 3x3) arrays of `WinogradLanes`, row-major, element (r, s) at
/// `r * columns + s`; transformed elements are numbered ξ = 6 i + j.
///
/// The arithmetic is plain multiply and add, not `addingProduct`: the package is compiled for
/// the x86-64 baseline, where a fused multiply-add would be a library call per lane. CWinograd
/// repeats these operations in the same order on 256-bit vectors (WinogradKernels), so both
/// give the same bits: a change here is a change there (WinogradTests compares the two).
enum WinogradF43: WinogradTileTransforms {
    static let outputSize = 4, filterSize = 3

    // MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

    /// Bᵀ (6 -> 6).
    @inline(__always)
    static func bt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps], d4 = p[4 * ps], d5 = p[5 * ps]
        let d4m2 = d4 - d2, d3m1 = d3 - d1
        q[0] = 4 * d0 - 5 * d2 + d4
        q[qs] = (d3 + d4) - 4 * (d1 + d2)
        q[2 * qs] = (d4 - d3) + 4 * (d1 - d2)
        q[3 * qs] = d4m2 + 2 * d3m1
        q[4 * qs] = d4m2 - 2 * d3m1
        q[5 * qs] = 4 * d1 - 5 * d3 + d5
    }

    /// Aᵀ (6 -> 4).
    @inline(__always)
    static func at(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps], m4 = p[4 * ps], m5 = p[5 * ps]
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        q[0] = m0 + s12 + s34
        q[qs] = d12 + 2 * d34
        q[2 * qs] = s12 + 4 * s34
        q[3 * qs] = d12 + 8 * d34 + m5
    }

    /// A = (Aᵀ)ᵀ (4 -> 6), the transpose of `at`.
    @inline(__always)
    static func a(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps]
        let e = y0 + y2, o = y1 + y3, e4 = y0 + 4 * y2, o4 = 2 * y1 + 8 * y3
        q[0] = y0
        q[qs] = e + o
        q[2 * qs] = e - o
        q[3 * qs] = e4 + o4
        q[4 * qs] = e4 - o4
        q[5 * qs] = y3
    }

    /// G (3 -> 6).
    @inline(__always)
    static func g(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let g0 = p[0], g1 = p[ps], g2 = p[2 * ps]
        let s02 = g0 + g2
        let outer: WinogradLanes = g0 * Float(1.0 / 24) + g2 * Float(1.0 / 6)
        let twelfth: WinogradLanes = g1 * Float(1.0 / 12)
        q[0] = g0 * Float(1.0 / 4)
        q[qs] = (s02 + g1) * Float(-1.0 / 6)
        q[2 * qs] = (s02 - g1) * Float(-1.0 / 6)
        q[3 * qs] = outer + twelfth
        q[4 * qs] = outer - twelfth
        q[5 * qs] = g2
    }

    /// Gᵀ (6 -> 3), the transpose of `g`.
    @inline(__always)
    static func gt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps], u4 = p[4 * ps], u5 = p[5 * ps]
        let s12 = u1 + u2, d12 = u2 - u1, s34 = u3 + u4, d34 = u3 - u4
        let first: WinogradLanes = u0 * Float(1.0 / 4) - s12 * Float(1.0 / 6)
        q[0] = first + s34 * Float(1.0 / 24)
        q[qs] = d12 * Float(1.0 / 6) + d34 * Float(1.0 / 12)
        q[2 * qs] = (s34 - s12) * Float(1.0 / 6) + u5
    }
}

/// The tile transforms of Winograd F(6x6, 3x3) (interpolation points 0, ±1, ±2, ±1/2 and
/// infinity, as Lavin & Gray and NNPACK): a 6x6 output tile from an 8x8 input tile with 64
/// multiplications instead of 324, 1.78 per output against F(4x4, 3x3)'s 2.25. The larger
/// entries (Aᵀ up to 32, Bᵀ up to 5.25) make its rounding error a few times F(4x4, 3x3)'s
/// (WinogradTests measures both).
///
/// Layout and conventions as WinogradF43, with 8x8 tiles (ξ = 8 i + j) and 6x6 outputs; each
/// 1-D transform below factors its matrix into sums and differences of the symmetric point
/// pairs, as NNPACK does. CWinograd's winograd63_avx2.c repeats every operation in this order.
enum WinogradF63: WinogradTileTransforms {
    static let outputSize = 6, filterSize = 3

    // MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

    /// Bᵀ (8 -> 8).
    @inline(__always)
    static func bt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps]
        let d4 = p[4 * ps], d5 = p[5 * ps], d6 = p[6 * ps], d7 = p[7 * ps]
        let t1 = (d2 + d6) - 4.25 * d4
        let t2 = (d1 + d5) - 4.25 * d3
        let t3 = (d6 + 0.25 * d2) - 1.25 * d4
        let t4 = (0.5 * d1 - 2.5 * d3) + 2 * d5
        let t5 = (d6 + 4 * d2) - 5 * d4
        let t6 = (2 * d1 - 2.5 * d3) + 0.5 * d5
        q[0] = (d0 - d6) + 5.25 * (d4 - d2)
        q[qs] = t1 + t2
        q[2 * qs] = t1 - t2
        q[3 * qs] = t3 + t4
        q[4 * qs] = t3 - t4
        q[5 * qs] = t5 + t6
        q[6 * qs] = t5 - t6
        q[7 * qs] = (d7 - d1) + 5.25 * (d3 - d5)
    }

    /// Aᵀ (8 -> 6).
    @inline(__always)
    static func at(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps]
        let m4 = p[4 * ps], m5 = p[5 * ps], m6 = p[6 * ps], m7 = p[7 * ps]
        let s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4, s3 = m5 + m6, d3 = m5 - m6
        q[0] = m0 + s1 + s2 + s3
        q[qs] = d1 + 2 * d2 + 0.5 * d3
        q[2 * qs] = s1 + 4 * s2 + 0.25 * s3
        q[3 * qs] = d1 + 8 * d2 + 0.125 * d3
        q[4 * qs] = s1 + 16 * s2 + 0.0625 * s3
        q[5 * qs] = d1 + 32 * d2 + 0.03125 * d3 + m7
    }

    /// A = (Aᵀ)ᵀ (6 -> 8), the transpose of `at`.
    @inline(__always)
    static func a(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps], y5 = p[5 * ps]
        let e1 = y0 + y2 + y4, o1 = y1 + y3 + y5
        let e2 = y0 + 4 * y2 + 16 * y4, o2 = 2 * y1 + 8 * y3 + 32 * y5
        let e3 = y0 + 0.25 * y2 + 0.0625 * y4
        let o3 = 0.5 * y1 + 0.125 * y3 + 0.03125 * y5
        q[0] = y0
        q[qs] = e1 + o1
        q[2 * qs] = e1 - o1
        q[3 * qs] = e2 + o2
        q[4 * qs] = e2 - o2
        q[5 * qs] = e3 + o3
        q[6 * qs] = e3 - o3
        q[7 * qs] = y5
    }

    /// G (3 -> 8).
    @inline(__always)
    static func g(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let g0 = p[0], g1 = p[ps], g2 = p[2 * ps]
        let s02 = g0 + g2
        let small: WinogradLanes = g0 * Float(1.0 / 90) + g2 * Float(2.0 / 45)
        let small1: WinogradLanes = g1 * Float(1.0 / 45)
        let large: WinogradLanes = g0 * Float(32.0 / 45) + g2 * Float(8.0 / 45)
        let large1: WinogradLanes = g1 * Float(16.0 / 45)
        q[0] = g0
        q[qs] = (s02 + g1) * Float(-2.0 / 9)
        q[2 * qs] = (s02 - g1) * Float(-2.0 / 9)
        q[3 * qs] = small + small1
        q[4 * qs] = small - small1
        q[5 * qs] = large + large1
        q[6 * qs] = large - large1
        q[7 * qs] = g2
    }

    /// Gᵀ (8 -> 3), the transpose of `g`.
    @inline(__always)
    static func gt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps]
        let u4 = p[4 * ps], u5 = p[5 * ps], u6 = p[6 * ps], u7 = p[7 * ps]
        let s12 = u1 + u2, d12 = u1 - u2, s34 = u3 + u4, d34 = u3 - u4, s56 = u5 + u6, d56 = u5 - u6
        let ninths: WinogradLanes = s12 * Float(-2.0 / 9)
        let first: WinogradLanes = u0 + ninths + s34 * Float(1.0 / 90)
        q[0] = first + s56 * Float(32.0 / 45)
        let middle: WinogradLanes = d12 * Float(-2.0 / 9) + d34 * Float(1.0 / 45)
        q[qs] = middle + d56 * Float(16.0 / 45)
        let last: WinogradLanes = ninths + s34 * Float(2.0 / 45) + s56 * Float(8.0 / 45)
        q[2 * qs] = last + u7
    }
}

/// The tile transforms of Winograd F(6x6, 2x2) (interpolation points ±1, ±2, ±1/2 and infinity):
/// a 6x6 output tile of a 2x2 valid convolution from a 7x7 input tile with 49 multiplications
/// instead of 144. The stride-2 3x3 convolutions run through it over their input's four phases
/// (StrideTwoWinograd): 4 x 49 / 36 = 5.44 multiplications an output and channel pair against
/// the direct 9.
///
/// The points are F(6x6, 3x3)'s without 0: symmetric, so every 1-D transform factors into sums
/// and differences of the pairs as WinogradF63's do, and with 0 in place of -1/2 the rounding was
/// larger (128 -> 128 channels at 48x48 outputs, float32 against exact: RMS 5.4e-6, largest
/// 8.9e-5, against 6.2e-6 / 1.0e-4; `bench/winograd_tile_error.py`'s construction). Rows of Bᵀ
/// for the negative points are negated, and the rows of G with them, so the pairs read e ± o.
///
/// Layout and conventions as WinogradF43, with 7x7 tiles (ξ = 7 i + j), 6x6 outputs and 2x2
/// filters; elements ordered by point: 1, -1, 2, -2, 1/2, -1/2, infinity. CWinograd's
/// winograd62_avx2.c repeats every operation in this order.
enum WinogradF62: WinogradTileTransforms {
    static let outputSize = 6, filterSize = 2

    // MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

    /// Bᵀ (7 -> 7).
    @inline(__always)
    static func bt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps]
        let d4 = p[4 * ps], d5 = p[5 * ps], d6 = p[6 * ps]
        let e1 = (d0 + d4) - 4.25 * d2
        let o1 = (d1 + d5) - 4.25 * d3
        let e2 = (0.5 * d0 + 2 * d4) - 2.5 * d2
        let o2 = (0.25 * d1 + d5) - 1.25 * d3
        let e3 = (2 * d0 + 0.5 * d4) - 2.5 * d2
        let o3 = (4 * d1 + d5) - 5 * d3
        q[0] = e1 + o1
        q[qs] = e1 - o1
        q[2 * qs] = e2 + o2
        q[3 * qs] = e2 - o2
        q[4 * qs] = e3 + o3
        q[5 * qs] = e3 - o3
        q[6 * qs] = (d6 - d0) + 5.25 * (d2 - d4)
    }

    /// Aᵀ (7 -> 6).
    @inline(__always)
    static func at(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps]
        let m4 = p[4 * ps], m5 = p[5 * ps], m6 = p[6 * ps]
        let s1 = m0 + m1, d1 = m0 - m1, s2 = m2 + m3, d2 = m2 - m3, s3 = m4 + m5, d3 = m4 - m5
        q[0] = (s1 + s2) + s3
        q[qs] = (d1 + 2 * d2) + 0.5 * d3
        q[2 * qs] = (s1 + 4 * s2) + 0.25 * s3
        q[3 * qs] = (d1 + 8 * d2) + 0.125 * d3
        q[4 * qs] = (s1 + 16 * s2) + 0.0625 * s3
        q[5 * qs] = ((d1 + 32 * d2) + 0.03125 * d3) + m6
    }

    /// A = (Aᵀ)ᵀ (6 -> 7), the transpose of `at`.
    @inline(__always)
    static func a(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps], y5 = p[5 * ps]
        let e1 = (y0 + y2) + y4, o1 = (y1 + y3) + y5
        let e2 = (y0 + 4 * y2) + 16 * y4, o2 = (2 * y1 + 8 * y3) + 32 * y5
        let e3 = (y0 + 0.25 * y2) + 0.0625 * y4
        let o3 = (0.5 * y1 + 0.125 * y3) + 0.03125 * y5
        q[0] = e1 + o1
        q[qs] = e1 - o1
        q[2 * qs] = e2 + o2
        q[3 * qs] = e2 - o2
        q[4 * qs] = e3 + o3
        q[5 * qs] = e3 - o3
        q[6 * qs] = y5
    }

    /// G (2 -> 7).
    @inline(__always)
    static func g(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let g0 = p[0], g1 = p[ps]
        let small: WinogradLanes = g0 * Float(1.0 / 45)
        let small1: WinogradLanes = g1 * Float(2.0 / 45)
        let large: WinogradLanes = g0 * Float(16.0 / 45)
        let large1: WinogradLanes = g1 * Float(8.0 / 45)
        q[0] = (g0 + g1) * Float(-2.0 / 9)
        q[qs] = (g0 - g1) * Float(-2.0 / 9)
        q[2 * qs] = small + small1
        q[3 * qs] = small - small1
        q[4 * qs] = large + large1
        q[5 * qs] = large - large1
        q[6 * qs] = g1
    }

    /// Gᵀ (7 -> 2), the transpose of `g`.
    @inline(__always)
    static func gt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps]
        let u4 = p[4 * ps], u5 = p[5 * ps], u6 = p[6 * ps]
        let s01 = u0 + u1, d01 = u0 - u1, s23 = u2 + u3, d23 = u2 - u3, s45 = u4 + u5, d45 = u4 - u5
        let first: WinogradLanes = s01 * Float(-2.0 / 9) + s23 * Float(1.0 / 45)
        q[0] = first + s45 * Float(16.0 / 45)
        let second: WinogradLanes = d01 * Float(-2.0 / 9) + d23 * Float(2.0 / 45)
        q[qs] = (second + d45 * Float(8.0 / 45)) + u6
    }
}

/// The tile transforms of Winograd F(8x8, 3x3) (interpolation points 0, ±5/4, ±4/5, ±5/2, ±2/5
/// and infinity): an 8x8 output tile from a 10x10 input tile with 100 multiplications instead of
/// 576, 1.56 per output against F(6x6, 3x3)'s 1.78. Its rows also fit the destinations the
/// nets have (32 tiles across 256 columns, where F(6x6, 3x3) takes 43 and drops 2 columns), so
/// the products' widths are multiples of 8. The price is rounding: with these points (the best
/// of a search, BENCHMARKS.md, twenty-ninth part) float32 lands about five times as far from the
/// exact result as F(6x6, 3x3) (`python3 bench/winograd83_transforms.py check`: RMS 2.3e-5 of
/// the output's RMS, largest 5.0e-4, at 128 -> 128 channels, against 4.4e-6 and 6.8e-5), still
/// about a hundredth of a bf16 direct convolution's; WinogradTests holds every tile to 1e-4 of
/// the result's scale against plain loops.
///
/// Layout and conventions as WinogradF43, with 10x10 tiles (ξ = 10 i + j) and 8x8 outputs;
/// elements ordered by point: 0, 5/4, -5/4, 4/5, -4/5, 5/2, -5/2, 2/5, -2/5, infinity. Each
/// 1-D transform is a pair's even part e plus or minus its odd part o (or, for Aᵀ and Gᵀ, the
/// pair's sum s and difference t weighted by the point's powers), written out by
/// `bench/winograd83_transforms.py` (`swift`), which derives them from the points; the constants
/// are the float32 values of the exact fractions. Unlike the other tiles' transforms these fuse
/// each multiply with the add after it (`addingProduct`, one rounding): the coefficients are no
/// powers of two, and unfused the transforms took about twice F(6x6, 3x3)'s operations a tile,
/// which cost the backward passes what the products saved (BENCHMARKS.md, thirty-first part).
/// On the x86-64 baseline `addingProduct` is a library call per lane, so this portable version is
/// slow; CWinograd's winograd83_avx2.c (AVX2 with FMA) repeats every operation in this order (the
/// same script's `c`), with the same bits.
enum WinogradF83: WinogradTileTransforms {
    static let outputSize = 8, filterSize = 3

    // MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

    /// Bᵀ (10 -> 10).
    @inline(__always)
    static func bt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps], d4 = p[4 * ps]
        let d5 = p[5 * ps], d6 = p[6 * ps], d7 = p[7 * ps], d8 = p[8 * ps], d9 = p[9 * ps]
        let e1: WinogradLanes = (-0x1.47ae14p-1 * d2).addingProduct(0x1.468db8p+2, d4).addingProduct(-0x1.c33334p+2, d6) + d8
        let o1: WinogradLanes = (-0x1.99999ap-1 * d1).addingProduct(0x1.983126p+2, d3).addingProduct(-0x1.1ap+3, d5).addingProduct(0x1.4p+0, d7)
        let e2: WinogradLanes = (-0x1.9p+0 * d2).addingProduct(0x1.608p+3, d4).addingProduct(-0x1.fe3d7p+2, d6) + d8
        let o2: WinogradLanes = (-0x1.4p+0 * d1).addingProduct(0x1.1ap+3, d3).addingProduct(-0x1.983126p+2, d5).addingProduct(0x1.99999ap-1, d7)
        let e3: WinogradLanes = (-0x1.47ae14p-3 * d2).addingProduct(0x1.5a36e2p+0, d4).addingProduct(-0x1.2e6666p+1, d6) + d8
        let o3: WinogradLanes = (-0x1.99999ap-2 * d1).addingProduct(0x1.b0c49cp+1, d3).addingProduct(-0x1.7ap+2, d5).addingProduct(0x1.4p+1, d7)
        let e4: WinogradLanes = (-0x1.9p+2 * d2).addingProduct(0x1.d88p+3, d4).addingProduct(-0x1.0e7ae2p+3, d6) + d8
        let o4: WinogradLanes = (-0x1.4p+1 * d1).addingProduct(0x1.7ap+2, d3).addingProduct(-0x1.b0c49cp+1, d5).addingProduct(0x1.99999ap-2, d7)
        q[0] = d0.addingProduct(-0x1.13999ap+3, d2).addingProduct(0x1.01e36ep+4, d4).addingProduct(-0x1.13999ap+3, d6) + d8
        q[qs] = e1 + o1
        q[2 * qs] = e1 - o1
        q[3 * qs] = e2 + o2
        q[4 * qs] = e2 - o2
        q[5 * qs] = e3 + o3
        q[6 * qs] = e3 - o3
        q[7 * qs] = e4 + o4
        q[8 * qs] = e4 - o4
        q[9 * qs] = d1.addingProduct(-0x1.13999ap+3, d3).addingProduct(0x1.01e36ep+4, d5).addingProduct(-0x1.13999ap+3, d7) + d9
    }

    /// Aᵀ (10 -> 8).
    @inline(__always)
    static func at(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps], m4 = p[4 * ps]
        let m5 = p[5 * ps], m6 = p[6 * ps], m7 = p[7 * ps], m8 = p[8 * ps], m9 = p[9 * ps]
        let s1: WinogradLanes = m1 + m2
        let t1: WinogradLanes = m1 - m2
        let s2: WinogradLanes = m3 + m4
        let t2: WinogradLanes = m3 - m4
        let s3: WinogradLanes = m5 + m6
        let t3: WinogradLanes = m5 - m6
        let s4: WinogradLanes = m7 + m8
        let t4: WinogradLanes = m7 - m8
        q[0] = (((m0 + s1) + s2) + s3) + s4
        q[qs] = (0x1.4p+0 * t1).addingProduct(0x1.99999ap-1, t2).addingProduct(0x1.4p+1, t3).addingProduct(0x1.99999ap-2, t4)
        q[2 * qs] = (0x1.9p+0 * s1).addingProduct(0x1.47ae14p-1, s2).addingProduct(0x1.9p+2, s3).addingProduct(0x1.47ae14p-3, s4)
        q[3 * qs] = (0x1.f4p+0 * t1).addingProduct(0x1.0624dep-1, t2).addingProduct(0x1.f4p+3, t3).addingProduct(0x1.0624dep-4, t4)
        q[4 * qs] = (0x1.388p+1 * s1).addingProduct(0x1.a36e2ep-2, s2).addingProduct(0x1.388p+5, s3).addingProduct(0x1.a36e2ep-6, s4)
        q[5 * qs] = (0x1.86ap+1 * t1).addingProduct(0x1.4f8b58p-2, t2).addingProduct(0x1.86ap+6, t3).addingProduct(0x1.4f8b58p-7, t4)
        q[6 * qs] = (0x1.e848p+1 * s1).addingProduct(0x1.0c6f7ap-2, s2).addingProduct(0x1.e848p+7, s3).addingProduct(0x1.0c6f7ap-8, s4)
        q[7 * qs] = (0x1.312dp+2 * t1).addingProduct(0x1.ad7f2ap-3, t2).addingProduct(0x1.312dp+9, t3).addingProduct(0x1.ad7f2ap-10, t4) + m9
    }

    /// A = (Aᵀ)ᵀ (8 -> 10), the transpose of `at`.
    @inline(__always)
    static func a(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps]
        let y5 = p[5 * ps], y6 = p[6 * ps], y7 = p[7 * ps]
        let e1: WinogradLanes = y0.addingProduct(0x1.9p+0, y2).addingProduct(0x1.388p+1, y4).addingProduct(0x1.e848p+1, y6)
        let o1: WinogradLanes = (0x1.4p+0 * y1).addingProduct(0x1.f4p+0, y3).addingProduct(0x1.86ap+1, y5).addingProduct(0x1.312dp+2, y7)
        let e2: WinogradLanes = y0.addingProduct(0x1.47ae14p-1, y2).addingProduct(0x1.a36e2ep-2, y4).addingProduct(0x1.0c6f7ap-2, y6)
        let o2: WinogradLanes = (0x1.99999ap-1 * y1).addingProduct(0x1.0624dep-1, y3).addingProduct(0x1.4f8b58p-2, y5).addingProduct(0x1.ad7f2ap-3, y7)
        let e3: WinogradLanes = y0.addingProduct(0x1.9p+2, y2).addingProduct(0x1.388p+5, y4).addingProduct(0x1.e848p+7, y6)
        let o3: WinogradLanes = (0x1.4p+1 * y1).addingProduct(0x1.f4p+3, y3).addingProduct(0x1.86ap+6, y5).addingProduct(0x1.312dp+9, y7)
        let e4: WinogradLanes = y0.addingProduct(0x1.47ae14p-3, y2).addingProduct(0x1.a36e2ep-6, y4).addingProduct(0x1.0c6f7ap-8, y6)
        let o4: WinogradLanes = (0x1.99999ap-2 * y1).addingProduct(0x1.0624dep-4, y3).addingProduct(0x1.4f8b58p-7, y5).addingProduct(0x1.ad7f2ap-10, y7)
        q[0] = y0
        q[qs] = e1 + o1
        q[2 * qs] = e1 - o1
        q[3 * qs] = e2 + o2
        q[4 * qs] = e2 - o2
        q[5 * qs] = e3 + o3
        q[6 * qs] = e3 - o3
        q[7 * qs] = e4 + o4
        q[8 * qs] = e4 - o4
        q[9 * qs] = y7
    }

    /// G (3 -> 10).
    @inline(__always)
    static func g(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let g0 = p[0], g1 = p[ps], g2 = p[2 * ps]
        let e1: WinogradLanes = (-0x1.b03e92p-5 * g0).addingProduct(-0x1.51b0e2p-4, g2)
        let o1: WinogradLanes = -0x1.0e271cp-4 * g1
        let e2: WinogradLanes = (0x1.420c14p-2 * g0).addingProduct(0x1.9c386cp-3, g2)
        let o2: WinogradLanes = 0x1.01a344p-2 * g1
        let e3: WinogradLanes = (0x1.05e6dcp-11 * g0).addingProduct(0x1.9938b8p-9, g2)
        let o3: WinogradLanes = 0x1.476092p-10 * g1
        let e4: WinogradLanes = (-0x1.86439ap-1 * g0).addingProduct(-0x1.f389bcp-4, g2)
        let o4: WinogradLanes = -0x1.383616p-2 * g1
        q[0] = g0
        q[qs] = e1 + o1
        q[2 * qs] = e1 - o1
        q[3 * qs] = e2 + o2
        q[4 * qs] = e2 - o2
        q[5 * qs] = e3 + o3
        q[6 * qs] = e3 - o3
        q[7 * qs] = e4 + o4
        q[8 * qs] = e4 - o4
        q[9 * qs] = g2
    }

    /// Gᵀ (10 -> 3), the transpose of `g`.
    @inline(__always)
    static func gt(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, _ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {
        let u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps], u4 = p[4 * ps]
        let u5 = p[5 * ps], u6 = p[6 * ps], u7 = p[7 * ps], u8 = p[8 * ps], u9 = p[9 * ps]
        let s1: WinogradLanes = u1 + u2
        let t1: WinogradLanes = u1 - u2
        let s2: WinogradLanes = u3 + u4
        let t2: WinogradLanes = u3 - u4
        let s3: WinogradLanes = u5 + u6
        let t3: WinogradLanes = u5 - u6
        let s4: WinogradLanes = u7 + u8
        let t4: WinogradLanes = u7 - u8
        q[0] = u0.addingProduct(-0x1.b03e92p-5, s1).addingProduct(0x1.420c14p-2, s2).addingProduct(0x1.05e6dcp-11, s3).addingProduct(-0x1.86439ap-1, s4)
        q[qs] = (-0x1.0e271cp-4 * t1).addingProduct(0x1.01a344p-2, t2).addingProduct(0x1.476092p-10, t3).addingProduct(-0x1.383616p-2, t4)
        q[2 * qs] = (-0x1.51b0e2p-4 * s1).addingProduct(0x1.9c386cp-3, s2).addingProduct(0x1.9938b8p-9, s3).addingProduct(-0x1.f389bcp-4, s4) + u9
    }
}
