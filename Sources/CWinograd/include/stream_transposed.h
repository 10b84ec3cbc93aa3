// The forward's kept copy of the transformed input (V), for
// Sources/DIPEngine/CPU/WinogradBandSteps.swift: the forward keeps every tile row's V for the
// backward-weights pass, which reads it back only after the rest of the forward and most of the
// backward, position-major (the transpose of the layout the transforms write), the layout whose
// products oneDNN's sgemm runs fastest there (`N N`). Written with ordinary stores, each cache
// line of it would first be read from memory for ownership and then push the working set (the
// next rows' V and products) out of the caches on its way out; so it bypasses them.
#ifndef DIP_STREAM_TRANSPOSED_H
#define DIP_STREAM_TRANSPOSED_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The transpose of `rows` runs of `count` floats (run r from `src + r * src_stride`) as one run
/// of `count * rows` floats at `dst`: `dst[k * rows + r] = src[r * src_stride + k]`. On x86-64
/// the whole 64-byte lines of the run are written with non-temporal stores, the parts of lines
/// at its ends with ordinary ones, and the stores are then fenced (sfence): every later store of
/// the caller, the unlock that lets another thread read the buffer included, is ordered after
/// them. Elsewhere a plain transpose.
void dip_stream_transposed(const float *src, ptrdiff_t src_stride, ptrdiff_t rows, ptrdiff_t count, float *dst);

#ifdef __cplusplus
}
#endif

#endif
