import DIPCore

/// `DeviceOps` on host memory, computed by the host engine's own layers (Layers/) and a host
/// backend's convolutions: each operation converts NHWC to the layers' [C, H, W], runs the layer,
/// and converts back. It is slow and exists to be the reference: a `DeviceTrainer` over it must
/// give the host trainer's bits (which checks the device trainer's dataflow and bookkeeping on
/// any machine), and a device's operations are checked against it one by one.
final class HostDeviceOps: DeviceOps {
    let name: String
    /// Each host fit has its own memory and layers: nothing to take turns on.
    var gate: DeviceGate? { nil }
    private let backend: any ComputeBackend
    private let parallel: ChannelParallel
    /// Every allocation by start address, so a pointer into one can be viewed as a Tensor.
    /// Weakly, so memory the trainer lets go of is freed (a dead entry is dropped on the next
    /// allocation).
    private var allocations: [UInt64: WeakAllocation] = [:]

    private final class WeakAllocation {
        weak var value: Allocation?
        init(_ value: Allocation) { self.value = value }
    }
    /// Sigmoids by their output's address: the backward reads the forward's output.
    private var sigmoids: [DevicePointer: Sigmoid] = [:]

    /// Host ops whose convolutions come from `backend`.
    init(backend: any ComputeBackend) {
        self.backend = backend
        name = "host layers (\(backend.name))"
        parallel = ChannelParallel(threads: max(1, backend.threads))
    }

    private final class Allocation: DeviceAllocation {
        let tensor: Tensor
        init(_ tensor: Tensor) { self.tensor = tensor }
        var pointer: DevicePointer { DevicePointer(address: UInt64(UInt(bitPattern: tensor.pointer))) }
        var count: Int { tensor.count }
    }

    func allocate(floats count: Int) throws -> any DeviceAllocation {
        let a = Allocation(Tensor([max(1, count)]))
        allocations = allocations.filter { $0.value.value != nil }
        allocations[a.pointer.address] = WeakAllocation(a)
        return a
    }

    private func host(_ p: DevicePointer) -> UnsafeMutablePointer<Float> {
        UnsafeMutablePointer(bitPattern: UInt(p.address))!
    }

    /// A tensor of `dims` over device memory at `p` (no copy).
    private func view(_ p: DevicePointer, _ dims: [Int]) -> Tensor {
        let stride = UInt64(MemoryLayout<Float>.stride)
        guard let (start, entry) = allocations.first(where: { entry in
            guard let a = entry.value.value else { return false }
            return p.address >= entry.key && p.address < entry.key + UInt64(a.count) * stride
        }), let base = entry.value?.tensor else {
            preconditionFailure("host device ops: \(p) is not in any live allocation")
        }
        return Tensor(viewing: base, offset: Int((p.address - start) / stride), dims: dims)
    }

    /// NHWC device values of `s` as a new [C, H, W] tensor.
    private func toCHW(_ p: DevicePointer, _ s: FeatureShape) -> Tensor {
        let t = s.makeTensor()
        Layout.chw(fromHWC: host(p), into: t.pointer, channels: s.channels, height: s.height, width: s.width)
        return t
    }

    /// A [C, H, W] tensor of `s` into NHWC device memory.
    private func fromCHW(_ t: Tensor, _ s: FeatureShape, into p: DevicePointer) {
        Layout.hwc(fromCHW: t.pointer, into: host(p), channels: s.channels, height: s.height, width: s.width)
    }

    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws {
        guard let base = bytes.baseAddress else { return }
        UnsafeMutableRawPointer(host(destination)).copyMemory(from: base, byteCount: bytes.count)
    }

    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        base.copyMemory(from: host(source), byteCount: bytes.count)
    }

    /// The UInt64 at `p`.
    private func word(_ p: DevicePointer) -> UInt64 {
        UnsafeRawPointer(host(p)).loadUnaligned(as: UInt64.self)
    }

    func increment(_ counter: DevicePointer) throws {
        UnsafeMutableRawPointer(host(counter)).storeBytes(of: word(counter) + 1, as: UInt64.self)
    }

    func storeLoss(_ value: DevicePointer, into log: DevicePointer, capacity: Int, index: DevicePointer) throws {
        let v = UnsafeRawPointer(host(value)).loadUnaligned(as: Double.self)
        let slot = Int(word(index) % UInt64(capacity))
        UnsafeMutableRawPointer(host(log)).storeBytes(of: v, toByteOffset: slot * MemoryLayout<Double>.stride, as: Double.self)
    }

    /// Host layers run as they are called: nothing to record.
    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture { .unsupported }

    func copy(_ source: DevicePointer, to destination: DevicePointer, count: Int) throws {
        host(destination).update(from: host(source), count: count)
    }

    func add(_ source: DevicePointer, into destination: DevicePointer, count: Int) throws {
        let s = host(source), d = host(destination)
        for i in 0..<count { d[i] += s[i] }
    }

    func zero(_ destination: DevicePointer, count: Int) throws {
        host(destination).update(repeating: 0, count: count)
    }

    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution {
        HostDeviceConvolution(try backend.makeConvolution(geometry, algorithm: algorithm), ops: self)
    }

    /// A host convolution kernel over NHWC activations and KRSC filters.
    private final class HostDeviceConvolution: DeviceConvolution {
        let kernel: any ConvolutionKernel
        unowned let ops: HostDeviceOps
        init(_ kernel: any ConvolutionKernel, ops: HostDeviceOps) {
            self.kernel = kernel
            self.ops = ops
        }
        var geometry: ConvGeometry { kernel.geometry }
        var implementation: String { kernel.implementation }
        private var inShape: FeatureShape {
            FeatureShape(channels: geometry.inChannels, height: geometry.inputHeight, width: geometry.inputWidth)
        }
        private var outShape: FeatureShape {
            FeatureShape(channels: geometry.outChannels, height: geometry.outputHeight, width: geometry.outputWidth)
        }
        /// KRSC device filter to an OIHW tensor.
        private func filter(_ p: DevicePointer) -> Tensor {
            let g = geometry
            let t = Tensor([g.outChannels, g.inChannels, g.kernel, g.kernel])
            Layout.chw(fromHWC: ops.host(p), into: t.pointer, channels: g.inChannels, height: g.kernel, width: g.kernel,
                       items: g.outChannels)
            return t
        }
        func forward(input x: DevicePointer, weight w: DevicePointer, bias b: DevicePointer, output y: DevicePointer) throws {
            let out = outShape.makeTensor()
            try kernel.forward(input: ops.toCHW(x, inShape), weight: filter(w), bias: ops.view(b, [geometry.outChannels]), output: out)
            ops.fromCHW(out, outShape, into: y)
        }
        func backwardData(gradOutput gy: DevicePointer, weight w: DevicePointer, gradInput gx: DevicePointer) throws {
            let gi = inShape.makeTensor()
            try kernel.backwardData(gradOutput: ops.toCHW(gy, outShape), weight: filter(w), gradInput: gi)
            ops.fromCHW(gi, inShape, into: gx)
        }
        func backwardWeights(input x: DevicePointer, gradOutput gy: DevicePointer, gradWeight gw: DevicePointer,
                             gradBias gb: DevicePointer) throws {
            let g = geometry
            let w = Tensor([g.outChannels, g.inChannels, g.kernel, g.kernel])
            try kernel.backwardWeights(input: ops.toCHW(x, inShape), gradOutput: ops.toCHW(gy, outShape), gradWeight: w,
                                       gradBias: ops.view(gb, [g.outChannels]))
            Layout.hwc(fromCHW: w.pointer, into: ops.host(gw), channels: g.inChannels, height: g.kernel, width: g.kernel,
                       items: g.outChannels)
        }
    }

    func reflectionPad(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape, pad: Int) throws {
        let layer = ReflectionPad(pad: pad, parallel: parallel)
        let out = try layer.prepare(inputShape: shape)
        fromCHW(layer.forward(toCHW(x, shape)), out, into: y)
    }

    func reflectionPadBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape, pad: Int) throws {
        let layer = ReflectionPad(pad: pad, parallel: parallel)
        let out = try layer.prepare(inputShape: shape)
        fromCHW(layer.backward(toCHW(gy, out)), shape, into: gx)
    }

    func makeBatchNorm(shape: FeatureShape, slope: Float?) throws -> any DeviceBatchNorm {
        var rng = RandomStream(seed: 0, purpose: .auxiliary)
        let layer = BatchNorm(channels: shape.channels, negativeSlope: slope, gammaInit: .one, rng: &rng, parallel: parallel)
        try layer.prepare(inputShape: shape)
        return HostDeviceBatchNorm(layer, shape: shape, ops: self)
    }

    /// A host BatchNorm layer whose parameters and running statistics are copied from and to
    /// device memory around each call.
    private final class HostDeviceBatchNorm: DeviceBatchNorm {
        let layer: BatchNorm
        let shape: FeatureShape
        unowned let ops: HostDeviceOps
        init(_ layer: BatchNorm, shape: FeatureShape, ops: HostDeviceOps) {
            self.layer = layer
            self.shape = shape
            self.ops = ops
        }

        func forward(_ x: DevicePointer, into y: DevicePointer, gamma: DevicePointer, beta: DevicePointer,
                     runningMean: DevicePointer, runningVar: DevicePointer, tracked: DevicePointer) throws {
            let c = shape.channels
            layer.weight.pointer.update(from: ops.host(gamma), count: c)
            layer.bias.pointer.update(from: ops.host(beta), count: c)
            layer.runningMean.pointer.update(from: ops.host(runningMean), count: c)
            layer.runningVar.pointer.update(from: ops.host(runningVar), count: c)
            layer.numBatchesTracked.pointer[0] = ops.host(tracked)[0]
            ops.fromCHW(layer.forward(ops.toCHW(x, shape)), shape, into: y)
            ops.host(runningMean).update(from: layer.runningMean.pointer, count: c)
            ops.host(runningVar).update(from: layer.runningVar.pointer, count: c)
            ops.host(tracked)[0] = layer.numBatchesTracked.pointer[0]
        }

        func backward(_ x: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer, gamma: DevicePointer,
                      gradGamma: DevicePointer, gradBeta: DevicePointer) throws {
            let c = shape.channels
            // The layer kept its input and statistics from its forward; gamma has not changed since.
            ops.fromCHW(layer.backward(ops.toCHW(gy, shape)), shape, into: gx)
            ops.host(gradGamma).update(from: layer.gradWeight.pointer, count: c)
            ops.host(gradBeta).update(from: layer.gradBias.pointer, count: c)
        }
    }

    func averagePool(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape) throws {
        let layer = AvgPool2x2(parallel: parallel)
        let out = try layer.prepare(inputShape: shape)
        fromCHW(layer.forward(toCHW(x, shape)), out, into: y)
    }

    func averagePoolBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape) throws {
        let layer = AvgPool2x2(parallel: parallel)
        let out = try layer.prepare(inputShape: shape)
        fromCHW(layer.backward(toCHW(gy, out)), shape, into: gx)
    }

    func upsample(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape, mode: SkipConfig.Upsampling) throws {
        let layer = Upsample2x(mode: mode, parallel: parallel)
        let out = layer.prepare(inputShape: shape)
        fromCHW(layer.forward(toCHW(x, shape)), out, into: y)
    }

    func upsampleBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape,
                          mode: SkipConfig.Upsampling) throws {
        let layer = Upsample2x(mode: mode, parallel: parallel)
        let out = layer.prepare(inputShape: shape)
        fromCHW(layer.backward(toCHW(gy, out)), shape, into: gx)
    }

    func concat(skip: DevicePointer, skipShape: FeatureShape, deeper: DevicePointer, deeperShape: FeatureShape,
                into y: DevicePointer) throws {
        let layer = Concat(parallel: parallel)
        let out = layer.prepare(skip: skipShape, deeper: deeperShape)
        fromCHW(layer.forward(skip: toCHW(skip, skipShape), deeper: toCHW(deeper, deeperShape)), out, into: y)
    }

    func concatBackward(_ gy: DevicePointer, skipGradient: DevicePointer, skipShape: FeatureShape,
                        deeperGradient: DevicePointer, deeperShape: FeatureShape) throws {
        let layer = Concat(parallel: parallel)
        let out = layer.prepare(skip: skipShape, deeper: deeperShape)
        let (gs, gd) = layer.backward(toCHW(gy, out))
        fromCHW(gs, skipShape, into: skipGradient)
        fromCHW(gd, deeperShape, into: deeperGradient)
    }

    func sigmoid(_ x: DevicePointer, into y: DevicePointer, count: Int) throws {
        let layer = Sigmoid()
        let s = FeatureShape(channels: 1, height: 1, width: count)
        layer.prepare(inputShape: s)
        let out = layer.forward(view(x, s.dims))
        host(y).update(from: out.pointer, count: count)
        sigmoids[y] = layer
    }

    func sigmoidBackward(output y: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer,
                         count: Int) throws {
        guard let layer = sigmoids[y] else { throw EngineError.backend("host device ops: sigmoid backward without its forward") }
        let g = layer.backward(view(gy, [1, 1, count]))
        host(gx).update(from: g.pointer, count: count)
    }

    func makeMaskedMSE(shape: FeatureShape, scale: Double) throws -> any DeviceMaskedMSE {
        HostMaskedMSE(shape: shape, scale: scale, ops: self)
    }

    /// MaskedMSELoss.scaled over NHWC device values.
    private final class HostMaskedMSE: DeviceMaskedMSE {
        let shape: FeatureShape
        let scale: Double
        unowned let ops: HostDeviceOps
        init(shape: FeatureShape, scale: Double, ops: HostDeviceOps) {
            self.shape = shape
            self.scale = scale
            self.ops = ops
        }

        func compute(output: DevicePointer, target: DevicePointer, mask: DevicePointer, gradient: DevicePointer,
                     loss: DevicePointer) throws {
            let g = shape.makeTensor()
            let value = try MaskedMSELoss.scaled(output: ops.toCHW(output, shape), target: ops.toCHW(target, shape),
                                                 mask: ops.toCHW(mask, shape), scale: scale, gradient: g)
            ops.fromCHW(g, shape, into: gradient)
            UnsafeMutableRawPointer(ops.host(loss)).storeBytes(of: value, as: Double.self)
        }
    }

    func adam(parameters: DevicePointer, gradients: DevicePointer, first: DevicePointer, second: DevicePointer,
              count: Int, stepTerms: DevicePointer, step: DevicePointer, learningRate: Double, beta1: Double,
              beta2: Double, epsilon: Double) throws {
        // The host Adam computes its terms from the learning rate and the step: the table is
        // ignored here, so a wrong table shows as a difference from this reference.
        let optimizer = try Adam([(parameter: view(parameters, [count]), gradient: view(gradients, [count]))],
                                 learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        optimizer.firstMoments[0].pointer.update(from: host(first), count: count)
        optimizer.secondMoments[0].pointer.update(from: host(second), count: count)
        optimizer.stepCount = Int(word(step)) - 1
        optimizer.step(parallel: parallel)
        host(first).update(from: optimizer.firstMoments[0].pointer, count: count)
        host(second).update(from: optimizer.secondMoments[0].pointer, count: count)
    }

    func perturb(_ z: DevicePointer, into y: DevicePointer, shape: FeatureShape, sigma: Float, seed: UInt64,
                 substream: DevicePointer) throws {
        let chw = toCHW(z, shape), out = shape.makeTensor()
        Perturbation.fill(chw.pointer, into: out.pointer, count: shape.count, sigma: sigma, seed: seed,
                          iteration: Int(word(substream)), parallel: parallel)
        fromCHW(out, shape, into: y)
    }
}
