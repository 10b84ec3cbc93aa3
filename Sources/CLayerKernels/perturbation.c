#include "CLayerKernels.h"

// Ported operation for operation from DIPCore/SeededRandom.swift (RandomStream.philox,
// boxMuller, DeterministicMath.log and sinCosTwoPi), as the CUDA kernel dip_perturb is; the
// AVX2 version runs four blocks at once (Philox in vector lanes, then two groups of four
// Box-Muller pairs) with the same operations, the AVX-512 version eight.
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void philox(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        unsigned long long p0 = 0xD2511F53ULL * (unsigned long long)c[0];
        unsigned long long p1 = 0xCD9E8D57ULL * (unsigned long long)c[2];
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        unsigned int n1 = (unsigned int)p1;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        unsigned int n3 = (unsigned int)p0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    }
}

static void block_words(unsigned long long b, unsigned long long substream, unsigned int k0, unsigned int k1,
                        unsigned int w[4]) {
    w[0] = (unsigned int)b;
    w[1] = (unsigned int)(b >> 32);
    w[2] = (unsigned int)substream;
    w[3] = (unsigned int)(substream >> 32);
    philox(w, k0, k1);
}

// The polynomials' coefficients, as the Swift source writes them (folded at compile time, each
// correctly rounded).
#define LOG_TERMS(X) X(1.0 / 19.0) X(1.0 / 17.0) X(1.0 / 15.0) X(1.0 / 13.0) X(1.0 / 11.0) X(1.0 / 9.0) \
    X(1.0 / 7.0) X(1.0 / 5.0) X(1.0 / 3.0) X(1.0)
static const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
static const double quarterPi = 0.78539816339744830962;

static double log_scalar(double x) {
    union { double d; unsigned long long u; } v = { x };
    int e = (int)((v.u >> 52) & 0x7FFULL) - 1023;
    v.u = (v.u & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL;
    double m = v.d;
    if (m > 1.4142135623730951) { m = m * 0.5; e = e + 1; }
    double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double p = 1.0 / 21.0;
#define STEP(c) p = p * s2 + (c);
    LOG_TERMS(STEP)
#undef STEP
    double lnm = 2.0 * s * p;
    return (double)e * ln2hi + (lnm + (double)e * ln2lo);
}

#define SIN_TERMS(X) X(+1.0 / 6227020800.0) X(-1.0 / 39916800.0) X(+1.0 / 362880.0) X(-1.0 / 5040.0) \
    X(+1.0 / 120.0) X(-1.0 / 6.0)
#define COS_TERMS(X) X(-1.0 / 87178291200.0) X(+1.0 / 479001600.0) X(-1.0 / 3628800.0) X(+1.0 / 40320.0) \
    X(-1.0 / 720.0) X(+1.0 / 24.0) X(-0.5)

static void sincos_scalar(double u, double *sinOut, double *cosOut) {
    double t = u * 8.0;
    int k = (int)t;
    double f = t - (double)k;
    if ((k & 1) == 1) f = 1.0 - f;
    double r = f * quarterPi, r2 = r * r;
    double sp = -1.0 / 1307674368000.0;
    // "sp * r2 + c" with a negative c is Swift's "sp * r2 - |c|": the same IEEE result.
#define STEP(c) sp = sp * r2 + (c);
    SIN_TERMS(STEP)
#undef STEP
    double sr = r + r * r2 * sp;
    double cp = 1.0 / 20922789888000.0;
#define STEP(c) cp = cp * r2 + (c);
    COS_TERMS(STEP)
#undef STEP
    double cr = 1.0 + r2 * cp;
    switch (k & 7) {
    case 0: *sinOut = sr; *cosOut = cr; break;
    case 1: *sinOut = cr; *cosOut = sr; break;
    case 2: *sinOut = cr; *cosOut = -sr; break;
    case 3: *sinOut = sr; *cosOut = -cr; break;
    case 4: *sinOut = -sr; *cosOut = -cr; break;
    case 5: *sinOut = -cr; *cosOut = -sr; break;
    case 6: *sinOut = -cr; *cosOut = sr; break;
    default: *sinOut = -sr; *cosOut = cr; break;
    }
}

static void box_muller(unsigned int a, unsigned int b, double *z0, double *z1) {
    double u1 = ((double)a + 0.5) * 0x1p-32, u2 = ((double)b + 0.5) * 0x1p-32;
    double r = __builtin_sqrt(-2.0 * log_scalar(u1));
    double s, c;
    sincos_scalar(u2, &s, &c);
    *z0 = r * c;
    *z1 = r * s;
}

/* One block, bounds-checked against n. */
static void perturb_block(const float *z, float *out, long n, unsigned long long b, unsigned int k0, unsigned int k1,
                          unsigned long long substream, double sigma) {
    unsigned int w[4];
    block_words(b, substream, k0, k1, w);
    double zs[4];
    box_muller(w[0], w[1], &zs[0], &zs[1]);
    box_muller(w[2], w[3], &zs[2], &zs[3]);
    for (int l = 0; l < 4; l++) {
        long i = (long)(4 * b) + l;
        if (i >= n) break;
        out[i] = (float)(0.0 + sigma * zs[l]) + z[i];
    }
}

static void perturb_generic(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                            unsigned int k0, unsigned int k1, unsigned long long substream, double sigma) {
    for (unsigned long long b = lo; b < hi; b++) perturb_block(z, out, n, b, k0, k1, substream, sigma);
}

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f")))

/* Four blocks' values from four vectors' lanes (block j's four values in lane j of v0..v3),
   stored block after block at out, plus z. */
AVX2 __attribute__((always_inline)) static inline void store_blocks4(__m128 v0, __m128 v1, __m128 v2, __m128 v3,
                                                                     const float *z, float *out) {
    _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
    _mm_storeu_ps(out, _mm_add_ps(v0, _mm_loadu_ps(z)));
    _mm_storeu_ps(out + 4, _mm_add_ps(v1, _mm_loadu_ps(z + 4)));
    _mm_storeu_ps(out + 8, _mm_add_ps(v2, _mm_loadu_ps(z + 8)));
    _mm_storeu_ps(out + 12, _mm_add_ps(v3, _mm_loadu_ps(z + 12)));
}

// The operations perturbation_lanes.h is written in, for AVX2 (four doubles a vector; a mask is
// a vector of all-ones or all-zeros lanes) and then for AVX-512F (eight; masks are mask
// registers, and AVX512F has no xor of doubles).
#define PL_TARGET AVX2
#define PL_NAME(name) name##4
#define PL_LANES 4
// One block at a time, the draw of 2^21 values took 21-26 ms on one Zen 3 thread; four blocks in
// vector lanes, 13-16 ms (bench/perturbation_draw.c; BENCHMARKS.md, seventeenth part). On an
// Intel Xeon thread (AVX2 code) four blocks took 11.7-12.4 ms, twelve in three groups whose steps
// alternate 7.2-7.3 (two groups 7.7-8.0, four 8.3-8.4: the chains' values no longer fit the 16
// registers; BENCHMARKS.md, twenty-sixth part). bench/perturbation_draw.c builds it with other
// counts: -DPERTURB_GROUPS=N.
#ifndef PERTURB_GROUPS
#define PERTURB_GROUPS 3
#endif
#define PL_GROUPS PERTURB_GROUPS
#define PL_TAIL perturb_generic
#define VD __m256d
#define VI __m256i
#define VF __m128
#define VMASK __m256d
#define D_SET1 _mm256_set1_pd
#define D_ZERO _mm256_setzero_pd
#define D_ADD _mm256_add_pd
#define D_SUB _mm256_sub_pd
#define D_MUL _mm256_mul_pd
#define D_DIV _mm256_div_pd
#define D_SQRT _mm256_sqrt_pd
#define D_TRUNC(t) _mm256_round_pd((t), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
#define D_TO_I64(t) _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(t))
#define D_TO_F _mm256_cvtpd_ps
#define D_GT(a, b) _mm256_cmp_pd((a), (b), _CMP_GT_OQ)
#define D_AS_I _mm256_castpd_si256
#define I_AS_D _mm256_castsi256_pd
#define I_SET1 _mm256_set1_epi64x
#define I_LANE_INDEX _mm256_setr_epi64x(0, 1, 2, 3)
#define I_ADD _mm256_add_epi64
#define I_AND _mm256_and_si256
#define I_OR _mm256_or_si256
#define I_XOR _mm256_xor_si256
#define I_SRLI _mm256_srli_epi64
#define I_MULU32 _mm256_mul_epu32
#define I_TEST(v, bits) _mm256_castsi256_pd(_mm256_xor_si256( \
    _mm256_cmpeq_epi64(_mm256_and_si256((v), (bits)), _mm256_setzero_si256()), _mm256_set1_epi64x(-1)))
#define SELECT(m, a, b) _mm256_blendv_pd((a), (b), (m))
#define NEGATE_WHERE(v, m) _mm256_xor_pd((v), _mm256_and_pd((m), _mm256_set1_pd(-0.0)))
#define F_QUARTER(v, h) (v)
#include "perturbation_lanes.h"

#define PL_TARGET AVX512
#define PL_NAME(name) name##8
#define PL_LANES 8
// On an AVX-512 Intel Xeon thread, the draw of 2^21 values (bench/perturbation_draw.c, the
// versions in turns, best of 15): the AVX2 version 9.1 ms, this one 7.6 with one group of eight
// blocks a step, 6.5 with two, 6.0 with three or four (BENCHMARKS.md, thirty-fourth part);
// -DPERTURB_GROUPS8=N builds another count.
#ifndef PERTURB_GROUPS8
#define PERTURB_GROUPS8 3
#endif
#define PL_GROUPS PERTURB_GROUPS8
#define PL_TAIL perturb4
#define VD __m512d
#define VI __m512i
#define VF __m256
#define VMASK __mmask8
#define D_SET1 _mm512_set1_pd
#define D_ZERO _mm512_setzero_pd
#define D_ADD _mm512_add_pd
#define D_SUB _mm512_sub_pd
#define D_MUL _mm512_mul_pd
#define D_DIV _mm512_div_pd
#define D_SQRT _mm512_sqrt_pd
#define D_TRUNC(t) _mm512_roundscale_pd((t), _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)
#define D_TO_I64(t) _mm512_cvtepi32_epi64(_mm512_cvttpd_epi32(t))
#define D_TO_F _mm512_cvtpd_ps
#define D_GT(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_GT_OQ)
#define D_AS_I _mm512_castpd_si512
#define I_AS_D _mm512_castsi512_pd
#define I_SET1 _mm512_set1_epi64
#define I_LANE_INDEX _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0)
#define I_ADD _mm512_add_epi64
#define I_AND _mm512_and_si512
#define I_OR _mm512_or_si512
#define I_XOR _mm512_xor_si512
#define I_SRLI _mm512_srli_epi64
#define I_MULU32 _mm512_mul_epu32
#define I_TEST(v, bits) _mm512_test_epi64_mask((v), (bits))
#define SELECT(m, a, b) _mm512_mask_blend_pd((m), (a), (b))
#define NEGATE_WHERE(v, m) _mm512_castsi512_pd(_mm512_mask_xor_epi64(_mm512_castpd_si512(v), (m), \
    _mm512_castpd_si512(v), _mm512_set1_epi64((long long)0x8000000000000000ULL)))
#define F_QUARTER(v, h) ((h) ? _mm256_extractf128_ps((v), 1) : _mm256_castps256_ps128(v))
#include "perturbation_lanes.h"

#undef AVX512
#undef AVX2
#endif

void dip_cpu_perturb(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                     unsigned int key0, unsigned int key1, unsigned long long substream, double sigma) {
#if defined(__x86_64__)
    const int isa = dip_layer_kernels_isa();
    if (isa == 2) { perturb8(z, out, n, lo, hi, key0, key1, substream, sigma); return; }
    if (isa == 1) { perturb4(z, out, n, lo, hi, key0, key1, substream, sigma); return; }
#endif
    perturb_generic(z, out, n, lo, hi, key0, key1, substream, sigma);
}
