/// An address in a device's memory: a CUDA `CUdeviceptr`, or a host pointer's bit pattern for
/// the host emulation of the device kernels. Both are 64-bit addresses, so the device trainer
/// does its bookkeeping (slices of one arena) once for every device.
struct DevicePointer: Hashable {
    /// The raw address.
    let address: UInt64

    /// The address `floats` Float32 values further on.
    func advanced(by floats: Int) -> DevicePointer {
        DevicePointer(address: address + UInt64(floats * MemoryLayout<Float>.stride))
    }
}

/// Memory a device allocated; freed when the last reference goes.
protocol DeviceAllocation: AnyObject {
    /// Where it starts.
    var pointer: DevicePointer { get }
    /// Its size in Float32 values.
    var count: Int { get }
}

/// One convolution prepared on a device for one geometry (docs/semantics.md §3.1: a valid
/// convolution of an already padded input). Activations are NHWC ([H, W, C], batch 1) and
/// filters KRSC ([Cout, k, k, Cin]); every call overwrites its outputs.
protocol DeviceConvolution: AnyObject {
    /// The geometry it was made for.
    var geometry: ConvGeometry { get }
    /// What runs, e.g. "cuDNN implicit GEMM (TF32)": what `bench` and the records report.
    var implementation: String { get }
    /// y = conv(x, w) + b.
    func forward(input x: DevicePointer, weight w: DevicePointer, bias b: DevicePointer, output y: DevicePointer) throws
    /// gx = d loss / d x from gy.
    func backwardData(gradOutput gy: DevicePointer, weight w: DevicePointer, gradInput gx: DevicePointer) throws
    /// gw, gb = d loss / d w, d loss / d b (overwritten).
    func backwardWeights(input x: DevicePointer, gradOutput gy: DevicePointer, gradWeight gw: DevicePointer,
                         gradBias gb: DevicePointer) throws
}

/// One BatchNorm layer on a device: training mode (batch statistics, biased variance, eps 1e-5),
/// then LeakyReLU when it has a slope (BatchNorm.swift's arithmetic). It keeps the batch
/// statistics of its last forward for its backward.
protocol DeviceBatchNorm: AnyObject {
    /// Normalises x into y; updates the running statistics as PyTorch does (momentum 0.1,
    /// unbiased variance; `tracked` counts forwards).
    func forward(_ x: DevicePointer, into y: DevicePointer, gamma: DevicePointer, beta: DevicePointer,
                 runningMean: DevicePointer, runningVar: DevicePointer, tracked: DevicePointer) throws
    /// From the last forward's input x and the output gradient: gx, and d loss / d gamma and
    /// beta (overwritten).
    func backward(_ x: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer, gamma: DevicePointer,
                  gradGamma: DevicePointer, gradBeta: DevicePointer) throws
}

/// The masked MSE loss of one output shape on a device (docs/semantics.md §6), with the scratch
/// its fixed-order reduction needs, allocated once so an iteration allocates nothing (and can be
/// captured).
protocol DeviceMaskedMSE: AnyObject {
    /// The loss times the scale it was made with, as MaskedMSELoss.scaled computes it, written as
    /// one Float64 at `loss`, and its gradient (also times the scale) into `gradient`; output,
    /// target and mask are of the shape it was made for (the mask expanded to every channel).
    func compute(output: DevicePointer, target: DevicePointer, mask: DevicePointer, gradient: DevicePointer,
                 loss: DevicePointer) throws
}

/// Work a device recorded once to replay many times (a CUDA graph): the same operations on the
/// same memory with the same scalar arguments, so whatever changes from replay to replay must be
/// read from device memory (counters, tables).
protocol DeviceGraph: AnyObject {
    /// Enqueues one replay.
    func replay() throws
}

/// What asking a device to record work gave.
enum DeviceCapture {
    /// Recorded: replay it.
    case graph(any DeviceGraph)
    /// This device runs every operation as it is called and has nothing to replay.
    case unsupported
    /// Recording failed (the text says where and why); the same work runs eagerly.
    case failed(String)
}

/// The operations a device-resident fit needs (`DeviceTrainer`), each the device version of a
/// host layer in Layers/ with the same arithmetic: what a device backend implements (CUDA: its
/// own kernels and cuDNN; the tests: the same kernel sources compiled for the host). Activations
/// are NHWC, batch 1; `FeatureShape` gives channels, height and width. Every operation
/// overwrites its outputs unless it says "adds".
protocol DeviceOps: AnyObject {
    /// "cuda (NVIDIA H200, cuDNN 9.x, TF32)", for logs and records.
    var name: String { get }
    /// The turns of the fits sharing this device (`DeviceGate`); nil where fits share nothing.
    var gate: DeviceGate? { get }

    /// Allocates `count` Float32 values (contents undefined).
    func allocate(floats count: Int) throws -> any DeviceAllocation
    /// Copies host bytes to the device (the host may reuse them at once).
    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws
    /// Copies device bytes to the host, after everything enqueued before has run.
    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws
    /// dst = src over `count` values.
    func copy(_ source: DevicePointer, to destination: DevicePointer, count: Int) throws
    /// dst += src over `count` values (a gradient read by two layers).
    func add(_ source: DevicePointer, into destination: DevicePointer, count: Int) throws
    /// Sets `count` values to zero.
    func zero(_ destination: DevicePointer, count: Int) throws
    /// Adds 1 to the UInt64 at `counter` (an iteration or step number a replay advances itself).
    func increment(_ counter: DevicePointer) throws
    /// Copies the Float64 at `value` to `log[index % capacity]`, `index` being the UInt64 at
    /// `index`: a ring of losses the host reads once per batch of iterations.
    func storeLoss(_ value: DevicePointer, into log: DevicePointer, capacity: Int, index: DevicePointer) throws
    /// Records the work `enqueue` puts on the device for replay instead of running it, where the
    /// device can (allocating, uploading or downloading inside `enqueue` fails the recording).
    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture

    /// A convolution for `geometry`.
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution

    /// Reflection padding of x ([H, W, C] = `shape`) by `pad` into y ([H+2p, W+2p, C]).
    func reflectionPad(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape, pad: Int) throws
    /// Its backward: gx ([H, W, C]) gathers the gradient of every padded copy from gy.
    func reflectionPadBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape, pad: Int) throws

    /// A BatchNorm (with its fused LeakyReLU when `slope` is given) for activations of `shape`,
    /// holding what its backward needs from its forward.
    func makeBatchNorm(shape: FeatureShape, slope: Float?) throws -> any DeviceBatchNorm

    /// AvgPool2d(2, 2) of x (`shape`), floor size.
    func averagePool(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape) throws
    /// Its backward into gx (`shape` is the input's).
    func averagePoolBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape) throws

    /// Upsample x2 of x (`shape`), nearest or bilinear as `mode` says.
    func upsample(_ x: DevicePointer, into y: DevicePointer, shape: FeatureShape, mode: SkipConfig.Upsampling) throws
    /// Its backward into gx (`shape` is the input's).
    func upsampleBackward(_ gy: DevicePointer, into gx: DevicePointer, shape: FeatureShape,
                          mode: SkipConfig.Upsampling) throws

    /// Channel concat [skip | deeper], each centre-cropped to the smaller height and width.
    func concat(skip: DevicePointer, skipShape: FeatureShape, deeper: DevicePointer, deeperShape: FeatureShape,
                into y: DevicePointer) throws
    /// Its backward: each input's gradient whole (zero where the crop dropped pixels).
    func concatBackward(_ gy: DevicePointer, skipGradient: DevicePointer, skipShape: FeatureShape,
                        deeperGradient: DevicePointer, deeperShape: FeatureShape) throws

    /// y = 1 / (1 + exp(-x)) over `count` values.
    func sigmoid(_ x: DevicePointer, into y: DevicePointer, count: Int) throws
    /// gx = gy * y (1 - y), from the forward's output y.
    func sigmoidBackward(output y: DevicePointer, gradOutput gy: DevicePointer, gradInput gx: DevicePointer,
                         count: Int) throws

    /// The masked MSE loss for outputs of `shape`, times `scale` (what turns the canvas's mean
    /// into upstream's).
    func makeMaskedMSE(shape: FeatureShape, scale: Double) throws -> any DeviceMaskedMSE

    /// One Adam step over `count` values (Adam.step's arithmetic). The step's 1-based number is
    /// the UInt64 at `step`; `stepTerms` is a table of Float pairs, pair s - 1 being
    /// `Adam.stepTerms(step: s, learningRate:...)` (negStep, biasCorrection2Sqrt) for steps 1 up
    /// to the number at `step` at least. A reference implementation may compute the terms from
    /// `learningRate` instead, which checks the table.
    func adam(parameters: DevicePointer, gradients: DevicePointer, first: DevicePointer, second: DevicePointer,
              count: Int, stepTerms: DevicePointer, step: DevicePointer, learningRate: Double, beta1: Double,
              beta2: Double, epsilon: Double) throws

    /// y = z + sigma * N(0, 1) of the seed's `.perturbation` substream i, i being the UInt64 at
    /// `substream` (the iteration), z and y NHWC (`shape`): the noise value of element (c, h, w)
    /// is the host's (RandomStream.fillNormal) value number (c * H + h) * W + w, the same bits as
    /// the host trainer draws.
    func perturb(_ z: DevicePointer, into y: DevicePointer, shape: FeatureShape, sigma: Float, seed: UInt64,
                 substream: DevicePointer) throws
}

extension DeviceOps {
    /// Copies host Float32 values to the device.
    func upload(_ values: UnsafeBufferPointer<Float>, to destination: DevicePointer) throws {
        try upload(UnsafeRawBufferPointer(values), to: destination)
    }

    /// Copies device Float32 values to the host.
    func download(_ source: DevicePointer, into values: UnsafeMutableBufferPointer<Float>) throws {
        try download(source, into: UnsafeMutableRawBufferPointer(values))
    }

    /// Writes one plain value (a counter, a Float64) to device memory.
    func upload<T: BitwiseCopyable>(value: T, to destination: DevicePointer) throws {
        try withUnsafeBytes(of: value) { try upload($0, to: destination) }
    }

    /// Reads `count` plain values (counters, Float64 losses) from device memory.
    func download<T: BitwiseCopyable>(_ type: T.Type, count: Int = 1, from source: DevicePointer) throws -> [T] {
        try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try download(source, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Allocates room for `count` 8-byte values (UInt64 counters, Float64 losses).
    func allocate(words count: Int) throws -> any DeviceAllocation {
        try allocate(floats: 2 * count)
    }
}
