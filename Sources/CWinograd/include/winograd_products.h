// The batched products of the Winograd band passes (Sources/DIPEngine/CPU/WinogradBandSteps.swift)
// on AVX-512: M = U · V for one transformed element ξ of one band, with U (destination x source
// channels) packed once per pass and V (source channels x the band's tile positions) as the
// source transform wrote it.
//
// Why not oneDNN's sgemm (which still runs on AVX2 machines, WinogradProducts): a band's products
// are narrow (22 or 43 tile positions wide at 130x130 and 258x258), so sgemm's packing of U at
// every call (one per element and band, each U[ξ] larger than the band's V[ξ]) is a large part
// of each call, and the 64 U[ξ] of an F(6x6, 3x3) pass (4.3 MiB at 132 -> 128 channels) do not
// stay in a 2 MiB L2 from one band to the next. Here U is laid out once per pass as the kernel
// reads it, and each call asks for the next element's U while it computes.
//
// The kernel keeps a block of up to 48 destination rows (three 16-float vectors) by up to 8
// tile positions in 24 accumulators: per source channel, three loads of U and eight broadcasts
// of V. Each output is the sum over the source channels in increasing order, one fused
// multiply-add at a time from zero: the order of oneDNN 2.6's AVX-512 sgemm, whose results it
// reproduces to the bit (Tests/DIPEngineTests/WinogradProductsTests). That sgemm
// (jit_avx512_common_gemm_f32 on avx512_core) cuts the inner dimension into blocks of 384 on
// every CPU, so products over up to 384 source channels (all the nets': 256 at most) are one
// in-order sum there; oneDNN's AVX2 sgemm sums in another order, but this kernel never stands in
// for it.
//
// Compiled with a function attribute while the package stays baseline x86-64: call only where
// dip_winograd_products_available() says so, or the process dies of SIGILL.
#ifndef DIP_WINOGRAD_PRODUCTS_H
#define DIP_WINOGRAD_PRODUCTS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Destination rows per block of the packed U.
enum { DIP_WINOGRAD_PRODUCT_BLOCK = 48 };

/// Whether this build and CPU run the kernel (x86-64 with AVX-512F, VL and DQ).
int dip_winograd_products_available(void);

/// The packed layout of one element's U, `rows` destination channels by `inner` source channels:
/// block b holds rows [48 b, min(48 b + 48, rows)), its width rounded up to 16 (the rows past
/// `rows` zero), and starts at `packed + 48 b * inner`, laid out [source channel][row of the
/// block] (row r of block b, source channel k at `packed + 48 b * inner + k * padded width +
/// r - 48 b`). It takes `inner` times `rows` rounded up to 16 floats.
ptrdiff_t dip_winograd_packed_floats(ptrdiff_t rows, ptrdiff_t inner);

/// m[r * m_stride + j] = sum over k < inner, in order, of U(r, k) * v[k * v_stride + j], for
/// r < rows and j < columns, U packed as above. With `next` not NULL, the lines of the next
/// packed U (dip_winograd_packed_floats(rows, inner) floats from `next`) are asked into the L2
/// along the way.
void dip_winograd_products(const float *packed, ptrdiff_t rows, ptrdiff_t inner, const float *v, ptrdiff_t v_stride,
                           ptrdiff_t columns, float *m, ptrdiff_t m_stride, const float *next);

#ifdef __cplusplus
}
#endif

#endif
