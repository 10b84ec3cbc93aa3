// Where a fit's oneDNN sgemm time goes, shape by shape: an LD_PRELOAD wrapper of `dnnl_sgemm`
// that times every call (CLOCK_MONOTONIC around the real one) and, when the process exits,
// prints to stderr the total CPU seconds spent in sgemm and, for each shape (transposes, m, n,
// k) taking at least 1 % of it, the calls, the seconds and the GFLOP/s (2 x MACs). The calls of
// both threads add up, so the seconds are CPU seconds, not wall time. (Issue 13: the profile
// names sgemm's JIT kernels, not which layer called them; BENCHMARKS.md, twenty-second and
// twenty-third parts.)
//
//   clang -O2 -shared -fPIC -o /tmp/sgemm_census.so bench/sgemm_census.c -ldl
//   LD_PRELOAD=/tmp/sgemm_census.so .build/release/dip-report bench --net table1 --size 256 --threads 2 --iterations 10
//   (add DNNL_MAX_CPU_ISA=AVX2 for oneDNN's AVX2 kernels on an AVX-512 CPU)
//
// The first SGEMM_CENSUS_SKIP calls of each shape (default 2, one per thread of a 2-thread fit)
// are left out of its figures and counted apart: oneDNN generates its kernels on first use, and
// the first call of a small shape can take 30 ms (table1's 4 x 1024 x 128, against 8-10 us
// after), which made it look 30 times slower than it is. The rest of the warm-up iteration
// counts (iterations + 1 in all); oneDNN's own convolutions do not call dnnl_sgemm and are not
// counted.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef int (*sgemm_t)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float,
                       float *, int64_t);

enum { SHAPES = 512 };

static struct shape {
    char transa, transb;
    int64_t m, n, k;
    double seconds, skipped;
    long calls;
} shapes[SHAPES];
static int count;
static long uncounted;
static long skip = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static sgemm_t real;
static pthread_once_t found = PTHREAD_ONCE_INIT;

// The real dnnl_sgemm, looked up once (both threads call the wrapper from the first iteration on).
static void find_real(void) { real = (sgemm_t)dlsym(RTLD_NEXT, "dnnl_sgemm"); }

int dnnl_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
               const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    pthread_once(&found, find_real);
    if (!real) return 5; // dnnl_runtime_error: no libdnnl behind this wrapper
    const double start = now();
    const int status = real(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    const double seconds = now() - start;
    pthread_mutex_lock(&lock);
    if (skip < 0) {
        const char *text = getenv("SGEMM_CENSUS_SKIP");
        skip = text ? atol(text) : 2;
        if (skip < 0) skip = 0;
    }
    int i = 0;
    while (i < count && !(shapes[i].transa == transa && shapes[i].transb == transb && shapes[i].m == m && shapes[i].n == n &&
                          shapes[i].k == k))
        i++;
    if (i == count && count < SHAPES) shapes[count++] = (struct shape){transa, transb, m, n, k, 0, 0, 0};
    if (i < count) {
        if (shapes[i].calls < skip) {
            shapes[i].skipped += seconds;
        } else {
            shapes[i].seconds += seconds;
        }
        shapes[i].calls++;
    } else {
        uncounted++;
    }
    pthread_mutex_unlock(&lock);
    return status;
}

__attribute__((destructor)) static void report(void) {
    double total = 0, skipped = 0;
    for (int i = 0; i < count; i++) total += shapes[i].seconds, skipped += shapes[i].skipped;
    if (count == 0) return;
    fprintf(stderr, "sgemm: %.3f s of CPU in %d shapes%s, and %.3f s in the first %ld calls of each\n", total, count,
            uncounted ? " (more shapes not counted)" : "", skipped, skip);
    for (int i = 0; i < count; i++) {
        const struct shape *s = &shapes[i];
        const long counted = s->calls > skip ? s->calls - skip : 0;
        if (counted == 0 || s->seconds < 0.01 * total) continue;
        fprintf(stderr, "  %c%c %5ld x %5ld x %5ld: %7ld calls, %7.3f s, %6.1f GFLOP/s\n", s->transa, s->transb, (long)s->m,
                (long)s->n, (long)s->k, counted, s->seconds, 2.0 * s->m * s->n * s->k * counted / s->seconds / 1e9);
    }
}
