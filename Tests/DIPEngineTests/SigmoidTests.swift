import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// Sigmoid against 1 / (1 + exp(-x)), and its cost.
@Suite("Sigmoid")
struct SigmoidTests {
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

    @Test("cost: no parameters or MACs; input and output forward, output, gradient and input gradient backward")
    func cost() {
        let c = Sigmoid.cost(inputShape: FeatureShape(channels: 3, height: 3, width: 5))
        #expect(c.parameters == 0 && c.macs == 0)
        #expect(c.forwardBytes == 4 * 2 * 45)
        #expect(c.backwardBytes == 4 * 3 * 45)
    }
}
