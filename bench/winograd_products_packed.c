// The packed products of the Winograd band passes (Sources/CWinograd/winograd_products.c's
// AVX-512 kernel, as WinogradBandSteps.products calls it, and the AVX2 candidate in
// bench/winograd_products_avx2.c, not kept) against oneDNN's sgemm on the same operands: one
// band's products M[ξ] = U[ξ] (rows x inner) · V[ξ] (inner x columns), one per element (64 for
// F(6x6, 3x3), 100 for F(8x8, 3x3)), one thread, every band reading all U[ξ] again as in the
// network (from beyond the L2), the kernels on U packed as winograd_products.h lays it out and
// asking for the next U[ξ] as they go. Prints GFLOP/s (2 x MACs), best of 5 runs of 40 bands,
// and counts outputs that differ from an in-order fused multiply-add loop (0 for both kernels)
// and from sgemm's (0 where oneDNN runs AVX-512).
// (Before the thirty-sixth part: bench/winograd_products_avx512.c, the AVX-512 kernel alone.)
//
//   clang -O2 -ISources/CWinograd/include -o /tmp/wp bench/winograd_products_packed.c \
//       Sources/CWinograd/winograd_products.c bench/winograd_products_avx2.c -ldnnl -lm
//   OMP_NUM_THREADS=1 /tmp/wp                      (the nets' shapes)
//   OMP_NUM_THREADS=1 /tmp/wp rows inner columns [elements [sets]]
//     (sets: bands cycle through that many copies of V and M, so each band's V comes from beyond
//     the L2 as a freshly transformed one does in the network; 1, the default, reuses one)
//   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 /tmp/wp   (sgemm on AVX2 where the CPU has AVX-512)
//
// Needs an x86-64 CPU with AVX2 and FMA; the AVX-512 column needs AVX-512F, VL and DQ.
#include "winograd_packed_u.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void dip_winograd_products_avx2(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v, ptrdiff_t v_stride,
                                ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next, ptrdiff_t next_lines);

enum { AVX2 = 1, AVX512 = 2 };

enum { MAX_ELEMENTS = 100, BANDS = 40, RUNS = 5 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int versions;
static long sets = 1; // copies of V and M the bands cycle through

static double time_kernel(int isa, long e_count, const float *p, long packed_floats, long rows, long inner, const float *v,
                          long ld, long columns, float *m) {
    double best = 1e9;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int b = 0; b < BANDS; b++)
            for (long e = 0; e < e_count; e++)
                if (isa == AVX512)
                    dip_winograd_products(p + e * packed_floats, rows, inner, v + (b % sets * e_count + e) * inner * ld, ld,
                                          columns, m + (b % sets * e_count + e) * rows * ld,
                                          ld, p + (e + 1) % e_count * packed_floats);
                else
                    dip_winograd_products_avx2(p + e * packed_floats, rows, inner, v + (b % sets * e_count + e) * inner * ld,
                                               ld, columns, m + (b % sets * e_count + e) * rows * ld, ld,
                                               p + (e + 1) % e_count * packed_floats,
                                               packed_floats / 16);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static void run(long rows, long inner, long columns, long e_count) {
    const long ld = (columns + 7) / 8 * 8, packed_floats = dip_winograd_packed_floats(rows, inner);
    float *u = malloc(sizeof(float) * e_count * rows * inner), *p = aligned_alloc(64, sizeof(float) * e_count * packed_floats);
    float *v = malloc(sizeof(float) * sets * e_count * inner * ld), *m1 = calloc(sets * e_count * rows * ld, sizeof(float));
    float *m[3] = {0, calloc(sets * e_count * rows * ld, sizeof(float)), calloc(sets * e_count * rows * ld, sizeof(float))};
    srand(1);
    for (long i = 0; i < e_count * rows * inner; i++) u[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long i = 0; i < sets * e_count * inner * ld; i++) v[i] = rand() / (float)RAND_MAX - 0.5f;
    for (long e = 0; e < e_count; e++) pack_u(u + e * rows * inner, rows, inner, p + e * packed_floats);
    double best_sgemm = 1e9, best[3] = {0, 0, 0};
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int b = 0; b < BANDS; b++)
            for (long e = 0; e < e_count; e++)
                dnnl_sgemm('N', 'N', rows, columns, inner, 1, u + e * rows * inner, inner,
                           v + (b % sets * e_count + e) * inner * ld, ld, 0, m1 + (b % sets * e_count + e) * rows * ld, ld);
        double t1 = now();
        if (t1 - t0 < best_sgemm) best_sgemm = t1 - t0;
    }
    for (int isa = 1; isa <= 2; isa++)
        if (versions & isa) best[isa] = time_kernel(isa, e_count, p, packed_floats, rows, inner, v, ld, columns, m[isa]);
    long from_sgemm[3] = {0, 0, 0}, from_fma[3] = {0, 0, 0};
    for (long e = 0; e < e_count; e++)
        for (long o = 0; o < rows; o++)
            for (long j = 0; j < columns; j++) {
                float sum = 0;
                for (long k = 0; k < inner; k++) sum = fmaf(u[(e * rows + o) * inner + k], v[(e * inner + k) * ld + j], sum);
                for (int isa = 1; isa <= 2; isa++) {
                    if (!(versions & isa)) continue;
                    const float got = m[isa][(e * rows + o) * ld + j];
                    from_sgemm[isa] += got != m1[(e * rows + o) * ld + j];
                    from_fma[isa] += got != sum;
                }
            }
    const double flop = 2.0 * rows * inner * columns * e_count * BANDS;
    printf("%4ld x %4ld by %4ld x %3ld, %3ld elements: sgemm %6.1f GFLOP/s", rows, inner, inner, columns, e_count,
           flop / best_sgemm / 1e9);
    const char *names[3] = {"", "avx2", "avx512"};
    for (int isa = 1; isa <= 2; isa++)
        if (versions & isa)
            printf(", %s %6.1f (differing from sgemm %ld, from the FMA loop %ld)", names[isa], flop / best[isa] / 1e9,
                   from_sgemm[isa], from_fma[isa]);
    printf("\n");
    free(u); free(p); free(v); free(m1); free(m[1]); free(m[2]);
}

int main(int argc, char **argv) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "winograd_products_packed: this CPU has no AVX2 and FMA\n");
        return 1;
    }
    versions = AVX2 | (dip_winograd_products_available() ? AVX512 : 0);
    if (argc >= 4) {
        long e_count = argc >= 5 ? atol(argv[4]) : 64;
        if (e_count < 1 || e_count > MAX_ELEMENTS) e_count = 64;
        if (argc >= 6) sets = atol(argv[5]) < 1 ? 1 : atol(argv[5]) > 16 ? 16 : atol(argv[5]);
        run(atol(argv[1]), atol(argv[2]), atol(argv[3]), e_count);
        return 0;
    }
    // F(6x6, 3x3): table1's 132 -> 128 layers forward and backward-data at 258x258 (43 tiles a
    // band) and 130x130 (22), its 128 -> 128 at 130x130. F(8x8, 3x3) (one tile row a band): 33
    // tiles at 258x258, text's 256 -> 128 forward and backward-data, table1's 132 -> 128.
    const long shapes[][4] = {{128, 132, 43, 64}, {132, 128, 43, 64}, {128, 132, 22, 64}, {132, 128, 22, 64},
                              {128, 128, 22, 64}, {128, 256, 33, 100}, {256, 128, 33, 100}, {128, 132, 33, 100},
                              {132, 128, 33, 100}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
    return 0;
}
