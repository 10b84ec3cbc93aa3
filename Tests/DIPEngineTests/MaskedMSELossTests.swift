import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// The masked MSE data term against a Float64 sum.
@Suite("Masked MSE loss")
struct MaskedMSELossTests {
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
}
