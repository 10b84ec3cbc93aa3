#include "winograd_avx2.h"

#if defined(__x86_64__)
#include "avx2_lanes.h"

// Winograd F(6x6, 2x2) on eight lanes. Bit-for-bit the Swift transforms (WinogradF62 in
// WinogradTransforms.swift): every line below is the Swift line beside it, operation for
// operation, evaluated left to right as Swift does. Its phase split and merge are F(6x6, 3x3)'s
// (by six; winograd63_avx2.c).

// MARK: 1-D transforms: p[k * ps] in, q[k * qs] out.

/// Bᵀ (7 -> 7).
DIP_INLINE void bt7(const lanes *p, int ps, lanes *q, int qs) {
    const lanes d0 = p[0], d1 = p[ps], d2 = p[2 * ps], d3 = p[3 * ps];
    const lanes d4 = p[4 * ps], d5 = p[5 * ps], d6 = p[6 * ps];
    const lanes e1 = sub(add(d0, d4), mul(4.25f, d2));               // (d0 + d4) - 4.25 * d2
    const lanes o1 = sub(add(d1, d5), mul(4.25f, d3));               // (d1 + d5) - 4.25 * d3
    const lanes e2 = sub(add(mul(0.5f, d0), mul(2, d4)), mul(2.5f, d2));   // (0.5 * d0 + 2 * d4) - 2.5 * d2
    const lanes o2 = sub(add(mul(0.25f, d1), d5), mul(1.25f, d3));   // (0.25 * d1 + d5) - 1.25 * d3
    const lanes e3 = sub(add(mul(2, d0), mul(0.5f, d4)), mul(2.5f, d2));   // (2 * d0 + 0.5 * d4) - 2.5 * d2
    const lanes o3 = sub(add(mul(4, d1), d5), mul(5, d3));           // (4 * d1 + d5) - 5 * d3
    q[0] = add(e1, o1);
    q[qs] = sub(e1, o1);
    q[2 * qs] = add(e2, o2);
    q[3 * qs] = sub(e2, o2);
    q[4 * qs] = add(e3, o3);
    q[5 * qs] = sub(e3, o3);
    q[6 * qs] = add(sub(d6, d0), mul(5.25f, sub(d2, d4)));          // (d6 - d0) + 5.25 * (d2 - d4)
}

/// Aᵀ (7 -> 6).
DIP_INLINE void at7(const lanes *p, int ps, lanes *q, int qs) {
    const lanes m0 = p[0], m1 = p[ps], m2 = p[2 * ps], m3 = p[3 * ps];
    const lanes m4 = p[4 * ps], m5 = p[5 * ps], m6 = p[6 * ps];
    const lanes s1 = add(m0, m1), d1 = sub(m0, m1), s2 = add(m2, m3), d2 = sub(m2, m3), s3 = add(m4, m5), d3 = sub(m4, m5);
    q[0] = add(add(s1, s2), s3);                                     // (s1 + s2) + s3
    q[qs] = add(add(d1, mul(2, d2)), mul(0.5f, d3));                 // (d1 + 2 * d2) + 0.5 * d3
    q[2 * qs] = add(add(s1, mul(4, s2)), mul(0.25f, s3));            // (s1 + 4 * s2) + 0.25 * s3
    q[3 * qs] = add(add(d1, mul(8, d2)), mul(0.125f, d3));           // (d1 + 8 * d2) + 0.125 * d3
    q[4 * qs] = add(add(s1, mul(16, s2)), mul(0.0625f, s3));         // (s1 + 16 * s2) + 0.0625 * s3
    q[5 * qs] = add(add(add(d1, mul(32, d2)), mul(0.03125f, d3)), m6);  // ((d1 + 32 * d2) + 0.03125 * d3) + m6
}

/// A (6 -> 7).
DIP_INLINE void a7(const lanes *p, int ps, lanes *q, int qs) {
    const lanes y0 = p[0], y1 = p[ps], y2 = p[2 * ps], y3 = p[3 * ps], y4 = p[4 * ps], y5 = p[5 * ps];
    const lanes e1 = add(add(y0, y2), y4), o1 = add(add(y1, y3), y5);
    const lanes e2 = add(add(y0, mul(4, y2)), mul(16, y4)), o2 = add(add(mul(2, y1), mul(8, y3)), mul(32, y5));
    const lanes e3 = add(add(y0, mul(0.25f, y2)), mul(0.0625f, y4));
    const lanes o3 = add(add(mul(0.5f, y1), mul(0.125f, y3)), mul(0.03125f, y5));
    q[0] = add(e1, o1);
    q[qs] = sub(e1, o1);
    q[2 * qs] = add(e2, o2);
    q[3 * qs] = sub(e2, o2);
    q[4 * qs] = add(e3, o3);
    q[5 * qs] = sub(e3, o3);
    q[6 * qs] = y5;
}

/// G (2 -> 7).
DIP_INLINE void g7(const lanes *p, int ps, lanes *q, int qs) {
    const lanes g0 = p[0], g1 = p[ps];
    const lanes small = mul((float)(1.0 / 45), g0), small1 = mul((float)(2.0 / 45), g1);
    const lanes large = mul((float)(16.0 / 45), g0), large1 = mul((float)(8.0 / 45), g1);
    q[0] = mul((float)(-2.0 / 9), add(g0, g1));
    q[qs] = mul((float)(-2.0 / 9), sub(g0, g1));
    q[2 * qs] = add(small, small1);
    q[3 * qs] = sub(small, small1);
    q[4 * qs] = add(large, large1);
    q[5 * qs] = sub(large, large1);
    q[6 * qs] = g1;
}

/// Gᵀ (7 -> 2).
DIP_INLINE void gt7(const lanes *p, int ps, lanes *q, int qs) {
    const lanes u0 = p[0], u1 = p[ps], u2 = p[2 * ps], u3 = p[3 * ps];
    const lanes u4 = p[4 * ps], u5 = p[5 * ps], u6 = p[6 * ps];
    const lanes s01 = add(u0, u1), d01 = sub(u0, u1), s23 = add(u2, u3), d23 = sub(u2, u3), s45 = add(u4, u5), d45 = sub(u4, u5);
    const lanes first = add(mul((float)(-2.0 / 9), s01), mul((float)(1.0 / 45), s23));
    q[0] = add(first, mul((float)(16.0 / 45), s45));
    const lanes second = add(mul((float)(-2.0 / 9), d01), mul((float)(2.0 / 45), d23));
    q[qs] = add(add(second, mul((float)(8.0 / 45), d45)), u6);
}

// MARK: The sweeps' eight-tile steps (avx2_lanes.h).

DIP_WINOGRAD_STEPS(62, DIP_AVX2, 6, 2, bt7, at7, a7, g7, gt7)

#else

void dip_winograd62_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride) {}
void dip_winograd62_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride) {}
void dip_winograd62_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride) {}
void dip_winograd62_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride) {}
void dip_winograd62_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg) {}

#endif
