import CCUDA

/// Every driver function dip-report calls, resolved once from libcuda.so.1.
///
/// Only `cuGetProcAddress_v2` is looked up with dlsym. Everything else goes through it by base
/// name ("cuMemAlloc", not "cuMemAlloc_v2") and the CUDA version whose ABI CCUDA.h declares:
/// the driver then returns the matching variant (cuMemAlloc at 3020 is cuMemAlloc_v2;
/// cuStreamBeginCapture at 10010 is cuStreamBeginCapture_v2; cuCtxSynchronize at 2000 is the
/// context-less one, not CUDA 13.0's cuCtxSynchronize_v2). Pinning the version per function,
/// rather than asking for the driver's own version, keeps each pointer matching its declared
/// signature on every driver from 12.0 on; scripts/check-ccuda-header.sh checks each
/// signature against cudaTypedefs.h's PFN_<name>_v<version>, the same pairs as below.
///
/// CU_GET_PROC_ADDRESS_LEGACY_STREAM: we never use the NULL stream (all work goes on our own
/// non-blocking streams), so the per-thread-default-stream variants (_ptsz/_ptds) buy nothing;
/// asking for the legacy ones explicitly avoids depending on what "default" means to a driver.
struct CUDADriverAPI: @unchecked Sendable {
    let cuGetErrorName: CCUDA_PFN_cuGetErrorName
    let cuGetErrorString: CCUDA_PFN_cuGetErrorString
    let cuInit: CCUDA_PFN_cuInit
    let cuDriverGetVersion: CCUDA_PFN_cuDriverGetVersion
    let cuDeviceGetCount: CCUDA_PFN_cuDeviceGetCount
    let cuDeviceGet: CCUDA_PFN_cuDeviceGet
    let cuDeviceGetName: CCUDA_PFN_cuDeviceGetName
    let cuDeviceGetAttribute: CCUDA_PFN_cuDeviceGetAttribute
    let cuDeviceTotalMem: CCUDA_PFN_cuDeviceTotalMem
    let cuDevicePrimaryCtxRetain: CCUDA_PFN_cuDevicePrimaryCtxRetain
    let cuDevicePrimaryCtxRelease: CCUDA_PFN_cuDevicePrimaryCtxRelease
    let cuCtxSetCurrent: CCUDA_PFN_cuCtxSetCurrent
    let cuCtxGetCurrent: CCUDA_PFN_cuCtxGetCurrent
    let cuCtxSynchronize: CCUDA_PFN_cuCtxSynchronize
    let cuMemGetInfo: CCUDA_PFN_cuMemGetInfo
    let cuMemAlloc: CCUDA_PFN_cuMemAlloc
    let cuMemFree: CCUDA_PFN_cuMemFree
    let cuMemAllocHost: CCUDA_PFN_cuMemAllocHost
    let cuMemFreeHost: CCUDA_PFN_cuMemFreeHost
    let cuMemcpyHtoDAsync: CCUDA_PFN_cuMemcpyHtoDAsync
    let cuMemcpyDtoHAsync: CCUDA_PFN_cuMemcpyDtoHAsync
    let cuMemcpyDtoDAsync: CCUDA_PFN_cuMemcpyDtoDAsync
    let cuMemsetD8Async: CCUDA_PFN_cuMemsetD8Async
    let cuMemsetD32Async: CCUDA_PFN_cuMemsetD32Async
    let cuStreamCreate: CCUDA_PFN_cuStreamCreate
    let cuStreamDestroy: CCUDA_PFN_cuStreamDestroy
    let cuStreamSynchronize: CCUDA_PFN_cuStreamSynchronize
    let cuEventCreate: CCUDA_PFN_cuEventCreate
    let cuEventDestroy: CCUDA_PFN_cuEventDestroy
    let cuEventRecord: CCUDA_PFN_cuEventRecord
    let cuEventSynchronize: CCUDA_PFN_cuEventSynchronize
    let cuEventElapsedTime: CCUDA_PFN_cuEventElapsedTime
    let cuModuleLoadDataEx: CCUDA_PFN_cuModuleLoadDataEx
    let cuModuleUnload: CCUDA_PFN_cuModuleUnload
    let cuModuleGetFunction: CCUDA_PFN_cuModuleGetFunction
    let cuLaunchKernel: CCUDA_PFN_cuLaunchKernel
    let cuStreamBeginCapture: CCUDA_PFN_cuStreamBeginCapture
    let cuStreamEndCapture: CCUDA_PFN_cuStreamEndCapture
    let cuStreamIsCapturing: CCUDA_PFN_cuStreamIsCapturing
    let cuGraphInstantiateWithFlags: CCUDA_PFN_cuGraphInstantiateWithFlags
    let cuGraphLaunch: CCUDA_PFN_cuGraphLaunch
    let cuGraphExecDestroy: CCUDA_PFN_cuGraphExecDestroy
    let cuGraphDestroy: CCUDA_PFN_cuGraphDestroy

    /// The (base name, CUDA version) of every function above, in declaration order: what
    /// `resolve` asks cuGetProcAddress for. Tests and the GPU self-test list it.
    static let symbols: [(name: String, version: Int32)] = [
        ("cuGetErrorName", 6000), ("cuGetErrorString", 6000), ("cuInit", 2000), ("cuDriverGetVersion", 2020),
        ("cuDeviceGetCount", 2000), ("cuDeviceGet", 2000), ("cuDeviceGetName", 2000), ("cuDeviceGetAttribute", 2000),
        ("cuDeviceTotalMem", 3020), ("cuDevicePrimaryCtxRetain", 7000), ("cuDevicePrimaryCtxRelease", 11000),
        ("cuCtxSetCurrent", 4000), ("cuCtxGetCurrent", 4000), ("cuCtxSynchronize", 2000), ("cuMemGetInfo", 3020),
        ("cuMemAlloc", 3020), ("cuMemFree", 3020), ("cuMemAllocHost", 3020), ("cuMemFreeHost", 2000),
        ("cuMemcpyHtoDAsync", 3020), ("cuMemcpyDtoHAsync", 3020), ("cuMemcpyDtoDAsync", 3020),
        ("cuMemsetD8Async", 3020), ("cuMemsetD32Async", 3020), ("cuStreamCreate", 2000), ("cuStreamDestroy", 4000),
        ("cuStreamSynchronize", 2000), ("cuEventCreate", 2000), ("cuEventDestroy", 4000), ("cuEventRecord", 2000),
        ("cuEventSynchronize", 2000), ("cuEventElapsedTime", 2000), ("cuModuleLoadDataEx", 2010),
        ("cuModuleUnload", 2000), ("cuModuleGetFunction", 2000), ("cuLaunchKernel", 4000),
        ("cuStreamBeginCapture", 10010), ("cuStreamEndCapture", 10000), ("cuStreamIsCapturing", 10000),
        ("cuGraphInstantiateWithFlags", 11040), ("cuGraphLaunch", 10000), ("cuGraphExecDestroy", 10000),
        ("cuGraphDestroy", 10000),
    ]

    /// Resolves every function through `getProcAddress`; a missing one is `driverTooOld`.
    init(getProcAddress: CCUDA_PFN_cuGetProcAddress) throws {
        var table: [String: UnsafeMutableRawPointer] = [:]
        for (name, version) in Self.symbols {
            var pointer: UnsafeMutableRawPointer?
            var status: CUdriverProcAddressQueryResult = 0
            let result = name.withCString { getProcAddress($0, &pointer, version, cuuint64_t(CU_GET_PROC_ADDRESS_LEGACY_STREAM), &status) }
            guard result == CUDA_SUCCESS, status == CU_GET_PROC_ADDRESS_SUCCESS, let pointer else {
                let why = status == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT ? "present but not for CUDA \(version)"
                    : status == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND ? "not found" : "cuGetProcAddress returned \(result)"
                throw CUDAError.driverTooOld("\(name) (ABI of CUDA \(version)): \(why)")
            }
            table[name] = pointer
        }
        func fn<T>(_ name: String, _ type: T.Type) -> T {
            // Present: the loop above threw for any name that did not resolve.
            unsafeBitCast(table[name]!, to: type)
        }
        cuGetErrorName = fn("cuGetErrorName", CCUDA_PFN_cuGetErrorName.self)
        cuGetErrorString = fn("cuGetErrorString", CCUDA_PFN_cuGetErrorString.self)
        cuInit = fn("cuInit", CCUDA_PFN_cuInit.self)
        cuDriverGetVersion = fn("cuDriverGetVersion", CCUDA_PFN_cuDriverGetVersion.self)
        cuDeviceGetCount = fn("cuDeviceGetCount", CCUDA_PFN_cuDeviceGetCount.self)
        cuDeviceGet = fn("cuDeviceGet", CCUDA_PFN_cuDeviceGet.self)
        cuDeviceGetName = fn("cuDeviceGetName", CCUDA_PFN_cuDeviceGetName.self)
        cuDeviceGetAttribute = fn("cuDeviceGetAttribute", CCUDA_PFN_cuDeviceGetAttribute.self)
        cuDeviceTotalMem = fn("cuDeviceTotalMem", CCUDA_PFN_cuDeviceTotalMem.self)
        cuDevicePrimaryCtxRetain = fn("cuDevicePrimaryCtxRetain", CCUDA_PFN_cuDevicePrimaryCtxRetain.self)
        cuDevicePrimaryCtxRelease = fn("cuDevicePrimaryCtxRelease", CCUDA_PFN_cuDevicePrimaryCtxRelease.self)
        cuCtxSetCurrent = fn("cuCtxSetCurrent", CCUDA_PFN_cuCtxSetCurrent.self)
        cuCtxGetCurrent = fn("cuCtxGetCurrent", CCUDA_PFN_cuCtxGetCurrent.self)
        cuCtxSynchronize = fn("cuCtxSynchronize", CCUDA_PFN_cuCtxSynchronize.self)
        cuMemGetInfo = fn("cuMemGetInfo", CCUDA_PFN_cuMemGetInfo.self)
        cuMemAlloc = fn("cuMemAlloc", CCUDA_PFN_cuMemAlloc.self)
        cuMemFree = fn("cuMemFree", CCUDA_PFN_cuMemFree.self)
        cuMemAllocHost = fn("cuMemAllocHost", CCUDA_PFN_cuMemAllocHost.self)
        cuMemFreeHost = fn("cuMemFreeHost", CCUDA_PFN_cuMemFreeHost.self)
        cuMemcpyHtoDAsync = fn("cuMemcpyHtoDAsync", CCUDA_PFN_cuMemcpyHtoDAsync.self)
        cuMemcpyDtoHAsync = fn("cuMemcpyDtoHAsync", CCUDA_PFN_cuMemcpyDtoHAsync.self)
        cuMemcpyDtoDAsync = fn("cuMemcpyDtoDAsync", CCUDA_PFN_cuMemcpyDtoDAsync.self)
        cuMemsetD8Async = fn("cuMemsetD8Async", CCUDA_PFN_cuMemsetD8Async.self)
        cuMemsetD32Async = fn("cuMemsetD32Async", CCUDA_PFN_cuMemsetD32Async.self)
        cuStreamCreate = fn("cuStreamCreate", CCUDA_PFN_cuStreamCreate.self)
        cuStreamDestroy = fn("cuStreamDestroy", CCUDA_PFN_cuStreamDestroy.self)
        cuStreamSynchronize = fn("cuStreamSynchronize", CCUDA_PFN_cuStreamSynchronize.self)
        cuEventCreate = fn("cuEventCreate", CCUDA_PFN_cuEventCreate.self)
        cuEventDestroy = fn("cuEventDestroy", CCUDA_PFN_cuEventDestroy.self)
        cuEventRecord = fn("cuEventRecord", CCUDA_PFN_cuEventRecord.self)
        cuEventSynchronize = fn("cuEventSynchronize", CCUDA_PFN_cuEventSynchronize.self)
        cuEventElapsedTime = fn("cuEventElapsedTime", CCUDA_PFN_cuEventElapsedTime.self)
        cuModuleLoadDataEx = fn("cuModuleLoadDataEx", CCUDA_PFN_cuModuleLoadDataEx.self)
        cuModuleUnload = fn("cuModuleUnload", CCUDA_PFN_cuModuleUnload.self)
        cuModuleGetFunction = fn("cuModuleGetFunction", CCUDA_PFN_cuModuleGetFunction.self)
        cuLaunchKernel = fn("cuLaunchKernel", CCUDA_PFN_cuLaunchKernel.self)
        cuStreamBeginCapture = fn("cuStreamBeginCapture", CCUDA_PFN_cuStreamBeginCapture.self)
        cuStreamEndCapture = fn("cuStreamEndCapture", CCUDA_PFN_cuStreamEndCapture.self)
        cuStreamIsCapturing = fn("cuStreamIsCapturing", CCUDA_PFN_cuStreamIsCapturing.self)
        cuGraphInstantiateWithFlags = fn("cuGraphInstantiateWithFlags", CCUDA_PFN_cuGraphInstantiateWithFlags.self)
        cuGraphLaunch = fn("cuGraphLaunch", CCUDA_PFN_cuGraphLaunch.self)
        cuGraphExecDestroy = fn("cuGraphExecDestroy", CCUDA_PFN_cuGraphExecDestroy.self)
        cuGraphDestroy = fn("cuGraphDestroy", CCUDA_PFN_cuGraphDestroy.self)
    }
}
