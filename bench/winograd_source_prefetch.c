// The source side of one thread's Winograd F(6x6, 3x3) forward at text's 256->128 layer, as the
// band loop of Sources/DIPEngine/CPU/WinogradConvolution.swift runs it: for every other band of
// one tile row (22 of the 43), for each of the 256 channels of a 258x258 source (68 MB, so from
// memory), the phase split of the band's 8 source rows and the eight-tile input transforms into
// the band's V. With PREFETCH 1 the next channel's rows are prefetched before each channel
// (dip_prefetch_runs, as the band loop does). A 64 MiB buffer is written between runs to push
// the source out of the caches. (Issue 13, BENCHMARKS.md, eleventh part.) Built with clang, as
// SwiftPM builds the package's C:
//
//   clang -O2 -I Sources/CWinograd/include -o /tmp/winograd_source_prefetch \
//       bench/winograd_source_prefetch.c Sources/CWinograd/winograd63_avx2.c Sources/CWinograd/prefetch_runs.c
//   /tmp/winograd_source_prefetch 0; /tmp/winograd_source_prefetch 1
//
// Prints, per run, the ms spent splitting rows and transforming tiles. Needs AVX2.
#include "prefetch_runs.h"
#include "winograd_avx2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const int prefetch = argc > 1 && atoi(argv[1]) != 0;
    // 43 tiles a row rounded to 48 positions; the strip's phase stride one more; V's stride
    // between elements skewed off 4 KiB as skewedStride does.
    const long channels = 256, height = 258, width = 258, positions = 48, phase = positions + 1;
    const long v_stride = (channels * positions + 1023) / 1024 * 1024 + 16;
    float *source = malloc(sizeof(float) * channels * height * width);
    float *strip = calloc(8 * 6 * phase, sizeof(float));
    float *v = malloc(sizeof(float) * 64 * v_stride);
    char *flush = malloc(64 << 20);
    if (!source || !strip || !v || !flush) return 1;
    for (long i = 0; i < channels * height * width; i++) source[i] = (float)(i % 1013) * 0.001f;
    memset(v, 0, sizeof(float) * 64 * v_stride);
    for (int run = 0; run < 5; run++) {
        memset(flush, run, 64 << 20);
        double split = 0, transform = 0;
        for (long band = 0; band < 43; band += 2) {
            const long first = 6 * band, rows = first + 8 <= height ? 8 : height - first;
            for (long c = 0; c < channels; c++) {
                const double t0 = now();
                if (prefetch && c + 1 < channels)
                    dip_prefetch_runs(source + ((c + 1) * height + first) * width, 1, 0, rows * width * (long)sizeof(float), 0);
                const float *plane = source + c * height * width;
                for (long r = 0; r < rows; r++)
                    dip_winograd_split6_row_avx2(plane + (first + r) * width, width, 0, strip + r * 6 * phase, phase);
                const double t1 = now();
                for (long tx = 0; tx < positions; tx += 8)
                    dip_winograd63_input_avx2(strip + tx, phase, v + c * positions + tx, v_stride);
                transform += now() - t1;
                split += t1 - t0;
            }
        }
        printf("prefetch %d: split %.2f ms, transform %.2f ms\n", prefetch, split * 1e3, transform * 1e3);
    }
    return 0;
}
