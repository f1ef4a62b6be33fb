#!/usr/bin/python3
"""PyTorch counterpart of `normlab bench`: the same cases, names and CSV columns.

Usage: scripts/bench_torch.py [--suite all|probe|norm|layers|step] [--threads N]
                              [--filter TEXT[,TEXT...]] [--csv FILE] [--min-time S]
Runs under Debian's /usr/bin/python3 (python3-torch 1.13, CPU). Sets the
thread count for torch, OpenMP and OpenBLAS before torch starts, and a raised
MALLOC_MMAP_THRESHOLD_ so glibc keeps torch's large buffers instead of
returning them to the OS on every call (torch's best case on this machine).
"""
import os
import sys

if "torch" not in sys.modules and os.environ.get("NORMLAB_BENCH_ENV") != "1":
    args = sys.argv[1:]
    threads = args[args.index("--threads") + 1] if "--threads" in args else "1"
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads, MALLOC_MMAP_THRESHOLD_=str(1 << 30),
               MALLOC_TRIM_THRESHOLD_=str(1 << 31), NORMLAB_BENCH_ENV="1")
    os.execve("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__), *args], env)

import argparse  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from normlab_report.atomic import write_text  # noqa: E402


def time_it(fn, min_time, warmup=3, min_repeats=10, max_repeats=10000):
    for _ in range(warmup):
        fn()
    t, total = [], 0.0
    while len(t) < max_repeats and (len(t) < min_repeats or total < min_time):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        t.append(dt)
        total += dt
    t.sort()
    return t[len(t) // 2], t[0]


def matches(filt, name):
    """The filter is comma-separated texts; a name matches when it contains any of them."""
    return not filt or any(part and part in name for part in filt.split(","))


def norm_layer(kind, shape):
    c = shape[1]
    if kind == "bn":
        return nn.BatchNorm2d(c) if len(shape) == 4 else nn.BatchNorm1d(c)
    if kind == "ln":
        return nn.LayerNorm(list(shape[1:]))
    return nn.GroupNorm(8, c)


def layer_cases(rows, prefix, layer, x, bytes_fwd, bytes_bwd, flops_fwd, flops_bwd, opt):
    kind, shape = prefix.split("/", 1)
    n = x.shape[0]
    with torch.no_grad():
        y0 = layer(x)
    dy = torch.randn_like(y0)
    fwd, both = f"{kind}-fwd/{shape}", f"{kind}-fwdbwd/{shape}"
    if matches(opt.filter, fwd):
        def f():
            with torch.no_grad():
                layer(x)
        m, lo = time_it(f, opt.min_time)
        rows.append((fwd, m, lo, n, bytes_fwd, flops_fwd))
    if matches(opt.filter, both):
        xg = x.clone().requires_grad_(True)
        params = list(layer.parameters())

        def fb():
            for p in params:
                p.grad = None
            xg.grad = None
            layer(xg).backward(dy)
        m, lo = time_it(fb, opt.min_time)
        rows.append((both, m, lo, n, bytes_fwd + bytes_bwd, flops_fwd + flops_bwd))


def probe_suite(rows, opt):
    n = 1 << 25
    a, b, c = torch.empty(n), torch.randn(n), torch.randn(n)
    m, lo = time_it(lambda: torch.add(b, c, alpha=0.5, out=a), opt.min_time)
    rows.append(("probe/triad", m, lo, 0, 3.0 * n * 4, 0))
    A, B, C = torch.randn(512, 784), torch.randn(784, 128), torch.empty(512, 128)
    m, lo = time_it(lambda: torch.mm(A, B, out=C), opt.min_time)
    rows.append(("probe/sgemm-512x784x128", m, lo, 0, 0, 2.0 * 512 * 784 * 128))


def norm_suite(rows, opt):
    for kind, shape in [("bn", (128, 32, 28, 28)), ("ln", (128, 32, 28, 28)), ("gn8", (128, 32, 28, 28)),
                        ("bn", (128, 1024)), ("ln", (128, 1024))]:
        layer = norm_layer(kind[:2], shape).train()
        with torch.no_grad():
            layer.weight.uniform_(0.9, 1.1)
        x = torch.randn(*shape)
        vals = x.numel()
        name = "x".join(str(s) for s in shape)
        layer_cases(rows, f"norm/{kind}/{name}".replace("norm/", "", 1), layer, x, 8.0 * vals,
                    12.0 * vals, 0, 0, opt)
    for i, r in enumerate(rows):
        if not r[0].startswith(("probe/", "norm/")):
            rows[i] = ("norm/" + r[0],) + r[1:]


def layers_suite(rows, opt):
    out = []
    f = 2.0 * 512 * 784 * 128
    layer_cases(out, "dense/512x784x128", nn.Linear(784, 128), torch.rand(512, 784), 0, 0, f, 2 * f, opt)
    f = 2.0 * 128 * 32 * 9 * 26 * 26
    layer_cases(out, "conv/128x1x28x28-32k3", nn.Conv2d(1, 32, 3), torch.rand(128, 1, 28, 28), 0, 0, f, 2 * f, opt)
    f = 2.0 * 128 * 32 * 144 * 196
    layer_cases(out, "conv/128x16x14x14-32k3p1", nn.Conv2d(16, 32, 3, padding=1), torch.rand(128, 16, 14, 14),
                0, 0, f, 2 * f, opt)
    rows.extend(("layers/" + r[0],) + r[1:] for r in out)


def seed_model(model, norm):
    def nl(c, conv):
        if norm == "none":
            return []
        if norm == "bn":
            return [nn.BatchNorm2d(c) if conv else nn.BatchNorm1d(c)]
        if norm == "gn":
            return [nn.GroupNorm(8, c)]
        return [nn.LayerNorm([c, 26, 26] if conv else [c])]
    if model == "cnn-deep":  # the default widths 16,32,64, stride-2 convs: maps 14, 7, 4
        layers, c, s = [], 1, 28
        for w in (16, 32, 64):
            s = (s - 1) // 2 + 1
            layers += [nn.Conv2d(c, w, 3, stride=2, padding=1),
                       *([nn.LayerNorm([w, s, s])] if norm == "ln" else nl(w, True)), nn.ReLU()]
            c = w
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 10))
    if model == "cnn-small":  # the default widths 16,32, padded convs, each block max-pooled: maps 28, 14
        layers, c, s = [], 1, 28
        for w in (16, 32):
            layers += [nn.Conv2d(c, w, 3, padding=1),
                       *([nn.LayerNorm([w, s, s])] if norm == "ln" else nl(w, True)), nn.ReLU(), nn.MaxPool2d(2)]
            c, s = w, s // 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    if model in ("rnn", "resnet"):  # the modules the fixtures use (scripts/make_fixtures.py)
        sys.dont_write_bytecode = True  # no __pycache__ in the source tree
        from make_fixtures import build_model
        kind = {"none": "none", "bn": "batch", "ln": "layer", "gn": "group"}[norm]
        if model == "resnet":  # depth 1, widths 16,32,64
            return build_model(dict(model="resnet", widths=[16, 32, 64], depth=1, norm=kind, groups=8))
        return build_model(dict(model="rnn", widths=[128], norm=kind, groups=8))
    if model == "mlp":
        layers = [nn.Linear(784, 128), *nl(128, False), nn.ReLU(), nn.Linear(128, 64), *nl(64, False), nn.ReLU(),
                  nn.Linear(64, 10)]
    else:
        layers = [nn.Conv2d(1, 32, 3), *nl(32, True), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 26 * 26, 10)]
    return nn.Sequential(*layers)


def step_suite(rows, opt):
    cases = [("mlp", "none", [8, 32, 128, 512]), ("mlp", "bn", [8, 32, 128, 512]),
             ("cnn", "none", [2, 8, 32, 128, 512]), ("cnn", "bn", [2, 8, 32, 128]), ("cnn", "gn", [2, 8, 32, 128]),
             ("cnn", "ln", [2, 8, 32, 128])]
    cases += [("cnn-small", norm, [2, 32, 128]) for norm in ("none", "bn", "gn", "ln")]
    cases += [(m, norm, [2, 8, 32, 128]) for m in ("cnn-deep", "rnn") for norm in ("none", "bn", "gn", "ln")]
    cases += [("resnet", norm, [2, 8, 32, 128]) for norm in ("none", "bn", "gn", "ln")]
    for model, norm, batches in cases:
        for n in batches:
            name = f"step/{model}-{norm}/b{n}"
            if not matches(opt.filter, name):
                continue
            torch.manual_seed(1)
            net = seed_model(model, norm).train()
            sgd = torch.optim.SGD(net.parameters(), lr=0.01)
            loss_fn = nn.CrossEntropyLoss()
            x = torch.rand(n, 784) if model == "mlp" else torch.rand(n, 1, 28, 28)
            y = torch.arange(n) % 10

            def step():
                sgd.zero_grad(set_to_none=True)
                loss_fn(net(x), y).backward()
                sgd.step()
            m, lo = time_it(step, opt.min_time)
            rows.append((name, m, lo, n, 0, 0))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default="all", choices=["all", "probe", "norm", "layers", "step"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--filter", default="")
    p.add_argument("--csv", default="")
    p.add_argument("--min-time", type=float, default=0.3)
    opt = p.parse_args()
    torch.set_num_threads(opt.threads)
    suites = {"probe": probe_suite, "norm": norm_suite, "layers": layers_suite, "step": step_suite}
    lines = ["suite,name,median_s,min_s,samples_per_s,gb_per_s,gflop_per_s"]
    for s, fn in suites.items():
        if opt.suite not in ("all", s) and s != "probe":
            continue
        rows = []
        fn(rows, opt)
        for name, m, lo, items, nbytes, flops in rows:
            lines.append(f"{s},{name},{m:.6g},{lo:.6g},{items / m if items else 0:.6g},"
                         f"{nbytes / m / 1e9 if nbytes else 0:.4g},{flops / m / 1e9 if flops else 0:.4g}")
            print(f"{name:36s} {m * 1e3:11.4f} ms", file=sys.stderr)
    text = "\n".join(lines) + "\n"
    if opt.csv:
        write_text(opt.csv, text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
