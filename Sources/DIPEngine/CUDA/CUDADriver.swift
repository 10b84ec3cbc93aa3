import CCUDA
import Foundation

/// The CUDA driver API, opened at run time from libcuda.so.1 (the binary has no link-time
/// CUDA dependency and runs where there is no driver at all).
///
/// `load()` opens the library, resolves every entry point (CUDADriverAPI) and calls cuInit.
/// Safe to share: the driver API is thread-safe and this object is immutable.
public final class CUDADriver: @unchecked Sendable {
    /// The soname opened; the driver package installs it in the linker's default path.
    public static let libraryName = "libcuda.so.1"

    let api: CUDADriverAPI
    /// The path the dynamic linker loaded, when dladdr could say.
    public let libraryPath: String?
    /// cuDriverGetVersion: 1000 * major + 10 * minor of the newest CUDA the driver supports
    /// (13000 for the r580 drivers).
    public let version: Int

    private init(api: CUDADriverAPI, libraryPath: String?, version: Int) {
        self.api = api
        self.libraryPath = libraryPath
        self.version = version
    }

    /// Opens the driver once per process: cuInit and the resolved table are process-wide
    /// anyway. The error (no driver, driver too old, cuInit failing as it does on a machine
    /// with a driver but no usable card) is kept and thrown to every caller.
    public static func shared() throws -> CUDADriver {
        try sharedResult.get()
    }

    private static let sharedResult: Result<CUDADriver, CUDAError> = Result { try load(libraryName) }
        .mapError { $0 as? CUDAError ?? .driverNotFound("\($0)") }

    /// Opens `library` (a soname or path), resolves the entry points and calls cuInit(0).
    static func load(_ library: String) throws -> CUDADriver {
        let handle: DynamicLibrary
        switch DynamicLibrary.open(library) {
        case let .success(opened): handle = opened
        case let .failure(error): throw CUDAError.driverNotFound(error.reason)
        }
        guard let raw = handle.address(of: "cuGetProcAddress_v2") else {
            throw CUDAError.driverTooOld("\(library) has no cuGetProcAddress_v2")
        }
        let api = try CUDADriverAPI(getProcAddress: unsafeBitCast(raw, to: CCUDA_PFN_cuGetProcAddress.self))
        var version: Int32 = 0
        try check(api, api.cuDriverGetVersion(&version), "cuDriverGetVersion")
        try check(api, api.cuInit(0), "cuInit")
        return CUDADriver(api: api, libraryPath: handle.loadedPath(via: "cuGetProcAddress_v2"), version: Int(version))
    }

    /// "13.0" for 13000.
    public var versionString: String { "\(version / 1000).\(version % 1000 / 10)" }

    /// Throws `CUDAError.driver` naming `call` unless `result` is CUDA_SUCCESS.
    func check(_ result: CUresult, _ call: @autoclosure () -> String) throws {
        try Self.check(api, result, call())
    }

    static func check(_ api: CUDADriverAPI, _ result: CUresult, _ call: @autoclosure () -> String) throws {
        guard result != CUDA_SUCCESS else { return }
        let (name, text) = describe(api, result)
        throw CUDAError.driver(call: call(), code: result, name: name, text: text)
    }

    /// cuGetErrorName and cuGetErrorString for `result` (both static strings in the driver).
    static func describe(_ api: CUDADriverAPI, _ result: CUresult) -> (name: String, text: String) {
        var name: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        let nameText = api.cuGetErrorName(result, &name) == CUDA_SUCCESS && name != nil ? String(cString: name!) : "CUresult \(result)"
        let description = api.cuGetErrorString(result, &text) == CUDA_SUCCESS && text != nil ? String(cString: text!) : "unknown error"
        return (nameText, description)
    }

    /// Number of CUDA devices the driver sees.
    public func deviceCount() throws -> Int {
        var count: Int32 = 0
        try check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }

    /// Name, compute capability, SM count and memory of device `ordinal`.
    public func deviceInfo(_ ordinal: Int) throws -> CUDADeviceInfo {
        let device = try self.device(ordinal)
        var name = [CChar](repeating: 0, count: 256)
        try check(api.cuDeviceGetName(&name, Int32(name.count), device), "cuDeviceGetName(\(ordinal))")
        func attribute(_ attribute: Int32, _ label: String) throws -> Int {
            var value: Int32 = 0
            try check(api.cuDeviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute(\(label), device \(ordinal))")
            return Int(value)
        }
        var bytes = 0
        try check(api.cuDeviceTotalMem(&bytes, device), "cuDeviceTotalMem(\(ordinal))")
        return CUDADeviceInfo(
            ordinal: ordinal,
            name: String(cBuffer: name),
            computeCapability: CUDADeviceInfo.ComputeCapability(
                major: try attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "compute capability major"),
                minor: try attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "compute capability minor")),
            multiprocessors: try attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "SM count"),
            totalMemoryBytes: bytes,
            pciBusID: try attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, "PCI bus id"))
    }

    func device(_ ordinal: Int) throws -> CUdevice {
        let count = try deviceCount()
        guard ordinal >= 0, ordinal < count else {
            throw CUDAError.invalidArgument("CUDA device \(ordinal): the driver sees \(count) device\(count == 1 ? "" : "s") (0..<\(count))")
        }
        var device: CUdevice = 0
        try check(api.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        return device
    }
}

/// One CUDA device, as records and `dip-report` print it.
public struct CUDADeviceInfo: Codable, Equatable, Sendable {
    /// A compute capability such as 9.0 (Hopper) or 8.0 (A100).
    public struct ComputeCapability: Codable, Equatable, Sendable, CustomStringConvertible {
        /// Major version.
        public var major: Int
        /// Minor version.
        public var minor: Int
        /// "9.0".
        public var description: String { "\(major).\(minor)" }
        /// "sm_90", the name PTX targets use.
        public var smName: String { "sm_\(major)\(minor)" }
    }

    /// Device ordinal as the driver numbers it (after CUDA_VISIBLE_DEVICES).
    public var ordinal: Int
    /// Marketing name, e.g. "NVIDIA H200".
    public var name: String
    /// Compute capability.
    public var computeCapability: ComputeCapability
    /// Streaming multiprocessors.
    public var multiprocessors: Int
    /// Device memory in bytes.
    public var totalMemoryBytes: Int
    /// PCI bus id, to tell identical cards apart.
    public var pciBusID: Int
}
