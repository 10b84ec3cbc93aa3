#include "CLayerKernels.h"

// Ported operation for operation from DIPCore/SeededRandom.swift (RandomStream.philox,
// boxMuller, DeterministicMath.log and sinCosTwoPi), as the CUDA kernel dip_perturb is; the
// AVX2 version runs four blocks at once (Philox in vector lanes, then two groups of four
// Box-Muller pairs) with the same operations.
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

/* log of four positive normal doubles, log_scalar's operations lane by lane. */
AVX2 static __m256d log4(__m256d x) {
    const __m256i bits = _mm256_castpd_si256(x);
    // The biased exponent as an exact double: its bits under 2^52's, minus 2^52.
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), magic)),
                              _mm256_set1_pd(4503599627370496.0));
    e = _mm256_sub_pd(e, _mm256_set1_pd(1023.0));
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                                    _mm256_set1_epi64x(0x3FF0000000000000LL)));
    __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    e = _mm256_blendv_pd(e, _mm256_add_pd(e, _mm256_set1_pd(1.0)), big);
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d s = _mm256_div_pd(_mm256_sub_pd(m, one), _mm256_add_pd(m, one));
    __m256d s2 = _mm256_mul_pd(s, s);
    __m256d p = _mm256_set1_pd(1.0 / 21.0);
#define STEP(c) p = _mm256_add_pd(_mm256_mul_pd(p, s2), _mm256_set1_pd(c));
    LOG_TERMS(STEP)
#undef STEP
    __m256d lnm = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(2.0), s), p);
    return _mm256_add_pd(_mm256_mul_pd(e, _mm256_set1_pd(ln2hi)),
                         _mm256_add_pd(lnm, _mm256_mul_pd(e, _mm256_set1_pd(ln2lo))));
}

/* sin and cos of 2 pi u for four u in [0, 1), sincos_scalar's operations lane by lane. */
AVX2 static void sincos4(__m256d u, __m256d *sinOut, __m256d *cosOut) {
    __m256d t = _mm256_mul_pd(u, _mm256_set1_pd(8.0));
    __m256d kd = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256d f = _mm256_sub_pd(t, kd);
    __m256i k = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(t));
    const __m256i zero = _mm256_setzero_si256();
#define HAS(bitsValue, v) _mm256_castsi256_pd(_mm256_xor_si256(_mm256_cmpeq_epi64(_mm256_and_si256((v), _mm256_set1_epi64x(bitsValue)), zero), _mm256_set1_epi64x(-1)))
    __m256d odd = HAS(1, k);
    f = _mm256_blendv_pd(f, _mm256_sub_pd(_mm256_set1_pd(1.0), f), odd);
    __m256d r = _mm256_mul_pd(f, _mm256_set1_pd(quarterPi)), r2 = _mm256_mul_pd(r, r);
    __m256d sp = _mm256_set1_pd(-1.0 / 1307674368000.0);
#define STEP(c) sp = _mm256_add_pd(_mm256_mul_pd(sp, r2), _mm256_set1_pd(c));
    SIN_TERMS(STEP)
#undef STEP
    __m256d sr = _mm256_add_pd(r, _mm256_mul_pd(_mm256_mul_pd(r, r2), sp));
    __m256d cp = _mm256_set1_pd(1.0 / 20922789888000.0);
#define STEP(c) cp = _mm256_add_pd(_mm256_mul_pd(cp, r2), _mm256_set1_pd(c));
    COS_TERMS(STEP)
#undef STEP
    __m256d cr = _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(r2, cp));
    // Octants 1 and 2 (mod 4) swap sine and cosine; the sine is negative in octants 4-7, the
    // cosine in 2-5.
    const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
    __m256d swap = HAS(2, _mm256_add_epi64(k, one));
    __m256d sinNeg = HAS(4, k), cosNeg = HAS(4, _mm256_add_epi64(k, two));
#undef HAS
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d sv = _mm256_blendv_pd(sr, cr, swap), cv = _mm256_blendv_pd(cr, sr, swap);
    *sinOut = _mm256_xor_pd(sv, _mm256_and_pd(sinNeg, sign));
    *cosOut = _mm256_xor_pd(cv, _mm256_and_pd(cosNeg, sign));
}

/* Philox4x32-10 of four blocks at once, block b + j in 64-bit lane j (philox's operations lane
   by lane, each word in the low half of its lane): w[m] lane j is word m of block b + j. */
AVX2 static void philox4(unsigned long long b, unsigned long long substream, unsigned int k0, unsigned int k1,
                         __m256i w[4]) {
    const __m256i low = _mm256_set1_epi64x(0xFFFFFFFFLL);
    const __m256i blocks = _mm256_add_epi64(_mm256_set1_epi64x((long long)b), _mm256_setr_epi64x(0, 1, 2, 3));
    __m256i c0 = _mm256_and_si256(blocks, low), c1 = _mm256_srli_epi64(blocks, 32);
    __m256i c2 = _mm256_set1_epi64x((long long)(substream & 0xFFFFFFFFULL)), c3 = _mm256_set1_epi64x((long long)(substream >> 32));
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53LL), m1 = _mm256_set1_epi64x(0xCD9E8D57LL);
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        __m256i p0 = _mm256_mul_epu32(c0, m0), p1 = _mm256_mul_epu32(c2, m1);
        __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1), _mm256_set1_epi64x(k0));
        __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3), _mm256_set1_epi64x(k1));
        c1 = _mm256_and_si256(p1, low);
        c3 = _mm256_and_si256(p0, low);
        c0 = n0;
        c2 = n2;
    }
    w[0] = c0; w[1] = c1; w[2] = c2; w[3] = c3;
}

/* Words below 2^32, one in each 64-bit lane, as exact doubles: their bits under 2^52's, less 2^52. */
AVX2 static inline __m256d words_to_double(__m256i w) {
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(w, magic)), _mm256_set1_pd(4503599627370496.0));
}

/* 0 + sigma * (r cos, r sin) of the Box-Muller pairs (a, c), four lanes, as floats. */
AVX2 static inline void box_muller4(__m256i a, __m256i c, __m256d sigma, __m128 *cosValues, __m128 *sinValues) {
    const __m256d half = _mm256_set1_pd(0.5), scale = _mm256_set1_pd(0x1p-32);
    __m256d u1 = _mm256_mul_pd(_mm256_add_pd(words_to_double(a), half), scale);
    __m256d u2 = _mm256_mul_pd(_mm256_add_pd(words_to_double(c), half), scale);
    __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), log4(u1)));
    __m256d s, co;
    sincos4(u2, &s, &co);
    *cosValues = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_setzero_pd(), _mm256_mul_pd(sigma, _mm256_mul_pd(r, co))));
    *sinValues = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_setzero_pd(), _mm256_mul_pd(sigma, _mm256_mul_pd(r, s))));
}

AVX2 static void perturb_avx2(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                              unsigned int k0, unsigned int k1, unsigned long long substream, double sigma) {
    const __m256d sd = _mm256_set1_pd(sigma);
    unsigned long long b = lo;
    // Four whole blocks at a time, their words made in vector lanes (block b + j in lane j):
    // the pairs (w0, w1) give each block's values 0 and 1, (w2, w3) its values 2 and 3, two
    // independent Box-Muller chains. One block's Philox words went through memory into the
    // vectors, and one chain's divide, square root and polynomials waited on each other: the
    // draw of 2^21 values took 21-26 ms on one Zen 3 thread, 13-16 ms now
    // (bench/perturbation_draw.c; BENCHMARKS.md, seventeenth part).
    for (; b + 4 <= hi && (long)(4 * (b + 4)) <= n; b += 4) {
        __m256i w[4];
        philox4(b, substream, k0, k1, w);
        __m128 c01, s01, c23, s23;
        box_muller4(w[0], w[1], sd, &c01, &s01);
        box_muller4(w[2], w[3], sd, &c23, &s23);
        // Row j of the transpose: block b + j's values (r cos, r sin of its first pair, then of
        // its second).
        _MM_TRANSPOSE4_PS(c01, s01, c23, s23);
        long i = (long)(4 * b);
        _mm_storeu_ps(out + i, _mm_add_ps(c01, _mm_loadu_ps(z + i)));
        _mm_storeu_ps(out + i + 4, _mm_add_ps(s01, _mm_loadu_ps(z + i + 4)));
        _mm_storeu_ps(out + i + 8, _mm_add_ps(c23, _mm_loadu_ps(z + i + 8)));
        _mm_storeu_ps(out + i + 12, _mm_add_ps(s23, _mm_loadu_ps(z + i + 12)));
    }
    for (; b < hi; b++) perturb_block(z, out, n, b, k0, k1, substream, sigma);
}
#undef AVX2
#endif

void dip_cpu_perturb(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                     unsigned int key0, unsigned int key1, unsigned long long substream, double sigma) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() == 1) { perturb_avx2(z, out, n, lo, hi, key0, key1, substream, sigma); return; }
#endif
    perturb_generic(z, out, n, lo, hi, key0, key1, substream, sigma);
}
