// What a pass over a large tensor can move on this machine: reads, copies and writes of 64 MiB
// a thread (twice a 256x256 layer's 128 channels, far past any L2), with 256-bit loads and
// ordinary stores as the BatchNorm, upsampling and transform passes use, on 1 and on 2 threads.
// Prints GB/s, best of 5; a copy counts the bytes read and written. (Issue 13, thirty-eighth part
// of BENCHMARKS.md: the passes outside the products move tensors at about these rates, so a
// host's bandwidth share, not its clock, sets their time.)
//
//   clang -O2 -mavx2 -pthread -o /tmp/bw bench/memory_bandwidth.c && /tmp/bw
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BYTES = 64 << 20, RUNS = 5 };

static float *source[2], *destination[2];
static int mode; // 0 read, 1 copy, 2 write

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *pass(void *argument) {
    const long t = (long)argument, n = BYTES / sizeof(float);
    const float *x = source[t];
    float *y = destination[t];
    if (mode == 0) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0;
        for (long i = 0; i < n; i += 16) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        }
        volatile float keep = _mm256_cvtss_f32(_mm256_add_ps(s0, s1));
        (void)keep;
    } else if (mode == 1) {
        for (long i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, _mm256_loadu_ps(x + i));
    } else {
        const __m256 one = _mm256_set1_ps(1);
        for (long i = 0; i < n; i += 8) _mm256_storeu_ps(y + i, one);
    }
    return NULL;
}

int main(void) {
    for (int t = 0; t < 2; t++) {
        source[t] = aligned_alloc(64, BYTES);
        destination[t] = aligned_alloc(64, BYTES);
        if (!source[t] || !destination[t]) {
            fprintf(stderr, "memory_bandwidth: out of memory\n");
            return 1;
        }
        memset(source[t], 1, BYTES);
        memset(destination[t], 1, BYTES);
    }
    const char *names[3] = {"read", "copy", "write"};
    for (mode = 0; mode < 3; mode++)
        for (long threads = 1; threads <= 2; threads++) {
            double best = 1e9;
            for (int r = 0; r < RUNS; r++) {
                pthread_t id[2];
                const double t0 = now();
                for (long t = 0; t < threads; t++) pthread_create(&id[t], NULL, pass, (void *)t);
                for (long t = 0; t < threads; t++) pthread_join(id[t], NULL);
                const double dt = now() - t0;
                if (dt < best) best = dt;
            }
            const double bytes = (mode == 1 ? 2.0 : 1.0) * BYTES * threads;
            printf("%-5s %ld thread%s: %5.1f GB/s\n", names[mode], threads, threads > 1 ? "s" : "", bytes / best / 1e9);
        }
    return 0;
}
