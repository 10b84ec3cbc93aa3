import DIPCore

/// Where the project's kernels (Sources/CDIPKernels/cuda/dip_kernels.cu, docs/cuda-kernels.md)
/// run: a GPU (the committed PTX, launched through the driver API) or the host (the same source
/// compiled as C, over an emulated grid). Kernels take one work item per thread.
protocol KernelDevice: AnyObject {
    /// "cuda (NVIDIA H200, ...)" or "host emulation".
    var name: String { get }
    /// The turns of the fits sharing this device, if several can.
    var gate: DeviceGate? { get }
    /// Allocates `bytes` bytes (contents undefined).
    func allocate(bytes: Int) throws -> any DeviceAllocation
    /// Copies host bytes to the device.
    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws
    /// Copies device bytes to the host.
    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws
    /// Runs `kernel` (its extern "C" name) over `items` work items.
    func launch(_ kernel: String, items: Int, _ arguments: [KernelArgument]) throws
    /// Records the launches (and convolutions) `enqueue` makes for replay instead of running
    /// them (`DeviceOps.capture`).
    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture
    /// A convolution for `geometry` (cuDNN on a GPU).
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution
}

/// `DeviceOps` through the project's kernels: each operation is the kernel sequence that computes
/// it, written once for every `KernelDevice`, so the host emulation that the tests run is the
/// GPU's sequence too.
final class KernelDeviceOps: DeviceOps {
    let device: any KernelDevice
    var name: String { device.name }
    var gate: DeviceGate? { device.gate }
    /// Pixels (BatchNorm) or values (loss) per partial sum: the kernels' DIP_REDUCE_TILE, part of
    /// the fixed summation order.
    static let reduceTile = 256

    init(device: any KernelDevice) {
        self.device = device
    }

    func allocate(floats count: Int) throws -> any DeviceAllocation {
        try device.allocate(bytes: max(1, count) * MemoryLayout<Float>.stride)
    }

    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws {
        try device.upload(bytes, to: destination)
    }

    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws {
        try device.download(source, into: bytes)
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

    func increment(_ counter: DevicePointer) throws {
        try device.launch("dip_counter_increment", items: 1, [.address(counter)])
    }

    func storeLoss(_ value: DevicePointer, into log: DevicePointer, capacity: Int, index: DevicePointer) throws {
        try device.launch("dip_loss_log", items: 1, [.address(log), .int(capacity), .address(value), .address(index)])
    }

    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture {
        try device.capture(enqueue)
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

    func makeMaskedMSE(shape: FeatureShape, scale: Double) throws -> any DeviceMaskedMSE {
        try KernelMaskedMSE(shape: shape, scale: scale, device: device)
    }

    /// The loss as the kernels compute it: the gradient elementwise, the value from per-tile
    /// Float64 partial sums added in tile order.
    private final class KernelMaskedMSE: DeviceMaskedMSE {
        let shape: FeatureShape
        let scale: Double
        let device: any KernelDevice
        let tiles: Int
        let partial: any DeviceAllocation

        init(shape: FeatureShape, scale: Double, device: any KernelDevice) throws {
            self.shape = shape
            self.scale = scale
            self.device = device
            tiles = (shape.count + KernelDeviceOps.reduceTile - 1) / KernelDeviceOps.reduceTile
            partial = try device.allocate(bytes: tiles * MemoryLayout<Double>.stride)
        }

        func compute(output: DevicePointer, target: DevicePointer, mask: DevicePointer, gradient: DevicePointer,
                     loss: DevicePointer) throws {
            let n = shape.count, tile = KernelDeviceOps.reduceTile, c = KernelArgument.int(shape.channels)
            // MaskedMSELoss's factor 2 / (C H W), rounded to Float as the host rounds it.
            try device.launch("dip_mse_gradient", items: n,
                              [.address(gradient), .address(output), .address(target), .address(mask), c, c, .int(n),
                               .float(Float(2.0 / Double(n))), .float(Float(scale))])
            try device.launch("dip_mse_partial", items: tiles,
                              [.address(partial.pointer), .address(output), .address(target), .address(mask), c, c, .int(n),
                               .int(tile)])
            try device.launch("dip_mse_value", items: 1,
                              [.address(loss), .address(partial.pointer), .int(n), .int(tile), .double(scale)])
        }
    }

    func adam(parameters: DevicePointer, gradients: DevicePointer, first: DevicePointer, second: DevicePointer,
              count: Int, stepTerms: DevicePointer, step: DevicePointer, learningRate: Double, beta1: Double,
              beta2: Double, epsilon: Double) throws {
        // The kernel reads the step number and its terms from device memory (the table), so a
        // replay of a captured iteration takes the next step without a host write.
        try device.launch("dip_adam_step", items: count,
                          [.address(parameters), .address(gradients), .address(first), .address(second), .int(count),
                           .address(stepTerms), .address(step), .float(Float(1 - beta1)), .float(Float(beta2)),
                           .float(Float(1 - beta2)), .float(Float(epsilon))])
    }

    func perturb(_ z: DevicePointer, into y: DevicePointer, shape s: FeatureShape, sigma: Float, seed: UInt64,
                 substream: DevicePointer) throws {
        // The key depends on the seed alone; the substream (the iteration) is read on the device.
        let key = RandomStream(seed: seed, purpose: .perturbation).key
        try device.launch("dip_perturb", items: (s.count + 3) / 4,
                          [.address(y), .address(z)] + Self.dims(s)
                            + [.uint32(key.0), .uint32(key.1), .address(substream), .float(sigma)])
    }
}
