#!/usr/bin/env python3
"""Runs the committed PTX of every CUDA kernel on a GPU against the kernels' host build, bit for bit.

  scripts/cuda/device-check.py HOSTLIB [--time]
  scripts/cuda/device-check.py HOSTLIB --host-only     (the harness alone, no GPU needed)

HOSTLIB is the kernels' host build as a shared library (`make cuda-host-lib` writes
.build-cuda/libdipkernels_host.so), the same C that Tests/DIPEngineTests/CUDAKernelEmulationTests
checks against the CPU layers. Every kernel runs on the GPU (PTX from
Sources/DIPEngine/CUDA/KernelsPTX.swift, through the driver API: libcuda.so.1 and ctypes only, no
toolkit) and over the emulated grid on the host, on the same inputs, and every buffer must come out
with the same bits: that checks on the card what the emulation cannot (-fmad=false, IEEE division
and square root, the double-precision Philox/Box-Muller path of the perturbation, the reductions'
fixed order). The one allowed difference is the sigmoid's expf (CUDA's against the C library's,
at most 2 ulp). --time also times each kernel at 512x512 (CUDA events, mean of 20 launches).
Exit status 0 when everything agrees; docs/cuda-kernels.md.
"""
import argparse
import ctypes as C
import os
import random
import struct
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PTX_SWIFT = os.path.join(ROOT, "Sources/DIPEngine/CUDA/KernelsPTX.swift")
BLOCK = 256   # DIP_KERNEL_BLOCK
TILE = 256    # DIP_REDUCE_TILE


def ptx_module(name):
    text = open(PTX_SWIFT).read()
    start = text.index(f"static let {name} = #\"\"\"\n") + len(f"static let {name} = #\"\"\"\n")
    return text[start:text.index("\n\"\"\"#", start)] + "\n"


# ---- buffers and calls ---------------------------------------------------------------------------

class Buf:
    """A named buffer: element type ('f' float, 'd' double, 'Q' uint64) and initial values (zeros
    when None, without building a list: the timing buffers hold 33M values)."""
    def __init__(self, kind, values=None, count=None):
        self.kind = kind
        self.values = None if values is None else list(values)
        self.count = len(self.values) if self.values is not None else count

    ctype = property(lambda self: {"f": C.c_float, "d": C.c_double, "Q": C.c_uint64}[self.kind])
    nbytes = property(lambda self: C.sizeof(self.ctype) * max(1, self.count))

    def host_array(self):
        array = (self.ctype * max(1, self.count))()
        if self.values:
            array[:self.count] = self.values
        return array


def floats(n, rng, lo=-1.0, hi=1.0):
    return Buf("f", (rng.uniform(lo, hi) for _ in range(n)))


def zeros(kind, n):
    return Buf(kind, None, n)


class Ref:
    """An argument that is a buffer's address (plus an element offset)."""
    def __init__(self, key, offset=0):
        self.key, self.offset = key, offset


NULL = Ref(None)
i32, f32, f64, i64, u32 = C.c_int, C.c_float, C.c_double, C.c_longlong, C.c_uint


def cases(rng):
    """(name, buffers, calls, ulp tolerance per buffer) with calls as (kernel, items, args)."""
    out = []
    for (c, h, w) in [(3, 7, 5), (17, 13, 11), (64, 40, 36)]:
        n, hw = c * h * w, h * w
        tiles = (hw + TILE - 1) // TILE
        x = floats(n, rng)
        for k in range(n):
            x.values[k] += (k % c) * 0.37
        b = {"x": x, "y": zeros("f", n), "back": zeros("f", n)}
        out.append((f"layout {c}x{h}x{w}", b, [
            ("dip_chw_to_hwc", n, [Ref("y"), Ref("x"), i32(c), i32(h), i32(w)]),
            ("dip_hwc_to_chw", n, [Ref("back"), Ref("y"), i32(c), i32(h), i32(w)]),
            ("dip_scale", n, [Ref("back"), i32(n), f32(0.3)]),
            ("dip_add", n, [Ref("back"), Ref("x"), i32(n)])], {}))
        for pad in (1, min(h, w) - 1):
            ho, wo = h + 2 * pad, w + 2 * pad
            b = {"x": floats(n, rng), "out": zeros("f", c * ho * wo), "g": floats(c * ho * wo, rng),
                 "gin": zeros("f", n)}
            out.append((f"reflection pad {pad} {c}x{h}x{w}", b, [
                ("dip_reflection_pad_forward", c * ho * wo, [Ref("out"), Ref("x"), i32(c), i32(h), i32(w), i32(pad), i32(0)]),
                ("dip_reflection_pad_backward", n, [Ref("gin"), Ref("g"), i32(c), i32(h), i32(w), i32(pad)])], {}))
        for slope in (None, 0.2):
            b = {"x": x, "g": floats(n, rng), "gamma": floats(c, rng, 0, 1), "beta": floats(c, rng, -0.2, 0.2),
                 "rm": zeros("f", c), "rv": Buf("f", [1.0] * c), "nbt": zeros("f", 1),
                 "partial": zeros("d", tiles * c), "partial2": zeros("d", tiles * c), "mean": zeros("d", c),
                 "inv": zeros("d", c), "scale": zeros("f", c), "shift": zeros("f", c), "y": zeros("f", n),
                 "dgamma": zeros("f", c), "dbeta": zeros("f", c), "coef": zeros("f", 3 * c)}
            s = f32(1.0 if slope is None else slope)
            out.append((f"BatchNorm slope {slope} {c}x{h}x{w}", b, [
                ("dip_bn_partial_sum", tiles * c, [Ref("partial"), Ref("x"), i32(c), i32(hw), i32(TILE)]),
                ("dip_bn_mean", c, [Ref("mean"), Ref("partial"), i32(c), i32(hw), i32(TILE)]),
                ("dip_bn_partial_squares", tiles * c, [Ref("partial"), Ref("x"), Ref("mean"), i32(c), i32(hw), i32(TILE)]),
                ("dip_bn_finalize", c, [Ref("inv"), Ref("scale"), Ref("shift"), Ref("rm"), Ref("rv"), Ref("nbt"),
                                        Ref("partial"), Ref("mean"), Ref("gamma"), Ref("beta"), i32(c), i32(hw),
                                        i32(TILE), f64(1e-5), f64(0.1)]),
                ("dip_bn_apply", n, [Ref("y"), Ref("x"), Ref("mean"), Ref("scale"), Ref("shift"), i32(c), i32(h), i32(w),
                                     i64(w * c), i64(c), i32(0 if slope is None else 1), s]),
                ("dip_bn_backward_partials", tiles * c, [Ref("partial"), Ref("partial2"), Ref("x"), Ref("g"), Ref("mean"),
                                                         Ref("inv"), Ref("scale"), Ref("shift"), i32(c), i32(hw),
                                                         i32(TILE), s]),
                ("dip_bn_backward_finalize", c, [Ref("dgamma"), Ref("dbeta"), Ref("coef"), Ref("partial"), Ref("partial2"),
                                                 Ref("inv"), Ref("gamma"), i32(c), i32(hw), i32(TILE)]),
                ("dip_bn_backward_apply", n, [Ref("g"), Ref("g"), Ref("x"), Ref("mean"), Ref("inv"), Ref("scale"),
                                              Ref("shift"), Ref("coef"), i32(c), i32(hw), s])], {}))
        for mode, ac in ((0, 0), (1, 0), (1, 1)):
            o = 4 * n
            b = {"x": floats(n, rng), "out": zeros("f", o), "g": floats(o, rng), "gin": zeros("f", n)}
            out.append((f"upsample mode {mode} align {ac} {c}x{h}x{w}", b, [
                ("dip_upsample2x_forward", o, [Ref("out"), Ref("x"), i32(c), i32(h), i32(w), i32(mode), i32(ac),
                                               i64(2 * w * c), i64(c)]),
                ("dip_upsample2x_backward", n, [Ref("gin"), Ref("g"), i32(c), i32(h), i32(w), i32(mode), i32(ac)])], {}))
        dc, dh, dw = 5, h - 1, w - 2
        total = c + dc
        b = {"s": floats(n, rng), "d": floats(dc * dh * dw, rng), "out": zeros("f", total * dh * dw),
             "g": floats(total * dh * dw, rng), "gs": zeros("f", n), "gd": zeros("f", dc * dh * dw)}
        out.append((f"concat {c}x{h}x{w} + {dc}x{dh}x{dw}", b, [
            ("dip_concat_part_forward", dh * dw * c, [Ref("out"), Ref("s"), i32(c), i32(h), i32(w), i32(dh), i32(dw), i32(total), i32(0)]),
            ("dip_concat_part_forward", dh * dw * dc, [Ref("out"), Ref("d"), i32(dc), i32(dh), i32(dw), i32(dh), i32(dw), i32(total), i32(c)]),
            ("dip_concat_part_backward", n, [Ref("gs"), Ref("g"), i32(c), i32(h), i32(w), i32(dh), i32(dw), i32(total), i32(0)]),
            ("dip_concat_part_backward", dc * dh * dw, [Ref("gd"), Ref("g"), i32(dc), i32(dh), i32(dw), i32(dh), i32(dw), i32(total), i32(c)])], {}))
        po = c * (h // 2) * (w // 2)
        b = {"x": floats(n, rng), "out": zeros("f", po), "g": floats(po, rng), "gin": zeros("f", n)}
        out.append((f"avg pool {c}x{h}x{w}", b, [
            ("dip_avgpool2x2_forward", po, [Ref("out"), Ref("x"), i32(c), i32(h), i32(w)]),
            ("dip_avgpool2x2_backward", n, [Ref("gin"), Ref("g"), i32(c), i32(h), i32(w)])], {}))
        b = {"x": floats(n, rng, -9, 9), "y": zeros("f", n), "yin": floats(n, rng, 0, 1), "g": floats(n, rng),
             "gin": zeros("f", n)}
        out.append((f"sigmoid {c}x{h}x{w}", b, [
            ("dip_sigmoid_forward", n, [Ref("y"), Ref("x"), i32(n)]),
            ("dip_sigmoid_backward", n, [Ref("gin"), Ref("g"), Ref("yin"), i32(n)])], {"y": 2}))
        for mc in (1, c):
            etiles = (n + TILE - 1) // TILE
            b = {"o": floats(n, rng), "t": floats(n, rng), "m": Buf("f", (float(rng.random() < 0.6) for _ in range(mc * hw))),
                 "grad": zeros("f", n), "partial": zeros("d", etiles), "loss": zeros("d", 1)}
            out.append((f"masked MSE mask {mc} {c}x{h}x{w}", b, [
                ("dip_mse_gradient", n, [Ref("grad"), Ref("o"), Ref("t"), Ref("m"), i32(c), i32(mc), i32(n),
                                         f32(2.0 / n), f32(1.3125)]),
                ("dip_mse_partial", etiles, [Ref("partial"), Ref("o"), Ref("t"), Ref("m"), i32(c), i32(mc), i32(n), i32(TILE)]),
                ("dip_mse_value", 1, [Ref("loss"), Ref("partial"), i32(n), i32(TILE), f64(1.3125)])], {}))
        for sub in (0, 7, (1 << 33) | 5):
            b = {"z": floats(n, rng, 0, 0.1), "zit": zeros("f", n), "sub": Buf("Q", [sub])}
            out.append((f"perturbation {c}x{h}x{w} substream {sub}", b, [
                ("dip_perturb", (n + 3) // 4, [Ref("zit"), Ref("z"), i32(c), i32(h), i32(w), u32(0x12345678),
                                               u32(0x9ABCDEF0), Ref("sub"), f32(0.03)])], {}))
    n = 70001
    steps = 3
    table = []
    for s in range(1, steps + 1):
        table += [struct.unpack("f", struct.pack("f", -(0.01 / (1 - 0.9 ** s))))[0],
                  struct.unpack("f", struct.pack("f", (1 - 0.999 ** s) ** 0.5))[0]]
    b = {"x": floats(n, rng), "g": floats(n, rng, -0.5, 0.5), "m": zeros("f", n), "v": zeros("f", n),
         "table": Buf("f", table), "step": Buf("Q", [0])}
    adam = [("dip_adam_step", n, [Ref("x"), Ref("g"), Ref("m"), Ref("v"), i32(n), Ref("table"), Ref("step"),
                                  f32(0.1), f32(0.999), f32(0.001), f32(1e-8)])]
    out.append(("Adam 3 steps", b, [("dip_counter_increment", 1, [Ref("step")])] + adam
                + [("dip_counter_increment", 1, [Ref("step")])] + adam
                + [("dip_counter_increment", 1, [Ref("step")])] + adam, {}))
    return out


# ---- the host build over an emulated grid ---------------------------------------------------------

def run_host(lib, bufs, calls):
    arrays = {k: b.host_array() for k, b in bufs.items()}
    for name, items, args in calls:
        fn = getattr(lib, name)
        fn.restype = None
        cargs = [C.c_void_p(None) if isinstance(a, Ref) and a.key is None else
                 C.c_void_p(C.addressof(arrays[a.key]) + a.offset * C.sizeof(bufs[a.key].ctype)) if isinstance(a, Ref)
                 else a for a in args]
        grid = (items + BLOCK - 1) // BLOCK
        for blk in range(grid):
            for t in range(BLOCK):
                lib.dip_emu_set_thread(grid, BLOCK, blk, t)
                fn(*cargs)
    return {k: a[:bufs[k].count] for k, a in arrays.items()}


# ---- the GPU through the driver API ---------------------------------------------------------------

class Driver:
    def __init__(self):
        self.cu = C.CDLL("libcuda.so.1")
        cu = self.cu
        for name, types in {
            "cuMemAlloc_v2": [C.POINTER(C.c_uint64), C.c_size_t], "cuMemFree_v2": [C.c_uint64],
            "cuMemcpyHtoD_v2": [C.c_uint64, C.c_void_p, C.c_size_t], "cuMemcpyDtoH_v2": [C.c_void_p, C.c_uint64, C.c_size_t],
            "cuLaunchKernel": [C.c_void_p, C.c_uint, C.c_uint, C.c_uint, C.c_uint, C.c_uint, C.c_uint, C.c_uint,
                               C.c_void_p, C.POINTER(C.c_void_p), C.c_void_p],
        }.items():
            getattr(cu, name).argtypes = types
        self.check(cu.cuInit(0), "cuInit")
        self.dev = C.c_int()
        self.check(cu.cuDeviceGet(C.byref(self.dev), 0), "cuDeviceGet")
        self.ctx = C.c_void_p()
        self.check(cu.cuDevicePrimaryCtxRetain(C.byref(self.ctx), self.dev), "cuDevicePrimaryCtxRetain")
        self.check(cu.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")
        major, name = C.c_int(), C.create_string_buffer(256)
        self.check(cu.cuDeviceGetAttribute(C.byref(major), 75, self.dev), "compute capability")  # ..._MAJOR
        cu.cuDeviceGetName(name, 256, self.dev)
        version = C.c_int()
        cu.cuDriverGetVersion(C.byref(version))
        self.module_name = "sm90" if major.value >= 9 else "sm80"
        print(f"GPU: {name.value.decode()}, compute capability {major.value}.x, driver API {version.value}, "
              f"PTX module {self.module_name}")
        self.module = C.c_void_p()
        ptx = ptx_module(self.module_name).encode() + b"\0"
        self.check(cu.cuModuleLoadData(C.byref(self.module), ptx), "cuModuleLoadData")
        self.functions = {}

    def check(self, status, what):
        if status != 0:
            text = C.c_char_p()
            self.cu.cuGetErrorName(status, C.byref(text))
            raise RuntimeError(f"{what}: {text.value.decode() if text.value else status}")

    def function(self, name):
        if name not in self.functions:
            f = C.c_void_p()
            self.check(self.cu.cuModuleGetFunction(C.byref(f), self.module, name.encode()), f"cuModuleGetFunction {name}")
            self.functions[name] = f
        return self.functions[name]

    def upload(self, bufs):
        dev = {}
        for k, b in bufs.items():
            p = C.c_uint64()
            self.check(self.cu.cuMemAlloc_v2(C.byref(p), b.nbytes), "cuMemAlloc")
            host = b.host_array()
            self.check(self.cu.cuMemcpyHtoD_v2(p.value, C.addressof(host), b.nbytes), "cuMemcpyHtoD")
            dev[k] = p.value
        return dev

    def launch(self, bufs, dev, name, items, args):
        holders = [C.c_uint64(0) if isinstance(a, Ref) and a.key is None else
                   C.c_uint64(dev[a.key] + a.offset * C.sizeof(bufs[a.key].ctype)) if isinstance(a, Ref) else a
                   for a in args]
        params = (C.c_void_p * len(holders))(*[C.cast(C.pointer(h), C.c_void_p) for h in holders])
        grid = (items + BLOCK - 1) // BLOCK
        self.check(self.cu.cuLaunchKernel(self.function(name), grid, 1, 1, BLOCK, 1, 1, 0, None, params, None), name)

    def run(self, bufs, calls):
        dev = self.upload(bufs)
        for call in calls:
            self.launch(bufs, dev, *call)
        self.check(self.cu.cuCtxSynchronize(), "cuCtxSynchronize")
        out = {}
        for k, b in bufs.items():
            host = (b.ctype * max(1, b.count))()
            self.check(self.cu.cuMemcpyDtoH_v2(C.addressof(host), dev[k], b.nbytes), "cuMemcpyDtoH")
            out[k] = host[:b.count]
            self.cu.cuMemFree_v2(dev[k])
        return out

    def time(self, bufs, calls, repeats=20):
        dev = self.upload(bufs)
        start, stop = C.c_void_p(), C.c_void_p()
        self.cu.cuEventCreate(C.byref(start), 0)
        self.cu.cuEventCreate(C.byref(stop), 0)
        for call in calls:
            self.launch(bufs, dev, *call)   # warm-up
        self.check(self.cu.cuCtxSynchronize(), "cuCtxSynchronize")
        self.cu.cuEventRecord(start, None)
        for _ in range(repeats):
            for call in calls:
                self.launch(bufs, dev, *call)
        self.cu.cuEventRecord(stop, None)
        self.check(self.cu.cuEventSynchronize(stop), "cuEventSynchronize")
        ms = C.c_float()
        self.cu.cuEventElapsedTime(C.byref(ms), start, stop)
        for p in dev.values():
            self.cu.cuMemFree_v2(p)
        return ms.value / repeats


def bits(kind, v):
    return struct.unpack({"f": "<I", "d": "<Q", "Q": "<Q"}[kind], struct.pack({"f": "<f", "d": "<d", "Q": "<Q"}[kind], v))[0]


def compare(name, bufs, got, want, ulps):
    bad = []
    for k, b in bufs.items():
        tol = ulps.get(k, 0)
        for i, (g, w) in enumerate(zip(got[k], want[k])):
            gb, wb = bits(b.kind, g), bits(b.kind, w)
            if gb != wb and not (tol and abs(gb - wb) <= tol and (gb >> 31) == (wb >> 31)):
                bad.append(f"{k}[{i}] GPU {g!r} host {w!r}")
                break
    print(f"{'ok  ' if not bad else 'FAIL'} {name}" + ("" if not bad else ": " + "; ".join(bad)))
    return not bad


def timings(driver):
    c, h, w = 128, 512, 512
    n, hw = c * h * w, h * w
    tiles = (hw + TILE - 1) // TILE
    big = zeros
    b = {"x": big("f", n), "y": big("f", n), "g": big("f", n), "gamma": Buf("f", [1.0] * c), "beta": big("f", c),
         "rm": big("f", c), "rv": Buf("f", [1.0] * c), "partial": big("d", tiles * c), "partial2": big("d", tiles * c),
         "mean": big("d", c), "inv": big("d", c), "scale": big("f", c), "shift": big("f", c), "coef": big("f", 3 * c),
         "dgamma": big("f", c), "dbeta": big("f", c), "half": big("f", n // 4), "pad": big("f", c * (h + 2) * (w + 2))}
    groups = {
        "BatchNorm+LeakyReLU forward (5 kernels)": [
            ("dip_bn_partial_sum", tiles * c, [Ref("partial"), Ref("x"), i32(c), i32(hw), i32(TILE)]),
            ("dip_bn_mean", c, [Ref("mean"), Ref("partial"), i32(c), i32(hw), i32(TILE)]),
            ("dip_bn_partial_squares", tiles * c, [Ref("partial"), Ref("x"), Ref("mean"), i32(c), i32(hw), i32(TILE)]),
            ("dip_bn_finalize", c, [Ref("inv"), Ref("scale"), Ref("shift"), Ref("rm"), Ref("rv"), NULL, Ref("partial"),
                                    Ref("mean"), Ref("gamma"), Ref("beta"), i32(c), i32(hw), i32(TILE), f64(1e-5), f64(0.1)]),
            ("dip_bn_apply", n, [Ref("pad", (w + 3) * c), Ref("x"), Ref("mean"), Ref("scale"), Ref("shift"), i32(c), i32(h),
                                 i32(w), i64((w + 2) * c), i64(c), i32(1), f32(0.2)])],
        "BatchNorm+LeakyReLU backward (3 kernels)": [
            ("dip_bn_backward_partials", tiles * c, [Ref("partial"), Ref("partial2"), Ref("x"), Ref("g"), Ref("mean"),
                                                     Ref("inv"), Ref("scale"), Ref("shift"), i32(c), i32(hw), i32(TILE), f32(0.2)]),
            ("dip_bn_backward_finalize", c, [Ref("dgamma"), Ref("dbeta"), Ref("coef"), Ref("partial"), Ref("partial2"),
                                             Ref("inv"), Ref("gamma"), i32(c), i32(hw), i32(TILE)]),
            ("dip_bn_backward_apply", n, [Ref("g"), Ref("g"), Ref("x"), Ref("mean"), Ref("inv"), Ref("scale"), Ref("shift"),
                                          Ref("coef"), i32(c), i32(hw), f32(0.2)])],
        "reflection pad 1 forward (border only)": [
            ("dip_reflection_pad_forward", c * (h + 2) * (w + 2), [Ref("pad"), NULL, i32(c), i32(h), i32(w), i32(1), i32(1)])],
        "reflection pad 1 backward": [
            ("dip_reflection_pad_backward", n, [Ref("y"), Ref("pad"), i32(c), i32(h), i32(w), i32(1)])],
        "bilinear upsample 256->512 forward": [
            ("dip_upsample2x_forward", n, [Ref("y"), Ref("half"), i32(c), i32(h // 2), i32(w // 2), i32(1), i32(0),
                                           i64(w * c), i64(c)])],
        "bilinear upsample 256->512 backward": [
            ("dip_upsample2x_backward", n // 4, [Ref("half"), Ref("g"), i32(c), i32(h // 2), i32(w // 2), i32(1), i32(0)])],
    }
    print(f"kernel times at {c}x{h}x{w}, mean of 20 launches:")
    for name, calls in groups.items():
        print(f"{name}: {driver.time(b, calls) * 1000:.1f} us")
    # A skip branch's BatchNorm has few channels: its partial sums read pixels a tile apart.
    s = 4
    small = {"x": big("f", s * hw), "partial": big("d", tiles * s), "mean": big("d", s)}
    print("BatchNorm partial sums and mean, 4x512x512: %.1f us" % (1000 * driver.time(small, [
        ("dip_bn_partial_sum", tiles * s, [Ref("partial"), Ref("x"), i32(s), i32(hw), i32(TILE)]),
        ("dip_bn_mean", s, [Ref("mean"), Ref("partial"), i32(s), i32(hw), i32(TILE)])])))
    p = 2_200_000
    a = {"x": big("f", p), "g": big("f", p), "m": big("f", p), "v": big("f", p), "table": Buf("f", [-0.1, 0.03]),
         "step": Buf("Q", [1])}
    print("Adam over 2.2M parameters: %.1f us" % (1000 * driver.time(a, [
        ("dip_adam_step", p, [Ref("x"), Ref("g"), Ref("m"), Ref("v"), i32(p), Ref("table"), Ref("step"), f32(0.1),
                              f32(0.999), f32(0.001), f32(1e-8)])])))
    z = 32 * hw
    q = {"z": big("f", z), "zit": big("f", z), "sub": Buf("Q", [3])}
    print("perturbation of 32x512x512: %.1f us" % (1000 * driver.time(q, [
        ("dip_perturb", (z + 3) // 4, [Ref("zit"), Ref("z"), i32(32), i32(h), i32(w), u32(1), u32(2), Ref("sub"), f32(0.03)])])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("hostlib", help="the kernels' host build as a shared library (make cuda-host-lib)")
    parser.add_argument("--host-only", action="store_true", help="run the host side alone (no GPU)")
    parser.add_argument("--time", action="store_true", help="also time the kernels at 512x512 on the GPU")
    args = parser.parse_args()
    lib = C.CDLL(os.path.abspath(args.hostlib))
    lib.dip_emu_set_thread.argtypes = [C.c_uint] * 4
    driver = None if args.host_only else Driver()
    ok = True
    started = time.time()
    for name, bufs, calls, ulps in cases(random.Random(0)):
        want = run_host(lib, bufs, calls)
        if driver is None:
            print(f"host {name}: {sum(len(v) for v in want.values())} values")
            continue
        ok &= compare(name, bufs, driver.run(bufs, calls), want, ulps)
    print(f"{'all kernels agree' if ok else 'SOME KERNELS DIFFER'} ({time.time() - started:.0f} s)")
    if driver is not None and args.time:
        timings(driver)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
