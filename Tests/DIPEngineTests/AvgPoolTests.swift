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

}
