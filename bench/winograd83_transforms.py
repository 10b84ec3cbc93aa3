"""The 1-D transforms of Winograd F(8x8, 3x3) as dip-report runs them (WinogradF83 in
Sources/DIPEngine/CPU/WinogradTransforms.swift, Sources/CWinograd/winograd83_avx2.c): derived
here from the interpolation points, written out as Swift and as C in one order of operations,
and checked in float32 with exactly that order against a float64 direct convolution
(BENCHMARKS.md, thirty-first part of issue 13).

Points 0, ±a1..±a4 and infinity. Lavin and Gray's construction (bench/winograd_tile_error.py's
`lavin`): Bᵀ row j holds the coefficients of the polynomial whose roots are every finite point
but p_j (all of them for infinity), G row j is (1, p_j, p_j²) over prod_{k != j} (p_j - p_k),
Aᵀ column j is the powers of p_j. With the points in ± pairs, every 1-D transform factors into
an even part e and an odd part o per pair, the pair's two rows being e + o and e - o (for
Bᵀ: x (x ± a) P(x²) = x² P(x²) ± a x P(x²)), as NNPACK and WinogradF63 do.

Each sum runs left to right; a term whose coefficient is not 1 or -1 enters by a fused
multiply-add (Swift `addingProduct`, C `fmadd`, one rounding), which halves the transforms'
operations against a multiply and an add.

    python3 bench/winograd83_transforms.py swift|c     # the transforms' code
    python3 bench/winograd83_transforms.py check [channels] [side] [seeds]
                                                      # exactness, then float32 error

`swift` prints the 1-D transforms as they stand in WinogradF83 (below its MARK line), `c` as
they stand in winograd83_avx2.c (after `fmadd`); a change to the points or the order is made
here and pasted into both (WinogradTests then checks that the two give the same bits).
`check` first verifies the rational matrices against a direct convolution exactly (Fractions)
and the factored transforms against the matrices, then runs the 2-D tile transforms in float32
in the emitted order (fused where the code fuses) and the products in float32 (numpy's sums),
as winograd_tile_error.py does, and prints the error's RMS and largest magnitude relative to the
exact output's RMS, the worst of the seeds. Needs numpy (and torch, through
winograd_bf16_error.py's inputs).
"""
import re
import sys
from fractions import Fraction

import numpy as np

POINTS = [Fraction(5, 4), Fraction(4, 5), Fraction(5, 2), Fraction(2, 5)]


def poly(roots):
    """Coefficients (ascending) of prod (x - r)."""
    c = [Fraction(1)]
    for r in roots:
        c = [Fraction(0)] + c
        for i in range(len(c) - 1):
            c[i] -= r * c[i + 1]
    return c


def points():
    """0, +a1, -a1, ..., +a4, -a4 (infinity is the last row and column, implicit)."""
    p = [Fraction(0)]
    for a in POINTS:
        p += [a, -a]
    return p


def matrices():
    """Aᵀ (8 x 10), G (10 x 3), Bᵀ (10 x 10) as Fractions (Lavin's construction)."""
    p, m, n = points(), 8, 10
    scale = [np.prod([p[j] - p[k] for k in range(n - 1) if k != j]) for j in range(n - 1)]
    at = [[p[j] ** i for j in range(n - 1)] + [Fraction(int(i == m - 1))] for i in range(m)]
    g = [[p[j] ** k / scale[j] for k in range(3)] for j in range(n - 1)] + [[Fraction(0), Fraction(0), Fraction(1)]]
    bt = []
    for j in range(n - 1):
        c = poly([p[k] for k in range(n - 1) if k != j])
        bt.append(c + [Fraction(0)] * (n - len(c)))
    bt.append(poly(p[:]) + [Fraction(0)] * 0)
    return at, g, bt


# MARK: An expression tree, so Swift, C and the float32 simulation share one order.

class E:
    """A leaf (an input), `c * x`, `x + y` or `x - y`."""

    def __init__(self, op, *args):
        self.op, self.args = op, args


def leaf(name):
    return E("leaf", name)


def scale(c, x):
    c = Fraction(c)
    if c == 1:
        return x
    return E("mul", c, x)


def add(x, y):
    return E("add", x, y)


def sub(x, y):
    return E("sub", x, y)


def total(terms):
    """The terms (coefficient, expression) summed left to right, zero ones left out: the first
    term (times its coefficient), then each next one added (coefficient 1), subtracted (-1) or
    taken in by a fused multiply-add (any other coefficient)."""
    terms = [(Fraction(c), x) for c, x in terms if c != 0]
    c0, x0 = terms[0]
    out = scale(c0, x0)
    for c, x in terms[1:]:
        out = add(out, x) if c == 1 else sub(out, x) if c == -1 else E("fma", c, x, out)
    return out


def f32(c):
    """The float32 nearest the rational c, as the code's constant."""
    return np.float32(float(c))


def constant(c):
    return re.sub(r"\.?0+p", "p", float(f32(c)).hex())


def render(e, lang, names):
    if e.op == "leaf":
        return names[e.args[0]]
    if e.op == "mul":
        c, x = e.args
        inner = render(x, lang, names)
        return f"{constant(c)} * {inner}" if lang == "swift" else f"mul({constant(c)}f, {inner})"
    if e.op == "fma":
        c, x, acc = e.args
        a, v = render(acc, lang, names), render(x, lang, names)
        if lang == "swift":
            return f"{a if acc.op in ('leaf', 'fma') else f'({a})'}.addingProduct({constant(c)}, {v})"
        return f"fmadd({constant(c)}f, {v}, {a})"
    x, y = (render(a, lang, names) for a in e.args)
    if lang == "swift":
        # Parentheses where an operand is itself a sum (left-to-right order made explicit).
        if e.args[1].op in ("add", "sub"):
            y = f"({y})"
        if e.args[0].op in ("add", "sub"):
            x = f"({x})"
        return f"{x} {'+' if e.op == 'add' else '-'} {y}"
    return f"{'add' if e.op == 'add' else 'sub'}({x}, {y})"


def evaluate(e, env):
    """float32 evaluation in the tree's order (numpy float32 arrays)."""
    if e.op == "leaf":
        return env[e.args[0]]
    if e.op == "mul":
        return np.float32(f32(e.args[0])) * evaluate(e.args[1], env)
    if e.op == "fma":
        # Fused: the float64 product of two floats is exact, one rounding to float32 after.
        c, x, acc = e.args
        return (np.float64(f32(c)) * evaluate(x, env).astype(np.float64) + evaluate(acc, env).astype(np.float64)).astype(np.float32)
    x, y = evaluate(e.args[0], env), evaluate(e.args[1], env)
    return x + y if e.op == "add" else x - y


# MARK: The five 1-D transforms: (inputs, temporaries [(name, expr)], outputs [expr]).

def transforms():
    p = points()
    at, g, bt = matrices()
    pairs = len(POINTS)
    out = {}

    # Bᵀ (10 -> 10).
    d = [leaf(f"d{i}") for i in range(10)]
    temps, q = [], [None] * 10
    q[0] = total([(bt[0][i], d[i]) for i in range(0, 9, 2)])
    for k in range(pairs):
        row = bt[1 + 2 * k]
        e = total([(row[i], d[i]) for i in range(2, 9, 2)])
        o = total([(row[i], d[i]) for i in range(1, 8, 2)])
        temps += [(f"e{k + 1}", e), (f"o{k + 1}", o)]
        q[1 + 2 * k] = add(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
        q[2 + 2 * k] = sub(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
    q[9] = total([(bt[9][i], d[i]) for i in range(1, 10, 2)])
    out["bt"] = ([f"d{i}" for i in range(10)], temps, q)

    # Aᵀ (10 -> 8): s_k, t_k the sum and difference of pair k's two inputs.
    m = [leaf(f"m{i}") for i in range(10)]
    temps = []
    for k in range(pairs):
        temps += [(f"s{k + 1}", add(m[1 + 2 * k], m[2 + 2 * k])), (f"t{k + 1}", sub(m[1 + 2 * k], m[2 + 2 * k]))]
    q = []
    for i in range(8):
        terms = [(1, m[0])] if i == 0 else []
        terms += [(at[i][1 + 2 * k], leaf(f"{'s' if i % 2 == 0 else 't'}{k + 1}")) for k in range(pairs)]
        if i == 7:
            terms.append((1, m[9]))
        q.append(total(terms))
    out["at"] = ([f"m{i}" for i in range(10)], temps, q)

    # A = (Aᵀ)ᵀ (8 -> 10).
    y = [leaf(f"y{i}") for i in range(8)]
    temps, q = [], [None] * 10
    q[0] = y[0]
    for k in range(pairs):
        col = 1 + 2 * k
        temps += [(f"e{k + 1}", total([(at[i][col], y[i]) for i in range(0, 8, 2)])),
                  (f"o{k + 1}", total([(at[i][col], y[i]) for i in range(1, 8, 2)]))]
        q[col] = add(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
        q[col + 1] = sub(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
    q[9] = y[7]
    out["a"] = ([f"y{i}" for i in range(8)], temps, q)

    # G (3 -> 10).
    gg = [leaf(f"g{i}") for i in range(3)]
    temps, q = [], [None] * 10
    q[0] = total([(g[0][i], gg[i]) for i in range(3)])
    for k in range(pairs):
        row = g[1 + 2 * k]
        temps += [(f"e{k + 1}", total([(row[0], gg[0]), (row[2], gg[2])])), (f"o{k + 1}", scale(row[1], gg[1]))]
        q[1 + 2 * k] = add(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
        q[2 + 2 * k] = sub(leaf(f"e{k + 1}"), leaf(f"o{k + 1}"))
    q[9] = gg[2]
    out["g"] = ([f"g{i}" for i in range(3)], temps, q)

    # Gᵀ (10 -> 3): s_k, t_k of pair k's inputs.
    u = [leaf(f"u{i}") for i in range(10)]
    temps = []
    for k in range(pairs):
        temps += [(f"s{k + 1}", add(u[1 + 2 * k], u[2 + 2 * k])), (f"t{k + 1}", sub(u[1 + 2 * k], u[2 + 2 * k]))]
    q = [total([(g[0][0], u[0])] + [(g[1 + 2 * k][0], leaf(f"s{k + 1}")) for k in range(pairs)]),
         total([(g[1 + 2 * k][1], leaf(f"t{k + 1}")) for k in range(pairs)]),
         total([(g[1 + 2 * k][2], leaf(f"s{k + 1}")) for k in range(pairs)] + [(1, u[9])])]
    out["gt"] = ([f"u{i}" for i in range(10)], temps, q)
    return out


def apply_1d(name, inputs):
    """The 1-D transform `name` on a list of float32 arrays, in the emitted order."""
    names, temps, q = transforms()[name]
    env = dict(zip(names, inputs))
    for t, e in temps:
        env[t] = evaluate(e, env)
    return [evaluate(e, env) for e in q]


# MARK: Code.

DOC = {"bt": ("Bᵀ (10 -> 10).", "bt10"), "at": ("Aᵀ (10 -> 8).", "at10"), "a": ("A = (Aᵀ)ᵀ (8 -> 10), the transpose of `at`.", "a10"),
       "g": ("G (3 -> 10).", "g10"), "gt": ("Gᵀ (10 -> 3), the transpose of `g`.", "gt10")}


# Per language: the function's opening lines, the loads' line, a temporary, an output, the end.
SYNTAX = {
    "swift": dict(head=lambda name, cname, doc: [f"    /// {doc}", "    @inline(__always)",
                                                f"    static func {name}(_ p: UnsafePointer<WinogradLanes>, _ ps: Int, "
                                                "_ q: UnsafeMutablePointer<WinogradLanes>, _ qs: Int) {"],
                  loads="        let {}", temp="        let {}: WinogradLanes = {}", out="        {} = {}", end=["    }", ""]),
    "c": dict(head=lambda name, cname, doc: [f"/// {doc}", f"DIP_INLINE_FMA void {cname}(const lanes *p, int ps, lanes *q, int qs) {{"],
              loads="    const lanes {};", temp="    const lanes {} = {};", out="    {} = {};", end=["}", ""]),
}


def emit(lang):
    syntax, lines = SYNTAX[lang], []
    for name, (inputs, temps, q) in transforms().items():
        doc, cname = DOC[name]
        names = {v: v for v in inputs}
        names.update({t: t for t, _ in temps})
        lines += syntax["head"](name, cname, doc)
        for i in range(0, len(inputs), 5):
            loads = ", ".join(f"{v} = p[{'0' if j == 0 else 'ps' if j == 1 else f'{j} * ps'}]"
                              for j, v in enumerate(inputs[i:i + 5], start=i))
            lines.append(syntax["loads"].format(loads))
        for t, e in temps:
            lines.append(syntax["temp"].format(t, render(e, lang, names)))
        for i, e in enumerate(q):
            lines.append(syntax["out"].format("q[0]" if i == 0 else "q[qs]" if i == 1 else f"q[{i} * qs]", render(e, lang, names)))
        lines += syntax["end"]
    return "\n".join(lines)


# MARK: Checks.

def exact_check():
    """Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A equals the valid correlation, in Fractions, 1-D (enough: the
    2-D transform is the 1-D one on rows and columns)."""
    at, g, bt = matrices()
    import random
    rnd = random.Random(1)
    for _ in range(3):
        d = [Fraction(rnd.randint(-9, 9)) for _ in range(10)]
        w = [Fraction(rnd.randint(-9, 9)) for _ in range(3)]
        u = [sum(g[j][k] * w[k] for k in range(3)) for j in range(10)]
        v = [sum(bt[j][i] * d[i] for i in range(10)) for j in range(10)]
        y = [sum(at[i][j] * u[j] * v[j] for j in range(10)) for i in range(8)]
        ref = [sum(w[k] * d[i + k] for k in range(3)) for i in range(8)]
        assert y == ref, (y, ref)
    # The factored transforms against the matrices, in float64 on random inputs.
    rng = np.random.default_rng(0)
    for name, mat, n_in in (("bt", bt, 10), ("at", at, 10), ("g", g, 3)):
        x = [rng.standard_normal(4).astype(np.float32) for _ in range(n_in)]
        got = np.array(apply_1d(name, x), np.float64)
        want = np.array([[float(c) for c in row] for row in mat]) @ np.array(x, np.float64)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max()), name
    for name, mat in (("a", at), ("gt", g)):
        rows = len(mat)
        x = [rng.standard_normal(4).astype(np.float32) for _ in range(rows)]
        got = np.array(apply_1d(name, x), np.float64)
        want = np.array([[float(c) for c in row] for row in mat]).T @ np.array(x, np.float64)
        assert np.allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max()), name
    print("F(8x8,3x3), points 0, " + ", ".join(f"±{a}" for a in POINTS) + ", infinity: exact against the direct "
          "correlation; the factored transforms match the matrices")


def tile_2d(name, x, n_out):
    """Columns, then rows, as WinogradTileTransforms: x[r][s] float32 arrays."""
    n_in = len(x)
    cols = [apply_1d(name, [x[r][s] for r in range(n_in)]) for s in range(len(x[0]))]
    work = [[cols[s][r] for s in range(len(x[0]))] for r in range(n_out)]
    return [apply_1d(name, work[r]) for r in range(n_out)]


def float32_error(channels, side, seeds):
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from winograd_bf16_error import problem
    worst_rms = worst_max = 0.0
    t = side // 8
    for seed in range(seeds):
        x, w, exact, _ = problem(channels, side, seed)
        exact = exact[:, :t * 8, :t * 8]
        co, ci = w.shape[0], w.shape[1]
        w32 = w.astype(np.float32)
        # U: G g Gᵀ, 10 x 10 per (o, i), in the emitted order.
        gl = [[w32[:, :, a, b] for b in range(3)] for a in range(3)]
        u = tile_2d("g", gl, 10)
        # V per tile: Bᵀ d B.
        x32 = x.astype(np.float32)
        dl = [[np.stack([np.stack([x32[:, ty * 8 + r, tx * 8 + s] for tx in range(t)], -1) for ty in range(t)], -2)
               for s in range(10)] for r in range(10)]
        v = tile_2d("bt", dl, 10)
        # M = sum over i of U V in float32 (numpy's sums, as winograd_tile_error.py).
        mm = [[np.einsum("oi,iyx->oyx", u[a][b], v[a][b]).astype(np.float32) for b in range(10)] for a in range(10)]
        y = tile_2d("at", mm, 8)
        out = np.zeros((co, t * 8, t * 8))
        for a in range(8):
            for b in range(8):
                out[:, a::8, b::8] = y[a][b]
        rms = np.sqrt(np.mean(exact ** 2))
        err = out - exact
        worst_rms = max(worst_rms, np.sqrt(np.mean(err ** 2)) / rms)
        worst_max = max(worst_max, np.abs(err).max() / rms)
    print(f"{channels} -> {channels}, {t * 8}x{t * 8} outputs, worst of {seeds} seeds: float32 error RMS {worst_rms:.2e}, "
          f"largest {worst_max:.2e} (relative to the exact output's RMS)")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "check"
    if what in ("swift", "c"):
        print(emit(what))
    else:
        exact_check()
        args = [int(a) for a in sys.argv[2:]]
        channels, side, seeds = (args + [128, 48, 3][len(args):])[:3]
        float32_error(channels, side, seeds)
