import DIPCore
import Foundation
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

    @Test("cost: gamma and beta are the parameters; three passes over the input forward, three over input and gradient backward")
    func cost() {
        let s = FeatureShape(channels: 3, height: 5, width: 7)
        var rng = RandomStream(seed: 1, purpose: .weights)
        let bn = BatchNorm(channels: 3, negativeSlope: 0.2, gammaInit: .uniform, rng: &rng, parallel: serial)
        let c = BatchNorm.cost(inputShape: s)
        #expect(c.parameters == 6)
        #expect(c.parameters == bn.namedTensors(module: "m").filter { !$0.isBuffer }.reduce(0) { $0 + $1.value.count })
        #expect(c.macs == 0)
        // 105 values: read for the mean, the variance and the normalisation, written once; gamma,
        // beta, running mean and variance read (12), the running statistics written (6).
        #expect(c.forwardBytes == 4 * (3 * 105 + 105 + 12 + 6))
        // Input and gradient read by both sums and the final pass, the input gradient written;
        // gamma read, its gradient and beta's written.
        #expect(c.backwardBytes == 4 * (3 * 210 + 105 + 3 + 6))
        #expect(BatchNorm.fusedActivationCost == .zero)
    }
}
