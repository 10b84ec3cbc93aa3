import CLayerKernels
import DIPCore
import Foundation
import Testing
@testable import DIPEngine

/// Upsample2x (nearest, bilinear both align_corners) against `referenceUpsample`, and its cost.
@Suite("Upsample x2")
struct UpsampleTests {
    let serial = ChannelParallel(threads: 1)

    @Test("upsample x2: nearest and bilinear with align_corners true and false",
          arguments: [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)])
    func upsample(mode: SkipConfig.Upsampling) {
        // 9x13 makes rows of 18 and 26: whole eight-lane steps and a tail.
        for s in [FeatureShape(channels: 2, height: 5, width: 7), FeatureShape(channels: 1, height: 1, width: 3),
                  FeatureShape(channels: 3, height: 9, width: 13)] {
            let layer = Upsample2x(mode: mode, parallel: serial)
            let o = layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 11)
            expectClose(layer.forward(x), referenceUpsample(float64s(x), s, mode), tol: 1e-6, "upsample \(mode) forward")
            let g = randomTensor(o.dims, seed: 12)
            expectClose(layer.backward(g), numericGradient(float64s(x), float64s(g)) { referenceUpsample($0, s, mode) },
                        tol: 1e-5, "upsample \(mode) backward")
        }
    }

    @Test("the backward a channel at a time, its gradient rows made into scratch as it asks, gives the whole backward's bits",
          arguments: [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)])
    func backwardFromMadeRows(mode: SkipConfig.Upsampling) {
        let s = FeatureShape(channels: 3, height: 9, width: 13)
        let layer = Upsample2x(mode: mode, parallel: serial)
        let o = layer.prepare(inputShape: s)
        _ = layer.forward(randomTensor(s.dims, seed: 13))
        let g = randomTensor(o.dims, seed: 14)
        let expected = layer.backward(g).array
        let gradInput = layer.makeGradInput()
        for c in 0..<s.channels {
            var asked: [Int] = []
            layer.backward(channel: c, into: gradInput) { oy, scratch in
                asked.append(oy)
                // Always into scratch: nearest reads two rows at once, so the turns must hold both.
                scratch.update(from: g.pointer + c * o.plane + oy * o.width, count: o.width)
                return UnsafePointer(scratch)
            }
            #expect(asked == Array(0..<o.height), "rows asked in order, each once")
        }
        #expect(gradInput.array.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test("bilinear's interpolation across rows gives the same bits on the baseline and AVX2 versions (CLayerKernels)",
          arguments: [true, false])
    func bilinearVersions(alignCorners: Bool) {
        LayerKernelVersions.begin()
        defer { LayerKernelVersions.end() }
        // 37 and 64 columns: eight-value steps, the tails, and a last step whose sources reach the row's end.
        for s in [FeatureShape(channels: 2, height: 3, width: 37), FeatureShape(channels: 1, height: 4, width: 64),
                  FeatureShape(channels: 1, height: 2, width: 5)] {
            var outputs: [[Float]] = []
            for isa: Int32 in [0, 1] {
                dip_layer_kernels_force(isa)
                let layer = Upsample2x(mode: .bilinear(alignCorners: alignCorners), parallel: serial)
                layer.prepare(inputShape: s)
                outputs.append(layer.forward(randomTensor(s.dims, seed: 21)).array)
            }
            #expect(outputs[0].map(\.bitPattern) == outputs[1].map(\.bitPattern), "forward \(s)")
        }
    }

    @Test("bilinear's backward gather takes eight sources at a time for both alignments (outputs 2x - 1 ... 2x + 2 read x from x = 2)",
          arguments: [true, false])
    func bilinearGatherIsRegular(alignCorners: Bool) {
        for n in [4, 5, 37, 64, 128, 256] {
            let taps = Upsample2x.Taps(input: n, output: 2 * n, alignCorners: alignCorners)
            let weights = Upsample2x.Taps.regularWeights(taps.readers(sources: n))
            #expect(weights != nil, "\(n) -> \(2 * n)")
            // Reader k of source x is output 2x - 1 + k, with that output's tap weight on x.
            for x in 2..<(n - 1) {
                for k in 0..<4 {
                    let o = 2 * x - 1 + k
                    #expect(weights?[k][x] == (taps.i0[o] == x ? taps.l0[o] : taps.l1[o]), "\(n): source \(x), reader \(k)")
                }
            }
        }
    }

    @Test("bilinear matches PyTorch's documented example for [[1, 2], [3, 4]]")
    func bilinearPyTorchExample() {
        // torch.nn.Upsample documentation (PyTorch 1.x): input [[1, 2], [3, 4]], scale_factor 2.
        let expected: [(Bool, [Float])] = [
            (false, [1.00, 1.25, 1.75, 2.00, 1.50, 1.75, 2.25, 2.50, 2.50, 2.75, 3.25, 3.50, 3.00, 3.25, 3.75, 4.00]),
            (true, [1.0000, 1.3333, 1.6667, 2.0000, 1.6667, 2.0000, 2.3333, 2.6667,
                    2.3333, 2.6667, 3.0000, 3.3333, 3.0000, 3.3333, 3.6667, 4.0000]),
        ]
        for (ac, values) in expected {
            let layer = Upsample2x(mode: .bilinear(alignCorners: ac), parallel: serial)
            layer.prepare(inputShape: FeatureShape(channels: 1, height: 2, width: 2))
            let y = layer.forward(Tensor([1, 2, 2], values: [1, 2, 3, 4])).array
            #expect(zip(y, values).allSatisfy { abs($0 - $1) < 1e-4 }, "align_corners \(ac): \(y)")
        }
    }

    @Test("cost: no parameters or MACs; input and 4x output each way, bilinear accumulating into the input gradient")
    func cost() {
        let s = FeatureShape(channels: 2, height: 5, width: 7)
        let out = Upsample2x(mode: .nearest, parallel: serial).prepare(inputShape: s)
        #expect(s.count == 70 && out.count == 280)
        for mode in [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: true), .bilinear(alignCorners: false)] {
            let c = Upsample2x.cost(inputShape: s, mode: mode)
            #expect(c.parameters == 0 && c.macs == 0)
            #expect(c.forwardBytes == 4 * (70 + 280))
            #expect(c.backwardBytes == 4 * (280 + (mode == .nearest ? 70 : 2 * 70)), "\(mode)")
        }
    }
}
