/*
 * dip-report's own CUDA kernels: everything in a fit except the convolutions (cuDNN) runs here.
 * One source for two builds (dip_cuda_compat.h): NVRTC compiles it to PTX for the GPU
 * (scripts/cuda/compile-ptx.py, `make ptx`), and the C target CDIPKernels compiles it for the
 * host, where the tests run each kernel over an emulated grid against the CPU layers.
 *
 * Layout: activations and their gradients are NHWC with batch 1, i.e. [H][W][C] with the
 * channel innermost (what cuDNN's tensor-core convolutions want). Element (y, x, c) of an
 * H x W x C tensor is at (y * W + x) * C + c. Pictures, z and the loss's target and mask come
 * from the host as CHW and are converted with dip_chw_to_hwc / dip_hwc_to_chw. Parameters
 * (gamma, beta, Adam's flat array) are plain arrays.
 *
 * Launch: every kernel is one-dimensional (see dip_cuda_compat.h); each kernel's comment names
 * its work items, and the grid must cover them: ceil(items / block) blocks of any block size
 * (DIP_KERNEL_BLOCK is the one the backend uses). Sizes are int and so are the index divisions
 * (a 64-bit division costs several times a 32-bit one on the GPU, per element): the backend
 * must refuse tensors of 2^31 elements or more.
 *
 * Outputs that a consumer owns (the padded input of the next convolution, a channel range of
 * a concat) are written through a window: out + y * outRowStride + x * outPixelStride + c, all
 * strides in floats. A dense output is the window (out, W * C, C).
 *
 * Determinism: no atomics, no shared memory; every sum is in a fixed order that depends only on
 * the shapes and the `tile` argument (DIP_REDUCE_TILE in the backend). Where the CPU layer does
 * the same float operations in the same order the result is the same bits (pad, upsample,
 * concat, pooling, sigmoid's arithmetic, the loss gradient, Adam, the perturbation, layout);
 * the reductions (BatchNorm statistics and its backward sums, the loss value) add the same
 * Float64 terms in a different order, so they agree with the CPU to rounding of Float64 sums.
 */
#include "dip_cuda_compat.h"

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* Fills x[0..<n] with value. Items: n. */
DIP_KERNEL dip_fill(float *x, int n, float value) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    x[i] = value;
}

/* dst[i] = src[i]. Items: n. */
DIP_KERNEL dip_copy(float *dst, const float *src, int n) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    dst[i] = src[i];
}

/* x[i] = x[i] * s. Items: n. */
DIP_KERNEL dip_scale(float *x, int n, float s) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    x[i] = x[i] * s;
}

/* dst[i] = dst[i] + src[i] (two gradients meeting at one tensor). Items: n. */
DIP_KERNEL dip_add(float *dst, const float *src, int n) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    dst[i] = dst[i] + src[i];
}

/* *counter += 1: advances a per-iteration counter (Adam's step, the perturbation's substream)
 * inside a captured graph, so a replay needs no host write. Items: 1. */
DIP_KERNEL dip_counter_increment(unsigned long long *counter) {
    long long i = DIP_THREAD_ITEM();
    if (i >= 1) return;
    counter[0] = counter[0] + 1ULL;
}

/* CHW (the host's pictures and z) to HWC. Items: C * H * W, one per destination element. */
DIP_KERNEL dip_chw_to_hwc(float *dst, const float *src, int channels, int height, int width) {
    long long i = DIP_THREAD_ITEM();
    long long plane = (long long)height * width;
    if (i >= plane * channels) return;
    int p = (int)i / channels, c = (int)i % channels;
    dst[i] = src[c * plane + p];
}

/* HWC to CHW (downloads). Items: C * H * W, one per destination element. */
DIP_KERNEL dip_hwc_to_chw(float *dst, const float *src, int channels, int height, int width) {
    long long i = DIP_THREAD_ITEM();
    long long plane = (long long)height * width;
    if (i >= plane * channels) return;
    int c = (int)i / (height * width), p = (int)i % (height * width);
    dst[i] = src[p * channels + c];
}

/* ---------------------------------------------------------------------------------------------
 * ReflectionPad2d(pad) (ReflectionPad.swift): index -1 reads 1, index n reads n - 2.
 * ------------------------------------------------------------------------------------------- */

DIP_DEVICE_FN int dip_reflect(int i, int n) {
    return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
}

/* Pads in ([H][W][C], dense) into out ([H+2p][W+2p][C], dense). With interiorWritten != 0 a
 * producer already wrote the interior of out (in is not read) and only the border is filled.
 * Items: (H + 2p) * (W + 2p) * C. */
DIP_KERNEL dip_reflection_pad_forward(float *out, const float *in, int channels, int height, int width,
                                      int pad, int interiorWritten) {
    long long i = DIP_THREAD_ITEM();
    int ho = height + 2 * pad, wo = width + 2 * pad;
    if (i >= (long long)ho * wo * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int oy = (int)(p / wo), ox = (int)(p % wo);
    int sy = dip_reflect(oy - pad, height), sx = dip_reflect(ox - pad, width);
    if (interiorWritten) {
        if (oy >= pad && oy < pad + height && ox >= pad && ox < pad + width) return;
        out[i] = out[((long long)(sy + pad) * wo + sx + pad) * channels + c];
    } else {
        out[i] = in[((long long)sy * width + sx) * channels + c];
    }
}

/* The input gradient of the pad: the interior of gradOut plus every border gradient that
 * copied this pixel, added in the CPU layer's order (rows top to bottom, in each row first the
 * middle columns of a border row, then the column border left and right for j = 0..<p), so the
 * gather gives the CPU's scatter bits. Items: H * W * C. */
DIP_KERNEL dip_reflection_pad_backward(float *gradIn, const float *gradOut, int channels, int height,
                                       int width, int pad) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)height * width * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int y = (int)(p / width), x = (int)(p % width);
    int wo = width + 2 * pad;
    /* Padded rows whose source row is y, in increasing order: the top reflection (p - y), the
     * interior row (p + y), the bottom reflection (2h - 2 - y + p). */
    int rows[3];
    int interior[3];
    int count = 0;
    if (y >= 1 && y <= pad) { rows[count] = pad - y; interior[count] = 0; count++; }
    rows[count] = pad + y; interior[count] = 1; count++;
    if (y <= height - 2 && y > height - 2 - pad) { rows[count] = 2 * (height - 1) - y + pad; interior[count] = 0; count++; }
    /* Border columns of a row that add onto x: j1 = p - x (left, 0 <= j1 < p) and
     * j2 = w - 2 - x (right, 0 <= j2 < p); within the j loop the left one comes first. */
    int j1 = pad - x, j2 = width - 2 - x;
    int hasLeft = j1 >= 0 && j1 < pad, hasRight = j2 >= 0 && j2 < pad;
    float acc = gradOut[((long long)(y + pad) * wo + x + pad) * channels + c];
    for (int r = 0; r < count; r++) {
        const float *row = gradOut + (long long)rows[r] * wo * channels + c;
        if (!interior[r]) acc = acc + row[(long long)(pad + x) * channels];
        if (hasLeft && (!hasRight || j1 <= j2)) {
            acc = acc + row[(long long)j1 * channels];
            if (hasRight) acc = acc + row[(long long)(pad + width + j2) * channels];
        } else if (hasRight) {
            acc = acc + row[(long long)(pad + width + j2) * channels];
            if (hasLeft) acc = acc + row[(long long)j1 * channels];
        }
    }
    gradIn[i] = acc;
}

/* ---------------------------------------------------------------------------------------------
 * BatchNorm2d in training mode (BatchNorm.swift), optionally fused with LeakyReLU.
 *
 * Forward, five launches: partial sums of x per (tile of `tile` pixels, channel); the mean per
 * channel (tiles added in order); partial sums of (x - mean)^2; the variance, 1/std, the
 * applied scale and shift and the running statistics; then the normalisation. All sums are
 * Float64 as on the CPU. Backward, three: partial sums of dy and dy * xhat; the parameter
 * gradients and the three coefficients per channel; then the input gradient.
 * Buffers: partial is [tiles][C] doubles (two of them for the backward), tiles =
 * ceil(H * W / tile); mean and invStd are [C] doubles, scale and shift [C] floats (kept from
 * the forward for the backward), coefficients [3C] floats.
 * ------------------------------------------------------------------------------------------- */

/* partial[t][c] = sum over the tile's pixels of x. Items: tiles * C. */
DIP_KERNEL dip_bn_partial_sum(double *partial, const float *x, int channels, int pixels, int tile) {
    long long i = DIP_THREAD_ITEM();
    int tiles = (pixels + tile - 1) / tile;
    if (i >= (long long)tiles * channels) return;
    int c = (int)i % channels, t = (int)i / channels;
    int end = (t + 1) * tile < pixels ? (t + 1) * tile : pixels;
    double s = 0.0;
    for (int p = t * tile; p < end; p++) s = s + (double)x[(long long)p * channels + c];
    partial[i] = s;
}

/* mean[c] = (sum of the tiles' partials, in tile order) / pixels. Items: C. */
DIP_KERNEL dip_bn_mean(double *mean, const double *partial, int channels, int pixels, int tile) {
    long long i = DIP_THREAD_ITEM();
    if (i >= channels) return;
    int tiles = (pixels + tile - 1) / tile;
    double s = 0.0;
    for (int t = 0; t < tiles; t++) s = s + partial[(long long)t * channels + i];
    mean[i] = s / (double)pixels;
}

/* partial[t][c] = sum over the tile's pixels of (x - mean)^2, in Float64. Items: tiles * C. */
DIP_KERNEL dip_bn_partial_squares(double *partial, const float *x, const double *mean, int channels,
                                  int pixels, int tile) {
    long long i = DIP_THREAD_ITEM();
    int tiles = (pixels + tile - 1) / tile;
    if (i >= (long long)tiles * channels) return;
    int c = (int)i % channels, t = (int)i / channels;
    int end = (t + 1) * tile < pixels ? (t + 1) * tile : pixels;
    double m = mean[c], s = 0.0;
    for (int p = t * tile; p < end; p++) {
        double d = (double)x[(long long)p * channels + c] - m;
        s = s + d * d;
    }
    partial[i] = s;
}

/* Per channel: the biased variance, invStd = 1 / sqrt(var + eps), the applied scale
 * gamma * invStd and shift beta, and the running statistics as PyTorch updates them
 * (unbiased variance); channel 0 also counts the forward in numBatchesTracked (may be null).
 * Items: C. */
DIP_KERNEL dip_bn_finalize(double *invStd, float *scale, float *shift, float *runningMean, float *runningVar,
                           float *numBatchesTracked, const double *partial, const double *mean,
                           const float *gamma, const float *beta, int channels, int pixels, int tile,
                           double epsilon, double momentum) {
    long long i = DIP_THREAD_ITEM();
    if (i >= channels) return;
    int tiles = (pixels + tile - 1) / tile;
    double s = 0.0;
    for (int t = 0; t < tiles; t++) s = s + partial[(long long)t * channels + i];
    double m = mean[i];
    double variance = s / (double)pixels;
    double inv = 1.0 / DIP_SQRT(variance + epsilon);
    invStd[i] = inv;
    scale[i] = (float)((double)gamma[i] * inv);
    shift[i] = beta[i];
    runningMean[i] = (float)((1.0 - momentum) * (double)runningMean[i] + momentum * m);
    runningVar[i] = (float)((1.0 - momentum) * (double)runningVar[i]
                            + momentum * variance * (double)pixels / (double)(pixels - 1));
    if (i == 0 && numBatchesTracked) numBatchesTracked[0] = numBatchesTracked[0] + 1.0f;
}

/* y = (x - mean) * scale + shift, then LeakyReLU(slope) when hasSlope, written through the
 * window (out, outRowStride, outPixelStride). Items: H * W * C. */
DIP_KERNEL dip_bn_apply(float *out, const float *x, const double *mean, const float *scale, const float *shift,
                        int channels, int height, int width, long long outRowStride, long long outPixelStride,
                        int hasSlope, float slope) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)height * width * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int row = p / width, col = p % width;
    float meanF = (float)mean[c];
    float y = (x[i] - meanF) * scale[c] + shift[c];
    if (hasSlope) y = y > 0.0f ? y : y * slope;
    out[row * outRowStride + col * outPixelStride + c] = y;
}

/* The gradient through the activation: recomputed from the input by the forward's own
 * expression (slope 1 without an activation, where both branches give g). */
DIP_DEVICE_FN float dip_bn_dy(float x, float g, float meanF, float scale, float shift, float slope) {
    return (x - meanF) * scale + shift > 0.0f ? g : g * slope;
}

/* partialDy[t][c] = sum of dy, partialDyXhat[t][c] = sum of dy * xhat (Float64) over the
 * tile's pixels. slope is 1 for a BatchNorm without activation. Items: tiles * C. */
DIP_KERNEL dip_bn_backward_partials(double *partialDy, double *partialDyXhat, const float *x, const float *gradOut,
                                    const double *mean, const double *invStd, const float *scale, const float *shift,
                                    int channels, int pixels, int tile, float slope) {
    long long i = DIP_THREAD_ITEM();
    int tiles = (pixels + tile - 1) / tile;
    if (i >= (long long)tiles * channels) return;
    int c = (int)i % channels, t = (int)i / channels;
    int end = (t + 1) * tile < pixels ? (t + 1) * tile : pixels;
    float meanF = (float)mean[c], invF = (float)invStd[c], sc = scale[c], sh = shift[c];
    double sDy = 0.0, sDyXhat = 0.0;
    for (int p = t * tile; p < end; p++) {
        long long e = (long long)p * channels + c;
        float xv = x[e];
        double dy = (double)dip_bn_dy(xv, gradOut[e], meanF, sc, sh, slope);
        sDy = sDy + dy;
        sDyXhat = sDyXhat + dy * (double)((xv - meanF) * invF);
    }
    partialDy[i] = sDy;
    partialDyXhat[i] = sDyXhat;
}

/* Per channel: dGamma = sum dy * xhat, dBeta = sum dy (overwritten), and the input gradient's
 * coefficients k = gamma * invStd, a = sum dy / n, b = sum dy xhat / n into coefficients
 * [3c], [3c+1], [3c+2]. Items: C. */
DIP_KERNEL dip_bn_backward_finalize(float *gradGamma, float *gradBeta, float *coefficients,
                                    const double *partialDy, const double *partialDyXhat, const double *invStd,
                                    const float *gamma, int channels, int pixels, int tile) {
    long long i = DIP_THREAD_ITEM();
    if (i >= channels) return;
    int tiles = (pixels + tile - 1) / tile;
    double sDy = 0.0, sDyXhat = 0.0;
    for (int t = 0; t < tiles; t++) {
        sDy = sDy + partialDy[(long long)t * channels + i];
        sDyXhat = sDyXhat + partialDyXhat[(long long)t * channels + i];
    }
    gradGamma[i] = (float)sDyXhat;
    gradBeta[i] = (float)sDy;
    coefficients[3 * i] = (float)((double)gamma[i] * invStd[i]);
    coefficients[3 * i + 1] = (float)(sDy / (double)pixels);
    coefficients[3 * i + 2] = (float)(sDyXhat / (double)pixels);
}

/* gradIn = k * (dy - a - xhat * b); gradIn may be gradOut itself (each element is read before
 * its own slot is written). Items: H * W * C. */
DIP_KERNEL dip_bn_backward_apply(float *gradIn, const float *gradOut, const float *x, const double *mean,
                                 const double *invStd, const float *scale, const float *shift,
                                 const float *coefficients, int channels, int pixels, float slope) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)pixels * channels) return;
    int c = (int)i % channels;
    float meanF = (float)mean[c], invF = (float)invStd[c];
    float xv = x[i];
    float dy = dip_bn_dy(xv, gradOut[i], meanF, scale[c], shift[c], slope);
    float k = coefficients[3 * c], a = coefficients[3 * c + 1], b = coefficients[3 * c + 2];
    float xhat = (xv - meanF) * invF;
    gradIn[i] = k * (dy - a - xhat * b);
}

/* ---------------------------------------------------------------------------------------------
 * Upsample(scale_factor = 2) (Upsample.swift), nearest or bilinear.
 * ------------------------------------------------------------------------------------------- */

/* The bilinear taps of output index d (of m) over an input of n: source indices and weights,
 * the source position and lambdas in Float64 as PyTorch's CPU kernel (and Upsample2x.Taps).
 * Half-pixel centres with m = 2n (every call here) have a closed form that the Float64
 * formula gives exactly (scale 0.5, src = d/2 - 1/4: all values exact in binary): it spares
 * the GPU a double division per tap, and the tests check it against the CPU's Float64 taps. */
DIP_DEVICE_FN void dip_bilinear_tap(int n, int m, int alignCorners, int d, int *i0, int *i1, float *l0, float *l1) {
    if (!alignCorners && m == 2 * n) {
        int k = d >> 1;
        int s0 = (d & 1) ? k : (k > 0 ? k - 1 : 0);
        *i0 = s0;
        *i1 = s0 < n - 1 ? s0 + 1 : s0;
        *l1 = (d & 1) ? 0.25f : (k > 0 ? 0.75f : 0.0f);
        *l0 = (d & 1) ? 0.75f : (k > 0 ? 0.25f : 1.0f);
        return;
    }
    double scale = alignCorners ? (m > 1 ? (double)(n - 1) / (double)(m - 1) : 0.0) : (double)n / (double)m;
    double src;
    if (alignCorners) {
        src = scale * (double)d;
    } else {
        src = scale * ((double)d + 0.5) - 0.5;
        if (src < 0.0) src = 0.0;
    }
    int s0 = (int)src;
    double lambda1 = src - (double)s0;
    *i0 = s0;
    *i1 = s0 < n - 1 ? s0 + 1 : s0;
    *l1 = (float)lambda1;
    *l0 = (float)(1.0 - lambda1);
}

/* Doubles H and W. mode: 0 nearest, 1 bilinear (alignCorners as Upsampling.bilinear's flag).
 * Writes the 2H x 2W x C result through the window. Items: 2H * 2W * C. */
DIP_KERNEL dip_upsample2x_forward(float *out, const float *in, int channels, int height, int width, int mode,
                                  int alignCorners, long long outRowStride, long long outPixelStride) {
    long long i = DIP_THREAD_ITEM();
    int ho = 2 * height, wo = 2 * width;
    if (i >= (long long)ho * wo * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int oy = (int)(p / wo), ox = (int)(p % wo);
    float v;
    if (mode == 0) {
        v = in[((long long)(oy >> 1) * width + (ox >> 1)) * channels + c];
    } else {
        int y0, y1, x0, x1;
        float h0, h1, w0, w1;
        dip_bilinear_tap(height, ho, alignCorners, oy, &y0, &y1, &h0, &h1);
        dip_bilinear_tap(width, wo, alignCorners, ox, &x0, &x1, &w0, &w1);
        const float *a = in + (long long)y0 * width * channels + c;
        const float *b = in + (long long)y1 * width * channels + c;
        v = h0 * (w0 * a[(long long)x0 * channels] + w1 * a[(long long)x1 * channels])
          + h1 * (w0 * b[(long long)x0 * channels] + w1 * b[(long long)x1 * channels]);
    }
    out[(long long)oy * outRowStride + (long long)ox * outPixelStride + c] = v;
}

/* The input gradient, gathered: each input pixel adds the output gradients it contributed to.
 * Nearest: (g[2y][2x] + g[2y][2x+1]) + (g[2y+1][2x] + g[2y+1][2x+1]). Bilinear: the outputs
 * that can reach pixel (y, x) lie within rows 2y-2..2y+3 and columns 2x-2..2x+3 (both
 * alignments). The CPU layer first adds each gradient row onto its two source rows (output
 * row order, tap y0 before y1), then each resulting column onto its two source columns (column
 * order, tap x0 before x1); visiting the terms in that order gives the CPU's bits: for each
 * column ox reaching x, its column sum over the rows reaching y, then that times each weight of
 * x. gradOut is dense 2H x 2W x C. Items: H * W * C. */
DIP_KERNEL dip_upsample2x_backward(float *gradIn, const float *gradOut, int channels, int height, int width,
                                   int mode, int alignCorners) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)height * width * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int y = (int)(p / width), x = (int)(p % width);
    int ho = 2 * height, wo = 2 * width;
    if (mode == 0) {
        const float *g0 = gradOut + ((long long)(2 * y) * wo + 2 * x) * channels + c;
        const float *g1 = g0 + (long long)wo * channels;
        gradIn[i] = (g0[0] + g0[channels]) + (g1[0] + g1[channels]);
        return;
    }
    int oyLo = 2 * y - 2 > 0 ? 2 * y - 2 : 0, oyHi = 2 * y + 3 < ho - 1 ? 2 * y + 3 : ho - 1;
    int oxLo = 2 * x - 2 > 0 ? 2 * x - 2 : 0, oxHi = 2 * x + 3 < wo - 1 ? 2 * x + 3 : wo - 1;
    float acc = 0.0f;
    for (int ox = oxLo; ox <= oxHi; ox++) {
        int x0, x1;
        float w0, w1;
        dip_bilinear_tap(width, wo, alignCorners, ox, &x0, &x1, &w0, &w1);
        if (x0 != x && x1 != x) continue;
        float column = 0.0f;
        for (int oy = oyLo; oy <= oyHi; oy++) {
            int y0, y1;
            float h0, h1;
            dip_bilinear_tap(height, ho, alignCorners, oy, &y0, &y1, &h0, &h1);
            float v = gradOut[((long long)oy * wo + ox) * channels + c];
            if (y0 == y) column = column + h0 * v;
            if (y1 == y) column = column + h1 * v;
        }
        if (x0 == x) acc = acc + w0 * column;
        if (x1 == x) acc = acc + w1 * column;
    }
    gradIn[i] = acc;
}

/* ---------------------------------------------------------------------------------------------
 * Concat(skip, deeper) with upstream's centre crop (Concat.swift). One launch per input: the
 * part of partChannels channels goes to channels firstChannel..< of the output, cropped to the
 * output's H x W from offset ((H_in - H_out) / 2, (W_in - W_out) / 2).
 * ------------------------------------------------------------------------------------------- */

/* Copies one (cropped) input into its channel range of out (H_out x W_out x totalChannels).
 * Items: H_out * W_out * partChannels. */
DIP_KERNEL dip_concat_part_forward(float *out, const float *in, int partChannels, int inHeight, int inWidth,
                                   int outHeight, int outWidth, int totalChannels, int firstChannel) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)outHeight * outWidth * partChannels) return;
    int c = (int)i % partChannels;
    int p = (int)i / partChannels;
    int oy = (int)(p / outWidth), ox = (int)(p % outWidth);
    int sy = oy + (inHeight - outHeight) / 2, sx = ox + (inWidth - outWidth) / 2;
    out[((long long)oy * outWidth + ox) * totalChannels + firstChannel + c] =
        in[((long long)sy * inWidth + sx) * partChannels + c];
}

/* The gradient of one input: its channel range of gradOut where the crop kept the pixel, zero
 * where it dropped it. Items: H_in * W_in * partChannels. */
DIP_KERNEL dip_concat_part_backward(float *gradIn, const float *gradOut, int partChannels, int inHeight,
                                    int inWidth, int outHeight, int outWidth, int totalChannels, int firstChannel) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)inHeight * inWidth * partChannels) return;
    int c = (int)i % partChannels;
    int p = (int)i / partChannels;
    int y = (int)(p / inWidth) - (inHeight - outHeight) / 2, x = (int)(p % inWidth) - (inWidth - outWidth) / 2;
    gradIn[i] = (y >= 0 && y < outHeight && x >= 0 && x < outWidth)
        ? gradOut[((long long)y * outWidth + x) * totalChannels + firstChannel + c] : 0.0f;
}

/* ---------------------------------------------------------------------------------------------
 * AvgPool2d(2, 2) with floor sizes (AvgPool2x2.swift).
 * ------------------------------------------------------------------------------------------- */

/* Items: (H / 2) * (W / 2) * C. */
DIP_KERNEL dip_avgpool2x2_forward(float *out, const float *in, int channels, int height, int width) {
    long long i = DIP_THREAD_ITEM();
    int ho = height / 2, wo = width / 2;
    if (i >= (long long)ho * wo * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int oy = (int)(p / wo), ox = (int)(p % wo);
    const float *r0 = in + ((long long)(2 * oy) * width + 2 * ox) * channels + c;
    const float *r1 = r0 + (long long)width * channels;
    out[i] = (r0[0] + r0[channels] + r1[0] + r1[channels]) * 0.25f;
}

/* A quarter of the block's gradient to each of its pixels; a dropped odd row or column gets 0.
 * Items: H * W * C. */
DIP_KERNEL dip_avgpool2x2_backward(float *gradIn, const float *gradOut, int channels, int height, int width) {
    long long i = DIP_THREAD_ITEM();
    if (i >= (long long)height * width * channels) return;
    int c = (int)i % channels;
    int p = (int)i / channels;
    int oy = (int)(p / width) / 2, ox = (int)(p % width) / 2;
    int ho = height / 2, wo = width / 2;
    gradIn[i] = (oy < ho && ox < wo) ? gradOut[((long long)oy * wo + ox) * channels + c] * 0.25f : 0.0f;
}

/* ---------------------------------------------------------------------------------------------
 * Sigmoid (Sigmoid.swift). Layout-free: n elements.
 * ------------------------------------------------------------------------------------------- */

/* y = 1 / (1 + exp(-x)). Items: n. */
DIP_KERNEL dip_sigmoid_forward(float *y, const float *x, int n) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    y[i] = 1.0f / (1.0f + DIP_EXPF(-x[i]));
}

/* gradIn = gradOut * (y (1 - y)) from the stored output. Items: n. */
DIP_KERNEL dip_sigmoid_backward(float *gradIn, const float *gradOut, const float *y, int n) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    gradIn[i] = gradOut[i] * (y[i] * (1.0f - y[i]));
}

/* ---------------------------------------------------------------------------------------------
 * Masked MSE (MaskedMSELoss.swift) with the Fitter's loss scale (Fitter.lossAndGradient).
 * output and target are H x W x C; the mask is H x W x maskChannels, maskChannels 1 (broadcast)
 * or C.
 * ------------------------------------------------------------------------------------------- */

DIP_DEVICE_FN float dip_mask_at(const float *mask, int i, int channels, int maskChannels) {
    return maskChannels == 1 ? mask[i / channels] : mask[i];
}

/* partial[t] = sum over elements t*tile..<(t+1)*tile (flat HWC order) of (m o - m x0)^2 in
 * Float64. Items: ceil(n / tile). */
DIP_KERNEL dip_mse_partial(double *partial, const float *output, const float *target, const float *mask,
                           int channels, int maskChannels, int n, int tile) {
    long long t = DIP_THREAD_ITEM();
    int tiles = (n + tile - 1) / tile;
    if (t >= tiles) return;
    int end = ((int)t + 1) * tile < n ? ((int)t + 1) * tile : n;
    double s = 0.0;
    for (int i = (int)t * tile; i < end; i++) {
        float m = dip_mask_at(mask, i, channels, maskChannels);
        double d = (double)(m * output[i] - m * target[i]);
        s = s + d * d;
    }
    partial[t] = s;
}

/* loss[0] = (sum of the partials in tile order) / n * lossScale, the value the Fitter reports.
 * Items: 1. */
DIP_KERNEL dip_mse_value(double *loss, const double *partial, int n, int tile, double lossScale) {
    long long i = DIP_THREAD_ITEM();
    if (i >= 1) return;
    int tiles = (n + tile - 1) / tile;
    double s = 0.0;
    for (int t = 0; t < tiles; t++) s = s + partial[t];
    loss[0] = s / (double)n * lossScale;
}

/* log[index[0] % capacity] = value[0]: keeps each iteration's loss in a ring the host reads once
 * per batch of replays, indexed by a device counter (Adam's step count) so a captured graph
 * needs no host write per iteration. Items: 1. */
DIP_KERNEL dip_loss_log(double *log, int capacity, const double *value, const unsigned long long *index) {
    long long i = DIP_THREAD_ITEM();
    if (i >= 1) return;
    log[index[0] % (unsigned long long)capacity] = value[0];
}

/* gradient = scale m (m o - m x0), then times lossScale, with scale = Float(2 / n) and
 * lossScale = Float(the Fitter's loss scale) (a product with 1 changes no bit). Items: n. */
DIP_KERNEL dip_mse_gradient(float *gradient, const float *output, const float *target, const float *mask,
                            int channels, int maskChannels, int n, float scale, float lossScale) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    float m = dip_mask_at(mask, (int)i, channels, maskChannels);
    float g = scale * m * (m * output[i] - m * target[i]);
    gradient[i] = g * lossScale;
}

/* ---------------------------------------------------------------------------------------------
 * Adam over one flat parameter array (Optimizers.swift Adam.step), PyTorch's operation order.
 * The step-dependent terms come from device memory so a captured graph can replay it: step
 * (1-based, the value Adam.stepCount has during the update) indexes stepTerms, a table the
 * host fills with Adam.stepTerms(step:) for steps 1...: stepTerms[2(s-1)] is -lr / (1 - b1^s),
 * stepTerms[2(s-1)+1] is sqrt(1 - b2^s), both rounded to Float as the CPU does.
 * ------------------------------------------------------------------------------------------- */

/* Items: n. */
DIP_KERNEL dip_adam_step(float *x, const float *g, float *m, float *v, int n, const float *stepTerms,
                         const unsigned long long *step, float oneMinusBeta1, float beta2, float oneMinusBeta2,
                         float epsilon) {
    long long i = DIP_THREAD_ITEM();
    if (i >= n) return;
    unsigned long long s = step[0];
    float negStep = stepTerms[2 * (s - 1)], bc2 = stepTerms[2 * (s - 1) + 1];
    float gj = g[i];
    float mj = m[i] + oneMinusBeta1 * (gj - m[i]);
    float vj = v[i] * beta2 + oneMinusBeta2 * gj * gj;
    m[i] = mj;
    v[i] = vj;
    x[i] = x[i] + negStep * mj / (DIP_SQRTF(vj) / bc2 + epsilon);
}

/* ---------------------------------------------------------------------------------------------
 * The perturbation zIt = z + sigma N(0, 1) (Fitter.perturb), drawing the CPU's bits: Philox4x32-10
 * and Box-Muller with the project's own log and sincos (DIPCore/SeededRandom.swift), ported
 * operation for operation and compiled without FMA contraction.
 * ------------------------------------------------------------------------------------------- */

DIP_DEVICE_FN void dip_philox(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 = k0 + 0x9E3779B9u;
            k1 = k1 + 0xBB67AE85u;
        }
        unsigned long long p0 = 0xD2511F53ULL * (unsigned long long)c[0];
        unsigned long long p1 = 0xCD9E8D57ULL * (unsigned long long)c[2];
        unsigned int n0 = (unsigned int)(p1 >> 32) ^ c[1] ^ k0;
        unsigned int n1 = (unsigned int)p1;
        unsigned int n2 = (unsigned int)(p0 >> 32) ^ c[3] ^ k1;
        unsigned int n3 = (unsigned int)p0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
    }
}

/* DeterministicMath.log for a positive normal double. */
DIP_DEVICE_FN double dip_log(double x) {
    unsigned long long bits = DIP_DOUBLE_BITS(x);
    int e = (int)((bits >> 52) & 0x7FFULL) - 1023;
    double m = DIP_BITS_DOUBLE((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL); /* [1, 2) */
    if (m > 1.4142135623730951) { m = m * 0.5; e = e + 1; }
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s;
    double p = 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    double lnm = 2.0 * s * p;
    double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    return (double)e * ln2hi + (lnm + (double)e * ln2lo);
}

/* DeterministicMath.sinCosTwoPi for u in [0, 1). */
DIP_DEVICE_FN void dip_sin_cos_two_pi(double u, double *sinOut, double *cosOut) {
    double t = u * 8.0;
    int k = (int)t;
    double f = t - (double)k;
    if ((k & 1) == 1) f = 1.0 - f;
    double r = f * 0.78539816339744830962;
    double r2 = r * r;
    double sp = -1.0 / 1307674368000.0;
    sp = sp * r2 + 1.0 / 6227020800.0;
    sp = sp * r2 - 1.0 / 39916800.0;
    sp = sp * r2 + 1.0 / 362880.0;
    sp = sp * r2 - 1.0 / 5040.0;
    sp = sp * r2 + 1.0 / 120.0;
    sp = sp * r2 - 1.0 / 6.0;
    double sr = r + r * r2 * sp;
    double cp = 1.0 / 20922789888000.0;
    cp = cp * r2 - 1.0 / 87178291200.0;
    cp = cp * r2 + 1.0 / 479001600.0;
    cp = cp * r2 - 1.0 / 3628800.0;
    cp = cp * r2 + 1.0 / 40320.0;
    cp = cp * r2 - 1.0 / 720.0;
    cp = cp * r2 + 1.0 / 24.0;
    cp = cp * r2 - 0.5;
    double cr = 1.0 + r2 * cp;
    switch (k & 7) {
    case 0: *sinOut = sr; *cosOut = cr; break;
    case 1: *sinOut = cr; *cosOut = sr; break;
    case 2: *sinOut = cr; *cosOut = -sr; break;
    case 3: *sinOut = sr; *cosOut = -cr; break;
    case 4: *sinOut = -sr; *cosOut = -cr; break;
    case 5: *sinOut = -cr; *cosOut = -sr; break;
    case 6: *sinOut = -cr; *cosOut = sr; break;
    default: *sinOut = -sr; *cosOut = cr; break;
    }
}

/* RandomStream.boxMuller: two normals (r cos, r sin) from two words. */
DIP_DEVICE_FN void dip_box_muller(unsigned int a, unsigned int b, double *z0, double *z1) {
    double u1 = ((double)a + 0.5) * 0x1p-32;
    double u2 = ((double)b + 0.5) * 0x1p-32;
    double r = DIP_SQRT(-2.0 * dip_log(u1));
    double s, c;
    dip_sin_cos_two_pi(u2, &s, &c);
    *z0 = r * c;
    *z1 = r * s;
}

/* zIt = Float(0 + sigma * normal) + z, where normal element i (in CHW order, as the CPU fills
 * its [C, H, W] tensor) is lane i % 4 of Philox block i / 4 of the stream with key (key0, key1)
 * (RandomStream(seed:purpose: .perturbation).key) and substream *substream (the iteration, read
 * from device memory). z and zIt are H x W x C. Items: ceil(C * H * W / 4), one per block. */
DIP_KERNEL dip_perturb(float *zIt, const float *z, int channels, int height, int width, unsigned int key0,
                       unsigned int key1, const unsigned long long *substream, float sigma) {
    long long b = DIP_THREAD_ITEM();
    long long plane = (long long)height * width, n = plane * channels;
    if (b >= (n + 3) / 4) return;
    unsigned long long sub = substream[0];
    unsigned int w[4];
    w[0] = (unsigned int)b;
    w[1] = (unsigned int)((unsigned long long)b >> 32);
    w[2] = (unsigned int)sub;
    w[3] = (unsigned int)(sub >> 32);
    dip_philox(w, key0, key1);
    double zs[4];
    dip_box_muller(w[0], w[1], &zs[0], &zs[1]);
    dip_box_muller(w[2], w[3], &zs[2], &zs[3]);
    double sd = (double)sigma;
    for (int lane = 0; lane < 4; lane++) {
        long long i = 4 * b + lane;
        if (i >= n) break;
        int c = (int)i / (height * width), p = (int)i % (height * width);
        long long e = (long long)p * channels + c;
        float noise = (float)(0.0 + sd * zs[lane]);
        zIt[e] = noise + z[e];
    }
}
