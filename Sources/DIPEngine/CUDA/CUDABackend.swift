/// The CUDA backend: every fit kept whole on one NVIDIA GPU (`DeviceTrainer` over
/// `KernelDeviceOps` over `CUDAKernelDevice`): the project's kernels from the committed PTX, cuDNN 9
/// for the convolutions, parameters, activations, gradients and Adam's state in device memory for
/// the whole fit. Each fit gets its own stream and cuDNN handle, so `--jobs N` fits share a card.
public final class CUDABackend: ComputeBackend, @unchecked Sendable {
    /// "cuda-cudnn".
    public var name: String { Self.backendName }
    static let backendName = "cuda-cudnn"
    /// One host thread drives a fit.
    public let threads = 1
    /// The device ordinal (after CUDA_VISIBLE_DEVICES).
    public let ordinal: Int
    /// Which arithmetic the convolutions may use.
    public let math: GPUMathMode

    /// A backend on device `ordinal` with convolutions in `math`.
    public init(ordinal: Int = 0, math: GPUMathMode) {
        self.ordinal = ordinal
        self.math = math
    }

    /// The CUDA backend convolves device memory only: host-tensor convolutions are the CPU
    /// backends' (`makeTrainer` is how a fit uses this one).
    public func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        throw EngineError.backend("the CUDA backend has no convolutions on host memory; fits run through its trainer")
    }

    /// Its fits' activations live in the GPU's memory.
    public var trainsInHostMemory: Bool { false }

    /// A trainer whose whole fit stays on the GPU. Set up in an exclusive turn of the device
    /// (`DeviceGate`): its stream, module, cuDNN handle and memory while other fits wait.
    public func makeTrainer(network: SkipNetwork, problem: TrainingProblem) throws -> any NetworkTrainer {
        try CUDAContext.gate(ordinal: ordinal).exclusive {
            let device = try CUDAKernelDevice(ordinal: ordinal, math: math)
            return try DeviceTrainer(network: network, problem: problem, ops: KernelDeviceOps(device: device))
        }
    }
}

extension BackendFactory {
    /// CUDA backends on device `ordinal` with convolutions in `math`. Throws, saying what is
    /// missing (driver, device, cuDNN 9) and naming `--device cpu`, where a fit cannot run.
    public static func cuda(ordinal: Int = 0, math: GPUMathMode = .tf32) throws -> BackendFactory {
        try cuda(ordinal: ordinal, math: math, probe: CUDAProbe.run())
    }

    /// The same from a probe already made (probing loads the driver and may ask python3 where
    /// cuDNN is: once per choice is enough).
    static func cuda(ordinal: Int, math: GPUMathMode, probe: CUDAProbe) throws -> BackendFactory {
        guard probe.usable, let card = probe.devices.first(where: { $0.ordinal == ordinal }) else {
            let why = probe.lines.filter { $0.contains("none") || $0.contains("problem") }.joined(separator: "; ")
            throw EngineError.backend("--device cuda: no usable NVIDIA GPU here (\(why.isEmpty ? "device \(ordinal) not found" : why)); use --device cpu")
        }
        var libraries = ["CUDA driver": probe.driver.version ?? "?"]
        libraries["cuDNN"] = probe.cudnn.version ?? "?"
        let device = "\(card.name) (compute capability \(card.computeCapability), \(card.multiprocessors) SMs), \(math.rawValue) convolutions"
        return BackendFactory(name: CUDABackend.backendName, libraryVersions: libraries, device: device, runsLBFGS: false,
                              jobsShareDevice: true, computesOnHostCPU: false,
                              peakMemoryMiB: { Double(DeviceMemoryTally.peakBytes) / 1_048_576 }) { _ in
            CUDABackend(ordinal: ordinal, math: math)
        }
    }
}

/// Where fits compute, as `--device` names it.
public enum ComputeDevice: String, Sendable, CaseIterable {
    /// The CPU (oneDNN).
    case cpu
    /// An NVIDIA GPU (CUDA driver, cuDNN 9).
    case cuda
    /// The GPU when a driver, a card and cuDNN are found, else the CPU.
    case auto

    /// The factory for this choice; `auto` falls back to the CPU silently only when no GPU is
    /// usable (what it chose is in the factory's name and device).
    public func factory(math: GPUMathMode) throws -> BackendFactory {
        switch self {
        case .cpu: return .cpu
        case .cuda: return try .cuda(math: math)
        case .auto:
            let probe = CUDAProbe.run()
            return probe.usable ? try .cuda(ordinal: 0, math: math, probe: probe) : .cpu
        }
    }
}
