"""How far a 3x3 convolution lands from exact when the whole Winograd pass runs in float32, for
the two tiles dip-report uses, F(4x4, 3x3) and F(6x6, 3x3), and for F(8x8, 3x3), which no
part of dip-report runs (BENCHMARKS.md, twenty-ninth part of issue 13).

F(8x8, 3x3) would take 100 products for 64 outputs where F(6x6, 3x3) takes 64 for 36: 12 %
fewer products, and 12 % fewer transformed floats (V, M, the kept V) per output. What it costs
is accuracy: its transforms need ten interpolation points, and their spread sets the rounding
error. This builds F(8x8, 3x3) for candidate point sets (Lavin and Gray's construction: the
points, infinity, and exact fractions), checks each against a direct convolution, then runs
every tile's filter transform, input transform, products and output transform in float32
(numpy's sums, not dip-report's order) and compares with the exact (float64 direct) output.

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


def lavin(m, points):
    """AT (m x n), G (n x 3), BT (n x n) of F(m, 3) from n - 1 finite points and infinity."""
    n = m + 2
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
    G = [[p[j] ** k / scale[j] for k in range(3)] for j in range(n - 1)] + [[0, 0, 1]]
    BT = [coefficients([p[k] for k in range(n - 1) if k != j]) for j in range(n - 1)] + [coefficients(p)]
    return dict(tile=m, AT=AT, G=G, BT=BT)


def matrices(f, dtype):
    return [np.array([[float(v) for v in row] for row in f[k]], dtype) for k in ("AT", "G", "BT")]


def winograd(f, x, w, dtype):
    """Every step in `dtype`: U = G w Gᵀ, V = Bᵀ d B per tile, M = Σ_c U V, Y = Aᵀ M A."""
    AT, G, BT = matrices(f, dtype)
    m, n = f["tile"], BT.shape[0]
    x, w = x.astype(dtype), w.astype(dtype)
    c, side = x.shape[0], x.shape[1] - 2
    t = side // m
    U = np.einsum("ai,kcij,bj->kcab", G, w, G).astype(dtype)
    d = np.stack([np.stack([x[:, ty * m:ty * m + n, tx * m:tx * m + n] for tx in range(t)], 1) for ty in range(t)], 1)
    V = np.einsum("ai,cyxij,bj->cyxab", BT, d, BT).astype(dtype)
    M = np.einsum("kcab,cyxab->kyxab", U, V).astype(dtype)
    Y = np.einsum("ia,kyxab,jb->kyxij", AT, M, AT).astype(dtype)
    return Y.transpose(0, 1, 3, 2, 4).reshape(w.shape[0], t * m, t * m).astype(np.float64)


def pairs(*values):
    return [0] + [s * Fraction(v) for v in values for s in (1, -1)]


TILES = {
    "F(4x4,3x3), dip-report's": F43,
    "F(6x6,3x3), dip-report's": F63,
    "F(8x8,3x3), 0 +-1 +-2 +-1/2 +-4": lavin(8, pairs(1, 2, "1/2", 4)),
    "F(8x8,3x3), 0 +-1 +-2 +-1/2 +-3/2": lavin(8, pairs(1, 2, "1/2", "3/2")),
    "F(8x8,3x3), 0 +-3/4 +-4/3 +-5/2 +-2/5": lavin(8, pairs("3/4", "4/3", "5/2", "2/5")),
    "F(8x8,3x3), 0 +-5/4 +-4/5 +-5/2 +-2/5": lavin(8, pairs("5/4", "4/5", "5/2", "2/5")),
}


def main():
    channels, side, seeds = arguments("winograd_tile_error.py", 24, "F(4x4), F(6x6) and F(8x8)")
    errors = {}
    for seed in range(seeds):
        x, w, exact, scale = problem(channels, side, seed)
        results = {"direct, fp32 operands, exact sums": direct(x.astype(np.float32).astype(np.float64),
                                                               w.astype(np.float32).astype(np.float64))}
        for name, f in TILES.items():
            # The construction must be right before its rounding means anything.
            if np.abs(winograd(f, x, w, np.float64) - exact).max() > 1e-9 * scale:
                sys.exit(f"{name}: the transforms do not give the convolution")
            results[name + ", fp32"] = winograd(f, x, w, np.float32)
        for name, y in results.items():
            errors.setdefault(name, []).append((y - exact, scale))
    report(channels, side, seeds, errors)


if __name__ == "__main__":
    main()
