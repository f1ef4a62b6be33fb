"""Whole-model fixtures for cnn-deep, rnn, resnet and cnn-plain, written by make_fixtures.py (tests/test_torch_models.cpp).

  models.safetensors   per case "<case>.<tensor>", computed by torch in float64; the case table
                       (model config, N, N_eval) is JSON in metadata["cases"].
                         state.<name>      the state_dict the case starts from (random gamma/beta,
                                           biases; weights as torch initializes them)
                         x, dy             train-mode input (N,1,28,28) and output gradient
                         y, dx             logits and input gradient (loss = sum(y*dy))
                         grad.<name>       every parameter's gradient
                         after.<name>      every buffer after that one train forward
                         torch_f32_err     the same pass in torch float32: its max error against
                                           the float64 values, |a - r| / max(1, |r|)
                         x_eval, y_eval    eval-mode logits (BN: the running averages above)
  traj_<m>_init.safetensors   float32 initial state_dict (loadable by normlab's load_checkpoint)
  traj_<m>.safetensors        X (steps*B,1,28,28), labels, per-step train loss before each update
                              ("loss"), the final state ("final.<name>"); metadata: config, optimizer
"""
import copy
import json
import os

import numpy as np
import torch
import torch.nn as nn

from make_fixtures import StepBatchNorm, build_model, write_safetensors, zero_init_residual

BASE = dict(activation="relu", groups=8, eps=1e-5, momentum=0.1, affine=True, placement="before",
            input=[1, 28, 28], classes=10)

MODEL_CASES = [
    # name,          overrides of BASE,                                                  N, N_eval
    ("cnndeep_none", dict(model="cnn-deep", widths=[4, 6, 8], norm="none"),              3, 2),
    ("cnndeep_bn",   dict(model="cnn-deep", widths=[4, 6, 8], norm="batch", momentum=0.3), 3, 2),
    ("cnndeep_ln",   dict(model="cnn-deep", widths=[4, 6, 8], norm="layer"),             3, 2),
    ("cnndeep_gn",   dict(model="cnn-deep", widths=[4, 8, 8, 6], norm="group", groups=2), 3, 2),
    ("rnn_none",     dict(model="rnn", widths=[12], norm="none"),                         4, 3),
    ("rnn_bn",       dict(model="rnn", widths=[12], norm="batch", momentum=0.3),          4, 3),
    ("rnn_ln",       dict(model="rnn", widths=[12], norm="layer"),                        4, 3),
    ("rnn_gn",       dict(model="rnn", widths=[12], norm="group", groups=3),              4, 1),
    # widths 4,8,8: an identity block in stage 1, projections (channels and stride, then stride
    # alone) into stages 2 and 3; depth 2 adds identity blocks after each projection. 12x12
    # inputs (maps 12, 6, 3) keep the file small; resnet_bn runs the real 28x28 (28, 14, 7).
    ("resnet_none",  dict(model="resnet", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="none"),       3, 2),
    ("resnet_bn",    dict(model="resnet", widths=[4, 8, 8], depth=1, norm="batch", momentum=0.3), 3, 2),
    ("resnet_ln",    dict(model="resnet", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="layer"),      3, 2),
    ("resnet_gn",    dict(model="resnet", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="group", groups=2), 3, 2),
    ("resnet_bn_d2", dict(model="resnet", widths=[4, 6, 8], input=[1, 12, 12], depth=2, norm="batch", momentum=0.3), 2, 3),
    ("resnet_gn_d2", dict(model="resnet", widths=[4, 6, 8], input=[1, 12, 12], depth=2, norm="group", groups=2), 2, 1),
    ("cnnplain_none", dict(model="cnn-plain", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="none"),   3, 2),
    ("cnnplain_bn",  dict(model="cnn-plain", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="batch", momentum=0.3), 3, 2),
    ("cnnplain_ln",  dict(model="cnn-plain", widths=[4, 8, 8], input=[1, 12, 12], depth=1, norm="layer"),   3, 2),
    ("cnnplain_gn",  dict(model="cnn-plain", widths=[4, 6, 8], input=[1, 12, 12], depth=2, norm="group", groups=2), 3, 2),
]


def _randomize_norms(model):
    """Norm gamma/beta and every bias off their 1/0 defaults, so a dropped term shows."""
    norms = (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, StepBatchNorm)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, norms):
                if mod.weight is not None:
                    mod.weight.copy_(1.0 + 0.3 * torch.randn_like(mod.weight))
                    mod.bias.copy_(0.3 * torch.randn_like(mod.bias))
            elif isinstance(getattr(mod, "bias", None), nn.Parameter):
                mod.bias.copy_(0.3 * torch.randn_like(mod.bias))


def _train_pass(model, x, dy):
    """One train-mode forward and backward of loss = sum(y*dy): y, dx, grad.*, after.* (buffers)."""
    xg = x.clone().requires_grad_(True)
    model.train()
    y = model(xg)
    y.backward(dy)
    out = dict(y=y.detach(), dx=xg.grad)
    for k, p in model.named_parameters():
        out[f"grad.{k}"] = p.grad
    params = dict(model.named_parameters())
    for k, v in model.state_dict().items():
        if k not in params:
            out[f"after.{k}"] = v.clone()
    return out


def model_fixtures(outdir):
    torch.manual_seed(4321)
    out, table = {}, []
    for name, over, N, Ne in MODEL_CASES:
        cfg = dict(BASE)
        cfg.update(over)
        model = build_model(cfg).double()
        _randomize_norms(model)
        t = {f"state.{k}": v.clone() for k, v in model.state_dict().items()}
        model32 = copy.deepcopy(model).float()
        x = torch.rand(N, *cfg["input"], dtype=torch.float64)
        dy = torch.randn(N, cfg["classes"], dtype=torch.float64)
        t.update(x=x, dy=dy, **_train_pass(model, x, dy))
        # torch's own float32 error on this case: how much rounding its conditioning allows
        ref32 = _train_pass(model32, x.float(), dy.float())
        t["torch_f32_err"] = torch.tensor(max(
            float(((a.double() - t[k]).abs() / t[k].abs().clamp(min=1)).max()) for k, a in ref32.items()),
            dtype=torch.float64)
        model.eval()
        xe = torch.rand(Ne, *cfg["input"], dtype=torch.float64)
        with torch.no_grad():
            t.update(x_eval=xe, y_eval=model(xe))
        for k, v in t.items():
            out[f"{name}.{k}"] = v.detach().to(torch.float64)
        table.append(dict(name=name, config=cfg, N=N, N_eval=Ne))
    write_safetensors(os.path.join(outdir, "models.safetensors"), out,
                      {"cases": json.dumps(table), "generator": "scripts/make_fixtures.py",
                       "torch": torch.__version__})


TRAJECTORIES = [
    # name,          overrides of BASE,                                  optimizer settings
    ("cnndeep_bn", dict(model="cnn-deep", widths=[16, 32, 64], norm="batch"),
     dict(kind="momentum", lr=0.05, momentum=0.9, clip_norm=0.0)),
    ("rnn_ln", dict(model="rnn", widths=[128], norm="layer"),
     dict(kind="momentum", lr=0.05, momentum=0.9, clip_norm=1.0)),
] + [
    # resnet and cnn-plain at depth 1, every norm; resnet without a norm starts from the
    # zero init of each block's last conv (zero-init-residual = auto), as normlab's init.
    # tanh, not relu: over five steps some relu input lands within float32 rounding of 0
    # (1.7e-8 in one case), and which side it falls on moves every later gradient by ~1e-3
    # in torch float32 too; relu itself is checked by the one-pass cases above.
    (f"{m.replace('-', '')}_{short}", dict(model=m, widths=[8, 16, 16], depth=1, norm=norm, groups=4,
                                           activation="tanh"),
     dict(kind="momentum", lr=0.05, momentum=0.9, clip_norm=0.0, batch=8))
    for m in ("resnet", "cnn-plain")
    for short, norm in (("none", "none"), ("bn", "batch"), ("ln", "layer"), ("gn", "group"))
]
TRAJ_STEPS, TRAJ_BATCH = 5, 16


def trajectory_fixtures(outdir):
    torch.manual_seed(99)
    for name, over, opt_cfg in TRAJECTORIES:
        cfg = dict(BASE)
        cfg.update(over)
        model = build_model(cfg)
        if cfg["model"] == "resnet" and cfg["norm"] == "none":
            zero_init_residual(model)
        batch = opt_cfg.get("batch", TRAJ_BATCH)
        init = {k: v.detach().clone().numpy() for k, v in model.state_dict().items()}
        write_safetensors(os.path.join(outdir, f"traj_{name}_init.safetensors"), init,
                          {"config": json.dumps(cfg)})
        X = torch.rand(TRAJ_STEPS * batch, 1, 28, 28)
        labels = torch.randint(0, cfg["classes"], (TRAJ_STEPS * batch,))
        opt = torch.optim.SGD(model.parameters(), lr=opt_cfg["lr"], momentum=opt_cfg["momentum"])
        model.train()
        losses = []
        for s in range(TRAJ_STEPS):
            b = slice(s * batch, (s + 1) * batch)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(X[b]), labels[b])
            losses.append(float(loss))
            loss.backward()
            if opt_cfg["clip_norm"] > 0:
                nn.utils.clip_grad_norm_(model.parameters(), opt_cfg["clip_norm"])
            opt.step()
        data = {"X": X, "labels": labels, "loss": np.array(losses, dtype=np.float64)}
        for k, v in copy.deepcopy(model.state_dict()).items():
            data[f"final.{k}"] = v.numpy()
        write_safetensors(os.path.join(outdir, f"traj_{name}.safetensors"), data,
                          {"config": json.dumps(cfg), "optimizer": json.dumps(opt_cfg),
                           "batch": str(batch)})
