import DIPCore
import Foundation
import CLayerKernels
import Testing
@testable import DIPEngine

/// BatchNorm (plain and fused with LeakyReLU) against `referenceBatchNorm`, its thread
/// independence, its writing into a padded window, and its cost.
@Suite("BatchNorm")
struct BatchNormTests {
    let serial = ChannelParallel(threads: 1)

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

    @Test("the C passes (AVX2 and baseline) give the bits of their Swift reference expressions, tails and signs included, the plane sum too")
    func passesMatchReference() {
        LayerKernelVersions.begin()
        defer { LayerKernelVersions.end() }
        var rng = RandomStream(seed: 11, purpose: .auxiliary)
        for n in [1, 3, 4, 7, 8, 9, 13, 31, 32, 33, 100, 1031] {
            let x = (0..<n).map { _ in rng.uniform() * 4 - 2 }, g = (0..<n).map { _ in rng.uniform() * 2 - 1 }
            let meanF: Float = 0.125, scale: Float = 1.5, shift: Float = -0.25, slope: Float = 0.2, invF: Float = 0.75
            let k: Float = 0.9, a: Float = 0.01, b: Float = -0.02
            // Mean and variance by the rule of dip_cpu_bn_moments (sums of d = x - x[0] and d²).
            let first = Double(x[0])
            let s1 = BatchNorm.sum(n) { Double(x[$0]) - first }
            let s2 = BatchNorm.sum(n) { let d = Double(x[$0]) - first; return d * d }
            let m1 = s1 / Double(n)
            let mean = first + m1, variance = max(0, (s2 - s1 * m1) / Double(n))
            // The other passes: the Swift expressions of BatchNorm before they moved to C.
            let pre = x.map { ($0 - meanF) * scale + shift }
            let applied = pre.map { $0 > 0 ? $0 : $0 * slope }
            func dy(_ i: Int) -> Float { pre[i] > 0 ? g[i] : g[i] * slope }
            let sumDy = BatchNorm.sum(n) { Double(dy($0)) }
            let sumDyXhat = BatchNorm.sum(n) { Double(dy($0)) * Double((x[$0] - meanF) * invF) }
            let dx = (0..<n).map { i in k * (dy(i) - a - (x[i] - meanF) * invF * b) }
            // The plane sum of dx by the rule of dip_cpu_plane_sum (PlaneSum.swift's Swift loop
            // before it moved to C): element i of each whole block of 32 to partial sum i % 32,
            // the 32 added lane by lane, the lanes in order from zero, then the tail in order.
            let whole = n / 32 * 32
            var partial = [Float](repeating: 0, count: 32)
            for i in 0..<whole { partial[i % 32] += dx[i] }
            var dxSum: Float = 0
            for l in 0..<8 { dxSum += (partial[l] + partial[8 + l]) + (partial[16 + l] + partial[24 + l]) }
            for i in whole..<n { dxSum += dx[i] }
            for isa: Int32 in [0, 1] {
                dip_layer_kernels_force(isa)
                let what = "n \(n), \(dip_layer_kernels_isa() == 1 ? "AVX2" : "baseline")"
                var m = 0.0, v = 0.0
                dip_cpu_bn_moments(x, n, 1, &m, &v)
                #expect(m.bitPattern == mean.bitPattern && v.bitPattern == variance.bitPattern, "\(what): moments")
                var y = [Float](repeating: 0, count: n)
                dip_cpu_bn_apply(x, &y, 1, n, n, meanF, scale, shift, 1, slope)
                #expect(y.map(\.bitPattern) == applied.map(\.bitPattern), "\(what): apply")
                var sa = 0.0, sb = 0.0
                var (meanV, scaleV, shiftV, invV) = (meanF, scale, shift, invF)
                dip_cpu_bn_backward_sums(x, g, n, 1, &meanV, &scaleV, &shiftV, slope, &invV, &sa, &sb)
                #expect(sa.bitPattern == sumDy.bitPattern && sb.bitPattern == sumDyXhat.bitPattern, "\(what): backward sums")
                var gx = g
                dip_cpu_bn_backward_apply(x, &gx, n, meanF, scale, shift, slope, invF, k, a, b, nil)
                #expect(gx.map(\.bitPattern) == dx.map(\.bitPattern), "\(what): backward apply")
                // Into another buffer (a consumer's row), g left as it was.
                var into = [Float](repeating: .nan, count: n)
                dip_cpu_bn_backward_apply_into(x, g, &into, n, meanF, scale, shift, slope, invF, k, a, b)
                #expect(into.map(\.bitPattern) == dx.map(\.bitPattern), "\(what): backward apply into a row")
                #expect(dip_cpu_plane_sum(dx, n).bitPattern == dxSum.bitPattern, "\(what): plane sum")
                // The apply that sums what it writes: the same dx, and their plane sum.
                var summed = g, sum: Float = .nan
                dip_cpu_bn_backward_apply(x, &summed, n, meanF, scale, shift, slope, invF, k, a, b, &sum)
                #expect(summed.map(\.bitPattern) == dx.map(\.bitPattern) && sum.bitPattern == dxSum.bitPattern,
                        "\(what): backward apply with its plane sum")
            }
        }
    }

    @Test("the moments and backward sums of several planes at once (AVX2: two at a time) are those of each plane alone")
    func passesOverPlanes() {
        LayerKernelVersions.begin()
        defer { LayerKernelVersions.end() }
        var rng = RandomStream(seed: 13, purpose: .auxiliary)
        for (n, planes) in [(1, 2), (7, 2), (8, 3), (9, 2), (33, 5), (1031, 2), (4096, 4)] {
            let x = (0..<(n * planes)).map { _ in rng.uniform() * 4 - 2 }
            let g = (0..<(n * planes)).map { _ in rng.uniform() * 2 - 1 }
            // Each plane its own constants, so a plane that read another's would show.
            var means = (0..<planes).map { Float($0) * 0.25 - 0.5 }, scales = (0..<planes).map { 1 + Float($0) * 0.5 }
            var shifts = (0..<planes).map { Float($0) * 0.1 - 0.2 }, invs = (0..<planes).map { 0.5 + Float($0) * 0.125 }
            let slope: Float = 0.2
            for isa: Int32 in [0, 1] {
                dip_layer_kernels_force(isa)
                let what = "n \(n), \(planes) planes, \(dip_layer_kernels_isa() == 1 ? "AVX2" : "baseline")"
                var m = [Double](repeating: .nan, count: planes), v = m, sa = m, sb = m
                dip_cpu_bn_moments(x, n, planes, &m, &v)
                dip_cpu_bn_backward_sums(x, g, n, planes, &means, &scales, &shifts, slope, &invs, &sa, &sb)
                for p in 0..<planes {
                    let xp = Array(x[(p * n)..<((p + 1) * n)]), gp = Array(g[(p * n)..<((p + 1) * n)])
                    var m1 = 0.0, v1 = 0.0, sa1 = 0.0, sb1 = 0.0
                    var (mean, scale, shift, inv) = (means[p], scales[p], shifts[p], invs[p])
                    dip_cpu_bn_moments(xp, n, 1, &m1, &v1)
                    dip_cpu_bn_backward_sums(xp, gp, n, 1, &mean, &scale, &shift, slope, &inv, &sa1, &sb1)
                    #expect(m[p].bitPattern == m1.bitPattern && v[p].bitPattern == v1.bitPattern, "\(what): plane \(p) moments")
                    #expect(sa[p].bitPattern == sa1.bitPattern && sb[p].bitPattern == sb1.bitPattern, "\(what): plane \(p) sums")
                }
            }
        }
    }

    @Test("BatchNorm takes planes in pairs only where a pair of planes (and of gradients) fits half the L2")
    func planesAtOnce() {
        // A 256x256 plane: a pair of inputs takes 512 KiB, with their gradients 1 MiB.
        #expect(BatchNorm.planesAtOnce(plane: 65536, arrays: 1, level2Bytes: 2 << 20) == 2)
        #expect(BatchNorm.planesAtOnce(plane: 65536, arrays: 2, level2Bytes: 2 << 20) == 2)
        #expect(BatchNorm.planesAtOnce(plane: 65536, arrays: 2, level2Bytes: 1 << 20) == 1)
        #expect(BatchNorm.planesAtOnce(plane: 65536, arrays: 1, level2Bytes: 512 << 10) == 1)
        #expect(BatchNorm.planesAtOnce(plane: 16384, arrays: 2, level2Bytes: 512 << 10) == 2)
        #expect(BatchNorm.planesAtOnce(plane: 65536, arrays: 1, level2Bytes: nil) == 2)
    }

    @Test("the one-pass mean and variance agree with the two-pass ones where the first value is far from the rest or all are equal")
    func momentsAgainstTwoPasses() {
        LayerKernelVersions.begin()
        defer { LayerKernelVersions.end() }
        var rng = RandomStream(seed: 12, purpose: .auxiliary)
        let spread = (0..<4099).map { _ in rng.uniform() * 2 - 1 }
        // An outlier first (the shift), a large offset with a small spread, and a constant plane.
        for x in [[Float(1000)] + spread, spread.map { 3e4 + $0 * 1e-2 }, [Float](repeating: 2.5, count: 100)] {
            let n = Double(x.count), mean = x.reduce(0.0) { $0 + Double($1) } / n
            let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
            for isa: Int32 in [0, 1] {
                dip_layer_kernels_force(isa)
                var m = 0.0, v = 0.0
                dip_cpu_bn_moments(x, x.count, 1, &m, &v)
                #expect(abs(m - mean) <= 1e-12 * max(1, abs(mean)), "mean \(m) against \(mean)")
                #expect(abs(v - variance) <= 1e-9 * max(variance, 1e-30), "variance \(v) against \(variance)")
            }
        }
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

    @Test("a BatchNorm's backward in two channel ranges, the second handed to a consumer row by row, gives the whole backward's bits",
          arguments: [Float(0.2), nil])
    func batchNormHandsOffRows(slope: Float?) throws {
        // 11 columns: an eight-value step and a tail in every row.
        let s = FeatureShape(channels: 5, height: 9, width: 11)
        func bn() throws -> BatchNorm {
            var rng = RandomStream(seed: 40, purpose: .weights)
            let layer = BatchNorm(channels: 5, negativeSlope: slope, gammaInit: .uniform, rng: &rng,
                                  parallel: ChannelParallel(threads: 3))
            try layer.prepare(inputShape: s)
            _ = layer.forward(randomTensor(s.dims, seed: 41))
            return layer
        }
        let (plain, split) = (try bn(), try bn())
        let expected = plain.backward(randomTensor(s.dims, seed: 42)).array.map(\.bitPattern)
        let g = randomTensor(s.dims, seed: 42), before = g.array, rows = Tensor(s.dims)
        let kept = 2 * s.plane
        split.backward(g, channels: 0..<2)
        #expect(Array(g.array[kept...]) == Array(before[kept...]), "the other channels left as they were")
        let out = UncheckedBox(rows.pointer)
        split.backward(g, handingOff: 2..<5) { c, made in
            #expect(made.width == s.width)
            for r in 0..<s.height { made.row(r, into: out.value + (2 + c) * s.plane + r * s.width) }
        }
        #expect(Array(g.array[kept...]) == Array(before[kept...]), "the handed-off channels not written")
        #expect(Array(g.array[..<kept]).map(\.bitPattern) == Array(expected[..<kept]), "the channels written")
        #expect(Array(rows.array[kept...]).map(\.bitPattern) == Array(expected[kept...]), "the channels handed off")
        #expect(plain.gradWeight.array == split.gradWeight.array && plain.gradBias.array == split.gradBias.array)
    }

    @Test("a 1x1 plane is refused by BatchNorm (no batch statistics)")
    func batchNormSinglePixel() {
        var rng = RandomStream(seed: 1, purpose: .weights)
        let bn = BatchNorm(channels: 2, negativeSlope: nil, gammaInit: .one, rng: &rng, parallel: serial)
        #expect(throws: EngineError.self) { try bn.prepare(inputShape: FeatureShape(channels: 2, height: 1, width: 1)) }
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

    @Test("cost: gamma and beta are the parameters; two passes over the input forward, two over input and gradient backward")
    func cost() {
        let s = FeatureShape(channels: 3, height: 5, width: 7)
        var rng = RandomStream(seed: 1, purpose: .weights)
        let bn = BatchNorm(channels: 3, negativeSlope: 0.2, gammaInit: .uniform, rng: &rng, parallel: serial)
        let c = BatchNorm.cost(inputShape: s)
        #expect(c.parameters == 6)
        #expect(c.parameters == bn.namedTensors(module: "m").filter { !$0.isBuffer }.reduce(0) { $0 + $1.value.count })
        #expect(c.macs == 0)
        // 105 values: read for the mean and variance (one pass) and the normalisation, written
        // once; gamma, beta, running mean and variance read (12), the running statistics written (6).
        #expect(c.forwardBytes == 4 * (2 * 105 + 105 + 12 + 6))
        // Input and gradient read by the pass of both sums and by the final pass, the input
        // gradient written; gamma read, its gradient and beta's written.
        #expect(c.backwardBytes == 4 * (2 * 210 + 105 + 3 + 6))
        #expect(BatchNorm.fusedActivationCost == .zero)
    }
}
