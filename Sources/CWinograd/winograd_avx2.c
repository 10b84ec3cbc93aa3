#include "winograd_avx2.h"

#if defined(__x86_64__)
#include "avx2_lanes.h"

// Bit-for-bit the Swift transforms (WinogradF43 in WinogradTransforms.swift): every line below
// is the Swift line beside it, operation for operation, evaluated left to right as Swift does.

int dip_winograd_avx2_available(void) { return 1; }

// MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

/// Bᵀ (6 -> 6).
DIP_INLINE void bt(const lanes *p, int ps, lanes *q, int qs) {
    const lanes d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps], d4 = p[4 * ps], d5 = p[5 * ps];
    const lanes d4m2 = sub(d4, d2), d3m1 = sub(d3, d1);
    q[0] = add(sub(mul(4, d0), mul(5, d2)), d4);          // 4 * d0 - 5 * d2 + d4
    q[qs] = sub(add(d3, d4), mul(4, add(d1, d2)));        // (d3 + d4) - 4 * (d1 + d2)
    q[2 * qs] = add(sub(d4, d3), mul(4, sub(d1, d2)));    // (d4 - d3) + 4 * (d1 - d2)
    q[3 * qs] = add(d4m2, mul(2, d3m1));                  // d4m2 + 2 * d3m1
    q[4 * qs] = sub(d4m2, mul(2, d3m1));                  // d4m2 - 2 * d3m1
    q[5 * qs] = add(sub(mul(4, d1), mul(5, d3)), d5);     // 4 * d1 - 5 * d3 + d5
}

/// Aᵀ (6 -> 4).
DIP_INLINE void at(const lanes *p, int ps, lanes *q, int qs) {
    const lanes m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps], m4 = p[4 * ps], m5 = p[5 * ps];
    const lanes s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4);
    q[0] = add(add(m0, s12), s34);                        // m0 + s12 + s34
    q[qs] = add(d12, mul(2, d34));                        // d12 + 2 * d34
    q[2 * qs] = add(s12, mul(4, s34));                    // s12 + 4 * s34
    q[3 * qs] = add(add(d12, mul(8, d34)), m5);           // d12 + 8 * d34 + m5
}

/// A (4 -> 6).
DIP_INLINE void a(const lanes *p, int ps, lanes *q, int qs) {
    const lanes y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps];
    const lanes e = add(y0, y2), o = add(y1, y3);
    const lanes e4 = add(y0, mul(4, y2)), o4 = add(mul(2, y1), mul(8, y3));
    q[0] = y0;
    q[qs] = add(e, o);
    q[2 * qs] = sub(e, o);
    q[3 * qs] = add(e4, o4);
    q[4 * qs] = sub(e4, o4);
    q[5 * qs] = y3;
}

/// G (3 -> 6). The constants are Swift's Float(1.0 / 24) etc.: the double rounded to float.
DIP_INLINE void g(const lanes *p, int ps, lanes *q, int qs) {
    const lanes g0 = p[0], g1 = p[ps], g2 = p[2 * ps];
    const lanes s02 = add(g0, g2);
    const lanes outer = add(mul((float)(1.0 / 24), g0), mul((float)(1.0 / 6), g2));
    const lanes twelfth = mul((float)(1.0 / 12), g1);
    q[0] = mul((float)(1.0 / 4), g0);
    q[qs] = mul((float)(-1.0 / 6), add(s02, g1));
    q[2 * qs] = mul((float)(-1.0 / 6), sub(s02, g1));
    q[3 * qs] = add(outer, twelfth);
    q[4 * qs] = sub(outer, twelfth);
    q[5 * qs] = g2;
}

/// Gᵀ (6 -> 3).
DIP_INLINE void gt(const lanes *p, int ps, lanes *q, int qs) {
    const lanes u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps], u4 = p[4 * ps], u5 = p[5 * ps];
    const lanes s12 = add(u1, u2), d12 = sub(u2, u1), s34 = add(u3, u4), d34 = sub(u3, u4);
    const lanes first = sub(mul((float)(1.0 / 4), u0), mul((float)(1.0 / 6), s12));
    q[0] = add(first, mul((float)(1.0 / 24), s34));
    q[qs] = add(mul((float)(1.0 / 6), d12), mul((float)(1.0 / 12), d34));
    q[2 * qs] = add(mul((float)(1.0 / 6), sub(s34, s12)), u5);
}

// MARK: The sweeps' eight-tile steps (avx2_lanes.h).

DIP_WINOGRAD_STEPS(, DIP_AVX2, 4, 3, bt, at, a, g, gt)

// MARK: Phase split and merge: data movement only, 32 floats (8 tiles x 4 phases) at a time.

/// w[i] = p[8 i ..< 8 i + 8] -> out[m][k] = p[4 k + m]: phase m of the eight tiles.
DIP_INLINE void split_transpose(const lanes w[4], lanes out[4]) {
    // Halves: tiles 0-3 in the low 128 bits, tiles 4-7 in the high ones, four floats a tile.
    const lanes x0 = _mm256_permute2f128_ps(w[0], w[2], 0x20), x1 = _mm256_permute2f128_ps(w[0], w[2], 0x31);
    const lanes x2 = _mm256_permute2f128_ps(w[1], w[3], 0x20), x3 = _mm256_permute2f128_ps(w[1], w[3], 0x31);
    // A 4x4 transpose in each half: rows are tiles, columns phases.
    const lanes x[4] = {x0, x1, x2, x3};
    transpose4x4_halves(x, out);
}

/// The inverse: u[m] = phase m of the eight tiles -> out[i] = p[8 i ..< 8 i + 8], p[4 k + m] = u[m][k].
DIP_INLINE void merge_transpose(const lanes u[4], lanes out[4]) {
    lanes x[4];
    transpose4x4_halves(u, x);
    // Each half now holds four tiles' four phases: tiles 0, 1 | 4, 5 and 2, 3 | 6, 7.
    out[0] = _mm256_permute2f128_ps(x[0], x[1], 0x20);
    out[1] = _mm256_permute2f128_ps(x[2], x[3], 0x20);
    out[2] = _mm256_permute2f128_ps(x[0], x[1], 0x31);
    out[3] = _mm256_permute2f128_ps(x[2], x[3], 0x31);
}

DIP_WINOGRAD_PHASE_ROWS(, 4, split_transpose, merge_transpose)

#else

int dip_winograd_avx2_available(void) { return 0; }
void dip_winograd_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride) {}
void dip_winograd_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride) {}
void dip_winograd_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride) {}
void dip_winograd_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                  float *u, ptrdiff_t u_stride) {}
void dip_winograd_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg) {}
void dip_winograd_split_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride) {}
void dip_winograd_merge_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width) {}

#endif
