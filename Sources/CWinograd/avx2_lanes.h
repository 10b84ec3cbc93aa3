// What the AVX2 Winograd kernels share (winograd_avx2.c for F(4x4, 3x3), winograd63_avx2.c for
// F(6x6, 3x3), winograd62_avx2.c for F(6x6, 2x2), winograd83_avx2.c for F(8x8, 3x3)): the
// eight-lane operations in the order the Swift transforms do them, the 4x4 transpose of the
// phase splits and merges, and the loads and stores of a row of filters eight at a time.
// Private to CWinograd; x86-64 only.
#ifndef DIP_AVX2_LANES_H
#define DIP_AVX2_LANES_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

// The target is "avx2" without "fma" and contraction is off, so no multiply and add can fuse:
// every line of the kernels is the Swift line beside it, operation for operation. (F(8x8, 3x3)'s
// kernels fuse where its Swift transforms do, with an explicit fused multiply-add of their own.)
#pragma STDC FP_CONTRACT OFF

#define DIP_AVX2 __attribute__((target("avx2")))
#define DIP_INLINE static inline __attribute__((always_inline, target("avx2")))

typedef __m256 lanes;

DIP_INLINE lanes add(lanes a, lanes b) { return _mm256_add_ps(a, b); }
DIP_INLINE lanes sub(lanes a, lanes b) { return _mm256_sub_ps(a, b); }
/// `c * a`, Swift's scalar-times-vector. The constants are Swift's Float(1.0 / 24) etc.: the
/// double rounded to float, as the casts at the call sites write them.
DIP_INLINE lanes mul(float c, lanes a) { return _mm256_mul_ps(_mm256_set1_ps(c), a); }

/// A 4x4 transpose (the phase splits and merges) in each 128-bit half: half h of out[i] is element i of half h of r[0..3].
DIP_INLINE void transpose4x4_halves(const lanes r[4], lanes out[4]) {
    const lanes t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpacklo_ps(r[2], r[3]);
    const lanes t2 = _mm256_unpackhi_ps(r[0], r[1]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    out[0] = _mm256_shuffle_ps(t0, t1, 0x44);
    out[1] = _mm256_shuffle_ps(t0, t1, 0xEE);
    out[2] = _mm256_shuffle_ps(t2, t3, 0x44);
    out[3] = _mm256_shuffle_ps(t2, t3, 0xEE);
}

// MARK: The partial blocks of the phase splits and merges. A block is `phases` x 8 floats of
// a row (eight tiles of `phases` columns): float r = 8 i + lane is lane `lane` of load/store
// vector i, and float r = phases k + m is tile k of phase m. Only the floats whose r lies in
// [lo, hi) are read or written (masked-off lanes touch no memory and load as zeros), so a
// block at a row's start or end moves exactly its columns.

/// Lanes whose `r` lies in [lo, hi).
DIP_INLINE __m256i in_range(__m256i r, ptrdiff_t lo, ptrdiff_t hi) {
    return _mm256_and_si256(_mm256_cmpgt_epi32(r, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), r));
}

/// r of each lane of vector i: 8 i + lane.
DIP_INLINE __m256i row_offsets(int i) {
    return _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(8 * i));
}

/// r of each tile k (lane) of phase m: phases k + m.
DIP_INLINE __m256i phase_offsets(int phases, int m) {
    return _mm256_add_epi32(_mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(phases)),
                            _mm256_set1_epi32(m));
}

/// w[i] = row floats 8 i ..< 8 i + 8 from `row`, for i < phases.
DIP_INLINE void load_row_block(const float *row, int phases, ptrdiff_t lo, ptrdiff_t hi, lanes *w) {
    for (int i = 0; i < phases; i++) w[i] = _mm256_maskload_ps(row + 8 * i, in_range(row_offsets(i), lo, hi));
}

/// The inverse: row floats 8 i ..< 8 i + 8 = w[i].
DIP_INLINE void store_row_block(float *row, int phases, ptrdiff_t lo, ptrdiff_t hi, const lanes *w) {
    for (int i = 0; i < phases; i++) _mm256_maskstore_ps(row + 8 * i, in_range(row_offsets(i), lo, hi), w[i]);
}

/// ph[m] = the eight tiles of phase m from `phases + m * phase_stride`.
DIP_INLINE void load_phase_block(const float *in, ptrdiff_t phase_stride, int phases, ptrdiff_t lo, ptrdiff_t hi, lanes *ph) {
    for (int m = 0; m < phases; m++) ph[m] = _mm256_maskload_ps(in + m * phase_stride, in_range(phase_offsets(phases, m), lo, hi));
}

/// The inverse: the eight tiles of phase m at `out + m * phase_stride` = ph[m].
DIP_INLINE void store_phase_block(float *out, ptrdiff_t phase_stride, int phases, ptrdiff_t lo, ptrdiff_t hi, const lanes *ph) {
    for (int m = 0; m < phases; m++) _mm256_maskstore_ps(out + m * phase_stride, in_range(phase_offsets(phases, m), lo, hi), ph[m]);
}

/// The `count` taps (9 of a 3x3 filter, 4 of a 2x2 one) of the filters q .. q + 7 of a row
/// (filter l's taps start at `taps + (q + l) * q_stride`, read back to front when `rotated`):
/// w[t] holds tap t of the eight, lanes past `columns` zero (zero filters, as in the Swift path).
DIP_INLINE void load_filter_taps(const float *taps, ptrdiff_t q_stride, ptrdiff_t q, ptrdiff_t columns, int rotated,
                                 int count, lanes *w) {
    const ptrdiff_t width = columns - q < 8 ? columns - q : 8;
    const float *first = taps + q * q_stride;
    // Tap t of the eight filters is one gather at offsets l * q_stride + t (or count - 1 - t), when the
    // offsets fit the gather's 32-bit indices; a scalar copy otherwise.
    if (7 * q_stride + 8 <= INT32_MAX) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i offsets = _mm256_mullo_epi32(lane, _mm256_set1_epi32((int)q_stride));
        const __m256i valid = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)width), lane);
        for (int t = 0; t < count; t++) {
            const __m256i at = _mm256_add_epi32(offsets, _mm256_set1_epi32(rotated ? count - 1 - t : t));
            w[t] = width == 8 ? _mm256_i32gather_ps(first, at, 4)
                              : _mm256_mask_i32gather_ps(_mm256_setzero_ps(), first, at, _mm256_castsi256_ps(valid), 4);
        }
    } else {
        float gathered[9][8] __attribute__((aligned(32))) = {{0}};
        for (ptrdiff_t l = 0; l < width; l++)
            for (int t = 0; t < count; t++) gathered[t][l] = first[l * q_stride + (rotated ? count - 1 - t : t)];
        for (int t = 0; t < count; t++) w[t] = _mm256_load_ps(gathered[t]);
    }
}

/// Stores `count` elements of the filters q .. q + 7 of a row: element e of filter q + l goes to
/// `u[e * u_stride + q + l]`, for the filters before `columns` only.
DIP_INLINE void store_filter_elements(const lanes *out, int count, float *u, ptrdiff_t u_stride, ptrdiff_t q,
                                      ptrdiff_t columns) {
    const ptrdiff_t width = columns - q < 8 ? columns - q : 8;
    if (width == 8) {
        for (int e = 0; e < count; e++) _mm256_storeu_ps(u + e * u_stride + q, out[e]);
    } else {
        float lanes_out[8] __attribute__((aligned(32)));
        for (int e = 0; e < count; e++) {
            _mm256_store_ps(lanes_out, out[e]);
            for (ptrdiff_t l = 0; l < width; l++) u[e * u_stride + q + l] = lanes_out[l];
        }
    }
}

/// The inverse of `store_filter_elements`: lanes past `columns` are zero.
DIP_INLINE void load_filter_elements(const float *du, ptrdiff_t du_stride, ptrdiff_t q, ptrdiff_t columns, int count,
                                     lanes *out) {
    const ptrdiff_t width = columns - q < 8 ? columns - q : 8;
    if (width == 8) {
        for (int e = 0; e < count; e++) out[e] = _mm256_loadu_ps(du + e * du_stride + q);
    } else {
        float lanes_in[8] __attribute__((aligned(32))) = {0};
        for (int e = 0; e < count; e++) {
            for (ptrdiff_t l = 0; l < width; l++) lanes_in[l] = du[e * du_stride + q + l];
            out[e] = _mm256_load_ps(lanes_in);
        }
    }
}

/// Stores the `count` taps (9 or 4) of the filters q .. q + 7 (before `columns`) at
/// `dg + count (q + l)`.
DIP_INLINE void store_filter_taps(const lanes *out, int count, float *dg, ptrdiff_t q, ptrdiff_t columns) {
    const ptrdiff_t width = columns - q < 8 ? columns - q : 8;
    float taps[9][8] __attribute__((aligned(32)));
    for (int t = 0; t < count; t++) _mm256_store_ps(taps[t], out[t]);
    for (ptrdiff_t l = 0; l < width; l++)
        for (int t = 0; t < count; t++) dg[(q + l) * count + t] = taps[t][l];
}

// MARK: The sweeps' eight-tile steps of a tile F(M x M, R x R), N = M + R - 1 its input size:
// load, the 2-D transform (columns, then rows, as Swift's WinogradTileTransforms), store. Tiles
// differ in their sizes and 1-D transforms only, so one macro writes the five steps each tile's
// file defines: DIP_WINOGRAD_STEPS(NAME, TARGET, M, R, BT, AT, A, G, GT) defines
// dip_winograd<NAME>_input_avx2, _output_avx2, _output_gradient_avx2, _filter_row_avx2 and
// _filter_gradient_row_avx2 (winograd_avx2.h) with the function attribute TARGET. The filter
// rows take eight filters a step, the last step padded with zero filters whose results are not
// stored (as the Swift path does).
/// The 2-D transform by the 1-D transform T (K -> L): the K x K block x to the L x L block y,
/// the columns into work (L x K), then its rows (Swift's WinogradTileTransforms.separable).
#define DIP_SEPARABLE(T, K, L, x, work, y)                                                                             \
    do {                                                                                                               \
        for (int c_ = 0; c_ < (K); c_++) T((x) + c_, (K), (work) + c_, (K));                                           \
        for (int r_ = 0; r_ < (L); r_++) T((work) + (K) * r_, 1, (y) + (L) * r_, 1);                                   \
    } while (0)

#define DIP_WINOGRAD_STEPS(NAME, TARGET, M, R, BT, AT, A, G, GT)                                                       \
    TARGET void dip_winograd##NAME##_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride) { \
        enum { n = (M) + (R) - 1 };                                                                                    \
        lanes d[n * n], work[n * n], out[n * n];                                                                       \
        for (int r = 0; r < n; r++)                                                                                    \
            for (int s = 0; s < n; s++)                                                                                \
                d[r * n + s] = _mm256_loadu_ps(strip + ((M) * r + s % (M)) * phase_stride + s / (M));                  \
        DIP_SEPARABLE(BT, n, n, d, work, out);                                                                         \
        for (int e = 0; e < n * n; e++) _mm256_storeu_ps(v + e * v_stride, out[e]);                                   \
    }                                                                                                                  \
                                                                                                                       \
    TARGET void dip_winograd##NAME##_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip,         \
                                                 ptrdiff_t strip_stride) {                                             \
        enum { n = (M) + (R) - 1 };                                                                                    \
        lanes mt[n * n], work[n * (M)], y[(M) * (M)];                                                                  \
        for (int e = 0; e < n * n; e++) mt[e] = _mm256_loadu_ps(m + e * m_stride);                                     \
        DIP_SEPARABLE(AT, n, (M), mt, work, y);                                                                        \
        const lanes b = _mm256_set1_ps(bias);                                                                          \
        for (int e = 0; e < (M) * (M); e++) _mm256_storeu_ps(strip + e * strip_stride, add(y[e], b));                  \
    }                                                                                                                  \
                                                                                                                       \
    TARGET void dip_winograd##NAME##_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm,       \
                                                          ptrdiff_t dm_stride) {                                       \
        enum { n = (M) + (R) - 1 };                                                                                    \
        lanes dy[(M) * (M)], work[n * (M)], out[n * n];                                                                \
        for (int e = 0; e < (M) * (M); e++) dy[e] = _mm256_loadu_ps(strip + e * strip_stride);                         \
        DIP_SEPARABLE(A, (M), n, dy, work, out);                                                                       \
        for (int e = 0; e < n * n; e++) _mm256_storeu_ps(dm + e * dm_stride, out[e]);                                  \
    }                                                                                                                  \
                                                                                                                       \
    TARGET void dip_winograd##NAME##_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns,         \
                                                     int rotated, float *u, ptrdiff_t u_stride) {                      \
        enum { n = (M) + (R) - 1 };                                                                                    \
        for (ptrdiff_t q = 0; q < columns; q += 8) {                                                                   \
            lanes w[(R) * (R)], work[n * (R)], out[n * n];                                                             \
            load_filter_taps(taps, q_stride, q, columns, rotated, (R) * (R), w);                                       \
            DIP_SEPARABLE(G, (R), n, w, work, out);                                                                    \
            store_filter_elements(out, n * n, u, u_stride, q, columns);                                                \
        }                                                                                                              \
    }                                                                                                                  \
                                                                                                                       \
    TARGET void dip_winograd##NAME##_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, \
                                                              float *dg) {                                             \
        enum { n = (M) + (R) - 1 };                                                                                    \
        for (ptrdiff_t q = 0; q < columns; q += 8) {                                                                   \
            lanes dU[n * n], work[n * (R)], out[(R) * (R)];                                                            \
            load_filter_elements(du, du_stride, q, columns, n * n, dU);                                                \
            DIP_SEPARABLE(GT, n, (R), dU, work, out);                                                                  \
            store_filter_taps(out, (R) * (R), dg, q, columns);                                                         \
        }                                                                                                              \
    }

// MARK: The phase split and merge of a row by P phases (the tile's output size): blocks of 8 P
// floats, eight tiles of P phases, each moved by SPLIT (w[i] = floats 8 i ..< 8 i + 8 of the
// block -> ph[m] = phase m of its eight tiles) or MERGE (the inverse). A whole block moves with
// plain loads and stores; the first one when pad > 0 and the last one move only their source
// columns, with masks. DIP_WINOGRAD_PHASE_ROWS(NAME, P, SPLIT, MERGE) defines
// dip_winograd_split<NAME>_row_avx2 and dip_winograd_merge<NAME>_row_avx2 (winograd_avx2.h).
#define DIP_WINOGRAD_PHASE_ROWS(NAME, P, SPLIT, MERGE)                                                                 \
    DIP_AVX2 void dip_winograd_split##NAME##_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases,   \
                                                      ptrdiff_t phase_stride) {                                        \
        const ptrdiff_t end = width < (P) * phase_stride - pad ? width : (P) * phase_stride - pad; /* x < end */        \
        /* Padded columns xx = x + pad in blocks of 8 P from xx = 0. */                                                \
        for (ptrdiff_t xx0 = 0; xx0 < end + pad; xx0 += 8 * (P)) {                                                     \
            float *out = phases + xx0 / (P);                                                                           \
            lanes w[P], ph[P];                                                                                         \
            if (xx0 >= pad && xx0 + 8 * (P) <= end + pad) {                                                            \
                const float *p = row + (xx0 - pad);                                                                    \
                for (int i = 0; i < (P); i++) w[i] = _mm256_loadu_ps(p + 8 * i);                                       \
                SPLIT(w, ph);                                                                                          \
                for (int m = 0; m < (P); m++) _mm256_storeu_ps(out + m * phase_stride, ph[m]);                         \
            } else {                                                                                                   \
                /* Columns r = xx - xx0 in [lo, hi) of this block are source column xx - pad. */                       \
                const ptrdiff_t lo = (xx0 > pad ? xx0 : pad) - xx0;                                                    \
                const ptrdiff_t hi = (xx0 + 8 * (P) < end + pad ? xx0 + 8 * (P) : end + pad) - xx0;                    \
                /* The address of column r is row + (xx0 - pad) + r; lanes before the row are masked. */               \
                const float *p = (const float *)((const char *)row + (xx0 - pad) * (ptrdiff_t)sizeof(float));          \
                load_row_block(p, (P), lo, hi, w);                                                                     \
                SPLIT(w, ph);                                                                                          \
                store_phase_block(out, phase_stride, (P), lo, hi, ph);                                                 \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
                                                                                                                       \
    DIP_AVX2 void dip_winograd_merge##NAME##_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row,           \
                                                      ptrdiff_t width) {                                               \
        for (ptrdiff_t x0 = 0; x0 < width; x0 += 8 * (P)) {                                                            \
            const float *in = phases + x0 / (P);                                                                       \
            lanes ph[P], w[P];                                                                                         \
            if (x0 + 8 * (P) <= width) {                                                                               \
                for (int m = 0; m < (P); m++) ph[m] = _mm256_loadu_ps(in + m * phase_stride);                          \
                MERGE(ph, w);                                                                                          \
                for (int i = 0; i < (P); i++) _mm256_storeu_ps(row + x0 + 8 * i, w[i]);                                \
            } else {                                                                                                   \
                /* The last, partial block: columns r = x - x0 in [0, hi). */                                          \
                const ptrdiff_t hi = width - x0;                                                                       \
                load_phase_block(in, phase_stride, (P), 0, hi, ph);                                                    \
                MERGE(ph, w);                                                                                          \
                store_row_block(row + x0, (P), 0, hi, w);                                                              \
            }                                                                                                          \
        }                                                                                                              \
    }

#endif
