// The batched products of one band of the Winograd passes (WinogradBandSteps.products), as on
// text's 256 -> 128 layer at 258x258 with F(6x6, 3x3): 64 products M[ξ] = U[ξ] (128 x 256) ·
// V[ξ] (256 x 86), one thread. Two ways, each with its operands from far (64 elements: 15 MiB of
// U, V and M, as in the network, where every band reads all of U again) and in cache (the
// same products on 2 elements' operands, repeated):
// - oneDNN's sgemm, as the passes call it (it packs both operands at every call);
// - a 6x16 FMA kernel over operands already packed (U in panels of 6 rows, V in panels of 16
//   columns, as a transform could write them), with U prefetched 64 steps ahead. Tried for
//   issue 13 and not kept: from far it ran no faster than sgemm (BENCHMARKS.md, thirteenth part).
// Prints GFLOP/s (2 x MACs over the used columns), best of 5 runs, and checks the kernel's
// result against an in-order fused multiply-add loop (exact) and sgemm's (close).
//
//   clang -O2 -o /tmp/winograd_products bench/winograd_products.c -ldnnl -lm
//   OMP_NUM_THREADS=1 /tmp/winograd_products [rows inner columns]
//   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 /tmp/winograd_products   (sgemm on AVX2 where the CPU has AVX-512)
//
// Needs an x86-64 CPU with AVX2 and FMA.
#include <immintrin.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// U's rows in panels of 6: (o, i) at (o / 6) * 6 * inner + i * 6 + o % 6, rows past `rows` zero.
static void pack_filter(const float *u, long rows, long inner, float *packed) {
    for (long o0 = 0; o0 < rows; o0 += 6)
        for (long i = 0; i < inner; i++)
            for (long r = 0; r < 6; r++) packed[o0 * inner + i * 6 + r] = o0 + r < rows ? u[(o0 + r) * inner + i] : 0.0f;
}

__attribute__((target("avx2,fma"))) static void step(const float *a, long inner, const float *b, float *m, long ldm,
                                                     long rows, long columns) {
    __m256 c0[6], c1[6];
    for (int r = 0; r < 6; r++) c0[r] = c1[r] = _mm256_setzero_ps();
    for (long i = 0; i < inner; i++, a += 6, b += 16) {
        _mm_prefetch((const char *)(a + 384), _MM_HINT_T0);
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma clang loop unroll(full)
        for (int r = 0; r < 6; r++) {
            __m256 x = _mm256_broadcast_ss(a + r);
            c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
        }
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(columns < 8 ? columns : 8)), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(columns > 8 ? columns - 8 : 0)), lane);
    for (long r = 0; r < rows; r++) {
        _mm256_maskstore_ps(m + r * ldm, m0, c0[r]);
        _mm256_maskstore_ps(m + r * ldm + 8, m1, c1[r]);
    }
}

// M (rows x columns, row stride ldm) = packed U · V, V's columns in panels of 16 (panel_stride apart).
static void packed_product(const float *packed, long rows, long inner, const float *v, long panel_stride, long columns,
                           float *m, long ldm) {
    for (long j = 0; j < columns; j += 16)
        for (long o = 0; o < rows; o += 6)
            step(packed + o * inner, inner, v + j / 16 * panel_stride, m + o * ldm + j, ldm, rows - o < 6 ? rows - o : 6,
                 columns - j < 16 ? columns - j : 16);
}

int main(int argc, char **argv) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "winograd_products: this CPU has no AVX2 and FMA\n");
        return 1;
    }
    const long M = argc > 3 ? atol(argv[1]) : 128, K = argc > 3 ? atol(argv[2]) : 256, N = argc > 3 ? atol(argv[3]) : 86;
    const long ld = (N + 7) / 8 * 8, panels = (ld + 15) / 16, E = 64;
    // Per element: 16 floats of skew, as skewedStride leaves, so no two start in the same cache set.
    const long us = M * K + 16, vs = K * ld + 16, vps = panels * K * 16 + 16, ms = M * ld + 16, ps = (M + 5) / 6 * 6 * K + 16;
    float *u = aligned_alloc(64, E * us * 4), *v = aligned_alloc(64, E * vs * 4), *vp = aligned_alloc(64, E * vps * 4);
    float *m = aligned_alloc(64, E * ms * 4), *m2 = aligned_alloc(64, E * ms * 4), *pk = aligned_alloc(64, E * ps * 4);
    for (long i = 0; i < E * us; i++) u[i] = sinf((float)i);
    for (long i = 0; i < E * vs; i++) v[i] = cosf(0.7f * (float)i);
    for (long e = 0; e < E; e++) {
        pack_filter(u + e * us, M, K, pk + e * ps);
        for (long i = 0; i < K; i++)
            for (long j = 0; j < ld; j++) vp[e * vps + j / 16 * K * 16 + i * 16 + j % 16] = v[e * vs + i * ld + j];
    }
    printf("%ld products of %ld x %ld by %ld x %ld, one thread, best of 5:\n", E, M, K, K, N);
    for (int far = 1; far >= 0; far--) {
        const long elements = far ? E : 2, reps = far ? 20 : 640;
        for (int ours = 0; ours < 2; ours++) {
            double best = 1e9;
            for (int run = 0; run < 5; run++) {
                double t0 = now();
                for (long q = 0; q < reps; q++)
                    for (long e = 0; e < elements; e++) {
                        if (ours) packed_product(pk + e * ps, M, K, vp + e * vps, K * 16, N, m2 + e * ms, ld);
                        else dnnl_sgemm('N', 'N', M, N, K, 1, u + e * us, K, v + e * vs, ld, 0, m + e * ms, ld);
                    }
                double t = (now() - t0) / reps * E / elements;
                if (t < best) best = t;
            }
            printf("  %-32s %-9s %6.3f ms for 64 products, %5.1f GFLOP/s\n", ours ? "packed 6x16 FMA kernel" : "oneDNN sgemm",
                   far ? "from far" : "in cache", best * 1e3, 2.0 * M * N * K * E / best * 1e-9);
        }
    }
    long exact = 0;
    double largest = 0;
    for (long o = 0; o < M; o++)
        for (long j = 0; j < N; j++) {
            float s = 0;
            for (long i = 0; i < K; i++) s = fmaf(u[o * K + i], v[i * ld + j], s);
            exact += s == m2[o * ld + j];
            if (fabs(m[o * ld + j] - m2[o * ld + j]) > largest) largest = fabs(m[o * ld + j] - m2[o * ld + j]);
        }
    printf("kernel against the in-order FMA loop: %ld of %ld equal; largest difference from sgemm %.3g\n", exact, M * N, largest);
    return exact == M * N ? 0 : 1;
}
