// CCUDA: the few CUDA driver API and cuDNN 9 declarations dip-report uses, written out here so
// the package builds where there is no CUDA at all. Nothing is linked: libcuda.so.1 and
// libcudnn.so.9 are opened with dlopen at run time (Sources/DIPEngine/CUDA/), and every
// function is reached through one of the CCUDA_PFN_* pointer types below.
//
// Checked against the official headers: cuda.h and cudaTypedefs.h of the nvidia-cuda-runtime
// wheels 13.0.96 (CUDA_VERSION 13000, the r580 drivers' CUDA) and 13.2.86 (13020), and
// cudnn_*_v9.h of nvidia-cudnn-cu13 9.26.0.51 (what PyTorch 2.15 installs). scripts/check-ccuda-header.sh
// compiles this header next to those headers: every constant must have the official value and
// every CCUDA_PFN_* type must be compatible with the official prototype (driver: the
// PFN_<name>_v<version> typedef whose version Sources/DIPEngine/CUDA/CUDADriverAPI.swift asks
// cuGetProcAddress for).
//
// Enums are declared as int: the C enums in the official headers are int-sized and passed as
// int on every ABI CUDA supports (x86-64, aarch64), and Swift then sees plain Int32 values.
#ifndef CCUDA_H
#define CCUDA_H

#include <stddef.h>
#include <stdint.h>

// ---- Types --------------------------------------------------------------------------------
// scripts/check-ccuda-header.sh defines CCUDA_OFFICIAL_HEADERS after including cuda.h and
// cudnn.h, so that the pointer types below are built from the official types and compared.
#ifndef CCUDA_OFFICIAL_HEADERS
typedef int CUresult;
typedef int CUdevice;
typedef int CUdevice_attribute;
typedef int CUjit_option;
typedef int CUstreamCaptureMode;
typedef int CUstreamCaptureStatus;
typedef int CUdriverProcAddressQueryResult;
typedef unsigned long long CUdeviceptr;
typedef uint64_t cuuint64_t;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;

typedef int cudnnStatus_t;
typedef int cudnnDataType_t;
typedef int cudnnTensorFormat_t;
typedef int cudnnMathType_t;
typedef int cudnnConvolutionMode_t;
typedef int cudnnDeterminism_t;
typedef int cudnnConvolutionFwdAlgo_t;
typedef int cudnnConvolutionBwdDataAlgo_t;
typedef int cudnnConvolutionBwdFilterAlgo_t;
// cuDNN's cudaStream_t is the runtime's name for the driver's CUstream (driver_types.h:
// typedef struct CUstream_st *cudaStream_t), so a CUstream is handed to cudnnSetStream as is.
typedef struct CUstream_st *cudaStream_t;
typedef struct cudnnContext *cudnnHandle_t;
typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct *cudnnConvolutionDescriptor_t;

// The three *AlgoPerf_t structs of cudnn_cnn_v9.h have one layout; the script checks size and
// offsets against each of them.
typedef struct cudnnConvolutionFwdAlgoPerfStruct {
    cudnnConvolutionFwdAlgo_t algo;
    cudnnStatus_t status;
    float time;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t mathType;
    int reserved[3];
} cudnnConvolutionFwdAlgoPerf_t;
typedef struct cudnnConvolutionBwdDataAlgoPerfStruct {
    cudnnConvolutionBwdDataAlgo_t algo;
    cudnnStatus_t status;
    float time;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t mathType;
    int reserved[3];
} cudnnConvolutionBwdDataAlgoPerf_t;
typedef struct cudnnConvolutionBwdFilterAlgoPerfStruct {
    cudnnConvolutionBwdFilterAlgo_t algo;
    cudnnStatus_t status;
    float time;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t mathType;
    int reserved[3];
} cudnnConvolutionBwdFilterAlgoPerf_t;

// ---- Constants (official names and values) -------------------------------------------------
// Macros rather than an enum: Swift imports an int literal macro as Int32, the type of the
// CUresult / cudnnStatus_t values it is compared with (anonymous enum constants become Int).
#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_PTX 218
#define CUDA_ERROR_UNSUPPORTED_PTX_VERSION 222
#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED 900
#define CUDA_ERROR_STREAM_CAPTURE_INVALIDATED 901

#define CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK 1
#define CU_DEVICE_ATTRIBUTE_CLOCK_RATE 13
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define CU_DEVICE_ATTRIBUTE_PCI_BUS_ID 33
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

#define CU_GET_PROC_ADDRESS_LEGACY_STREAM 1
#define CU_GET_PROC_ADDRESS_SUCCESS 0
#define CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND 1
#define CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT 2

#define CU_STREAM_NON_BLOCKING 1
#define CU_EVENT_DEFAULT 0
#define CU_EVENT_DISABLE_TIMING 2

#define CU_JIT_INFO_LOG_BUFFER 3
#define CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES 4
#define CU_JIT_ERROR_LOG_BUFFER 5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6
#define CU_JIT_LOG_VERBOSE 12

#define CU_STREAM_CAPTURE_STATUS_NONE 0
#define CU_STREAM_CAPTURE_STATUS_ACTIVE 1
#define CU_STREAM_CAPTURE_STATUS_INVALIDATED 2
#define CU_STREAM_CAPTURE_MODE_GLOBAL 0
#define CU_STREAM_CAPTURE_MODE_THREAD_LOCAL 1
#define CU_STREAM_CAPTURE_MODE_RELAXED 2

#define CUDNN_STATUS_SUCCESS 0
#define CUDNN_DATA_FLOAT 0
#define CUDNN_TENSOR_NCHW 0
#define CUDNN_TENSOR_NHWC 1
#define CUDNN_DEFAULT_MATH 0
#define CUDNN_TENSOR_OP_MATH 1
#define CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION 2
#define CUDNN_FMA_MATH 3
#define CUDNN_CONVOLUTION 0
#define CUDNN_CROSS_CORRELATION 1
#define CUDNN_NON_DETERMINISTIC 0
#define CUDNN_DETERMINISTIC 1
#endif // CCUDA_OFFICIAL_HEADERS

// ---- Driver API: pointer types, one per function resolved ----------------------------------
// cuGetProcAddress_v2 is the one symbol looked up with dlsym; every other driver function is
// resolved through it by base name and the CUDA version of the ABI declared here (the number
// after the name in each comment, the same as cudaTypedefs.h's PFN_<name>_v<version>).
typedef CUresult (*CCUDA_PFN_cuGetProcAddress)(const char *symbol, void **pfn, int cudaVersion,
                                               cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus); // _v2, 12000
typedef CUresult (*CCUDA_PFN_cuGetErrorName)(CUresult error, const char **pStr);            // 6000
typedef CUresult (*CCUDA_PFN_cuGetErrorString)(CUresult error, const char **pStr);          // 6000
typedef CUresult (*CCUDA_PFN_cuInit)(unsigned int flags);                                   // 2000
typedef CUresult (*CCUDA_PFN_cuDriverGetVersion)(int *driverVersion);                       // 2020
typedef CUresult (*CCUDA_PFN_cuDeviceGetCount)(int *count);                                 // 2000
typedef CUresult (*CCUDA_PFN_cuDeviceGet)(CUdevice *device, int ordinal);                   // 2000
typedef CUresult (*CCUDA_PFN_cuDeviceGetName)(char *name, int len, CUdevice dev);           // 2000
typedef CUresult (*CCUDA_PFN_cuDeviceGetAttribute)(int *pi, CUdevice_attribute attrib, CUdevice dev); // 2000
typedef CUresult (*CCUDA_PFN_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);                // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev);      // 7000
typedef CUresult (*CCUDA_PFN_cuDevicePrimaryCtxRelease)(CUdevice dev);                      // 11000 (_v2)
typedef CUresult (*CCUDA_PFN_cuCtxSetCurrent)(CUcontext ctx);                               // 4000
typedef CUresult (*CCUDA_PFN_cuCtxGetCurrent)(CUcontext *pctx);                             // 4000
typedef CUresult (*CCUDA_PFN_cuCtxSynchronize)(void);                                       // 2000 (not the 13000 _v2, which takes a context)
typedef CUresult (*CCUDA_PFN_cuMemGetInfo)(size_t *free, size_t *total);                    // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemAlloc)(CUdeviceptr *dptr, size_t bytesize);               // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemFree)(CUdeviceptr dptr);                                  // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemAllocHost)(void **pp, size_t bytesize);                   // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemFreeHost)(void *p);                                       // 2000
typedef CUresult (*CCUDA_PFN_cuMemcpyHtoDAsync)(CUdeviceptr dstDevice, const void *srcHost, size_t byteCount, CUstream hStream); // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemcpyDtoHAsync)(void *dstHost, CUdeviceptr srcDevice, size_t byteCount, CUstream hStream);       // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemcpyDtoDAsync)(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t byteCount, CUstream hStream); // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemsetD8Async)(CUdeviceptr dstDevice, unsigned char uc, size_t n, CUstream hStream);       // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuMemsetD32Async)(CUdeviceptr dstDevice, unsigned int ui, size_t n, CUstream hStream);       // 3020 (_v2)
typedef CUresult (*CCUDA_PFN_cuStreamCreate)(CUstream *phStream, unsigned int flags);       // 2000
typedef CUresult (*CCUDA_PFN_cuStreamDestroy)(CUstream hStream);                            // 4000 (_v2)
typedef CUresult (*CCUDA_PFN_cuStreamSynchronize)(CUstream hStream);                        // 2000
typedef CUresult (*CCUDA_PFN_cuEventCreate)(CUevent *phEvent, unsigned int flags);          // 2000
typedef CUresult (*CCUDA_PFN_cuEventDestroy)(CUevent hEvent);                               // 4000 (_v2)
typedef CUresult (*CCUDA_PFN_cuEventRecord)(CUevent hEvent, CUstream hStream);              // 2000
typedef CUresult (*CCUDA_PFN_cuEventSynchronize)(CUevent hEvent);                           // 2000
typedef CUresult (*CCUDA_PFN_cuEventElapsedTime)(float *pMilliseconds, CUevent hStart, CUevent hEnd); // 2000
typedef CUresult (*CCUDA_PFN_cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned int numOptions,
                                                 CUjit_option *options, void **optionValues); // 2010
typedef CUresult (*CCUDA_PFN_cuModuleUnload)(CUmodule hmod);                                // 2000
typedef CUresult (*CCUDA_PFN_cuModuleGetFunction)(CUfunction *hfunc, CUmodule hmod, const char *name); // 2000
typedef CUresult (*CCUDA_PFN_cuLaunchKernel)(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                             unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                             unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra); // 4000
typedef CUresult (*CCUDA_PFN_cuStreamBeginCapture)(CUstream hStream, CUstreamCaptureMode mode);   // 10010 (_v2)
typedef CUresult (*CCUDA_PFN_cuStreamEndCapture)(CUstream hStream, CUgraph *phGraph);             // 10000
typedef CUresult (*CCUDA_PFN_cuStreamIsCapturing)(CUstream hStream, CUstreamCaptureStatus *captureStatus); // 10000
typedef CUresult (*CCUDA_PFN_cuGraphInstantiateWithFlags)(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags); // 11040
typedef CUresult (*CCUDA_PFN_cuGraphLaunch)(CUgraphExec hGraphExec, CUstream hStream);            // 10000
typedef CUresult (*CCUDA_PFN_cuGraphExecDestroy)(CUgraphExec hGraphExec);                         // 10000
typedef CUresult (*CCUDA_PFN_cuGraphDestroy)(CUgraph hGraph);                                     // 10000

// ---- cuDNN 9: pointer types, one per function resolved with dlsym ---------------------------
typedef size_t (*CCUDA_PFN_cudnnGetVersion)(void);
typedef size_t (*CCUDA_PFN_cudnnGetCudartVersion)(void);
typedef const char *(*CCUDA_PFN_cudnnGetErrorString)(cudnnStatus_t status);
// The detail behind the last failing call on this thread (cuDNN 9), e.g. which check failed.
typedef void (*CCUDA_PFN_cudnnGetLastErrorString)(char *message, size_t max_size);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnCreate)(cudnnHandle_t *handle);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnDestroy)(cudnnHandle_t handle);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnSetStream)(cudnnHandle_t handle, cudaStream_t streamId);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnCreateTensorDescriptor)(cudnnTensorDescriptor_t *tensorDesc);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnSetTensor4dDescriptor)(cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format,
                                                              cudnnDataType_t dataType, int n, int c, int h, int w);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnDestroyTensorDescriptor)(cudnnTensorDescriptor_t tensorDesc);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnCreateFilterDescriptor)(cudnnFilterDescriptor_t *filterDesc);
// Note the order: data type before format, unlike cudnnSetTensor4dDescriptor.
typedef cudnnStatus_t (*CCUDA_PFN_cudnnSetFilter4dDescriptor)(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                                              cudnnTensorFormat_t format, int k, int c, int h, int w);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnDestroyFilterDescriptor)(cudnnFilterDescriptor_t filterDesc);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnCreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *convDesc);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnSetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w,
                                                                   int u, int v, int dilation_h, int dilation_w,
                                                                   cudnnConvolutionMode_t mode, cudnnDataType_t computeType);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnSetConvolutionMathType)(cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnDestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t convDesc);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolution2dForwardOutputDim)(const cudnnConvolutionDescriptor_t convDesc,
                                                                         const cudnnTensorDescriptor_t inputTensorDesc,
                                                                         const cudnnFilterDescriptor_t filterDesc,
                                                                         int *n, int *c, int *h, int *w);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionForwardAlgorithmMaxCount)(cudnnHandle_t handle, int *count);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionForwardAlgorithm_v7)(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                                          const cudnnFilterDescriptor_t filterDesc,
                                                                          const cudnnConvolutionDescriptor_t convDesc,
                                                                          const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount,
                                                                          int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithmMaxCount)(cudnnHandle_t handle, int *count);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardDataAlgorithm_v7)(cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
                                                                               const cudnnTensorDescriptor_t diffDesc,
                                                                               const cudnnConvolutionDescriptor_t convDesc,
                                                                               const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount,
                                                                               int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithmMaxCount)(cudnnHandle_t handle, int *count);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardFilterAlgorithm_v7)(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                                                 const cudnnTensorDescriptor_t diffDesc,
                                                                                 const cudnnConvolutionDescriptor_t convDesc,
                                                                                 const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount,
                                                                                 int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionForwardWorkspaceSize)(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                                           const cudnnFilterDescriptor_t wDesc,
                                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                                           const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo,
                                                                           size_t *sizeInBytes);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardDataWorkspaceSize)(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                                                const cudnnTensorDescriptor_t dyDesc,
                                                                                const cudnnConvolutionDescriptor_t convDesc,
                                                                                const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo,
                                                                                size_t *sizeInBytes);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnGetConvolutionBackwardFilterWorkspaceSize)(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                                                  const cudnnTensorDescriptor_t dyDesc,
                                                                                  const cudnnConvolutionDescriptor_t convDesc,
                                                                                  const cudnnFilterDescriptor_t gradDesc,
                                                                                  cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnConvolutionForward)(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                                           const void *x, const cudnnFilterDescriptor_t wDesc, const void *w,
                                                           const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                                           void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                                           const cudnnTensorDescriptor_t yDesc, void *y);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnConvolutionBackwardData)(cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc,
                                                                const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                                const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo,
                                                                void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                                                const cudnnTensorDescriptor_t dxDesc, void *dx);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnConvolutionBackwardFilter)(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc,
                                                                  const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                                  const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo,
                                                                  void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
                                                                  const cudnnFilterDescriptor_t dwDesc, void *dw);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnConvolutionBackwardBias)(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t dyDesc,
                                                                const void *dy, const void *beta, const cudnnTensorDescriptor_t dbDesc, void *db);
typedef cudnnStatus_t (*CCUDA_PFN_cudnnAddTensor)(cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t aDesc, const void *A,
                                                  const void *beta, const cudnnTensorDescriptor_t cDesc, void *C);

// ---- Helper (CCUDA.c) ---------------------------------------------------------------------
// The path of the shared object that holds `address` (dladdr, a GNU extension Swift's Glibc
// module does not export), or NULL: says which copy of a library the dynamic linker loaded.
const char *ccuda_loaded_object_path(const void *address);

#endif // CCUDA_H
