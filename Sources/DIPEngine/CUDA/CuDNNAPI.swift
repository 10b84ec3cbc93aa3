import CCUDA

/// Every cuDNN function dip-report calls, resolved with dlsym from libcudnn.so.9 (the
/// dispatcher exports all of them and loads the sub-library behind each on first call).
/// Signatures: CCUDA.h, checked against cuDNN 9.26's headers by scripts/check-ccuda-header.sh.
struct CuDNNAPI: @unchecked Sendable {
    let cudnnGetVersion: CCUDA_PFN_cudnnGetVersion
    let cudnnGetCudartVersion: CCUDA_PFN_cudnnGetCudartVersion
    let cudnnGetErrorString: CCUDA_PFN_cudnnGetErrorString
    let cudnnGetLastErrorString: CCUDA_PFN_cudnnGetLastErrorString
    let cudnnCreate: CCUDA_PFN_cudnnCreate
    let cudnnDestroy: CCUDA_PFN_cudnnDestroy
    let cudnnSetStream: CCUDA_PFN_cudnnSetStream
    let cudnnCreateTensorDescriptor: CCUDA_PFN_cudnnCreateTensorDescriptor
    let cudnnSetTensor4dDescriptor: CCUDA_PFN_cudnnSetTensor4dDescriptor
    let cudnnDestroyTensorDescriptor: CCUDA_PFN_cudnnDestroyTensorDescriptor
    let cudnnCreateFilterDescriptor: CCUDA_PFN_cudnnCreateFilterDescriptor
    let cudnnSetFilter4dDescriptor: CCUDA_PFN_cudnnSetFilter4dDescriptor
    let cudnnDestroyFilterDescriptor: CCUDA_PFN_cudnnDestroyFilterDescriptor
    let cudnnCreateConvolutionDescriptor: CCUDA_PFN_cudnnCreateConvolutionDescriptor
    let cudnnSetConvolution2dDescriptor: CCUDA_PFN_cudnnSetConvolution2dDescriptor
    let cudnnSetConvolutionMathType: CCUDA_PFN_cudnnSetConvolutionMathType
    let cudnnDestroyConvolutionDescriptor: CCUDA_PFN_cudnnDestroyConvolutionDescriptor
    let cudnnGetConvolution2dForwardOutputDim: CCUDA_PFN_cudnnGetConvolution2dForwardOutputDim
    let cudnnGetConvolutionForwardAlgorithmMaxCount: CCUDA_PFN_cudnnGetConvolutionForwardAlgorithmMaxCount
    let cudnnGetConvolutionForwardAlgorithm_v7: CCUDA_PFN_cudnnGetConvolutionForwardAlgorithm_v7
    let cudnnGetConvolutionBackwardDataAlgorithmMaxCount: CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithmMaxCount
    let cudnnGetConvolutionBackwardDataAlgorithm_v7: CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithm_v7
    let cudnnGetConvolutionBackwardFilterAlgorithmMaxCount: CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithmMaxCount
    let cudnnGetConvolutionBackwardFilterAlgorithm_v7: CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithm_v7
    let cudnnGetConvolutionForwardWorkspaceSize: CCUDA_PFN_cudnnGetConvolutionForwardWorkspaceSize
    let cudnnGetConvolutionBackwardDataWorkspaceSize: CCUDA_PFN_cudnnGetConvolutionBackwardDataWorkspaceSize
    let cudnnGetConvolutionBackwardFilterWorkspaceSize: CCUDA_PFN_cudnnGetConvolutionBackwardFilterWorkspaceSize
    let cudnnConvolutionForward: CCUDA_PFN_cudnnConvolutionForward
    let cudnnConvolutionBackwardData: CCUDA_PFN_cudnnConvolutionBackwardData
    let cudnnConvolutionBackwardFilter: CCUDA_PFN_cudnnConvolutionBackwardFilter
    let cudnnConvolutionBackwardBias: CCUDA_PFN_cudnnConvolutionBackwardBias
    let cudnnAddTensor: CCUDA_PFN_cudnnAddTensor

    /// The names of every function above, in order (tests check each resolves).
    static let symbols = [
        "cudnnGetVersion", "cudnnGetCudartVersion", "cudnnGetErrorString", "cudnnGetLastErrorString",
        "cudnnCreate", "cudnnDestroy", "cudnnSetStream",
        "cudnnCreateTensorDescriptor", "cudnnSetTensor4dDescriptor", "cudnnDestroyTensorDescriptor",
        "cudnnCreateFilterDescriptor", "cudnnSetFilter4dDescriptor", "cudnnDestroyFilterDescriptor",
        "cudnnCreateConvolutionDescriptor", "cudnnSetConvolution2dDescriptor", "cudnnSetConvolutionMathType",
        "cudnnDestroyConvolutionDescriptor", "cudnnGetConvolution2dForwardOutputDim",
        "cudnnGetConvolutionForwardAlgorithmMaxCount", "cudnnGetConvolutionForwardAlgorithm_v7",
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", "cudnnGetConvolutionBackwardDataAlgorithm_v7",
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
        "cudnnGetConvolutionForwardWorkspaceSize", "cudnnGetConvolutionBackwardDataWorkspaceSize",
        "cudnnGetConvolutionBackwardFilterWorkspaceSize",
        "cudnnConvolutionForward", "cudnnConvolutionBackwardData", "cudnnConvolutionBackwardFilter",
        "cudnnConvolutionBackwardBias", "cudnnAddTensor",
    ]

    /// Resolves every function from `library`; a missing one throws `cudnnUnusable` naming it.
    init(library: DynamicLibrary, path: String) throws {
        var table: [String: UnsafeMutableRawPointer] = [:]
        for name in Self.symbols {
            guard let address = library.address(of: name) else {
                throw CUDAError.cudnnUnusable(path: path, reason: "it exports no \(name) (not cuDNN 9?)")
            }
            table[name] = address
        }
        func fn<T>(_ name: String, _ type: T.Type) -> T {
            // Present: the loop above threw for any missing name.
            unsafeBitCast(table[name]!, to: type)
        }
        cudnnGetVersion = fn("cudnnGetVersion", CCUDA_PFN_cudnnGetVersion.self)
        cudnnGetCudartVersion = fn("cudnnGetCudartVersion", CCUDA_PFN_cudnnGetCudartVersion.self)
        cudnnGetErrorString = fn("cudnnGetErrorString", CCUDA_PFN_cudnnGetErrorString.self)
        cudnnGetLastErrorString = fn("cudnnGetLastErrorString", CCUDA_PFN_cudnnGetLastErrorString.self)
        cudnnCreate = fn("cudnnCreate", CCUDA_PFN_cudnnCreate.self)
        cudnnDestroy = fn("cudnnDestroy", CCUDA_PFN_cudnnDestroy.self)
        cudnnSetStream = fn("cudnnSetStream", CCUDA_PFN_cudnnSetStream.self)
        cudnnCreateTensorDescriptor = fn("cudnnCreateTensorDescriptor", CCUDA_PFN_cudnnCreateTensorDescriptor.self)
        cudnnSetTensor4dDescriptor = fn("cudnnSetTensor4dDescriptor", CCUDA_PFN_cudnnSetTensor4dDescriptor.self)
        cudnnDestroyTensorDescriptor = fn("cudnnDestroyTensorDescriptor", CCUDA_PFN_cudnnDestroyTensorDescriptor.self)
        cudnnCreateFilterDescriptor = fn("cudnnCreateFilterDescriptor", CCUDA_PFN_cudnnCreateFilterDescriptor.self)
        cudnnSetFilter4dDescriptor = fn("cudnnSetFilter4dDescriptor", CCUDA_PFN_cudnnSetFilter4dDescriptor.self)
        cudnnDestroyFilterDescriptor = fn("cudnnDestroyFilterDescriptor", CCUDA_PFN_cudnnDestroyFilterDescriptor.self)
        cudnnCreateConvolutionDescriptor = fn("cudnnCreateConvolutionDescriptor", CCUDA_PFN_cudnnCreateConvolutionDescriptor.self)
        cudnnSetConvolution2dDescriptor = fn("cudnnSetConvolution2dDescriptor", CCUDA_PFN_cudnnSetConvolution2dDescriptor.self)
        cudnnSetConvolutionMathType = fn("cudnnSetConvolutionMathType", CCUDA_PFN_cudnnSetConvolutionMathType.self)
        cudnnDestroyConvolutionDescriptor = fn("cudnnDestroyConvolutionDescriptor", CCUDA_PFN_cudnnDestroyConvolutionDescriptor.self)
        cudnnGetConvolution2dForwardOutputDim = fn("cudnnGetConvolution2dForwardOutputDim", CCUDA_PFN_cudnnGetConvolution2dForwardOutputDim.self)
        cudnnGetConvolutionForwardAlgorithmMaxCount = fn("cudnnGetConvolutionForwardAlgorithmMaxCount",
                                                         CCUDA_PFN_cudnnGetConvolutionForwardAlgorithmMaxCount.self)
        cudnnGetConvolutionForwardAlgorithm_v7 = fn("cudnnGetConvolutionForwardAlgorithm_v7", CCUDA_PFN_cudnnGetConvolutionForwardAlgorithm_v7.self)
        cudnnGetConvolutionBackwardDataAlgorithmMaxCount = fn("cudnnGetConvolutionBackwardDataAlgorithmMaxCount",
                                                              CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithmMaxCount.self)
        cudnnGetConvolutionBackwardDataAlgorithm_v7 = fn("cudnnGetConvolutionBackwardDataAlgorithm_v7",
                                                         CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithm_v7.self)
        cudnnGetConvolutionBackwardFilterAlgorithmMaxCount = fn("cudnnGetConvolutionBackwardFilterAlgorithmMaxCount",
                                                                CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithmMaxCount.self)
        cudnnGetConvolutionBackwardFilterAlgorithm_v7 = fn("cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                                                           CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithm_v7.self)
        cudnnGetConvolutionForwardWorkspaceSize = fn("cudnnGetConvolutionForwardWorkspaceSize", CCUDA_PFN_cudnnGetConvolutionForwardWorkspaceSize.self)
        cudnnGetConvolutionBackwardDataWorkspaceSize = fn("cudnnGetConvolutionBackwardDataWorkspaceSize",
                                                          CCUDA_PFN_cudnnGetConvolutionBackwardDataWorkspaceSize.self)
        cudnnGetConvolutionBackwardFilterWorkspaceSize = fn("cudnnGetConvolutionBackwardFilterWorkspaceSize",
                                                            CCUDA_PFN_cudnnGetConvolutionBackwardFilterWorkspaceSize.self)
        cudnnConvolutionForward = fn("cudnnConvolutionForward", CCUDA_PFN_cudnnConvolutionForward.self)
        cudnnConvolutionBackwardData = fn("cudnnConvolutionBackwardData", CCUDA_PFN_cudnnConvolutionBackwardData.self)
        cudnnConvolutionBackwardFilter = fn("cudnnConvolutionBackwardFilter", CCUDA_PFN_cudnnConvolutionBackwardFilter.self)
        cudnnConvolutionBackwardBias = fn("cudnnConvolutionBackwardBias", CCUDA_PFN_cudnnConvolutionBackwardBias.self)
        cudnnAddTensor = fn("cudnnAddTensor", CCUDA_PFN_cudnnAddTensor.self)
    }
}
