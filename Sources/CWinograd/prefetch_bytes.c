#include "prefetch_bytes.h"

#include <stdint.h>

void dip_prefetch_bytes(const void *start, ptrdiff_t bytes, int for_writing) {
    // From the start's own line to the line holding the last byte, 64 bytes apart (the line
    // size of every x86-64 and most ARM cores; a larger line only makes some requests repeats).
    const char *p = (const char *)((uintptr_t)start & ~(uintptr_t)63);
    const char *end = (const char *)start + bytes;
    // The builtin's read-or-write argument must be a constant.
    if (for_writing)
        for (; p < end; p += 64) __builtin_prefetch(p, 1, 3);
    else
        for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
}
