#!/usr/bin/python3
"""`normlab train --scale-hidden C` against PyTorch, from the same starting weights.

PyTorch's side is written from the definition (docs/usage.md, scale-hidden): every
hidden nn.Linear's weight and bias multiplied by C, and an optimizer parameter
group with lr C^2 * lr for them (torch.optim.SGD applies weight decay and momentum
inside the group, so the whole step scales). The output layer and the norm's
gamma and beta keep lr. Both sides train 5 full-batch steps on the first 64
Fashion-MNIST training images (batch 64 = the whole subset, so the shuffle only
permutes a batch) and must end at the same weights (relative L2 difference per
tensor < 1e-5), running statistics included. The hidden weight norm
(runs.csv and curves.csv column hidden_wnorm: sqrt of the summed squared
Frobenius norms of the hidden layers' weights, biases left out) matches
PyTorch's at step 0 (the scaled start) and at the end to 1e-5 relative.
Cases: mlp with batch norm, sgd, weight decay 1e-3, C = 4; mlp without a norm,
momentum 0.9, C = 0.5.
Usage: scale_hidden_torch.py NORMLAB_BIN"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from make_fixtures import read_idx as idx, read_safetensors, write_safetensors  # noqa: E402

BIN = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LR, STEPS, N = 0.05, 5, 64


def build(norm):
    if norm == "none":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(nn.Linear(784, 128), nn.BatchNorm1d(128), nn.ReLU(),
                         nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))


def train_data(manifest):
    loc = manifest["location"]
    if not os.path.isabs(loc):
        loc = os.path.join(os.environ.get("NORMLAB_DATA") or os.path.join(ROOT, "data"), loc)
    x = idx(os.path.join(loc, "train-images-idx3-ubyte.gz"))[:N].astype(np.float32) / 255.0
    y = idx(os.path.join(loc, "train-labels-idx1-ubyte.gz"))[:N].astype(np.int64)
    if manifest["standardize_mean"]:
        x = (x - np.float32(manifest["standardize_mean"][0])) / np.float32(manifest["standardize_std"][0])
    return torch.from_numpy(x.reshape(-1, 784)), torch.from_numpy(y)


def hidden_wnorm(net):
    linears = [m for m in net if isinstance(m, nn.Linear)]
    return float(np.sqrt(sum((m.weight.detach().double() ** 2).sum().item() for m in linears[:-1])))


def torch_run(net, c, x, y, optimizer, wd):
    linears = [m for m in net if isinstance(m, nn.Linear)]
    hidden = [p for m in linears[:-1] for p in m.parameters()]
    with torch.no_grad():
        for p in hidden:
            p.mul_(c)
    wnorm0 = hidden_wnorm(net)
    ids = {id(p) for p in hidden}
    rest = [p for p in net.parameters() if id(p) not in ids]
    groups = [{"params": hidden, "lr": c * c * LR}, {"params": rest, "lr": LR}]
    mom = 0.9 if optimizer == "momentum" else 0.0
    opt = torch.optim.SGD(groups, lr=LR, momentum=mom, weight_decay=wd)
    net.train()
    for _ in range(STEPS):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}, wnorm0, hidden_wnorm(net)


def check_wnorm(out, norm, wnorm0, wnorm1):
    with open(os.path.join(out, "runs.csv"), newline="") as f:
        run = next(csv.DictReader(f))
    with open(os.path.join(out, "curves.csv"), newline="") as f:
        start = [float(r["hidden_wnorm"]) for r in csv.DictReader(f) if r["step"] == "0"]
    got = {"start": start[0], "end": float(run["hidden_wnorm"])}
    for k, want in (("start", wnorm0), ("end", wnorm1)):
        if abs(got[k] - want) > 1e-5 * want:
            sys.exit(f"FAIL: {norm}: hidden_wnorm at the {k}: normlab {got[k]}, PyTorch {want}")
    print(f"mlp/{norm}: hidden_wnorm {got['start']:.6g} -> {got['end']:.6g} (PyTorch {wnorm0:.6g} -> {wnorm1:.6g})")


def case(tmp, norm, optimizer, wd, c):
    torch.manual_seed(7)
    net = build(norm)
    start = os.path.join(tmp, f"start-{norm}.safetensors")
    write_safetensors(start, {k: v.detach().numpy() for k, v in net.state_dict().items()})
    out, end = os.path.join(tmp, f"run-{norm}"), os.path.join(tmp, f"end-{norm}.safetensors")
    subprocess.run([BIN, "train", "--dataset", f"fashion-mnist:n={N}", "--model", "mlp", "--norm", norm,
                    "--optimizer", optimizer, "--weight-decay", str(wd), "--scale-hidden", str(c),
                    "--lr", str(LR), "--batch-size", str(N), "--steps", str(STEPS), "--eval-every", str(STEPS),
                    "--quiet", "--out", out, "--load-weights", start, "--save-weights", end], check=True)
    manifest = json.load(open(os.path.join(out, "manifest.json")))["datasets"][0]
    x, y = train_data(manifest)
    want, wnorm0, wnorm1 = torch_run(net, c, x, y, optimizer, wd)
    check_wnorm(out, norm, wnorm0, wnorm1)
    got = read_safetensors(end)[0]
    if sorted(got) != sorted(want):
        sys.exit(f"FAIL: {norm}: tensors {sorted(got)}, PyTorch has {sorted(want)}")
    worst = 0.0
    for k, w in want.items():
        if w.dtype.kind != "f":
            if not np.array_equal(got[k], w):
                sys.exit(f"FAIL: {norm}: {k}: normlab {got[k]}, PyTorch {w}")
            continue
        rel = float(np.linalg.norm(got[k].astype(np.float64) - w) / max(np.linalg.norm(w.astype(np.float64)), 1e-12))
        worst = max(worst, rel)
        if rel > 1e-5:
            sys.exit(f"FAIL: {norm} {optimizer} C={c}: {k}: relative L2 difference {rel:.3g} from PyTorch")
    print(f"mlp/{norm} {optimizer} weight-decay {wd} scale-hidden {c}: {len(want)} tensors after {STEPS} steps, "
          f"largest relative difference {worst:.2e}")


with tempfile.TemporaryDirectory() as tmp:
    case(tmp, "batch", "sgd", 1e-3, 4.0)
    case(tmp, "none", "momentum", 0.0, 0.5)
print("PASS")
