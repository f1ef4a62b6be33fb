#!/usr/bin/python3
"""`normlab train --save-weights` -> PyTorch: the checkpoint loads (strict) into
the equivalent nn.Sequential, and PyTorch's test accuracy on the same test set,
preprocessed as the manifest says, equals normlab's to 1e-6. The last activation
probe agrees too: numpy's percentiles of each hidden pre-activation on the probe
batch (the first 256 training images), all units in train mode, unit 0 alone, and
all units in eval mode, match activations.csv's last step to 1e-4. So does the
loss-landscape probe (lib/train/landscape.h): on the first 64 training images in
train mode, the loss range, gradient change and effective beta-smoothness along
-g at 0.5, 1, 2 and 4 times the lr, computed with autograd from the saved
weights, match runs.csv's landscape_* columns to 1e-3 (relative).
Usage: weights_torch.py NORMLAB_BIN MODEL NORM"""
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
from make_fixtures import read_idx as idx, read_safetensors  # noqa: E402

BIN, MODEL, NORM = sys.argv[1:4]
LR = 0.05
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def norm_layer(norm, c, shape):
    if norm == "batch":
        return nn.BatchNorm2d(c) if shape else nn.BatchNorm1d(c)
    if norm == "layer":
        return nn.LayerNorm([c, *shape] if shape else [c])
    return nn.GroupNorm(8, c)


def build(model, norm):
    if model == "mlp" and norm == "none":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    if model == "mlp":
        return nn.Sequential(nn.Linear(784, 128), norm_layer(norm, 128, None), nn.ReLU(),
                             nn.Linear(128, 64), norm_layer(norm, 64, None), nn.ReLU(), nn.Linear(64, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), norm_layer(norm, 32, (26, 26)), nn.ReLU(), nn.Flatten(),
                         nn.Linear(32 * 26 * 26, 10))


def check_landscape(net, x, loc, run):
    """The landscape probe at the saved (final) weights, by autograd, against runs.csv (one point after step 0)."""
    y = torch.from_numpy(idx(os.path.join(loc, "train-labels-idx1-ubyte.gz"))[:len(x)].astype(np.int64))
    bufs = {k: b.clone() for k, b in net.named_buffers()}
    params = list(net.parameters())
    w0 = [p.detach().clone() for p in params]

    def loss_grad():
        with torch.no_grad():  # running statistics as training left them, before every forward
            for k, b in net.named_buffers():
                b.copy_(bufs[k])
        net.train()
        for p in params:
            p.grad = None
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss.item(), torch.cat([p.grad.reshape(-1) for p in params]).double()

    l0, g0 = loss_grad()
    grads0 = [p.grad.detach().clone() for p in params]
    losses, changes, betas = [l0], [], []
    for c in (0.5, 1, 2, 4):
        with torch.no_grad():
            for p, w, g in zip(params, w0, grads0):
                p.copy_(w - np.float32(c * LR) * g)
        lc, gc = loss_grad()
        losses.append(lc)
        changes.append((g0 - gc).norm().item())
        betas.append(changes[-1] / (c * LR * g0.norm().item()))
    with torch.no_grad():
        for p, w in zip(params, w0):
            p.copy_(w)
        for k, b in net.named_buffers():
            b.copy_(bufs[k])
    want = {"landscape_loss_range": max(losses) - min(losses), "landscape_grad_change": max(changes),
            "landscape_beta": max(betas)}
    for k, v in want.items():
        got = float(run[k])
        if abs(got - v) > 1e-3 * max(abs(v), 1e-6):
            sys.exit(f"FAIL: {k}: normlab {got}, PyTorch {v}")
    print("landscape: " + ", ".join(f"{k} normlab {float(run[k]):.6g} PyTorch {v:.6g}" for k, v in want.items()))


with tempfile.TemporaryDirectory() as tmp:
    w = os.path.join(tmp, "w.safetensors")
    subprocess.run([BIN, "train", "--dataset", "fashion-mnist", "--model", MODEL, "--norm", NORM,
                    "--steps", "150", "--eval-every", "150", "--batch-size", "64", "--lr", str(LR), "--quiet", "--out", tmp,
                    "--landscape", "true",
                    "--save-weights", w], check=True)
    with open(os.path.join(tmp, "runs.csv"), newline="") as f:
        run = next(csv.DictReader(f))
    acc_normlab = float(run["final_test_acc"])
    man = json.load(open(os.path.join(tmp, "manifest.json")))["datasets"][0]
    loc = man["location"]
    if not os.path.isabs(loc):  # relative to the data directory
        loc = os.path.join(os.environ.get("NORMLAB_DATA") or os.path.join(ROOT, "data"), loc)
    x = idx(os.path.join(loc, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = idx(os.path.join(loc, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    if man["standardize_mean"]:
        x = (x - np.float32(man["standardize_mean"][0])) / np.float32(man["standardize_std"][0])
    x = torch.from_numpy(x.reshape(-1, 784) if MODEL == "mlp" else x.reshape(-1, 1, 28, 28))
    net = build(MODEL, NORM)
    state = {k: torch.from_numpy(v) for k, v in read_safetensors(w)[0].items()}
    net.load_state_dict(state, strict=True)
    net.eval()
    with torch.no_grad():
        acc_torch = (net(x).argmax(1).numpy() == y).mean()
    print(f"{MODEL}/{NORM}: normlab test accuracy {acc_normlab:.6f}, PyTorch {acc_torch:.6f}")
    if abs(acc_torch - acc_normlab) > 1e-6:
        sys.exit("FAIL: accuracies differ")

    # The probe: hidden pre-activations are the norm layers' outputs (placement before).
    xt = idx(os.path.join(loc, "train-images-idx3-ubyte.gz"))[:256].astype(np.float32) / 255.0
    if man["standardize_mean"]:
        xt = (xt - np.float32(man["standardize_mean"][0])) / np.float32(man["standardize_std"][0])
    xt = torch.from_numpy(xt.reshape(-1, 784) if MODEL == "mlp" else xt.reshape(-1, 1, 28, 28))
    layers = [i for i, m in enumerate(net) if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d,
                                                             nn.LayerNorm, nn.GroupNorm))]
    if NORM == "none":  # the hidden pre-activations are the hidden linear layers' outputs
        layers = [i for i, m in enumerate(net) if isinstance(m, nn.Linear)][:-1]
    check_landscape(net, xt[:64], loc, run)

    def preacts(train):
        out = {}
        hooks = [net[i].register_forward_hook(lambda m, a, o, i=i: out.__setitem__(i, o.detach().numpy()))
                 for i in layers]
        saved = {k: v.clone() for k, v in net.state_dict().items()}
        net.train(train)
        with torch.no_grad():
            net(xt)
        net.load_state_dict(saved)
        for h in hooks:
            h.remove()
        return out

    tr, ev = preacts(True), preacts(False)
    with open(os.path.join(tmp, "activations.csv"), newline="") as f:
        acts = list(csv.DictReader(f))
    last = max(int(a["step"]) for a in acts)
    rows = {int(a["layer"]): a for a in acts if int(a["step"]) == last}
    if sorted(rows) != layers:
        sys.exit(f"FAIL: probed layers {sorted(rows)}, expected {layers}")
    worst = 0.0
    for i in layers:
        unit0 = tr[i][:, 0]  # (N,) or (N, H, W)
        for prefix, values in (("", tr[i]), ("unit_", unit0), ("eval_", ev[i])):
            for q in (15, 50, 85):
                want = float(np.percentile(values.astype(np.float64), q))
                got = float(rows[i][f"{prefix}p{q}"])
                err = abs(got - want) / max(1.0, abs(want))
                worst = max(worst, err)
                if err > 1e-4:
                    sys.exit(f"FAIL: layer {i} {prefix}p{q}: normlab {got}, PyTorch/numpy {want}")
    print(f"probe percentiles at step {last}: largest relative difference {worst:.2e}")
print("PASS")
