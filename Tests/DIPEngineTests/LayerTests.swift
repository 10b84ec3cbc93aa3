import DIPCore
import Foundation
import Testing
@testable import DIPEngine

// Every layer is checked twice against a plain Float64 reference written here: the forward
// output, and the backward against central finite differences (h = 1e-6) of
// sum(g * reference(x)) for a random output gradient g. Shapes are small and odd on purpose.

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

// MARK: Tests

@Suite("Layers against Float64 references")
struct LayerTests {
    let serial = ChannelParallel(threads: 1)

    @Test("reflection padding, including pads of size - 1 (the 1-pixel edge)",
          arguments: [(FeatureShape(channels: 2, height: 5, width: 7), 1), (FeatureShape(channels: 1, height: 5, width: 7), 2),
                      (FeatureShape(channels: 2, height: 2, width: 3), 1), (FeatureShape(channels: 1, height: 3, width: 4), 2),
                      (FeatureShape(channels: 1, height: 1, width: 1), 0)])
    func reflectionPad(shape s: FeatureShape, pad p: Int) throws {
        let layer = ReflectionPad(pad: p, parallel: serial)
        let o = try layer.prepare(inputShape: s)
        let x = randomTensor(s.dims, seed: 1)
        expectClose(layer.forward(x), referencePad(float64s(x), s, p), tol: 0, "pad forward")
        let g = randomTensor(o.dims, seed: 2)
        expectClose(layer.backward(g), numericGradient(float64s(x), float64s(g)) { referencePad($0, s, p) },
                    tol: 1e-6, "pad backward")
    }

    @Test("a reflection pad as wide as the image is refused")
    func padTooWide() {
        let layer = ReflectionPad(pad: 2, parallel: serial)
        #expect(throws: EngineError.self) { try layer.prepare(inputShape: FeatureShape(channels: 1, height: 2, width: 9)) }
    }

    @Test("BatchNorm (training mode) with and without the fused LeakyReLU; running statistics as PyTorch",
          arguments: [Float(0.2), nil])
    func batchNorm(slope: Float?) throws {
        let s = FeatureShape(channels: 3, height: 5, width: 7)
        var rng = RandomStream(seed: 3, purpose: .weights)
        let bn = BatchNorm(channels: 3, negativeSlope: slope, gammaInit: .uniform, rng: &rng, parallel: serial)
        bn.bias.copy(from: Tensor([3], values: [0.1, -0.3, 0.05]))
        try bn.prepare(inputShape: s)
        let x = randomTensor(s.dims, seed: 4, low: -2, high: 3)
        let all = float64s(x) + float64s(bn.weight) + float64s(bn.bias)
        let ref = { (v: [Double]) in referenceBatchNorm(v, s, slope: slope.map(Double.init)) }
        expectClose(bn.forward(x), ref(all), tol: 2e-6, "BN forward")

        let g = randomTensor(s.dims, seed: 5)
        let numeric = numericGradient(all, float64s(g), ref)
        expectClose(bn.backward(g), Array(numeric[0..<s.count]), tol: 1e-5, "BN d/dx")
        expectClose(bn.gradWeight, Array(numeric[s.count..<(s.count + 3)]), tol: 1e-5, "BN d/dgamma")
        expectClose(bn.gradBias, Array(numeric[(s.count + 3)...]), tol: 1e-5, "BN d/dbeta")

        // running = 0.9 running + 0.1 batch statistic (variance unbiased); counter +1 per forward.
        let xs = float64s(x), n = Double(s.plane)
        for c in 0..<3 {
            let plane = xs[(c * s.plane)..<((c + 1) * s.plane)]
            let mean = plane.reduce(0, +) / n
            let unbiased = plane.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            #expect(abs(Double(bn.runningMean.pointer[c]) - 0.1 * mean) < 1e-6)
            #expect(abs(Double(bn.runningVar.pointer[c]) - (0.9 + 0.1 * unbiased)) < 1e-6)
        }
        #expect(bn.numBatchesTracked.pointer[0] == 1)
    }

    @Test("BatchNorm gives the same bits on 1 and 3 threads")
    func batchNormThreads() throws {
        let s = FeatureShape(channels: 5, height: 9, width: 11)
        func run(_ threads: Int) throws -> ([Float], [Float], [Float]) {
            var rng = RandomStream(seed: 6, purpose: .weights)
            let bn = BatchNorm(channels: 5, negativeSlope: 0.2, gammaInit: .uniform, rng: &rng,
                               parallel: ChannelParallel(threads: threads))
            try bn.prepare(inputShape: s)
            let y = bn.forward(randomTensor(s.dims, seed: 7)).array
            let dx = bn.backward(randomTensor(s.dims, seed: 8)).array
            return (y, dx, bn.gradWeight.array)
        }
        let (a, b) = (try run(1), try run(3))
        #expect(a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
    }

    @Test("a 1x1 plane is refused by BatchNorm (no batch statistics)")
    func batchNormSinglePixel() {
        var rng = RandomStream(seed: 1, purpose: .weights)
        let bn = BatchNorm(channels: 2, negativeSlope: nil, gammaInit: .one, rng: &rng, parallel: serial)
        #expect(throws: EngineError.self) { try bn.prepare(inputShape: FeatureShape(channels: 2, height: 1, width: 1)) }
    }

    @Test("upsample x2: nearest and bilinear with align_corners true and false",
          arguments: [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)])
    func upsample(mode: SkipConfig.Upsampling) {
        for s in [FeatureShape(channels: 2, height: 5, width: 7), FeatureShape(channels: 1, height: 1, width: 3)] {
            let layer = Upsample2x(mode: mode, parallel: serial)
            let o = layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 11)
            expectClose(layer.forward(x), referenceUpsample(float64s(x), s, mode), tol: 1e-6, "upsample \(mode) forward")
            let g = randomTensor(o.dims, seed: 12)
            expectClose(layer.backward(g), numericGradient(float64s(x), float64s(g)) { referenceUpsample($0, s, mode) },
                        tol: 1e-5, "upsample \(mode) backward")
        }
    }

    @Test("bilinear matches PyTorch's documented example for [[1, 2], [3, 4]]")
    func bilinearPyTorchExample() {
        // torch.nn.Upsample documentation (PyTorch 1.x): input [[1, 2], [3, 4]], scale_factor 2.
        let expected: [(Bool, [Float])] = [
            (false, [1.00, 1.25, 1.75, 2.00, 1.50, 1.75, 2.25, 2.50, 2.50, 2.75, 3.25, 3.50, 3.00, 3.25, 3.75, 4.00]),
            (true, [1.0000, 1.3333, 1.6667, 2.0000, 1.6667, 2.0000, 2.3333, 2.6667,
                    2.3333, 2.6667, 3.0000, 3.3333, 3.0000, 3.3333, 3.6667, 4.0000]),
        ]
        for (ac, values) in expected {
            let layer = Upsample2x(mode: .bilinear(alignCorners: ac), parallel: serial)
            layer.prepare(inputShape: FeatureShape(channels: 1, height: 2, width: 2))
            let y = layer.forward(Tensor([1, 2, 2], values: [1, 2, 3, 4])).array
            #expect(zip(y, values).allSatisfy { abs($0 - $1) < 1e-4 }, "align_corners \(ac): \(y)")
        }
    }

    @Test("AvgPool2d(2, 2) with floor sizes")
    func avgPool() throws {
        for s in [FeatureShape(channels: 2, height: 5, width: 7), FeatureShape(channels: 1, height: 4, width: 2)] {
            let layer = AvgPool2x2(parallel: serial)
            let o = try layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 13)
            expectClose(layer.forward(x), referenceAvgPool(float64s(x), s), tol: 1e-6, "avg pool forward")
            let g = randomTensor(o.dims, seed: 14)
            expectClose(layer.backward(g), numericGradient(float64s(x), float64s(g)) { referenceAvgPool($0, s) },
                        tol: 1e-6, "avg pool backward")
        }
    }

    @Test("Concat(skip, deeper) crops both to the smaller size, centred")
    func concat() {
        let cases = [(FeatureShape(channels: 2, height: 5, width: 7), FeatureShape(channels: 3, height: 6, width: 8)),
                     (FeatureShape(channels: 1, height: 9, width: 7), FeatureShape(channels: 2, height: 5, width: 10)),
                     (FeatureShape(channels: 2, height: 4, width: 4), FeatureShape(channels: 1, height: 4, width: 4))]
        for (ss, ds) in cases {
            let layer = Concat(parallel: serial)
            let o = layer.prepare(skip: ss, deeper: ds)
            #expect(o == FeatureShape(channels: ss.channels + ds.channels, height: min(ss.height, ds.height),
                                      width: min(ss.width, ds.width)))
            let a = randomTensor(ss.dims, seed: 15), b = randomTensor(ds.dims, seed: 16)
            let ref = { (v: [Double]) in
                referenceCrop(Array(v[0..<ss.count]), ss, o.height, o.width)
                    + referenceCrop(Array(v[ss.count...]), ds, o.height, o.width)
            }
            let both = float64s(a) + float64s(b)
            expectClose(layer.forward(skip: a, deeper: b), ref(both), tol: 0, "concat forward")
            let g = randomTensor(o.dims, seed: 17)
            let numeric = numericGradient(both, float64s(g), ref)
            let (gs, gd) = layer.backward(g)
            expectClose(float64s(gs) + float64s(gd), numeric, tol: 1e-6, "concat backward")
        }
    }

    @Test("sigmoid")
    func sigmoid() {
        let s = FeatureShape(channels: 3, height: 3, width: 5)
        let layer = Sigmoid()
        layer.prepare(inputShape: s)
        let x = randomTensor(s.dims, seed: 18, low: -6, high: 6)
        let ref = { (v: [Double]) in v.map { 1 / (1 + exp(-$0)) } }
        expectClose(layer.forward(x), ref(float64s(x)), tol: 1e-6, "sigmoid forward")
        let g = randomTensor(s.dims, seed: 19)
        expectClose(layer.backward(g), numericGradient(float64s(x), float64s(g), ref), tol: 1e-6, "sigmoid backward")
    }

    @Test("convolution layer: reflection pad + kernel + bias, stride 1 and 2, 1x1 without pad",
          arguments: [(3, 1), (3, 2), (5, 2), (1, 1)])
    func conv(kernel k: Int, stride: Int) throws {
        let s = FeatureShape(channels: 2, height: 5, width: 7)
        var rng = RandomStream(seed: 20, purpose: .weights)
        let conv = Conv2d(inChannels: 2, outChannels: 3, kernel: k, stride: stride, rng: &rng, parallel: serial)
        let o = try conv.prepare(inputShape: s, backend: ReferenceBackend(), algorithm: .direct)
        #expect(o == FeatureShape(channels: 3, height: (s.height - 1) / stride + 1, width: (s.width - 1) / stride + 1))
        let x = randomTensor(s.dims, seed: 21)
        let all = float64s(x) + float64s(conv.weight) + float64s(conv.bias)
        let ref = { (v: [Double]) in referenceConv(v, s, out: 3, k: k, stride: stride) }
        expectClose(try conv.forward(x), ref(all), tol: 1e-5, "conv forward")
        let g = randomTensor(o.dims, seed: 22)
        let numeric = numericGradient(all, float64s(g), ref)
        let gx = try #require(try conv.backward(g))
        expectClose(gx, Array(numeric[0..<s.count]), tol: 1e-5, "conv d/dx")
        expectClose(conv.gradWeight, Array(numeric[s.count..<(s.count + conv.weight.count)]), tol: 1e-5, "conv d/dw")
        expectClose(conv.gradBias, Array(numeric[(s.count + conv.weight.count)...]), tol: 1e-5, "conv d/db")
    }

    @Test("masked MSE: mean over C*H*W, 1-channel (broadcast) and per-channel masks")
    func maskedMSE() throws {
        let s = FeatureShape(channels: 3, height: 5, width: 7)
        let out = randomTensor(s.dims, seed: 23, low: 0, high: 1), target = randomTensor(s.dims, seed: 24, low: 0, high: 1)
        for maskChannels in [1, 3] {
            let mask = Tensor([maskChannels, 5, 7])
            let u = randomTensor(mask.dims, seed: 25, low: 0, high: 1)
            for i in 0..<mask.count { mask.pointer[i] = u.pointer[i] < 0.6 ? 1 : 0 }
            let m = float64s(mask), t = float64s(target)
            let ref = { (o: [Double]) -> [Double] in
                var total = 0.0
                for i in o.indices {
                    let mi = m[maskChannels == 1 ? i % s.plane : i]
                    total += (mi * o[i] - mi * t[i]) * (mi * o[i] - mi * t[i])
                }
                return [total / Double(s.count)]
            }
            let value = try MaskedMSELoss.value(output: out, target: target, mask: mask)
            #expect(abs(value - ref(float64s(out))[0]) < 1e-7)
            let grad = Tensor(s.dims)
            try MaskedMSELoss.gradient(output: out, target: target, mask: mask, into: grad)
            expectClose(grad, numericGradient(float64s(out), [1], ref), tol: 1e-6, "loss gradient")
        }
        #expect(throws: EngineError.self) {
            try MaskedMSELoss.value(output: out, target: target, mask: Tensor([2, 5, 7]))
        }
    }

    @Test("a BatchNorm writing into the next convolution's padded buffer gives the bits of BN then pad")
    func batchNormIntoPaddedWindow() throws {
        let s = FeatureShape(channels: 3, height: 6, width: 5)
        func bn() -> BatchNorm {
            var rng = RandomStream(seed: 30, purpose: .weights)
            return BatchNorm(channels: 3, negativeSlope: 0.2, gammaInit: .uniform, rng: &rng, parallel: serial)
        }
        let x = randomTensor(s.dims, seed: 31)
        let (plain, fused) = (bn(), bn())
        let (padCopy, padInPlace) = (ReflectionPad(pad: 1, parallel: serial), ReflectionPad(pad: 1, parallel: serial))
        try plain.prepare(inputShape: s)
        try padCopy.prepare(inputShape: s)
        try padInPlace.prepare(inputShape: s)
        try fused.prepare(inputShape: s, into: padInPlace.interior)
        let expected = padCopy.forward(plain.forward(x)).array
        let written = fused.forward(x)
        #expect(written === padInPlace.output)
        #expect(padInPlace.forward(written).array == expected)
        // The backward recomputes the activation's sign from the input: same bits as before.
        let g = randomTensor(s.dims, seed: 32)
        let g2 = Tensor(s.dims)
        g2.copy(from: g)
        #expect(plain.backward(g).array == fused.backward(g2).array)
        #expect(plain.gradWeight.array == fused.gradWeight.array && plain.gradBias.array == fused.gradBias.array)
    }

    @Test("the gradient pool lends a released block again, a padded-size request included")
    func tensorPoolReuse() {
        let pool = TensorPool()
        var t: Tensor? = pool.tensor(FeatureShape(channels: 4, height: 32, width: 32))
        let first = t!.pointer
        t = nil
        let padded = pool.tensor(FeatureShape(channels: 4, height: 32, width: 33))
        #expect(padded.pointer == first)
        #expect(pool.tensor(FeatureShape(channels: 4, height: 32, width: 32)).pointer != first)
        #expect(pool.totalBytes >= 2 * 4 * 32 * 32 * 4)
    }
}
