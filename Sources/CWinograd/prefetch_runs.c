#include "prefetch_runs.h"

#include <stdint.h>

static void run(const char *start, ptrdiff_t bytes, int for_writing) {
    // From the start's own line to the line holding the last byte, 64 bytes apart (the line
    // size of every x86-64 and most ARM cores; a larger line only makes some requests repeats).
    const char *p = (const char *)((uintptr_t)start & ~(uintptr_t)63);
    const char *end = start + bytes;
    // The builtin's read-or-write argument must be a constant.
    if (for_writing)
        for (; p < end; p += 64) __builtin_prefetch(p, 1, 3);
    else
        for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
}

void dip_prefetch_runs(const void *start, ptrdiff_t runs, ptrdiff_t stride, ptrdiff_t bytes, int for_writing) {
    if (bytes <= 0) return;
    for (ptrdiff_t r = 0; r < runs; r++) run((const char *)start + r * stride, bytes, for_writing);
}
