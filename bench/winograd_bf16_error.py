"""How far a 3x3 convolution lands from exact when its operands are rounded to bfloat16, direct
against Winograd (issue 13's optional `--precision bf16`; BENCHMARKS.md, twenty-fifth part).

A bf16 Winograd would round the transformed input V and filter U to bf16 for AVX512-BF16's
dot products (VDPBF16PS, fp32 sums). This measures that against what oneDNN's bf16 direct
convolution rounds (the input and the weights), and against fp32 operands, for F(6x6, 3x3) and
F(4x4, 3x3) with dip-report's interpolation points (WinogradTransforms.swift). Everything else is
exact (float64 transforms and sums), which is the best case for the rounded variants.

    python3 bench/winograd_bf16_error.py [channels] [side] [seeds]

Inputs as a BatchNorm + LeakyReLU(0.2) leaves them (standard normal, then the slope), weights as
PyTorch's default init (uniform within 1/sqrt(9 x channels)). Needs numpy and torch (for the
round-to-nearest-even bf16 conversion). Prints the error's RMS and its largest magnitude, each
relative to the exact output's RMS, the worst of the seeds.
"""
import sys

import numpy as np
import torch

F63 = dict(
    tile=6,
    BT=[[1, 0, -5.25, 0, 5.25, 0, -1, 0], [0, 1, 1, -4.25, -4.25, 1, 1, 0], [0, -1, 1, 4.25, -4.25, -1, 1, 0],
        [0, 0.5, 0.25, -2.5, -1.25, 2, 1, 0], [0, -0.5, 0.25, 2.5, -1.25, -2, 1, 0], [0, 2, 4, -2.5, -5, 0.5, 1, 0],
        [0, -2, 4, 2.5, -5, -0.5, 1, 0], [0, -1, 0, 5.25, 0, -5.25, 0, 1]],
    AT=[[1, 1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0.5, -0.5, 0], [0, 1, 1, 4, 4, 0.25, 0.25, 0],
        [0, 1, -1, 8, -8, 0.125, -0.125, 0], [0, 1, 1, 16, 16, 0.0625, 0.0625, 0],
        [0, 1, -1, 32, -32, 0.03125, -0.03125, 1]],
    G=[[1, 0, 0], [-2 / 9, -2 / 9, -2 / 9], [-2 / 9, 2 / 9, -2 / 9], [1 / 90, 1 / 45, 2 / 45], [1 / 90, -1 / 45, 2 / 45],
       [32 / 45, 16 / 45, 8 / 45], [32 / 45, -16 / 45, 8 / 45], [0, 0, 1]])
F43 = dict(
    tile=4,
    BT=[[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1]],
    AT=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
    G=[[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6],
       [0, 0, 1]])


def bf16(a):
    return torch.from_numpy(np.asarray(a, np.float32)).bfloat16().double().numpy()


def fp32(a):
    return np.asarray(a, np.float32).astype(np.float64)


def direct(x, w):
    return torch.nn.functional.conv2d(torch.from_numpy(x)[None], torch.from_numpy(w)).numpy()[0]


def winograd(f, x, w, rounding):
    BT, AT, G = (np.array(f[k], np.float64) for k in ("BT", "AT", "G"))
    m = f["tile"]
    n = BT.shape[0]
    c, side = x.shape[0], x.shape[1] - 2
    tiles = side // m
    U = np.einsum("ai,kcij,bj->kcab", G, w, G)
    V = np.empty((c, tiles, tiles, n, n))
    for ty in range(tiles):
        for tx in range(tiles):
            V[:, ty, tx] = np.einsum("ai,cij,bj->cab", BT, x[:, ty * m:ty * m + n, tx * m:tx * m + n], BT)
    M = np.einsum("kcab,cyxab->kyxab", rounding(U), rounding(V))
    Y = np.einsum("ia,kyxab,jb->kyxij", AT, M, AT)
    return Y.transpose(0, 1, 3, 2, 4).reshape(w.shape[0], tiles * m, tiles * m)


def arguments(script, multiple, tiles):
    """channels, side and seeds from the command line (defaults 128, 48, 3); the side a
    multiple of `multiple`, so that every tile in `tiles` (a phrase for the message) fits whole."""
    values = []
    for index, (name, default) in enumerate((("channels", 128), ("side", 48), ("seeds", 3)), start=1):
        text = sys.argv[index] if len(sys.argv) > index else str(default)
        if not text.isdigit() or int(text) < 1:
            sys.exit(f"{name} '{text}': give a whole number from 1 (usage: {script} [channels] [side] [seeds])")
        values.append(int(text))
    if values[1] % multiple:
        sys.exit(f"side {values[1]}: use a multiple of {multiple} (whole {tiles} tiles)")
    return values


def problem(channels, side, seed):
    """Input planes (side + 2 square) as a BatchNorm + LeakyReLU(0.2) leaves them, weights as
    PyTorch's default init, and the exact output with its RMS."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((channels, side + 2, side + 2))
    x = np.where(x > 0, x, 0.2 * x)
    bound = 1 / np.sqrt(9 * channels)
    w = rng.uniform(-bound, bound, (channels, channels, 3, 3))
    exact = direct(x, w)
    return x, w, exact, np.sqrt((exact ** 2).mean())


def report(channels, side, seeds, errors):
    """Prints each result's worst RMS and largest error over the seeds (relative to the
    exact output's RMS); `errors` maps a name to one (y - exact, scale) pair a seed."""
    print(f"{channels} -> {channels} channels, {side}x{side} outputs, seeds 0-{seeds - 1}; error relative to the exact output's RMS")
    width = max(len(name) for name in errors)
    print(f"{'':{width}s} {'RMS':>10s} {'largest':>10s}")
    for name, pairs in errors.items():
        rms = max(np.sqrt((e ** 2).mean()) / scale for e, scale in pairs)
        largest = max(np.abs(e).max() / scale for e, scale in pairs)
        print(f"{name:{width}s} {rms:10.2e} {largest:10.2e}")


def main():
    channels, side, seeds = arguments("winograd_bf16_error.py", 12, "F(6x6) and F(4x4)")
    errors = {}
    for seed in range(seeds):
        x, w, exact, scale = problem(channels, side, seed)
        results = {
            "direct, fp32 operands": direct(fp32(x), fp32(w)),
            "direct, bf16 operands (oneDNN bf16)": direct(bf16(x), bf16(w)),
            "F(4x4,3x3), fp32 U and V": winograd(F43, x, w, fp32),
            "F(4x4,3x3), bf16 U and V": winograd(F43, x, w, bf16),
            "F(6x6,3x3), fp32 U and V": winograd(F63, x, w, fp32),
            "F(6x6,3x3), bf16 U and V": winograd(F63, x, w, bf16),
        }
        for name, y in results.items():
            errors.setdefault(name, []).append((y - exact, scale))
    report(channels, side, seeds, errors)


if __name__ == "__main__":
    main()
