#include "CLayerKernels.h"

// The bilinear upsampling's interpolation across a source row (Sources/DIPEngine/Layers/
// Upsample.swift). Its taps' sources are not a fixed stride apart (align_corners), which the
// Swift loop did one value at a time; the AVX2 version takes eight at a time with the same
// operations. (The backward's column gather stays in Swift: its sources' readers follow a
// pattern that eight-lane loads and per-source weights serve; AVX2 gather instructions ran it
// no faster than scalar code on a Zen 3.)
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void across_generic(const float *row, const int *i0, const int *i1, const float *l0, const float *l1, long from,
                           long wo, float *out) {
    for (long o = from; o < wo; o++) out[o] = l0[o] * row[i0[o]] + l1[o] * row[i1[o]];
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2")))

AVX2 static void across_avx2(const float *row, long w, const int *i0, const int *i1, const float *l0, const float *l1,
                             long wo, float *out) {
    long o = 0;
    // Eight outputs whose sources lie within eight values from the first one's: one load of
    // the row, both taps picked from it by a permutation.
    for (; o + 8 <= wo; o += 8) {
        const int base = i0[o];
        if (base + 8 > w || i1[o + 7] - base > 7) break;
        const __m256i b = _mm256_set1_epi32(base);
        const __m256 values = _mm256_loadu_ps(row + base);
        const __m256 a = _mm256_permutevar8x32_ps(values, _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(i0 + o)), b));
        const __m256 c = _mm256_permutevar8x32_ps(values, _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(i1 + o)), b));
        _mm256_storeu_ps(out + o, _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(l0 + o), a), _mm256_mul_ps(_mm256_loadu_ps(l1 + o), c)));
    }
    across_generic(row, i0, i1, l0, l1, o, wo, out);
}

#undef AVX2
#endif

void dip_cpu_upsample_across(const float *row, long w, const int *i0, const int *i1, const float *l0, const float *l1,
                             long wo, float *out) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) { across_avx2(row, w, i0, i1, l0, l1, wo, out); return; }
#endif
    (void)w;
    across_generic(row, i0, i1, l0, l1, 0, wo, out);
}
