import CCUDA
import Foundation

/// cuDNN 9, opened at run time (see CuDNNLocator for where it is looked for). Loading needs no
/// GPU: the version and the descriptors work anywhere; a handle (`CuDNNHandle`) needs a driver
/// and a device.
public final class CuDNN: @unchecked Sendable {
    let api: CuDNNAPI
    /// The file loaded (dladdr's path when the soname was found by the linker).
    public let path: String
    /// How it was found: "DIP_CUDNN_LIB", "soname", "python site-packages", "python3 import nvidia.cudnn".
    public let source: String
    /// cudnnGetVersion, e.g. 92600 for 9.26.0.
    public let version: Int
    /// The CUDA runtime version cuDNN was built with (cudnnGetCudartVersion), e.g. 13040.
    public let cudartVersion: Int

    private init(api: CuDNNAPI, path: String, source: String) throws {
        self.api = api
        self.path = path
        self.source = source
        version = api.cudnnGetVersion()
        cudartVersion = api.cudnnGetCudartVersion()
        guard version / 10000 == 9 else {
            throw CUDAError.cudnnUnusable(path: path, reason: "it is cuDNN \(Self.versionString(version)); dip-report needs cuDNN 9")
        }
    }

    /// "9.26.0".
    public var versionString: String { Self.versionString(version) }

    static func versionString(_ version: Int) -> String {
        "\(version / 10000).\(version % 10000 / 100).\(version % 100)"
    }

    /// cuDNN for this process, found once through the process environment.
    public static func shared() throws -> CuDNN {
        try sharedResult.get()
    }

    private static let sharedResult: Result<CuDNN, CUDAError> = Result { try load(environment: ProcessInfo.processInfo.environment) }
        .mapError { $0 as? CUDAError ?? .cudnnNotFound(tried: ["\($0)"]) }

    /// Finds and loads cuDNN 9 as CuDNNLocator describes, with `environment` standing for the
    /// process's (the tests pass their own).
    static func load(environment: [String: String]) throws -> CuDNN {
        let locator = CuDNNLocator(environment: environment)
        if let explicit = try locator.explicitCandidate() {
            return try load(explicit)
        }
        var tried: [String] = []
        for candidate in locator.searchCandidates() {
            do { return try load(candidate) } catch { tried.append("\(candidate.path): \(error)") }
        }
        if let imported = locator.pythonImportCandidate() {
            do { return try load(imported) } catch { tried.append("\(imported.path): \(error)") }
        } else {
            tried.append("python3 -c 'import nvidia.cudnn': no such module")
        }
        throw CUDAError.cudnnNotFound(tried: tried)
    }

    static func load(_ candidate: CuDNNLocator.Candidate) throws -> CuDNN {
        switch DynamicLibrary.open(candidate.path) {
        case let .failure(error):
            throw CUDAError.cudnnUnusable(path: candidate.path, reason: error.reason)
        case let .success(library):
            let path = library.loadedPath(via: "cudnnGetVersion") ?? candidate.path
            return try CuDNN(api: try CuDNNAPI(library: library, path: path), path: path, source: candidate.source.rawValue)
        }
    }

    /// Throws `CUDAError.cudnn` naming `call` unless `status` is CUDNN_STATUS_SUCCESS; the
    /// message carries cuDNN's text for the status and its last-error detail.
    func check(_ status: cudnnStatus_t, _ call: @autoclosure () -> String) throws {
        guard status != CUDNN_STATUS_SUCCESS else { return }
        let text = api.cudnnGetErrorString(status).map { String(cString: $0) } ?? "status \(status)"
        var detail = [CChar](repeating: 0, count: 1024)
        api.cudnnGetLastErrorString(&detail, detail.count)
        throw CUDAError.cudnn(call: call(), status: status, text: text,
                              detail: String(cBuffer: detail).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// A cuDNN handle bound to one context and stream. cuDNN handles are not for concurrent use:
/// one per fit (per stream), used from one thread at a time.
public final class CuDNNHandle: @unchecked Sendable {
    /// The library.
    public let cudnn: CuDNN
    /// The context its work runs in (the device's primary context, which cuDNN's runtime
    /// calls find current).
    public let context: CUDAContext
    /// The stream every call of this handle enqueues on.
    public let stream: CUDAStream
    let handle: cudnnHandle_t

    /// Creates a handle for `stream`'s context and sets its stream. Without a usable GPU
    /// cudnnCreate fails (CUDNN_STATUS_NOT_INITIALIZED), reported with cuDNN's own detail.
    public init(cudnn: CuDNN, stream: CUDAStream) throws {
        self.cudnn = cudnn
        self.context = stream.context
        self.stream = stream
        try context.bind()
        var handle: cudnnHandle_t?
        try cudnn.check(cudnn.api.cudnnCreate(&handle), "cudnnCreate")
        guard let handle else { throw CUDAError.invalidArgument("cudnnCreate returned no handle") }
        self.handle = handle
        do {
            try cudnn.check(cudnn.api.cudnnSetStream(handle, stream.handle), "cudnnSetStream")
        } catch {
            _ = cudnn.api.cudnnDestroy(handle)
            throw error
        }
    }

    deinit {
        try? context.bind()
        _ = cudnn.api.cudnnDestroy(handle)
    }
}
