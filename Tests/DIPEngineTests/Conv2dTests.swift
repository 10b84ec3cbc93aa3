import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// Conv2d (reflection pad, kernel, bias) against `referenceConv`, and its cost.
@Suite("Conv2d")
struct Conv2dTests {
    let serial = ChannelParallel(threads: 1)

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

}
