// The perturbation's draw (CLayerKernels' dip_cpu_perturb: Philox4x32-10, Box-Muller, plus z)
// over text's and table1's input code at 256x256, 32 x 256 x 256 = 2^21 values, on one thread:
// the baseline version against the AVX2 one, best of 5 runs each, and a check that both give
// the same bits (as the package's tests check against the Swift reference). (Issue 13.)
// Built with clang, as SwiftPM builds the package's C:
//
//   clang -O2 -I Sources/CLayerKernels/include -o /tmp/perturbation_draw bench/perturbation_draw.c \
//       Sources/CLayerKernels/perturbation.c Sources/CLayerKernels/dispatch.c -lm
//   /tmp/perturbation_draw
//
// The AVX2 version takes PERTURB_GROUPS groups of four blocks a step (3 unless the build says
// otherwise): add -DPERTURB_GROUPS=N to the clang line to time another count.
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
    const long n = 32L * 256 * 256;
    const unsigned long long blocks = (unsigned long long)(n + 3) / 4;
    float *z = malloc((size_t)n * sizeof(float)), *out[2];
    for (int v = 0; v < 2; v++) out[v] = calloc((size_t)n, sizeof(float));
    if (!z || !out[0] || !out[1]) return 1;
    for (long i = 0; i < n; i++) z[i] = (float)(i % 1000) * 1e-3f - 0.5f;
    for (int v = 0; v < 2; v++) {
        dip_layer_kernels_force(v);
        if (dip_layer_kernels_isa() != v) {
            printf("%-8s not on this CPU\n", v ? "AVX2" : "baseline");
            continue;
        }
        double best = 1e9;
        for (int run = 0; run < 5; run++) {
            double t0 = now();
            dip_cpu_perturb(z, out[v], n, 0, blocks, 0x2545F491u, 0x9E3779B9u, 7, 0.03);
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("%-8s %6.2f ms for %ld values, %.1f ns a value\n", v ? "AVX2" : "baseline", best * 1e3, n, best / n * 1e9);
    }
    int same = memcmp(out[0], out[1], (size_t)n * sizeof(float)) == 0;
    printf("same bits: %s\n", same ? "yes" : "no");
    return same ? 0 : 1;
}
