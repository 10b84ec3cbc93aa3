import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// ReflectionPad against `referencePad` (LayerReferences.swift), and its cost.
@Suite("ReflectionPad")
struct ReflectionPadTests {
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

    @Test("cost: no parameters or MACs; input and padded output forward, padded gradient and the folded input gradient backward")
    func cost() throws {
        let s = FeatureShape(channels: 2, height: 5, width: 7)
        let padded = try ReflectionPad(pad: 1, parallel: serial).prepare(inputShape: s)
        #expect(s.count == 70 && padded.count == 126)
        let c = ReflectionPad.cost(inputShape: s, pad: 1)
        #expect(c.parameters == 0 && c.macs == 0)
        #expect(c.forwardBytes == 4 * (70 + 126))
        // The border gradients are added onto the input gradient: it is read and written.
        #expect(c.backwardBytes == 4 * (126 + 2 * 70))
    }
}
