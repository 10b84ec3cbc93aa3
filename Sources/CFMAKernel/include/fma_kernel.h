// FMA throughput kernels for `dip-report bench`'s peak figure (Sources/DIPEngine/FMAPeak.swift).
//
// Each kernel keeps DIP_FMA_*_ACCUMULATORS independent vector accumulators in registers and, per
// round, applies two fused multiply-adds to every one of them: acc = acc * m + a1, then
// acc = acc * m + a2. Enough independent chains hide the FMA latency, so the loop runs at the
// core's FMA issue rate. With m = 1, a1 = 1, a2 = -1 the values stay put (exactly), so any
// number of rounds is safe; other values let a test check the arithmetic.
//
// The kernels are compiled for their instruction set with a function attribute, so the rest
// of the package stays baseline x86-64: the caller must check that the CPU has the feature
// (AVX2 and FMA, or AVX-512F) before calling, or the process dies of SIGILL.
#ifndef DIP_FMA_KERNEL_H
#define DIP_FMA_KERNEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Independent 256-bit accumulators of the AVX2 kernel (Zen 3 and Skylake need 8: latency 4, two FMA pipes).
#define DIP_FMA_AVX2_ACCUMULATORS 12
/// Floats in the AVX2 kernel's accumulator array.
#define DIP_FMA_AVX2_FLOATS (DIP_FMA_AVX2_ACCUMULATORS * 8)
/// Independent 512-bit accumulators of the AVX-512 kernel (32 registers available).
#define DIP_FMA_AVX512_ACCUMULATORS 24
/// Floats in the AVX-512 kernel's accumulator array.
#define DIP_FMA_AVX512_FLOATS (DIP_FMA_AVX512_ACCUMULATORS * 16)

/// Whether this build has the kernels (x86-64 only); elsewhere the functions below do nothing.
int dip_fma_kernels_available(void);

/// `rounds` rounds of the AVX2 kernel on `acc` (DIP_FMA_AVX2_FLOATS floats, read and written
/// back). Returns the floating-point operations done (2 per lane per FMA). Needs AVX2 and FMA.
uint64_t dip_fma_avx2(float *acc, float m, float a1, float a2, uint64_t rounds);

/// The same with 512-bit vectors on DIP_FMA_AVX512_FLOATS floats. Needs AVX-512F.
uint64_t dip_fma_avx512(float *acc, float m, float a1, float a2, uint64_t rounds);

#ifdef __cplusplus
}
#endif

#endif
