import DIPCore

/// Checks a device's operations against a reference device's (`HostDeviceOps`: the host layers)
/// one by one, forward and backward, on random inputs of odd shapes: what `dip-report
/// gpu-selftest` runs on a GPU, and what the tests run with the kernels' host emulation.
struct DeviceOpsCheck {
    /// One operation's comparison.
    struct Result: Sendable, CustomStringConvertible {
        /// What was compared, e.g. "batchnorm+lrelu backward 17x13x11".
        var name: String
        /// max |candidate - reference| / max(1, max |reference|) over every output.
        var error: Double
        /// Whether the error is within the bound.
        var passed: Bool
        /// The bound it was held to.
        var bound: Double

        /// "ok   batchnorm forward 3x7x5: 2.1e-07 (bound 1e-05)".
        var description: String {
            "\(passed ? "ok  " : "FAIL") \(name): \(String(format: "%.2e", error)) (bound \(String(format: "%.0e", bound)))"
        }
    }

    let reference: any DeviceOps
    let candidate: any DeviceOps
    /// The bound for the operations that round like the host (everything but convolutions).
    let bound: Double
    /// The bound for convolutions (TF32 tensor cores round their inputs to 10 bits).
    let convolutionBound: Double

    /// The shapes every operation is checked on: odd sizes, channel counts that are not
    /// multiples of a vector or a warp, and one larger than a reduction tile.
    static let shapes = [FeatureShape(channels: 3, height: 7, width: 5), FeatureShape(channels: 17, height: 13, width: 11),
                         FeatureShape(channels: 8, height: 20, width: 18)]

    /// Runs every check and returns the results in order.
    func run() throws -> [Result] {
        var results: [Result] = []
        for s in Self.shapes {
            results += try elementwise(s)
            for slope: Float? in [nil, 0.2] { results += try batchNorm(s, slope: slope) }
            for mode in [SkipConfig.Upsampling.nearest, .bilinear(alignCorners: false), .bilinear(alignCorners: true)] {
                results += try pair("upsample \(mode) \(s)", s, FeatureShape(channels: s.channels, height: 2 * s.height, width: 2 * s.width),
                                    forward: { o, x, y in try o.upsample(x, into: y, shape: s, mode: mode) },
                                    backward: { o, gy, gx in try o.upsampleBackward(gy, into: gx, shape: s, mode: mode) })
            }
            results += try pair("reflection pad 1 \(s)", s, FeatureShape(channels: s.channels, height: s.height + 2, width: s.width + 2),
                                forward: { o, x, y in try o.reflectionPad(x, into: y, shape: s, pad: 1) },
                                backward: { o, gy, gx in try o.reflectionPadBackward(gy, into: gx, shape: s, pad: 1) })
            results += try pair("average pool \(s)", s, FeatureShape(channels: s.channels, height: s.height / 2, width: s.width / 2),
                                forward: { o, x, y in try o.averagePool(x, into: y, shape: s) },
                                backward: { o, gy, gx in try o.averagePoolBackward(gy, into: gx, shape: s) })
            results += try convolutions(s)
        }
        return results
    }

    // MARK: Plumbing

    /// Device memory holding `values` on both devices.
    private final class Twin {
        let reference: any DeviceAllocation
        let candidate: any DeviceAllocation
        let count: Int
        init(_ values: [Float], _ check: DeviceOpsCheck) throws {
            count = values.count
            reference = try check.reference.allocate(floats: values.count)
            candidate = try check.candidate.allocate(floats: values.count)
            try values.withUnsafeBufferPointer {
                try check.reference.upload($0, to: reference.pointer)
                try check.candidate.upload($0, to: candidate.pointer)
            }
        }
    }

    private func random(_ count: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
        var rng = RandomStream(seed: seed, purpose: .auxiliary)
        return (0..<count).map { _ in low + (high - low) * rng.uniform() }
    }

    private func twin(_ count: Int, seed: UInt64, low: Float = -1, high: Float = 1) throws -> Twin {
        try Twin(random(count, seed: seed, low: low, high: high), self)
    }

    private func empty(_ count: Int) throws -> Twin { try Twin([Float](repeating: .nan, count: count), self) }

    /// Device memory holding 8-byte values (counters) on both devices.
    private func words(_ values: [UInt64]) throws -> Twin {
        let t = try Twin([Float](repeating: 0, count: 2 * values.count), self)
        try values.withUnsafeBytes {
            try reference.upload($0, to: t.reference.pointer)
            try candidate.upload($0, to: t.candidate.pointer)
        }
        return t
    }

    /// Both devices with how to pick each one's copy of a twin.
    private var sides: [(any DeviceOps, KeyPath<Twin, any DeviceAllocation>)] {
        [(reference, \Twin.reference), (candidate, \Twin.candidate)]
    }

    /// The relative error between the two copies of each of `outputs`.
    private func compare(_ name: String, _ outputs: [Twin], bound: Double? = nil) throws -> Result {
        var worst = 0.0
        for t in outputs {
            var r = [Float](repeating: 0, count: t.count), c = r
            try r.withUnsafeMutableBufferPointer { try reference.download(t.reference.pointer, into: $0) }
            try c.withUnsafeMutableBufferPointer { try candidate.download(t.candidate.pointer, into: $0) }
            let scale = max(1, r.map { abs(Double($0)) }.max() ?? 0)
            for (a, b) in zip(r, c) {
                let e = a.isNaN || b.isNaN ? (a.isNaN && b.isNaN ? 0 : .infinity) : abs(Double(a) - Double(b)) / scale
                worst = max(worst, e)
            }
        }
        let limit = bound ?? self.bound
        return Result(name: name, error: worst, passed: worst <= limit, bound: limit)
    }

    /// A layer without parameters: forward x (`input`) -> y (`output`), backward gy -> gx.
    private func pair(_ name: String, _ input: FeatureShape, _ output: FeatureShape,
                      forward: (any DeviceOps, DevicePointer, DevicePointer) throws -> Void,
                      backward: (any DeviceOps, DevicePointer, DevicePointer) throws -> Void) throws -> [Result] {
        let x = try twin(input.count, seed: 1), y = try empty(output.count)
        try forward(reference, x.reference.pointer, y.reference.pointer)
        try forward(candidate, x.candidate.pointer, y.candidate.pointer)
        let gy = try twin(output.count, seed: 2), gx = try empty(input.count)
        try backward(reference, gy.reference.pointer, gx.reference.pointer)
        try backward(candidate, gy.candidate.pointer, gx.candidate.pointer)
        return [try compare("\(name) forward", [y]), try compare("\(name) backward", [gx])]
    }

    private func elementwise(_ s: FeatureShape) throws -> [Result] {
        var results: [Result] = []
        let n = s.count
        // Sigmoid: the backward reads the forward's output.
        let x = try twin(n, seed: 3, low: -8, high: 8), y = try empty(n), gy = try twin(n, seed: 4), gx = try empty(n)
        for (o, pick) in [(reference, \Twin.reference), (candidate, \Twin.candidate)] as [(any DeviceOps, KeyPath<Twin, any DeviceAllocation>)] {
            try o.sigmoid(x[keyPath: pick].pointer, into: y[keyPath: pick].pointer, count: n)
            try o.sigmoidBackward(output: y[keyPath: pick].pointer, gradOutput: gy[keyPath: pick].pointer,
                                  gradInput: gx[keyPath: pick].pointer, count: n)
        }
        results.append(try compare("sigmoid forward \(s)", [y]))
        results.append(try compare("sigmoid backward \(s)", [gx]))

        // The loss and its gradient, with a loss scale that is not 1 (a padded canvas).
        let out = try twin(n, seed: 5, low: 0, high: 1), target = try twin(n, seed: 6, low: 0, high: 1)
        let mask = try Twin(random(n, seed: 7, low: 0, high: 1).map { $0 < 0.5 ? 0 : 1 }, self)
        let grad = try empty(n)
        let scale = 1.3125
        let value = try words([0])
        for (o, pick) in sides {
            try o.makeMaskedMSE(shape: s, scale: scale).compute(output: out[keyPath: pick].pointer, target: target[keyPath: pick].pointer,
                                                               mask: mask[keyPath: pick].pointer, gradient: grad[keyPath: pick].pointer,
                                                               loss: value[keyPath: pick].pointer)
        }
        let lr = try reference.download(Double.self, from: value.reference.pointer)[0]
        let lc = try candidate.download(Double.self, from: value.candidate.pointer)[0]
        let lossError = abs(lr - lc) / max(1e-30, abs(lr))
        results.append(Result(name: "masked MSE value \(s)", error: lossError, passed: lossError <= bound, bound: bound))
        results.append(try compare("masked MSE gradient \(s)", [grad]))

        // The loss ring: one value (the reference's loss on both) stored at slot 6 % 4.
        let ring = try Twin([Float](repeating: 0, count: 8), self), slot = try words([6])
        try reference.upload(value: lr, to: value.reference.pointer)
        try candidate.upload(value: lr, to: value.candidate.pointer)
        for (o, pick) in sides {
            try o.storeLoss(value[keyPath: pick].pointer, into: ring[keyPath: pick].pointer, capacity: 4, index: slot[keyPath: pick].pointer)
        }
        results.append(try compare("loss ring slot", [ring], bound: 0))

        // Adam, three steps: the counter advanced on the device, the terms from the trainer's table.
        let p = try twin(n, seed: 8), g = try twin(n, seed: 9, low: -0.1, high: 0.1)
        let m = try Twin([Float](repeating: 0, count: n), self), v = try Twin([Float](repeating: 0, count: n), self)
        let table = try Twin(DeviceTrainer.stepTermsTable(steps: 3, learningRate: 0.01), self), step = try words([0])
        for _ in 1...3 {
            for (o, pick) in sides {
                try o.increment(step[keyPath: pick].pointer)
                try o.adam(parameters: p[keyPath: pick].pointer, gradients: g[keyPath: pick].pointer, first: m[keyPath: pick].pointer,
                           second: v[keyPath: pick].pointer, count: n, stepTerms: table[keyPath: pick].pointer,
                           step: step[keyPath: pick].pointer, learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
            }
        }
        results.append(try compare("Adam, 3 steps, \(n) values", [p, m, v, step]))

        // The perturbation: the same noise bits are the point, so its bound is zero.
        let z = try twin(n, seed: 10, low: 0, high: 0.1), zIt = try empty(n), iteration = try words([77])
        for (o, pick) in sides {
            try o.perturb(z[keyPath: pick].pointer, into: zIt[keyPath: pick].pointer, shape: s, sigma: 0.03, seed: 1234,
                          substream: iteration[keyPath: pick].pointer)
        }
        results.append(try compare("perturbation \(s)", [zIt], bound: 0))

        // Concat of a cropped skip with a deeper branch.
        let skip = FeatureShape(channels: s.channels, height: s.height + 1, width: s.width + 2)
        let deeper = FeatureShape(channels: 5, height: s.height, width: s.width)
        let o = FeatureShape(channels: s.channels + 5, height: s.height, width: s.width)
        let a = try twin(skip.count, seed: 11), b = try twin(deeper.count, seed: 12), c = try empty(o.count)
        let gc = try twin(o.count, seed: 13), ga = try empty(skip.count), gb = try empty(deeper.count)
        for (ops, pick) in [(reference, \Twin.reference), (candidate, \Twin.candidate)] as [(any DeviceOps, KeyPath<Twin, any DeviceAllocation>)] {
            try ops.concat(skip: a[keyPath: pick].pointer, skipShape: skip, deeper: b[keyPath: pick].pointer, deeperShape: deeper,
                           into: c[keyPath: pick].pointer)
            try ops.concatBackward(gc[keyPath: pick].pointer, skipGradient: ga[keyPath: pick].pointer, skipShape: skip,
                                   deeperGradient: gb[keyPath: pick].pointer, deeperShape: deeper)
        }
        results.append(try compare("concat (cropped skip) forward \(o)", [c]))
        results.append(try compare("concat (cropped skip) backward \(o)", [ga, gb]))
        return results
    }

    private func batchNorm(_ s: FeatureShape, slope: Float?) throws -> [Result] {
        let c = s.channels
        let x = try twin(s.count, seed: 14), y = try empty(s.count)
        let gamma = try twin(c, seed: 15, low: 0, high: 1), beta = try twin(c, seed: 16, low: -0.2, high: 0.2)
        let mean = try Twin([Float](repeating: 0, count: c), self), variance = try Twin([Float](repeating: 1, count: c), self)
        let tracked = try Twin([0], self)
        let gy = try twin(s.count, seed: 17), gx = try empty(s.count), gGamma = try empty(c), gBeta = try empty(c)
        for (o, pick) in [(reference, \Twin.reference), (candidate, \Twin.candidate)] as [(any DeviceOps, KeyPath<Twin, any DeviceAllocation>)] {
            let layer = try o.makeBatchNorm(shape: s, slope: slope)
            try layer.forward(x[keyPath: pick].pointer, into: y[keyPath: pick].pointer, gamma: gamma[keyPath: pick].pointer,
                              beta: beta[keyPath: pick].pointer, runningMean: mean[keyPath: pick].pointer,
                              runningVar: variance[keyPath: pick].pointer, tracked: tracked[keyPath: pick].pointer)
            try layer.backward(x[keyPath: pick].pointer, gradOutput: gy[keyPath: pick].pointer, gradInput: gx[keyPath: pick].pointer,
                               gamma: gamma[keyPath: pick].pointer, gradGamma: gGamma[keyPath: pick].pointer,
                               gradBeta: gBeta[keyPath: pick].pointer)
        }
        let name = slope == nil ? "batchnorm" : "batchnorm+lrelu"
        return [try compare("\(name) forward \(s)", [y, mean, variance, tracked]),
                try compare("\(name) backward \(s)", [gx, gGamma, gBeta])]
    }

    private func convolutions(_ s: FeatureShape) throws -> [Result] {
        var results: [Result] = []
        for (k, stride) in [(3, 1), (3, 2), (1, 1), (5, 1)] where s.height >= k && s.width >= k {
            let g = ConvGeometry(inChannels: s.channels, outChannels: 6, kernel: k, stride: stride,
                                 inputHeight: s.height, inputWidth: s.width)
            let o = FeatureShape(channels: g.outChannels, height: g.outputHeight, width: g.outputWidth)
            let wCount = g.outChannels * g.inChannels * k * k
            let x = try twin(s.count, seed: 18), w = try twin(wCount, seed: 19, low: -0.3, high: 0.3), b = try twin(6, seed: 20)
            let y = try empty(o.count), gy = try twin(o.count, seed: 21), gx = try empty(s.count)
            let gw = try empty(wCount), gb = try empty(6)
            for (ops, pick) in [(reference, \Twin.reference), (candidate, \Twin.candidate)] as [(any DeviceOps, KeyPath<Twin, any DeviceAllocation>)] {
                let conv = try ops.makeConvolution(g, algorithm: .direct)
                try conv.forward(input: x[keyPath: pick].pointer, weight: w[keyPath: pick].pointer, bias: b[keyPath: pick].pointer,
                                 output: y[keyPath: pick].pointer)
                try conv.backwardData(gradOutput: gy[keyPath: pick].pointer, weight: w[keyPath: pick].pointer,
                                      gradInput: gx[keyPath: pick].pointer)
                try conv.backwardWeights(input: x[keyPath: pick].pointer, gradOutput: gy[keyPath: pick].pointer,
                                         gradWeight: gw[keyPath: pick].pointer, gradBias: gb[keyPath: pick].pointer)
            }
            results.append(try compare("convolution \(g) forward", [y], bound: convolutionBound))
            results.append(try compare("convolution \(g) backward data", [gx], bound: convolutionBound))
            results.append(try compare("convolution \(g) backward weights", [gw, gb], bound: convolutionBound))
        }
        return results
    }
}
