// The matrix product of a 1x1 convolution (Sources/DIPEngine/CPU/PointwiseConvolution.swift):
// c = w · b (+ bias), with w small (output x input channels) and b a block of pixel columns,
// on AVX2 (6 rows x 16 columns a step) or AVX-512 (8 x 32) with FMA.
//
// Why not oneDNN's sgemm (which still runs where these do not pay, PointwiseConvolution.Product):
// sgemm packs both operands at every call, and the layer's products are short (the inner
// dimension is a channel count: 4 to 132 in the nets), so the packing is a large part of each
// product; and a block's output rows lie a plane apart (a multiple of 4 KiB, so in one cache
// set). Here the weights are packed once per call (tiny) and the block is copied once
// (dip_pointwise_copy) into the layout the kernel reads fastest.
//
// Each output is the sum over the inner dimension in increasing order, one fused multiply-add
// at a time from zero, then plus the bias: the same operations on both instruction sets, so
// the same bits on every CPU that runs either, whatever the block or thread split.
//
// Compiled with function attributes while the package stays baseline x86-64: call only a
// version that dip_pointwise_available() reports, or the process dies of SIGILL.
#ifndef DIP_POINTWISE_H
#define DIP_POINTWISE_H

#ifdef __cplusplus
extern "C" {
#endif

/// The versions: 256-bit (AVX2 and FMA) and 512-bit (AVX-512F).
enum { DIP_POINTWISE_AVX2 = 1, DIP_POINTWISE_AVX512 = 2 };

/// The versions this build and CPU can run, as a bit set of the values above (0 off x86-64).
int dip_pointwise_available(void);

/// Floats of `w` packed for version `isa`: the m rows rounded up to the version's step.
long dip_pointwise_packed_floats(int isa, long m, long k);

/// Packs the m x k matrix whose element (o, i) is at `w + o * row_stride + i * column_stride`
/// (a transpose is a swap of the strides) for version `isa`, the rows past m zero.
void dip_pointwise_pack(int isa, const float *w, long m, long k, long row_stride, long column_stride, float *packed);

/// Copies columns [0, n) of `rows` rows (row r at `source + r * row_stride`) into `block`, laid
/// out as version `isa`'s product reads them: AVX2 in panels of 16 columns (each panel's rows
/// one after the other, so a step's loads are contiguous); AVX-512, or 0 (for a caller's own
/// GEMM, e.g. oneDNN's sgemm), in rows `ld` (>= n) floats apart. Either takes at most
/// `rows * ld` floats when ld >= n rounded up to 16. Any isa runs here: only the layout differs.
void dip_pointwise_copy(int isa, const float *source, long row_stride, long rows, long n, float *block, long ld);

/// c[o * ldc + j] = sum over i < k, in order, of packed(o, i) * b(i, j), plus bias[o] when bias
/// is not NULL, for o < m and j < n, where b is the k x n `block` as dip_pointwise_copy wrote it
/// for the same `isa` and `ld`. With `streaming`, the AVX-512 version writes the whole 64-byte
/// lines of c with non-temporal stores (not read first, not kept in the caches; fenced before
/// the return): for an output that is not in the caches and is read only after the call. (The
/// AVX2 version ignores it: on an AVX-512 Xeon capped to AVX2 the 128 -> 128 forward at 256x256
/// and the BatchNorm reading its output took 28.1-30.5 ms streamed against 28.9-33.1, no clear
/// gain; BENCHMARKS.md, thirty-fifth part.)
void dip_pointwise_product(int isa, const float *packed, long m, long k, const float *block, long ld, long n, float *c,
                           long ldc, const float *bias, int streaming);

#ifdef __cplusplus
}
#endif

#endif
