import Foundation

/// What went wrong talking to the GPU. Each message names the call or file and, where the
/// user can do something about it, what to do.
public enum CUDAError: Error, CustomStringConvertible, Sendable, Equatable {
    /// libcuda.so.1 could not be opened; the text is dlerror's.
    case driverNotFound(String)
    /// The driver library is there but lacks an entry point we need (too old a driver).
    case driverTooOld(String)
    /// A driver call returned an error: the call (with its arguments where they help), the
    /// CUresult, cuGetErrorName and cuGetErrorString.
    case driver(call: String, code: Int32, name: String, text: String)
    /// PTX the driver refused to load; `log` is the JIT's error log.
    case moduleLoad(module: String, code: Int32, name: String, text: String, log: String)
    /// No cuDNN 9 library was found; `tried` lists every place looked at.
    case cudnnNotFound(tried: [String])
    /// A cuDNN library was found but could not be loaded or lacks a function.
    case cudnnUnusable(path: String, reason: String)
    /// A cuDNN call failed: the call, the status, cudnnGetErrorString and cudnnGetLastErrorString.
    case cudnn(call: String, status: Int32, text: String, detail: String)
    /// No deterministic cuDNN algorithm for a convolution in the math mode asked for.
    case noDeterministicAlgorithm(String)
    /// A value we refused before calling the GPU (an empty buffer, a block too large...).
    case invalidArgument(String)

    /// One line a person can act on.
    public var description: String {
        switch self {
        case let .driverNotFound(reason):
            return "no NVIDIA driver (\(reason))"
        case let .driverTooOld(reason):
            return "NVIDIA driver too old: \(reason); install a driver for CUDA 12.0 or later (r525+; the GPU path is tested with r580, CUDA 13.0)"
        case let .driver(call, code, name, text):
            return "\(call): \(name) (\(code)): \(text)"
        case let .moduleLoad(module, code, name, text, log):
            let trimmed = log.trimmingCharacters(in: .whitespacesAndNewlines)
            return "loading PTX module \(module): \(name) (\(code)): \(text)" + (trimmed.isEmpty ? "" : "; JIT log: \(trimmed)")
        case let .cudnnNotFound(tried):
            return "cuDNN 9 not found (tried: \(tried.joined(separator: "; "))); install PyTorch with CUDA or `pip install nvidia-cudnn-cu13`, or set DIP_CUDNN_LIB to the path of libcudnn.so.9"
        case let .cudnnUnusable(path, reason):
            return "cuDNN at \(path) cannot be used: \(reason)"
        case let .cudnn(call, status, text, detail):
            let extra = detail.isEmpty ? "" : "; \(detail)"
            return "\(call): \(text) (\(status))\(extra)"
        case let .noDeterministicAlgorithm(what):
            return "cuDNN offers no deterministic algorithm for \(what)"
        case let .invalidArgument(text):
            return text
        }
    }
}
