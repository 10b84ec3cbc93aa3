#include "winograd_avx2.h"

#if defined(__x86_64__)
#include "avx2_lanes.h"

// Winograd F(6x6, 3x3) on eight lanes. Bit-for-bit the Swift transforms (WinogradF63 in
// WinogradTransforms.swift): every line below is the Swift line beside it, operation for
// operation, evaluated left to right as Swift does.

// MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

/// Bᵀ (8 -> 8).
DIP_INLINE void bt8(const lanes *p, int ps, lanes *q, int qs) {
    const lanes d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps];
    const lanes d4 = p[4 * ps], d5 = p[5 * ps], d6 = p[6 * ps], d7 = p[7 * ps];
    const lanes t1 = sub(add(d2, d6), mul(4.25f, d4));              // (d2 + d6) - 4.25 * d4
    const lanes t2 = sub(add(d1, d5), mul(4.25f, d3));              // (d1 + d5) - 4.25 * d3
    const lanes t3 = sub(add(d6, mul(0.25f, d2)), mul(1.25f, d4));  // (d6 + 0.25 * d2) - 1.25 * d4
    const lanes t4 = add(sub(mul(0.5f, d1), mul(2.5f, d3)), mul(2, d5));  // (0.5 * d1 - 2.5 * d3) + 2 * d5
    const lanes t5 = sub(add(d6, mul(4, d2)), mul(5, d4));          // (d6 + 4 * d2) - 5 * d4
    const lanes t6 = add(sub(mul(2, d1), mul(2.5f, d3)), mul(0.5f, d5));  // (2 * d1 - 2.5 * d3) + 0.5 * d5
    q[0] = add(sub(d0, d6), mul(5.25f, sub(d4, d2)));               // (d0 - d6) + 5.25 * (d4 - d2)
    q[qs] = add(t1, t2);
    q[2 * qs] = sub(t1, t2);
    q[3 * qs] = add(t3, t4);
    q[4 * qs] = sub(t3, t4);
    q[5 * qs] = add(t5, t6);
    q[6 * qs] = sub(t5, t6);
    q[7 * qs] = add(sub(d7, d1), mul(5.25f, sub(d3, d5)));          // (d7 - d1) + 5.25 * (d3 - d5)
}

/// Aᵀ (8 -> 6).
DIP_INLINE void at8(const lanes *p, int ps, lanes *q, int qs) {
    const lanes m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps];
    const lanes m4 = p[4 * ps], m5 = p[5 * ps], m6 = p[6 * ps], m7 = p[7 * ps];
    const lanes s1 = add(m1, m2), d1 = sub(m1, m2), s2 = add(m3, m4), d2 = sub(m3, m4), s3 = add(m5, m6), d3 = sub(m5, m6);
    q[0] = add(add(add(m0, s1), s2), s3);                           // m0 + s1 + s2 + s3
    q[qs] = add(add(d1, mul(2, d2)), mul(0.5f, d3));                // d1 + 2 * d2 + 0.5 * d3
    q[2 * qs] = add(add(s1, mul(4, s2)), mul(0.25f, s3));           // s1 + 4 * s2 + 0.25 * s3
    q[3 * qs] = add(add(d1, mul(8, d2)), mul(0.125f, d3));          // d1 + 8 * d2 + 0.125 * d3
    q[4 * qs] = add(add(s1, mul(16, s2)), mul(0.0625f, s3));        // s1 + 16 * s2 + 0.0625 * s3
    q[5 * qs] = add(add(add(d1, mul(32, d2)), mul(0.03125f, d3)), m7);  // d1 + 32 * d2 + 0.03125 * d3 + m7
}

/// A (6 -> 8).
DIP_INLINE void a8(const lanes *p, int ps, lanes *q, int qs) {
    const lanes y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps], y5 = p[5 * ps];
    const lanes e1 = add(add(y0, y2), y4), o1 = add(add(y1, y3), y5);
    const lanes e2 = add(add(y0, mul(4, y2)), mul(16, y4)), o2 = add(add(mul(2, y1), mul(8, y3)), mul(32, y5));
    const lanes e3 = add(add(y0, mul(0.25f, y2)), mul(0.0625f, y4));
    const lanes o3 = add(add(mul(0.5f, y1), mul(0.125f, y3)), mul(0.03125f, y5));
    q[0] = y0;
    q[qs] = add(e1, o1);
    q[2 * qs] = sub(e1, o1);
    q[3 * qs] = add(e2, o2);
    q[4 * qs] = sub(e2, o2);
    q[5 * qs] = add(e3, o3);
    q[6 * qs] = sub(e3, o3);
    q[7 * qs] = y5;
}

/// G (3 -> 8).
DIP_INLINE void g8(const lanes *p, int ps, lanes *q, int qs) {
    const lanes g0 = p[0], g1 = p[ps], g2 = p[2 * ps];
    const lanes s02 = add(g0, g2);
    const lanes small = add(mul((float)(1.0 / 90), g0), mul((float)(2.0 / 45), g2));
    const lanes small1 = mul((float)(1.0 / 45), g1);
    const lanes large = add(mul((float)(32.0 / 45), g0), mul((float)(8.0 / 45), g2));
    const lanes large1 = mul((float)(16.0 / 45), g1);
    q[0] = g0;
    q[qs] = mul((float)(-2.0 / 9), add(s02, g1));
    q[2 * qs] = mul((float)(-2.0 / 9), sub(s02, g1));
    q[3 * qs] = add(small, small1);
    q[4 * qs] = sub(small, small1);
    q[5 * qs] = add(large, large1);
    q[6 * qs] = sub(large, large1);
    q[7 * qs] = g2;
}

/// Gᵀ (8 -> 3).
DIP_INLINE void gt8(const lanes *p, int ps, lanes *q, int qs) {
    const lanes u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps];
    const lanes u4 = p[4 * ps], u5 = p[5 * ps], u6 = p[6 * ps], u7 = p[7 * ps];
    const lanes s12 = add(u1, u2), d12 = sub(u1, u2), s34 = add(u3, u4), d34 = sub(u3, u4), s56 = add(u5, u6), d56 = sub(u5, u6);
    const lanes ninths = mul((float)(-2.0 / 9), s12);
    q[0] = add(add(add(u0, ninths), mul((float)(1.0 / 90), s34)), mul((float)(32.0 / 45), s56));
    q[qs] = add(add(mul((float)(-2.0 / 9), d12), mul((float)(1.0 / 45), d34)), mul((float)(16.0 / 45), d56));
    q[2 * qs] = add(add(add(ninths, mul((float)(2.0 / 45), s34)), mul((float)(8.0 / 45), s56)), u7);
}

// MARK: The sweeps' eight-tile steps (avx2_lanes.h).

DIP_WINOGRAD_STEPS(63, DIP_AVX2, 6, 3, bt8, at8, a8, g8, gt8)

// MARK: Phase split and merge by six: data movement only, 48 floats (8 tiles x 6 phases) at a
// time, each phase (or each eight output columns) one gather.

// A block is 48 floats of a row, eight tiles of six phases: float 6 k + m is phase m of tile k.
// Read as twelve quads Q0 .. Q11 of four floats, tile 2j is Q(3j) and the first half of
// Q(3j+1), tile 2j+1 the second half of Q(3j+1) and Q(3j+2). So transposing the quads
// {Q0, Q3, Q6, Q9} gives phases 0-3 of the even tiles, {Q1, Q4, Q7, Q10} phases 4 and 5 of the
// even tiles and 0 and 1 of the odd ones, {Q2, Q5, Q8, Q11} phases 2-5 of the odd ones; the
// phases are then the even and odd tiles interleaved.

/// The same on four quads.
DIP_INLINE void transpose4x4(const __m128 r[4], __m128 out[4]) {
    const __m128 t0 = _mm_unpacklo_ps(r[0], r[1]), t1 = _mm_unpacklo_ps(r[2], r[3]);
    const __m128 t2 = _mm_unpackhi_ps(r[0], r[1]), t3 = _mm_unpackhi_ps(r[2], r[3]);
    out[0] = _mm_shuffle_ps(t0, t1, 0x44);
    out[1] = _mm_shuffle_ps(t0, t1, 0xEE);
    out[2] = _mm_shuffle_ps(t2, t3, 0x44);
    out[3] = _mm_shuffle_ps(t2, t3, 0xEE);
}

/// w[i] = floats 8 i ..< 8 i + 8 of a block -> ph[m] = phase m of its eight tiles.
DIP_INLINE void split6_block(const lanes w[6], lanes ph[6]) {
    // Quads Q(2i), Q(2i+1) are the halves of w[i].
    const lanes r[4] = {w[0], _mm256_permute2f128_ps(w[1], w[2], 0x21), w[3], _mm256_permute2f128_ps(w[4], w[5], 0x21)};
    lanes t[4];
    transpose4x4_halves(r, t);  // t[i] = (element i of Q0, Q3, Q6, Q9 | of Q1, Q4, Q7, Q10)
    const __m128 c[4] = {_mm256_castps256_ps128(w[1]), _mm256_extractf128_ps(w[2], 1), _mm256_castps256_ps128(w[4]),
                         _mm256_extractf128_ps(w[5], 1)};
    __m128 u[4];
    transpose4x4(c, u);  // u[i] = element i of Q2, Q5, Q8, Q11
    const __m128 even[6] = {_mm256_castps256_ps128(t[0]), _mm256_castps256_ps128(t[1]), _mm256_castps256_ps128(t[2]),
                            _mm256_castps256_ps128(t[3]), _mm256_extractf128_ps(t[0], 1), _mm256_extractf128_ps(t[1], 1)};
    const __m128 odd[6] = {_mm256_extractf128_ps(t[2], 1), _mm256_extractf128_ps(t[3], 1), u[0], u[1], u[2], u[3]};
    for (int m = 0; m < 6; m++)
        ph[m] = _mm256_set_m128(_mm_unpackhi_ps(even[m], odd[m]), _mm_unpacklo_ps(even[m], odd[m]));
}

/// The inverse: ph[m] = phase m of eight tiles -> w[i] = floats 8 i ..< 8 i + 8 of the block.
DIP_INLINE void merge6_block(const lanes ph[6], lanes w[6]) {
    __m128 even[6], odd[6];
    for (int m = 0; m < 6; m++) {
        const __m128 lo = _mm256_castps256_ps128(ph[m]), hi = _mm256_extractf128_ps(ph[m], 1);
        even[m] = _mm_shuffle_ps(lo, hi, 0x88);
        odd[m] = _mm_shuffle_ps(lo, hi, 0xDD);
    }
    const lanes t[4] = {_mm256_set_m128(even[4], even[0]), _mm256_set_m128(even[5], even[1]),
                        _mm256_set_m128(odd[0], even[2]), _mm256_set_m128(odd[1], even[3])};
    lanes r[4];
    transpose4x4_halves(t, r);  // r = (Q0, Q1), (Q3, Q4), (Q6, Q7), (Q9, Q10)
    const __m128 u[4] = {odd[2], odd[3], odd[4], odd[5]};
    __m128 c[4];
    transpose4x4(u, c);  // c = Q2, Q5, Q8, Q11
    w[0] = r[0];
    w[1] = _mm256_set_m128(_mm256_castps256_ps128(r[1]), c[0]);
    w[2] = _mm256_set_m128(c[1], _mm256_extractf128_ps(r[1], 1));
    w[3] = r[2];
    w[4] = _mm256_set_m128(_mm256_castps256_ps128(r[3]), c[2]);
    w[5] = _mm256_set_m128(c[3], _mm256_extractf128_ps(r[3], 1));
}

DIP_WINOGRAD_PHASE_ROWS(6, 6, split6_block, merge6_block)

#else

void dip_winograd63_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride) {}
void dip_winograd63_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride) {}
void dip_winograd63_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride) {}
void dip_winograd63_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride) {}
void dip_winograd63_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg) {}
void dip_winograd_split6_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride) {}
void dip_winograd_merge6_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width) {}

#endif
