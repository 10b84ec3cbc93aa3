#include "fma_kernel.h"

#if defined(__x86_64__)
#include <immintrin.h>

int dip_fma_kernels_available(void) { return 1; }

// The accumulators are named locals (not an array indexed in a loop) so that even an
// unoptimised build keeps the chains independent; an optimised one keeps them in registers.
#define DIP_LIST12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DIP_LIST24(X) DIP_LIST12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

__attribute__((target("avx2,fma")))
uint64_t dip_fma_avx2(float *acc, float m, float a1, float a2, uint64_t rounds) {
    const __m256 vm = _mm256_set1_ps(m), va1 = _mm256_set1_ps(a1), va2 = _mm256_set1_ps(a2);
#define LOAD(i) __m256 r##i = _mm256_loadu_ps(acc + 8 * (i));
#define FMA1(i) r##i = _mm256_fmadd_ps(r##i, vm, va1);
#define FMA2(i) r##i = _mm256_fmadd_ps(r##i, vm, va2);
#define STORE(i) _mm256_storeu_ps(acc + 8 * (i), r##i);
    DIP_LIST12(LOAD)
    for (uint64_t k = 0; k < rounds; k++) {
        DIP_LIST12(FMA1)
        DIP_LIST12(FMA2)
    }
    DIP_LIST12(STORE)
#undef LOAD
#undef FMA1
#undef FMA2
#undef STORE
    return rounds * 2 * DIP_FMA_AVX2_ACCUMULATORS * 8 * 2;
}

__attribute__((target("avx512f")))
uint64_t dip_fma_avx512(float *acc, float m, float a1, float a2, uint64_t rounds) {
    const __m512 vm = _mm512_set1_ps(m), va1 = _mm512_set1_ps(a1), va2 = _mm512_set1_ps(a2);
#define LOAD(i) __m512 r##i = _mm512_loadu_ps(acc + 16 * (i));
#define FMA1(i) r##i = _mm512_fmadd_ps(r##i, vm, va1);
#define FMA2(i) r##i = _mm512_fmadd_ps(r##i, vm, va2);
#define STORE(i) _mm512_storeu_ps(acc + 16 * (i), r##i);
    DIP_LIST24(LOAD)
    for (uint64_t k = 0; k < rounds; k++) {
        DIP_LIST24(FMA1)
        DIP_LIST24(FMA2)
    }
    DIP_LIST24(STORE)
#undef LOAD
#undef FMA1
#undef FMA2
#undef STORE
    return rounds * 2 * DIP_FMA_AVX512_ACCUMULATORS * 16 * 2;
}

#else

int dip_fma_kernels_available(void) { return 0; }
uint64_t dip_fma_avx2(float *acc, float m, float a1, float a2, uint64_t rounds) { return 0; }
uint64_t dip_fma_avx512(float *acc, float m, float a1, float a2, uint64_t rounds) { return 0; }

#endif
