import CDIPKernels
@testable import DIPEngine

/// The project's CUDA kernels compiled for the host (CDIPKernels) behind `KernelDevice`: memory is
/// host memory, a launch runs the kernel once per thread of an emulated one-dimensional grid, and
/// convolutions are the host backend's. So `KernelDeviceOps` — the GPU's kernel sequences — run
/// whole fits here.
///
/// Capture works as a CUDA graph's does: the launches and convolutions are recorded with their
/// arguments as they were, and a replay runs those; allocating, uploading or downloading while
/// recording fails the capture (a stream in capture refuses them too).
final class EmulatedKernelDevice: KernelDevice {
    let name = "CUDA kernels, host emulation"
    let host: HostDeviceOps
    /// Threads per emulated block: the GPU's, so the last block has threads past the end too.
    let block = Int(DIP_KERNEL_BLOCK)

    /// The work recorded so far while capturing.
    private var recording: [() throws -> Void]?
    /// How many captures succeeded.
    private(set) var captures = 0

    /// Whether `capture` records (false: it answers `.unsupported`, and work runs eagerly).
    let records: Bool
    /// The turns the trainer takes (a test gives one to see which).
    var gate: DeviceGate?

    init(convolutions backend: any ComputeBackend, records: Bool = true) {
        host = HostDeviceOps(backend: backend)
        self.records = records
    }

    private func refuseWhileRecording(_ what: String) throws {
        if recording != nil { throw EngineError.backend("emulated kernel device: \(what) during a capture") }
    }

    /// Runs `work` now, or records it while capturing.
    func perform(_ work: @escaping () throws -> Void) throws {
        if recording != nil { recording!.append(work) } else { try work() }
    }

    func capture(_ enqueue: () throws -> Void) throws -> DeviceCapture {
        guard records else { return .unsupported }
        recording = []
        defer { recording = nil }
        do { try enqueue() } catch { return .failed("while capturing: \(error)") }
        captures += 1
        return .graph(Graph(work: recording!))
    }

    private final class Graph: DeviceGraph {
        let work: [() throws -> Void]
        init(work: [() throws -> Void]) { self.work = work }
        func replay() throws { for w in work { try w() } }
    }

    func allocate(bytes: Int) throws -> any DeviceAllocation {
        try refuseWhileRecording("an allocation")
        // cuMemAlloc's memory holds whatever was there before (within a process, what an earlier
        // allocation left): a fresh allocation here is NaN, so code that reads memory it never
        // wrote fails here as it would on a card.
        let count = (bytes + 3) / 4
        let allocation = try host.allocate(floats: count)
        UnsafeMutablePointer<Float>(bitPattern: UInt(allocation.pointer.address))!.update(repeating: .nan, count: count)
        return allocation
    }

    private func address(_ p: DevicePointer) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(p.address))! }

    func upload(_ bytes: UnsafeRawBufferPointer, to destination: DevicePointer) throws {
        try refuseWhileRecording("an upload")
        address(destination).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
    }

    func download(_ source: DevicePointer, into bytes: UnsafeMutableRawBufferPointer) throws {
        try refuseWhileRecording("a download")
        bytes.baseAddress!.copyMemory(from: address(source), byteCount: bytes.count)
    }

    func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any DeviceConvolution {
        try refuseWhileRecording("a convolution's set-up")
        return Convolution(try host.makeConvolution(geometry, algorithm: algorithm), device: self)
    }

    /// A host convolution whose calls are recorded while capturing.
    private final class Convolution: DeviceConvolution {
        let inner: any DeviceConvolution
        unowned let device: EmulatedKernelDevice
        init(_ inner: any DeviceConvolution, device: EmulatedKernelDevice) {
            self.inner = inner
            self.device = device
        }
        var geometry: ConvGeometry { inner.geometry }
        var implementation: String { inner.implementation }
        func forward(input x: DevicePointer, weight w: DevicePointer, bias b: DevicePointer, output y: DevicePointer) throws {
            try device.perform { [inner] in try inner.forward(input: x, weight: w, bias: b, output: y) }
        }
        func backwardData(gradOutput gy: DevicePointer, weight w: DevicePointer, gradInput gx: DevicePointer) throws {
            try device.perform { [inner] in try inner.backwardData(gradOutput: gy, weight: w, gradInput: gx) }
        }
        func backwardWeights(input x: DevicePointer, gradOutput gy: DevicePointer, gradWeight gw: DevicePointer,
                             gradBias gb: DevicePointer) throws {
            try device.perform { [inner] in try inner.backwardWeights(input: x, gradOutput: gy, gradWeight: gw, gradBias: gb) }
        }
    }

    func launch(_ kernel: String, items: Int, _ a: [KernelArgument]) throws {
        try perform { [self] in try run(kernel, items: items, a) }
    }

    private func run(_ kernel: String, items: Int, _ a: [KernelArgument]) throws {
        func f(_ i: Int) -> UnsafeMutablePointer<Float> { p(i).assumingMemoryBound(to: Float.self) }
        func d(_ i: Int) -> UnsafeMutablePointer<Double> { p(i).assumingMemoryBound(to: Double.self) }
        func u(_ i: Int) -> UnsafeMutablePointer<UInt64> { p(i).assumingMemoryBound(to: UInt64.self) }
        func p(_ i: Int) -> UnsafeMutableRawPointer {
            guard case let .pointer(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not a pointer") }
            return address(DevicePointer(address: x))
        }
        func i32(_ i: Int) -> Int32 {
            guard case let .int32(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not an int") }
            return x
        }
        func i64(_ i: Int) -> Int64 {
            guard case let .int64(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not a long long") }
            return x
        }
        func u32(_ i: Int) -> UInt32 {
            guard case let .uint32(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not an unsigned int") }
            return x
        }
        func fl(_ i: Int) -> Float {
            guard case let .float(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not a float") }
            return x
        }
        func db(_ i: Int) -> Double {
            guard case let .double(x) = a[i] else { preconditionFailure("\(kernel): argument \(i) is not a double") }
            return x
        }
        let body: () -> Void
        switch kernel {
        case "dip_fill": body = { dip_fill(f(0), i32(1), fl(2)) }
        case "dip_copy": body = { dip_copy(f(0), f(1), i32(2)) }
        case "dip_add": body = { dip_add(f(0), f(1), i32(2)) }
        case "dip_counter_increment": body = { dip_counter_increment(u(0)) }
        case "dip_loss_log": body = { dip_loss_log(d(0), i32(1), d(2), u(3)) }
        case "dip_reflection_pad_forward": body = { dip_reflection_pad_forward(f(0), f(1), i32(2), i32(3), i32(4), i32(5), i32(6)) }
        case "dip_reflection_pad_backward": body = { dip_reflection_pad_backward(f(0), f(1), i32(2), i32(3), i32(4), i32(5)) }
        case "dip_bn_partial_sum": body = { dip_bn_partial_sum(d(0), f(1), i32(2), i32(3), i32(4)) }
        case "dip_bn_mean": body = { dip_bn_mean(d(0), d(1), i32(2), i32(3), i32(4)) }
        case "dip_bn_partial_squares": body = { dip_bn_partial_squares(d(0), f(1), d(2), i32(3), i32(4), i32(5)) }
        case "dip_bn_finalize":
            body = { dip_bn_finalize(d(0), f(1), f(2), f(3), f(4), f(5), d(6), d(7), f(8), f(9), i32(10), i32(11), i32(12), db(13), db(14)) }
        case "dip_bn_apply":
            body = { dip_bn_apply(f(0), f(1), d(2), f(3), f(4), i32(5), i32(6), i32(7), i64(8), i64(9), i32(10), fl(11)) }
        case "dip_bn_backward_partials":
            body = { dip_bn_backward_partials(d(0), d(1), f(2), f(3), d(4), d(5), f(6), f(7), i32(8), i32(9), i32(10), fl(11)) }
        case "dip_bn_backward_finalize":
            body = { dip_bn_backward_finalize(f(0), f(1), f(2), d(3), d(4), d(5), f(6), i32(7), i32(8), i32(9)) }
        case "dip_bn_backward_apply":
            body = { dip_bn_backward_apply(f(0), f(1), f(2), d(3), d(4), f(5), f(6), f(7), i32(8), i32(9), fl(10)) }
        case "dip_upsample2x_forward":
            body = { dip_upsample2x_forward(f(0), f(1), i32(2), i32(3), i32(4), i32(5), i32(6), i64(7), i64(8)) }
        case "dip_upsample2x_backward": body = { dip_upsample2x_backward(f(0), f(1), i32(2), i32(3), i32(4), i32(5), i32(6)) }
        case "dip_concat_part_forward":
            body = { dip_concat_part_forward(f(0), f(1), i32(2), i32(3), i32(4), i32(5), i32(6), i32(7), i32(8)) }
        case "dip_concat_part_backward":
            body = { dip_concat_part_backward(f(0), f(1), i32(2), i32(3), i32(4), i32(5), i32(6), i32(7), i32(8)) }
        case "dip_avgpool2x2_forward": body = { dip_avgpool2x2_forward(f(0), f(1), i32(2), i32(3), i32(4)) }
        case "dip_avgpool2x2_backward": body = { dip_avgpool2x2_backward(f(0), f(1), i32(2), i32(3), i32(4)) }
        case "dip_sigmoid_forward": body = { dip_sigmoid_forward(f(0), f(1), i32(2)) }
        case "dip_sigmoid_backward": body = { dip_sigmoid_backward(f(0), f(1), f(2), i32(3)) }
        case "dip_mse_gradient": body = { dip_mse_gradient(f(0), f(1), f(2), f(3), i32(4), i32(5), i32(6), fl(7), fl(8)) }
        case "dip_mse_partial": body = { dip_mse_partial(d(0), f(1), f(2), f(3), i32(4), i32(5), i32(6), i32(7)) }
        case "dip_mse_value": body = { dip_mse_value(d(0), d(1), i32(2), i32(3), db(4)) }
        case "dip_adam_step":
            body = { dip_adam_step(f(0), f(1), f(2), f(3), i32(4), f(5), u(6), fl(7), fl(8), fl(9), fl(10)) }
        case "dip_perturb": body = { dip_perturb(f(0), f(1), i32(2), i32(3), i32(4), u32(5), u32(6), u(7), fl(8)) }
        default: throw EngineError.backend("emulated kernel device: no kernel \(kernel)")
        }
        let grid = max(1, (items + block - 1) / block)
        // Last block and thread first: a card runs them in no set order, and a kernel whose
        // result depended on running in index order would pass a forward walk by chance.
        for b in (0..<grid).reversed() {
            for t in (0..<block).reversed() {
                dip_emu_set_thread(UInt32(grid), UInt32(block), UInt32(b), UInt32(t))
                body()
            }
        }
    }
}
