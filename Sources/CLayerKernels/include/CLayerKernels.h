// BatchNorm's passes over channel planes (Sources/DIPEngine/Layers/BatchNorm.swift), the
// convolutions' bias-gradient plane sum (fused into BatchNorm's backward where one follows), the
// perturbation's draw and the bilinear upsampling's interpolation across rows, in C so that an
// AVX2 version (and for the perturbation an AVX-512 one) can be chosen at run time while the
// package stays baseline x86-64 (Swift has no per-function target attribute).
//
// Every function gives the same bits whichever version runs: the plane sum keeps 32 float partial
// sums in a fixed order (dip_cpu_plane_sum), the Float64 sums keep four
// interleaved partial sums (element i goes to sum i % 4, the tail to sum 0, then
// (s0 + s1) + (s2 + s3)), which is exactly one 256-bit vector of doubles, and the elementwise
// parts are the same float operations in the same order, never contracted into FMAs.
#ifndef DIP_LAYER_KERNELS_H
#define DIP_LAYER_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Which version the functions below run: 2 for AVX-512F (the CPU has it; only the perturbation
/// has a version of its own there, the others run their AVX2 one), 1 for AVX2, 0 for the
/// baseline one; never above the cap (`dip_layer_kernels_cap`).
int dip_layer_kernels_isa(void);
/// Forces a version (0 baseline, 1 AVX2, 2 AVX-512F, each where the CPU has it and the cap
/// allows it; anything else: the best of those), for the tests that compare them.
void dip_layer_kernels_force(int isa);
/// The widest version that may run from now on (2 unless set): the CPU backend sets 1 where
/// oneDNN is capped below AVX-512 (DNNL_MAX_CPU_ISA), so that such a run stands for an AVX2
/// machine in these kernels too.
void dip_layer_kernels_cap(int isa);

/// The mean and biased variance of each of `planes` planes of n values (n >= 1), plane p at
/// x + p * n, into mean[p] and variance[p], each in one pass: with d = (double)x[i] - x[0],
/// S1 = sum d and S2 = sum d^2 (Float64, four interleaved partial sums, lane i % 4, added as
/// (l0 + l1) + (l2 + l3)), mean = x[0] + S1 / n and variance = max(0, (S2 - S1 (S1 / n)) / n).
/// The AVX2 version reads two planes at a time (the bits are those of one at a time).
void dip_cpu_bn_moments(const float *x, long n, long planes, double *mean, double *variance);
/// y = (x - mean) * scale + shift, then LeakyReLU (y > 0 ? y : y * slope) when hasSlope, over
/// `rows` rows of `width` values: x is dense, y's rows are `rowStride` apart.
void dip_cpu_bn_apply(const float *x, float *y, long rows, long width, long rowStride, float mean, float scale,
                  float shift, int hasSlope, float slope);
/// The backward's two sums over each of `planes` planes of n values (plane p at x + p * n and
/// g + p * n, with mean[p], scale[p], shift[p] and invStd[p], into sumDy[p] and sumDyXhat[p]),
/// where dy = pre > 0 ? g : g * slope with pre = (x - mean) * scale + shift (slope 1 without
/// the activation) and xhat = (x - mean) * invStd: sumDy = sum (double)dy,
/// sumDyXhat = sum (double)dy * (double)xhat. The AVX2 version reads two planes at a time (the
/// bits are those of one at a time).
void dip_cpu_bn_backward_sums(const float *x, const float *g, long n, long planes, const float *mean, const float *scale,
                              const float *shift, float slope, const float *invStd, double *sumDy, double *sumDyXhat);
/// dx = k * (dy - a - xhat * b), written over g (each element is read before it is written);
/// with `planeSum`, also the plane sum of the dx written (dip_cpu_plane_sum's bits), there.
void dip_cpu_bn_backward_apply(const float *x, float *g, long n, float mean, float scale, float shift, float slope,
                           float invStd, float k, float a, float b, float *planeSum);
/// The same dx into `dx` (n values), g left as it is: a consumer's rows, made as it reads them.
void dip_cpu_bn_backward_apply_into(const float *x, const float *g, float *dx, long n, float mean, float scale,
                                    float shift, float slope, float invStd, float k, float a, float b);

/// The sum of p[0..<n] (n >= 0) in a fixed order, the convolutions' bias gradients: 32 float
/// partial sums, element i of each whole block of 32 values to sum i % 32, added lane by lane as
/// (s[l] + s[8 + l]) + (s[16 + l] + s[24 + l]) for l < 8, those eight added in order from zero,
/// then the values past the last whole block in order.
float dip_cpu_plane_sum(const float *p, long n);

/// The perturbation's draw (Sources/DIPEngine/Perturbation.swift) over blocks lo..<hi of n
/// values: out[i] = (float)(0.0 + sigma * normal_i) + z[i], where values 4b..4b+3 come from
/// Philox4x32-10 block b (counter (b, substream), key (key0, key1)) by Box-Muller with
/// DeterministicMath's log and sinCosTwoPi: the bits of RandomStream.fillNormal plus z.
void dip_cpu_perturb(const float *z, float *out, long n, unsigned long long lo, unsigned long long hi,
                     unsigned int key0, unsigned int key1, unsigned long long substream, double sigma);

/// One source row of the bilinear upsampling interpolated across: out[o] = l0[o] * row[i0[o]] +
/// l1[o] * row[i1[o]] for o < wo (row has w values; i0 is ascending and i0[o] <= i1[o]).
void dip_cpu_upsample_across(const float *row, long w, const int *i0, const int *i1, const float *l0, const float *l1,
                             long wo, float *out);

#ifdef __cplusplus
}
#endif

#endif
