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

// The vector versions take `G` groups of four lanes at once, each step for every group before
// the next step: one group's Philox rounds and polynomial steps wait on each other (each step
// on the last one's result), and with two chains in flight the draw ran at the latency of those
// chains, not at the machine's throughput. `G` is a constant where they are inlined.
#define DIP_INLINE AVX2 __attribute__((always_inline)) static inline
#define EACH for (int g = 0; g < G; g++)

/* log of G x four positive normal doubles, log_scalar's operations lane by lane. */
DIP_INLINE void log4(const int G, const __m256d *x, __m256d *out) {
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    const __m256d one = _mm256_set1_pd(1.0);
    __m256d e[G], m[G], s[G], s2[G], p[G];
    EACH {
        const __m256i bits = _mm256_castpd_si256(x[g]);
        // The biased exponent as an exact double: its bits under 2^52's, minus 2^52.
        e[g] = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), magic)),
                             _mm256_set1_pd(4503599627370496.0));
        e[g] = _mm256_sub_pd(e[g], _mm256_set1_pd(1023.0));
        m[g] = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL)),
                                                   _mm256_set1_epi64x(0x3FF0000000000000LL)));
        __m256d big = _mm256_cmp_pd(m[g], _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
        m[g] = _mm256_blendv_pd(m[g], _mm256_mul_pd(m[g], _mm256_set1_pd(0.5)), big);
        e[g] = _mm256_blendv_pd(e[g], _mm256_add_pd(e[g], one), big);
    }
    EACH s[g] = _mm256_div_pd(_mm256_sub_pd(m[g], one), _mm256_add_pd(m[g], one));
    EACH { s2[g] = _mm256_mul_pd(s[g], s[g]); p[g] = _mm256_set1_pd(1.0 / 21.0); }
#define STEP(c) EACH p[g] = _mm256_add_pd(_mm256_mul_pd(p[g], s2[g]), _mm256_set1_pd(c));
    LOG_TERMS(STEP)
#undef STEP
    EACH {
        __m256d lnm = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(2.0), s[g]), p[g]);
        out[g] = _mm256_add_pd(_mm256_mul_pd(e[g], _mm256_set1_pd(ln2hi)),
                               _mm256_add_pd(lnm, _mm256_mul_pd(e[g], _mm256_set1_pd(ln2lo))));
    }
}

/* sin and cos of 2 pi u for G x four u in [0, 1), sincos_scalar's operations lane by lane. */
DIP_INLINE void sincos4(const int G, const __m256d *u, __m256d *sinOut, __m256d *cosOut) {
    const __m256i zero = _mm256_setzero_si256();
#define HAS(bitsValue, v) _mm256_castsi256_pd(_mm256_xor_si256(_mm256_cmpeq_epi64(_mm256_and_si256((v), _mm256_set1_epi64x(bitsValue)), zero), _mm256_set1_epi64x(-1)))
    __m256i k[G];
    __m256d r[G], r2[G], sp[G], cp[G];
    EACH {
        __m256d t = _mm256_mul_pd(u[g], _mm256_set1_pd(8.0));
        __m256d kd = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256d f = _mm256_sub_pd(t, kd);
        k[g] = _mm256_cvtepi32_epi64(_mm256_cvttpd_epi32(t));
        f = _mm256_blendv_pd(f, _mm256_sub_pd(_mm256_set1_pd(1.0), f), HAS(1, k[g]));
        r[g] = _mm256_mul_pd(f, _mm256_set1_pd(quarterPi));
        r2[g] = _mm256_mul_pd(r[g], r[g]);
        sp[g] = _mm256_set1_pd(-1.0 / 1307674368000.0);
        cp[g] = _mm256_set1_pd(1.0 / 20922789888000.0);
    }
    // The sine's and the cosine's polynomials are independent: their steps alternate.
#define STEP(c) EACH sp[g] = _mm256_add_pd(_mm256_mul_pd(sp[g], r2[g]), _mm256_set1_pd(c));
#define CSTEP(c) EACH cp[g] = _mm256_add_pd(_mm256_mul_pd(cp[g], r2[g]), _mm256_set1_pd(c));
    CSTEP(-1.0 / 87178291200.0)
    STEP(+1.0 / 6227020800.0) CSTEP(+1.0 / 479001600.0)
    STEP(-1.0 / 39916800.0) CSTEP(-1.0 / 3628800.0)
    STEP(+1.0 / 362880.0) CSTEP(+1.0 / 40320.0)
    STEP(-1.0 / 5040.0) CSTEP(-1.0 / 720.0)
    STEP(+1.0 / 120.0) CSTEP(+1.0 / 24.0)
    STEP(-1.0 / 6.0) CSTEP(-0.5)
#undef STEP
#undef CSTEP
    // Octants 1 and 2 (mod 4) swap sine and cosine; the sine is negative in octants 4-7, the
    // cosine in 2-5.
    const __m256i one = _mm256_set1_epi64x(1), two = _mm256_set1_epi64x(2);
    const __m256d sign = _mm256_set1_pd(-0.0);
    EACH {
        __m256d sr = _mm256_add_pd(r[g], _mm256_mul_pd(_mm256_mul_pd(r[g], r2[g]), sp[g]));
        __m256d cr = _mm256_add_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(r2[g], cp[g]));
        __m256d swap = HAS(2, _mm256_add_epi64(k[g], one));
        __m256d sinNeg = HAS(4, k[g]), cosNeg = HAS(4, _mm256_add_epi64(k[g], two));
        __m256d sv = _mm256_blendv_pd(sr, cr, swap), cv = _mm256_blendv_pd(cr, sr, swap);
        sinOut[g] = _mm256_xor_pd(sv, _mm256_and_pd(sinNeg, sign));
        cosOut[g] = _mm256_xor_pd(cv, _mm256_and_pd(cosNeg, sign));
    }
#undef HAS
}

/* Philox4x32-10 of G x four blocks, blocks b + 4 h + j of group h in 64-bit lane j (philox's
   operations lane by lane, each word in the low half of its lane): w[4 h + m] lane j is word m
   of block b + 4 h + j. */
DIP_INLINE void philox4(const int G, unsigned long long b, unsigned long long substream, unsigned int k0,
                        unsigned int k1, __m256i *w) {
    const __m256i low = _mm256_set1_epi64x(0xFFFFFFFFLL);
    __m256i c0[G], c1[G], c2[G], c3[G];
    EACH {
        const __m256i blocks = _mm256_add_epi64(_mm256_set1_epi64x((long long)(b + 4 * (unsigned)g)),
                                                _mm256_setr_epi64x(0, 1, 2, 3));
        c0[g] = _mm256_and_si256(blocks, low);
        c1[g] = _mm256_srli_epi64(blocks, 32);
        c2[g] = _mm256_set1_epi64x((long long)(substream & 0xFFFFFFFFULL));
        c3[g] = _mm256_set1_epi64x((long long)(substream >> 32));
    }
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53LL), m1 = _mm256_set1_epi64x(0xCD9E8D57LL);
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const __m256i vk0 = _mm256_set1_epi64x(k0), vk1 = _mm256_set1_epi64x(k1);
        EACH {
            __m256i p0 = _mm256_mul_epu32(c0[g], m0), p1 = _mm256_mul_epu32(c2[g], m1);
            __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[g]), vk0);
            __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[g]), vk1);
            c1[g] = _mm256_and_si256(p1, low);
            c3[g] = _mm256_and_si256(p0, low);
            c0[g] = n0;
            c2[g] = n2;
        }
    }
    EACH { w[4 * g] = c0[g]; w[4 * g + 1] = c1[g]; w[4 * g + 2] = c2[g]; w[4 * g + 3] = c3[g]; }
}

/* Words below 2^32, one in each 64-bit lane, as exact doubles: their bits under 2^52's, less 2^52. */
DIP_INLINE __m256d words_to_double(__m256i w) {
    const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(w, magic)), _mm256_set1_pd(4503599627370496.0));
}

/* 0 + sigma * (r cos, r sin) of the Box-Muller pairs (a[h], c[h]), G x four lanes, as floats. */
DIP_INLINE void box_muller4(const int G, const __m256i *a, const __m256i *c, __m256d sigma, __m128 *cosValues,
                            __m128 *sinValues) {
    const __m256d half = _mm256_set1_pd(0.5), scale = _mm256_set1_pd(0x1p-32);
    __m256d u1[G], u2[G], l[G], s[G], co[G];
    EACH {
        u1[g] = _mm256_mul_pd(_mm256_add_pd(words_to_double(a[g]), half), scale);
        u2[g] = _mm256_mul_pd(_mm256_add_pd(words_to_double(c[g]), half), scale);
    }
    log4(G, u1, l);
    sincos4(G, u2, s, co);
    EACH {
        __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), l[g]));
        cosValues[g] = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_setzero_pd(), _mm256_mul_pd(sigma, _mm256_mul_pd(r, co[g]))));
        sinValues[g] = _mm256_cvtpd_ps(_mm256_add_pd(_mm256_setzero_pd(), _mm256_mul_pd(sigma, _mm256_mul_pd(r, s[g]))));
    }
}

/* Blocks b ..< b + 4 G, all inside n: their words in vector lanes (block b + 4 h + j in lane j of
   group h), then the pairs (w0, w1) give each block's values 0 and 1, (w2, w3) its values 2 and
   3, 2 G independent Box-Muller chains. */
DIP_INLINE void perturb_blocks(const int G, const float *z, float *out, unsigned long long b, unsigned int k0,
                               unsigned int k1, unsigned long long substream, __m256d sigma) {
    __m256i w[4 * G], a[2 * G], c[2 * G];
    philox4(G, b, substream, k0, k1, w);
    EACH {
        a[2 * g] = w[4 * g]; c[2 * g] = w[4 * g + 1];
        a[2 * g + 1] = w[4 * g + 2]; c[2 * g + 1] = w[4 * g + 3];
    }
    __m128 cv[2 * G], sv[2 * G];
    box_muller4(2 * G, a, c, sigma, cv, sv);
    EACH {
        __m128 c01 = cv[2 * g], s01 = sv[2 * g], c23 = cv[2 * g + 1], s23 = sv[2 * g + 1];
        // Row j of the transpose: block b + 4 g + j's values (r cos, r sin of its first pair,
        // then of its second).
        _MM_TRANSPOSE4_PS(c01, s01, c23, s23);
        long i = (long)(4 * (b + 4 * (unsigned)g));
        _mm_storeu_ps(out + i, _mm_add_ps(c01, _mm_loadu_ps(z + i)));
        _mm_storeu_ps(out + i + 4, _mm_add_ps(s01, _mm_loadu_ps(z + i + 4)));
        _mm_storeu_ps(out + i + 8, _mm_add_ps(c23, _mm_loadu_ps(z + i + 8)));
        _mm_storeu_ps(out + i + 12, _mm_add_ps(s23, _mm_loadu_ps(z + i + 12)));
    }
}
#undef EACH

/* Groups of four blocks a step of the wide loop takes (bench/perturbation_draw.c builds it with
   others: -DPERTURB_GROUPS=N). */
#ifndef PERTURB_GROUPS
#define PERTURB_GROUPS 3
#endif

AVX2 static void perturb_avx2(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                              unsigned int k0, unsigned int k1, unsigned long long substream, double sigma) {
    const __m256d sd = _mm256_set1_pd(sigma);
    unsigned long long b = lo;
    // One block at a time, the draw of 2^21 values took 21-26 ms on one Zen 3 thread; four
    // blocks in vector lanes, 13-16 ms (bench/perturbation_draw.c; BENCHMARKS.md, seventeenth
    // part). On an Intel Xeon thread (AVX2 code) four blocks took 11.7-12.4 ms, twelve in three
    // groups whose steps alternate 7.2-7.3 (two groups 7.7-8.0, four 8.3-8.4: the chains'
    // values no longer fit the 16 registers; BENCHMARKS.md, twenty-sixth part).
    const unsigned long long wide = 4 * PERTURB_GROUPS;
    for (; b + wide <= hi && (long)(4 * (b + wide)) <= n; b += wide)
        perturb_blocks(PERTURB_GROUPS, z, out, b, k0, k1, substream, sd);
    for (; b + 4 <= hi && (long)(4 * (b + 4)) <= n; b += 4) perturb_blocks(1, z, out, b, k0, k1, substream, sd);
    for (; b < hi; b++) perturb_block(z, out, n, b, k0, k1, substream, sigma);
}
#undef DIP_INLINE

// The AVX-512 version: the AVX2 version's steps on eight blocks a group (eight doubles a
// vector), the blends and sign flips by masks; the same operations on each value, so the same
// bits.
#define AVX512 __attribute__((target("avx512f")))
#define DIP_INLINE AVX512 __attribute__((always_inline)) static inline
#define EACH for (int g = 0; g < G; g++)

/* log of G x eight positive normal doubles, log_scalar's operations lane by lane. */
DIP_INLINE void log8(const int G, const __m512d *x, __m512d *out) {
    const __m512i magic = _mm512_set1_epi64(0x4330000000000000LL);
    const __m512d one = _mm512_set1_pd(1.0);
    __m512d e[G], m[G], s[G], s2[G], p[G];
    EACH {
        const __m512i bits = _mm512_castpd_si512(x[g]);
        e[g] = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(bits, 52), magic)),
                             _mm512_set1_pd(4503599627370496.0));
        e[g] = _mm512_sub_pd(e[g], _mm512_set1_pd(1023.0));
        m[g] = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL)),
                                                   _mm512_set1_epi64(0x3FF0000000000000LL)));
        const __mmask8 big = _mm512_cmp_pd_mask(m[g], _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
        m[g] = _mm512_mask_mul_pd(m[g], big, m[g], _mm512_set1_pd(0.5));
        e[g] = _mm512_mask_add_pd(e[g], big, e[g], one);
    }
    EACH s[g] = _mm512_div_pd(_mm512_sub_pd(m[g], one), _mm512_add_pd(m[g], one));
    EACH { s2[g] = _mm512_mul_pd(s[g], s[g]); p[g] = _mm512_set1_pd(1.0 / 21.0); }
#define STEP(c) EACH p[g] = _mm512_add_pd(_mm512_mul_pd(p[g], s2[g]), _mm512_set1_pd(c));
    LOG_TERMS(STEP)
#undef STEP
    EACH {
        __m512d lnm = _mm512_mul_pd(_mm512_mul_pd(_mm512_set1_pd(2.0), s[g]), p[g]);
        out[g] = _mm512_add_pd(_mm512_mul_pd(e[g], _mm512_set1_pd(ln2hi)),
                               _mm512_add_pd(lnm, _mm512_mul_pd(e[g], _mm512_set1_pd(ln2lo))));
    }
}

/* Negates the lanes of v that `m` names (the sign bit flipped: AVX512F has no xor of doubles). */
DIP_INLINE __m512d negated8(__m512d v, __mmask8 m) {
    const __m512i bits = _mm512_castpd_si512(v);
    return _mm512_castsi512_pd(_mm512_mask_xor_epi64(bits, m, bits, _mm512_set1_epi64((long long)0x8000000000000000ULL)));
}

/* sin and cos of 2 pi u for G x eight u in [0, 1), sincos_scalar's operations lane by lane. */
DIP_INLINE void sincos8(const int G, const __m512d *u, __m512d *sinOut, __m512d *cosOut) {
    __m512i k[G];
    __m512d r[G], r2[G], sp[G], cp[G];
    EACH {
        __m512d t = _mm512_mul_pd(u[g], _mm512_set1_pd(8.0));
        __m512d f = _mm512_sub_pd(t, _mm512_roundscale_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC));
        k[g] = _mm512_cvtepi32_epi64(_mm512_cvttpd_epi32(t));
        f = _mm512_mask_sub_pd(f, _mm512_test_epi64_mask(k[g], _mm512_set1_epi64(1)), _mm512_set1_pd(1.0), f);
        r[g] = _mm512_mul_pd(f, _mm512_set1_pd(quarterPi));
        r2[g] = _mm512_mul_pd(r[g], r[g]);
        sp[g] = _mm512_set1_pd(-1.0 / 1307674368000.0);
        cp[g] = _mm512_set1_pd(1.0 / 20922789888000.0);
    }
#define STEP(c) EACH sp[g] = _mm512_add_pd(_mm512_mul_pd(sp[g], r2[g]), _mm512_set1_pd(c));
#define CSTEP(c) EACH cp[g] = _mm512_add_pd(_mm512_mul_pd(cp[g], r2[g]), _mm512_set1_pd(c));
    CSTEP(-1.0 / 87178291200.0)
    STEP(+1.0 / 6227020800.0) CSTEP(+1.0 / 479001600.0)
    STEP(-1.0 / 39916800.0) CSTEP(-1.0 / 3628800.0)
    STEP(+1.0 / 362880.0) CSTEP(+1.0 / 40320.0)
    STEP(-1.0 / 5040.0) CSTEP(-1.0 / 720.0)
    STEP(+1.0 / 120.0) CSTEP(+1.0 / 24.0)
    STEP(-1.0 / 6.0) CSTEP(-0.5)
#undef STEP
#undef CSTEP
    const __m512i one = _mm512_set1_epi64(1), two = _mm512_set1_epi64(2), four = _mm512_set1_epi64(4);
    EACH {
        __m512d sr = _mm512_add_pd(r[g], _mm512_mul_pd(_mm512_mul_pd(r[g], r2[g]), sp[g]));
        __m512d cr = _mm512_add_pd(_mm512_set1_pd(1.0), _mm512_mul_pd(r2[g], cp[g]));
        const __mmask8 swap = _mm512_test_epi64_mask(_mm512_add_epi64(k[g], one), two);
        const __mmask8 sinNeg = _mm512_test_epi64_mask(k[g], four);
        const __mmask8 cosNeg = _mm512_test_epi64_mask(_mm512_add_epi64(k[g], two), four);
        sinOut[g] = negated8(_mm512_mask_blend_pd(swap, sr, cr), sinNeg);
        cosOut[g] = negated8(_mm512_mask_blend_pd(swap, cr, sr), cosNeg);
    }
}

/* Philox4x32-10 of G x eight blocks, block b + 8 h + j of group h in 64-bit lane j, as philox4. */
DIP_INLINE void philox8(const int G, unsigned long long b, unsigned long long substream, unsigned int k0,
                        unsigned int k1, __m512i *w) {
    const __m512i low = _mm512_set1_epi64(0xFFFFFFFFLL);
    __m512i c0[G], c1[G], c2[G], c3[G];
    EACH {
        const __m512i blocks = _mm512_add_epi64(_mm512_set1_epi64((long long)(b + 8 * (unsigned)g)),
                                                _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
        c0[g] = _mm512_and_si512(blocks, low);
        c1[g] = _mm512_srli_epi64(blocks, 32);
        c2[g] = _mm512_set1_epi64((long long)(substream & 0xFFFFFFFFULL));
        c3[g] = _mm512_set1_epi64((long long)(substream >> 32));
    }
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53LL), m1 = _mm512_set1_epi64(0xCD9E8D57LL);
    for (int round = 0; round < 10; round++) {
        if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
        const __m512i vk0 = _mm512_set1_epi64(k0), vk1 = _mm512_set1_epi64(k1);
        EACH {
            __m512i p0 = _mm512_mul_epu32(c0[g], m0), p1 = _mm512_mul_epu32(c2[g], m1);
            __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p1, 32), c1[g]), vk0);
            __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(_mm512_srli_epi64(p0, 32), c3[g]), vk1);
            c1[g] = _mm512_and_si512(p1, low);
            c3[g] = _mm512_and_si512(p0, low);
            c0[g] = n0;
            c2[g] = n2;
        }
    }
    EACH { w[4 * g] = c0[g]; w[4 * g + 1] = c1[g]; w[4 * g + 2] = c2[g]; w[4 * g + 3] = c3[g]; }
}

/* Words below 2^32, one in each 64-bit lane, as exact doubles (as words_to_double). */
DIP_INLINE __m512d words_to_double8(__m512i w) {
    const __m512i magic = _mm512_set1_epi64(0x4330000000000000LL);
    return _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(w, magic)), _mm512_set1_pd(4503599627370496.0));
}

/* 0 + sigma * (r cos, r sin) of the Box-Muller pairs (a[h], c[h]), G x eight lanes, as floats. */
DIP_INLINE void box_muller8(const int G, const __m512i *a, const __m512i *c, __m512d sigma, __m256 *cosValues,
                            __m256 *sinValues) {
    const __m512d half = _mm512_set1_pd(0.5), scale = _mm512_set1_pd(0x1p-32);
    __m512d u1[G], u2[G], l[G], s[G], co[G];
    EACH {
        u1[g] = _mm512_mul_pd(_mm512_add_pd(words_to_double8(a[g]), half), scale);
        u2[g] = _mm512_mul_pd(_mm512_add_pd(words_to_double8(c[g]), half), scale);
    }
    log8(G, u1, l);
    sincos8(G, u2, s, co);
    EACH {
        __m512d r = _mm512_sqrt_pd(_mm512_mul_pd(_mm512_set1_pd(-2.0), l[g]));
        cosValues[g] = _mm512_cvtpd_ps(_mm512_add_pd(_mm512_setzero_pd(), _mm512_mul_pd(sigma, _mm512_mul_pd(r, co[g]))));
        sinValues[g] = _mm512_cvtpd_ps(_mm512_add_pd(_mm512_setzero_pd(), _mm512_mul_pd(sigma, _mm512_mul_pd(r, s[g]))));
    }
}

/* Four blocks' values from the four value vectors' lanes (block j's four values in lane j of
   v0..v3), stored block after block at out (plus z). */
DIP_INLINE void store_blocks4(__m128 v0, __m128 v1, __m128 v2, __m128 v3, const float *z, float *out) {
    _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
    _mm_storeu_ps(out, _mm_add_ps(v0, _mm_loadu_ps(z)));
    _mm_storeu_ps(out + 4, _mm_add_ps(v1, _mm_loadu_ps(z + 4)));
    _mm_storeu_ps(out + 8, _mm_add_ps(v2, _mm_loadu_ps(z + 8)));
    _mm_storeu_ps(out + 12, _mm_add_ps(v3, _mm_loadu_ps(z + 12)));
}

/* Blocks b ..< b + 8 G, all inside n, as perturb_blocks with eight blocks a group. */
DIP_INLINE void perturb_blocks8(const int G, const float *z, float *out, unsigned long long b, unsigned int k0,
                                unsigned int k1, unsigned long long substream, __m512d sigma) {
    __m512i w[4 * G], a[2 * G], c[2 * G];
    philox8(G, b, substream, k0, k1, w);
    EACH {
        a[2 * g] = w[4 * g]; c[2 * g] = w[4 * g + 1];
        a[2 * g + 1] = w[4 * g + 2]; c[2 * g + 1] = w[4 * g + 3];
    }
    __m256 cv[2 * G], sv[2 * G];
    box_muller8(2 * G, a, c, sigma, cv, sv);
    EACH {
        const __m256 c01 = cv[2 * g], s01 = sv[2 * g], c23 = cv[2 * g + 1], s23 = sv[2 * g + 1];
        const long i = (long)(4 * (b + 8 * (unsigned)g));
        store_blocks4(_mm256_castps256_ps128(c01), _mm256_castps256_ps128(s01), _mm256_castps256_ps128(c23),
                      _mm256_castps256_ps128(s23), z + i, out + i);
        store_blocks4(_mm256_extractf128_ps(c01, 1), _mm256_extractf128_ps(s01, 1), _mm256_extractf128_ps(c23, 1),
                      _mm256_extractf128_ps(s23, 1), z + i + 16, out + i + 16);
    }
}
#undef EACH

/* Groups of eight blocks a step of the AVX-512 version's wide loop (bench/perturbation_draw.c
   builds it with others: -DPERTURB_GROUPS8=N). */
#ifndef PERTURB_GROUPS8
#define PERTURB_GROUPS8 3
#endif

AVX512 static void perturb_avx512(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                                  unsigned int k0, unsigned int k1, unsigned long long substream, double sigma) {
    const __m512d sd = _mm512_set1_pd(sigma);
    unsigned long long b = lo;
    // On an AVX-512 Intel Xeon thread, the draw of 2^21 values (bench/perturbation_draw.c, the
    // versions in turns, best of 15): the AVX2 version 9.1 ms, this one 7.6 with one group of
    // eight blocks a step, 6.5 with two, 6.0 with three or four (BENCHMARKS.md, thirty-fourth
    // part).
    const unsigned long long wide = 8 * PERTURB_GROUPS8;
    for (; b + wide <= hi && (long)(4 * (b + wide)) <= n; b += wide)
        perturb_blocks8(PERTURB_GROUPS8, z, out, b, k0, k1, substream, sd);
    for (; b + 8 <= hi && (long)(4 * (b + 8)) <= n; b += 8) perturb_blocks8(1, z, out, b, k0, k1, substream, sd);
    // The last blocks (fewer than eight, or past n) as the AVX2 version takes them.
    perturb_avx2(z, out, n, b, hi, k0, k1, substream, sigma);
}
#undef DIP_INLINE
#undef AVX512
#undef AVX2
#endif

void dip_cpu_perturb(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                     unsigned int key0, unsigned int key1, unsigned long long substream, double sigma) {
#if defined(__x86_64__)
    const int isa = dip_layer_kernels_isa();
    if (isa == 2) { perturb_avx512(z, out, n, lo, hi, key0, key1, substream, sigma); return; }
    if (isa == 1) { perturb_avx2(z, out, n, lo, hi, key0, key1, substream, sigma); return; }
#endif
    perturb_generic(z, out, n, lo, hi, key0, key1, substream, sigma);
}
