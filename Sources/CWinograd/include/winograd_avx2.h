// Winograd F(4x4, 3x3), F(6x6, 3x3) and F(6x6, 2x2) tile transforms on eight lanes with 256-bit AVX vectors, for
// Sources/DIPEngine/CPU/WinogradTiling.swift and WinogradKernels.swift (the layouts, the
// transforms' definitions and the portable Swift versions these must match are there and in
// WinogradTransforms.swift).
//
// Each function does what the portable path does (eight neighbouring tiles, a row's phase split
// or merge, a row of filters) with the same operations in the same order: separate multiplies
// and adds, never fused (the target has no FMA), so the results are the same bits as the
// portable path's on every input. They are compiled for AVX2
// with a function attribute while the package stays baseline x86-64: the caller must check
// dip_winograd_avx2_available() and that the CPU has AVX2 before calling, or the process dies
// of SIGILL.
#ifndef DIP_WINOGRAD_AVX2_H
#define DIP_WINOGRAD_AVX2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether this build has the kernels (x86-64 only); elsewhere the functions below do nothing.
int dip_winograd_avx2_available(void);

/// V = Bᵀ d B for eight tiles. Element (r, s) of the eight 6x6 input tiles is the eight floats
/// at `strip + (4 r + s % 4) * phase_stride + s / 4` (the phase-split strip of
/// WinogradTiling.transformSource, already offset to the first tile); transformed element ξ is
/// stored as eight floats at `v + ξ * v_stride`.
void dip_winograd_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride);

/// Y = Aᵀ m A + bias for eight tiles: element ξ of the products is the eight floats at
/// `m + ξ * m_stride`; output (a, b) is stored as eight floats at `strip + (4 a + b) * strip_stride`.
void dip_winograd_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride);

/// dM = A dY Aᵀ for eight tiles: output gradient (a, b) is the eight floats at
/// `strip + (4 a + b) * strip_stride`; element ξ of dM is stored as eight floats at `dm + ξ * dm_stride`.
void dip_winograd_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride);

/// U = G g Gᵀ for the `columns` filters of one row of U, eight at a time: the nine taps of filter
/// q start at `taps + q * q_stride` (row-major; read back to front when `rotated` is nonzero);
/// element ξ of filter q is stored at `u + ξ * u_stride + q`.
void dip_winograd_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                  float *u, ptrdiff_t u_stride);

/// dg = Gᵀ dU G for the `columns` filters of one row of dU, eight at a time: element ξ of filter
/// q is at `du + ξ * du_stride + q`; its nine taps are stored at `dg + 9 q`.
void dip_winograd_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg);

/// The phase split of one source row (WinogradTiling.transformSource): for x in
/// 0..<min(width, 4 phase_stride - pad), with xx = x + pad, writes row[x] to
/// `phases[(xx % 4) * phase_stride + xx / 4]`, so that column s of tile k is phase s % 4 at
/// k + s / 4. Writes nothing else (the caller zeroes the strip).
void dip_winograd_split_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride);

/// The inverse, for one destination row (WinogradTiling.transformProducts): for x in
/// 0..<width, row[x] = phases[(x % 4) * phase_stride + x / 4]; needs width <= 4 phase_stride.
void dip_winograd_merge_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width);

// MARK: F(6x6, 3x3): 8x8 input tiles, 64 transformed elements, 6x6 output tiles. Each function
// is the one above for F(4x4, 3x3) with 6 phases, 8 rows and columns and 64 elements in place of
// 4, 6 and 36 (WinogradF63 in WinogradTransforms.swift).

/// V = Bᵀ d B for eight 8x8 tiles: element (r, s) is the eight floats at
/// `strip + (6 r + s % 6) * phase_stride + s / 6`; element ξ goes to `v + ξ * v_stride`.
void dip_winograd63_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride);

/// Y = Aᵀ m A + bias for eight tiles: element ξ at `m + ξ * m_stride`; output (a, b) to
/// `strip + (6 a + b) * strip_stride`.
void dip_winograd63_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride);

/// dM = A dY Aᵀ for eight tiles: output gradient (a, b) at `strip + (6 a + b) * strip_stride`;
/// element ξ to `dm + ξ * dm_stride`.
void dip_winograd63_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride);

/// U = G g Gᵀ for a row of filters, as dip_winograd_filter_row_avx2 with 64 elements.
void dip_winograd63_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride);

/// dg = Gᵀ dU G for a row of filters, as dip_winograd_filter_gradient_row_avx2 with 64 elements.
void dip_winograd63_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg);

/// The phase split by six: for x in 0..<min(width, 6 phase_stride - pad), with xx = x + pad,
/// writes row[x] to `phases[(xx % 6) * phase_stride + xx / 6]`; nothing else.
void dip_winograd_split6_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride);

/// The merge by six: for x in 0..<width, row[x] = phases[(x % 6) * phase_stride + x / 6]; needs
/// width <= 6 phase_stride.
void dip_winograd_merge6_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width);

// MARK: F(6x6, 2x2): 7x7 input tiles, 49 transformed elements, 6x6 output tiles, 2x2 filters
// (WinogradF62 in WinogradTransforms.swift). The phase split and merge are the ones by six above.

/// V = Bᵀ d B for eight 7x7 tiles: element (r, s) is the eight floats at
/// `strip + (6 r + s % 6) * phase_stride + s / 6`; element ξ goes to `v + ξ * v_stride`.
void dip_winograd62_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride);

/// Y = Aᵀ m A + bias for eight tiles: element ξ at `m + ξ * m_stride`; output (a, b) to
/// `strip + (6 a + b) * strip_stride`.
void dip_winograd62_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride);

/// dM = A dY Aᵀ for eight tiles: output gradient (a, b) at `strip + (6 a + b) * strip_stride`;
/// element ξ to `dm + ξ * dm_stride`.
void dip_winograd62_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride);

/// U = G g Gᵀ for a row of 2x2 filters (four taps each, read back to front when `rotated`), as
/// dip_winograd_filter_row_avx2 with 49 elements.
void dip_winograd62_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride);

/// dg = Gᵀ dU G for a row of filters, as dip_winograd_filter_gradient_row_avx2 with 49 elements
/// and four taps a filter, stored at `dg + 4 q`.
void dip_winograd62_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg);

// MARK: F(8x8, 3x3): 10x10 input tiles, 100 transformed elements, 8x8 output tiles
// (WinogradF83 in WinogradTransforms.swift), with the phase split and merge by eight.

/// V = Bᵀ d B for eight 10x10 tiles: element (r, s) is the eight floats at
/// `strip + (8 r + s % 8) * phase_stride + s / 8`; element ξ goes to `v + ξ * v_stride`.
void dip_winograd83_input_avx2(const float *strip, ptrdiff_t phase_stride, float *v, ptrdiff_t v_stride);

/// Y = Aᵀ m A + bias for eight tiles: element ξ at `m + ξ * m_stride`; output (a, b) to
/// `strip + (8 a + b) * strip_stride`.
void dip_winograd83_output_avx2(const float *m, ptrdiff_t m_stride, float bias, float *strip, ptrdiff_t strip_stride);

/// dM = A dY Aᵀ for eight tiles: output gradient (a, b) at `strip + (8 a + b) * strip_stride`;
/// element ξ to `dm + ξ * dm_stride`.
void dip_winograd83_output_gradient_avx2(const float *strip, ptrdiff_t strip_stride, float *dm, ptrdiff_t dm_stride);

/// U = G g Gᵀ for a row of 3x3 filters, as dip_winograd_filter_row_avx2 with 100 elements.
void dip_winograd83_filter_row_avx2(const float *taps, ptrdiff_t q_stride, ptrdiff_t columns, int rotated,
                                    float *u, ptrdiff_t u_stride);

/// dg = Gᵀ dU G for a row of filters, as dip_winograd_filter_gradient_row_avx2 with 100 elements.
void dip_winograd83_filter_gradient_row_avx2(const float *du, ptrdiff_t du_stride, ptrdiff_t columns, float *dg);

/// The phase split by eight: for x in 0..<min(width, 8 phase_stride - pad), with xx = x + pad,
/// writes row[x] to `phases[(xx % 8) * phase_stride + xx / 8]`; nothing else.
void dip_winograd_split8_row_avx2(const float *row, ptrdiff_t width, ptrdiff_t pad, float *phases, ptrdiff_t phase_stride);

/// The merge by eight: for x in 0..<width, row[x] = phases[(x % 8) * phase_stride + x / 8]; needs
/// width <= 8 phase_stride.
void dip_winograd_merge8_row_avx2(const float *phases, ptrdiff_t phase_stride, float *row, ptrdiff_t width);

#ifdef __cplusplus
}
#endif

#endif
