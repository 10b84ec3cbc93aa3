#include "stream_rows.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

void dip_stream_rows(const float *src, ptrdiff_t src_stride, float *dst, ptrdiff_t dst_stride, ptrdiff_t rows,
                     ptrdiff_t count) {
#if defined(__x86_64__)
    // SSE's 16-byte streaming store is baseline x86-64, so no run-time dispatch is needed. Only
    // whole 64-byte lines are streamed, four stores in a row; the parts of lines at a row's ends
    // are stored as usual. A row of 24 floats (96 bytes: F(6x6, 3x3) at 130x130) starts mid-line
    // every other band, and streaming its half lines, which the write-combining buffers flush
    // as partial writes, copied 2.1-2.4 GB/s against 6.8 this way; 192-byte rows 10.5 against
    // 13.4 (one thread, a C program on an Intel Xeon; BENCHMARKS.md, nineteenth part).
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *s = src + r * src_stride;
        float *d = dst + r * dst_stride;
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
    _mm_sfence();
#else
    for (ptrdiff_t r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * src_stride, (size_t)count * sizeof(float));
#endif
}
