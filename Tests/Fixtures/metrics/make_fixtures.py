"""Writes the metric test fixtures and prints skimage's reference values.

Run from this folder: python3 make_fixtures.py
Used: Python 3.11, numpy 2.4.6, scipy 1.17.1, scikit-image 0.26.0.
Format of each .f32 file: an ASCII line "DIPF32 C H W\n", then C*H*W float32 little-endian
samples in C x H x W order (the layout of DIPCore.Image).
"""
import numpy as np
import skimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def write(name, arr):
    arr = np.asarray(arr, dtype='<f4')
    c, h, w = arr.shape
    with open(name, 'wb') as f:
        f.write(f"DIPF32 {c} {h} {w}\n".encode())
        f.write(arr.tobytes())


rng = np.random.default_rng(20180601)
# RGB pair: a smooth-ish ramp plus noise, and a noisy copy (clipped to [0, 1]).
yy, xx = np.mgrid[0:24, 0:20]
base = np.stack([(xx + yy) / 43, (xx * 2 % 20) / 19, np.abs(np.sin(xx / 3.0 + yy / 5.0))])
rgb_a = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)
rgb_b = np.clip(rgb_a + rng.normal(0, 0.1, base.shape), 0, 1).astype(np.float32)
# Mask: 1 = known; Bernoulli 50 % plus a 6x7 hole touching the top-left corner.
mask = (rng.random((1, 24, 20)) < 0.5).astype(np.float32)
mask[0, :6, :7] = 0
# Gray pair, 17x13 (odd, non-square) uniform noise and a blurred-ish variant.
gray_a = rng.random((1, 17, 13)).astype(np.float32)
gray_b = np.clip(0.7 * gray_a + 0.3 * np.roll(gray_a, 1, axis=2) + rng.normal(0, 0.02, gray_a.shape), 0, 1).astype(np.float32)

write('rgb_a.f32', rgb_a)
write('rgb_b.f32', rgb_b)
write('mask.f32', mask)
write('gray_a.f32', gray_a)
write('gray_b.f32', gray_b)

print('skimage', skimage.__version__)


def ssim_args(a, b, full=False):
    return structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 channel_axis=0, full=full)


def masked_psnr(a, b, m, known):
    sel = np.broadcast_to(m >= 0.5, a.shape) if known else np.broadcast_to(m < 0.5, a.shape)
    d = (a - b) ** 2  # float32 squares, like skimage
    return 10 * np.log10(1 / np.mean(d[sel], dtype=np.float64))


for name, a, b in [('rgb', rgb_a, rgb_b), ('gray', gray_a, gray_b)]:
    print(name, 'psnr', repr(peak_signal_noise_ratio(a, b, data_range=1)))
    print(name, 'ssim', repr(ssim_args(a, b)))
    _, s = ssim_args(a, b, full=True)
    if name == 'rgb':
        hole = np.broadcast_to(mask < 0.5, s.shape)
        # Region SSIM: per channel over the region inside skimage's 5-pixel border crop (the
        # crop of its own mean), then the mean over channels; the region "all" is then exactly
        # skimage's score.
        r = 5
        inner = (slice(None), slice(r, -r), slice(r, -r))
        sc, hc = s[inner], hole[inner]
        print(name, 'ssim holes', repr(np.mean([sc[c][hc[c]].mean() for c in range(3)])))
        print(name, 'ssim known', repr(np.mean([sc[c][~hc[c]].mean() for c in range(3)])))
        print(name, 'psnr holes', repr(masked_psnr(a, b, mask, False)))
        print(name, 'psnr known', repr(masked_psnr(a, b, mask, True)))
        print(name, 'ssim map [1,0,0] [2,23,19] [0,12,9]', repr(s[1, 0, 0]), repr(s[2, 23, 19]), repr(s[0, 12, 9]))
