import DIPCore

/// Where the project's kernels (Sources/CDIPKernels/cuda/dip_kernels.cu, docs/cuda-kernels.md)
/// run: a GPU (the committed PTX, launched through the driver API) or the host (the same source
/// compiled as C, over an emulated grid). Kernels take one work item per thread.
protocol KernelDevice: AnyObject {
    /// "cuda (NVIDIA H200, ...)" or "host emulation".
    var name: String { get }
    /// Allocates `bytes` bytes (contents undefined).
    func allocate(bytes: Int) throws -> any DeviceAllocation
    /// Copies host bytes to the device.
    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws
    /// Copies device bytes to the host.
    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws
    /// Runs `kernel` (its extern "C" name) over `items` work items.
    func launch(_ kernel: String, items: Int, _ arguments: [KernelArgument]) throws
    /// A convolution for `geometry` (cuDNN on a GPU).
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution
}

/// `DeviceOps` through the project's kernels: each operation is the kernel sequence that computes
/// it, written once for every `KernelDevice`, so the host emulation that the tests run is the
/// GPU's sequence too.
final class KernelDeviceOps: DeviceOps {
    let device: any KernelDevice
    var name: String { device.name }
    /// Pixels (BatchNorm) or values (loss) per partial sum: the kernels' DIP_REDUCE_TILE, part of
    /// the fixed summation order.
    static let reduceTile = 256
    /// Small device values the loss and Adam need, allocated once.
    private var lossScratch: (partial: any DeviceAllocation, value: any DeviceAllocation, values: Int)?
    private let adamTerms: any DeviceAllocation
    private let counter: any DeviceAllocation

    init(device: any KernelDevice) throws {
        self.device = device
        adamTerms = try device.allocate(bytes: 2 * MemoryLayout<Float>.stride)
        counter = try device.allocate(bytes: MemoryLayout<UInt64>.stride)
    }

    func allocate(floats count: Int) throws -> any DeviceAllocation {
        try device.allocate(bytes: max(1, count) * MemoryLayout<Float>.stride)
    }

    func upload(_ values: UnsafeBufferPointer<Float>, to destination: DevicePointer) throws {
        try device.upload(UnsafeRawBufferPointer(values), to: destination)
    }

    func download(_ source: DevicePointer, into values: UnsafeMutableBufferPointer<Float>) throws {
        try device.download(source, into: UnsafeMutableRawBufferPointer(values))
    }

    private func upload<T>(_ value: T, to destination: DevicePointer) throws {
        try withUnsafeBytes(of: value) { try device.upload($0, to: destination) }
    }

    func copy(_ source: DevicePointer, to destination: DevicePointer, count: Int) throws {
        try device.launch("dip_copy", items: count, [.address(destination), .address(source), .int(count)])
    }

    func add(_ source: DevicePointer, into destination: DevicePointer, count: Int) throws {
        try device.launch("dip_add", items: count, [.address(destination), .address(source), .int(count)])
    }

    func zero(_ destination: DevicePointer, count: Int) throws {
        try device.launch("dip_fill", items: count, [.address(destination), .int(count), .float(0)])
    }

    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution {
        try device.makeConvolution(geometry, algorithm: algorithm)
    }

    private static func dims(_ s: FeatureShape) -> [KernelArgument] { [.int(s.channels), .int(s.height), .int(s.width)] }

    func reflectionPad(_ x: DevicePointer, into y: DevicePointer, shape s: FeatureShape, pad: Int) throws {
        let out = s.channels * (s.height + 2 * pad) * (s.width + 2 * pad)
        try device.launch("dip_reflection_pad_forward", items: out,
                          [.address(y), .address(x)] + Self.dims(s) + [.int(pad), .int32(0)])
    }

    func reflectionPadBackward(_ gy: DevicePointer, into gx: DevicePointer, shape s: FeatureShape, pad: Int) throws {
        try device.launch("dip_reflection_pad_backward", items: s.count, [.address(gx), .address(gy)] + Self.dims(s) + [.int(pad)])
    }

    func makeBatchNorm(shape: FeatureShape, slope: Float?) throws -> any DeviceBatchNorm {
        try KernelBatchNorm(shape: shape, slope: slope, device: device)
    }

    /// BatchNorm as the kernels compute it: per-tile Float64 partial sums in a fixed order, then
    /// the statistics, then the elementwise pass (docs/cuda-kernels.md).
    private final class KernelBatchNorm: DeviceBatchNorm {
        let shape: FeatureShape
        let slope: Float?
        let device: any KernelDevice
        let tiles: Int
        let partial, partial2, mean, invStd, scale, shift, coefficients: any DeviceAllocation

        init(shape: FeatureShape, slope: Float?, device: any KernelDevice) throws {
            self.shape = shape
            self.slope = slope
            self.device = device
            tiles = (shape.plane + KernelDeviceOps.reduceTile - 1) / KernelDeviceOps.reduceTile
            let c = shape.channels, d = MemoryLayout<Double>.stride, f = MemoryLayout<Float>.stride
            partial = try device.allocate(bytes: tiles * c * d)
            partial2 = try device.allocate(bytes: tiles * c * d)
            mean = try device.allocate(bytes: c * d)
            invStd = try device.allocate(bytes: c * d)
            scale = try device.allocate(bytes: c * f)
            shift = try device.allocate(bytes: c * f)
            coefficients = try device.allocate(bytes: 3 * c * f)
        }

        func forward(_ x: DevicePointer, into y: DevicePointer, gamma: DevicePointer, beta: DevicePointer,
                     runningMean: DevicePointer, runningVar: DevicePointer, tracked: DevicePointer) throws {
            let s = shape, c = KernelArgument.int(s.channels), n = KernelArgument.int(s.plane)
            let tile = KernelArgument.int(KernelDeviceOps.reduceTile)
            try device.launch("dip_bn_partial_sum", items: tiles * s.channels, [.address(partial.pointer), .address(x), c, n, tile])
            try device.launch("dip_bn_mean", items: s.channels, [.address(mean.pointer), .address(partial.pointer), c, n, tile])
            try device.launch("dip_bn_partial_squares", items: tiles * s.channels,
                              [.address(partial.pointer), .address(x), .address(mean.pointer), c, n, tile])
            try device.launch("dip_bn_finalize", items: s.channels,
                              [.address(invStd.pointer), .address(scale.pointer), .address(shift.pointer), .address(runningMean),
                               .address(runningVar), .address(tracked), .address(partial.pointer), .address(mean.pointer),
                               .address(gamma), .address(beta), c, n, tile, .double(BatchNorm.epsilon), .double(BatchNorm.momentum)])
            try device.launch("dip_bn_apply", items: s.count,
                              [.address(y), .address(x), .address(mean.pointer), .address(scale.pointer), .address(shift.pointer),
                               c, .int(s.height), .int(s.width), .int64(Int64(s.width * s.channels)), .int64(Int64(s.channels)),
                               .int32(slope == nil ? 0 : 1), .float(slope ?? 1)])
        }

        func backward(_ x: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer, gamma: DevicePointer,
                      gradGamma: DevicePointer, gradBeta: DevicePointer) throws {
            let s = shape, c = KernelArgument.int(s.channels), n = KernelArgument.int(s.plane)
            let tile = KernelArgument.int(KernelDeviceOps.reduceTile), slope = KernelArgument.float(self.slope ?? 1)
            try device.launch("dip_bn_backward_partials", items: tiles * s.channels,
                              [.address(partial.pointer), .address(partial2.pointer), .address(x), .address(gy), .address(mean.pointer),
                               .address(invStd.pointer), .address(scale.pointer), .address(shift.pointer), c, n, tile, slope])
            try device.launch("dip_bn_backward_finalize", items: s.channels,
                              [.address(gradGamma), .address(gradBeta), .address(coefficients.pointer), .address(partial.pointer),
                               .address(partial2.pointer), .address(invStd.pointer), .address(gamma), c, n, tile])
            try device.launch("dip_bn_backward_apply", items: s.count,
                              [.address(gx), .address(gy), .address(x), .address(mean.pointer), .address(invStd.pointer),
                               .address(scale.pointer), .address(shift.pointer), .address(coefficients.pointer), c, n, slope])
        }
    }

    func averagePool(_ x: DevicePointer, into y: DevicePointer, shape s: FeatureShape) throws {
        try device.launch("dip_avgpool2x2_forward", items: s.channels * (s.height / 2) * (s.width / 2),
                          [.address(y), .address(x)] + Self.dims(s))
    }

    func averagePoolBackward(_ gy: DevicePointer, into gx: DevicePointer, shape s: FeatureShape) throws {
        try device.launch("dip_avgpool2x2_backward", items: s.count, [.address(gx), .address(gy)] + Self.dims(s))
    }

    private static func mode(_ m: SkipConfig.Upsampling) -> [KernelArgument] {
        switch m {
        case .nearest: return [.int32(0), .int32(0)]
        case let .bilinear(alignCorners): return [.int32(1), .int32(alignCorners ? 1 : 0)]
        }
    }

    func upsample(_ x: DevicePointer, into y: DevicePointer, shape s: FeatureShape, mode: SkipConfig.Upsampling) throws {
        try device.launch("dip_upsample2x_forward", items: 4 * s.count,
                          [.address(y), .address(x)] + Self.dims(s) + Self.mode(mode)
                            + [.int64(Int64(2 * s.width * s.channels)), .int64(Int64(s.channels))])
    }

    func upsampleBackward(_ gy: DevicePointer, into gx: DevicePointer, shape s: FeatureShape, mode: SkipConfig.Upsampling) throws {
        try device.launch("dip_upsample2x_backward", items: s.count, [.address(gx), .address(gy)] + Self.dims(s) + Self.mode(mode))
    }

    func concat(skip: DevicePointer, skipShape: FeatureShape, deeper: DevicePointer, deeperShape: FeatureShape,
                into y: DevicePointer) throws {
        let h = min(skipShape.height, deeperShape.height), w = min(skipShape.width, deeperShape.width)
        let total = skipShape.channels + deeperShape.channels
        for (x, s, first) in [(skip, skipShape, 0), (deeper, deeperShape, skipShape.channels)] {
            try device.launch("dip_concat_part_forward", items: h * w * s.channels,
                              [.address(y), .address(x), .int(s.channels), .int(s.height), .int(s.width), .int(h), .int(w),
                               .int(total), .int(first)])
        }
    }

    func concatBackward(_ gy: DevicePointer, skipGradient: DevicePointer, skipShape: FeatureShape,
                        deeperGradient: DevicePointer, deeperShape: FeatureShape) throws {
        let h = min(skipShape.height, deeperShape.height), w = min(skipShape.width, deeperShape.width)
        let total = skipShape.channels + deeperShape.channels
        for (g, s, first) in [(skipGradient, skipShape, 0), (deeperGradient, deeperShape, skipShape.channels)] {
            try device.launch("dip_concat_part_backward", items: s.count,
                              [.address(g), .address(gy), .int(s.channels), .int(s.height), .int(s.width), .int(h), .int(w),
                               .int(total), .int(first)])
        }
    }

    func sigmoid(_ x: DevicePointer, into y: DevicePointer, count: Int) throws {
        try device.launch("dip_sigmoid_forward", items: count, [.address(y), .address(x), .int(count)])
    }

    func sigmoidBackward(output y: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer, count: Int) throws {
        try device.launch("dip_sigmoid_backward", items: count, [.address(gx), .address(gy), .address(y), .int(count)])
    }

    func maskedMSE(output: DevicePointer, target: DevicePointer, mask: DevicePointer, shape s: FeatureShape,
                   scale: Double, gradient: DevicePointer) throws -> Double {
        let n = s.count, tile = Self.reduceTile, tiles = (n + tile - 1) / tile
        if lossScratch?.values != n {
            lossScratch = (try device.allocate(bytes: tiles * MemoryLayout<Double>.stride),
                           try device.allocate(bytes: MemoryLayout<Double>.stride), n)
        }
        let (partial, value, _) = lossScratch!
        let c = KernelArgument.int(s.channels)
        // MaskedMSELoss's factor 2 / (C H W), rounded to Float as the host rounds it.
        try device.launch("dip_mse_gradient", items: n,
                          [.address(gradient), .address(output), .address(target), .address(mask), c, c, .int(n),
                           .float(Float(2.0 / Double(n))), .float(Float(scale))])
        try device.launch("dip_mse_partial", items: tiles,
                          [.address(partial.pointer), .address(output), .address(target), .address(mask), c, c, .int(n), .int(tile)])
        try device.launch("dip_mse_value", items: 1, [.address(value.pointer), .address(partial.pointer), .int(n), .int(tile), .double(scale)])
        var loss = 0.0
        try withUnsafeMutableBytes(of: &loss) { try device.download(value.pointer, into: $0) }
        return loss
    }

    func adam(parameters: DevicePointer, gradients: DevicePointer, first: DevicePointer, second: DevicePointer,
              count: Int, step: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double) throws {
        // The kernel reads update number *counter's terms from a table; here the table holds this
        // step's terms alone and the counter says 1 (a captured graph would fill the whole table).
        let terms = Adam.stepTerms(step: step, learningRate: learningRate, beta1: beta1, beta2: beta2)
        try upload([terms.negStep, terms.biasCorrection2Sqrt], to: adamTerms.pointer)
        try upload(UInt64(1), to: counter.pointer)
        try device.launch("dip_adam_step", items: count,
                          [.address(parameters), .address(gradients), .address(first), .address(second), .int(count),
                           .address(adamTerms.pointer), .address(counter.pointer), .float(Float(1 - beta1)), .float(Float(beta2)),
                           .float(Float(1 - beta2)), .float(Float(epsilon))])
    }

    private func upload(_ values: [Float], to destination: DevicePointer) throws {
        try values.withUnsafeBytes { try device.upload($0, to: destination) }
    }

    func perturb(_ z: DevicePointer, into y: DevicePointer, shape s: FeatureShape, sigma: Float, seed: UInt64,
                 iteration: Int) throws {
        let key = RandomStream(seed: seed, purpose: .perturbation, substream: UInt64(iteration)).key
        try upload(UInt64(iteration), to: counter.pointer)
        try device.launch("dip_perturb", items: (s.count + 3) / 4,
                          [.address(y), .address(z)] + Self.dims(s)
                            + [.uint32(key.0), .uint32(key.1), .address(counter.pointer), .float(sigma)])
    }
}
