import CCUDA
import Synchronization

/// The primary context of one device: the context the CUDA runtime (and so cuDNN, which runs
/// on the runtime) uses for that device, so our own allocations, modules and streams and
/// cuDNN's work share one address space and can be ordered on one stream. A context made with
/// cuCtxCreate would be a second, separate context that cuDNN would not see.
///
/// The driver's current context is per thread and Swift may run us on any thread, so every
/// operation of this layer calls `bind()` first; it is one thread-local read when already
/// current.
public final class CUDAContext: @unchecked Sendable {
    /// The driver this context came from.
    public let driver: CUDADriver
    /// The device ordinal.
    public let ordinal: Int
    let device: CUdevice
    let handle: CUcontext

    /// Retains device `ordinal`'s primary context (released in deinit) and makes it current on
    /// the calling thread.
    public init(driver: CUDADriver, ordinal: Int = 0) throws {
        self.driver = driver
        self.ordinal = ordinal
        device = try driver.device(ordinal)
        var context: CUcontext?
        try driver.check(driver.api.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain(device \(ordinal))")
        guard let context else {
            throw CUDAError.invalidArgument("cuDevicePrimaryCtxRetain(device \(ordinal)) returned no context")
        }
        handle = context
        try bind()
    }

    deinit {
        _ = driver.api.cuDevicePrimaryCtxRelease(device)
    }

    /// Makes this context current on the calling thread, when it is not already.
    public func bind() throws {
        var current: CUcontext?
        try driver.check(driver.api.cuCtxGetCurrent(&current), "cuCtxGetCurrent")
        if current != handle {
            try driver.check(driver.api.cuCtxSetCurrent(handle), "cuCtxSetCurrent(device \(ordinal))")
        }
    }

    /// The turns of the fits sharing this device in this process (its primary context).
    var gate: DeviceGate { Self.gate(ordinal: ordinal) }

    private static let gates = Mutex([Int: DeviceGate]())

    /// The one gate of device `ordinal` in this process: every fit on it shares its primary
    /// context.
    static func gate(ordinal: Int) -> DeviceGate {
        gates.withLock { gates in
            if let g = gates[ordinal] { return g }
            let g = DeviceGate()
            gates[ordinal] = g
            return g
        }
    }

    /// Runs `body` (a call that allocates: allocations wait for every stream of the context)
    /// bound to this context in an exclusive turn of its gate. Frees and unloads take no turn:
    /// a fit's end frees a hundred buffers, and a turn for each would stop every other fit for
    /// a batch a hundred times (no fit was seen to stall at its end without turns).
    func exclusively<T>(_ body: () throws -> T) throws -> T {
        try gate.exclusive {
            try bind()
            return try body()
        }
    }

    /// Waits for all work on every stream of this context.
    public func synchronize() throws {
        try bind()
        try driver.check(driver.api.cuCtxSynchronize(), "cuCtxSynchronize")
    }

    /// Free and total device memory, bytes.
    public func memoryInfo() throws -> (free: Int, total: Int) {
        try bind()
        var free = 0
        var total = 0
        try driver.check(driver.api.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }

    /// Throws `CUDAError.driver` naming `call` unless `result` is CUDA_SUCCESS.
    func check(_ result: CUresult, _ call: @autoclosure () -> String) throws {
        try driver.check(result, call())
    }

    var api: CUDADriverAPI { driver.api }
}
