#include "winograd_products.h"

static ptrdiff_t round16(ptrdiff_t n) { return (n + 15) / 16 * 16; }

ptrdiff_t dip_winograd_packed_floats(ptrdiff_t rows, ptrdiff_t inner) { return inner * round16(rows); }

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))

int dip_winograd_products_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

/* Rows 16 q ..< 16 q + 16 of a block from the accumulators a[0..7] (a[j]: column j, lanes: rows),
   stored as rows of `columns` floats (an 8 x 8 transpose per half, the columns past `columns`
   masked off), those at or past `valid` rows skipped. */
AVX512 static inline __attribute__((always_inline)) void store_transposed(const __m512 a[8], float *m, ptrdiff_t m_stride,
                                                                         int columns, int valid) {
    const __m512 t0 = _mm512_unpacklo_ps(a[0], a[1]), t1 = _mm512_unpackhi_ps(a[0], a[1]);
    const __m512 t2 = _mm512_unpacklo_ps(a[2], a[3]), t3 = _mm512_unpackhi_ps(a[2], a[3]);
    const __m512 t4 = _mm512_unpacklo_ps(a[4], a[5]), t5 = _mm512_unpackhi_ps(a[4], a[5]);
    const __m512 t6 = _mm512_unpacklo_ps(a[6], a[7]), t7 = _mm512_unpackhi_ps(a[6], a[7]);
    // In each 128-bit lane L (rows 4 L ..< 4 L + 4), s[i] holds row 4 L + i's columns 0-3 and
    // s[4 + i] its columns 4-7.
    __m512 s[8];
    s[0] = _mm512_shuffle_ps(t0, t2, 0x44);
    s[1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    s[2] = _mm512_shuffle_ps(t1, t3, 0x44);
    s[3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    s[4] = _mm512_shuffle_ps(t4, t6, 0x44);
    s[5] = _mm512_shuffle_ps(t4, t6, 0xEE);
    s[6] = _mm512_shuffle_ps(t5, t7, 0x44);
    s[7] = _mm512_shuffle_ps(t5, t7, 0xEE);
    // Lanes 0 and 1 of both (rows i and 4 + i), then lanes 2 and 3 (rows 8 + i and 12 + i).
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i high = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    const __mmask8 mask = (__mmask8)((1u << columns) - 1);
    for (int i = 0; i < 4; i++) {
        const __m512 r01 = _mm512_permutex2var_ps(s[i], low, s[4 + i]), r23 = _mm512_permutex2var_ps(s[i], high, s[4 + i]);
        const int rows[4] = {i, 4 + i, 8 + i, 12 + i};
        const __m256 v[4] = {_mm512_castps512_ps256(r01), _mm512_extractf32x8_ps(r01, 1), _mm512_castps512_ps256(r23),
                             _mm512_extractf32x8_ps(r23, 1)};
        for (int h = 0; h < 4; h++) {
            if (rows[h] >= valid) continue;
            if (columns == 8) {
                _mm256_storeu_ps(m + rows[h] * m_stride, v[h]);
            } else {
                _mm256_mask_storeu_ps(m + rows[h] * m_stride, mask, v[h]);
            }
        }
    }
}

/* One block of Q row vectors (16 Q rows, `valid` of them real) by R columns: the sums over k in
   order, then the transposed stores. Along the way, `lines` cache lines from `prefetch` are
   asked into the L2, spread over the steps. */
AVX512 static inline __attribute__((always_inline)) void block(int Q, int R, const float *u, ptrdiff_t inner,
                                                              const float *v, ptrdiff_t v_stride, float *m,
                                                              ptrdiff_t m_stride, int valid, const char *prefetch,
                                                              ptrdiff_t lines) {
    __m512 acc[3][8];
    for (int q = 0; q < Q; q++) {
        for (int j = 0; j < 8; j++) acc[q][j] = _mm512_setzero_ps();
    }
    const ptrdiff_t width = 16 * Q;
    // Line i is asked for at the step where i * inner / lines is reached (counted without a
    // division: one per step cost more than the step's 24 multiply-adds).
    ptrdiff_t due = 0;
    for (ptrdiff_t k = 0; k < inner; k++) {
        const float *uk = u + k * width, *vk = v + k * v_stride;
        __m512 a[3];
        for (int q = 0; q < Q; q++) a[q] = _mm512_loadu_ps(uk + 16 * q);
        for (int j = 0; j < R; j++) {
            const __m512 b = _mm512_set1_ps(vk[j]);
            for (int q = 0; q < Q; q++) acc[q][j] = _mm512_fmadd_ps(a[q], b, acc[q][j]);
        }
        for (due += lines; due >= inner; due -= inner) {
            _mm_prefetch(prefetch, _MM_HINT_T1);
            prefetch += 64;
        }
    }
    for (int q = 0; q < Q; q++) store_transposed(acc[q], m + 16 * q * m_stride, m_stride, R, valid - 16 * q);
}

/* The 48 x 8 block of `block` (the same fused multiply-adds in the same order, so the same bits)
   with the channel loop in assembly: clang keeps the 24 accumulators, 3 U vectors and all 8
   broadcasts live (35 registers of 32) and stores and reloads 3 accumulators every source channel
   (llvm-mca: 13.7 cycles a step against 12 for its 24 multiply-adds; BENCHMARKS.md, thirty-third
   part). Here the accumulators are the assembly's operands, in zmm0-23, U takes zmm24-26 and the
   eight broadcasts take zmm27-31 in turn. The prefetches go between runs of `RUN` channels, their
   lines spread as `block` spreads them. */
enum { RUN = 8 };

#define DIP_ACC(q, j) [a##q##j] "+v"(acc[q][j])
#define DIP_FMA3(j, b)                                                                                                 \
    "vbroadcastss " #j "*4(%[v]), %%zmm" #b "\n\t"                                                                  \
    "vfmadd231ps %%zmm24, %%zmm" #b ", %[a0" #j "]\n\t"                                                             \
    "vfmadd231ps %%zmm25, %%zmm" #b ", %[a1" #j "]\n\t"                                                             \
    "vfmadd231ps %%zmm26, %%zmm" #b ", %[a2" #j "]\n\t"

AVX512 static void block_48x8(const float *u, ptrdiff_t inner, const float *v, ptrdiff_t v_stride, float *m,
                              ptrdiff_t m_stride, int valid, const char *prefetch, ptrdiff_t lines) {
    __m512 acc[3][8];
    for (int q = 0; q < 3; q++) {
        for (int j = 0; j < 8; j++) acc[q][j] = _mm512_setzero_ps();
    }
    const ptrdiff_t v_bytes = v_stride * (ptrdiff_t)sizeof(float);
    ptrdiff_t due = 0;
    for (ptrdiff_t k0 = 0; k0 < inner; k0 += RUN) {
        const ptrdiff_t steps = inner - k0 < RUN ? inner - k0 : RUN;
        ptrdiff_t count = steps; // the assembly counts it down
        __asm__ volatile("1:\n\t"
                         "vmovups (%[u]), %%zmm24\n\t"
                         "vmovups 64(%[u]), %%zmm25\n\t"
                         "vmovups 128(%[u]), %%zmm26\n\t"
                         DIP_FMA3(0, 27) DIP_FMA3(1, 28) DIP_FMA3(2, 29) DIP_FMA3(3, 30)
                         DIP_FMA3(4, 31) DIP_FMA3(5, 27) DIP_FMA3(6, 28) DIP_FMA3(7, 29)
                         "add $192, %[u]\n\t"
                         "add %[vs], %[v]\n\t"
                         "dec %[k]\n\t"
                         "jnz 1b\n\t"
                         : DIP_ACC(0, 0), DIP_ACC(0, 1), DIP_ACC(0, 2), DIP_ACC(0, 3), DIP_ACC(0, 4), DIP_ACC(0, 5),
                           DIP_ACC(0, 6), DIP_ACC(0, 7), DIP_ACC(1, 0), DIP_ACC(1, 1), DIP_ACC(1, 2), DIP_ACC(1, 3),
                           DIP_ACC(1, 4), DIP_ACC(1, 5), DIP_ACC(1, 6), DIP_ACC(1, 7), DIP_ACC(2, 0), DIP_ACC(2, 1),
                           DIP_ACC(2, 2), DIP_ACC(2, 3), DIP_ACC(2, 4), DIP_ACC(2, 5), DIP_ACC(2, 6), DIP_ACC(2, 7),
                           [u] "+r"(u), [v] "+r"(v), [k] "+r"(count)
                         : [vs] "r"(v_bytes)
                         : "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "memory", "cc");
        for (due += lines * steps; due >= inner; due -= inner) {
            _mm_prefetch(prefetch, _MM_HINT_T1);
            prefetch += 64;
        }
    }
    for (int q = 0; q < 3; q++) store_transposed(acc[q], m + 16 * q * m_stride, m_stride, 8, valid - 16 * q);
}
#undef DIP_FMA3
#undef DIP_ACC

/* `block` with Q and R known to the compiler, so each case keeps its accumulators in registers. */
AVX512 static void block_of(int Q, int R, const float *u, ptrdiff_t inner, const float *v, ptrdiff_t v_stride, float *m,
                            ptrdiff_t m_stride, int valid, const char *prefetch, ptrdiff_t lines) {
#define DIP_CASE(q, r)                                                                                                 \
    case 8 * (q - 1) + r - 1: block(q, r, u, inner, v, v_stride, m, m_stride, valid, prefetch, lines); return;
#define DIP_CASES_TO_7(q) DIP_CASE(q, 1) DIP_CASE(q, 2) DIP_CASE(q, 3) DIP_CASE(q, 4) DIP_CASE(q, 5) DIP_CASE(q, 6) DIP_CASE(q, 7)
#define DIP_CASES(q) DIP_CASES_TO_7(q) DIP_CASE(q, 8)
    switch (8 * (Q - 1) + R - 1) {
        DIP_CASES(1)
        DIP_CASES(2)
        DIP_CASES_TO_7(3)
    case 8 * 2 + 7: block_48x8(u, inner, v, v_stride, m, m_stride, valid, prefetch, lines); return;
    default: return;
    }
#undef DIP_CASES
#undef DIP_CASES_TO_7
#undef DIP_CASE
}

AVX512 void dip_winograd_products(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v, ptrdiff_t v_stride,
                                  ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next) {
    if (rows <= 0 || columns <= 0) return;
    // Columns in groups of at most 8, as even as whole columns allow (22: 7, 7, 8), so no group is
    // a narrow remainder.
    const ptrdiff_t groups = (columns + 7) / 8, blocks = (rows + DIP_WINOGRAD_PRODUCT_BLOCK - 1) / DIP_WINOGRAD_PRODUCT_BLOCK;
    const ptrdiff_t calls = blocks * groups, lines = next ? dip_winograd_packed_floats(rows, inner) / 16 : 0;
    ptrdiff_t call = 0;
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const ptrdiff_t first = b * DIP_WINOGRAD_PRODUCT_BLOCK;
        const ptrdiff_t width = rows - first < DIP_WINOGRAD_PRODUCT_BLOCK ? rows - first : DIP_WINOGRAD_PRODUCT_BLOCK;
        const float *u = packed + first * inner;
        for (ptrdiff_t g = 0; g < groups; g++, call++) {
            const ptrdiff_t c0 = g * columns / groups, c1 = (g + 1) * columns / groups;
            const ptrdiff_t l0 = call * lines / calls, l1 = (call + 1) * lines / calls;
            block_of((int)((width + 15) / 16), (int)(c1 - c0), u, inner, v + c0, v_stride, m + first * m_stride + c0, m_stride,
                     (int)width, next ? (const char *)next + 64 * l0 : (const char *)0, l1 - l0);
        }
    }
}

#else

int dip_winograd_products_available(void) { return 0; }
void dip_winograd_products(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v, ptrdiff_t v_stride,
                           ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next) {
    (void)packed; (void)rows; (void)inner; (void)v; (void)v_stride; (void)columns; (void)m; (void)m_stride; (void)next;
}

#endif
