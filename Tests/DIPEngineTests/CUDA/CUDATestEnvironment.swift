import DIPTestSupport
import Foundation
@testable import DIPEngine

/// What the CUDA tests can use on this machine. CI and the development machine have no
/// driver; a cuDNN wheel may be there (`make cuda-test-deps` installs one in .venv-cuda, and
/// PyTorch brings one).
enum CUDATestEnvironment {
    /// Whether libcuda.so.1 can be opened here at all.
    static let driverPresent: Bool = {
        if case .success = DynamicLibrary.open(CUDADriver.libraryName) { return true }
        return false
    }()

    /// The driver and a device, when this machine has a usable GPU.
    static let gpu: CUDAContext? = {
        guard let driver = try? CUDADriver.shared(), (try? driver.deviceCount()) ?? 0 > 0 else { return nil }
        return try? CUDAContext(driver: driver, ordinal: 0)
    }()

    /// A pip-installed libcuda.so.9 to load in the tests: the package's .venv-cuda first (the
    /// pinned wheel), else the folder python3 reports for nvidia.cudnn (PyTorch's).
    static let cudnnWheelLibrary: String? = {
        let venv = SharedTestData.packageRoot.appendingPathComponent(".venv-cuda").path
        for folder in CuDNNLocator.glob("\(venv)/lib/python3*/site-packages") {
            let path = folder + "/" + CuDNNLocator.wheelPath
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return CuDNNLocator(environment: ProcessInfo.processInfo.environment).pythonImportCandidate()?.path
    }()

    /// cuDNN loaded from `cudnnWheelLibrary` through DIP_CUDNN_LIB (one copy per process: every
    /// test that loads cuDNN uses this one).
    static let cudnn: Result<CuDNN, any Error>? = cudnnWheelLibrary.map { path in
        Result { try CuDNN.load(environment: [CuDNNLocator.environmentVariable: path]) }
    }
}
