"""The forest plot of a claims directory: every cell of every claim, its mean
difference with its 95% interval (read from claims.csv, where normlab computed
them), against the claim's margin (dashed; both -m and +m for an equivalence
rule; a positive control on an effect, whose margin is its own, dashed on its
row alone) and zero (grey). One panel per claim, each with its own units, since
claims measure in different units; cells in natural order (steps=250 before
steps=1000). Pages of at most PAGE_ROWS cells: forest.png, forest-2.png, ...
An interval end far outside its panel's scale (a 2-seed interval spanning
decades) is cut at the panel's edge and marked with an open triangle, so it
cannot read as a threshold."""
import glob
import json
import math
import os
import re
import tomllib

import pandas as pd

from .atomic import save_figure
from .load import ReportError

COLORS = {"supported": "#2ca02c", "not supported": "#d62728", "inconclusive": "#7f7f7f", "untestable": "#ff7f0e"}
COLUMNS = ["id", "cell", "n", "mean", "ci_low", "ci_high", "margin", "verdict"]
PAGE_ROWS = 32  # cells per page: about 1000 px tall at 100 dpi
COLUMN_UNITS = {"final_test_acc": "test accuracy", "gap_loss": "test minus train loss",
                "var_err": "relative error of the batch variance", "min_s": "step time",
                "final_val_acc": "validation accuracy",
                "es_test_acc": "test accuracy, early-stopped on validation",
                "es_test_loss": "test loss, early-stopped on validation"}


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


def natural_key(text):
    """'steps=250' < 'steps=1000': runs of digits compare as numbers."""
    return [(0, float(p), "") if re.fullmatch(r"\d+(\.\d+)?", p) else (1, 0.0, p)
            for p in re.split(r"(\d+(?:\.\d+)?)", text) if p]


def claim_rule(claims_dir, cid):
    """The claim's [rule] table from its folder's manifest (the experiment text as run);
    {} when there is none."""
    try:
        with open(os.path.join(claims_dir, cid, "manifest.json")) as f:
            text = json.load(f)["experiment"]["text"]
        return tomllib.loads(text).get("rule", {})
    except (OSError, KeyError, TypeError, ValueError):
        return {}


def row_labels(cells, width=48):
    """A panel's row labels: the cells' names; when one is longer than `width`, every
    name without the key names of its combination ("batch @ column=landscape_beta,
    model=mlp, lr=0.1" -> "batch @ landscape_beta, mlp, 0.1"), so the rows stay alike;
    a name still too long is cut with "..."."""
    def bare(cell):
        if " @ " not in cell:
            return cell
        arm, combo = cell.split(" @ ", 1)
        return arm + " @ " + ", ".join(kv.split("=", 1)[-1] for kv in combo.split(", "))
    if any(len(c) > width for c in cells):
        cells = [bare(c) for c in cells]
    return [c if len(c) <= width else c[:width - 3] + "..." for c in cells]


def units(rule):
    """The axis label of a claim's panel: what one unit of the difference is."""
    metric, col = rule.get("metric", ""), rule.get("column", "")
    if isinstance(col, list):  # one set of cells per column: each cell names its own
        what = "the cell's column"
        if rule.get("relative") == "log":
            return f"ln ratio of {what}"
    else:
        what = COLUMN_UNITS.get(col, col.replace("_", " "))
    if rule.get("relative") == "log":
        return f"ln ratio of {metric.replace('_', ' ')}"
    if rule.get("relative") is True:
        return f"relative difference in {what}"
    if metric == "largest_stable_lr":
        return "log10 of the largest stable lr (decades)"
    if metric == "lr_range":
        return "width of the near-best lr range (decades)"
    if metric == "activation_drift":
        return "percentile drift (distribution widths)"
    if metric == "spread":
        return f"spread of {what} over inits"
    if "contrast" in rule:
        (key, (a, b)), = rule["contrast"].items()
        return f"{what}: change from {key}={b} to {a}"
    return f"difference in {what}" if what else "difference (see the rule)"


def panel_limits(sub, margins):
    """x limits: the means, margins and zero, and the interval ends unless an end lies
    more than 3 spans beyond them (then it is cut and marked)."""
    core = [0.0, *margins, *sub["mean"].dropna()]
    lo, hi = min(core), max(core)
    span = max(hi - lo, 1e-12)
    ends = [v for v in pd.concat([sub["ci_low"], sub["ci_high"]]).dropna() if math.isfinite(v)]
    lo = min([lo] + [v for v in ends if v >= lo - 3 * span])
    hi = max([hi] + [v for v in ends if v <= hi + 3 * span])
    pad = 0.06 * max(hi - lo, 1e-12)
    return lo - pad, hi + pad


def draw_panel(ax, sub, rule, verdict, cid, margin):
    """margin: the rule's (claims.csv's claim row); a positive control on an effect has its own."""
    margins = [-abs(margin), abs(margin)] if rule.get("equivalence") else [margin]
    own = sub["margin"].where(sub["margin"] != margin)
    x0, x1 = panel_limits(sub, margins + sorted(own.dropna().unique()))
    for y, r in sub.iterrows():
        color = COLORS.get(r["verdict"], "#1f77b4")
        lo, hi = r["ci_low"], r["ci_high"]
        if pd.notna(lo) and pd.notna(hi):
            ax.plot([max(lo, x0), min(hi, x1)], [y, y], color=color, lw=2)
            if lo < x0:
                ax.plot([x0], [y], marker="<", mfc="white", color=color, ms=6, clip_on=False)
            if hi > x1:
                ax.plot([x1], [y], marker=">", mfc="white", color=color, ms=6, clip_on=False)
        ax.plot([r["mean"]], [y], "o", color=color, ms=4)
        if pd.notna(own[y]):  # the cell's own margin, on its row only
            ax.plot([own[y], own[y]], [y - 0.4, y + 0.4], color="black", ls="--", lw=0.8)
    for m in margins:
        ax.axvline(m, color="black", ls="--", lw=0.8)
    ax.axvline(0, color="#bbbbbb", lw=0.8)
    ax.set_xlim(x0, x1)
    ax.set_yticks(range(len(sub)))
    ax.set_yticklabels(row_labels(list(sub["cell"])), fontsize=7)
    ax.set_ylim(len(sub) - 0.5, -0.5)
    m_text = f"±{abs(margin):g} (equivalence)" if rule.get("equivalence") else f"{margin:g}"
    v = verdict if len(verdict) <= 60 else verdict[:57] + "..."
    ax.set_title(f"{cid}: {v}   (margin {m_text})", fontsize=8, loc="left")
    ax.set_xlabel(units(rule), fontsize=7, labelpad=1)
    ax.tick_params(axis="x", labelsize=7)


def pages(ids, counts):
    """Claims in order, split into pages of at most PAGE_ROWS cells (a claim is never split)."""
    out, page, rows = [], [], 0
    for cid in ids:
        if page and rows + counts[cid] > PAGE_ROWS:
            out.append(page)
            page, rows = [], 0
        page.append(cid)
        rows += counts[cid]
    return out + [page] if page else out


def legend(fig):
    from matplotlib.lines import Line2D
    h = [Line2D([], [], color=c, lw=2, marker="o", ms=4, label=v) for v, c in COLORS.items()]
    h += [Line2D([], [], color="black", ls="--", lw=0.8, label="margin"),
          Line2D([], [], color="#bbbbbb", lw=0.8, label="zero"),
          Line2D([], [], color="#555555", ls="", marker=">", mfc="white", label="interval runs off the axis")]
    fig.legend(handles=h, loc="upper center", ncol=4, fontsize=7, frameon=False)


def write_forest(claims_dir, out=None):
    """forest.png (and forest-2.png, ... when the cells need more pages) in out (default
    claims_dir); returns the first page's path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    claims, cells = read_cells(claims_dir)
    ids = [i for i in claims["id"] if (cells["id"] == i).any()]
    if not ids:
        raise ReportError(f"{claims_dir}/claims.csv: no cells")
    out = out or claims_dir
    counts = {i: int((cells["id"] == i).sum()) for i in ids}
    figs = []  # every page is drawn before any file changes: a failure leaves the old pages whole
    for page in pages(ids, counts):
        heights = [counts[i] + 1.6 for i in page]
        fig, axes = plt.subplots(len(page), 1, figsize=(9, 0.7 + 0.24 * sum(heights)),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        for ax, cid in zip(axes[:, 0], page):
            sub = cells[cells["id"] == cid].copy()
            sub = sub.iloc[sorted(range(len(sub)), key=lambda j: natural_key(sub["cell"].iloc[j]))]
            row = claims.loc[claims["id"] == cid].iloc[0]
            draw_panel(ax, sub.reset_index(drop=True), claim_rule(claims_dir, cid), row["verdict"], cid,
                       float(row["margin"]))
        legend(fig)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
        figs.append(fig)
    os.makedirs(out, exist_ok=True)
    for old in glob.glob(os.path.join(out, "forest-*.png")):
        os.remove(old)  # pages of an earlier, longer run
    paths = []
    for k, fig in enumerate(figs):
        path = os.path.join(out, "forest.png" if k == 0 else f"forest-{k + 1}.png")
        save_figure(fig, path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths[0]
