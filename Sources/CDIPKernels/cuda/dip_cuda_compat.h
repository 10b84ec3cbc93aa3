/*
 * Portability macros for dip_kernels.cu: the same kernel source compiles with NVRTC for the
 * GPU (to PTX, committed as Sources/DIPEngine/CUDA/KernelsPTX.swift) and as plain C11 for the
 * host, where a Swift test runs every kernel over an emulated grid against the CPU engine's
 * layers (Tests/DIPEngineTests/CUDAKernelEmulationTests.swift).
 *
 * The scheme (docs/cuda-kernels.md):
 * - Every kernel is one-dimensional: work item i = blockIdx.x * blockDim.x + threadIdx.x, and
 *   a kernel returns at once when i is past its stated item count. What a kernel computes
 *   never depends on blockDim or gridDim, so any block size gives the same bits.
 * - No kernel uses shared memory, __syncthreads or atomics. A reduction is split into kernels
 *   (per-tile partial sums in a fixed order, then one thread per sum adding the tiles in tile
 *   order), so the host emulation is a plain loop over blocks and threads, one thread at a
 *   time, and the result is the same on every run and every card. The host build defines
 *   __syncthreads and __shared__ as names that do not exist, so a kernel that starts to use
 *   them fails to compile here instead of being emulated wrongly.
 * - Helpers are DIP_DEVICE_FN (static inline on both sides); kernels are DIP_KERNEL
 *   (extern "C" __global__ on the GPU, so cuModuleGetFunction finds them by their plain name).
 * - Arithmetic: the GPU build uses -fmad=false (no FMA contraction), IEEE division and square
 *   root and no flush-to-zero; the host build turns contraction off with FP_CONTRACT. So the
 *   same expression rounds the same way on both, and as it does in the Swift CPU layers.
 *   The one exception is expf (sigmoid): the host uses the C library's, the GPU CUDA's
 *   (within 2 ulp of each other); that difference is checked on the device, not here.
 */
#ifndef DIP_CUDA_COMPAT_H
#define DIP_CUDA_COMPAT_H

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)

#define DIP_KERNEL extern "C" __global__ void
#define DIP_DEVICE_FN static __device__ __forceinline__
#define DIP_THREAD_ITEM() ((long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x)
#define DIP_DOUBLE_BITS(x) ((unsigned long long)__double_as_longlong(x))
#define DIP_BITS_DOUBLE(b) (__longlong_as_double((long long)(b)))
#define DIP_SQRT(x) sqrt(x)
#define DIP_SQRTF(x) sqrtf(x)
#define DIP_EXPF(x) expf(x)

#else /* host emulation, C11 */

#include <math.h>
#include <string.h>
#include "../include/CDIPKernels.h"

#pragma STDC FP_CONTRACT OFF

/* The emulated thread's coordinates, one set per host thread (tests run in parallel). */
extern _Thread_local struct dip_emu_coordinates dip_emu_current;

#define __global__
#define __device__
#define blockIdx (dip_emu_current.block_index)
#define threadIdx (dip_emu_current.thread_index)
#define blockDim (dip_emu_current.block_dim)
#define gridDim (dip_emu_current.grid_dim)
#define __syncthreads() dip_kernels_must_not_use_barriers
#define __shared__ dip_kernels_must_not_use_shared_memory

#define DIP_KERNEL void
#define DIP_DEVICE_FN static inline
#define DIP_THREAD_ITEM() ((long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x)

static inline unsigned long long dip_emu_double_bits(double x) {
    unsigned long long b;
    memcpy(&b, &x, sizeof b);
    return b;
}
static inline double dip_emu_bits_double(unsigned long long b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}
#define DIP_DOUBLE_BITS(x) dip_emu_double_bits(x)
#define DIP_BITS_DOUBLE(b) dip_emu_bits_double(b)
#define DIP_SQRT(x) sqrt(x)
#define DIP_SQRTF(x) sqrtf(x)
#define DIP_EXPF(x) expf(x)

#endif
#endif
