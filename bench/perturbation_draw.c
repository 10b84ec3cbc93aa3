// The perturbation's draw (CLayerKernels' dip_cpu_perturb: Philox4x32-10, Box-Muller, plus z)
// over text's and table1's input code at 256x256, 32 x 256 x 256 = 2^21 values, on one thread:
// the baseline version against the AVX2 and AVX-512 ones, in turns, best of 15 runs each, and a
// check that all give the same bits (as the package's tests check against the Swift reference).
// (Issue 13.)
// Built with clang, as SwiftPM builds the package's C:
//
//   clang -O2 -I Sources/CLayerKernels/include -o /tmp/perturbation_draw bench/perturbation_draw.c \
//       Sources/CLayerKernels/perturbation.c Sources/CLayerKernels/dispatch.c -lm
//   /tmp/perturbation_draw
//
// The AVX2 version takes PERTURB_GROUPS groups of four blocks a step (3 unless the build says
// otherwise), the AVX-512 one PERTURB_GROUPS8 groups of eight (3): add -DPERTURB_GROUPS=N or
// -DPERTURB_GROUPS8=N to the clang line to time another count.
#include "CLayerKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    static const char *names[3] = { "baseline", "AVX2", "AVX-512" };
    const long n = 32L * 256 * 256;
    const unsigned long long blocks = (unsigned long long)(n + 3) / 4;
    float *z = malloc((size_t)n * sizeof(float)), *out[3];
    for (int v = 0; v < 3; v++) out[v] = calloc((size_t)n, sizeof(float));
    if (!z || !out[0] || !out[1] || !out[2]) return 1;
    for (long i = 0; i < n; i++) z[i] = (float)(i % 1000) * 1e-3f - 0.5f;
    int runs[3] = { 0, 0, 0 };
    double best[3] = { 1e9, 1e9, 1e9 };
    // The versions in turns, so that a busy spell of a shared host slows all of them alike.
    for (int run = 0; run < 15; run++) {
        for (int v = 0; v < 3; v++) {
            dip_layer_kernels_force(v);
            if (dip_layer_kernels_isa() != v) continue;
            runs[v] = 1;
            double t0 = now();
            dip_cpu_perturb(z, out[v], n, 0, blocks, 0x2545F491u, 0x9E3779B9u, 7, 0.03);
            double t = now() - t0;
            if (t < best[v]) best[v] = t;
        }
    }
    int same = 1;
    for (int v = 0; v < 3; v++) {
        if (!runs[v]) {
            printf("%-8s not on this CPU\n", names[v]);
            continue;
        }
        printf("%-8s %6.2f ms for %ld values, %.1f ns a value\n", names[v], best[v] * 1e3, n, best[v] / n * 1e9);
        if (memcmp(out[0], out[v], (size_t)n * sizeof(float)) != 0) same = 0;
    }
    printf("same bits: %s\n", same ? "yes" : "no");
    return same ? 0 : 1;
}
