#!/usr/bin/env python3
"""The peer side of `dip-report bench`: the DIP skip network in PyTorch, written from
docs/semantics.md (not copied from upstream), timed the same way our engine is.

Usage: python3 bench/dip_torch.py --net table1|text --size 256 --threads 2 --iters 20 [--psnr-every 10] [--json]

Per iteration it times forward (perturbed input + network), loss + backward, PSNR sampling
(every --psnr-every iterations and the last, as a fit samples it) and the Adam step. It reports
the timed iterations' total over their number after one warm-up iteration (the rate a fit shows,
what `dip-report bench` reports for us), their median, and peak RSS.
"""
import argparse, json, resource, statistics, time

import torch
import torch.nn as nn


class Seq(nn.Sequential):
    """Upstream numbers the children of its Sequentials from 1 (models/common.py's `add`),
    which is what its state_dict keys (Tests/DIPEngineTests/UpstreamKeyTSV.swift) show; so do we."""

    def add(self, module):
        self.add_module(str(len(self) + 1), module)
        return self


def conv(cin, cout, k, stride=1):
    # Upstream's conv() is a plain (0-based) Sequential of the padder, always present with
    # reflection padding (even a 0-pixel one for 1x1), and the convolution.
    return nn.Sequential(nn.ReflectionPad2d((k - 1) // 2), nn.Conv2d(cin, cout, k, stride, padding=0, bias=True))


class Concat(nn.Module):
    """Concat along channels with the centre crop of docs/semantics.md §3.5."""

    def __init__(self, *mods):
        super().__init__()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def forward(self, x):
        outs = [m(x) for m in self._modules.values()]
        h = min(o.shape[2] for o in outs)
        w = min(o.shape[3] for o in outs)
        outs = [o[:, :, (o.shape[2] - h) // 2:(o.shape[2] - h) // 2 + h,
                  (o.shape[3] - w) // 2:(o.shape[3] - w) // 2 + w] for o in outs]
        return torch.cat(outs, 1)


def skip(cin, cout, nd, nu, ns, kd=3, ku=3, ks=1, up="nearest", align=None):
    """The recursion of docs/semantics.md §4.1, nested the way upstream nests it."""
    def upsample():
        if up == "nearest":
            return nn.Upsample(scale_factor=2, mode="nearest")
        return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=align)

    model = Seq()
    body, c_in = model, cin
    for i in range(len(nd)):
        deeper = Seq()
        deeper.add(conv(c_in, nd[i], kd, 2)).add(nn.BatchNorm2d(nd[i])).add(nn.LeakyReLU(0.2))
        deeper.add(conv(nd[i], nd[i], kd)).add(nn.BatchNorm2d(nd[i])).add(nn.LeakyReLU(0.2))
        last = i == len(nd) - 1
        deeper_main = None if last else Seq()
        if deeper_main is not None:
            deeper.add(deeper_main)
        deeper.add(upsample())
        if ns[i] > 0:
            skipb = Seq().add(conv(c_in, ns[i], ks)).add(nn.BatchNorm2d(ns[i])).add(nn.LeakyReLU(0.2))
            body.add(Concat(skipb, deeper))
        else:
            body.add(deeper)
        k = nd[i] if last else nu[i + 1]
        body.add(nn.BatchNorm2d(ns[i] + k))
        body.add(conv(ns[i] + k, nu[i], ku)).add(nn.BatchNorm2d(nu[i])).add(nn.LeakyReLU(0.2))
        body.add(conv(nu[i], nu[i], 1)).add(nn.BatchNorm2d(nu[i])).add(nn.LeakyReLU(0.2))
        c_in = nd[i]
        body = deeper_main
    model.add(conv(nu[0], cout, 1)).add(nn.Sigmoid())
    return model


def build(name):
    if name == "table1":
        return skip(32, 1, [128] * 5, [128] * 5, [4] * 5, up="bilinear", align=True), 1
    if name == "text":
        return skip(32, 3, [128] * 5, [128] * 5, [128] * 5), 3
    raise SystemExit(f"unknown net {name}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--net", default="table1")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--psnr-every", type=int, default=10)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--no-tf32", action="store_true", help="FP32 convolutions on the GPU (dip-report's --gpu-math strict)")
    p.add_argument("--cudnn-benchmark", action="store_true",
                   help="GPU: let cuDNN time its algorithms per shape (torch.backends.cudnn.benchmark) instead of its heuristics")
    p.add_argument("--deterministic", action="store_true",
                   help="GPU: deterministic cuDNN algorithms only (torch.backends.cudnn.deterministic), as dip-report uses")
    a = p.parse_args()
    if a.iters < 1 or a.psnr_every < 1:
        raise SystemExit(f"--iters {a.iters}, --psnr-every {a.psnr_every}: both at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.device == "cuda":
        # PyTorch's defaults for cuDNN convolutions are TF32 on and autotuning off; deterministic
        # algorithms, as dip-report uses, would only slow it: the fair comparison is its default.
        torch.backends.cudnn.allow_tf32 = not a.no_tf32
        torch.backends.cudnn.benchmark = a.cudnn_benchmark
        torch.backends.cudnn.deterministic = a.deterministic
    net, cout = build(a.net)
    params = sum(t.numel() for t in net.parameters())
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    net = net.to(dev, memory_format=fmt)
    z = (torch.rand(1, 32, a.size, a.size) * 0.1).to(dev, memory_format=fmt)
    x0 = torch.rand(1, cout, a.size, a.size).to(dev)
    m = (torch.rand(1, 1, a.size, a.size) > 0.5).float().to(dev)
    # Host clocks time GPU work only once the queue is drained.
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    mse = nn.MSELoss()
    macs = [0]

    def count(mod, inp, out):
        macs[0] += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, nn.Conv2d)]
    def psnr(a, b, weight):
        return (10 * torch.log10(weight.sum() / ((a - b) ** 2 * weight).sum())).item()

    fw, bw, st, tot = [], [], [], []
    holes = (1 - m).expand_as(x0)
    for it in range(a.iters + 1):
        sync()
        t0 = time.perf_counter()
        opt.zero_grad()
        out = net(z + 0.03 * torch.randn_like(z))
        sync()
        t1 = time.perf_counter()
        loss = mse(out * m, x0 * m)
        if it % a.psnr_every == 0 or it == a.iters:
            # What a fit samples: PSNR of the whole image, the holes and the known pixels.
            with torch.no_grad():
                o = out.detach()
                psnr(o, x0, torch.ones_like(x0)), psnr(o, x0, holes), psnr(o, x0, m.expand_as(x0))
        loss.backward()
        sync()
        t2 = time.perf_counter()
        opt.step()
        sync()
        t3 = time.perf_counter()
        if it == 0:
            for h in hooks:
                h.remove()
        else:
            fw.append(t1 - t0); bw.append(t2 - t1); st.append(t3 - t2); tot.append(t3 - t0)
    mean = sum(tot) / len(tot)
    # The same keys as dip-report's BenchmarkResult, so `dip-report bench --peer` reads it.
    res = {
        "implementation": f"pytorch {torch.__version__}" + (" channels_last" if a.channels_last else "")
                          + (f" cuda ({torch.cuda.get_device_name()}{', fp32' if a.no_tf32 else ', tf32'}"
                             + (", cudnn.benchmark" if a.cudnn_benchmark else "") + (", deterministic" if a.deterministic else "") + ")"
                             if a.device == "cuda" else ""),
        "net": a.net, "size": a.size, "threads": a.threads, "conv": "pytorch default",
        "iterations": a.iters, "iterationSeconds": mean, "medianIterationSeconds": statistics.median(tot),
        "psnrEvery": a.psnr_every,
        "forwardSeconds": statistics.mean(fw), "backwardSeconds": statistics.mean(bw),
        "optimizerSeconds": statistics.mean(st), "forwardMACs": macs[0],
        "gflops": 6 * macs[0] / mean / 1e9, "parameters": params,
        "peakMemoryMiB": (torch.cuda.max_memory_allocated() / 2**20 if a.device == "cuda"
                          else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")


if __name__ == "__main__":
    main()
