/// Eight lanes of Float: eight tiles of one tile row (input, output and output-gradient
/// transforms) or eight channels (filter transforms) go through a transform together.
typealias WinogradLanes = SIMD8<Float>

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
enum WinogradF43 {
    /// Elements of a transformed 6x6 tile: the number of batched products.
    static let elements = 36

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

    // MARK: 2-D transforms; `work` holds at least 36 lanes.

    /// V = Bᵀ d B: 6x6 -> 6x6.
    @inline(__always)
    static func input(_ d: UnsafePointer<WinogradLanes>, _ v: UnsafeMutablePointer<WinogradLanes>,
                      work: UnsafeMutablePointer<WinogradLanes>) {
        for s in 0..<6 { bt(d + s, 6, work + s, 6) }
        for i in 0..<6 { bt(work + 6 * i, 1, v + 6 * i, 1) }
    }

    /// Y = Aᵀ m A: 6x6 -> 4x4.
    @inline(__always)
    static func output(_ m: UnsafePointer<WinogradLanes>, _ y: UnsafeMutablePointer<WinogradLanes>,
                       work: UnsafeMutablePointer<WinogradLanes>) {
        for s in 0..<6 { at(m + s, 6, work + s, 6) }
        for r in 0..<4 { at(work + 6 * r, 1, y + 4 * r, 1) }
    }

    /// dM = A dY Aᵀ: 4x4 -> 6x6.
    @inline(__always)
    static func outputGradient(_ dy: UnsafePointer<WinogradLanes>, _ dm: UnsafeMutablePointer<WinogradLanes>,
                               work: UnsafeMutablePointer<WinogradLanes>) {
        for b in 0..<4 { a(dy + b, 4, work + b, 4) }
        for r in 0..<6 { a(work + 4 * r, 1, dm + 6 * r, 1) }
    }

    /// U = G g Gᵀ: 3x3 -> 6x6.
    @inline(__always)
    static func filter(_ w: UnsafePointer<WinogradLanes>, _ u: UnsafeMutablePointer<WinogradLanes>,
                       work: UnsafeMutablePointer<WinogradLanes>) {
        for v in 0..<3 { g(w + v, 3, work + v, 3) }
        for i in 0..<6 { g(work + 3 * i, 1, u + 6 * i, 1) }
    }

    /// dg = Gᵀ dU G: 6x6 -> 3x3.
    @inline(__always)
    static func filterGradient(_ du: UnsafePointer<WinogradLanes>, _ dg: UnsafeMutablePointer<WinogradLanes>,
                               work: UnsafeMutablePointer<WinogradLanes>) {
        for j in 0..<6 { gt(du + j, 6, work + j, 6) }
        for u in 0..<3 { gt(work + 6 * u, 1, dg + 3 * u, 1) }
    }
}
