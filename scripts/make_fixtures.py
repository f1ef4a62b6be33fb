#!/usr/bin/python3
"""Reference fixtures from PyTorch for normlab's tests (tests/test_torch_*.cpp).

Run with Debian's python3-torch:   /usr/bin/python3 scripts/make_fixtures.py [OUT_DIR]
(OUT_DIR defaults to tests/fixtures). Deterministic: fixed seeds, one thread.

Writes safetensors files (a tiny writer below; the safetensors package is not needed):

  norms.safetensors       BatchNorm1d/2d, LayerNorm (F) and (C,H,W), GroupNorm (several
                          group counts, conv and dense shapes), affine and not. Computed in
                          float64. Per case "<case>.<tensor>"; the case table (kind, shape,
                          groups, eps, momentum, affine) is JSON in metadata["cases"].
                            train: x1, dy1 -> y1, dx1, dgamma1, dbeta1 (loss = sum(y*dy))
                            BN:    running_mean/var after 1 forward (rm1, rv1) and after
                                   3 forwards x1, x2, x3 (rm3, rv3)
                            eval:  x_eval, dy_eval -> y_eval, dx_eval, dgamma_eval, dbeta_eval
                                   (module.eval(); BN uses rm3/rv3)
                          gamma/beta are random, not 1/0.
  optim_init.safetensors  initial state_dict of the seed MLP 784-128-64-10 with BatchNorm1d
                          before ReLU (float32), loadable by normlab's load_checkpoint.
  optim_data.safetensors  X (64,784) in [0,1), labels (64), batches (10,32) of row indices;
                          per optimizer run "<run>.loss" (10 losses, train mode, before each
                          step) and "<run>.final.<name>" final BN tensors, biases and running
                          stats; run table (optimizer settings) is JSON in metadata["runs"].
  variants.safetensors    dropout, ghost-batch, batch-renorm, noisy-batch and precise BN
                          statistics, float64 unless noted; the case table is JSON in
                          metadata["cases"]. Per case "<case>.<tensor>", per step s = 1, 2, ...:
                            dropout: x, keep (0/1), dy -> y, dx (train); eval is identity
                            ghost:   BatchNorm applied to each chunk of torch.split(x, K) in
                                     turn: y<s>, dx<s>, dgamma<s>, dbeta<s>, rm<s>, rv<s>
                            renorm:  a torch-ops batch renormalization (renorm_step below)
                                     from running stats rm0, rv0: y<s>, dx<s>, dgamma<s>,
                                     dbeta<s>, r<s>, d<s>, rm<s>, rv<s>
                            noisy:   BN then the given per-channel scale<s>, shift<s>
                            precise: a small BN model (float32 state_dict "state.*"), batches
                                     X (B, n, F); pop_mean.<i>, pop_var.<i> pooled over the
                                     batches' BN inputs; x_eval -> logits_eval with those stats
  interop_<m>.safetensors     a trained-ish torch state_dict (PyTorch -> normlab)
  interop_<m>.io.safetensors  x and torch eval-mode logits; metadata["config"] = model config.
  models.safetensors, traj_<m>*.safetensors   cnn-deep, rnn, resnet and cnn-plain: see
                          fixtures_models.py.

check_checkpoint.py imports build_model/read_safetensors from here for the reverse
direction (normlab -> PyTorch).
"""
import copy
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

from normlab_report.atomic import write_atomic

# ---------------------------------------------------------------- IDX files (MNIST format)

def read_idx(path):
    """An IDX file (gzipped or raw) as a uint8 array of its dimensions."""
    import gzip
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# ---------------------------------------------------------------- safetensors I/O

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64",
           np.dtype("int64"): "I64", np.dtype("int32"): "I32"}
_NP = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> numpy array or torch tensor. Written sorted by name."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        if isinstance(a, torch.Tensor):
            a = a.detach().cpu().numpy()
        a = np.array(a, order="C", copy=False)  # keeps 0-d shapes (ascontiguousarray does not)
        if a.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {a.dtype}")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    def fill(f):
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    write_atomic(path, fill, binary=True)


def read_safetensors(path):
    """Returns (name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        dt = _NP[h["dtype"]].newbyteorder("<")
        out[name] = np.frombuffer(data[base + b:base + e], dtype=dt).reshape(h["shape"]).copy()
    return out, meta

# ---------------------------------------------------------------- models (mirror lib/nn/model.cpp)

DEFAULT_WIDTHS = {"mlp": [128, 64], "cnn": [32], "cnn-small": [16, 32], "cnn-deep": [16, 32, 64],
                  "rnn": [128], "resnet": [16, 32, 64], "cnn-plain": [16, 32, 64]}


def _norm(kind, c, shape_chw, dense, groups, eps, momentum, affine):
    if kind == "none":
        return None
    if kind in ("batch", "ghost-batch", "batch-renorm", "noisy-batch"):
        # The variants differ from BatchNorm only in training; tensors and eval are its.
        cls = nn.BatchNorm1d if dense else nn.BatchNorm2d
        return cls(c, eps=eps, momentum=momentum, affine=affine)
    if kind == "layer":
        return nn.LayerNorm([c] if dense else list(shape_chw), eps=eps, elementwise_affine=affine)
    if kind == "group":
        return nn.GroupNorm(groups, c, eps=eps, affine=affine)
    raise ValueError(kind)


class StepBatchNorm(nn.Module):
    """BatchNorm1d over (N, H) with one running average per time step t (Cooijmans et al.):
    weight/bias (H) shared by all steps, running_mean/running_var (T, H)."""

    def __init__(self, steps, h, eps, momentum, affine):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(h)) if affine else None
        self.bias = nn.Parameter(torch.zeros(h)) if affine else None
        self.register_buffer("running_mean", torch.zeros(steps, h))
        self.register_buffer("running_var", torch.ones(steps, h))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, a, t):
        return nn.functional.batch_norm(a, self.running_mean[t], self.running_var[t], self.weight,
                                        self.bias, self.training, self.momentum, self.eps)


class NormRNN(nn.Module):
    """normlab's rnn layer (lib/nn/rnn.h): x (N, 1, T, D) -> h_T (N, H), with
    a_t = x_t W_ih^T + h_{t-1} W_hh^T + b, h_t = tanh(norm(a_t)), h_0 = 0."""

    def __init__(self, steps, d, h, kind, groups, eps, momentum, affine):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.empty(h, d))
        self.weight_hh = nn.Parameter(torch.empty(h, h))
        self.bias = nn.Parameter(torch.empty(h))
        k = h ** -0.5  # nn.RNN's init
        for p in (self.weight_ih, self.weight_hh, self.bias):
            nn.init.uniform_(p, -k, k)
        self.kind = kind
        if kind == "batch":
            self.norm = StepBatchNorm(steps, h, eps, momentum, affine)
        elif kind == "layer":
            self.norm = nn.LayerNorm(h, eps=eps, elementwise_affine=affine)
        elif kind == "group":
            self.norm = nn.GroupNorm(groups, h, eps=eps, affine=affine)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1, self.weight_ih.shape[1])
        h = x.new_zeros(x.shape[0], self.weight_hh.shape[0])
        for t in range(x.shape[1]):
            a = x[:, t] @ self.weight_ih.t() + self.bias
            if t > 0:
                a = a + h @ self.weight_hh.t()
            if self.kind == "batch":
                a = self.norm(a, t)
            elif self.kind != "none":
                a = self.norm(a)
            h = torch.tanh(a)
        if self.kind == "batch" and self.training:
            self.norm.num_batches_tracked.add_(1)
        return h


class BasicBlock(nn.Module):
    """normlab's residual block (lib/nn/residual.h), torchvision's BasicBlock with the norm chosen:
    y = act(norm2(conv2(act(norm1(conv1(x))))) + shortcut(x)); shortcut = identity, or a 1x1 conv
    with stride s and a norm where the shape changes (option B); skip=False drops the shortcut."""

    def __init__(self, c, w, hw, stride, skip, act, norm_kw):
        super().__init__()
        s = (hw - 1) // stride + 1  # the output map: 3x3 pad 1 and 1x1 pad 0 agree
        ident = nn.Identity()
        self.conv1 = nn.Conv2d(c, w, 3, stride=stride, padding=1)
        self.norm1 = _norm(c=w, shape_chw=(w, s, s), dense=False, **norm_kw) or ident
        self.act1 = act()
        self.conv2 = nn.Conv2d(w, w, 3, padding=1)
        self.norm2 = _norm(c=w, shape_chw=(w, s, s), dense=False, **norm_kw) or ident
        self.skip = skip
        if skip and (stride != 1 or c != w):
            n = _norm(c=w, shape_chw=(w, s, s), dense=False, **norm_kw)
            self.shortcut = nn.Sequential(nn.Conv2d(c, w, 1, stride=stride), *([n] if n is not None else []))
        else:
            self.shortcut = None
        self.act_out = act()
        self.out_hw = s

    def forward(self, x):
        r = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.skip:
            r = r + (x if self.shortcut is None else self.shortcut(x))
        return self.act_out(r)


def zero_init_residual(model):
    """normlab's zero-init-residual: each block's norm2 gamma, or (no norm) conv2's weight and bias, = 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BasicBlock):
                if isinstance(m.norm2, nn.Identity):
                    m.conv2.weight.zero_()
                    m.conv2.bias.zero_()
                else:
                    m.norm2.weight.zero_()


def build_model(cfg):
    """cfg: dict with model, widths, activation, norm, groups, eps, momentum, affine,
    placement, input [c,h,w], classes -- the same keys normlab's ModelConfig has.
    Returns an nn.Sequential whose state_dict names match normlab's."""
    model = cfg["model"]
    widths = cfg.get("widths") or DEFAULT_WIDTHS[model]
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[cfg.get("activation", "relu")]
    norm_kw = dict(kind=cfg.get("norm", "none"), groups=cfg.get("groups", 8),
                   eps=cfg.get("eps", 1e-5), momentum=cfg.get("momentum", 0.1),
                   affine=cfg.get("affine", True))
    placement = cfg.get("placement", "before")
    dropout = cfg.get("dropout", 0.0)
    c, h, w = cfg.get("input", [1, 28, 28])
    classes = cfg.get("classes", 10)
    layers = []

    def block(ch, hh, ww, dense):
        n = _norm(c=ch, shape_chw=(ch, hh, ww), dense=dense, **norm_kw)
        seq = [n, act()] if placement == "before" else [act(), n]
        layers.extend(m for m in seq if m is not None)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))

    if model == "mlp":
        f = c * h * w
        for wd in widths:
            layers.append(nn.Linear(f, wd))
            block(wd, 1, 1, True)
            f = wd
    elif model == "cnn":
        layers.append(nn.Conv2d(c, widths[0], 3))
        c, h, w = widths[0], h - 2, w - 2
        block(c, h, w, False)
        layers.append(nn.Flatten())
        f = c * h * w
    elif model == "cnn-small":
        for wd in widths:
            layers.append(nn.Conv2d(c, wd, 3, padding=1))
            c = wd
            block(c, h, w, False)
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        layers.append(nn.Flatten())
        f = c * h * w
    elif model == "cnn-deep":
        for wd in widths:
            layers.append(nn.Conv2d(c, wd, 3, stride=2, padding=1))
            c, h, w = wd, (h - 1) // 2 + 1, (w - 1) // 2 + 1
            block(c, h, w, False)
        layers.append(nn.Flatten())
        f = c * h * w
    elif model == "rnn":
        layers.append(NormRNN(h, w, widths[0], **norm_kw))
        f = widths[0]
    elif model in ("resnet", "cnn-plain"):
        layers.append(nn.Conv2d(c, widths[0], 3, padding=1))
        c = widths[0]
        block(c, h, w, False)
        for st, wd in enumerate(widths):
            for b in range(cfg.get("depth", 1)):
                blk = BasicBlock(c, wd, h, 2 if st > 0 and b == 0 else 1, model == "resnet", act, norm_kw)
                layers.append(blk)
                c, h, w = wd, blk.out_hw, blk.out_hw
        layers += [nn.AvgPool2d(h), nn.Flatten()]
        f = c
    else:
        raise ValueError(model)
    layers.append(nn.Linear(f, classes))
    return nn.Sequential(*layers)

# ---------------------------------------------------------------- a. norm layers

NORM_CASES = [
    # name,             kind,   N, C, H, W, dense, groups, affine, eps,  momentum, N_eval
    ("bn1d",            "batch", 8, 5, 1, 1, True,  0, True,  1e-5, 0.1, 1),
    ("bn1d_m03",        "batch", 6, 4, 1, 1, True,  0, True,  1e-5, 0.3, 5),
    ("bn1d_n2",         "batch", 2, 3, 1, 1, True,  0, True,  1e-5, 0.3, 2),
    ("bn1d_noaffine",   "batch", 5, 3, 1, 1, True,  0, False, 1e-5, 0.1, 4),
    ("bn2d",            "batch", 4, 3, 5, 4, False, 0, True,  1e-5, 0.1, 2),
    ("bn2d_m03_eps",    "batch", 2, 4, 3, 3, False, 0, True,  1e-3, 0.3, 3),
    ("bn2d_n1",         "batch", 1, 2, 3, 4, False, 0, True,  1e-5, 0.3, 1),
    ("bn2d_noaffine",   "batch", 3, 2, 4, 4, False, 0, False, 1e-5, 0.3, 2),
    ("ln1d",            "layer", 4, 7, 1, 1, True,  0, True,  1e-5, 0.0, 3),
    ("ln1d_noaffine",   "layer", 3, 6, 1, 1, True,  0, False, 1e-5, 0.0, 1),
    ("ln2d",            "layer", 3, 3, 4, 5, False, 0, True,  1e-5, 0.0, 2),
    ("ln2d_noaffine",   "layer", 2, 2, 3, 3, False, 0, False, 1e-3, 0.0, 2),
    ("gn2d_g1",         "group", 3, 6, 4, 3, False, 1, True,  1e-5, 0.0, 2),
    ("gn2d_g2",         "group", 3, 6, 4, 3, False, 2, True,  1e-5, 0.0, 2),
    ("gn2d_g3",         "group", 2, 6, 3, 5, False, 3, True,  1e-5, 0.0, 1),
    ("gn2d_g6",         "group", 3, 6, 4, 3, False, 6, True,  1e-5, 0.0, 2),
    ("gn2d_g2_noaffine", "group", 2, 4, 3, 3, False, 2, False, 1e-3, 0.0, 2),
    ("gn1d_g1",         "group", 4, 6, 1, 1, True,  1, True,  1e-5, 0.0, 2),
    ("gn1d_g2",         "group", 4, 6, 1, 1, True,  2, True,  1e-5, 0.0, 2),
    ("gn1d_g3",         "group", 3, 6, 1, 1, True,  3, False, 1e-5, 0.0, 2),
]


def _rand_input(n, c, h, w, dense):
    shape = (n, c) if dense else (n, c, h, w)
    scale = 0.5 + 2.0 * torch.rand(c, dtype=torch.float64)
    shift = torch.randn(c, dtype=torch.float64)
    if not dense:
        scale, shift = scale.view(c, 1, 1), shift.view(c, 1, 1)
    return torch.randn(shape, dtype=torch.float64) * scale + shift


def norm_fixtures():
    torch.manual_seed(1234)
    out, table = {}, []
    for (name, kind, N, C, H, W, dense, groups, affine, eps, mom, Ne) in NORM_CASES:
        if kind == "batch" and N * H * W < 2:
            raise ValueError(name)
        m = _norm(kind, C, (C, H, W), dense, groups, eps, mom, affine).double()
        if affine:
            with torch.no_grad():
                m.weight.copy_(1.0 + 0.5 * torch.randn_like(m.weight))
                m.bias.copy_(0.5 * torch.randn_like(m.bias))
        t = {}
        xs = [_rand_input(N, C, H, W, dense) for _ in range(3)]
        x1 = xs[0].clone().requires_grad_(True)
        m.train()
        y1 = m(x1)
        dy1 = torch.randn_like(y1)
        y1.backward(dy1)
        t.update(x1=xs[0], dy1=dy1, y1=y1, dx1=x1.grad)
        if affine:
            t.update(gamma=m.weight, beta=m.bias, dgamma1=m.weight.grad, dbeta1=m.bias.grad)
        if kind == "batch":
            t.update(rm1=m.running_mean.clone(), rv1=m.running_var.clone())
            with torch.no_grad():
                m(xs[1])
                m(xs[2])
            t.update(x2=xs[1], x3=xs[2], rm3=m.running_mean.clone(), rv3=m.running_var.clone())
            assert int(m.num_batches_tracked) == 3
        m.eval()
        if affine:
            m.weight.grad = None
            m.bias.grad = None
        xe = _rand_input(Ne, C, H, W, dense)
        xe_g = xe.clone().requires_grad_(True)
        ye = m(xe_g)
        dye = torch.randn_like(ye)
        ye.backward(dye)
        t.update(x_eval=xe, dy_eval=dye, y_eval=ye, dx_eval=xe_g.grad)
        if affine:
            t.update(dgamma_eval=m.weight.grad, dbeta_eval=m.bias.grad)
        for k, v in t.items():
            out[f"{name}.{k}"] = v.detach().to(torch.float64)
        table.append(dict(name=name, kind=kind, N=N, C=C, H=H, W=W, dense=dense, groups=groups,
                          affine=affine, eps=eps, momentum=mom, N_eval=Ne))
    return out, {"cases": json.dumps(table), "generator": "scripts/make_fixtures.py",
                 "torch": torch.__version__}

# ---------------------------------------------------------------- a2. norm variants and dropout


def _dims(x):
    return [0] if x.dim() == 2 else [0, 2, 3]


def _chan(v, x):
    """Per-channel vector v (C) shaped to broadcast against x."""
    return v.view(1, -1) if x.dim() == 2 else v.view(1, -1, 1, 1)


def renorm_step(x, gamma, beta, rm, rv, nbt, eps, mom, rmax, dmax, warmup):
    """Batch renormalization (Ioffe 2017, Algorithm 1) with torch ops, training mode.
    r and d are detached (stop-gradient). rmax/dmax grow linearly from 1/0 over `warmup`
    steps, nbt counting the steps before this one. Updates rm, rv in place (PyTorch's
    momentum and unbiased variance). Returns y, r, d."""
    dims = _dims(x)
    M = x.numel() // x.shape[1]
    mu = x.mean(dims)
    var = x.var(dims, unbiased=False)
    f = min(1.0, nbt / warmup) if warmup > 0 else 1.0
    rmax_t, dmax_t = 1 + (rmax - 1) * f, dmax * f
    sigma = torch.sqrt(rv + eps)
    sigma_b = torch.sqrt(var + eps)
    r = (sigma_b / sigma).detach().clamp(1 / rmax_t, rmax_t)
    d = ((mu - rm) / sigma).detach().clamp(-dmax_t, dmax_t)
    xhat = (x - _chan(mu, x)) / _chan(sigma_b, x) * _chan(r, x) + _chan(d, x)
    y = xhat if gamma is None else xhat * _chan(gamma, x) + _chan(beta, x)
    with torch.no_grad():
        rm.mul_(1 - mom).add_(mom * mu)
        rv.mul_(1 - mom).add_(mom * var * M / (M - 1))
    return y, r, d


VARIANT_CASES = [
    # name, kind, N, C, H, W, dense, affine, momentum, extra
    ("drop_dense", "dropout", 6, 7, 1, 1, True, False, 0.0, dict(p=0.3)),
    ("drop_conv", "dropout", 2, 3, 4, 3, False, False, 0.0, dict(p=0.5)),
    ("ghost_dense_div", "ghost", 8, 4, 1, 1, True, True, 0.1, dict(K=4)),
    ("ghost_dense_rem", "ghost", 8, 5, 1, 1, True, True, 0.3, dict(K=3)),
    ("ghost_conv_rem", "ghost", 5, 3, 3, 2, False, True, 0.1, dict(K=2)),
    ("ghost_conv_noaffine", "ghost", 6, 2, 2, 2, False, False, 0.3, dict(K=4)),
    ("renorm_dense", "renorm", 8, 5, 1, 1, True, True, 0.1, dict(rmax=1.5, dmax=0.5, warmup=2)),
    ("renorm_conv", "renorm", 3, 4, 3, 3, False, True, 0.3, dict(rmax=2.0, dmax=1.0, warmup=0)),
    ("renorm_noaffine", "renorm", 6, 3, 1, 1, True, False, 0.1, dict(rmax=1.2, dmax=0.3, warmup=3)),
    ("noisy_dense", "noisy", 7, 5, 1, 1, True, True, 0.1, {}),
    ("noisy_conv", "noisy", 3, 4, 2, 3, False, True, 0.3, {}),
    ("noisy_noaffine", "noisy", 5, 3, 1, 1, True, False, 0.1, {}),
]
VARIANT_STEPS = 4
EPS = 1e-5


def variant_fixtures():
    torch.manual_seed(4321)
    out, table = {}, []
    for (name, kind, N, C, H, W, dense, affine, mom, extra) in VARIANT_CASES:
        t = {}
        if kind == "dropout":
            p = extra["p"]
            x = _rand_input(N, C, H, W, dense)
            keep = (torch.rand_like(x) >= p).to(torch.float64)
            xg = x.clone().requires_grad_(True)
            y = xg * keep / (1 - p)
            dy = torch.randn_like(y)
            y.backward(dy)
            t.update(x=x, keep=keep, dy=dy, y=y, dx=xg.grad)
        else:
            gamma = (1.0 + 0.5 * torch.randn(C, dtype=torch.float64)) if affine else None
            beta = 0.5 * torch.randn(C, dtype=torch.float64) if affine else None
            if affine:
                t.update(gamma=gamma, beta=beta)
            rm = 0.5 * torch.randn(C, dtype=torch.float64)
            rv = 0.3 + 2.0 * torch.rand(C, dtype=torch.float64)
            if kind == "renorm":  # start from running stats away from 0/1, so r and d move
                t.update(rm0=rm.clone(), rv0=rv.clone())
            else:
                rm, rv = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
            bn = (nn.BatchNorm1d if dense else nn.BatchNorm2d)(C, eps=EPS, momentum=mom,
                                                               affine=affine).double()
            if affine:
                with torch.no_grad():
                    bn.weight.copy_(gamma)
                    bn.bias.copy_(beta)
            for s in range(1, VARIANT_STEPS + 1):
                x = _rand_input(N, C, H, W, dense)
                xg = x.clone().requires_grad_(True)
                g = gamma.clone().requires_grad_(True) if affine else None
                b = beta.clone().requires_grad_(True) if affine else None
                if kind == "ghost":
                    bn.train()
                    if affine:
                        bn.weight.grad = None
                        bn.bias.grad = None
                    y = torch.cat([bn(c) for c in torch.split(xg, extra["K"])])
                elif kind == "renorm":
                    y, r, d = renorm_step(xg, g, b, rm, rv, s - 1, EPS, mom, extra["rmax"],
                                          extra["dmax"], extra["warmup"])
                    t.update({f"r{s}": r, f"d{s}": d})
                else:  # noisy: BN (functional, training) then the step's scale and shift
                    scale = torch.exp(0.6 * torch.randn(C, dtype=torch.float64))
                    shift = 0.8 * torch.randn(C, dtype=torch.float64)
                    z = nn.functional.batch_norm(xg, rm, rv, g, b, training=True, momentum=mom,
                                                 eps=EPS)
                    y = z * _chan(scale, x) + _chan(shift, x)
                    t.update({f"scale{s}": scale, f"shift{s}": shift})
                dy = torch.randn_like(y)
                y.backward(dy)
                t.update({f"x{s}": x, f"dy{s}": dy, f"y{s}": y, f"dx{s}": xg.grad})
                if kind == "ghost":
                    t.update({f"rm{s}": bn.running_mean.clone(), f"rv{s}": bn.running_var.clone()})
                    if affine:
                        t.update({f"dgamma{s}": bn.weight.grad.clone(),
                                  f"dbeta{s}": bn.bias.grad.clone()})
                else:
                    t.update({f"rm{s}": rm.clone(), f"rv{s}": rv.clone()})
                    if affine:
                        t.update({f"dgamma{s}": g.grad, f"dbeta{s}": b.grad})
            if kind == "ghost":
                chunks = len(torch.split(torch.empty(N), extra["K"]))
                assert int(bn.num_batches_tracked) == VARIANT_STEPS * chunks
        for k, v in t.items():
            out[f"{name}.{k}"] = v.detach().to(torch.float64)
        table.append(dict(name=name, kind=kind, N=N, C=C, H=H, W=W, dense=dense, affine=affine,
                          momentum=mom, eps=EPS, steps=VARIANT_STEPS, **extra))
    out.update(precise_fixture())
    return out, {"cases": json.dumps(table), "generator": "scripts/make_fixtures.py",
                 "torch": torch.__version__}


PRECISE_CFG = dict(model="mlp", widths=[6, 5], activation="relu", norm="batch", groups=8,
                   eps=1e-5, momentum=0.1, affine=True, placement="before", input=[8, 1, 1],
                   classes=3)


def precise_fixture():
    """PreciseBN's population statistics, computed directly: every BN layer's inputs over all
    batches (batch statistics in the forward, as in training), their mean and unbiased var."""
    torch.manual_seed(99)
    model = build_model(PRECISE_CFG)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.BatchNorm1d):
                m.weight.copy_(1 + 0.3 * torch.randn_like(m.weight))
                m.bias.copy_(0.3 * torch.randn_like(m.bias))
    out = {f"precise.state.{k}": v for k, v in _state_np(model).items()}
    X = torch.randn(5, 16, 8) * 1.5 + 0.5
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, inp, o, i=i: seen.setdefault(i, []).append(inp[0]))
             for i, m in enumerate(model) if isinstance(m, nn.BatchNorm1d)]
    model.train()
    with torch.no_grad():
        for xb in X:
            model(xb)
    for h in hooks:
        h.remove()
    for i, xs in seen.items():
        a = torch.cat(xs).double()
        out[f"precise.pop_mean.{i}"] = a.mean(0)
        out[f"precise.pop_var.{i}"] = a.var(0, unbiased=True)
        model[i].running_mean.copy_(a.mean(0).float())
        model[i].running_var.copy_(a.var(0, unbiased=True).float())
    model.eval()
    x_eval = torch.randn(6, 8) * 1.5 + 0.5
    with torch.no_grad():
        out["precise.logits_eval"] = model(x_eval).double()
    out["precise.x_eval"] = x_eval
    out["precise.X"] = X
    return out

# ---------------------------------------------------------------- b. optimizer trajectories

OPT_RUNS = [
    # name, kind, lr, momentum, nesterov, weight_decay
    ("sgd",          "sgd",      0.1,  0.0, False, 0.0),
    ("sgd_wd",       "sgd",      0.1,  0.0, False, 5e-4),
    ("momentum",     "momentum", 0.05, 0.9, False, 0.0),
    ("nesterov_wd",  "momentum", 0.05, 0.9, True,  1e-4),
    ("adam",         "adam",     1e-3, 0.0, False, 0.0),
    ("adam_wd",      "adam",     1e-3, 0.0, False, 1e-4),
]
MLP_BN = dict(model="mlp", widths=[128, 64], activation="relu", norm="batch", groups=8,
              eps=1e-5, momentum=0.1, affine=True, placement="before", input=[1, 28, 28],
              classes=10)


def _state_np(model):
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def optim_fixtures(outdir):
    torch.manual_seed(2024)
    init_model = build_model(MLP_BN)
    init_state = _state_np(init_model)
    write_safetensors(os.path.join(outdir, "optim_init.safetensors"), init_state,
                      {"config": json.dumps(MLP_BN)})
    X = torch.rand(64, 784, dtype=torch.float32)
    labels = torch.randint(0, 10, (64,), dtype=torch.int64)
    batches = torch.stack([torch.randperm(64)[:32] for _ in range(10)])
    data = {"X": X, "labels": labels, "batches": batches}
    runs = []
    trained = None
    for (name, kind, lr, mom, nest, wd) in OPT_RUNS:
        model = copy.deepcopy(init_model)
        model.train()
        if kind == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                   weight_decay=wd)
        else:
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mom, nesterov=nest,
                                  weight_decay=wd)
        losses = []
        for b in batches:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X[b]), labels[b])
            losses.append(float(loss))
            loss.backward()
            opt.step()
        data[f"{name}.loss"] = np.array(losses, dtype=np.float64)
        for k, v in _state_np(model).items():
            if k not in ("0.weight", "3.weight", "6.weight"):
                data[f"{name}.final.{k}"] = v
        runs.append(dict(name=name, kind=kind, lr=lr, momentum=mom, nesterov=nest,
                         weight_decay=wd, beta1=0.9, beta2=0.999, adam_eps=1e-8))
        if name == "momentum":
            trained = model
    write_safetensors(os.path.join(outdir, "optim_data.safetensors"), data,
                      {"runs": json.dumps(runs), "config": json.dumps(MLP_BN)})
    return trained

# ---------------------------------------------------------------- c. checkpoint interop


def _train_a_little(model, cfg, steps=6, batch=16):
    c, h, w = cfg["input"]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        x = torch.rand(batch, c, h, w) * 2 + 0.3 if cfg["model"] != "mlp" else \
            torch.rand(batch, c * h * w) * 2 + 0.3
        y = torch.randint(0, cfg["classes"], (batch,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def _write_interop(outdir, name, model, cfg, x):
    model.eval()
    with torch.no_grad():
        logits = model(x)
    write_safetensors(os.path.join(outdir, f"interop_{name}.safetensors"), _state_np(model))
    write_safetensors(os.path.join(outdir, f"interop_{name}.io.safetensors"),
                      {"x": x.contiguous(), "logits": logits}, {"config": json.dumps(cfg)})


def interop_fixtures(outdir, trained_mlp):
    torch.manual_seed(77)
    # mlp: the momentum run of (b) after 10 steps; its running stats moved off 0/1.
    x = torch.rand(8, 784) * 1.5
    _write_interop(outdir, "mlp_bn", trained_mlp, MLP_BN, x)
    others = [
        ("cnn_bn", dict(model="cnn", widths=[32], norm="batch", momentum=0.3, input=[1, 12, 12])),
        ("cnnsmall_gn", dict(model="cnn-small", widths=[16, 32], norm="group", groups=4,
                             input=[1, 28, 28])),
        ("cnnsmall_ln", dict(model="cnn-small", widths=[4, 8], norm="layer", input=[2, 8, 8])),
        ("mlp_bn_after", dict(model="mlp", widths=[32, 16], norm="batch", placement="after",
                              activation="tanh", input=[1, 6, 6])),
    ]
    for name, over in others:
        cfg = dict(MLP_BN)
        cfg.update(over)
        model = build_model(cfg)
        _train_a_little(model, cfg)
        c, h, w = cfg["input"]
        x = torch.rand(5, c * h * w) * 2 + 0.3 if cfg["model"] == "mlp" else \
            torch.rand(5, c, h, w) * 2 + 0.3
        _write_interop(outdir, name, model, cfg, x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tensors, meta = norm_fixtures()
    write_safetensors(os.path.join(outdir, "norms.safetensors"), tensors, meta)
    tensors, meta = variant_fixtures()
    write_safetensors(os.path.join(outdir, "variants.safetensors"), tensors, meta)
    trained = optim_fixtures(outdir)
    interop_fixtures(outdir, trained)
    from fixtures_models import model_fixtures, trajectory_fixtures  # cnn-deep and rnn
    model_fixtures(outdir)
    trajectory_fixtures(outdir)
    total = 0
    for f in sorted(os.listdir(outdir)):
        if f.endswith(".safetensors"):
            sz = os.path.getsize(os.path.join(outdir, f))
            total += sz
            print(f"{f:36s} {sz:9d} bytes")
    print(f"{'total':36s} {total:9d} bytes")


if __name__ == "__main__":
    main()
