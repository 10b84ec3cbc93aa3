/*
 * CDIPKernels: the host build of dip-report's CUDA kernels (cuda/dip_kernels.cu, compiled as C
 * by host_emulation.c), so tests can run each kernel over an emulated grid. The GPU runs the
 * same source from PTX (Sources/DIPEngine/CUDA/KernelsPTX.swift); see docs/cuda-kernels.md.
 *
 * The declarations below mirror the kernels' definitions (host_emulation.c includes both, so a
 * mismatch does not compile). Each kernel computes one work item per emulated thread: call
 * dip_emu_set_thread for every (block, thread) of the launch, then the kernel.
 */
#ifndef CDIPKERNELS_H
#define CDIPKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Threads per block the CUDA backend launches with (any size gives the same results). */
#define DIP_KERNEL_BLOCK 256
/** Pixels (BatchNorm) or elements (loss) per partial sum of a reduction: part of the fixed
 *  summation order, so it must not change between runs that should agree to the bit. */
#define DIP_REDUCE_TILE 256

struct dip_emu_dim3 { unsigned int x, y, z; };
/** The coordinates the emulated kernel reads as blockIdx, threadIdx, blockDim and gridDim. */
struct dip_emu_coordinates {
    struct dip_emu_dim3 block_index, thread_index, block_dim, grid_dim;
};

/** Sets the calling host thread's emulated coordinates (one-dimensional grid and block). */
void dip_emu_set_thread(unsigned int gridDimX, unsigned int blockDimX, unsigned int blockIndexX,
                        unsigned int threadIndexX);

void dip_fill(float *x, int n, float value);
void dip_copy(float *dst, const float *src, int n);
void dip_scale(float *x, int n, float s);
void dip_add(float *dst, const float *src, int n);
void dip_counter_increment(unsigned long long *counter);
void dip_chw_to_hwc(float *dst, const float *src, int channels, int height, int width);
void dip_hwc_to_chw(float *dst, const float *src, int channels, int height, int width);

void dip_reflection_pad_forward(float *out, const float *in, int channels, int height, int width,
                                int pad, int interiorWritten);
void dip_reflection_pad_backward(float *gradIn, const float *gradOut, int channels, int height,
                                 int width, int pad);

void dip_bn_partial_sum(double *partial, const float *x, int channels, int pixels, int tile);
void dip_bn_mean(double *mean, const double *partial, int channels, int pixels, int tile);
void dip_bn_partial_squares(double *partial, const float *x, const double *mean, int channels,
                            int pixels, int tile);
void dip_bn_finalize(double *invStd, float *scale, float *shift, float *runningMean, float *runningVar,
                     float *numBatchesTracked, const double *partial, const double *mean,
                     const float *gamma, const float *beta, int channels, int pixels, int tile,
                     double epsilon, double momentum);
void dip_bn_apply(float *out, const float *x, const double *mean, const float *scale, const float *shift,
                  int channels, int height, int width, long long outRowStride, long long outPixelStride,
                  int hasSlope, float slope);
void dip_bn_backward_partials(double *partialDy, double *partialDyXhat, const float *x, const float *gradOut,
                              const double *mean, const double *invStd, const float *scale, const float *shift,
                              int channels, int pixels, int tile, float slope);
void dip_bn_backward_finalize(float *gradGamma, float *gradBeta, float *coefficients,
                              const double *partialDy, const double *partialDyXhat, const double *invStd,
                              const float *gamma, int channels, int pixels, int tile);
void dip_bn_backward_apply(float *gradIn, const float *gradOut, const float *x, const double *mean,
                           const double *invStd, const float *scale, const float *shift,
                           const float *coefficients, int channels, int pixels, float slope);

void dip_upsample2x_forward(float *out, const float *in, int channels, int height, int width, int mode,
                            int alignCorners, long long outRowStride, long long outPixelStride);
void dip_upsample2x_backward(float *gradIn, const float *gradOut, int channels, int height, int width,
                             int mode, int alignCorners);

void dip_concat_part_forward(float *out, const float *in, int partChannels, int inHeight, int inWidth,
                             int outHeight, int outWidth, int totalChannels, int firstChannel);
void dip_concat_part_backward(float *gradIn, const float *gradOut, int partChannels, int inHeight,
                              int inWidth, int outHeight, int outWidth, int totalChannels, int firstChannel);

void dip_avgpool2x2_forward(float *out, const float *in, int channels, int height, int width);
void dip_avgpool2x2_backward(float *gradIn, const float *gradOut, int channels, int height, int width);

void dip_sigmoid_forward(float *y, const float *x, int n);
void dip_sigmoid_backward(float *gradIn, const float *gradOut, const float *y, int n);

void dip_mse_partial(double *partial, const float *output, const float *target, const float *mask,
                     int channels, int maskChannels, int n, int tile);
void dip_mse_value(double *loss, const double *partial, int n, int tile, double lossScale);
void dip_loss_log(double *log, int capacity, const double *value, const unsigned long long *index);
void dip_mse_gradient(float *gradient, const float *output, const float *target, const float *mask,
                      int channels, int maskChannels, int n, float scale, float lossScale);

void dip_adam_step(float *x, const float *g, float *m, float *v, int n, const float *stepTerms,
                   const unsigned long long *step, float oneMinusBeta1, float beta2, float oneMinusBeta2,
                   float epsilon);

void dip_perturb(float *zIt, const float *z, int channels, int height, int width, unsigned int key0,
                 unsigned int key1, const unsigned long long *substream, float sigma);

#ifdef __cplusplus
}
#endif
#endif
