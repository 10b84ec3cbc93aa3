// The 1x1 layers' weight gradient as PointwiseConvolution runs it: one partial product per block
// of 4096 pixels of a 256x256 plane (both operands' rows a plane apart), the blocks split
// between THREADS threads (default 2): oneDNN's sgemm `N T` against an AVX-512 kernel of ours
// (below, measured and not kept: b transposed a chunk at a time, 7-8 rows of a broadcast against
// 48 columns of bᵀ), in turns, best of ROUNDS (default 7), for the nets' shapes (output x input
// channels: 128 x 128, 128 x 32, 3 x 128, 1 x 128, 4 x 32, 4 x 128). Checks that ours gives the
// bits of the plain in-order FMA loop and prints its largest difference from sgemm. (Issue 13:
// sgemm ran these at 80-100 GFLOP/s a thread on an AVX-512 Xeon where its `N N` products reach
// 120-140, and the small shapes at 6-15; `bench/sgemm_census.c`; BENCHMARKS.md, thirty-seventh
// part.) Built with clang, as SwiftPM builds the package's C:
//
//   clang -O2 -pthread -I Sources/CPointwise/include -o /tmp/pointwise_weight_gradient \
//       bench/pointwise_weight_gradient.c Sources/CPointwise/pointwise.c -ldnnl -lm
//   OMP_NUM_THREADS=1 /tmp/pointwise_weight_gradient [THREADS] [ROUNDS]
#include "CPointwise.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The kernel measured (not kept): c[o * ldc + i] = the sum over p < n of a[o * lda + p] *
   b[i * ldb + p], each sum one fused multiply-add at a time from zero in increasing p (the bits of
   the plain loop), with b transposed a chunk of positions at a time into `scratch`
   (weight_gradient_scratch floats) so that each step multiplies 16 columns of bᵀ by a broadcast
   element of a. Returns -1 where the CPU lacks AVX-512F. */

/* Positions a chunk: a chunk's transposed b (128 x 128 floats at 128 channels, 64 KiB) and a's
   copy stay in the L2, and one column group of the transpose (CHUNK x 48 floats, 24 KiB) in the
   L1 while every row group of a runs over it. */
enum { CHUNK = 128, A_STRIDE = CHUNK + 16 };

static long padded16(long k) { return (k + 15) / 16 * 16; }

static long weight_gradient_scratch(long m, long k) { return CHUNK * padded16(k) + m * A_STRIDE; }

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

/* Rows of a (broadcast) a step: Q x R accumulators, Q loaded vectors of bᵀ and the broadcasts
   fit the 32 registers (clang keeps all R broadcasts live: 3 x 8 + 3 + 8 spilled, BENCHMARKS.md,
   thirty-third part). */
static int rows_for(int q) { return q == 3 ? 7 : 8; }

/* One tile: rows [0, R) of a (a step's broadcasts, `lda` apart) by columns [0, 16 Q) of bᵀ (rows
   of bᵀ `kp` apart), over positions [0, count): each sum continues from c (or from zero when
   `first`), one fused multiply-add per position in order, and goes back to c. `valid` masks the
   last vector's columns. */
AVX512 static inline __attribute__((always_inline)) void tile(int Q, int R, const float *bt, long kp, const float *a, long lda,
                                                              long count, float *c, long ldc, int first, __mmask16 valid) {
    __m512 acc[3][8];
    for (int q = 0; q < Q; q++) {
        const __mmask16 mask = q == Q - 1 ? valid : 0xffff;
        for (int r = 0; r < R; r++) acc[q][r] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, c + r * ldc + 16 * q);
    }
    for (long p = 0; p < count; p++) {
        const float *bp = bt + p * kp;
        __m512 v[3];
        for (int q = 0; q < Q; q++) v[q] = _mm512_loadu_ps(bp + 16 * q);
        for (int r = 0; r < R; r++) {
            const __m512 s = _mm512_set1_ps(a[r * lda + p]);
            for (int q = 0; q < Q; q++) acc[q][r] = _mm512_fmadd_ps(v[q], s, acc[q][r]);
        }
    }
    for (int q = 0; q < Q; q++) {
        const __mmask16 mask = q == Q - 1 ? valid : 0xffff;
        for (int r = 0; r < R; r++) _mm512_mask_storeu_ps(c + r * ldc + 16 * q, mask, acc[q][r]);
    }
}

/* `tile` with Q and R known to the compiler, so each case keeps its accumulators in registers. */
AVX512 static void tile_of(int Q, int R, const float *bt, long kp, const float *a, long lda, long count, float *c, long ldc,
                           int first, __mmask16 valid) {
#define DIP_CASE(q, r)                                                                                                 \
    case 8 * (q - 1) + r - 1: tile(q, r, bt, kp, a, lda, count, c, ldc, first, valid); return;
#define DIP_CASES(q) DIP_CASE(q, 1) DIP_CASE(q, 2) DIP_CASE(q, 3) DIP_CASE(q, 4) DIP_CASE(q, 5) DIP_CASE(q, 6) DIP_CASE(q, 7) DIP_CASE(q, 8)
    switch (8 * (Q - 1) + R - 1) {
        DIP_CASES(1)
        DIP_CASES(2)
        DIP_CASES(3)
    default: return;
    }
#undef DIP_CASES
#undef DIP_CASE
}

/* Columns [i0, i0 + 48) of bᵀ (b's rows [i0, i0 + 48) at most) are a group, stored at
   bt + i0 * CHUNK with its rows (positions) `group_stride` floats apart: the group's width rounded
   up to 16. So a tile reads one contiguous run; rows of bᵀ 512 bytes apart (128 channels) fell in
   24 of the L1's 64 sets, more lines than their ways hold. */
static long group_stride(long k, long i0) { return padded16(k - i0 < 48 ? k - i0 : 48); }

/* The vectors of bᵀ a step of group i0 loads (its Q). */
static int group_vectors(long k, long i0) { return (int)(group_stride(k, i0) / 16); }

/* 16 rows of 16 floats (row j at s + j * ss) transposed into d (row j at d + j * ds). */
AVX512 static inline void transpose16(const float *s, long ss, float *d, long ds) {
    __m512 r[16], t[16];
    for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(s + j * ss);
    for (int j = 0; j < 16; j += 2) {
        t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
        t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
    }
    for (int j = 0; j < 16; j += 4) {
        r[j] = _mm512_shuffle_ps(t[j], t[j + 2], 0x44);
        r[j + 1] = _mm512_shuffle_ps(t[j], t[j + 2], 0xee);
        r[j + 2] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0x44);
        r[j + 3] = _mm512_shuffle_ps(t[j + 1], t[j + 3], 0xee);
    }
    for (int h = 0; h < 16; h += 8) {
        for (int j = 0; j < 4; j++) {
            t[h + j] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0x88);
            t[h + j + 4] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0xdd);
        }
    }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    }
    for (int j = 0; j < 16; j++) _mm512_storeu_ps(d + j * ds, r[j]);
}

/* bᵀ of positions [p0, p0 + count) of b's k rows into `bt` in groups, the columns from k to the
   last group's padded width zero: 16 x 16 transposes where sixteen rows and positions are whole
   (48 is a multiple of 16, so they never straddle two groups). */
AVX512 static void transpose_chunk(const float *b, long ldb, long k, long p0, long count, float *bt) {
    for (long i0 = 0; i0 < k; i0 += 48) {
        const long stride = group_stride(k, i0), end = k - i0 < 48 ? k : i0 + 48;
        float *g = bt + i0 * CHUNK;
        long i = i0;
        for (; i + 16 <= end; i += 16) {
            const float *s = b + i * ldb + p0;
            float *d = g + (i - i0);
            long p = 0;
            for (; p + 16 <= count; p += 16) transpose16(s + p, ldb, d + p * stride, stride);
            for (; p < count; p++)
                for (long j = 0; j < 16; j++) d[p * stride + j] = s[j * ldb + p];
        }
        for (; i < i0 + stride; i++)
            for (long p = 0; p < count; p++) g[p * stride + (i - i0)] = i < k ? b[i * ldb + p0 + p] : 0.0f;
    }
}

AVX512 static void weight_gradient_avx512(const float *a, long lda, long m, const float *b, long ldb, long k, long n, float *c,
                                          long ldc, float *scratch) {
    float *bt = scratch, *ac = scratch + CHUNK * padded16(k);
    for (long p0 = 0; p0 < n; p0 += CHUNK) {
        const long count = n - p0 < CHUNK ? n - p0 : CHUNK;
        transpose_chunk(b, ldb, k, p0, count, bt);
        // a's rows a plane apart would share the L1's sets with each other and with bᵀ's group.
        for (long o = 0; o < m; o++) {
            const float *s = a + o * lda + p0;
            float *d = ac + o * A_STRIDE;
            long p = 0;
            for (; p + 16 <= count; p += 16) _mm512_storeu_ps(d + p, _mm512_loadu_ps(s + p));
            for (; p < count; p++) d[p] = s[p];
        }
        // The next chunk's lines of a and b are asked into the L2 while this chunk's tiles run,
        // spread over them: the transpose and the copy read rows a plane apart, which the
        // hardware prefetchers find late.
        const long next = p0 + CHUNK, ahead = n - next < CHUNK ? n - next : CHUNK;
        const long line_count = ahead > 0 ? (ahead + 15) / 16 : 0, lines = (m + k) * line_count;
        long tiles = 0;
        for (long i0 = 0; i0 < k; i0 += 48) tiles += (m + rows_for(group_vectors(k, i0)) - 1) / rows_for(group_vectors(k, i0));
        long tile_index = 0, asked = 0;
        for (long i0 = 0; i0 < k; i0 += 48) {
            const int Q = group_vectors(k, i0), R = rows_for(Q);
            const long last = (k - i0 < 48 ? k - i0 : 48) - 16 * (Q - 1);
            const __mmask16 valid = (__mmask16)(last >= 16 ? 0xffff : (1u << last) - 1);
            for (long o0 = 0; o0 < m; o0 += R) {
                const int rows = (int)(m - o0 < R ? m - o0 : R);
                for (const long due = ++tile_index * lines / tiles; asked < due; asked++) {
                    const long row = asked / line_count, at = next + asked % line_count * 16;
                    _mm_prefetch((const char *)(row < m ? a + row * lda + at : b + (row - m) * ldb + at), _MM_HINT_T1);
                }
                tile_of(Q, rows, bt + i0 * CHUNK, group_stride(k, i0), ac + o0 * A_STRIDE, A_STRIDE, count, c + o0 * ldc + i0,
                        ldc, p0 == 0, valid);
            }
        }
    }
}

static int weight_gradient(const float *a, long lda, long m, const float *b, long ldb, long k, long n, float *c, long ldc,
                           float *scratch) {
    if (!(dip_pointwise_available() & DIP_POINTWISE_AVX512)) return -1;
    if (m <= 0 || k <= 0) return 0;
    if (n <= 0) {
        for (long o = 0; o < m; o++)
            for (long i = 0; i < k; i++) c[o * ldc + i] = 0.0f;
        return 0;
    }
    weight_gradient_avx512(a, lda, m, b, ldb, k, n, c, ldc, scratch);
    return 0;
}

#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { pixels = 65536, block = 4096, blocks = pixels / block };

static int threads, own;
static long m, k;
static float *dy, *x, *partials, *scratch;

/* Thread `part`'s share of the blocks, each block's partial at partials + b * m * k. */
static void *blocks_of(void *arg) {
    const long part = (long)arg;
    float *mine = scratch + part * weight_gradient_scratch(m, k);
    for (long b = blocks * part / threads; b < blocks * (part + 1) / threads; b++) {
        float *c = partials + b * m * k;
        if (own) {
            weight_gradient(dy + b * block, pixels, m, x + b * block, pixels, k, block, c, k, mine);
        } else {
            dnnl_sgemm('N', 'T', m, k, block, 1, dy + b * block, pixels, x + b * block, pixels, 0, c, k);
        }
    }
    return NULL;
}

static double run(int which) {
    own = which;
    pthread_t t[64];
    const double start = now();
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, blocks_of, (void *)i);
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return now() - start;
}

int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 2;
    const int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (threads < 1 || threads > 64 || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "THREADS must be 1 to 64 and ROUNDS 1 to 1000\n");
        return 2;
    }
    if (!(dip_pointwise_available() & DIP_POINTWISE_AVX512)) {
        fprintf(stderr, "this CPU lacks AVX-512F\n");
        return 2;
    }
    const long shapes[][2] = {{128, 128}, {128, 32}, {3, 128}, {1, 128}, {4, 32}, {4, 128}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        m = shapes[s][0];
        k = shapes[s][1];
        dy = malloc(sizeof(float) * m * pixels);
        x = malloc(sizeof(float) * k * pixels);
        partials = malloc(sizeof(float) * blocks * m * k);
        float *theirs = malloc(sizeof(float) * blocks * m * k);
        scratch = malloc(sizeof(float) * threads * weight_gradient_scratch(m, k));
        srand(7);
        for (long i = 0; i < m * pixels; i++) dy[i] = (float)((double)rand() / RAND_MAX - 0.5);
        for (long i = 0; i < k * pixels; i++) x[i] = (float)((double)rand() / RAND_MAX - 0.5);
        run(0);
        for (long i = 0; i < blocks * m * k; i++) theirs[i] = partials[i];
        run(1);
        long differing = 0;
        double largest = 0;
        for (long b = 0; b < blocks; b++)
            for (long o = 0; o < m; o++)
                for (long i = 0; i < k; i++) {
                    float acc = 0;
                    for (long p = 0; p < block; p++) acc = fmaf(dy[o * pixels + b * block + p], x[i * pixels + b * block + p], acc);
                    const long j = b * m * k + o * k + i;
                    differing += acc != partials[j];
                    const double d = fabs((double)theirs[j] - partials[j]);
                    if (d > largest) largest = d;
                }
        double best[2] = {1e9, 1e9};
        for (int r = 0; r < rounds; r++)
            for (int w = 0; w < 2; w++) {
                const double t = run(w);
                if (t < best[w]) best[w] = t;
            }
        const double flop = 2.0 * m * k * pixels;
        printf("%3ld x %3ld, %d thread(s): sgemm N T %7.3f ms (%6.1f GFLOP/s), ours %7.3f ms (%6.1f GFLOP/s); "
               "ours differs from the in-order loop in %ld of %ld, from sgemm by %.2g at most\n",
               m, k, threads, 1e3 * best[0], flop / best[0] * 1e-9, 1e3 * best[1], flop / best[1] * 1e-9, differing,
               blocks * m * k, largest);
        free(dy); free(x); free(partials); free(theirs); free(scratch);
    }
    return 0;
}
