// What do the AVX2 Winograd steps cost, F(4x4, 3x3) against F(6x6, 3x3)? (Issue 13: F(6x6, 3x3)
// does 21 % fewer products per output, but its phase split and merge are by six, not four, and
// its transforms are larger.) Times, on one thread with the data in cache, the phase split of a
// 258-column row (the forward's source), the merge of a 256-column row, and the input and output
// transforms of eight tiles, per call and per output pixel of the eight tiles (16 or 36 each);
// best of 5 runs.
//
//   clang -O2 -I Sources/CWinograd/include -o /tmp/winograd_steps bench/winograd_steps.c \
//       Sources/CWinograd/winograd_avx2.c Sources/CWinograd/winograd63_avx2.c
//   /tmp/winograd_steps
//
// Needs an AVX2 CPU.
#include "winograd_avx2.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// One timed step: `calls` calls of `body` (which sees the call's index r), best of 5, in ns.
#define BEST_NS(calls, body)                                        \
    ({                                                              \
        double best = 1e9;                                          \
        for (int run = 0; run < 5; run++) {                         \
            double t0 = now();                                      \
            for (int r = 0; r < (calls); r++) { body; }             \
            double t = (now() - t0) / (calls);                      \
            if (t < best) best = t;                                 \
        }                                                           \
        best * 1e9;                                                 \
    })

int main(void) {
    if (!dip_winograd_avx2_available() || !__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "winograd_steps: this CPU or build has no AVX2\n");
        return 1;
    }
    enum { width = 258, rows = 64, stride = 4112 };
    float *row = malloc(sizeof(float) * width * rows), *phases = calloc(100000, sizeof(float)),
          *v = calloc(64 * stride + 64, sizeof(float));
    if (!row || !phases || !v) return 1;
    for (int i = 0; i < width * rows; i++) row[i] = (float)(i % 97) * 0.01f;
    // Phase strides as WinogradTiling makes them for these widths: tiles rounded up to eight,
    // plus one (the source strip) or not (the output strip).
    const int split4 = 72 + 1, split6 = 48 + 1, merge4 = 64, merge6 = 48;

    double s4 = BEST_NS(200000, dip_winograd_split_row_avx2(row + (r & 63) * width, width, 0, phases, split4));
    double s6 = BEST_NS(200000, dip_winograd_split6_row_avx2(row + (r & 63) * width, width, 0, phases, split6));
    printf("split of a %d-column row:  by four %6.1f ns, by six %6.1f ns\n", width, s4, s6);
    double m4 = BEST_NS(200000, dip_winograd_merge_row_avx2(phases, merge4, row + (r & 63) * width, 256));
    double m6 = BEST_NS(200000, dip_winograd_merge6_row_avx2(phases, merge6, row + (r & 63) * width, 256));
    printf("merge of a 256-column row: by four %6.1f ns, by six %6.1f ns\n", m4, m6);
    double i4 = BEST_NS(2000000, dip_winograd_input_avx2(phases + (r & 7) * 8, split4, v + (r & 7) * 8, stride));
    double i6 = BEST_NS(2000000, dip_winograd63_input_avx2(phases + (r & 7) * 8, split6, v + (r & 7) * 8, stride));
    printf("input transform, 8 tiles:  F(4x4,3x3) %6.1f ns (%.3f ns per output), F(6x6,3x3) %6.1f ns (%.3f)\n",
           i4, i4 / 128, i6, i6 / 288);
    double o4 = BEST_NS(2000000, dip_winograd_output_avx2(v + (r & 7) * 8, stride, 0.5f, phases + (r & 7) * 8, merge4));
    double o6 = BEST_NS(2000000, dip_winograd63_output_avx2(v + (r & 7) * 8, stride, 0.5f, phases + (r & 7) * 8, merge6));
    printf("output transform, 8 tiles: F(4x4,3x3) %6.1f ns (%.3f ns per output), F(6x6,3x3) %6.1f ns (%.3f)\n",
           o4, o4 / 128, o6, o6 / 288);
    free(row);
    free(phases);
    free(v);
    return 0;
}
