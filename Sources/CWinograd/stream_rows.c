#include "stream_rows.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

void dip_stream_rows(const float *src, ptrdiff_t src_stride, float *dst, ptrdiff_t dst_stride, ptrdiff_t rows,
                     ptrdiff_t count) {
#if defined(__x86_64__)
    // SSE's 16-byte streaming store is baseline x86-64, so no run-time dispatch is needed.
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *s = src + r * src_stride;
        float *d = dst + r * dst_stride;
        ptrdiff_t i = 0;
        while (i < count && ((uintptr_t)(d + i) & 15) != 0) { d[i] = s[i]; i++; }
        for (; i + 4 <= count; i += 4) _mm_stream_ps(d + i, _mm_loadu_ps(s + i));
        for (; i < count; i++) d[i] = s[i];
    }
    _mm_sfence();
#else
    for (ptrdiff_t r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * src_stride, (size_t)count * sizeof(float));
#endif
}
