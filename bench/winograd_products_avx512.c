// The AVX-512 products of the Winograd band passes (Sources/CWinograd/winograd_products.c, as
// WinogradBandSteps.products calls them) against oneDNN's sgemm on the same operands: one band's
// 64 products M[ξ] = U[ξ] (rows x inner) · V[ξ] (inner x columns), one thread, every band
// reading all 64 U[ξ] again as in the network (4.3 MiB at 128 x 132: from beyond the L2), the
// kernel on U packed as winograd_products.h lays it out and asking for the next U[ξ] as it goes.
// Prints GFLOP/s (2 x MACs), best of 5 runs of 40 bands, and counts outputs that differ from
// sgemm's and from an in-order fused multiply-add loop (both 0 where oneDNN runs AVX-512).
//
//   clang -O2 -ISources/CWinograd/include -o /tmp/wp bench/winograd_products_avx512.c Sources/CWinograd/winograd_products.c -ldnnl -lm
//   OMP_NUM_THREADS=1 /tmp/wp                      (the nets' shapes)
//   OMP_NUM_THREADS=1 /tmp/wp rows inner columns
//
// Needs an x86-64 CPU with AVX-512F, VL and DQ.
#include "winograd_products.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ELEMENTS = 64, BANDS = 40, RUNS = 5 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// winograd_products.h's layout, written out from its description.
static void pack(const float *u, long rows, long inner, float *packed) {
    for (long first = 0; first < rows; first += DIP_WINOGRAD_PRODUCT_BLOCK) {
        long width = rows - first < DIP_WINOGRAD_PRODUCT_BLOCK ? rows - first : DIP_WINOGRAD_PRODUCT_BLOCK;
        long padded = (width + 15) / 16 * 16;
        for (long k = 0; k < inner; k++)
            for (long r = 0; r < padded; r++) packed[first * inner + k * padded + r] = r < width ? u[(first + r) * inner + k] : 0;
    }
}

static void run(long rows, long inner, long columns) {
    const long ld = (columns + 7) / 8 * 8, packed_floats = dip_winograd_packed_floats(rows, inner);
    float *u = malloc(sizeof(float) * ELEMENTS * rows * inner), *p = aligned_alloc(64, sizeof(float) * ELEMENTS * packed_floats);
    float *v = malloc(sizeof(float) * ELEMENTS * inner * ld), *m1 = calloc(ELEMENTS * rows * ld, sizeof(float));
    float *m2 = calloc(ELEMENTS * rows * ld, sizeof(float));
    srand(1);
    for (long i = 0; i < ELEMENTS * rows * inner; i++) u[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < ELEMENTS * inner * ld; i++) v[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long e = 0; e < ELEMENTS; e++) pack(u + e * rows * inner, rows, inner, p + e * packed_floats);
    double best_sgemm = 1e9, best_ours = 1e9;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int b = 0; b < BANDS; b++)
            for (long e = 0; e < ELEMENTS; e++)
                dnnl_sgemm('N', 'N', rows, columns, inner, 1, u + e * rows * inner, inner, v + e * inner * ld, ld, 0,
                           m1 + e * rows * ld, ld);
        double t1 = now();
        for (int b = 0; b < BANDS; b++)
            for (long e = 0; e < ELEMENTS; e++)
                dip_winograd_products(p + e * packed_floats, rows, inner, v + e * inner * ld, ld, columns, m2 + e * rows * ld, ld,
                                      p + (e + 1) % ELEMENTS * packed_floats);
        double t2 = now();
        if (t1 - t0 < best_sgemm) best_sgemm = t1 - t0;
        if (t2 - t1 < best_ours) best_ours = t2 - t1;
    }
    long from_sgemm = 0, from_fma = 0;
    for (long e = 0; e < ELEMENTS; e++)
        for (long o = 0; o < rows; o++)
            for (long j = 0; j < columns; j++) {
                float sum = 0;
                for (long k = 0; k < inner; k++) sum = fmaf(u[(e * rows + o) * inner + k], v[(e * inner + k) * ld + j], sum);
                const float got = m2[(e * rows + o) * ld + j];
                from_sgemm += got != m1[(e * rows + o) * ld + j];
                from_fma += got != sum;
            }
    const double flop = 2.0 * rows * inner * columns * ELEMENTS * BANDS;
    printf("%4ld x %4ld by %4ld x %3ld: sgemm %6.1f GFLOP/s, ours %6.1f GFLOP/s; differing from sgemm %ld, from the FMA loop %ld\n",
           rows, inner, inner, columns, flop / best_sgemm / 1e9, flop / best_ours / 1e9, from_sgemm, from_fma);
    free(u); free(p); free(v); free(m1); free(m2);
}

int main(int argc, char **argv) {
    if (!dip_winograd_products_available()) {
        fprintf(stderr, "winograd_products_avx512: this CPU has no AVX-512F, VL and DQ\n");
        return 1;
    }
    if (argc == 4) {
        run(atol(argv[1]), atol(argv[2]), atol(argv[3]));
        return 0;
    }
    // table1's 132 -> 128 layers forward and backward-data at 258x258 (43 tiles a band) and
    // 130x130 (22), its 128 -> 128 at 130x130, text's 256 -> 128 forward and backward-data.
    const long shapes[][3] = {{128, 132, 43}, {132, 128, 43}, {128, 132, 22}, {132, 128, 22}, {128, 128, 22},
                              {128, 256, 43}, {256, 128, 43}, {128, 256, 22}, {256, 128, 22}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(shapes[i][0], shapes[i][1], shapes[i][2]);
    return 0;
}
