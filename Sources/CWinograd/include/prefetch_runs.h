// A prefetch of short runs of memory, for the band passes of
// Sources/DIPEngine/CPU/WinogradConvolution.swift: a band reads a few rows of every channel (8
// rows, about 8 KiB, of each 258-column plane for F(6x6, 3x3)), one plane after another, so every
// channel starts a new short stream that the hardware prefetchers pick up only after its first
// misses. Asking for the next channel's rows while the current one is transformed hides that
// start; the same holds for the rows of the destination a band writes and for each channel's
// runs of the products.
#ifndef DIP_PREFETCH_RUNS_H
#define DIP_PREFETCH_RUNS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Asks for the cache lines of `runs` runs of `bytes` bytes, run r from `start + r * stride`
/// bytes, to be loaded, for writing when `for_writing` is not 0 (so a later store need not ask
/// for ownership); changes nothing that a program can observe but the time.
void dip_prefetch_runs(const void *start, ptrdiff_t runs, ptrdiff_t stride, ptrdiff_t bytes, int for_writing);

#ifdef __cplusplus
}
#endif

#endif
