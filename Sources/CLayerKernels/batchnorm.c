#include "CLayerKernels.h"

// No contraction: a fused multiply-add would round differently from the Swift code this
// replaces, from the CUDA kernels' host build and between the two versions here.
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// MARK: Baseline versions (the reference order).

/* The end of a plane sum (dip_cpu_plane_sum): the 32 partial sums of the whole blocks added lane
   by lane as (s[l] + s[8 + l]) + (s[16 + l] + s[24 + l]), those eight added in order from zero,
   then the `count` values of the tail in order. One rule for both versions and the fused pass. */
static float plane_sum_finish(const float s[32], const float *tail, long count) {
    float sum = 0;
    for (int l = 0; l < 8; l++) sum += (s[l] + s[8 + l]) + (s[16 + l] + s[24 + l]);
    for (long i = 0; i < count; i++) sum += tail[i];
    return sum;
}

static float plane_sum_generic(const float *p, long n) {
    float s[32] = {0};
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int l = 0; l < 32; l++) s[l] += p[i + l];
    }
    return plane_sum_finish(s, p + i, n - i);
}

/* Mean and biased variance from the sums of d = x - shift and of d^2 (shift: the plane's first
   value, so d stays near the data's spread and S2 - S1^2 / n does not cancel). One rule for
   both versions. */
static void moments_from_sums(double shift, double s1, double s2, long n, double *mean, double *variance) {
    double n_d = (double)n, m1 = s1 / n_d, v = (s2 - s1 * m1) / n_d;
    *mean = shift + m1;
    *variance = v > 0 ? v : 0;
}

static void moments_generic(const float *x, long n, double *mean, double *variance) {
    const double shift = (double)x[0];
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    long i = 0;
#define D(k) ((double)x[k] - shift)
    for (; i + 4 <= n; i += 4) {
        double d0 = D(i), d1 = D(i + 1), d2 = D(i + 2), d3 = D(i + 3);
        a0 += d0; a1 += d1; a2 += d2; a3 += d3;
        b0 += d0 * d0; b1 += d1 * d1; b2 += d2 * d2; b3 += d3 * d3;
    }
    for (; i < n; i++) { double d = D(i); a0 += d; b0 += d * d; }
#undef D
    moments_from_sums(shift, (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3), n, mean, variance);
}

static void apply_generic(const float *x, float *y, long rows, long width, long rowStride, float mean, float scale,
                          float shift, int hasSlope, float slope) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * width;
        float *yr = y + r * rowStride;
        for (long i = 0; i < width; i++) {
            float v = (xr[i] - mean) * scale + shift;
            yr[i] = hasSlope ? (v > 0 ? v : v * slope) : v;
        }
    }
}

static inline float dy_of(float x, float g, float mean, float scale, float shift, float slope) {
    return (x - mean) * scale + shift > 0 ? g : g * slope;
}

static void backward_sums_generic(const float *x, const float *g, long n, float mean, float scale, float shift,
                                  float slope, float invStd, double *sumDy, double *sumDyXhat) {
    // Both sums in one pass; each keeps the four interleaved partial sums of the reference.
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; l++) {
            long j = i + l;
            double d = (double)dy_of(x[j], g[j], mean, scale, shift, slope);
            a[l] += d;
            b[l] += d * (double)((x[j] - mean) * invStd);
        }
    }
    for (; i < n; i++) {
        double d = (double)dy_of(x[i], g[i], mean, scale, shift, slope);
        a[0] += d;
        b[0] += d * (double)((x[i] - mean) * invStd);
    }
    *sumDy = (a[0] + a[1]) + (a[2] + a[3]);
    *sumDyXhat = (b[0] + b[1]) + (b[2] + b[3]);
}

/* dst may be g: each element is read before its own slot is written. */
static void backward_apply_generic(const float *x, const float *g, float *dst, long n, float mean, float scale, float shift,
                                   float slope, float invStd, float k, float a, float b, float *planeSum) {
    for (long i = 0; i < n; i++) {
        float xhat = (x[i] - mean) * invStd;
        dst[i] = k * (dy_of(x[i], g[i], mean, scale, shift, slope) - a - xhat * b);
    }
    if (planeSum) *planeSum = plane_sum_generic(dst, n);
}

// MARK: AVX2 versions: the same operations, 4 doubles or 8 floats at a time.

#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2")))

AVX2 static float plane_sum_avx2(const float *p, long n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
    }
    float s[32];
    _mm256_storeu_ps(s, s0);
    _mm256_storeu_ps(s + 8, s1);
    _mm256_storeu_ps(s + 16, s2);
    _mm256_storeu_ps(s + 24, s3);
    return plane_sum_finish(s, p + i, n - i);
}

/* One plane's running sums of the moments: four values (elements i..i+3) into its two vectors. */
AVX2 __attribute__((always_inline)) static inline void moments_step(const float *x, __m256d vs, __m256d *a, __m256d *b) {
    __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x)), vs);
    *a = _mm256_add_pd(*a, d);
    *b = _mm256_add_pd(*b, _mm256_mul_pd(d, d));
}

/* The plane's values from `i` on, then its moments from the sums. */
AVX2 static void moments_finish(const float *x, long i, long n, __m256d a, __m256d b, double *mean, double *variance) {
    const double shift = (double)x[0];
    double sa[4], sb[4];
    _mm256_storeu_pd(sa, a);
    _mm256_storeu_pd(sb, b);
    for (; i < n; i++) { double d = (double)x[i] - shift; sa[0] += d; sb[0] += d * d; }
    moments_from_sums(shift, (sa[0] + sa[1]) + (sa[2] + sa[3]), (sb[0] + sb[1]) + (sb[2] + sb[3]), n, mean, variance);
}

/* One plane alone. */
AVX2 static void moments_plane_avx2(const float *x, long n, double *mean, double *variance) {
    const __m256d v = _mm256_set1_pd((double)x[0]);
    __m256d a = _mm256_setzero_pd(), b = a;
    long i = 0;
    for (; i + 4 <= n; i += 4) moments_step(x + i, v, &a, &b);
    moments_finish(x, i, n, a, b, mean, variance);
}

/* Two planes at a time, each with its own sums in its own order (so the bits are those of one
   plane at a time): their four chains of additions overlap, and the two streams keep more
   reads in flight, where one plane's pass waits on memory (BENCHMARKS.md, nineteenth part). */
AVX2 static void moments_avx2(const float *x, long n, long planes, double *mean, double *variance) {
    const __m256d zero = _mm256_setzero_pd();
    long p = 0;
    for (; p + 2 <= planes; p += 2) {
        const float *x0 = x + p * n, *x1 = x0 + n;
        const __m256d v0 = _mm256_set1_pd((double)x0[0]), v1 = _mm256_set1_pd((double)x1[0]);
        __m256d a0 = zero, b0 = zero, a1 = zero, b1 = zero;
        long i = 0;
        for (; i + 4 <= n; i += 4) {
            moments_step(x0 + i, v0, &a0, &b0);
            moments_step(x1 + i, v1, &a1, &b1);
        }
        moments_finish(x0, i, n, a0, b0, mean + p, variance + p);
        moments_finish(x1, i, n, a1, b1, mean + p + 1, variance + p + 1);
    }
    if (p < planes) moments_plane_avx2(x + p * n, n, mean + p, variance + p);
}

AVX2 static void apply_avx2(const float *x, float *y, long rows, long width, long rowStride, float mean, float scale,
                            float shift, int hasSlope, float slope) {
    const __m256 vm = _mm256_set1_ps(mean), vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift);
    const __m256 vk = _mm256_set1_ps(slope), zero = _mm256_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * width;
        float *yr = y + r * rowStride;
        long i = 0;
        for (; i + 8 <= width; i += 8) {
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm), vs), vb);
            if (hasSlope) v = _mm256_blendv_ps(_mm256_mul_ps(v, vk), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
            _mm256_storeu_ps(yr + i, v);
        }
        for (; i < width; i++) {
            float v = (xr[i] - mean) * scale + shift;
            yr[i] = hasSlope ? (v > 0 ? v : v * slope) : v;
        }
    }
}

/* dy for 8 elements: pre > 0 ? g : g * slope. */
AVX2 static inline __m256 dy8(__m256 x, __m256 g, __m256 vm, __m256 vs, __m256 vb, __m256 vk) {
    __m256 pre = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(x, vm), vs), vb);
    return _mm256_blendv_ps(_mm256_mul_ps(g, vk), g, _mm256_cmp_ps(pre, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* The constants of one plane's backward passes, as vectors. */
typedef struct { __m256 mean, scale, shift, slope, invStd; } bn_plane_avx2;

AVX2 static bn_plane_avx2 bn_plane(float mean, float scale, float shift, float slope, float invStd) {
    bn_plane_avx2 q = {_mm256_set1_ps(mean), _mm256_set1_ps(scale), _mm256_set1_ps(shift), _mm256_set1_ps(slope),
                       _mm256_set1_ps(invStd)};
    return q;
}

/* One plane's two backward sums, each a vector of four partial sums: 8 floats (elements
   i..i+7) give two groups of four, added one after the other, i..i+3 then i+4..i+7, as the
   reference adds them. */
AVX2 __attribute__((always_inline)) static inline void backward_sums_step(const float *x, const float *g, bn_plane_avx2 q,
                                                                         __m256d *a, __m256d *b) {
    __m256 xv = _mm256_loadu_ps(x);
    __m256 d = dy8(xv, _mm256_loadu_ps(g), q.mean, q.scale, q.shift, q.slope);
    __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xv, q.mean), q.invStd);
    __m256d dlo = _mm256_cvtps_pd(_mm256_castps256_ps128(d)), dhi = _mm256_cvtps_pd(_mm256_extractf128_ps(d, 1));
    *a = _mm256_add_pd(*a, dlo);
    *a = _mm256_add_pd(*a, dhi);
    *b = _mm256_add_pd(*b, _mm256_mul_pd(dlo, _mm256_cvtps_pd(_mm256_castps256_ps128(xhat))));
    *b = _mm256_add_pd(*b, _mm256_mul_pd(dhi, _mm256_cvtps_pd(_mm256_extractf128_ps(xhat, 1))));
}

/* The plane's values from `i` on (groups of four, then one at a time into sum 0), then both sums. */
AVX2 static void backward_sums_finish(const float *x, const float *g, long i, long n, float mean, float scale, float shift,
                                      float slope, float invStd, __m256d a, __m256d b, double *sumDy, double *sumDyXhat) {
    double sa[4], sb[4];
    _mm256_storeu_pd(sa, a);
    _mm256_storeu_pd(sb, b);
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; l++) {
            long j = i + l;
            double d = (double)dy_of(x[j], g[j], mean, scale, shift, slope);
            sa[l] += d;
            sb[l] += d * (double)((x[j] - mean) * invStd);
        }
    }
    for (; i < n; i++) {
        double d = (double)dy_of(x[i], g[i], mean, scale, shift, slope);
        sa[0] += d;
        sb[0] += d * (double)((x[i] - mean) * invStd);
    }
    *sumDy = (sa[0] + sa[1]) + (sa[2] + sa[3]);
    *sumDyXhat = (sb[0] + sb[1]) + (sb[2] + sb[3]);
}

/* One plane alone. */
AVX2 static void backward_sums_plane_avx2(const float *x, const float *g, long n, float mean, float scale, float shift,
                                          float slope, float invStd, double *sumDy, double *sumDyXhat) {
    const bn_plane_avx2 q = bn_plane(mean, scale, shift, slope, invStd);
    __m256d a = _mm256_setzero_pd(), b = a;
    long i = 0;
    for (; i + 8 <= n; i += 8) backward_sums_step(x + i, g + i, q, &a, &b);
    backward_sums_finish(x, g, i, n, mean, scale, shift, slope, invStd, a, b, sumDy, sumDyXhat);
}

/* Two planes at a time, each in its own order, as moments_avx2. */
AVX2 static void backward_sums_avx2(const float *x, const float *g, long n, long planes, const float *mean,
                                    const float *scale, const float *shift, float slope, const float *invStd,
                                    double *sumDy, double *sumDyXhat) {
    const __m256d zero = _mm256_setzero_pd();
    long p = 0;
    for (; p + 2 <= planes; p += 2) {
        const float *x0 = x + p * n, *g0 = g + p * n, *x1 = x0 + n, *g1 = g0 + n;
        const bn_plane_avx2 q0 = bn_plane(mean[p], scale[p], shift[p], slope, invStd[p]);
        const bn_plane_avx2 q1 = bn_plane(mean[p + 1], scale[p + 1], shift[p + 1], slope, invStd[p + 1]);
        __m256d a0 = zero, b0 = zero, a1 = zero, b1 = zero;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            backward_sums_step(x0 + i, g0 + i, q0, &a0, &b0);
            backward_sums_step(x1 + i, g1 + i, q1, &a1, &b1);
        }
        backward_sums_finish(x0, g0, i, n, mean[p], scale[p], shift[p], slope, invStd[p], a0, b0, sumDy + p, sumDyXhat + p);
        backward_sums_finish(x1, g1, i, n, mean[p + 1], scale[p + 1], shift[p + 1], slope, invStd[p + 1], a1, b1,
                             sumDy + p + 1, sumDyXhat + p + 1);
    }
    if (p < planes)
        backward_sums_plane_avx2(x + p * n, g + p * n, n, mean[p], scale[p], shift[p], slope, invStd[p], sumDy + p,
                                 sumDyXhat + p);
}

AVX2 static void backward_apply_avx2(const float *x, const float *g, float *dst, long n, float mean, float scale,
                                     float shift, float slope, float invStd, float k, float a, float b, float *planeSum) {
    const __m256 vm = _mm256_set1_ps(mean), vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift);
    const __m256 vk = _mm256_set1_ps(slope), vi = _mm256_set1_ps(invStd);
    const __m256 vK = _mm256_set1_ps(k), va = _mm256_set1_ps(a), vB = _mm256_set1_ps(b);
#define DIP_DX(j)                                                                                                      \
    ({                                                                                                                 \
        __m256 xv = _mm256_loadu_ps(x + (j));                                                                          \
        __m256 d = dy8(xv, _mm256_loadu_ps(g + (j)), vm, vs, vb, vk);                                                  \
        __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xv, vm), vi);                                                        \
        _mm256_mul_ps(vK, _mm256_sub_ps(_mm256_sub_ps(d, va), _mm256_mul_ps(xhat, vB)));                               \
    })
    long i = 0;
    // With `planeSum`, the whole blocks of 32 are summed as they are written (plane_sum_avx2's
    // order), so the plane is not read again for the convolution's bias gradient.
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    if (planeSum) {
        for (; i + 32 <= n; i += 32) {
            __m256 r0 = DIP_DX(i), r1 = DIP_DX(i + 8), r2 = DIP_DX(i + 16), r3 = DIP_DX(i + 24);
            _mm256_storeu_ps(dst + i, r0);
            _mm256_storeu_ps(dst + i + 8, r1);
            _mm256_storeu_ps(dst + i + 16, r2);
            _mm256_storeu_ps(dst + i + 24, r3);
            s0 = _mm256_add_ps(s0, r0);
            s1 = _mm256_add_ps(s1, r1);
            s2 = _mm256_add_ps(s2, r2);
            s3 = _mm256_add_ps(s3, r3);
        }
    }
    const long whole = i;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, DIP_DX(i));
#undef DIP_DX
    for (; i < n; i++) {
        float xhat = (x[i] - mean) * invStd;
        dst[i] = k * (dy_of(x[i], g[i], mean, scale, shift, slope) - a - xhat * b);
    }
    if (planeSum) {
        float s[32];
        _mm256_storeu_ps(s, s0);
        _mm256_storeu_ps(s + 8, s1);
        _mm256_storeu_ps(s + 16, s2);
        _mm256_storeu_ps(s + 24, s3);
        *planeSum = plane_sum_finish(s, dst + whole, n - whole);
    }
}
#undef AVX2
#endif

// MARK: Entry points (dispatch.c chooses the version).

void dip_cpu_bn_moments(const float *x, long n, long planes, double *mean, double *variance) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) { moments_avx2(x, n, planes, mean, variance); return; }
#endif
    for (long p = 0; p < planes; p++) moments_generic(x + p * n, n, mean + p, variance + p);
}

void dip_cpu_bn_apply(const float *x, float *y, long rows, long width, long rowStride, float mean, float scale,
                  float shift, int hasSlope, float slope) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) { apply_avx2(x, y, rows, width, rowStride, mean, scale, shift, hasSlope, slope); return; }
#endif
    apply_generic(x, y, rows, width, rowStride, mean, scale, shift, hasSlope, slope);
}

void dip_cpu_bn_backward_sums(const float *x, const float *g, long n, long planes, const float *mean, const float *scale,
                              const float *shift, float slope, const float *invStd, double *sumDy, double *sumDyXhat) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) {
        backward_sums_avx2(x, g, n, planes, mean, scale, shift, slope, invStd, sumDy, sumDyXhat);
        return;
    }
#endif
    for (long p = 0; p < planes; p++)
        backward_sums_generic(x + p * n, g + p * n, n, mean[p], scale[p], shift[p], slope, invStd[p], sumDy + p,
                              sumDyXhat + p);
}

static void backward_apply(const float *x, const float *g, float *dst, long n, float mean, float scale, float shift,
                           float slope, float invStd, float k, float a, float b, float *planeSum) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) {
        backward_apply_avx2(x, g, dst, n, mean, scale, shift, slope, invStd, k, a, b, planeSum);
        return;
    }
#endif
    backward_apply_generic(x, g, dst, n, mean, scale, shift, slope, invStd, k, a, b, planeSum);
}

void dip_cpu_bn_backward_apply(const float *x, float *g, long n, float mean, float scale, float shift, float slope,
                           float invStd, float k, float a, float b, float *planeSum) {
    backward_apply(x, g, g, n, mean, scale, shift, slope, invStd, k, a, b, planeSum);
}

void dip_cpu_bn_backward_apply_into(const float *x, const float *g, float *dx, long n, float mean, float scale,
                                    float shift, float slope, float invStd, float k, float a, float b) {
    backward_apply(x, g, dx, n, mean, scale, shift, slope, invStd, k, a, b, NULL);
}

float dip_cpu_plane_sum(const float *p, long n) {
#if defined(__x86_64__)
    if (dip_layer_kernels_isa() >= 1) return plane_sum_avx2(p, n);
#endif
    return plane_sum_generic(p, n);
}
