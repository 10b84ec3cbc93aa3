/// Geometry of one convolution. There is no padding here: the skip network reflection-pads
/// its input first (docs/semantics.md §3.1), so the kernel runs a "valid" convolution.
public struct ConvGeometry: Hashable, Sendable, CustomStringConvertible {
    /// Input channels.
    public var inChannels: Int
    /// Output channels.
    public var outChannels: Int
    /// Square kernel side.
    public var kernel: Int
    /// Stride, 1 or 2.
    public var stride: Int
    /// Input rows, after padding.
    public var inputHeight: Int
    /// Input columns, after padding.
    public var inputWidth: Int

    /// Creates a geometry.
    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, inputHeight: Int, inputWidth: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
    }

    /// floor((n - k) / s) + 1, PyTorch's size rule for a valid convolution.
    public var outputHeight: Int { (inputHeight - kernel) / stride + 1 }
    /// Output columns.
    public var outputWidth: Int { (inputWidth - kernel) / stride + 1 }
    /// Multiply-accumulates of one forward pass.
    public var macs: Int { outChannels * outputHeight * outputWidth * inChannels * kernel * kernel }

    /// "Cin->Cout kxk/s at WxH", for tables and error messages: width first, as every size the
    /// tool prints.
    public var description: String {
        "\(inChannels)->\(outChannels) \(kernel)x\(kernel)/\(stride) at \(inputWidth)x\(inputHeight)"
    }
}

/// Which convolution algorithm a backend should use.
public enum ConvAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    /// Direct convolution: the reference rounding.
    case direct
    /// Winograd (F(4x4, 3x3), or F(8x8, 3x3) or F(6x6, 3x3) on large layers) where the shape
    /// allows it (3x3, stride 1; on the CPU also the large 3x3 stride-2 layers by F(6x6, 2x2)
    /// over their input's phases, where that is the faster); direct elsewhere.
    case winograd
    /// The backend's choice: on the CPU, Winograd for 3x3 stride-1 convolutions (on AVX-512 not
    /// below 32x32 outputs, where oneDNN's direct kernels are the faster) and where it pays for
    /// stride-2 ones, direct elsewhere (the default; see BENCHMARKS.md for the measured
    /// comparison).
    case auto
}

/// A convolution prepared for one geometry: created once, executed every iteration.
///
/// Tensors: input [Cin, H, W], weight [Cout, Cin, k, k], bias [Cout], output [Cout, Ho, Wo],
/// all plain row-major (Tensor's layout). Every call overwrites its outputs.
public protocol ConvolutionKernel: AnyObject {
    /// The geometry this kernel was made for.
    var geometry: ConvGeometry { get }
    /// The algorithm that runs (direct or winograd; `auto` resolved), which decides the rounding.
    var algorithm: ConvAlgorithm { get }
    /// What runs each pass, e.g. "forward winograd (jit:avx512_core_winograd), ...": what
    /// `bench`, `inpaint` and the records report, so a user sees what `auto` chose.
    var implementation: String { get }
    /// output = conv(input, weight) + bias.
    func forward(input: Tensor, weight: Tensor, bias: Tensor, output: Tensor) throws
    /// gradInput = d loss / d input, given d loss / d output.
    func backwardData(gradOutput: Tensor, weight: Tensor, gradInput: Tensor) throws
    /// gradWeight, gradBias = d loss / d weight, d loss / d bias. `input` is either the tensor
    /// the last `forward` read, unchanged since unless the kernel `keepsForwardInput` (a kernel
    /// may reuse what that forward derived from it, once), or any other tensor.
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, gradBias: Tensor) throws
    /// Both backward passes: the weight gradients first, then (when `gradInput` is given) the
    /// input gradient, which may be written over `input`. A kernel may share work between the
    /// two (oneDNN's reorders the output gradient once).
    func backward(input: Tensor, gradOutput: Tensor, weight: Tensor, gradWeight: Tensor, gradBias: Tensor,
                  gradInput: Tensor?) throws
    /// True when every `forward` keeps what the backward-weights pass needs of its input (in
    /// the kernel's own memory) and that pass, given the same tensor, reads only what was kept:
    /// then the caller may write other data into the input's memory between the two, as long
    /// as it passes the same tensor back. False for a kernel that reads the input again.
    var keepsForwardInput: Bool { get }
}

extension ConvolutionKernel {
    /// A kernel reads its input again in the backward-weights pass unless it says otherwise.
    public var keepsForwardInput: Bool { false }

    /// `backwardWeights`, then `backwardData`.
    public func backward(input: Tensor, gradOutput: Tensor, weight: Tensor, gradWeight: Tensor, gradBias: Tensor,
                         gradInput: Tensor?) throws {
        try backwardWeights(input: input, gradOutput: gradOutput, gradWeight: gradWeight, gradBias: gradBias)
        if let gradInput { try backwardData(gradOutput: gradOutput, weight: weight, gradInput: gradInput) }
    }
}

/// A kernel whose bias gradient is `planeSum` of each channel of the output gradient. The layer
/// that writes that gradient can sum it as it writes (BatchNorm's backward, which follows every
/// convolution of the nets but the last) and save the kernel a pass over it (the plane sums took
/// 0.7 % of a text 256 iteration's CPU time on a Zen 3, BENCHMARKS.md, eighteenth part).
protocol PlaneSumBiasGradient: ConvolutionKernel {
    /// `backwardWeights` with `gradBias` left as it is: the caller has put the plane sums of
    /// `gradOutput` there.
    func backwardWeights(input: Tensor, gradOutput: Tensor, gradWeight: Tensor, keepingSummedBias gradBias: Tensor) throws
}

/// A convolution kernel whose input-gradient pass can fold the gradient of the reflection pad in
/// front of it as it writes (ReflectionPad.foldBlock, the pad's own order and bits), so the
/// padded input gradient is never written and read back.
protocol FoldsReflectionPadGradient: ConvolutionKernel {
    /// gradInput = the reflection pad's backward of d loss / d (padded) input, given d loss /
    /// d output: the gradient of the unpadded input, [Cin, H - 2 pad, W - 2 pad].
    func backwardData(gradOutput: Tensor, weight: Tensor, foldingReflectionPad pad: Int, into gradInput: Tensor) throws
    /// Whether `backwardData(…foldingReflectionPad: pad…)` runs at this kernel's geometry (at
    /// least `ConvGeometry.leavesRoomToFold`). Where it does not, the caller writes the padded
    /// gradient and runs the pad's own backward.
    func foldsReflectionPad(_ pad: Int) -> Bool
}

/// A convolution kernel that can read its padded input as BatchNorm's output of an unpadded
/// tensor (`NormalizedPaddedInput`), building each row as it reads it, so the BatchNorm need not
/// write the padded tensor for the kernel to read back. It keeps what its backward-weights pass
/// needs (`keepsForwardInput`), so nothing reads the padded input later either.
protocol NormalizesItsInput: ConvolutionKernel {
    /// Whether building the rows pays at this kernel's geometry; where it does not, the caller
    /// writes the padded input as for any kernel (`forward(normalizing:…)` still works).
    var normalizingPays: Bool { get }
    /// `forward(input: padded, …)` where `padded` holds the rows `input` describes: the same
    /// output bits, and the same kept data, recorded as from `padded`, whose memory is neither
    /// read nor written. `padded` is the tensor the caller passes to `backwardWeights`.
    func forward(normalizing input: NormalizedPaddedInput, standingFor padded: Tensor, weight: Tensor, bias: Tensor,
                 output: Tensor) throws
}

/// The compute backend behind a fit, at two levels:
/// - `makeTrainer`: the whole iteration (network, loss, perturbation, Adam) on the backend's
///   device. The Fitter talks only to this, so a GPU backend that keeps everything resident is a
///   new trainer, not a new loop.
/// - `makeConvolution`: one convolution on host tensors, what the host network's layers call.
///   Host backends (oneDNN, the reference) get their trainer from this for free: the default
///   `makeTrainer` runs the network's own layers on host memory.
public protocol ComputeBackend: AnyObject, Sendable {
    /// A short name for logs and result records ("cpu-onednn", "reference").
    var name: String { get }
    /// Threads the backend's kernels use.
    var threads: Int { get }
    /// Prepares a convolution for `geometry`.
    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel
    /// A trainer for `network` (built and initialised, not yet prepared) on `problem`.
    func makeTrainer(network: SkipNetwork, problem: TrainingProblem) throws -> any NetworkTrainer
    /// Whether its trainers hold a fit's activations in host memory, so that a fit first checks
    /// the host has room for them (`FitMemory.requireRoom`); a device's trainer holds them in
    /// the device's memory.
    var trainsInHostMemory: Bool { get }
}

extension ComputeBackend {
    /// The host trainer: the network's layers on host memory, convolutions from this backend.
    public func makeTrainer(network: SkipNetwork, problem: TrainingProblem) throws -> any NetworkTrainer {
        try HostTrainer(network: network, problem: problem)
    }

    /// The host trainer's activations live in host memory.
    public var trainsInHostMemory: Bool { true }
}
