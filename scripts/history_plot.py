#!/usr/bin/env python3
"""Draws one PNG per history series, over commits, with its change points marked.

Usage: history_plot.py DIR
DIR holds series.csv (series, kind, index, commit, date, value, png: the
series' file name) and steps.csv
(series, commit, size, confidence, regression), written by `normlab history show
--plots DIR`. Every number is read from those files; none is computed here.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from normlab_report.atomic import save_figure  # noqa: E402


def plot(name: str, pts: pd.DataFrame, steps: pd.DataFrame, out: Path) -> None:
    speed = pts["kind"].iloc[0] == "speed"
    y = pts["value"] * (1e3 if speed else 1)
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(pts) + 2), 3.2))
    ax.plot(pts["index"], y, marker="o", ms=3, lw=1)
    for _, st in steps.iterrows():
        idx = pts.index[pts["commit"] == st["commit"]]
        if len(idx):
            x = pts.loc[idx[0], "index"] - 0.5
            label = f"{st['commit'][:8]} {100 * st['size']:+.1f}%" if speed else f"{st['commit'][:8]} {st['size']:+.3g}"
            ax.axvline(x, color="red" if st["regression"] else "gray", ls="--", lw=1)
            ax.annotate(label, (x, ax.get_ylim()[1]), fontsize=7, rotation=90, va="top", ha="right")
    ax.set_xticks(list(pts["index"]))
    ax.set_xticklabels([c[:7] for c in pts["commit"]], rotation=90, fontsize=6)
    ax.set_ylabel("median time (ms)" if speed else "cell mean")
    ax.set_title(name, fontsize=8)
    fig.tight_layout()
    save_figure(fig, str(out / pts["png"].iloc[0]), dpi=110)
    plt.close(fig)


def main() -> int:
    out = Path(sys.argv[1])
    pts = pd.read_csv(out / "series.csv", dtype={"commit": str})
    steps = pd.read_csv(out / "steps.csv", dtype={"commit": str})
    for name, g in pts.groupby("series", sort=False):
        plot(name, g.reset_index(drop=True), steps[steps["series"] == name], out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
