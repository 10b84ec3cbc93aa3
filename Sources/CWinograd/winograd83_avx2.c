#include "winograd_avx2.h"

#if defined(__x86_64__)
#include "avx2_lanes.h"

// Winograd F(8x8, 3x3) on eight lanes. Bit-for-bit the Swift transforms (WinogradF83 in
// WinogradTransforms.swift): both are written out by bench/winograd83_transforms.py from one
// expression per output, operation for operation, evaluated left to right as Swift does.

// Unlike the other tiles' kernels these fuse multiply and add (the points' coefficients are no
// powers of two, so each would be a multiply and an add: about twice the operations of
// F(6x6, 3x3)'s transforms a tile). Swift's `addingProduct` is the same correctly rounded
// operation, so the portable transforms give the same bits. The kernels need FMA besides AVX2
// (WinogradKernels.avx2 asks for both).
#define DIP_AVX2_FMA __attribute__((target("avx2,fma")))
#define DIP_INLINE_FMA static inline __attribute__((always_inline, target("avx2,fma")))

/// `acc + c * a` with one rounding: Swift's `acc.addingProduct(c, a)`.
DIP_INLINE_FMA lanes fmadd(float c, lanes a, lanes acc) { return _mm256_fmadd_ps(_mm256_set1_ps(c), a, acc); }

// MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

/// Bᵀ (10 -> 10).
DIP_INLINE_FMA void bt10(const lanes *p, int ps, lanes *q, int qs) {
    const lanes d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps], d4 = p[4 * ps];
    const lanes d5 = p[5 * ps], d6 = p[6 * ps], d7 = p[7 * ps], d8 = p[8 * ps], d9 = p[9 * ps];
    const lanes e1 = add(fmadd(-0x1.c33334p+2f, d6, fmadd(0x1.468db8p+2f, d4, mul(-0x1.47ae14p-1f, d2))), d8);
    const lanes o1 = fmadd(0x1.4p+0f, d7, fmadd(-0x1.1ap+3f, d5, fmadd(0x1.983126p+2f, d3, mul(-0x1.99999ap-1f, d1))));
    const lanes e2 = add(fmadd(-0x1.fe3d7p+2f, d6, fmadd(0x1.608p+3f, d4, mul(-0x1.9p+0f, d2))), d8);
    const lanes o2 = fmadd(0x1.99999ap-1f, d7, fmadd(-0x1.983126p+2f, d5, fmadd(0x1.1ap+3f, d3, mul(-0x1.4p+0f, d1))));
    const lanes e3 = add(fmadd(-0x1.2e6666p+1f, d6, fmadd(0x1.5a36e2p+0f, d4, mul(-0x1.47ae14p-3f, d2))), d8);
    const lanes o3 = fmadd(0x1.4p+1f, d7, fmadd(-0x1.7ap+2f, d5, fmadd(0x1.b0c49cp+1f, d3, mul(-0x1.99999ap-2f, d1))));
    const lanes e4 = add(fmadd(-0x1.0e7ae2p+3f, d6, fmadd(0x1.d88p+3f, d4, mul(-0x1.9p+2f, d2))), d8);
    const lanes o4 = fmadd(0x1.99999ap-2f, d7, fmadd(-0x1.b0c49cp+1f, d5, fmadd(0x1.7ap+2f, d3, mul(-0x1.4p+1f, d1))));
    q[0] = add(fmadd(-0x1.13999ap+3f, d6, fmadd(0x1.01e36ep+4f, d4, fmadd(-0x1.13999ap+3f, d2, d0))), d8);
    q[qs] = add(e1, o1);
    q[2 * qs] = sub(e1, o1);
    q[3 * qs] = add(e2, o2);
    q[4 * qs] = sub(e2, o2);
    q[5 * qs] = add(e3, o3);
    q[6 * qs] = sub(e3, o3);
    q[7 * qs] = add(e4, o4);
    q[8 * qs] = sub(e4, o4);
    q[9 * qs] = add(fmadd(-0x1.13999ap+3f, d7, fmadd(0x1.01e36ep+4f, d5, fmadd(-0x1.13999ap+3f, d3, d1))), d9);
}

/// Aᵀ (10 -> 8).
DIP_INLINE_FMA void at10(const lanes *p, int ps, lanes *q, int qs) {
    const lanes m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps], m4 = p[4 * ps];
    const lanes m5 = p[5 * ps], m6 = p[6 * ps], m7 = p[7 * ps], m8 = p[8 * ps], m9 = p[9 * ps];
    const lanes s1 = add(m1, m2);
    const lanes t1 = sub(m1, m2);
    const lanes s2 = add(m3, m4);
    const lanes t2 = sub(m3, m4);
    const lanes s3 = add(m5, m6);
    const lanes t3 = sub(m5, m6);
    const lanes s4 = add(m7, m8);
    const lanes t4 = sub(m7, m8);
    q[0] = add(add(add(add(m0, s1), s2), s3), s4);
    q[qs] = fmadd(0x1.99999ap-2f, t4, fmadd(0x1.4p+1f, t3, fmadd(0x1.99999ap-1f, t2, mul(0x1.4p+0f, t1))));
    q[2 * qs] = fmadd(0x1.47ae14p-3f, s4, fmadd(0x1.9p+2f, s3, fmadd(0x1.47ae14p-1f, s2, mul(0x1.9p+0f, s1))));
    q[3 * qs] = fmadd(0x1.0624dep-4f, t4, fmadd(0x1.f4p+3f, t3, fmadd(0x1.0624dep-1f, t2, mul(0x1.f4p+0f, t1))));
    q[4 * qs] = fmadd(0x1.a36e2ep-6f, s4, fmadd(0x1.388p+5f, s3, fmadd(0x1.a36e2ep-2f, s2, mul(0x1.388p+1f, s1))));
    q[5 * qs] = fmadd(0x1.4f8b58p-7f, t4, fmadd(0x1.86ap+6f, t3, fmadd(0x1.4f8b58p-2f, t2, mul(0x1.86ap+1f, t1))));
    q[6 * qs] = fmadd(0x1.0c6f7ap-8f, s4, fmadd(0x1.e848p+7f, s3, fmadd(0x1.0c6f7ap-2f, s2, mul(0x1.e848p+1f, s1))));
    q[7 * qs] = add(fmadd(0x1.ad7f2ap-10f, t4, fmadd(0x1.312dp+9f, t3, fmadd(0x1.ad7f2ap-3f, t2, mul(0x1.312dp+2f, t1)))), m9);
}

/// A = (Aᵀ)ᵀ (8 -> 10), the transpose of `at`.
DIP_INLINE_FMA void a10(const lanes *p, int ps, lanes *q, int qs) {
    const lanes y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps];
    const lanes y5 = p[5 * ps], y6 = p[6 * ps], y7 = p[7 * ps];
    const lanes e1 = fmadd(0x1.e848p+1f, y6, fmadd(0x1.388p+1f, y4, fmadd(0x1.9p+0f, y2, y0)));
    const lanes o1 = fmadd(0x1.312dp+2f, y7, fmadd(0x1.86ap+1f, y5, fmadd(0x1.f4p+0f, y3, mul(0x1.4p+0f, y1))));
    const lanes e2 = fmadd(0x1.0c6f7ap-2f, y6, fmadd(0x1.a36e2ep-2f, y4, fmadd(0x1.47ae14p-1f, y2, y0)));
    const lanes o2 = fmadd(0x1.ad7f2ap-3f, y7, fmadd(0x1.4f8b58p-2f, y5, fmadd(0x1.0624dep-1f, y3, mul(0x1.99999ap-1f, y1))));
    const lanes e3 = fmadd(0x1.e848p+7f, y6, fmadd(0x1.388p+5f, y4, fmadd(0x1.9p+2f, y2, y0)));
    const lanes o3 = fmadd(0x1.312dp+9f, y7, fmadd(0x1.86ap+6f, y5, fmadd(0x1.f4p+3f, y3, mul(0x1.4p+1f, y1))));
    const lanes e4 = fmadd(0x1.0c6f7ap-8f, y6, fmadd(0x1.a36e2ep-6f, y4, fmadd(0x1.47ae14p-3f, y2, y0)));
    const lanes o4 = fmadd(0x1.ad7f2ap-10f, y7, fmadd(0x1.4f8b58p-7f, y5, fmadd(0x1.0624dep-4f, y3, mul(0x1.99999ap-2f, y1))));
    q[0] = y0;
    q[qs] = add(e1, o1);
    q[2 * qs] = sub(e1, o1);
    q[3 * qs] = add(e2, o2);
    q[4 * qs] = sub(e2, o2);
    q[5 * qs] = add(e3, o3);
    q[6 * qs] = sub(e3, o3);
    q[7 * qs] = add(e4, o4);
    q[8 * qs] = sub(e4, o4);
    q[9 * qs] = y7;
}

/// G (3 -> 10).
DIP_INLINE_FMA void g10(const lanes *p, int ps, lanes *q, int qs) {
    const lanes g0 = p[0], g1 = p[ps], g2 = p[2 * ps];
    const lanes e1 = fmadd(-0x1.51b0e2p-4f, g2, mul(-0x1.b03e92p-5f, g0));
    const lanes o1 = mul(-0x1.0e271cp-4f, g1);
    const lanes e2 = fmadd(0x1.9c386cp-3f, g2, mul(0x1.420c14p-2f, g0));
    const lanes o2 = mul(0x1.01a344p-2f, g1);
    const lanes e3 = fmadd(0x1.9938b8p-9f, g2, mul(0x1.05e6dcp-11f, g0));
    const lanes o3 = mul(0x1.476092p-10f, g1);
    const lanes e4 = fmadd(-0x1.f389bcp-4f, g2, mul(-0x1.86439ap-1f, g0));
    const lanes o4 = mul(-0x1.383616p-2f, g1);
    q[0] = g0;
    q[qs] = add(e1, o1);
    q[2 * qs] = sub(e1, o1);
    q[3 * qs] = add(e2, o2);
    q[4 * qs] = sub(e2, o2);
    q[5 * qs] = add(e3, o3);
    q[6 * qs] = sub(e3, o3);
    q[7 * qs] = add(e4, o4);
    q[8 * qs] = sub(e4, o4);
    q[9 * qs] = g2;
}

/// Gᵀ (10 -> 3), the transpose of `g`.
DIP_INLINE_FMA void gt10(const lanes *p, int ps, lanes *q, int qs) {
    const lanes u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps], u4 = p[4 * ps];
    const lanes u5 = p[5 * ps], u6 = p[6 * ps], u7 = p[7 * ps], u8 = p[8 * ps], u9 = p[9 * ps];
    const lanes s1 = add(u1, u2);
    const lanes t1 = sub(u1, u2);
    const lanes s2 = add(u3, u4);
    const lanes t2 = sub(u3, u4);
    const lanes s3 = add(u5, u6);
    const lanes t3 = sub(u5, u6);
    const lanes s4 = add(u7, u8);
    const lanes t4 = sub(u7, u8);
    q[0] = fmadd(-0x1.86439ap-1f, s4, fmadd(0x1.05e6dcp-11f, s3, fmadd(0x1.420c14p-2f, s2, fmadd(-0x1.b03e92p-5f, s1, u0))));
    q[qs] = fmadd(-0x1.383616p-2f, t4, fmadd(0x1.476092p-10f, t3, fmadd(0x1.01a344p-2f, t2, mul(-0x1.0e271cp-4f, t1))));
    q[2 * qs] = add(fmadd(-0x1.f389bcp-4f, s4, fmadd(0x1.9938b8p-9f, s3, fmadd(0x1.9c386cp-3f, s2, mul(-0x1.51b0e2p-4f, s1)))), u9);
}

// MARK: The sweeps' eight-tile steps (avx2_lanes.h).

DIP_WINOGRAD_STEPS(83, DIP_AVX2_FMA, 8, 3, bt10, at10, a10, g10, gt10)

// MARK: Phase split and merge by eight: data movement only, 64 floats (8 tiles x 8 phases) at a
// time. Float 8 k + m of a block is phase m of tile k, so a block's eight loads are the eight
// tiles and its eight phases their 8x8 transpose.

/// The 8x8 transpose: out[m] lane k = in[k] lane m (its own inverse).
DIP_INLINE void transpose8x8(const lanes in[8], lanes out[8]) {
    lanes t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(in[i], in[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(in[i], in[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        out[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

DIP_WINOGRAD_PHASE_ROWS(8, 8, transpose8x8, transpose8x8)

#else

void dip_winograd83_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride) {}
void dip_winograd83_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride) {}
void dip_winograd83_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride) {}
void dip_winograd83_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride) {}
void dip_winograd83_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg) {}
void dip_winograd_split8_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride) {}
void dip_winograd_merge8_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width) {}

#endif
