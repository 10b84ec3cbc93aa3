// The 1x1 layer's forward product, 128 -> 128 channels over 65536 pixels (a 256x256 level), in
// blocks of 1024 pixels copied as PointwiseConvolution does (for sgemm to rows 1040 floats apart,
// for ours by dip_pointwise_copy): oneDNN's sgemm (the bias written first, beta 1) against our
// FMA kernel (Sources/CPointwise), the output rows a plane apart; best of 5 runs, the blocks
// split between THREADS threads (default 2), each calling single-threaded sgemm. (Issue 13.)
// Built with clang, as SwiftPM builds the package's C:
//
//   clang -O2 -pthread -I Sources/CPointwise/include -o /tmp/pointwise_product \
//       bench/pointwise_product.c Sources/CPointwise/pointwise.c -ldnnl
//   OMP_NUM_THREADS=1 /tmp/pointwise_product [THREADS]                          (AVX-512 where the CPU has it)
//   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 /tmp/pointwise_product [THREADS] avx2  (both on AVX2)
//
// Prints GFLOP/s (2 x MACs) and ms per product, and the largest difference between the two.
#include "CPointwise.h"

#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { channels = 128, pixels = 65536, block = 1024, ld = block + 16 };

static int isa, threads, own;
static float *x, *y, *mine, *w, *bias, *packed, *copies;

/* Thread `part`'s share of the blocks. */
static void *blocks_of(void *arg) {
    const long part = (long)arg;
    float *copy = copies + part * channels * ld;
    const long blocks = pixels / block;
    for (long b = blocks * part / threads; b < blocks * (part + 1) / threads; b++) {
        const long lo = b * block;
        if (own) {
            dip_pointwise_copy(isa, x + lo, pixels, channels, block, copy, ld);
            dip_pointwise_product(isa, packed, channels, channels, copy, ld, block, mine + lo, pixels, bias, 0);
        } else {
            for (long r = 0; r < channels; r++) memcpy(copy + r * ld, x + r * pixels + lo, sizeof(float) * block);
            for (long o = 0; o < channels; o++) for (long i = 0; i < block; i++) y[o * pixels + lo + i] = bias[o];
            dnnl_sgemm('N', 'N', channels, block, channels, 1, w, channels, copy, ld, 1, y + lo, pixels);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 2;
    isa = argc > 2 && strcmp(argv[2], "avx2") == 0 ? DIP_POINTWISE_AVX2 : DIP_POINTWISE_AVX512;
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "THREADS must be 1 to 64\n");
        return 2;
    }
    if (!(dip_pointwise_available() & isa)) {
        fprintf(stderr, "pointwise_product: this CPU lacks the %s kernel's instructions\n", isa == DIP_POINTWISE_AVX2 ? "AVX2" : "AVX-512");
        return 2;
    }
    x = aligned_alloc(64, sizeof(float) * channels * pixels);
    y = aligned_alloc(64, sizeof(float) * channels * pixels);
    mine = aligned_alloc(64, sizeof(float) * channels * pixels);
    w = aligned_alloc(64, sizeof(float) * channels * channels);
    bias = aligned_alloc(64, sizeof(float) * channels);
    packed = aligned_alloc(64, sizeof(float) * (size_t)dip_pointwise_packed_floats(isa, channels, channels));
    copies = aligned_alloc(64, sizeof(float) * channels * ld * (size_t)threads);
    if (!x || !y || !mine || !w || !bias || !packed || !copies) { fprintf(stderr, "out of memory\n"); return 1; }
    for (long i = 0; i < channels * pixels; i++) x[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (long i = 0; i < channels * channels; i++) w[i] = (float)(i % 3) * 0.1f - 0.1f;
    for (long i = 0; i < channels; i++) bias[i] = (float)i * 0.01f;
    dip_pointwise_pack(isa, w, channels, channels, channels, 1, packed);
    for (own = 0; own < 2; own++) {
        double best = 1e9;
        for (int run = 0; run < 5; run++) {
            pthread_t t[64];
            double start = now();
            for (long p = 0; p < threads; p++) pthread_create(&t[p], NULL, blocks_of, (void *)p);
            for (long p = 0; p < threads; p++) pthread_join(t[p], NULL);
            double elapsed = now() - start;
            if (elapsed < best) best = elapsed;
        }
        printf("%s, %d threads: %.0f GFLOP/s, %.2f ms\n", own ? "our FMA kernel" : "oneDNN sgemm", threads,
               2.0 * channels * channels * pixels / best * 1e-9, best * 1e3);
    }
    double worst = 0;
    for (long i = 0; i < channels * pixels; i++) {
        double d = (double)y[i] - (double)mine[i];
        if (d < 0) d = -d;
        if (d > worst) worst = d;
    }
    printf("largest difference: %g\n", worst);
    return 0;
}
