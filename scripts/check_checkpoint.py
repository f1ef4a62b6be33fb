#!/usr/bin/python3
"""normlab -> PyTorch checkpoint check.

Usage: /usr/bin/python3 scripts/check_checkpoint.py [--remove] DIR

For every DIR/<m>.io.safetensors (x, normlab's eval-mode logits, metadata["config"] the model
config as JSON) written by the doctest case "torch interop: export normlab checkpoints", builds
the equivalent torch nn.Sequential, load_state_dict(strict=True)s DIR/<m>.safetensors (written
by normlab's save_checkpoint) and compares torch's eval-mode logits with normlab's:
max |a - r| <= 1e-5. Exits 0 if every model matches, 1 otherwise (or if DIR has no models).
--remove deletes the checked files afterwards (ctest uses it, so a later run whose export
step wrote nothing fails on an empty DIR instead of passing on stale files).
"""
import json
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import build_model, read_safetensors  # noqa: E402

TOL = 1e-5


def check(dirname, name):
    io, meta = read_safetensors(os.path.join(dirname, name + ".io.safetensors"))
    cfg = json.loads(meta["config"])
    model = build_model(cfg)
    tensors, _ = read_safetensors(os.path.join(dirname, name + ".safetensors"))
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    expected = model.state_dict()
    for k, v in state.items():
        if k in expected and v.dtype != expected[k].dtype:
            raise ValueError(f"{k}: dtype {v.dtype}, torch expects {expected[k].dtype}")
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.from_numpy(io["x"])
    if cfg["model"] != "mlp":
        x = x.reshape(x.shape[0], *cfg["input"])
    with torch.no_grad():
        logits = model(x).numpy()
    err = float(np.max(np.abs(logits.astype(np.float64) - io["logits"].astype(np.float64))))
    return err


def main():
    args = sys.argv[1:]
    remove = "--remove" in args
    args = [a for a in args if a != "--remove"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    dirname = args[0]
    names = sorted(f[:-len(".io.safetensors")] for f in os.listdir(dirname)
                   if f.endswith(".io.safetensors")) if os.path.isdir(dirname) else []
    if not names:
        print(f"check_checkpoint: no *.io.safetensors in {dirname}", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    failed = 0
    for name in names:
        try:
            err = check(dirname, name)
            ok = err <= TOL
            print(f"{name:16s} max |logit error| {err:.3g} (tol {TOL}) {'ok' if ok else 'FAIL'}")
        except Exception as e:  # a strict load that fails is a failed check
            ok = False
            print(f"{name:16s} FAIL: {e}")
        failed += not ok
        if remove:
            for suffix in (".io.safetensors", ".safetensors"):
                path = os.path.join(dirname, name + suffix)
                if os.path.exists(path):
                    os.remove(path)
    print(f"{len(names) - failed}/{len(names)} normlab checkpoints load into PyTorch and match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
