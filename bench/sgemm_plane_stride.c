// Does the distance between a GEMM operand's rows change oneDNN's sgemm speed? (Issue 13: the
// 1x1 layers multiply straight from [C, H, W] tensors, whose rows, one per channel, lie a plane
// apart; at 64x64 and up a plane is a multiple of 4 KiB.) The 1x1 layer's forward (NN: weight
// times input block) and backward-data (TN: weightᵀ times output-gradient block) products over
// 128 channels and 65536 pixels, in column blocks as PointwiseConvolution cuts them, with the
// activation rows a plane apart (65536 floats) and 16 floats further (65552); best of 4 runs.
//
//   gcc -O2 -o /tmp/sgemm_plane_stride bench/sgemm_plane_stride.c -ldnnl
//   OMP_NUM_THREADS=1 /tmp/sgemm_plane_stride [BLOCK]                     (default 1024)
//   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 /tmp/sgemm_plane_stride      (AVX2 on an AVX-512 CPU)
//
// Prints GFLOP/s (2 x MACs) per pass and row distance.
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const long channels = 128, pixels = 65536, block = argc > 1 ? atol(argv[1]) : 1024;
    if (block <= 0 || block > pixels) {
        fprintf(stderr, "BLOCK must be 1 to %ld pixels\n", pixels);
        return 2;
    }
    for (int skewed = 0; skewed < 2; skewed++) {
        const long ld = skewed ? pixels + 16 : pixels;
        float *x = aligned_alloc(64, sizeof(float) * channels * ld), *y = aligned_alloc(64, sizeof(float) * channels * ld);
        float *w = aligned_alloc(64, sizeof(float) * channels * channels);
        if (!x || !y || !w) { fprintf(stderr, "out of memory\n"); return 1; }
        for (long i = 0; i < channels * ld; i++) { x[i] = (float)(i % 7) * 0.1f; y[i] = (float)(i % 5) * 0.1f; }
        for (long i = 0; i < channels * channels; i++) w[i] = (float)(i % 3) * 0.1f;
        double forward = 1e9, backward = 1e9;
        for (int run = 0; run < 4; run++) {
            double t = now();
            for (long j = 0; j < pixels; j += block) {
                const long n = pixels - j < block ? pixels - j : block;
                if (dnnl_sgemm('N', 'N', channels, n, channels, 1, w, channels, x + j, ld, 0, y + j, ld) != dnnl_success) return 1;
            }
            t = now() - t;
            if (t < forward) forward = t;
            t = now();
            for (long j = 0; j < pixels; j += block) {
                const long n = pixels - j < block ? pixels - j : block;
                if (dnnl_sgemm('T', 'N', channels, n, channels, 1, w, channels, y + j, ld, 0, x + j, ld) != dnnl_success) return 1;
            }
            t = now() - t;
            if (t < backward) backward = t;
        }
        const double flops = 2.0 * (double)channels * (double)channels * (double)pixels;
        printf("rows %ld floats apart, blocks of %ld: forward (NN) %.0f GFLOP/s, backward-data (TN) %.0f GFLOP/s\n",
               ld, block, flops / forward * 1e-9, flops / backward * 1e-9);
        free(x); free(y); free(w);
    }
    return 0;
}
