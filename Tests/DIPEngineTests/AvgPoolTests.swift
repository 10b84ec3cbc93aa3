import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// AvgPool2x2 against `referenceAvgPool`, and its cost.
@Suite("AvgPool2x2")
struct AvgPoolTests {
    let serial = ChannelParallel(threads: 1)

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

    @Test("cost: no parameters or MACs; the pooled blocks and the output forward, output and whole input gradient backward")
    func cost() throws {
        let s = FeatureShape(channels: 2, height: 5, width: 7)
        let out = try AvgPool2x2(parallel: serial).prepare(inputShape: s)
        #expect(out.count == 12)
        let c = AvgPool2x2.cost(inputShape: s)
        #expect(c.parameters == 0 && c.macs == 0)
        // The odd last row and column are not read; their gradient is written (zeros).
        #expect(c.forwardBytes == 4 * (2 * 4 * 6 + 12))
        #expect(c.backwardBytes == 4 * (12 + 70))
    }
}
