#include "CPointwise.h"

#include <stddef.h>
#include <string.h>

/* The row layout (sgemm's and the AVX-512 kernel's): row r at block + r * ld. */
static void copy_rows(const float *source, long row_stride, long rows, long n, float *block, long ld) {
    for (long r = 0; r < rows; r++) memcpy(block + r * ld, source + r * row_stride, (size_t)n * sizeof(float));
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))

// Rows of a step: the accumulators (rows x 2 vectors) plus the two loaded vectors and the
// broadcast fit the registers (16 ymm, 32 zmm).
enum { ROWS_AVX2 = 6, ROWS_AVX512 = 8 };

// MARK: AVX2: 6 rows x 16 columns.

/* Lane masks for the last columns: lanes below `count` (0...8) on. */
AVX2 static inline __m256i lanes_below(long count) {
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), index);
}

AVX2 static void step_avx2(const float *w, long k, const float *b, long ldb, float *c, long ldc, const float *bias,
                           long rows, long columns) {
    __m256 acc[ROWS_AVX2][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < ROWS_AVX2; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    const __m256i m0 = lanes_below(columns < 8 ? columns : 8), m1 = lanes_below(columns < 8 ? 0 : columns - 8);
    const int whole = columns >= 16;
    // Two loops, not one choosing its loads per step: clang kept that choice inside the loop
    // as two branches per step, and the 128 -> 128 forward at 256x256 took 26-35 ms instead
    // of 21-23 on a Zen 3 (bench/pointwise_product.c). Same sums in the same order either way.
#define DIP_STEP_LOOP(LOAD0, LOAD1)                                                                                    \
    for (long i = 0; i < k; i++) {                                                                                     \
        const float *bi = b + i * ldb;                                                                                 \
        __m256 b0 = LOAD0, b1 = LOAD1;                                                                                 \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < ROWS_AVX2; r++) {                                       \
            __m256 a = _mm256_broadcast_ss(w + r * k + i);                                                             \
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);                                                             \
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);                                                             \
        }                                                                                                              \
    }
    if (whole) {
        DIP_STEP_LOOP(_mm256_loadu_ps(bi), _mm256_loadu_ps(bi + 8))
    } else {
        DIP_STEP_LOOP(_mm256_maskload_ps(bi, m0), _mm256_maskload_ps(bi + 8, m1))
    }
#undef DIP_STEP_LOOP
    for (long r = 0; r < rows; r++) {
        __m256 v0 = acc[r][0], v1 = acc[r][1];
        if (bias) {
            __m256 s = _mm256_set1_ps(bias[r]);
            v0 = _mm256_add_ps(v0, s);
            v1 = _mm256_add_ps(v1, s);
        }
        if (whole) {
            _mm256_storeu_ps(c + r * ldc, v0);
            _mm256_storeu_ps(c + r * ldc + 8, v1);
        } else {
            _mm256_maskstore_ps(c + r * ldc, m0, v0);
            _mm256_maskstore_ps(c + r * ldc + 8, m1, v1);
        }
    }
}

/* Columns [0, n) of `rows` rows into panels of 16 columns: row r of panel p (columns 16 p ..< 16 p + 16) at
   panels + (p * rows + r) * 16; the last panel's columns past n are left as they are (never read). */
AVX2 static void copy_panels_avx2(const float *source, long row_stride, long rows, long n, float *panels) {
    const long whole = n / 16, rest = n % 16;
    for (long r = 0; r < rows; r++) {
        const float *s = source + r * row_stride;
        float *d = panels + r * 16;
        for (long p = 0; p < whole; p++) {
            _mm256_storeu_ps(d + p * rows * 16, _mm256_loadu_ps(s + p * 16));
            _mm256_storeu_ps(d + p * rows * 16 + 8, _mm256_loadu_ps(s + p * 16 + 8));
        }
        if (rest) memcpy(d + whole * rows * 16, s + whole * 16, (size_t)rest * sizeof(float));
    }
}

AVX2 static void product_avx2(const float *w, long m, long k, const float *panels, long n, float *c, long ldc,
                              const float *bias) {
    // Panel after panel, every row step on one panel: its k x 16 floats (8 KiB at 128
    // channels) stay in the L1 while all row steps read them, and each step's loads are
    // contiguous. Over rows a block apart, a step's loads touched k lines on k pages: the
    // 128 -> 128 forward at 256x256 (bench/pointwise_product.c, 2 threads, copy included) took
    // a median 1.06x sgemm's time in the same run, now 0.99x (10 alternating runs on a Zen 3,
    // BENCHMARKS.md, sixteenth part).
    // With a short inner dimension the stores are the work, and one panel's steps store to all
    // m rows, m streams a plane apart (one cache set); there the rows go in groups of two steps,
    // all panels a group. The 128 <- 3 backward-data of the output layer (65536 pixels, one
    // thread, an AVX-512 Intel Xeon capped to AVX2, BENCHMARKS.md, thirty-fourth part) took 17.3
    // ms with all rows a panel, 4.2 in groups of 12 rows; 128 <- 32 16.3 against 8.5; 128 <- 128
    // 32.3 against 30.7 (kept all rows: it was measured on a Zen 3, whose 512 KiB L2 a block
    // then read once a group may not hold).
    const long group = k < 64 ? 2 * ROWS_AVX2 : m;
    for (long g = 0; g < m; g += group) {
        const long end = m - g < group ? m : g + group;
        for (long j = 0; j < n; j += 16) {
            const float *panel = panels + j * k;
            for (long o = g; o < end; o += ROWS_AVX2) {
                long rows = end - o < ROWS_AVX2 ? end - o : ROWS_AVX2;
                step_avx2(w + o * k, k, panel, 16, c + o * ldc + j, ldc, bias ? bias + o : NULL, rows,
                          n - j < 16 ? n - j : 16);
            }
        }
    }
}

// MARK: AVX-512: 8 rows x 32 columns.

AVX512 static void step_avx512(const float *w, long k, const float *b, long ldb, float *c, long ldc,
                               const float *bias, long rows, long columns, int streaming) {
    __m512 acc[ROWS_AVX512][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < ROWS_AVX512; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const __mmask16 m0 = columns >= 16 ? 0xffff : (__mmask16)((1u << columns) - 1);
    const __mmask16 m1 = columns >= 32 ? 0xffff : columns <= 16 ? 0 : (__mmask16)((1u << (columns - 16)) - 1);
    for (long i = 0; i < k; i++) {
        const float *bi = b + i * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, bi), b1 = _mm512_maskz_loadu_ps(m1, bi + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < ROWS_AVX512; r++) {
            __m512 a = _mm512_set1_ps(w[r * k + i]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    for (long r = 0; r < rows; r++) {
        __m512 v0 = acc[r][0], v1 = acc[r][1];
        if (bias) {
            __m512 s = _mm512_set1_ps(bias[r]);
            v0 = _mm512_add_ps(v0, s);
            v1 = _mm512_add_ps(v1, s);
        }
        // A whole step's row from a 64-byte boundary fills two lines, which a non-temporal store
        // writes without reading them first.
        if (streaming && columns == 32 && ((unsigned long)(c + r * ldc) & 63) == 0) {
            _mm512_stream_ps(c + r * ldc, v0);
            _mm512_stream_ps(c + r * ldc + 16, v1);
        } else {
            _mm512_mask_storeu_ps(c + r * ldc, m0, v0);
            _mm512_mask_storeu_ps(c + r * ldc + 16, m1, v1);
        }
    }
}

AVX512 static void product_avx512(const float *w, long m, long k, const float *b, long ldb, long n, float *c, long ldc,
                                  const float *bias, int streaming) {
    for (long o = 0; o < m; o += ROWS_AVX512) {
        long rows = m - o < ROWS_AVX512 ? m - o : ROWS_AVX512;
        for (long j = 0; j < n; j += 32) {
            step_avx512(w + o * k, k, b + j, ldb, c + o * ldc + j, ldc, bias ? bias + o : NULL, rows,
                        n - j < 32 ? n - j : 32, streaming);
        }
    }
    if (streaming) _mm_sfence();
}

int dip_pointwise_available(void) {
    __builtin_cpu_init();
    int isa = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa |= DIP_POINTWISE_AVX2;
    if (__builtin_cpu_supports("avx512f")) isa |= DIP_POINTWISE_AVX512;
    return isa;
}

static long step_rows(int isa) { return isa == DIP_POINTWISE_AVX512 ? ROWS_AVX512 : ROWS_AVX2; }

void dip_pointwise_copy(int isa, const float *source, long row_stride, long rows, long n, float *block, long ld) {
    if (isa == DIP_POINTWISE_AVX2) copy_panels_avx2(source, row_stride, rows, n, block);
    else copy_rows(source, row_stride, rows, n, block, ld);
}

void dip_pointwise_product(int isa, const float *packed, long m, long k, const float *block, long ld, long n, float *c,
                           long ldc, const float *bias, int streaming) {
    if (isa == DIP_POINTWISE_AVX512) product_avx512(packed, m, k, block, ld, n, c, ldc, bias, streaming);
    else if (isa == DIP_POINTWISE_AVX2) product_avx2(packed, m, k, block, n, c, ldc, bias);
}

#else

int dip_pointwise_available(void) { return 0; }
static long step_rows(int isa) { (void)isa; return 1; }
void dip_pointwise_copy(int isa, const float *source, long row_stride, long rows, long n, float *block, long ld) {
    (void)isa;
    copy_rows(source, row_stride, rows, n, block, ld);
}
void dip_pointwise_product(int isa, const float *packed, long m, long k, const float *block, long ld, long n, float *c,
                           long ldc, const float *bias, int streaming) {
    (void)isa; (void)packed; (void)m; (void)k; (void)block; (void)ld; (void)n; (void)c; (void)ldc; (void)bias;
    (void)streaming;
}

#endif

long dip_pointwise_packed_floats(int isa, long m, long k) {
    long s = step_rows(isa);
    return (m + s - 1) / s * s * k;
}

void dip_pointwise_pack(int isa, const float *w, long m, long k, long row_stride, long column_stride, float *packed) {
    long rows = dip_pointwise_packed_floats(isa, m, k) / (k > 0 ? k : 1);
    for (long o = 0; o < rows; o++) {
        for (long i = 0; i < k; i++) packed[o * k + i] = o < m ? w[o * row_stride + i * column_stride] : 0.0f;
    }
}
