import DIPCore
import Foundation
import Testing
@testable import DIPEngine

// The shared Float64 references of the per-layer test files (ReflectionPadTests.swift,
// BatchNormTests.swift, ...): every layer is checked twice against a plain Float64 reference
// written here: the forward output, and the backward against central finite differences
// (h = 1e-6) of sum(g * reference(x)) for a random output gradient g. Shapes are small and odd
// on purpose.

/// A tensor of U(low, high) noise from the auxiliary stream.
func randomTensor(_ dims: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    let t = Tensor(dims)
    RandomStream(seed: seed, purpose: .auxiliary).fillUniform(t.buffer, low: low, high: high)
    return t
}

/// The elements as Float64.
func float64s(_ t: Tensor) -> [Double] { t.array.map(Double.init) }

/// d/dx_i of sum_j g_j f(x)_j by central differences, in Float64.
func numericGradient(_ x: [Double], _ g: [Double], h: Double = 1e-6, _ f: ([Double]) -> [Double]) -> [Double] {
    func dot(_ y: [Double]) -> Double { zip(y, g).reduce(0) { $0 + $1.0 * $1.1 } }
    return x.indices.map { i in
        var xp = x, xm = x
        xp[i] += h
        xm[i] -= h
        return (dot(f(xp)) - dot(f(xm))) / (2 * h)
    }
}

/// |actual - expected| <= tol * (1 + |expected|) element by element.
func expectClose(_ actual: [Double], _ expected: [Double], tol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) vs \(expected.count) values", sourceLocation: sourceLocation)
    let worst = zip(actual, expected).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
    #expect(worst <= tol, "\(what): worst relative error \(worst)", sourceLocation: sourceLocation)
}

/// Float32 values against a Float64 reference.
func expectClose(_ actual: Tensor, _ expected: [Double], tol: Double, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(float64s(actual), expected, tol: tol, what, sourceLocation: sourceLocation)
}

// MARK: Float64 references

/// Upstream's reflection: -1 -> 1, n -> n-2.
func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i) }

func referencePad(_ x: [Double], _ s: FeatureShape, _ p: Int) -> [Double] {
    let ho = s.height + 2 * p, wo = s.width + 2 * p
    var out = [Double](repeating: 0, count: s.channels * ho * wo)
    for c in 0..<s.channels { for y in 0..<ho { for xx in 0..<wo {
        out[(c * ho + y) * wo + xx] = x[(c * s.height + reflect(y - p, s.height)) * s.width + reflect(xx - p, s.width)]
    } } }
    return out
}

/// BatchNorm in training mode on [x..., gamma..., beta...], optionally followed by LeakyReLU.
func referenceBatchNorm(_ v: [Double], _ s: FeatureShape, slope: Double?) -> [Double] {
    let n = s.plane, c = s.channels
    var out = [Double](repeating: 0, count: c * n)
    for ch in 0..<c {
        let plane = v[(ch * n)..<(ch * n + n)]
        let mean = plane.reduce(0, +) / Double(n)
        let variance = plane.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        let gamma = v[c * n + ch], beta = v[c * n + c + ch]
        for i in 0..<n {
            let y = (v[ch * n + i] - mean) / (variance + 1e-5).squareRoot() * gamma + beta
            out[ch * n + i] = slope.map { y > 0 ? y : y * $0 } ?? y
        }
    }
    return out
}

/// PyTorch's bilinear source index and weights for one axis.
func bilinearTaps(_ n: Int, _ d: Int, alignCorners: Bool) -> (Int, Int, Double) {
    let m = 2 * n
    let src = alignCorners ? (m > 1 ? Double(n - 1) / Double(m - 1) : 0) * Double(d)
                           : max((Double(d) + 0.5) * 0.5 - 0.5, 0)
    let i0 = Int(src.rounded(.down))
    return (i0, min(i0 + 1, n - 1), src - Double(i0))
}

func referenceUpsample(_ x: [Double], _ s: FeatureShape, _ mode: SkipConfig.Upsampling) -> [Double] {
    let ho = 2 * s.height, wo = 2 * s.width
    var out = [Double](repeating: 0, count: s.channels * ho * wo)
    for c in 0..<s.channels { for y in 0..<ho { for xx in 0..<wo {
        let at = { (r: Int, q: Int) in x[(c * s.height + r) * s.width + q] }
        let v: Double
        switch mode {
        case .nearest: v = at(y / 2, xx / 2)
        case let .bilinear(ac):
            let (y0, y1, ly) = bilinearTaps(s.height, y, alignCorners: ac)
            let (x0, x1, lx) = bilinearTaps(s.width, xx, alignCorners: ac)
            v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1))
        }
        out[(c * ho + y) * wo + xx] = v
    } } }
    return out
}

func referenceAvgPool(_ x: [Double], _ s: FeatureShape) -> [Double] {
    let ho = s.height / 2, wo = s.width / 2
    var out = [Double](repeating: 0, count: s.channels * ho * wo)
    for c in 0..<s.channels { for y in 0..<ho { for xx in 0..<wo {
        var t = 0.0
        for dy in 0..<2 { for dx in 0..<2 { t += x[(c * s.height + 2 * y + dy) * s.width + 2 * xx + dx] } }
        out[(c * ho + y) * wo + xx] = t / 4
    } } }
    return out
}

/// Centre crop of every channel of `x` to h x w at offset ((H-h)/2, (W-w)/2).
func referenceCrop(_ x: [Double], _ s: FeatureShape, _ h: Int, _ w: Int) -> [Double] {
    let oy = (s.height - h) / 2, ox = (s.width - w) / 2
    var out: [Double] = []
    for c in 0..<s.channels { for y in 0..<h { for xx in 0..<w {
        out.append(x[(c * s.height + oy + y) * s.width + ox + xx])
    } } }
    return out
}

/// Reflection pad then valid convolution with bias, on [x..., weight..., bias...].
func referenceConv(_ v: [Double], _ s: FeatureShape, out o: Int, k: Int, stride: Int) -> [Double] {
    let p = (k - 1) / 2, nx = s.count, nw = o * s.channels * k * k
    let x = referencePad(Array(v[0..<nx]), s, p)
    let hp = s.height + 2 * p, wp = s.width + 2 * p
    let ho = (hp - k) / stride + 1, wo = (wp - k) / stride + 1
    var out = [Double](repeating: 0, count: o * ho * wo)
    for oc in 0..<o { for y in 0..<ho { for xx in 0..<wo {
        var t = v[nx + nw + oc]
        for i in 0..<s.channels { for u in 0..<k { for w in 0..<k {
            t += v[nx + ((oc * s.channels + i) * k + u) * k + w] * x[(i * hp + y * stride + u) * wp + xx * stride + w]
        } } }
        out[(oc * ho + y) * wo + xx] = t
    } } }
    return out
}
