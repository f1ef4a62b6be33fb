"""The forest plot of a claims directory: every cell of every claim, its mean
difference with its 95% interval (read from claims.csv, where normlab computed
them), against the claim's margin (dashed) and zero (grey). One panel per claim,
since claims measure in different units."""
import os

import pandas as pd

from .load import ReportError

COLORS = {"supported": "#2ca02c", "not supported": "#d62728", "inconclusive": "#7f7f7f", "untestable": "#ff7f0e"}
COLUMNS = ["id", "cell", "n", "mean", "ci_low", "ci_high", "margin", "verdict"]


def read_cells(claims_dir):
    path = os.path.join(claims_dir, "claims.csv")
    try:
        t = pd.read_csv(path, keep_default_na=False, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ReportError(f"{path}: {e}")
    missing = [c for c in COLUMNS if c not in t.columns]
    if missing:
        raise ReportError(f"{path}: missing columns {', '.join(missing)} (written by an older normlab?)")
    claims = t[t["cell"] == ""]
    cells = t[t["cell"] != ""].copy()
    for c in ["mean", "ci_low", "ci_high", "margin"]:
        cells[c] = pd.to_numeric(cells[c], errors="coerce")
    return claims, cells


def write_forest(claims_dir, out=None):
    """forest.png in out (default claims_dir); returns its path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    claims, cells = read_cells(claims_dir)
    ids = [i for i in claims["id"] if (cells["id"] == i).any()]
    if not ids:
        raise ReportError(f"{claims_dir}/claims.csv: no cells")
    heights = [max(1, int((cells["id"] == i).sum())) for i in ids]
    fig, axes = plt.subplots(len(ids), 1, figsize=(8.5, 0.9 + 0.32 * sum(heights) + 0.45 * len(ids)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, cid in zip(axes[:, 0], ids):
        sub = cells[cells["id"] == cid].reset_index(drop=True)
        verdict = claims.loc[claims["id"] == cid, "verdict"].iloc[0]
        for y, r in sub.iterrows():
            color = COLORS.get(r["verdict"], "#1f77b4")
            lo, hi = r["ci_low"], r["ci_high"]
            if pd.notna(lo) and pd.notna(hi):
                ax.plot([lo, hi], [y, y], color=color, lw=2)
            ax.plot([r["mean"]], [y], "o", color=color, ms=4)
        ax.axvline(sub["margin"].iloc[0], color="black", ls="--", lw=0.8)
        ax.axvline(0, color="#bbbbbb", lw=0.8)
        ax.set_yticks(range(len(sub)))
        ax.set_yticklabels([c if len(c) <= 48 else c[:45] + "..." for c in sub["cell"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{cid}: {verdict if len(verdict) <= 70 else verdict[:67] + '...'}", fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel("mean paired difference (treatment - control) with 95% interval", fontsize=8)
    fig.tight_layout()
    out = out or claims_dir
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "forest.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
