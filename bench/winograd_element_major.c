// Whether the Winograd forward's products of a large F(8x8, 3x3) layer wait for U: today's
// passes take the bands in the outer loop, so every band reads all 100 U[ξ] again (12.5 MiB at
// text's 256 -> 128 layer, beyond the L2). Three orders of the same products, with the AVX-512
// kernel of Sources/CWinograd/winograd_products.c, the same sums (each output the in-order
// fused multiply-add sum), no transforms:
// - band-major (today's): for each band, for each ξ, M[ξ] = U[ξ] · V[ξ] of the band's tiles;
// - element-major: for each ξ, one product over all the layer's tiles (V[ξ] of the whole layer,
//   1.1 MiB, rows of 1122 positions);
// - elements outside bands: for each ξ, for each band, on the band-major layout: each U[ξ] read
//   once a pass and kept in the L2 while the bands' V[ξ] go by.
// Two threads (each half of the bands, or of the elements), best of RUNS, ms a pass and GFLOP/s
// over the used positions; counts outputs that differ between the orders (0). The default shape
// is text's 256 -> 128 layer at 258x258 (33 bands of 34 positions, 33 used).
//
//   clang -O2 -pthread -ISources/CWinograd/include -o /tmp/em bench/winograd_element_major.c \
//       Sources/CWinograd/winograd_products.c -lm
//   /tmp/em [rows inner bands positions threads]
//
// Needs an x86-64 CPU with AVX-512F, VL and DQ. (BENCHMARKS.md, thirty-sixth part.)
#include "winograd_products.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { ELEMENTS = 100, RUNS = 5 };

static long rows = 128, inner = 256, bands = 33, positions = 34, used = 33, threads = 2;
static float *packed, *v_band, *m_band, *m_band2, *v_elem, *m_elem;
static long packed_floats;
static int element_major;
static pthread_barrier_t start;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Band-major: V and M of band b, element e at ((b * ELEMENTS + e) * inner) * positions; element
// major: V[ξ] of all the layer's positions, band b's tiles at column b * positions.
static void *work(void *arg) {
    const long part = (long)arg;
    pthread_barrier_wait(&start);
    if (element_major == 2) {
        // Elements outside, bands inside, on the band-major layout: each U[ξ] stays in the L2
        // while every band's V[ξ] (one row of tiles) goes by.
        for (long e = part; e < ELEMENTS; e += threads)
            for (long b = 0; b < bands; b++)
                dip_winograd_products(packed + e * packed_floats, rows, inner, v_band + (b * ELEMENTS + e) * inner * positions,
                                      positions, used, m_band2 + (b * ELEMENTS + e) * rows * positions, positions,
                                      b + 1 == bands && e + threads < ELEMENTS ? packed + (e + threads) * packed_floats : NULL);
    } else if (element_major) {
        const long all = bands * positions;
        for (long e = part; e < ELEMENTS; e += threads)
            dip_winograd_products(packed + e * packed_floats, rows, inner, v_elem + e * inner * all, all, all,
                                  m_elem + e * rows * all, all,
                                  e + threads < ELEMENTS ? packed + (e + threads) * packed_floats : NULL);
    } else {
        for (long b = part; b < bands; b += threads)
            for (long e = 0; e < ELEMENTS; e++)
                dip_winograd_products(packed + e * packed_floats, rows, inner, v_band + (b * ELEMENTS + e) * inner * positions,
                                      positions, used, m_band + (b * ELEMENTS + e) * rows * positions, positions,
                                      packed + (e + 1) % ELEMENTS * packed_floats);
    }
    return NULL;
}

static double pass(int major) {
    element_major = major;
    pthread_t t[16];
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, (void *)i);
    pthread_barrier_wait(&start);
    const double t0 = now();
    for (long i = 0; i < threads; i++) pthread_join(t[i], NULL);
    const double s = now() - t0;
    pthread_barrier_destroy(&start);
    return s;
}

int main(int argc, char **argv) {
    if (!dip_winograd_products_available()) {
        fprintf(stderr, "winograd_element_major: this CPU has no AVX-512F, VL and DQ\n");
        return 1;
    }
    if (argc == 6) {
        rows = atol(argv[1]), inner = atol(argv[2]), bands = atol(argv[3]), positions = atol(argv[4]), threads = atol(argv[5]);
        used = positions - 1;
    }
    if (rows < 1 || inner < 1 || bands < 1 || positions < 2 || threads < 1 || threads > 16) {
        fprintf(stderr, "winograd_element_major: rows inner bands positions threads (positions >= 2, 1-16 threads)\n");
        return 1;
    }
    packed_floats = dip_winograd_packed_floats(rows, inner);
    const long v_floats = ELEMENTS * bands * inner * positions, m_floats = ELEMENTS * bands * rows * positions;
    packed = aligned_alloc(64, sizeof(float) * ELEMENTS * packed_floats);
    v_band = aligned_alloc(64, sizeof(float) * v_floats), m_band = aligned_alloc(64, sizeof(float) * m_floats);
    m_band2 = aligned_alloc(64, sizeof(float) * m_floats);
    v_elem = aligned_alloc(64, sizeof(float) * v_floats), m_elem = aligned_alloc(64, sizeof(float) * m_floats);
    if (!packed || !v_band || !m_band || !m_band2 || !v_elem || !m_elem) {
        fprintf(stderr, "winograd_element_major: out of memory\n");
        return 1;
    }
    srand(1);
    for (long i = 0; i < ELEMENTS * packed_floats; i++) packed[i] = rand() / (float)RAND_MAX - 0.5f;
    // The same V in both layouts (the columns past `used` of each band too).
    const long all = bands * positions;
    for (long b = 0; b < bands; b++)
        for (long e = 0; e < ELEMENTS; e++)
            for (long k = 0; k < inner; k++)
                for (long j = 0; j < positions; j++) {
                    const float x = rand() / (float)RAND_MAX - 0.5f;
                    v_band[((b * ELEMENTS + e) * inner + k) * positions + j] = x;
                    v_elem[(e * inner + k) * all + b * positions + j] = x;
                }
    memset(m_band, 0, sizeof(float) * m_floats);
    memset(m_band2, 0, sizeof(float) * m_floats);
    memset(m_elem, 0, sizeof(float) * m_floats);
    double best[3] = {1e9, 1e9, 1e9};
    for (int r = 0; r < RUNS; r++)
        for (int major = 0; major < 3; major++) {
            const double s = pass(major);
            if (s < best[major]) best[major] = s;
        }
    // The element-major pass computes the columns past `used` too (one product over all the
    // layer's positions): count only the used ones on both sides, and check them.
    long differing = 0;
    for (long b = 0; b < bands; b++)
        for (long e = 0; e < ELEMENTS; e++)
            for (long o = 0; o < rows; o++)
                for (long j = 0; j < used; j++)
                    differing += m_band[((b * ELEMENTS + e) * rows + o) * positions + j] != m_elem[(e * rows + o) * all + b * positions + j]
                                 || m_band[((b * ELEMENTS + e) * rows + o) * positions + j] != m_band2[((b * ELEMENTS + e) * rows + o) * positions + j];
    const double flop = 2.0 * ELEMENTS * rows * inner * bands * used;
    printf("%ld x %ld by %ld x (%ld bands x %ld positions), %d elements, %ld threads: band-major %.1f ms (%.0f GFLOP/s), "
           "element-major %.1f ms (%.0f GFLOP/s), elements outside bands %.1f ms (%.0f GFLOP/s); outputs differing %ld\n",
           rows, inner, inner, bands, positions, (int)ELEMENTS, threads, 1e3 * best[0], flop / best[0] / 1e9, 1e3 * best[1],
           flop / best[1] / 1e9, 1e3 * best[2], flop / best[2] / 1e9, differing);
    return 0;
}
