// Compiled twice by scripts/check-ccuda-header.sh: with -DOFFICIAL against cuda.h,
// cudaTypedefs.h and cudnn.h (the pointer types must match the official prototypes, checked
// at compile time), and without it against Sources/CCUDA/include/CCUDA.h alone. Both builds
// print every constant and the perf struct layout; the script diffs the two listings.
#include <stdio.h>
#include <stddef.h>
#ifdef OFFICIAL
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cudnn.h>
#define CCUDA_OFFICIAL_HEADERS
#endif
#include "CCUDA.h"

#ifdef OFFICIAL
#define SAME(ours, official) _Static_assert(__builtin_types_compatible_p(ours, official), #ours " differs from " #official);
// Driver: the versioned typedef matching the cudaVersion CUDADriverAPI.swift requests.
SAME(CCUDA_PFN_cuGetProcAddress, PFN_cuGetProcAddress_v12000)
SAME(CCUDA_PFN_cuGetErrorName, PFN_cuGetErrorName_v6000)
SAME(CCUDA_PFN_cuGetErrorString, PFN_cuGetErrorString_v6000)
SAME(CCUDA_PFN_cuInit, PFN_cuInit_v2000)
SAME(CCUDA_PFN_cuDriverGetVersion, PFN_cuDriverGetVersion_v2020)
SAME(CCUDA_PFN_cuDeviceGetCount, PFN_cuDeviceGetCount_v2000)
SAME(CCUDA_PFN_cuDeviceGet, PFN_cuDeviceGet_v2000)
SAME(CCUDA_PFN_cuDeviceGetName, PFN_cuDeviceGetName_v2000)
SAME(CCUDA_PFN_cuDeviceGetAttribute, PFN_cuDeviceGetAttribute_v2000)
SAME(CCUDA_PFN_cuDeviceTotalMem, PFN_cuDeviceTotalMem_v3020)
SAME(CCUDA_PFN_cuDevicePrimaryCtxRetain, PFN_cuDevicePrimaryCtxRetain_v7000)
SAME(CCUDA_PFN_cuDevicePrimaryCtxRelease, PFN_cuDevicePrimaryCtxRelease_v11000)
SAME(CCUDA_PFN_cuCtxSetCurrent, PFN_cuCtxSetCurrent_v4000)
SAME(CCUDA_PFN_cuCtxGetCurrent, PFN_cuCtxGetCurrent_v4000)
SAME(CCUDA_PFN_cuCtxSynchronize, PFN_cuCtxSynchronize_v2000)
SAME(CCUDA_PFN_cuMemGetInfo, PFN_cuMemGetInfo_v3020)
SAME(CCUDA_PFN_cuMemAlloc, PFN_cuMemAlloc_v3020)
SAME(CCUDA_PFN_cuMemFree, PFN_cuMemFree_v3020)
SAME(CCUDA_PFN_cuMemAllocHost, PFN_cuMemAllocHost_v3020)
SAME(CCUDA_PFN_cuMemFreeHost, PFN_cuMemFreeHost_v2000)
SAME(CCUDA_PFN_cuMemcpyHtoDAsync, PFN_cuMemcpyHtoDAsync_v3020)
SAME(CCUDA_PFN_cuMemcpyDtoHAsync, PFN_cuMemcpyDtoHAsync_v3020)
SAME(CCUDA_PFN_cuMemcpyDtoDAsync, PFN_cuMemcpyDtoDAsync_v3020)
SAME(CCUDA_PFN_cuMemsetD8Async, PFN_cuMemsetD8Async_v3020)
SAME(CCUDA_PFN_cuMemsetD32Async, PFN_cuMemsetD32Async_v3020)
SAME(CCUDA_PFN_cuStreamCreate, PFN_cuStreamCreate_v2000)
SAME(CCUDA_PFN_cuStreamDestroy, PFN_cuStreamDestroy_v4000)
SAME(CCUDA_PFN_cuStreamSynchronize, PFN_cuStreamSynchronize_v2000)
SAME(CCUDA_PFN_cuEventCreate, PFN_cuEventCreate_v2000)
SAME(CCUDA_PFN_cuEventDestroy, PFN_cuEventDestroy_v4000)
SAME(CCUDA_PFN_cuEventRecord, PFN_cuEventRecord_v2000)
SAME(CCUDA_PFN_cuEventSynchronize, PFN_cuEventSynchronize_v2000)
SAME(CCUDA_PFN_cuEventElapsedTime, PFN_cuEventElapsedTime_v2000)
SAME(CCUDA_PFN_cuModuleLoadDataEx, PFN_cuModuleLoadDataEx_v2010)
SAME(CCUDA_PFN_cuModuleUnload, PFN_cuModuleUnload_v2000)
SAME(CCUDA_PFN_cuModuleGetFunction, PFN_cuModuleGetFunction_v2000)
SAME(CCUDA_PFN_cuLaunchKernel, PFN_cuLaunchKernel_v4000)
SAME(CCUDA_PFN_cuStreamBeginCapture, PFN_cuStreamBeginCapture_v10010)
SAME(CCUDA_PFN_cuStreamEndCapture, PFN_cuStreamEndCapture_v10000)
SAME(CCUDA_PFN_cuStreamIsCapturing, PFN_cuStreamIsCapturing_v10000)
SAME(CCUDA_PFN_cuGraphInstantiateWithFlags, PFN_cuGraphInstantiateWithFlags_v11040)
SAME(CCUDA_PFN_cuGraphLaunch, PFN_cuGraphLaunch_v10000)
SAME(CCUDA_PFN_cuGraphExecDestroy, PFN_cuGraphExecDestroy_v10000)
SAME(CCUDA_PFN_cuGraphDestroy, PFN_cuGraphDestroy_v10000)
// cuDNN: the prototypes themselves.
#define SAMEDNN(name) SAME(CCUDA_PFN_##name, __typeof__(&name))
SAMEDNN(cudnnGetVersion)
SAMEDNN(cudnnGetCudartVersion)
SAMEDNN(cudnnGetErrorString)
SAMEDNN(cudnnGetLastErrorString)
SAMEDNN(cudnnCreate)
SAMEDNN(cudnnDestroy)
SAMEDNN(cudnnSetStream)
SAMEDNN(cudnnCreateTensorDescriptor)
SAMEDNN(cudnnSetTensor4dDescriptor)
SAMEDNN(cudnnDestroyTensorDescriptor)
SAMEDNN(cudnnCreateFilterDescriptor)
SAMEDNN(cudnnSetFilter4dDescriptor)
SAMEDNN(cudnnDestroyFilterDescriptor)
SAMEDNN(cudnnCreateConvolutionDescriptor)
SAMEDNN(cudnnSetConvolution2dDescriptor)
SAMEDNN(cudnnSetConvolutionMathType)
SAMEDNN(cudnnDestroyConvolutionDescriptor)
SAMEDNN(cudnnGetConvolution2dForwardOutputDim)
SAMEDNN(cudnnGetConvolutionForwardAlgorithmMaxCount)
SAMEDNN(cudnnGetConvolutionForwardAlgorithm_v7)
SAMEDNN(cudnnGetConvolutionBackwardDataAlgorithmMaxCount)
SAMEDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7)
SAMEDNN(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount)
SAMEDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7)
SAMEDNN(cudnnGetConvolutionForwardWorkspaceSize)
SAMEDNN(cudnnGetConvolutionBackwardDataWorkspaceSize)
SAMEDNN(cudnnGetConvolutionBackwardFilterWorkspaceSize)
SAMEDNN(cudnnConvolutionForward)
SAMEDNN(cudnnConvolutionBackwardData)
SAMEDNN(cudnnConvolutionBackwardFilter)
SAMEDNN(cudnnConvolutionBackwardBias)
SAMEDNN(cudnnAddTensor)
#endif

#define CONSTANTS(X) \
    X(CUDA_SUCCESS) X(CUDA_ERROR_INVALID_VALUE) X(CUDA_ERROR_NOT_INITIALIZED) X(CUDA_ERROR_NO_DEVICE) \
    X(CUDA_ERROR_INVALID_PTX) X(CUDA_ERROR_UNSUPPORTED_PTX_VERSION) X(CUDA_ERROR_NOT_FOUND) \
    X(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) X(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED) \
    X(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK) X(CU_DEVICE_ATTRIBUTE_CLOCK_RATE) \
    X(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT) X(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID) \
    X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR) X(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR) \
    X(CU_GET_PROC_ADDRESS_LEGACY_STREAM) X(CU_GET_PROC_ADDRESS_SUCCESS) X(CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND) \
    X(CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT) X(CU_STREAM_NON_BLOCKING) X(CU_EVENT_DEFAULT) \
    X(CU_EVENT_DISABLE_TIMING) X(CU_JIT_INFO_LOG_BUFFER) X(CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES) \
    X(CU_JIT_ERROR_LOG_BUFFER) X(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) X(CU_JIT_LOG_VERBOSE) \
    X(CU_STREAM_CAPTURE_STATUS_NONE) X(CU_STREAM_CAPTURE_STATUS_ACTIVE) X(CU_STREAM_CAPTURE_STATUS_INVALIDATED) \
    X(CU_STREAM_CAPTURE_MODE_GLOBAL) X(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) X(CU_STREAM_CAPTURE_MODE_RELAXED) \
    X(CUDNN_STATUS_SUCCESS) X(CUDNN_DATA_FLOAT) X(CUDNN_TENSOR_NCHW) X(CUDNN_TENSOR_NHWC) \
    X(CUDNN_DEFAULT_MATH) X(CUDNN_TENSOR_OP_MATH) X(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) X(CUDNN_FMA_MATH) \
    X(CUDNN_CONVOLUTION) X(CUDNN_CROSS_CORRELATION) X(CUDNN_NON_DETERMINISTIC) X(CUDNN_DETERMINISTIC)

#define PRINT(name) printf("%s %lld\n", #name, (long long)(name));
#define LAYOUT(type) printf("%s size %zu algo %zu status %zu time %zu memory %zu determinism %zu mathType %zu reserved %zu\n", #type, \
    sizeof(type), offsetof(type, algo), offsetof(type, status), offsetof(type, time), offsetof(type, memory), \
    offsetof(type, determinism), offsetof(type, mathType), offsetof(type, reserved));

int main(void) {
    CONSTANTS(PRINT)
    LAYOUT(cudnnConvolutionFwdAlgoPerf_t)
    LAYOUT(cudnnConvolutionBwdDataAlgoPerf_t)
    LAYOUT(cudnnConvolutionBwdFilterAlgoPerf_t)
    printf("enum-size %zu\n", sizeof(cudnnStatus_t) + sizeof(CUresult) + sizeof(cudnnMathType_t));
    return 0;
}
