// The Winograd backward-weights products (Sources/DIPEngine/CPU/WinogradConvolution.swift) as
// oneDNN's sgemm runs them with V channel-major (`N T`, as before e64669a) and position-major
// (`N N`, as the forward keeps it now): dU[ξ] (rows x columns) = dM[ξ] (rows x inner) · V[ξ]ᵀ,
// the inner dimension being a chunk's tile positions. 64 products a round, each on its own
// operands (as the pass's 64 elements ξ), one thread, best of 7 rounds, GFLOP/s (2 x MACs).
//
//   clang -O2 -o /tmp/wwp bench/winograd_weight_products.c -ldnnl
//   OMP_NUM_THREADS=1 /tmp/wwp                       (the nets' shapes at 256x256)
//   OMP_NUM_THREADS=1 /tmp/wwp rows columns inner
//   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 /tmp/wwp (oneDNN 2.6's AVX2 sgemm)
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ELEMENTS = 64, ROUNDS = 7 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void run(long rows, long columns, long inner) {
    float *dm = malloc(sizeof(float) * ELEMENTS * rows * inner), *v = malloc(sizeof(float) * ELEMENTS * columns * inner);
    float *du = malloc(sizeof(float) * ELEMENTS * rows * columns);
    if (!dm || !v || !du) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (long i = 0; i < ELEMENTS * rows * inner; i++) dm[i] = (float)(i % 97) / 97;
    for (long i = 0; i < ELEMENTS * columns * inner; i++) v[i] = (float)(i % 89) / 89;
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < ROUNDS; r++) {
        for (int layout = 0; layout < 2; layout++) {
            const double t = now();
            for (int e = 0; e < ELEMENTS; e++) {
                const float *a = dm + e * rows * inner, *b = v + e * columns * inner;
                float *c = du + e * rows * columns;
                // Channel-major V: columns x inner, read transposed; position-major: inner x columns.
                dnnl_status_t s = layout == 0 ? dnnl_sgemm('N', 'T', rows, columns, inner, 1, a, inner, b, inner, 0, c, columns)
                                              : dnnl_sgemm('N', 'N', rows, columns, inner, 1, a, inner, b, columns, 0, c, columns);
                if (s != dnnl_success) { fprintf(stderr, "dnnl_sgemm failed: %d\n", (int)s); exit(1); }
            }
            const double elapsed = now() - t;
            if (elapsed < best[layout]) best[layout] = elapsed;
        }
    }
    const double flop = 2.0 * ELEMENTS * rows * columns * inner;
    printf("%4ld x %4ld over %5ld: N T %6.1f  N N %6.1f GFLOP/s\n", rows, columns, inner, flop / best[0] / 1e9,
           flop / best[1] / 1e9);
    free(dm); free(v); free(du);
}

int main(int argc, char **argv) {
    if (argc == 4) {
        run(atol(argv[1]), atol(argv[2]), atol(argv[3]));
        return 0;
    }
    if (argc != 1) { fprintf(stderr, "usage: %s [rows columns inner]\n", argv[0]); return 2; }
    // table1 and text at 256x256 (bench/sgemm_census.c), one tile row a band.
    const long shapes[][3] = {{128, 132, 1333}, {128, 132, 516}, {128, 132, 484}, {128, 128, 484},
                              {128, 256, 903}, {128, 256, 484}, {128, 256, 43}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(shapes[i][0], shapes[i][1], shapes[i][2]);
    return 0;
}
