#!/usr/bin/python3
"""Pairs normlab and PyTorch bench CSVs by case name and writes the speed-up table.

Usage: bench_table.py DIR THREADS OUTDIR [--partial] [--torch-isa ISA] [--normlab-version TEXT]
(DIR holds normlab-R.csv and torch-R.csv)
Writes OUTDIR/vs_torch.csv, OUTDIR/vs_torch.md and OUTDIR/normlab.csv (the
best-of-rounds normlab timings, usable as a `normlab bench --compare` baseline).
--partial (a --filter run): normlab.csv is left alone, since a subset of the
cases is no baseline for the others.
--torch-isa ISA: PyTorch ran held to ISA (bench_vs_torch.sh --torch-isa); the
tables go to OUTDIR/vs_torch_ISA.{csv,md} and normlab.csv is left alone.
"""
import csv
import glob
import os
import platform
import sys
import time

from normlab_report.atomic import write_atomic, write_text

TARGETS = {  # case -> minimum speed-up over PyTorch (issue targets)
    "step/mlp-bn/b8": 2.0, "step/mlp-bn/b32": 2.0, "step/mlp-bn/b128": 1.2, "step/mlp-bn/b512": 1.0,
    "step/cnn-bn/b32": 2.0, "step/cnn-bn/b128": 2.0, "step/cnn-gn/b32": 2.0, "step/cnn-gn/b128": 2.0,
    "step/cnn-ln/b32": 2.0, "step/cnn-ln/b128": 2.0, "norm/bn-fwdbwd/128x32x28x28": 2.0,
}
# The deeper models' issue: 1.5x at batch 32 and 128 for the cnn, cnn-deep, rnn and
# resnet steps, and 3x for every step at batch 8 and below (the older targets above
# stay where they are stricter).
for _model in ("mlp", "cnn", "cnn-deep", "rnn", "resnet"):
    for _norm in ("none", "bn", "gn", "ln"):
        for _b, _t in ((2, 3.0), (8, 3.0), (32, 1.5), (128, 1.5)):
            _k = f"step/{_model}-{_norm}/b{_b}"
            if _model != "mlp" or _b <= 8:
                TARGETS[_k] = max(TARGETS.get(_k, 0), _t)
GEMM_TARGETS = {"step/cnn-none/b512": 70}  # % of the sgemm probe; 80 for the others


def spread(pattern):
    """case -> (max - min) / min of the per-round medians: the rounds' spread."""
    med = {}
    for path in sorted(glob.glob(pattern)):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                med.setdefault(r["name"], []).append(float(r["median_s"]))
    return {k: (max(v) - min(v)) / min(v) for k, v in med.items() if min(v) > 0}


def best(pattern):
    rows = {}
    for path in sorted(glob.glob(pattern)):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["name"] not in rows or float(r["median_s"]) < float(rows[r["name"]]["median_s"]):
                    rows[r["name"]] = r
    return rows


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    d, threads, out = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = sys.argv[4:]
    isa = opts[opts.index("--torch-isa") + 1] if "--torch-isa" in opts else ""
    version = opts[opts.index("--normlab-version") + 1] if "--normlab-version" in opts else "normlab (version not given)"
    table_name = "vs_torch" + (f"_{isa}" if isa else "")
    torch_note = (f"PyTorch held to {isa} (ATEN_CPU_CAPABILITY, DNNL_MAX_CPU_ISA, OPENBLAS_CORETYPE=Haswell), the "
                  f"vector width of normlab's pinned kernel" if isa else
                  "PyTorch at its default instruction set (the widest this CPU has)")
    nl, th = best(os.path.join(d, "normlab-*.csv")), best(os.path.join(d, "torch-*.csv"))
    sp_nl, sp_th = spread(os.path.join(d, "normlab-*.csv")), spread(os.path.join(d, "torch-*.csv"))
    triad = float(nl["probe/triad"]["gb_per_s"])
    lines = ["case,normlab_ms,torch_ms,speedup,target,meets,normlab_pct_triad,normlab_gflop_per_s,bound_ms,x_bound,"
             "ceiling,normlab_spread,torch_spread"]
    beyond = []  # (case, target, ceiling): targets only a step faster than its bound would meet
    md = [f"# normlab vs PyTorch {threads} thread(s)", "",
          f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
          f"({os.cpu_count()} cores, {cpu_model()}), interleaved runs, best median per case. "
          f"Speed-up = PyTorch time / normlab time. normlab: OpenBLAS's Haswell (AVX2) kernel, pinned; {torch_note}.",
          f"Binary: `{version}`." + (" **Built with uncommitted changes: no commit reproduces these timings.**"
                                     if "-dirty" in version else ""),
          "Bound: the step's roofline lower bound (counted flops at the sgemm probe's rate plus counted "
          "bytes at the triad probe's rate); x bound: normlab's time over it. Ceiling: PyTorch's time over "
          "the bound, the largest speed-up a step running at its bound would show. Spread: (slowest - "
          "fastest) / fastest of the per-round medians, normlab / PyTorch.",
          "", "| case | normlab ms | PyTorch ms | speed-up | target | % of triad | bound ms | x bound | ceiling | spread |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in nl.items():
        if name not in th:
            continue
        a, b = float(r["median_s"]), float(th[name]["median_s"])
        sp = b / a
        tgt = TARGETS.get(name)
        meets = "" if tgt is None else ("yes" if sp >= tgt else "NO")
        pct = float(r["gb_per_s"]) / triad * 100 if float(r["gb_per_s"]) > 0 and not name.startswith("probe") else 0
        bound = float(r.get("bound_s") or 0)
        xb = a / bound if bound > 0 else 0
        ceil = b / bound if bound > 0 else 0
        if tgt and ceil and tgt > ceil / 1.1:
            beyond.append((name, tgt, ceil))
        lines.append(f"{name},{a * 1e3:.4f},{b * 1e3:.4f},{sp:.3f},{tgt or ''},{meets},{pct:.0f},{r['gflop_per_s']},"
                     f"{bound * 1e3:.4f},{xb:.2f},{ceil:.2f},{sp_nl.get(name, 0):.3f},{sp_th.get(name, 0):.3f}")
        md.append(f"| {name} | {a * 1e3:.3f} | {b * 1e3:.3f} | {sp:.2f}x | {f'{tgt}x ' + meets if tgt else ''} | "
                  f"{f'{pct:.0f}%' if pct else ''} | {f'{bound * 1e3:.3f}' if bound else ''} | "
                  f"{f'{xb:.1f}' if xb else ''} | {f'{ceil:.2f}x' if ceil else ''} | "
                  f"{100 * sp_nl.get(name, 0):.0f}% / {100 * sp_th.get(name, 0):.0f}% |")
    if beyond:
        md += ["", f"Targets within 10% of their ceiling or above it ({len(beyond)}): meeting them needs the step "
               "within 1.1x of its roofline bound, or faster than the bound (a ceiling below the target):", ""]
        md += [f"- {n}: target {t}x, ceiling {c:.2f}x" + (" (above the ceiling)" if t > c else "") for n, t, c in beyond]
    # The GEMM part of the batch-512 steps: GEMM work over the time spent inside
    # gemm, against the sgemm probe's rate (target: at least 80%; the conv step 70%).
    sgemm = float(nl["probe/sgemm-512x784x128"]["gflop_per_s"])
    md += ["", f"GEMM part of the batch-512 training steps (time inside gemm, normlab), against the "
           f"sgemm probe's {sgemm:.1f} GFLOP/s:", "",
           "| case | GEMM GFLOP/s (GEMM part) | % of sgemm probe | target | whole step GFLOP/s |",
           "|---|---:|---:|---:|---:|"]
    for name, r in nl.items():
        g = float(r.get("gemm_part_gflop_per_s") or 0)
        if not name.startswith("step/") or not name.endswith("/b512") or g <= 0:
            continue
        pct, tgt = 100 * g / sgemm, GEMM_TARGETS.get(name, 80)
        md.append(f"| {name} | {g:.1f} | {pct:.0f}% | {tgt}% {'yes' if pct >= tgt else 'NO'} | "
                  f"{float(r['gflop_per_s']):.1f} |")
    for path, text in [(os.path.join(out, table_name + ".csv"), "\n".join(lines) + "\n"),
                       (os.path.join(out, table_name + ".md"), "\n".join(md) + "\n")]:
        write_text(path, text)
    if "--partial" not in opts and not isa:
        def fill(f):
            w = csv.DictWriter(f, fieldnames=list(next(iter(nl.values())).keys()))
            w.writeheader()
            w.writerows(nl.values())
        write_atomic(os.path.join(out, "normlab.csv"), fill, newline="")
    print("\n".join(md))


if __name__ == "__main__":
    main()
