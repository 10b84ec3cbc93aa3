import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// Concat with the centre crop against `referenceCrop`, and its cost.
@Suite("Concat")
struct ConcatTests {
    let serial = ChannelParallel(threads: 1)

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

    @Test("cost: no parameters or MACs; a copy forward, views backward unless a crop forces copies")
    func cost() {
        // Cropped: 2x5x7 and 3x6x8 give 5x5x7 = 175 values.
        let cropped = Concat.cost(skip: FeatureShape(channels: 2, height: 5, width: 7),
                                  deeper: FeatureShape(channels: 3, height: 6, width: 8))
        #expect(cropped.parameters == 0 && cropped.macs == 0)
        #expect(cropped.forwardBytes == 4 * (175 + 175))
        #expect(cropped.backwardBytes == 4 * (175 + 70 + 144))
        // Same sizes: the backward hands out views of the output gradient, moving nothing.
        let skip = FeatureShape(channels: 2, height: 4, width: 4), deeper = FeatureShape(channels: 1, height: 4, width: 4)
        let plain = Concat.cost(skip: skip, deeper: deeper)
        #expect(plain.forwardBytes == 4 * (48 + 48))
        #expect(plain.backwardBytes == 0)
        let layer = Concat(parallel: serial)
        layer.prepare(skip: skip, deeper: deeper)
        let g = randomTensor([3, 4, 4], seed: 1)
        #expect(layer.backward(g).skip.pointer == g.pointer)
    }
}
