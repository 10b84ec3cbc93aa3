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

/// The operations a device-resident fit needs (`DeviceTrainer`), each the device version of a
/// host layer in Layers/ with the same arithmetic: what a device backend implements (CUDA: its
/// own kernels and cuDNN; the tests: the same kernel sources compiled for the host). Activations
/// are NHWC, batch 1; `FeatureShape` gives channels, height and width. Every operation
/// overwrites its outputs unless it says "adds".
protocol DeviceOps: AnyObject {
    /// "cuda (NVIDIA H200, cuDNN 9.x, TF32)", for logs and records.
    var name: String { get }

    /// Allocates `count` Float32 values (contents undefined).
    func allocate(floats count: Int) throws -> any DeviceAllocation
    /// Copies host values to the device.
    func upload(_ values: UnsafeBufferPointer<Float>, to destination: DevicePointer) throws
    /// Copies device values to the host.
    func download(_ source: DevicePointer, into values: UnsafeMutableBufferPointer<Float>) throws
    /// dst = src over `count` values.
    func copy(_ source: DevicePointer, to destination: DevicePointer, count: Int) throws
    /// dst += src over `count` values (a gradient read by two layers).
    func add(_ source: DevicePointer, into destination: DevicePointer, count: Int) throws
    /// Sets `count` values to zero.
    func zero(_ destination: DevicePointer, count: Int) throws

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

    /// The masked MSE of docs/semantics.md §6 times `scale`, and its gradient (also times
    /// `scale`), over output, target and mask of `shape` (the mask expanded to every channel):
    /// the loss is returned, as MaskedMSELoss.scaled computes it.
    func maskedMSE(output: DevicePointer, target: DevicePointer, mask: DevicePointer, shape: FeatureShape,
                   scale: Double, gradient: DevicePointer) throws -> Double

    /// One Adam step over `count` values (Adam.step's arithmetic), `step` being the step's
    /// 1-based number.
    func adam(parameters: DevicePointer, gradients: DevicePointer, first: DevicePointer, second: DevicePointer,
              count: Int, step: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double) throws

    /// y = z + sigma * N(0, 1) of the seed's `.perturbation` substream `iteration`, z and y NHWC
    /// (`shape`): the noise value of element (c, h, w) is the host's (RandomStream.fillNormal)
    /// value number (c * H + h) * W + w, the same bits as the host trainer draws.
    func perturb(_ z: DevicePointer, into y: DevicePointer, shape: FeatureShape, sigma: Float, seed: UInt64,
                 iteration: Int) throws
}
