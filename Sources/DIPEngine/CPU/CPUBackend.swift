import CDNNL
import CLayerKernels
import DIPCore
import Foundation

/// The CPU backend: convolutions run on oneDNN (2.6, v2 C API), on a fixed number of OpenMP
/// threads.
///
/// Debian's libdnnl.so.2 is built with the OpenMP runtime (libgomp), so oneDNN sizes every
/// parallel region by `omp_get_max_threads()` of the calling thread. That value is per thread
/// in OpenMP, and Swift may call us from any thread, so the backend sets it before every
/// primitive creation and every execution rather than once at start-up. A fixed thread count
/// also fixes how oneDNN splits its reductions, which is what makes results bit-identical from
/// run to run.
///
/// One lock serialises all oneDNN work of a backend: the stream is not meant for concurrent
/// submission, and all kernels of a backend share one scratch arena for their reorders and
/// oneDNN scratchpads.
public final class CPUBackend: ComputeBackend, @unchecked Sendable {
    /// "cpu-onednn".
    public var name: String { Self.backendName }
    /// The name every CPU backend and its records carry.
    static let backendName = "cpu-onednn"
    /// OpenMP threads every oneDNN call of this backend runs on.
    public let threads: Int

    /// The oneDNN CPU engine; primitives and memory objects of every kernel belong to it.
    let engine: dnnl_engine_t
    /// The in-order stream all primitives are executed on.
    let stream: dnnl_stream_t
    /// The OpenMP runtime oneDNN uses (WinogradConvolution runs its GEMMs single-threaded).
    let openMP: OpenMPRuntime
    private let lock = NSLock()
    /// Reorder scratch shared by every kernel; grows to the largest request and stays.
    private var arena: UnsafeMutableRawPointer?
    private var arenaBytes = 0

    /// The most threads a backend runs on: oneDNN 2.6 overran its stack ("stack smashing
    /// detected" in libdnnl) at 2048 OpenMP threads in a fit; 1024 ran.
    public static let maxThreads = 1024

    /// A backend running on `threads` OpenMP threads (1 to `maxThreads`).
    public init(threads: Int) throws {
        guard (1...Self.maxThreads).contains(threads) else {
            throw EngineError.invalidConfig("thread count \(threads): use 1 to \(Self.maxThreads) threads")
        }
        guard let runtime = OpenMPRuntime.loaded() else {
            throw EngineError.backend("libgomp.so.1 (oneDNN's OpenMP runtime) is not loaded or lacks omp_set_num_threads; reinstall libdnnl2")
        }
        self.threads = threads
        self.openMP = runtime
        openMP.setNumThreads(Int32(threads))
        var engine: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create(cpu)")
        var stream: dnnl_stream_t?
        let status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
        if status != dnnl_success { dnnl_engine_destroy(engine) }
        try dnnlCheck(status, "dnnl_stream_create")
        self.engine = engine!
        self.stream = stream!
        // The layer kernels go no wider than oneDNN: capped to AVX2 (DNNL_MAX_CPU_ISA), a run
        // stands for an AVX2 machine in the perturbation's draw too.
        dip_layer_kernels_cap(Self.effectiveISA.hasPrefix("avx512") ? 2 : 1)
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
        arena?.deallocate()
    }

    /// The widest instruction set oneDNN uses on this machine, e.g. "avx512_core" or "avx2"
    /// (lower when capped with DNNL_MAX_CPU_ISA).
    static var effectiveISA: String {
        let name = String(cString: dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()))
        return name.hasPrefix("cpu_isa_") ? String(name.dropFirst("cpu_isa_".count)) : name
    }

    /// The oneDNN library version, e.g. "2.6.3".
    public static var oneDNNVersion: String {
        let v = dnnl_version()!.pointee
        return "\(v.major).\(v.minor).\(v.patch)"
    }

    /// Whether oneDNN has Winograd convolutions on this CPU: oneDNN 2.6's are AVX-512 only
    /// (jit:avx512_core_fp32_wino_conv_*), so an AVX2 machine, or one capped to AVX2 with
    /// DNNL_MAX_CPU_ISA, has none.
    static var oneDNNHasWinograd: Bool { effectiveISA.hasPrefix("avx512") }

    /// Prepares a convolution for `geometry`. `auto` and `winograd` mean Winograd for 3x3
    /// stride-1 convolutions and direct elsewhere: ours (WinogradConvolution) where oneDNN has
    /// none (below AVX-512), refuses the shape, or is the slower one
    /// (`WinogradConvolution.outrunsOneDNNWinograd`), oneDNN's own everywhere else under
    /// `winograd`, and oneDNN's direct kernels there under `auto` (the faster); and for the
    /// 3x3 stride-2 ones where ours is the faster (StrideTwoWinograd.pays: large layers, on
    /// every ISA), oneDNN's direct kernels elsewhere. 1x1
    /// stride-1 convolutions are matrix products on the plain layout (PointwiseConvolution,
    /// direct, no reorders; faster than oneDNN's convolution on both ISAs), under every algorithm.
    public func makeConvolution(_ geometry: ConvGeometry, algorithm: ConvAlgorithm) throws -> any ConvolutionKernel {
        try geometry.validate()
        if PointwiseConvolution.fits(geometry) {
            return try PointwiseConvolution(geometry: geometry, backend: self)
        }
        if algorithm != .direct, StrideTwoWinograd.fits(geometry), StrideTwoWinograd.pays(geometry) {
            return try StrideTwoWinograd(geometry: geometry, backend: self)
        }
        guard algorithm != .direct, WinogradConvolution.fits(geometry) else {
            return try OneDNNConvolution(geometry: geometry, algorithm: algorithm, backend: self)
        }
        if Self.oneDNNHasWinograd, !WinogradConvolution.outrunsOneDNNWinograd(geometry) {
            // Below a 32x32 destination oneDNN's direct kernels beat its Winograd, the backward
            // passes by half (8x8 and 16x16 layers of table1 and text at 256; BENCHMARKS.md,
            // forty-first part), so `auto` takes them; `winograd` still gets Winograd.
            if algorithm == .auto { return try OneDNNConvolution(geometry: geometry, algorithm: .direct, backend: self) }
            if let own = try? OneDNNConvolution(geometry: geometry, algorithm: .winograd, backend: self) { return own }
        }
        return try WinogradConvolution(geometry: geometry, backend: self)
    }

    /// Runs `body` holding the backend lock with the OpenMP thread count set on this thread.
    func withRuntime<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        openMP.setNumThreads(Int32(threads))
        return try body()
    }

    /// The shared reorder arena, at least `bytes` long. Only valid inside `withRuntime` and
    /// until the next call of this function.
    func scratch(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes > arenaBytes || arena == nil {
            arena?.deallocate()
            let size = max(bytes, 4096)
            let p = LargeAllocation.allocate(bytes: size, alignment: 4096)
            #if DEBUG
            // NaN everywhere, so a primitive that reads a byte no reorder wrote shows up in tests.
            p.initializeMemory(as: Float.self, repeating: .nan, count: size / 4)
            #endif
            arena = p
            arenaBytes = size
        }
        return arena!
    }

    /// The OpenMP thread count oneDNN will see on the calling thread (for tests).
    var openMPMaxThreads: Int { Int(openMP.getMaxThreads()) }
}

/// Throws `EngineError.backend` naming `call` and oneDNN's status when `status` is not success.
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status == dnnl_success else {
        throw EngineError.backend("\(call()) failed: \(String(cString: dnnl_status2str(status)))")
    }
}

/// omp_set_num_threads / omp_get_max_threads from the libgomp that libdnnl already loaded.
///
/// Found with dlopen(RTLD_NOLOAD) so we reach the very copy oneDNN uses, without the package
/// having to link libgomp itself.
struct OpenMPRuntime: @unchecked Sendable {
    /// Sets nthreads-var of the calling thread.
    let setNumThreads: @convention(c) (Int32) -> Void
    /// Reads nthreads-var of the calling thread.
    let getMaxThreads: @convention(c) () -> Int32

    /// The runtime, or nil when libgomp is not in the process.
    static func loaded() -> OpenMPRuntime? {
        guard let set = function("omp_set_num_threads", as: (@convention(c) (Int32) -> Void).self),
              let get = function("omp_get_max_threads", as: (@convention(c) () -> Int32).self) else { return nil }
        return OpenMPRuntime(setNumThreads: set, getMaxThreads: get)
    }

    /// The C function `name` of the libgomp libdnnl loaded, as `type`; nil where libgomp is not
    /// in the process or lacks it. (Also for the OpenMP settings read at start-up, `OpenMPLaunch`.)
    static func function<T>(_ name: String, as type: T.Type) -> T? {
        guard let handle = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }
}

extension BackendFactory {
    /// The oneDNN CPU backend.
    public static var cpu: BackendFactory {
        BackendFactory(name: CPUBackend.backendName, libraryVersions: ["oneDNN": CPUBackend.oneDNNVersion],
                       device: "\(HostCPU.summary), oneDNN ISA \(CPUBackend.effectiveISA)") {
            try CPUBackend(threads: $0)
        }
    }
}
