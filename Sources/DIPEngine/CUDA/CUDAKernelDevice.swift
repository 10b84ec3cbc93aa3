import CCUDA

/// The project's kernels and cuDNN on one NVIDIA GPU, behind `KernelDevice`: what
/// `KernelDeviceOps` (the kernel sequences, tested on the host emulation) runs on a card. One per
/// fit: its own stream and cuDNN handle in the device's primary context, so several fits can
/// share a card.
///
/// Copies wait for the stream (the host reuses its memory at once); launches are enqueued and the
/// loss download at the end of an iteration is where the host waits for the GPU.
final class CUDAKernelDevice: KernelDevice {
    let name: String
    let context: CUDAContext
    let stream: CUDAStream
    let math: GPUMathMode
    var gate: DeviceGate? { context.gate }
    /// Whether `capture` records (false: it answers `.unsupported`, and work runs eagerly; the
    /// self-test's eager side).
    let records: Bool
    private let module: CUDAModule
    /// Every kernel of the module, resolved at once: with lazy loading (the default since CUDA
    /// 12.2) a kernel's code is loaded when its function is first got, which must not happen
    /// in the middle of a capture.
    private let functions: [String: CUDAFunction]
    private let cudnn: CuDNNHandle
    private let workspace: CuDNNWorkspace

    /// The device `ordinal` with convolutions in `math`. Throws, naming what is missing, where
    /// there is no driver, no such device, no cuDNN 9, or a card older than compute capability
    /// 8.0 (the PTX targets Ampere and Hopper).
    init(ordinal: Int = 0, math: GPUMathMode, records: Bool = true) throws {
        self.records = records
        let driver = try CUDADriver.shared()
        let info = try driver.deviceInfo(ordinal)
        let cc = info.computeCapability
        guard cc.major >= 8 else {
            throw CUDAError.invalidArgument("\(info.name) has compute capability \(cc); the CUDA backend needs 8.0 (Ampere) or newer: use --device cpu")
        }
        context = try CUDAContext(driver: driver, ordinal: ordinal)
        stream = try CUDAStream(context: context)
        module = try CUDAModule(context: context, ptx: cc.major >= 9 ? KernelsPTX.sm90 : KernelsPTX.sm80,
                                name: cc.major >= 9 ? "dip_kernels (compute_90)" : "dip_kernels (compute_80)")
        var functions: [String: CUDAFunction] = [:]
        for name in module.entryNames { functions[name] = try module.function(name) }
        self.functions = functions
        cudnn = try CuDNNHandle(cudnn: try CuDNN.shared(), stream: stream)
        workspace = CuDNNWorkspace(context: context)
        self.math = math
        name = "\(info.name) (\(cc.smName)), \(math.rawValue) convolutions"
    }

    /// Device memory that frees itself.
    private final class Allocation: DeviceAllocation {
        let buffer: DeviceBuffer
        init(_ buffer: DeviceBuffer) { self.buffer = buffer }
        var pointer: DevicePointer { DevicePointer(address: buffer.address) }
        var count: Int { buffer.byteCount / MemoryLayout<Float>.stride }
    }

    func allocate(bytes: Int) throws -> any DeviceAllocation {
        Allocation(try DeviceBuffer(context: context, byteCount: max(4, bytes)))
    }

    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try context.bind()
        try context.check(context.api.cuMemcpyHtoDAsync(destination.address, base, bytes.count, stream.handle),
                          "cuMemcpyHtoDAsync(\(bytes.count) bytes)")
        try stream.synchronize()
    }

    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        try context.bind()
        try context.check(context.api.cuMemcpyDtoHAsync(base, source.address, bytes.count, stream.handle),
                          "cuMemcpyDtoHAsync(\(bytes.count) bytes)")
        try stream.synchronize()
    }

    func launch(_ kernel: String, items: Int, _ arguments: [KernelArgument]) throws {
        guard let function = functions[kernel] else {
            throw CUDAError.invalidArgument("no kernel \(kernel) in \(module.name)")
        }
        let block = Int(DIPKernelBlock.threads)
        try function.launch(grid: .covering(max(1, items), perBlock: block), block: LaunchExtent(block), on: stream, arguments)
    }

    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture {
        guard records else { return .unsupported }
        switch try stream.capture(enqueue) {
        case let .graph(graph): return .graph(Replay(graph: graph, stream: stream))
        case let .failed(reason): return .failed(reason)
        }
    }

    /// A captured CUDA graph replayed on this device's stream.
    private final class Replay: DeviceGraph {
        let graph: CUDAGraph
        let stream: CUDAStream
        init(graph: CUDAGraph, stream: CUDAStream) {
            self.graph = graph
            self.stream = stream
        }
        func replay() throws { try graph.launch(on: stream) }
    }

    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution {
        // cuDNN chooses its own algorithm among the deterministic ones; `algorithm` is a CPU
        // choice (Winograd or direct) that has no meaning here.
        CUDAConvolution(try CuDNNConvolution(handle: cudnn, workspace: workspace, geometry: geometry, math: math))
    }

    /// A cuDNN convolution behind `DeviceConvolution`.
    private final class CUDAConvolution: DeviceConvolution {
        let convolution: CuDNNConvolution
        init(_ convolution: CuDNNConvolution) { self.convolution = convolution }
        var geometry: ConvGeometry { convolution.geometry }
        var implementation: String {
            "cuDNN \(convolution.math.rawValue): forward \(convolution.forwardAlgorithm), data \(convolution.backwardDataAlgorithm), filter \(convolution.backwardFilterAlgorithm)"
        }
        func forward(input x: DevicePointer, weight w: DevicePointer, bias b: DevicePointer, output y: DevicePointer) throws {
            try convolution.forward(input: x.address, weight: w.address, bias: b.address, output: y.address)
        }
        func backwardData(gradOutput gy: DevicePointer, weight w: DevicePointer, gradInput gx: DevicePointer) throws {
            try convolution.backwardData(gradOutput: gy.address, weight: w.address, gradInput: gx.address)
        }
        func backwardWeights(input x: DevicePointer, gradOutput gy: DevicePointer, gradWeight gw: DevicePointer,
                             gradBias gb: DevicePointer) throws {
            try convolution.backwardFilter(input: x.address, gradOutput: gy.address, gradWeight: gw.address)
            try convolution.backwardBias(gradOutput: gy.address, gradBias: gb.address)
        }
    }
}

/// Threads per block of every launch: the kernels' DIP_KERNEL_BLOCK (Sources/CDIPKernels; the
/// results do not depend on it, only the speed).
enum DIPKernelBlock {
    static let threads = 256
}
