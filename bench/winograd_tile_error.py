"""How far a 3x3 convolution lands from exact when the whole Winograd pass runs in float32, for
the two tiles dip-report uses, F(4x4, 3x3) and F(6x6, 3x3), and for two it does not run:
F(8x8, 3x3), and for the stride-2 layers F(m x m, 2 x 2) over the input's four phases
(BENCHMARKS.md, twenty-ninth part of issue 13).

F(8x8, 3x3) would take 100 products for 64 outputs where F(6x6, 3x3) takes 64 for 36: 12 %
fewer products, and 12 % fewer transformed floats (V, M, the kept V) per output. What it costs
is accuracy: its transforms need ten interpolation points, and their spread sets the rounding
error. This builds F(8x8, 3x3) for candidate point sets (Lavin and Gray's construction: the
points, infinity, and exact fractions), checks each against a direct convolution, then runs
every tile's filter transform, input transform, products and output transform in float32
(numpy's sums, not dip-report's order) and compares with the exact (float64 direct) output.
A stride-2 3x3 convolution is a stride-1 2x2 one over its input's four phases (space to depth:
four times the channels, 7 of each channel's 16 taps zero), so it too can take Winograd's
tiles; a second table gives those against a direct stride-2 convolution.

    python3 bench/winograd_tile_error.py [channels] [side] [seeds]

Inputs as a BatchNorm + LeakyReLU(0.2) leaves them, weights as PyTorch's default init (as in
winograd_bf16_error.py, whose F(4x4) and F(6x6) matrices, dip-report's, are used here). Prints
the error's RMS and its largest magnitude, each relative to the exact output's RMS, the worst of
the seeds. Needs numpy and torch (for the imported script).
"""
import sys
from fractions import Fraction

import numpy as np

from winograd_bf16_error import F43, F63, arguments, direct, problem, report


def lavin(m, points, r=3):
    """AT (m x n), G (n x r), BT (n x n) of F(m, r), n = m + r - 1, from n - 1 finite points and
    infinity."""
    n = m + r - 1
    p = [Fraction(v) for v in points]
    assert len(p) == n - 1 and len(set(p)) == len(p)

    def coefficients(roots):
        c = [Fraction(1)]
        for a in roots:
            c = [Fraction(0)] + c
            for i in range(len(c) - 1):
                c[i] -= a * c[i + 1]
        return c + [Fraction(0)] * (n - len(c))

    scale = [np.prod([p[j] - p[k] for k in range(n - 1) if k != j]) for j in range(n - 1)]
    AT = [[p[j] ** i for j in range(n - 1)] + [Fraction(int(i == m - 1))] for i in range(m)]
    G = [[p[j] ** k / scale[j] for k in range(r)] for j in range(n - 1)] + [[0] * (r - 1) + [1]]
    BT = [coefficients([p[k] for k in range(n - 1) if k != j]) for j in range(n - 1)] + [coefficients(p)]
    return dict(tile=m, AT=AT, G=G, BT=BT)


def matrices(f, dtype):
    return [np.array([[float(v) for v in row] for row in f[k]], dtype) for k in ("AT", "G", "BT")]


def winograd(f, x, w, dtype):
    """Every step in `dtype`: U = G w Gᵀ, V = Bᵀ d B per tile, M = Σ_c U V, Y = Aᵀ M A; a valid
    correlation of x with the r x r filters w."""
    AT, G, BT = matrices(f, dtype)
    m, n = f["tile"], BT.shape[0]
    x, w = x.astype(dtype), w.astype(dtype)
    c, side = x.shape[0], x.shape[1] - (w.shape[2] - 1)
    t = side // m
    U = np.einsum("ai,kcij,bj->kcab", G, w, G).astype(dtype)
    d = np.stack([np.stack([x[:, ty * m:ty * m + n, tx * m:tx * m + n] for tx in range(t)], 1) for ty in range(t)], 1)
    V = np.einsum("ai,cyxij,bj->cyxab", BT, d, BT).astype(dtype)
    M = np.einsum("kcab,cyxab->kyxab", U, V).astype(dtype)
    Y = np.einsum("ia,kyxab,jb->kyxij", AT, M, AT).astype(dtype)
    return Y.transpose(0, 1, 3, 2, 4).reshape(w.shape[0], t * m, t * m).astype(np.float64)


def pairs(*values):
    return [0] + [s * Fraction(v) for v in values for s in (1, -1)]


def stride2_direct(x, w):
    """The valid 3x3 stride-2 correlation of x (2 side + 2 square; its last row and column
    unused) with w: side x side outputs, as the nets' down convolutions after their pad."""
    side = (x.shape[1] - 2) // 2
    y = np.zeros((w.shape[0], side, side))
    for ky in range(3):
        for kx in range(3):
            y += np.einsum("kc,cyx->kyx", w[:, :, ky, kx], x[:, ky:ky + 2 * side - 1:2, kx:kx + 2 * side - 1:2])
    return y


def space_to_depth(x, w):
    """The same convolution as a valid 2x2 stride-1 one over four times the channels: phase
    (p, q) of channel c is x[c, 2i + p, 2j + q], and its 2x2 filter holds w[2a + p, 2b + q] where
    that tap exists (7 of the 16 taps a channel are zeros)."""
    c, k = x.shape[0], w.shape[0]
    phases = [(0, 0), (0, 1), (1, 0), (1, 1)]
    xs = np.stack([x[:, p::2, q::2] for p, q in phases], 1).reshape(4 * c, x.shape[1] // 2, x.shape[2] // 2)
    ws = np.zeros((k, c, 4, 2, 2))
    for i, (p, q) in enumerate(phases):
        for a in (0, 1):
            for b in (0, 1):
                if 2 * a + p <= 2 and 2 * b + q <= 2:
                    ws[:, :, i, a, b] = w[:, :, 2 * a + p, 2 * b + q]
    return xs, ws.reshape(k, 4 * c, 2, 2)


TILES = {
    "F(4x4,3x3), dip-report's": F43,
    "F(6x6,3x3), dip-report's": F63,
    "F(8x8,3x3), 0 +-1 +-2 +-1/2 +-4": lavin(8, pairs(1, 2, "1/2", 4)),
    "F(8x8,3x3), 0 +-1 +-2 +-1/2 +-3/2": lavin(8, pairs(1, 2, "1/2", "3/2")),
    "F(8x8,3x3), 0 +-3/4 +-4/3 +-5/2 +-2/5": lavin(8, pairs("3/4", "4/3", "5/2", "2/5")),
    "F(8x8,3x3), 0 +-5/4 +-4/5 +-5/2 +-2/5": lavin(8, pairs("5/4", "4/5", "5/2", "2/5")),
}

# A stride-2 3x3 convolution costs 9 MACs an output a channel pair directly; over its four
# phases by F(m x m, 2 x 2), (m + 1)^2 / m^2 x 4: 6.25 for m = 4, 5.44 for m = 6.
STRIDE2_TILES = {
    "F(4x4,2x2) over 4 phases, 0 +-1 2": lavin(4, [0, 1, -1, 2], r=2),
    "F(6x6,2x2) over 4 phases, 0 +-1 +-2 1/2": lavin(6, [0, 1, -1, 2, -2, "1/2"], r=2),
}


def errors(tiles, channels, problem_side, seeds, convolve, prepare):
    """Each tile's float32 output against the exact `convolve(x, w)`, and fp32 operands'
    direct one, over the seeds: the pairs `report` prints. `prepare` turns (x, w) into the
    tiles' stride-1 problem."""
    result = {}
    for seed in range(seeds):
        x, w, _, _ = problem(channels, problem_side, seed)
        exact = convolve(x, w)
        scale = np.sqrt((exact ** 2).mean())
        outputs = {"direct, fp32 operands, exact sums": convolve(x.astype(np.float32).astype(np.float64),
                                                                 w.astype(np.float32).astype(np.float64))}
        xt, wt = prepare(x, w)
        for name, f in tiles.items():
            # The construction must be right before its rounding means anything.
            if np.abs(winograd(f, xt, wt, np.float64) - exact).max() > 1e-9 * scale:
                sys.exit(f"{name}: the transforms do not give the convolution")
            outputs[name + ", fp32"] = winograd(f, xt, wt, np.float32)
        for name, y in outputs.items():
            result.setdefault(name, []).append((y - exact, scale))
    return result


def main():
    channels, side, seeds = arguments("winograd_tile_error.py", 24, "F(4x4), F(6x6) and F(8x8)")
    report(channels, side, seeds, errors(TILES, channels, side, seeds, direct, lambda x, w: (x, w)))
    print("\nstride 2 (the nets' down convolutions), the same channels and outputs:")
    report(channels, side, seeds, errors(STRIDE2_TILES, channels, 2 * side, seeds, stride2_direct, space_to_depth))


if __name__ == "__main__":
    main()
