#include "stream_transposed.h"

#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__x86_64__)
/* One run of `count` floats from `s` to `d`: non-temporal stores for the whole 64-byte lines,
   ordinary ones for the parts of lines at its ends; no fence. SSE's 16-byte streaming store is
   baseline x86-64, so no run-time dispatch is needed. Only whole lines are streamed, four stores
   in a row: when the kept copy was one short run per channel, 24-float runs (96 bytes, starting
   mid-line every other band) copied 2.1-2.4 GB/s with their half lines streamed, which the
   write-combining buffers flush as partial writes, against 6.8 this way; 192-byte runs 10.5
   against 13.4 (one thread, a C program on an Intel Xeon; BENCHMARKS.md, nineteenth part). */
static void stream_run(const float *s, float *d, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(d + i) & 63) != 0) { d[i] = s[i]; i++; }
    for (; i + 16 <= count; i += 16) {
        _mm_stream_ps(d + i, _mm_loadu_ps(s + i));
        _mm_stream_ps(d + i + 4, _mm_loadu_ps(s + i + 4));
        _mm_stream_ps(d + i + 8, _mm_loadu_ps(s + i + 8));
        _mm_stream_ps(d + i + 12, _mm_loadu_ps(s + i + 12));
    }
    for (; i < count; i++) d[i] = s[i];
}
#endif

/* Positions a group takes, and source rows a block of a group: the group's transposed block
   (16 KiB at most) stays in the L1 between the transposes that write it and the streaming copy
   that reads it. */
enum { GROUP_POSITIONS = 8, BLOCK_ROWS = 512 };

void dip_stream_transposed(const float *src, ptrdiff_t src_stride, ptrdiff_t rows, ptrdiff_t count, float *dst) {
#if defined(__x86_64__)
    float staging[GROUP_POSITIONS * BLOCK_ROWS] __attribute__((aligned(64)));
    for (ptrdiff_t k0 = 0; k0 < count; k0 += GROUP_POSITIONS) {
        const ptrdiff_t kn = count - k0 < GROUP_POSITIONS ? count - k0 : GROUP_POSITIONS;
        for (ptrdiff_t r0 = 0; r0 < rows; r0 += BLOCK_ROWS) {
            const ptrdiff_t rn = rows - r0 < BLOCK_ROWS ? rows - r0 : BLOCK_ROWS;
            const float *s = src + r0 * src_stride + k0;
            ptrdiff_t i = 0;
            if (kn == GROUP_POSITIONS) {
                // Four rows by four positions at a time, twice: SSE's 4x4 transpose (baseline).
                for (; i + 4 <= rn; i += 4) {
                    const float *si = s + i * src_stride;
                    for (int h = 0; h < GROUP_POSITIONS; h += 4) {
                        __m128 a = _mm_loadu_ps(si + h), b = _mm_loadu_ps(si + src_stride + h);
                        __m128 c = _mm_loadu_ps(si + 2 * src_stride + h), d = _mm_loadu_ps(si + 3 * src_stride + h);
                        _MM_TRANSPOSE4_PS(a, b, c, d);
                        _mm_storeu_ps(staging + h * rn + i, a);
                        _mm_storeu_ps(staging + (h + 1) * rn + i, b);
                        _mm_storeu_ps(staging + (h + 2) * rn + i, c);
                        _mm_storeu_ps(staging + (h + 3) * rn + i, d);
                    }
                }
            }
            for (; i < rn; i++)
                for (ptrdiff_t j = 0; j < kn; j++) staging[j * rn + i] = s[i * src_stride + j];
            float *d = dst + k0 * rows + r0;
            if (rn == rows) {
                stream_run(staging, d, kn * rows);
            } else {
                for (ptrdiff_t j = 0; j < kn; j++) stream_run(staging + j * rn, d + j * rows, rn);
            }
        }
    }
    _mm_sfence();
#else
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t k = 0; k < count; k++) dst[k * rows + r] = src[r * src_stride + k];
#endif
}
