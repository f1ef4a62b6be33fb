#!/usr/bin/python3
"""covariate-shift's main figure from normlab_report.load's DataFrames: the 15th, 50th
and 85th percentiles of a hidden pre-activation over training, no norm vs batch norm,
mean over seeds. Usage: covariate_shift_figure.py CLAIM_DIR OUT.png"""
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import normlab_report  # noqa: E402

claim_dir, out = sys.argv[1], sys.argv[2]
r = normlab_report.load(claim_dir)
acts = r.with_config("activations")
acts = acts[acts.layer == acts.groupby("run_id").layer.transform("max")]  # the last hidden layer
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, norm in zip(axes, ["none", "batch"]):
    mean = acts[acts.norm == norm].groupby("step")[["p15", "p50", "p85"]].mean()
    for q, style in [("p15", ":"), ("p50", "-"), ("p85", "--")]:
        ax.plot(mean.index, mean[q], style, color="C0" if norm == "none" else "C1", label=q)
    ax.set(title=f"norm={norm}", xlabel="training step")
axes[0].set_ylabel("last hidden pre-activation")
axes[0].legend(title="percentile")
fig.tight_layout()
fig.savefig(out, dpi=100)
print(out)
