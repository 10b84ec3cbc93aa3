import CDIPKernels
import DIPCore
import Foundation
import Testing
@testable import DIPEngine

// The CUDA backend's own kernels (Sources/CDIPKernels/cuda/dip_kernels.cu), compiled as C and run
// over an emulated one-dimensional grid, against the CPU layers on odd shapes, forward and
// backward. The kernels work on NHWC ([H][W][C]); the CPU layers on CHW: inputs are converted
// to HWC here and results back, so every index the kernels compute is checked.
//
// Same bits where the kernel does the CPU's float operations in the CPU's order (everything but
// the reductions). BatchNorm's statistics and backward sums and the loss value add the same
// Float64 terms in another order (per-tile partials, then the tiles in order: the CPU adds four
// interleaved partial sums per channel), so they agree to the rounding of a Float64 sum; what is
// rounded to Float from them can then differ in its last bit, hence the tolerances below (on
// the shapes here, and on 8x96x80, the results in fact came out with the CPU's bits).
// The reductions run with small tiles (3 and 5 pixels) so that several tiles are summed.

/// Host memory standing in for a device buffer.
private final class Buffer<T> {
    let pointer: UnsafeMutablePointer<T>
    let count: Int
    init(_ values: [T]) {
        count = values.count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(from: values, count: count)
    }
    convenience init(repeating value: T, count: Int) { self.init([T](repeating: value, count: count)) }
    deinit { pointer.deinitialize(count: count); pointer.deallocate() }
    var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Runs `kernel` once for every thread of a launch of ceil(items / block) blocks, so the last
/// block has threads past the end (which the kernel must ignore).
private func launch(_ items: Int, block: Int = 32, _ kernel: () -> Void) {
    let grid = max(1, (items + block - 1) / block)
    for b in 0..<grid {
        for t in 0..<block {
            dip_emu_set_thread(UInt32(grid), UInt32(block), UInt32(b), UInt32(t))
            kernel()
        }
    }
}

/// CHW values to HWC (the test's own conversion, independent of the kernels').
private func hwc(_ chw: [Float], _ s: FeatureShape) -> [Float] {
    var out = [Float](repeating: 0, count: chw.count)
    for c in 0..<s.channels { for p in 0..<s.plane { out[p * s.channels + c] = chw[c * s.plane + p] } }
    return out
}

/// HWC values to CHW.
private func chw(_ hwc: [Float], _ s: FeatureShape) -> [Float] {
    var out = [Float](repeating: 0, count: hwc.count)
    for c in 0..<s.channels { for p in 0..<s.plane { out[c * s.plane + p] = hwc[p * s.channels + c] } }
    return out
}

/// Bit-for-bit equality, naming the first differing element.
private func expectSameBits(_ actual: [Float], _ expected: [Float], _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(what): \(actual.count) vs \(expected.count) values",
            sourceLocation: sourceLocation)
    if let i = zip(actual, expected).enumerated().first(where: { $0.element.0.bitPattern != $0.element.1.bitPattern })?.offset {
        Issue.record("\(what): element \(i) is \(actual[i]), the CPU's \(expected[i])", sourceLocation: sourceLocation)
    }
}

/// |actual - expected| <= tol * max(1, max |expected|): an error relative to the tensor's scale,
/// which is what a reordered Float64 sum followed by a Float rounding can move.
private func expectNear(_ actual: [Float], _ expected: [Float], tol: Double, _ what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    let scale = max(1, expected.map { abs(Double($0)) }.max() ?? 0)
    let worst = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
    #expect(worst <= tol * scale, "\(what): worst difference \(worst) at scale \(scale)", sourceLocation: sourceLocation)
}

private let shapes = [FeatureShape(channels: 3, height: 7, width: 5),
                      FeatureShape(channels: 17, height: 13, width: 11),
                      FeatureShape(channels: 5, height: 6, width: 8)]

@Suite("CUDA kernels on an emulated grid against the CPU layers")
struct CUDAKernelEmulationTests {
    let serial = ChannelParallel(threads: 1)

    @Test("layout conversion CHW <-> HWC, fill, copy, scale, add, counter")
    func helpers() {
        for s in shapes {
            let x = randomTensor(s.dims, seed: 1)
            let src = Buffer(x.array), mid = Buffer(repeating: Float(0), count: s.count)
            let back = Buffer(repeating: Float(0), count: s.count)
            launch(s.count) { dip_chw_to_hwc(mid.pointer, src.pointer, Int32(s.channels), Int32(s.height), Int32(s.width)) }
            expectSameBits(mid.array, hwc(x.array, s), "CHW to HWC \(s)")
            launch(s.count) { dip_hwc_to_chw(back.pointer, mid.pointer, Int32(s.channels), Int32(s.height), Int32(s.width)) }
            expectSameBits(back.array, x.array, "HWC to CHW \(s)")
        }
        let n = 77
        let a = Buffer(repeating: Float(0), count: n), b = Buffer((0..<n).map { Float($0) * 0.1 })
        launch(n) { dip_fill(a.pointer, Int32(n), 2.5) }
        #expect(a.array == [Float](repeating: 2.5, count: n))
        launch(n) { dip_add(a.pointer, b.pointer, Int32(n)) }
        expectSameBits(a.array, b.array.map { 2.5 + $0 }, "add")
        launch(n) { dip_scale(a.pointer, Int32(n), 0.3) }
        expectSameBits(a.array, b.array.map { (2.5 + $0) * 0.3 }, "scale")
        launch(n) { dip_copy(a.pointer, b.pointer, Int32(n)) }
        expectSameBits(a.array, b.array, "copy")
        let counter = Buffer([UInt64(41)])
        launch(1) { dip_counter_increment(counter.pointer) }
        #expect(counter.array == [42])
    }

    @Test("reflection pad forward (plain and interior written in place) and backward: same bits")
    func reflectionPad() throws {
        for s in shapes {
            // The largest pad reaches the far border's reflection (the column loop's order).
            for pad in Set([1, 2, min(s.height, s.width) - 1]).sorted() {
                let layer = ReflectionPad(pad: pad, parallel: serial)
                let o = try layer.prepare(inputShape: s)
                let x = randomTensor(s.dims, seed: 2)
                let expected = layer.forward(x).array
                let input = Buffer(hwc(x.array, s)), out = Buffer(repeating: Float(0), count: o.count)
                let args = (Int32(s.channels), Int32(s.height), Int32(s.width), Int32(pad))
                launch(o.count) { dip_reflection_pad_forward(out.pointer, input.pointer, args.0, args.1, args.2, args.3, 0) }
                expectSameBits(chw(out.array, o), expected, "pad \(pad) forward \(s)")

                // A producer wrote the interior: only the border is filled.
                let inPlace = Buffer(repeating: Float.nan, count: o.count)
                let interior = hwc(x.array, s)
                for y in 0..<s.height {
                    for xx in 0..<s.width {
                        for c in 0..<s.channels {
                            inPlace.pointer[((y + pad) * o.width + xx + pad) * s.channels + c] = interior[(y * s.width + xx) * s.channels + c]
                        }
                    }
                }
                launch(o.count) { dip_reflection_pad_forward(inPlace.pointer, nil, args.0, args.1, args.2, args.3, 1) }
                expectSameBits(chw(inPlace.array, o), expected, "pad \(pad) forward in place \(s)")

                let g = randomTensor(o.dims, seed: 3)
                let gradOut = Buffer(hwc(g.array, o)), gradIn = Buffer(repeating: Float(0), count: s.count)
                let expectedGrad = layer.backward(g).array
                launch(s.count) { dip_reflection_pad_backward(gradIn.pointer, gradOut.pointer, args.0, args.1, args.2, args.3) }
                expectSameBits(chw(gradIn.array, s), expectedGrad, "pad \(pad) backward \(s)")
            }
        }
    }

    @Test("BatchNorm forward and backward, with and without LeakyReLU, within the reordered sums' rounding",
          arguments: [3, 5])
    func batchNorm(tile: Int) throws {
        for s in shapes {
            for slope: Float? in [nil, 0.2] {
                var rng = RandomStream(seed: 4, purpose: .weights)
                let layer = BatchNorm(channels: s.channels, negativeSlope: slope, gammaInit: .uniform, rng: &rng, parallel: serial)
                for c in 0..<s.channels { layer.bias.pointer[c] = Float(c % 5) * 0.1 - 0.2 }
                try layer.prepare(inputShape: s)
                // An offset per channel so the mean is not near zero.
                let x = randomTensor(s.dims, seed: 5)
                for c in 0..<s.channels { for p in 0..<s.plane { x.pointer[c * s.plane + p] += Float(c) * 0.37 } }

                // The device's copies of the parameters and running statistics, before the CPU
                // forward changes the latter.
                let gamma = Buffer(layer.weight.array), beta = Buffer(layer.bias.array)
                let runningMean = Buffer(layer.runningMean.array), runningVar = Buffer(layer.runningVar.array)
                let tracked = Buffer(layer.numBatchesTracked.array)
                let expected = layer.forward(x).array

                let C = Int32(s.channels), n = Int32(s.plane), t = Int32(tile)
                let tiles = (s.plane + tile - 1) / tile
                let input = Buffer(hwc(x.array, s))
                let partial = Buffer(repeating: 0.0, count: tiles * s.channels)
                let mean = Buffer(repeating: 0.0, count: s.channels), invStd = Buffer(repeating: 0.0, count: s.channels)
                let scale = Buffer(repeating: Float(0), count: s.channels), shift = Buffer(repeating: Float(0), count: s.channels)
                launch(tiles * s.channels) { dip_bn_partial_sum(partial.pointer, input.pointer, C, n, t) }
                launch(s.channels) { dip_bn_mean(mean.pointer, partial.pointer, C, n, t) }
                launch(tiles * s.channels) { dip_bn_partial_squares(partial.pointer, input.pointer, mean.pointer, C, n, t) }
                launch(s.channels) {
                    dip_bn_finalize(invStd.pointer, scale.pointer, shift.pointer, runningMean.pointer, runningVar.pointer,
                                    tracked.pointer, partial.pointer, mean.pointer, gamma.pointer, beta.pointer, C, n, t,
                                    BatchNorm.epsilon, BatchNorm.momentum)
                }
                // Written through a window: the interior of a buffer padded by 1 (a consumer's).
                let o = FeatureShape(channels: s.channels, height: s.height + 2, width: s.width + 2)
                let padded = Buffer(repeating: Float(0), count: o.count)
                let rowStride = o.width * s.channels, origin = (o.width + 1) * s.channels
                launch(s.count) {
                    dip_bn_apply(padded.pointer + origin, input.pointer, mean.pointer, scale.pointer, shift.pointer,
                                 C, Int32(s.height), Int32(s.width), Int64(rowStride), Int64(s.channels),
                                 slope == nil ? 0 : 1, slope ?? 1)
                }
                var y = [Float](), border = 0
                let p = padded.array
                for yy in 0..<o.height {
                    for xx in 0..<o.width {
                        let inside = yy >= 1 && yy <= s.height && xx >= 1 && xx <= s.width
                        for c in 0..<s.channels {
                            let v = p[(yy * o.width + xx) * s.channels + c]
                            if inside { y.append(v) } else if v != 0 { border += 1 }
                        }
                    }
                }
                #expect(border == 0, "BatchNorm wrote outside its window")
                let what = "BatchNorm \(s) slope \(String(describing: slope)) tile \(tile)"
                // 1e-6 of the output's scale: a last-bit change in Float(mean) or in the applied scale.
                expectNear(chw(y, s), expected, tol: 1e-6, "\(what) forward")
                expectNear(runningMean.array, layer.runningMean.array, tol: 1e-7, "\(what) running mean")
                expectNear(runningVar.array, layer.runningVar.array, tol: 1e-7, "\(what) running variance")
                #expect(tracked.array == layer.numBatchesTracked.array)

                let g = randomTensor(s.dims, seed: 6)
                let gradOut = Buffer(hwc(g.array, s))
                let expectedGrad = layer.backward(Tensor(s.dims, values: g.array)).array
                let partialDy = Buffer(repeating: 0.0, count: tiles * s.channels)
                let partialDyXhat = Buffer(repeating: 0.0, count: tiles * s.channels)
                let gradGamma = Buffer(repeating: Float(0), count: s.channels), gradBeta = Buffer(repeating: Float(0), count: s.channels)
                let coefficients = Buffer(repeating: Float(0), count: 3 * s.channels)
                launch(tiles * s.channels) {
                    dip_bn_backward_partials(partialDy.pointer, partialDyXhat.pointer, input.pointer, gradOut.pointer,
                                             mean.pointer, invStd.pointer, scale.pointer, shift.pointer, C, n, t, slope ?? 1)
                }
                launch(s.channels) {
                    dip_bn_backward_finalize(gradGamma.pointer, gradBeta.pointer, coefficients.pointer, partialDy.pointer,
                                             partialDyXhat.pointer, invStd.pointer, gamma.pointer, C, n, t)
                }
                // In place over the output gradient, as the CPU layer does.
                launch(s.count) {
                    dip_bn_backward_apply(gradOut.pointer, gradOut.pointer, input.pointer, mean.pointer, invStd.pointer,
                                          scale.pointer, shift.pointer, coefficients.pointer, C, n, slope ?? 1)
                }
                expectNear(chw(gradOut.array, s), expectedGrad, tol: 1e-6, "\(what) input gradient")
                expectNear(gradGamma.array, layer.gradWeight.array, tol: 1e-6, "\(what) gamma gradient")
                expectNear(gradBeta.array, layer.gradBias.array, tol: 1e-6, "\(what) beta gradient")
            }
        }
    }

    @Test("upsample 2x nearest and bilinear (both alignments) forward through a window, backward as a gather: same bits",
          arguments: [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: false), .bilinear(alignCorners: true)])
    func upsample(mode: SkipConfig.Upsampling) {
        let (m, ac): (Int32, Int32) = switch mode {
        case .nearest: (0, 0)
        case let .bilinear(alignCorners): (1, alignCorners ? 1 : 0)
        }
        // 37 columns: the CPU backward's gather takes sources 1...32 eight at a time, the rest one by one.
        for s in shapes + [FeatureShape(channels: 2, height: 1, width: 3), FeatureShape(channels: 1, height: 2, width: 1),
                           FeatureShape(channels: 2, height: 4, width: 37)] {
            let layer = Upsample2x(mode: mode, parallel: serial)
            let o = layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 7)
            let expected = layer.forward(x).array
            // Into channels 1..<1+C of a concat of C + 2 channels.
            let total = s.channels + 2
            let out = Buffer(repeating: Float(0), count: o.plane * total)
            let input = Buffer(hwc(x.array, s))
            launch(o.count) {
                dip_upsample2x_forward(out.pointer + 1, input.pointer, Int32(s.channels), Int32(s.height), Int32(s.width),
                                       m, ac, Int64(o.width * total), Int64(total))
            }
            let all = out.array
            let mine = (0..<o.plane).flatMap { p in all[(p * total + 1)..<(p * total + 1 + s.channels)] }
            let others = (0..<o.plane).flatMap { p in [all[p * total], all[p * total + total - 1]] }
            expectSameBits(chw(Array(mine), o), expected, "upsample \(mode) forward \(s)")
            #expect(others.allSatisfy { $0 == 0 }, "upsample wrote outside its channels")

            let g = randomTensor(o.dims, seed: 8)
            let gradOut = Buffer(hwc(g.array, o)), gradIn = Buffer(repeating: Float.nan, count: s.count)
            let expectedGrad = layer.backward(g).array
            launch(s.count) {
                dip_upsample2x_backward(gradIn.pointer, gradOut.pointer, Int32(s.channels), Int32(s.height), Int32(s.width), m, ac)
            }
            expectSameBits(chw(gradIn.array, s), expectedGrad, "upsample \(mode) backward \(s)")
        }
    }

    @Test("concat with centre crop, forward and backward: same bits")
    func concat() {
        let cases = [(FeatureShape(channels: 3, height: 7, width: 5), FeatureShape(channels: 4, height: 7, width: 5)),
                     (FeatureShape(channels: 3, height: 9, width: 7), FeatureShape(channels: 17, height: 6, width: 5)),
                     (FeatureShape(channels: 5, height: 6, width: 8), FeatureShape(channels: 2, height: 9, width: 11))]
        for (ss, ds) in cases {
            let layer = Concat(parallel: serial)
            let o = layer.prepare(skip: ss, deeper: ds)
            let skip = randomTensor(ss.dims, seed: 9), deeper = randomTensor(ds.dims, seed: 10)
            let expected = layer.forward(skip: skip, deeper: deeper).array
            let out = Buffer(repeating: Float.nan, count: o.count)
            let skipIn = Buffer(hwc(skip.array, ss)), deeperIn = Buffer(hwc(deeper.array, ds))
            let (ho, wo, total) = (Int32(o.height), Int32(o.width), Int32(o.channels))
            launch(o.plane * ss.channels) {
                dip_concat_part_forward(out.pointer, skipIn.pointer, Int32(ss.channels), Int32(ss.height), Int32(ss.width), ho, wo, total, 0)
            }
            launch(o.plane * ds.channels) {
                dip_concat_part_forward(out.pointer, deeperIn.pointer, Int32(ds.channels), Int32(ds.height), Int32(ds.width),
                                        ho, wo, total, Int32(ss.channels))
            }
            expectSameBits(chw(out.array, o), expected, "concat forward \(ss) \(ds)")

            let g = randomTensor(o.dims, seed: 11)
            let gradOut = Buffer(hwc(g.array, o))
            let (expectedSkip, expectedDeeper) = layer.backward(g)
            let gradSkip = Buffer(repeating: Float.nan, count: ss.count), gradDeeper = Buffer(repeating: Float.nan, count: ds.count)
            launch(ss.count) {
                dip_concat_part_backward(gradSkip.pointer, gradOut.pointer, Int32(ss.channels), Int32(ss.height), Int32(ss.width),
                                         ho, wo, total, 0)
            }
            launch(ds.count) {
                dip_concat_part_backward(gradDeeper.pointer, gradOut.pointer, Int32(ds.channels), Int32(ds.height), Int32(ds.width),
                                         ho, wo, total, Int32(ss.channels))
            }
            expectSameBits(chw(gradSkip.array, ss), expectedSkip.array, "concat skip gradient \(ss) \(ds)")
            expectSameBits(chw(gradDeeper.array, ds), expectedDeeper.array, "concat deeper gradient \(ss) \(ds)")
        }
    }

    @Test("average pool 2x2 with floor sizes, forward and backward: same bits")
    func avgPool() throws {
        for s in shapes + [FeatureShape(channels: 2, height: 2, width: 3)] {
            let layer = AvgPool2x2(parallel: serial)
            let o = try layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 12)
            let expected = layer.forward(x).array
            let input = Buffer(hwc(x.array, s)), out = Buffer(repeating: Float.nan, count: o.count)
            launch(o.count) { dip_avgpool2x2_forward(out.pointer, input.pointer, Int32(s.channels), Int32(s.height), Int32(s.width)) }
            expectSameBits(chw(out.array, o), expected, "avg pool forward \(s)")
            let g = randomTensor(o.dims, seed: 13)
            let gradOut = Buffer(hwc(g.array, o)), gradIn = Buffer(repeating: Float.nan, count: s.count)
            let expectedGrad = layer.backward(g).array
            launch(s.count) { dip_avgpool2x2_backward(gradIn.pointer, gradOut.pointer, Int32(s.channels), Int32(s.height), Int32(s.width)) }
            expectSameBits(chw(gradIn.array, s), expectedGrad, "avg pool backward \(s)")
        }
    }

    // The host build calls the C library's expf, as the CPU layer does, so the bits agree here;
    // on the GPU CUDA's expf (2 ulp) can move the last bit, which the device self-test bounds.
    @Test("sigmoid forward and backward: same bits on the host")
    func sigmoid() {
        for s in shapes {
            let layer = Sigmoid()
            layer.prepare(inputShape: s)
            let x = randomTensor(s.dims, seed: 14, low: -9, high: 9)
            let expected = layer.forward(x).array
            let n = Int32(s.count)
            let input = Buffer(x.array), y = Buffer(repeating: Float.nan, count: s.count)
            launch(s.count) { dip_sigmoid_forward(y.pointer, input.pointer, n) }
            expectSameBits(y.array, expected, "sigmoid forward \(s)")
            let g = randomTensor(s.dims, seed: 15)
            let gradOut = Buffer(g.array), gradIn = Buffer(repeating: Float.nan, count: s.count)
            let expectedGrad = layer.backward(g).array
            launch(s.count) { dip_sigmoid_backward(gradIn.pointer, gradOut.pointer, y.pointer, n) }
            expectSameBits(gradIn.array, expectedGrad, "sigmoid backward \(s)")
        }
    }

    // The Fitter's loss: MaskedMSELoss.value times its loss scale, and the gradient times
    // Float(loss scale) when that is not 1 (Fitter.lossAndGradient), written out here because
    // the Fitter keeps it private.
    @Test("masked MSE: gradient with the loss scale has the same bits; the value agrees to Float64 rounding",
          arguments: [1.0, 1.3125])
    func maskedMSE(lossScale: Double) throws {
        for s in shapes {
            for maskChannels in [1, s.channels] {
                let out = randomTensor(s.dims, seed: 16), target = randomTensor(s.dims, seed: 17)
                let ms = FeatureShape(channels: maskChannels, height: s.height, width: s.width)
                let mask = Tensor(ms.dims)
                var rng = RandomStream(seed: 18, purpose: .auxiliary)
                for i in 0..<mask.count { mask.pointer[i] = rng.uniform() < 0.6 ? 1 : 0 }
                mask.pointer[1] = 0.5   // not only 0/1: the formula keeps m twice
                let expectedValue = try MaskedMSELoss.value(output: out, target: target, mask: mask) * lossScale
                let expectedGrad = Tensor(s.dims)
                try MaskedMSELoss.gradient(output: out, target: target, mask: mask, into: expectedGrad)
                if lossScale != 1 { for i in 0..<expectedGrad.count { expectedGrad.pointer[i] *= Float(lossScale) } }

                let o = Buffer(hwc(out.array, s)), t = Buffer(hwc(target.array, s)), m = Buffer(hwc(mask.array, ms))
                let grad = Buffer(repeating: Float.nan, count: s.count)
                let n = Int32(s.count), C = Int32(s.channels), mc = Int32(maskChannels)
                launch(s.count) {
                    dip_mse_gradient(grad.pointer, o.pointer, t.pointer, m.pointer, C, mc, n,
                                     Float(2.0 / Double(s.count)), Float(lossScale))
                }
                expectSameBits(chw(grad.array, s), expectedGrad.array, "loss gradient \(s) mask \(maskChannels)")

                let tile = 7, tiles = (s.count + tile - 1) / tile
                let partial = Buffer(repeating: 0.0, count: tiles), loss = Buffer([Double.nan])
                launch(tiles) { dip_mse_partial(partial.pointer, o.pointer, t.pointer, m.pointer, C, mc, n, Int32(tile)) }
                launch(1) { dip_mse_value(loss.pointer, partial.pointer, n, Int32(tile), lossScale) }
                let value = loss.array[0]
                #expect(abs(value - expectedValue) <= 1e-14 * expectedValue, "loss \(value) vs the CPU's \(expectedValue)")
            }
        }
    }

    @Test("Adam over a flat array, step terms read from device memory: same bits as Adam.step over 5 steps")
    func adam() throws {
        // 1003 values: the CPU's 8-wide loop and its scalar tail both take part.
        let n = 1003
        let param = randomTensor([n], seed: 19), grad = Tensor([n])
        let optimizer = try Adam([(param, grad)], learningRate: 0.01)
        let x = Buffer(param.array), g = Buffer(repeating: Float(0), count: n)
        let m = Buffer(repeating: Float(0), count: n), v = Buffer(repeating: Float(0), count: n)
        let steps = 5
        let table = Buffer((1...steps).flatMap { s -> [Float] in
            let terms = optimizer.stepTerms(step: s)
            return [terms.negStep, terms.biasCorrection2Sqrt]
        })
        let step = Buffer([UInt64(0)])
        for s in 1...steps {
            let gs = randomTensor([n], seed: 20 + UInt64(s), low: -0.5, high: 0.5)
            grad.copy(from: gs)
            g.pointer.update(from: gs.pointer, count: n)
            optimizer.step()
            launch(1) { dip_counter_increment(step.pointer) }
            launch(n, block: 64) {
                dip_adam_step(x.pointer, g.pointer, m.pointer, v.pointer, Int32(n), table.pointer, step.pointer,
                              Float(1 - optimizer.beta1), Float(optimizer.beta2), Float(1 - optimizer.beta2),
                              Float(optimizer.epsilon))
            }
            expectSameBits(x.array, param.array, "Adam parameters after step \(s)")
            expectSameBits(m.array, optimizer.firstMoments[0].array, "Adam first moments after step \(s)")
            expectSameBits(v.array, optimizer.secondMoments[0].array, "Adam second moments after step \(s)")
        }
    }

    @Test("perturbation z + sigma N(0, 1) of an iteration: the CPU's bits (RandomStream.fillNormal + z)")
    func perturbation() {
        for s in shapes + [FeatureShape(channels: 32, height: 9, width: 7)] {
            let z = randomTensor(s.dims, seed: 30, low: 0, high: 0.1)
            for iteration: UInt64 in [0, 7, 1 << 33 | 5] {
                let sigma: Float = 0.03
                let stream = RandomStream(seed: 1234, purpose: .perturbation, substream: iteration)
                let expected = Tensor(s.dims)
                stream.fillNormal(expected.buffer, mean: 0, std: sigma)
                for i in 0..<expected.count { expected.pointer[i] += z.pointer[i] }

                let zIn = Buffer(hwc(z.array, s)), zIt = Buffer(repeating: Float.nan, count: s.count)
                let substream = Buffer([iteration])
                launch((s.count + 3) / 4) {
                    dip_perturb(zIt.pointer, zIn.pointer, Int32(s.channels), Int32(s.height), Int32(s.width),
                                stream.key.0, stream.key.1, substream.pointer, sigma)
                }
                expectSameBits(chw(zIt.array, s), expected.array, "perturbation \(s) iteration \(iteration)")
            }
        }
    }
}
