// Copies that bypass the caches, for Sources/DIPEngine/CPU/WinogradConvolution.swift: the
// forward keeps every tile row's transformed input (V) for the backward-weights pass, which
// reads it back only after the rest of the forward and most of the backward. Written with
// ordinary stores, each cache line of it is first read from memory for ownership and then
// pushes the working set (the next rows' V and products) out of the caches on its way out.
// It keeps V position-major (the transposed copy), the layout backward-weights multiplies.
#ifndef DIP_STREAM_ROWS_H
#define DIP_STREAM_ROWS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Copies `rows` runs of `count` floats, run r from `src + r * src_stride` to
/// `dst + r * dst_stride`, with non-temporal stores for the whole 64-byte lines of each run and
/// ordinary ones for the parts of lines at its ends (x86-64; elsewhere a plain copy), then fences
/// them (sfence): every later store of the caller, the unlock that lets another thread read the
/// buffer included, is ordered after them.
void dip_stream_rows(const float *src, ptrdiff_t src_stride, float *dst, ptrdiff_t dst_stride, ptrdiff_t rows,
                     ptrdiff_t count);

/// The transpose of `rows` runs of `count` floats (run r from `src + r * src_stride`) as one run
/// of `count * rows` floats at `dst`: `dst[k * rows + r] = src[r * src_stride + k]`, with the
/// same non-temporal stores and fence as `dip_stream_rows` (a plain transpose elsewhere).
void dip_stream_transposed(const float *src, ptrdiff_t src_stride, ptrdiff_t rows, ptrdiff_t count, float *dst);

#ifdef __cplusplus
}
#endif

#endif
