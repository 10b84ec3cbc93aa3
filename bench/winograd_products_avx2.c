// An AVX2 version of the Winograd band products (Sources/CWinograd/winograd_products.h's
// contract, on U packed in its layout), measured against oneDNN's AVX2 sgemm by
// bench/winograd_products_packed.c and in the net, and not kept (BENCHMARKS.md, thirty-sixth
// part): alone, on one thread, it ran as fast as sgemm or faster, but in whole capped text 256
// iterations on an Intel Xeon the net ran no faster with it (slower in 7 of 8 pairs in a noisy
// spell, level over 7 pairs in a quieter one).
// Kept here so that it can be measured on a real AVX2 machine (a Zen 3), where sgemm's packing
// cost more (twenty-third part).
//
// Each output is the in-order fused multiply-add sum from zero, as in the AVX-512 kernel, so
// the two give the same bits. A step keeps 16 destination rows (one 64-byte line of a packed
// block's row of U) by up to 6 tile positions in 12 of the 16 vector registers: per source
// channel, two loads of U, six broadcasts of V, twelve multiply-adds. The loop over the source
// channels is written in assembly because the compiler does not keep it in registers: written
// with intrinsics (16 x 6, or oneDNN's 24 x 4) clang loaded the broadcasts ahead of their
// multiply-adds and spilled accumulators to the stack, 46-55 GFLOP/s a thread against 72 for
// such a loop on an Intel Xeon capped to AVX2 (twenty-third part).
#include "winograd_products.h"

#include <stddef.h>

/// dip_winograd_products' contract on AVX2 and FMA (x86-64 only), the first `next_lines`
/// 64-byte lines from `next` (if not NULL) asked into the L2 along the way.
void dip_winograd_products_avx2(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v, ptrdiff_t v_stride,
                                ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next, ptrdiff_t next_lines);

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

enum { ROWS = 16, COLUMNS = 6 };

// The accumulators of column j are ymm(2j) (rows 0-7) and ymm(2j + 1) (rows 8-15); ymm12 and
// ymm13 hold the step's U, ymm14 the broadcast.
#define Z(a, b) "vxorps %%ymm" #a ", %%ymm" #a ", %%ymm" #a "\n\tvxorps %%ymm" #b ", %%ymm" #b ", %%ymm" #b "\n\t"
#define F(j, a, b)                                                                                                     \
    "vbroadcastss " #j "*4(%[v]), %%ymm14\n\t"                                                                       \
    "vfmadd231ps %%ymm12, %%ymm14, %%ymm" #a "\n\t"                                                                  \
    "vfmadd231ps %%ymm13, %%ymm14, %%ymm" #b "\n\t"
#define S(j, a, b) "vmovups %%ymm" #a ", " #j "*64(%[out])\n\tvmovups %%ymm" #b ", " #j "*64+32(%[out])\n\t"

#define Z1 Z(0, 1)
#define Z2 Z1 Z(2, 3)
#define Z3 Z2 Z(4, 5)
#define Z4 Z3 Z(6, 7)
#define Z5 Z4 Z(8, 9)
#define Z6 Z5 Z(10, 11)
#define F1 F(0, 0, 1)
#define F2 F1 F(1, 2, 3)
#define F3 F2 F(2, 4, 5)
#define F4 F3 F(3, 6, 7)
#define F5 F4 F(4, 8, 9)
#define F6 F5 F(5, 10, 11)
#define S1 S(0, 0, 1)
#define S2 S1 S(1, 2, 3)
#define S3 S2 S(2, 4, 5)
#define S4 S3 S(3, 6, 7)
#define S5 S4 S(4, 8, 9)
#define S6 S5 S(5, 10, 11)
// Loading the accumulators back is S's moves the other way.
#define L(j, a, b) "vmovups " #j "*64(%[out]), %%ymm" #a "\n\tvmovups " #j "*64+32(%[out]), %%ymm" #b "\n\t"
#define L1 L(0, 0, 1)
#define L2 L1 L(1, 2, 3)
#define L3 L2 L(2, 4, 5)
#define L4 L3 L(3, 6, 7)
#define L5 L4 L(4, 8, 9)
#define L6 L5 L(5, 10, 11)

// sums[16 j + r] = s + the sum over k < inner, in order, of u[k * u_stride + r] *
// v[k * v_stride + j], for r < 16 and j < R (strides in bytes), where s is 0 (`name` sums) or
// sums[16 j + r] as it was (`name` more): the same fused multiply-adds in the same order,
// whether the sum is done in one call or continued over several.
#define DIP_SUMS(name, R, INIT)                                                                                        \
    AVX2 static void name##R(const float *u, ptrdiff_t u_stride, const float *v, ptrdiff_t v_stride, ptrdiff_t inner,   \
                             float *sums) {                                                                            \
        __asm__ volatile(INIT##R "test %[k], %[k]\n\t"                                                                \
                                 "jz 2f\n\t"                                                                           \
                                 ".p2align 5\n"                                                                        \
                                 "1:\n\t"                                                                              \
                                 "vmovups (%[u]), %%ymm12\n\t"                                                         \
                                 "vmovups 32(%[u]), %%ymm13\n\t" F##R "add %[us], %[u]\n\t"                           \
                                 "add %[vs], %[v]\n\t"                                                                 \
                                 "dec %[k]\n\t"                                                                        \
                                 "jnz 1b\n"                                                                            \
                                 "2:\n\t" S##R                                                                         \
                         : [u] "+r"(u), [v] "+r"(v), [k] "+r"(inner)                                                   \
                         : [us] "r"(u_stride), [vs] "r"(v_stride), [out] "r"(sums)                                     \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",    \
                           "xmm11", "xmm12", "xmm13", "xmm14", "memory", "cc");                                        \
    }
// sums1 ... sums6 and more1 ... more6.
#define DIP_SUMS_1_TO_6(name, INIT)                                                                                    \
    DIP_SUMS(name, 1, INIT) DIP_SUMS(name, 2, INIT) DIP_SUMS(name, 3, INIT) DIP_SUMS(name, 4, INIT)                    \
    DIP_SUMS(name, 5, INIT) DIP_SUMS(name, 6, INIT)
DIP_SUMS_1_TO_6(sums, Z)
DIP_SUMS_1_TO_6(more, L)

/* sums (or continues them, `more`) for a step of `columns` (1-6) columns. */
AVX2 static void step(int columns, int more, const float *u, ptrdiff_t u_stride, const float *v, ptrdiff_t v_stride,
                      ptrdiff_t inner, float *sums) {
    switch (columns + 6 * more) {
    case 1: sums1(u, u_stride, v, v_stride, inner, sums); return;
    case 2: sums2(u, u_stride, v, v_stride, inner, sums); return;
    case 3: sums3(u, u_stride, v, v_stride, inner, sums); return;
    case 4: sums4(u, u_stride, v, v_stride, inner, sums); return;
    case 5: sums5(u, u_stride, v, v_stride, inner, sums); return;
    case 6: sums6(u, u_stride, v, v_stride, inner, sums); return;
    case 7: more1(u, u_stride, v, v_stride, inner, sums); return;
    case 8: more2(u, u_stride, v, v_stride, inner, sums); return;
    case 9: more3(u, u_stride, v, v_stride, inner, sums); return;
    case 10: more4(u, u_stride, v, v_stride, inner, sums); return;
    case 11: more5(u, u_stride, v, v_stride, inner, sums); return;
    default: more6(u, u_stride, v, v_stride, inner, sums); return;
    }
}

/* The first `count` (1-6) lanes of a to p. */
AVX2 static inline void store_first(float *p, __m256 a, int count) {
    __m128 lo = _mm256_castps256_ps128(a);
    if (count >= 4) {
        _mm_storeu_ps(p, lo);
        p += 4;
        count -= 4;
        lo = _mm256_extractf128_ps(a, 1);
    }
    if (count >= 2) {
        _mm_storel_pi((__m64 *)p, lo);
        p += 2;
        count -= 2;
        lo = _mm_movehl_ps(lo, lo);
    }
    if (count == 1) _mm_store_ss(p, lo);
}

/* Rows 8 h ..< 8 h + 8 of the step, sums[16 j + 8 h + i] for column j, as rows of `columns`
   floats, those at or past `valid` skipped: an 8 x 8 transpose, the columns past `columns`
   zero and not stored. */
AVX2 static void store_transposed(const float *sums, int columns, float *m, ptrdiff_t m_stride, int valid) {
    __m256 c[8];
    for (int j = 0; j < 8; j++) c[j] = j < columns ? _mm256_loadu_ps(sums + 16 * j) : _mm256_setzero_ps();
    const __m256 t0 = _mm256_unpacklo_ps(c[0], c[1]), t1 = _mm256_unpackhi_ps(c[0], c[1]);
    const __m256 t2 = _mm256_unpacklo_ps(c[2], c[3]), t3 = _mm256_unpackhi_ps(c[2], c[3]);
    const __m256 t4 = _mm256_unpacklo_ps(c[4], c[5]), t5 = _mm256_unpackhi_ps(c[4], c[5]);
    const __m256 t6 = _mm256_unpacklo_ps(c[6], c[7]), t7 = _mm256_unpackhi_ps(c[6], c[7]);
    // In each 128-bit half H (rows 4 H ..< 4 H + 4), s[i] holds row 4 H + i's columns 0-3 and
    // s[4 + i] its columns 4-7.
    const __m256 s[8] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE), _mm256_shuffle_ps(t1, t3, 0x44),
                         _mm256_shuffle_ps(t1, t3, 0xEE), _mm256_shuffle_ps(t4, t6, 0x44), _mm256_shuffle_ps(t4, t6, 0xEE),
                         _mm256_shuffle_ps(t5, t7, 0x44), _mm256_shuffle_ps(t5, t7, 0xEE)};
    for (int i = 0; i < 4; i++) {
        if (i < valid) store_first(m + i * m_stride, _mm256_permute2f128_ps(s[i], s[4 + i], 0x20), columns);
        if (4 + i < valid) store_first(m + (4 + i) * m_stride, _mm256_permute2f128_ps(s[i], s[4 + i], 0x31), columns);
    }
}

AVX2 void dip_winograd_products_avx2(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v,
                                     ptrdiff_t v_stride, ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next,
                                     ptrdiff_t next_lines) {
    // Columns in groups of at most 6, as even as whole columns allow (33: 5, 6, 5, 6, 5, 6).
    enum { GROUPS = 64 };
    ptrdiff_t groups = (columns + COLUMNS - 1) / COLUMNS;
    if (groups > GROUPS) groups = GROUPS; // never in the nets (43 positions at most); a wider call is cut below
    // The source channels in as few even chunks as keep a chunk's rows of V (all the groups')
    // within CHUNK_BYTES, so that they and the 16-row line of U (64 bytes a channel) stay in
    // the L1 while the groups go by: at text's 256 -> 128 forward at 258x258 (33 positions,
    // rows of V 136 bytes apart) all of V is 34 KiB, and with U's 16 KiB it did not. (In the
    // net it made no difference that the noise let us see.)
    enum { CHUNK_BYTES = 16 << 10 };
    const ptrdiff_t v_bytes = v_stride * (ptrdiff_t)sizeof(float);
    const ptrdiff_t chunks = inner > 0 ? (inner * v_bytes + CHUNK_BYTES - 1) / CHUNK_BYTES : 1;
    const ptrdiff_t steps = (rows + ROWS - 1) / ROWS, calls = steps * groups * chunks;
    float sums[GROUPS][COLUMNS * ROWS] __attribute__((aligned(32)));
    ptrdiff_t call = 0;
    const ptrdiff_t width_columns = groups * COLUMNS < columns ? groups * COLUMNS : columns;
    for (ptrdiff_t first = 0; first < rows; first += DIP_WINOGRAD_PRODUCT_BLOCK) {
        const ptrdiff_t width = rows - first < DIP_WINOGRAD_PRODUCT_BLOCK ? rows - first : DIP_WINOGRAD_PRODUCT_BLOCK;
        const ptrdiff_t padded = (width + 15) / 16 * 16, u_bytes = padded * (ptrdiff_t)sizeof(float);
        for (ptrdiff_t q = 0; q < padded; q += ROWS) {
            const float *u = packed + first * inner + q;
            for (ptrdiff_t c = 0; c < chunks; c++) {
                const ptrdiff_t k0 = c * inner / chunks, k1 = (c + 1) * inner / chunks;
                for (ptrdiff_t g = 0; g < groups; g++, call++) {
                    // This step's share of the next U, asked for at its start: spread over the
                    // loop, the prefetches cost the loop more (67-69 against 72 GFLOP/s in the
                    // twenty-third part).
                    if (next) {
                        const ptrdiff_t l0 = call * next_lines / calls, l1 = (call + 1) * next_lines / calls;
                        for (ptrdiff_t l = l0; l < l1; l++) _mm_prefetch((const char *)next + 64 * l, _MM_HINT_T1);
                    }
                    const ptrdiff_t c0 = g * width_columns / groups, c1 = (g + 1) * width_columns / groups;
                    step((int)(c1 - c0), c > 0, u + k0 * padded, u_bytes, v + k0 * v_stride + c0, v_bytes, k1 - k0, sums[g]);
                }
            }
            const int valid = (int)(width - q);
            for (ptrdiff_t g = 0; g < groups; g++) {
                const ptrdiff_t c0 = g * width_columns / groups, c1 = (g + 1) * width_columns / groups;
                float *out = m + (first + q) * m_stride + c0;
                store_transposed(sums[g], (int)(c1 - c0), out, m_stride, valid);
                if (valid > 8) store_transposed(sums[g] + 8, (int)(c1 - c0), out + 8 * m_stride, m_stride, valid - 8);
            }
        }
    }
    // Columns past 64 groups (wider than any band of the nets): the same again on the rest.
    if (width_columns < columns)
        dip_winograd_products_avx2(packed, rows, inner, v + width_columns, v_stride, columns - width_columns,
                                   m + width_columns, m_stride, 0, 0);
}

#endif
