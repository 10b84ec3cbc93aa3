import CLayerKernels
import DIPCore
import Testing
@testable import DIPEngine

/// The perturbation's draw (CLayerKernels, baseline, AVX2 and AVX-512) against the definition it
/// implements: RandomStream.fillNormal of the iteration's substream, plus z.
@Suite("Perturbation")
struct PerturbationTests {
    @Test("z + sigma N(0, 1) has RandomStream.fillNormal's bits on every version the CPU runs, any size, any thread count",
          arguments: [1, 3, 4, 7, 8, 9, 13, 16, 48, 64, 255, 1000, 4099, 70001, 131_075])
    func matchesFillNormal(count n: Int) {
        LayerKernelVersions.begin()
        defer { LayerKernelVersions.end() }
        let sigma: Float = 0.03, seed: UInt64 = 77, iteration = 1234
        var rng = RandomStream(seed: 5, purpose: .auxiliary)
        let z = (0..<n).map { _ in rng.uniform() * 0.2 - 0.1 }
        var expected = [Float](repeating: 0, count: n)
        expected.withUnsafeMutableBufferPointer {
            RandomStream(seed: seed, purpose: .perturbation, substream: UInt64(iteration)).fillNormal($0, mean: 0, std: sigma)
        }
        for i in 0..<n { expected[i] += z[i] }
        for isa: Int32 in [0, 1, 2] {
            dip_layer_kernels_force(isa)
            // A version the CPU lacks falls back to the best it has, tested in its own turn.
            guard dip_layer_kernels_isa() == isa else { continue }
            for threads in [1, 3] {
                var zs = z, out = [Float](repeating: .nan, count: n)
                zs.withUnsafeMutableBufferPointer { zb in
                    out.withUnsafeMutableBufferPointer { ob in
                        Perturbation.fill(zb.baseAddress!, into: ob.baseAddress!, count: n, sigma: sigma, seed: seed,
                                          iteration: iteration, parallel: ChannelParallel(threads: threads))
                    }
                }
                let same = out.map(\.bitPattern) == expected.map(\.bitPattern)
                #expect(same, "n \(n), \(["baseline", "AVX2", "AVX-512"][Int(isa)]), \(threads) threads")
            }
        }
    }
}
