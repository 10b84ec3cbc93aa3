import Foundation

/// What this machine offers for the GPU path, found without failing: whether the driver
/// loads (and if not, dlerror's reason), its version, the devices, and cuDNN's version and
/// where it was found. The CLI prints it (`lines`); records carry it (Codable).
public struct CUDAProbe: Codable, Equatable, Sendable {
    /// The driver half.
    public struct Driver: Codable, Equatable, Sendable {
        /// Whether libcuda.so.1 loaded and cuInit succeeded.
        public var found: Bool
        /// Why not, e.g. "no NVIDIA driver (libcuda.so.1: cannot open shared object file: ...)".
        public var problem: String?
        /// "13.0" (the newest CUDA the driver supports).
        public var version: String?
        /// The libcuda.so.1 file loaded.
        public var path: String?
    }

    /// The cuDNN half.
    public struct Library: Codable, Equatable, Sendable {
        /// Whether cuDNN 9 loaded.
        public var found: Bool
        /// Why not: every place tried.
        public var problem: String?
        /// "9.26.0".
        public var version: String?
        /// The CUDA runtime cuDNN was built with, "13.4".
        public var cudartVersion: String?
        /// The file loaded.
        public var path: String?
        /// How it was found ("DIP_CUDNN_LIB", "soname", "python site-packages", ...).
        public var source: String?
    }

    /// The driver.
    public var driver: Driver
    /// Every device the driver sees (empty without a driver).
    public var devices: [CUDADeviceInfo]
    /// Why the devices could not be listed, if the driver loaded but that failed.
    public var deviceProblem: String?
    /// cuDNN.
    public var cudnn: Library

    /// Whether a CUDA fit can run: a driver, at least one device, and cuDNN.
    public var usable: Bool { driver.found && !devices.isEmpty && cudnn.found }

    /// Looks at this process's driver and cuDNN (each loaded once per process).
    public static func run() -> CUDAProbe {
        make(driver: Result { try CUDADriver.shared() }, cudnn: Result { try CuDNN.shared() })
    }

    static func make(driver: Result<CUDADriver, any Error>, cudnn: Result<CuDNN, any Error>) -> CUDAProbe {
        var probe = CUDAProbe(driver: Driver(found: false), devices: [], deviceProblem: nil, cudnn: Library(found: false))
        switch driver {
        case let .success(loaded):
            probe.driver = Driver(found: true, problem: nil, version: loaded.versionString, path: loaded.libraryPath)
            do {
                probe.devices = try (0..<loaded.deviceCount()).map { try loaded.deviceInfo($0) }
            } catch {
                probe.deviceProblem = "\(error)"
            }
        case let .failure(error):
            probe.driver.problem = "\(error)"
        }
        switch cudnn {
        case let .success(library):
            probe.cudnn = Library(found: true, problem: nil, version: library.versionString,
                                  cudartVersion: "\(library.cudartVersion / 1000).\(library.cudartVersion % 1000 / 10)",
                                  path: library.path, source: library.source)
        case let .failure(error):
            probe.cudnn.problem = "\(error)"
        }
        return probe
    }

    /// A few lines for a terminal: driver, each device, cuDNN.
    public var lines: [String] {
        var out: [String] = []
        if driver.found {
            out.append("CUDA driver: \(driver.version ?? "?") (\(driver.path ?? CUDADriver.libraryName))")
        } else {
            out.append("CUDA driver: none: \(driver.problem ?? "not found")")
        }
        if let deviceProblem { out.append("CUDA devices: \(deviceProblem)") }
        if driver.found && devices.isEmpty && deviceProblem == nil { out.append("CUDA devices: none") }
        for device in devices {
            let gib = Double(device.totalMemoryBytes) / Double(1 << 30)
            out.append(String(format: "CUDA device %d: %@, compute capability %@, %d SMs, %.0f GiB",
                              device.ordinal, device.name, device.computeCapability.description, device.multiprocessors, gib))
        }
        if cudnn.found {
            out.append("cuDNN: \(cudnn.version ?? "?") built for CUDA \(cudnn.cudartVersion ?? "?") (\(cudnn.path ?? "?"), found by \(cudnn.source ?? "?"))")
        } else {
            out.append("cuDNN: none: \(cudnn.problem ?? "not found")")
        }
        return out
    }
}
