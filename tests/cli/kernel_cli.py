#!/usr/bin/python3
"""The BLAS kernel contract: the same config and seed give the same bytes
whatever kernel OpenBLAS would pick by itself (see lib/tensor/blas_kernel.h).
Usage: kernel_cli.py NORMLAB_BIN CASE

OPENBLAS_CORETYPE set to each kernel stands in for a machine whose CPU makes
OpenBLAS pick it. Comparisons are between CSVs with the time columns removed:
every other byte, the header and the row order must be identical."""
import csv
import json
import os
import subprocess
import sys
import tempfile

from csv_rows import TIME_COLS, rows

BIN = sys.argv[1]
CASE = sys.argv[2]
CSVS = ["runs.csv", "curves.csv", "activations.csv"]
KERNELS = ["Haswell", "Zen", "SkylakeX", "Cooperlake", "Sandybridge"]
# A kernel every x86-64 machine with AVX can run that rounds differently from
# the pinned Haswell one: the control that shows the comparison can fail.
OTHER_KERNEL = "Sandybridge"

MLP = ["--dataset", "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3", "--model", "mlp",
       "--widths", "64,32", "--batch-size", "32", "--epochs", "2", "--eval-every", "10", "--lr", "0.1"]
CNN = ["--dataset", "synthetic-images:n=256,test=64,classes=10,seed=2", "--model", "cnn-small",
       "--widths", "8,16", "--batch-size", "32", "--epochs", "1", "--eval-every", "4"]
# The one-conv cnn: its classifier (8 x 26 x 26 = 5408 -> 10) takes the wide dense kernels.
CNN_WIDE = ["--dataset", "synthetic-images:n=128,test=32,classes=10,seed=2", "--model", "cnn",
            "--widths", "8", "--batch-size", "16", "--epochs", "1", "--eval-every", "4"]
# The residual net (identity and projection blocks, BN), one small config.
RESNET = ["--dataset", "synthetic-images:n=128,test=32,classes=10,seed=2", "--model", "resnet",
          "--widths", "4,8,8", "--depth", "1", "--norm", "batch", "--batch-size", "16", "--epochs", "1",
          "--eval-every", "4"]
# Every conv path: stride 2 with padding, a first layer with no input gradient,
# slices of 2 and 3 samples (batch 20 over 8 slices) going through one product each.
CNN_DEEP = ["--dataset", "synthetic-images:n=160,test=40,classes=10,seed=4", "--model", "cnn-deep",
            "--widths", "8,16,32", "--batch-size", "20", "--epochs", "1", "--eval-every", "4"]
# The rnn: per-step products and norms over 28 steps.
RNN = ["--dataset", "synthetic-images:n=96,test=32,classes=10,seed=6", "--model", "rnn",
       "--widths", "32", "--batch-size", "16", "--epochs", "1", "--eval-every", "3"]
GRID = """\
dataset = "blobs:n=400,test=200,dim=16,classes=4,noise=1.0,seed=5"
model = "mlp"
widths = [32, 16]
batch_size = 16
epochs = 2
norm = ["none", "batch", "layer", "group"]
groups = 4
lr = [0.05, 0.5]
seeds = 1
"""


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, env_extra, expect=0):
    env = dict(os.environ)
    env.pop("NORMLAB_BLAS_KERNEL", None)
    env.update(env_extra)
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env)
    if p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\nenv: {env_extra}\n"
                 f"stderr:\n{p.stderr}")
    return p


def outputs(root, env):
    """Short MLP, CNN (two convs, and one conv with a wide classifier), deep CNN and RNN runs with BN, LN and GN, a resnet run with BN, and a small sweep,
    into root.
    Returns {relative csv path: rows without time columns}."""
    runs = []
    for model, args in (("mlp", MLP), ("cnn", CNN), ("cnn-wide", CNN_WIDE), ("cnn-deep", CNN_DEEP), ("rnn", RNN)):
        for norm in ("batch", "layer", "group"):
            d = os.path.join(root, f"{model}-{norm}")
            groups = ["--groups", "4"] if norm == "group" and model != "mlp" else []  # a key no run ignores
            normlab(["train", *args, "--norm", norm, *groups, "--seed", "7", "--quiet", "--out", d], env)
            runs.append(d)
    d = os.path.join(root, "resnet-batch")
    normlab(["train", *RESNET, "--seed", "7", "--quiet", "--out", d], env)
    runs.append(d)
    exp = os.path.join(root, "grid.toml")
    with open(exp, "w") as f:
        f.write(GRID)
    normlab(["sweep", exp, "--jobs", "2", "--out", os.path.join(root, "sweep")], env)
    runs.append(os.path.join(root, "sweep"))
    out = {}
    for d in runs:
        for f in CSVS:
            out[os.path.relpath(os.path.join(d, f), root)] = rows(os.path.join(d, f))
    return out


def build(root, name):
    with open(os.path.join(root, name, "manifest.json")) as f:
        return json.load(f)["build"]


def kernel_notes(b):
    """The manifest's reproducibility notes but the source's (a build with uncommitted changes
    is noted as well: a developer's build, not CI's clone)."""
    return [n for n in b["reproducibility"] if "uncommitted changes" not in n and "outside a git checkout" not in n]


def case_same_bytes_every_kernel(tmp):
    ref = None
    for k in KERNELS:
        root = os.path.join(tmp, k)
        got = outputs(root, {"OPENBLAS_CORETYPE": k})
        for name in ("mlp-batch", "sweep"):
            b = build(root, name)
            check(b["blas_kernel"] == "Haswell" and b["blas_kernel_pinned"] is True and kernel_notes(b) == []
                  and b["numerics"].endswith("-haswell"),
                  f"OPENBLAS_CORETYPE={k}: {name}/manifest.json build is {b}")
        if ref is None:
            ref = got
            continue
        for f in ref:
            check(got[f] == ref[f], f"OPENBLAS_CORETYPE={k}: {f} differs from the Haswell machine's")
    # A machine without AVX2+FMA for normlab's own kernels (conv_direct.h, conv_gather.h,
    # dense_wide.h, the norm core and relu): their portable path, the same bytes.
    portable = outputs(os.path.join(tmp, "portable"), {"OPENBLAS_CORETYPE": "Haswell", "NORMLAB_CONV_ISA": "portable"})
    for f in ref:
        check(portable[f] == ref[f], f"NORMLAB_CONV_ISA=portable: {f} differs from the vector path's")
    # The control: unpinned, another kernel does change the numbers, so the
    # comparison above would have caught a pin that did nothing.
    native = outputs(os.path.join(tmp, "native"), {"OPENBLAS_CORETYPE": OTHER_KERNEL, "NORMLAB_BLAS_KERNEL": "native"})
    changed = [f for f in ref if native[f] != ref[f]]
    check(len(changed) > 0, f"NORMLAB_BLAS_KERNEL=native with {OTHER_KERNEL}: no CSV differs from the pinned "
                            "runs; the comparison cannot detect a kernel change")
    print(f"pinned: {len(ref)} CSVs identical under {', '.join(KERNELS)} and the portable conv path; "
          f"native {OTHER_KERNEL}: {len(changed)} of {len(ref)} differ")


def case_opt_out(tmp):
    env = {"OPENBLAS_CORETYPE": OTHER_KERNEL, "NORMLAB_BLAS_KERNEL": "native"}
    v = normlab(["--version"], env).stdout
    check(f"kernel {OTHER_KERNEL} (not pinned)" in v, f"--version under the opt-out: {v!r}")
    v = normlab(["--version"], {"OPENBLAS_CORETYPE": OTHER_KERNEL}).stdout
    check("kernel Haswell (pinned)" in v, f"--version pinned: {v!r}")
    h = normlab(["--help"], {}).stdout
    check("NORMLAB_BLAS_KERNEL=pinned|native" in h, "--help does not document NORMLAB_BLAS_KERNEL")
    d = os.path.join(tmp, "run")
    p = normlab(["train", *MLP, "--norm", "batch", "--out", d, "--quiet"], env)
    check("results match only machines where it picks the same kernel" in p.stderr,
          f"no warning under the opt-out; stderr:\n{p.stderr}")
    with open(os.path.join(d, "manifest.json")) as f:
        b = json.load(f)["build"]
    check(b["blas_kernel"] == OTHER_KERNEL and b["blas_kernel_pinned"] is False and len(kernel_notes(b)) == 1
          and b["numerics"].endswith("-" + OTHER_KERNEL.lower()),
          f"manifest build under the opt-out: {b}")
    p = normlab(["train", *MLP, "--out", os.path.join(tmp, "bad")], {"NORMLAB_BLAS_KERNEL": "fast"}, expect=2)
    check("NORMLAB_BLAS_KERNEL='fast' (allowed: pinned, native)" in p.stderr, f"bad value message: {p.stderr}")
    check(not os.path.exists(os.path.join(tmp, "bad")), "a run started despite a bad NORMLAB_BLAS_KERNEL")
    # The other settings read from the environment: a value that would be ignored is refused too.
    for var, value, needle in [("NORMLAB_CONV_ISA", "avx2", "NORMLAB_CONV_ISA='avx2' (allowed: portable, best"),
                               ("NORMLAB_CONV_ISA", "Portable", "NORMLAB_CONV_ISA='Portable'"),
                               ("NORMLAB_HEARTBEAT_SECONDS", "10s", "NORMLAB_HEARTBEAT_SECONDS: '10s' is not an integer"),
                               ("NORMLAB_HEARTBEAT_SECONDS", "0", "NORMLAB_HEARTBEAT_SECONDS: '0' is out of range")]:
        p = normlab(["train", *MLP, "--out", os.path.join(tmp, "bad")], {var: value}, expect=2)
        check(needle in p.stderr, f"{var}={value}: message {p.stderr!r}")
        check(not os.path.exists(os.path.join(tmp, "bad")), f"a run started despite {var}={value}")


def case_process_name(tmp):
    """The pinning re-exec keeps the process's name: /proc/PID/comm is the
    binary's file name, so pgrep -x, top and killall find a running sweep."""
    import time
    exp = os.path.join(tmp, "slow.toml")
    with open(exp, "w") as f:
        f.write('dataset = "blobs:n=4000,test=400,dim=16,classes=4"\nmodel = "mlp"\nwidths = [256, 256]\n'
                'steps = 100000\neval_every = 1000\nlr = [0.01, 0.02]\nseeds = 1\n')
    env = dict(os.environ)
    env.pop("NORMLAB_BLAS_KERNEL", None)
    env["OPENBLAS_CORETYPE"] = OTHER_KERNEL  # forces the re-exec
    p = subprocess.Popen([BIN, "sweep", exp, "--out", os.path.join(tmp, "s"), "--jobs", "1", "-q"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        name = ""
        for _ in range(100):  # up to 10 s for the re-exec to happen
            time.sleep(0.1)
            with open(f"/proc/{p.pid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                pinned = b"OPENBLAS_CORETYPE=Haswell" in f.read()
            if pinned:
                break
        check(pinned, "the sweep did not re-execute itself with the pinned kernel")
        expected = os.path.basename(os.path.realpath(BIN))[:15]
        check(name == expected, f"/proc/PID/comm is {name!r}, expected {expected!r}")
        if expected == "normlab":
            g = subprocess.run(["pgrep", "-x", "normlab"], capture_output=True, text=True)
            check(str(p.pid) in g.stdout.split(), f"pgrep -x normlab does not list pid {p.pid}: {g.stdout!r}")
    finally:
        p.kill()
        p.wait()
    print(f"comm of a running sweep: {name}")


with tempfile.TemporaryDirectory() as tmp:
    {"same-bytes-every-kernel": case_same_bytes_every_kernel, "opt-out": case_opt_out,
     "process-name": case_process_name}[CASE](tmp)
print("ok")
