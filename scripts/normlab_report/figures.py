"""The matplotlib figures of a report, one PNG each, drawn from the data in stats."""
import math
import os
import textwrap

import numpy as np
import pandas as pd

from .atomic import save_figure
from .conventions import (EVAL_STATS_COLORS, EVAL_STATS_LABELS, EXTRA_COLORS, LINE_STYLES,
                          NORM_COLORS, group_label, norm_color, norm_label, setting_label,
                          sort_values)
from .stats import (FAIL_ACC, NEFF_BATCH, best_of_others, comparison_panels, curve_split, curves_for,
                    mean_std, ordered_groups, panel_runs, step_time_repeats)

FIGURES = ["learning-curves.png", "convergence.png", "stability.png", "failure_rate.png",
           "batch-size.png", "init.png", "activations.png", "batchstats.png",
           "batchstat_slopes.png", "eval_stats.png", "step_time.png"]

FEW_POINTS = 5  # a curve with this many points or fewer is drawn with markers

plt = None  # matplotlib.pyplot, imported (headless) once the inputs have been checked


def load_pyplot():
    global plt
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    plt = matplotlib.pyplot


def start_figures(out):
    """Prepare `out`: pyplot loaded, no stale figure from an earlier report of another sweep."""
    load_pyplot()
    os.makedirs(out, exist_ok=True)
    for f in FIGURES:
        p = os.path.join(out, f)
        if os.path.exists(p):
            os.remove(p)


def finish(fig, path):
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def bottom_legend(fig, handles, labels, ncol=None, title=None):
    fig.legend(handles, labels, loc="lower center", ncol=ncol or min(len(labels), 4),
               frameon=False, title=title, bbox_to_anchor=(0.5, 0.0))


def jitter(n, width=0.18, seed=0):
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-width, width, n)


def log_y_ticks(ax, lo, hi):
    """Readable ticks on a log y axis that may span less than a decade."""
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1,
                                          math.ceil(math.log10(hi)) + 1) for m in (1, 2, 3, 5)]
    ticks = [x for x in ticks if lo / 1.05 <= x <= hi * 1.05]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{x:g}" for x in ticks])
    ax.minorticks_off()


def log2_batch_axis(ax, values, label):
    ax.set_xscale("log", base=2)
    ax.set_xticks(values)
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.minorticks_off()
    ax.set_xlabel(label)


# ---------------------------------------------------------------------------------------------
# Learning curves and convergence: each norm at its best setting, all at the shared one

def fig_learning_curves(sw, out):
    """Returns the panels drawn, as stats.comparison_panels."""
    panels = comparison_panels(sw)
    fig, axes = plt.subplots(len(panels), 2, figsize=(11, 3.9 * len(panels) + 0.9),
                             squeeze=False)
    handles, labels = {}, {}
    log_loss = False
    for ri, (kind, shared) in enumerate(panels):
        title = ("each norm at its best setting" if kind == "best" else
                 f"all norms at the shared setting {setting_label(sw.others, shared)}")
        # Once one row's loss spans enough for a log axis, later rows get one too.
        log_loss = draw_curve_row(sw, axes[ri], ri, kind, shared, handles, labels) or log_loss
        val = curve_split(sw) == "val"
        for ax, what in zip(axes[ri], ["Validation accuracy", "Validation loss"] if val else
                            ["Test accuracy", "Training loss"]):
            ax.set_title(textwrap.fill(f"{what} — {title}", 62, break_on_hyphens=False),
                         fontsize=10)
        axes[ri][0].set_ylabel(f"{'validation' if val else 'test'} accuracy (fraction correct)")
        axes[ri][1].set_ylabel(f"{'validation' if val else 'training'} loss (cross-entropy, eval mode)")
        for ax in axes[ri]:
            ax.set_xlabel("training step (updates)")
            ax.grid(alpha=0.3)
        if log_loss:
            axes[ri][1].set_yscale("log")
    # Legend: per-norm labels of the first row carry the best settings.
    hs = [handles[n] for n in sw.norms if n in handles]
    ls = [labels[(0, n)] for n in sw.norms if n in handles]
    long = any(len(x) > 22 for x in ls)
    bottom_legend(fig, hs, ls, ncol=2 if long else min(len(ls), 4))
    nrow_leg = math.ceil(len(ls) / (2 if long else 4))
    fig.suptitle(f"Learning curves: mean over seeds, band = ±1 std ({sw.name})", fontsize=11)
    leg_h = (0.012 + 0.028 * nrow_leg) * 8.7 / fig.get_figheight()
    fig.tight_layout(rect=(0, leg_h, 1, 0.97))
    finish(fig, os.path.join(out, "learning-curves.png"))
    return panels


def draw_curve_row(sw, axes, ri, kind, shared, handles, labels):
    """Test accuracy and training loss curves of one panel row (validation accuracy and loss
    when test was evaluated only at the ends: curve_split); fills handles (first row) and
    labels. Returns whether a loss curve spans enough for a log axis."""
    log_loss = False
    for _, n, setting, runs in panel_runs(sw, kind, shared):
        runs = runs[~runs["errored"]]
        lab = norm_label(n)
        if kind == "best" and sw.others:
            lab += f" ({setting_label(sw.others, setting)})"
        acc_split = curve_split(sw)
        loss_split = "val" if acc_split == "val" else "train"
        for ci, (split, col) in enumerate([(acc_split, "accuracy"), (loss_split, "loss")]):
            c = curves_for(sw, runs, split, col)
            if c is None:
                continue
            ax = axes[ci]
            color = norm_color(n)
            # Few evaluation points: markers, so a straight segment is not read as data.
            (h,) = ax.plot(c.index, c["mean"], color=color, lw=1.8,
                           marker="o" if len(c) <= FEW_POINTS else None, ms=5)
            ax.fill_between(c.index, c["mean"] - c["std"], c["mean"] + c["std"],
                            color=color, alpha=0.18, lw=0)
            if col == "loss" and c["mean"].max() > 20 * max(c["mean"].min(), 1e-9):
                log_loss = True
            if ri == 0:
                handles.setdefault(n, h)
            labels.setdefault((ri, n), lab)
    return log_loss


def fig_convergence(sw, out):
    panels = [(kind, shared, panel_runs(sw, kind, shared))
              for kind, shared in comparison_panels(sw)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.9), squeeze=False)
    # One y scale for both panels, from the runs they show.
    shown = [runs["tt_steps"] for _, _, columns in panels for _, _, _, runs in columns]
    shown = pd.concat(shown) if shown else pd.Series(dtype=float)
    ymax = float(shown.max()) if shown.notna().any() else 1.0
    any_missed = bool(shown.isna().any())
    for ax, (kind, shared, columns) in zip(axes[0], panels):
        title = ("each norm at its best setting" if kind == "best" else
                 f"shared setting: {setting_label(sw.others, shared)}")
        draw_convergence_panel(ax, len(sw.norms), columns, ymax, any_missed)
        ax.set_title(textwrap.fill(title, 55, break_on_hyphens=False), fontsize=10)
    tgt = f"{sw.target:.3f}" if sw.target is not None else "per run"
    fig.suptitle(f"Convergence speed: steps to {'validation' if curve_split(sw) == 'val' else 'test'} "
                 f"accuracy ≥ {tgt} "
                 "(dots = seeds, bar = mean of those reached)", fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    finish(fig, os.path.join(out, "convergence.png"))


def draw_convergence_panel(ax, n_norms, columns, ymax, any_missed):
    """Steps to target per seed (x above ymax: not reached) and their mean, per norm."""
    ticks = []
    for xi, n, _, runs in columns:
        runs = runs[~runs["errored"]]
        steps = runs["tt_steps"].values
        reached = ~np.isnan(steps)
        color = norm_color(n)
        xs = xi + jitter(len(steps))
        ax.scatter(xs[reached], steps[reached], color=color, s=36, zorder=3,
                   edgecolor="white", lw=0.6)
        if (~reached).any():
            ax.scatter(xs[~reached], np.full((~reached).sum(), ymax * 1.12), marker="x",
                       color=color, s=40, zorder=3)
        if reached.any():
            m = np.mean(steps[reached])
            ax.hlines(m, xi - 0.3, xi + 0.3, color=color, lw=2.2, zorder=2)
        ax.annotate(f"reached {reached.sum()}/{len(steps)}", (xi, 0), xytext=(0, -30),
                    textcoords="offset points", xycoords=("data", "axes fraction"),
                    ha="center", fontsize=8, color="#333333")
        ticks.append((xi, norm_label(n)))
    ax.set_xticks([t[0] for t in ticks])
    ax.set_xticklabels([t[1] for t in ticks])
    ax.set_xlim(-0.6, n_norms - 0.4)
    ax.set_ylim(0, ymax * (1.22 if any_missed else 1.1))
    if any_missed:
        ax.axhline(ymax * 1.12, color="#999999", lw=0.6, ls=":")
        ax.text(-0.55, ymax * 1.12, "× = not reached", ha="left", va="bottom",
                fontsize=7.5, color="#666666")
    ax.set_ylabel("steps to target accuracy (updates)")
    ax.set_xlabel("normalization", labelpad=18)
    ax.grid(axis="y", alpha=0.3)


# ---------------------------------------------------------------------------------------------
# Stability, batch size, initialization

def fig_stability(sw, grid, out):
    """grid: stats.stability_grid(sw)."""
    lrs, acc, div, col, cnt = grid
    norms = sw.norms
    w = max(6.0, 1.05 * len(lrs) + 2.6)
    fig, ax = plt.subplots(figsize=(w, 1.0 * len(norms) + 2.2))
    im = ax.imshow(acc, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    draw_stability_cells(ax, acc, div, col, cnt)
    ax.set_xticks(range(len(lrs)))
    ax.set_xticklabels(lrs)
    ax.set_yticks(range(len(norms)))
    ax.set_yticklabels([norm_label(n) for n in norms])
    for t, n in zip(ax.get_yticklabels(), norms):
        t.set_color(norm_color(n))
    ax.set_xlabel("learning rate (log-spaced grid)")
    ax.set_ylabel("normalization")
    rest = [k for k in sw.others if k != "lr"]
    sub = "mean over seeds" + (f" and {', '.join(rest)}" if rest else "")
    ax.set_title(f"Stability: final test accuracy per lr × norm ({sub})\n"
                 "red frame = some runs diverged/collapsed (thicker = more), "
                 "hatched = all diverged", fontsize=9.5)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("final test accuracy")
    fig.tight_layout()
    finish(fig, os.path.join(out, "stability.png"))


def draw_stability_cells(ax, acc, div, col, cnt):
    """Accuracy and failure counts in each cell, a red frame where runs failed."""
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            if np.isnan(acc[i, j]):
                ax.text(j, i, "not run", ha="center", va="center", fontsize=8, color="#999999")
                continue
            lines = [f"{acc[i, j]:.2f}"]
            if div[i, j]:
                lines.append(f"div {int(div[i, j])}/{int(cnt[i, j])}")
            if col[i, j]:
                lines.append(f"coll {int(col[i, j])}/{int(cnt[i, j])}")
            color = "white" if acc[i, j] < 0.6 else "black"
            ax.text(j, i, "\n".join(lines), ha="center", va="center", fontsize=8, color=color,
                    fontweight="bold" if div[i, j] else "normal")
            if div[i, j] or col[i, j]:
                frac = (div[i, j] + col[i, j]) / cnt[i, j]
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                           edgecolor="#e8291c", lw=1.5 + 2 * frac,
                                           hatch="///" if div[i, j] == cnt[i, j] else None))


def draw_half_interval(ax, g, lo, hi, color, cens, xlim):
    """The lr at which half the seeds fail, at y = 1/2, with its interval cut to XLIM; a cut
    end gets an open triangle at the edge. Returns whether an end was cut."""
    x0, x1 = xlim
    cut = False
    if math.isnan(lo):
        ax.plot([g], [0.5], color=color, marker="D", ms=6, mfc="white" if cens else color, zorder=4)
        return False
    a, b = max(lo, x0), min(hi, x1)
    ax.plot([a, b], [0.5, 0.5], color=color, lw=2.2, zorder=4)
    for end, edge, mk in ((lo, x0, "<"), (hi, x1, ">")):
        if (end < edge) if mk == "<" else (end > edge):
            ax.plot([edge], [0.5], marker=mk, ms=8, mfc="white", color=color, zorder=5, clip_on=False)
            cut = True
        else:
            ax.plot([end], [0.5], marker="|", ms=8, color=color, zorder=4)
    if x0 <= g <= x1:
        ax.plot([g], [0.5], color=color, marker="D", ms=6, mfc="white" if cens else color, zorder=5)
    return cut


def fig_failure_rate(sw, data, out):
    """data: stats.lr_failure_data. A panel per model x optimizer (where they vary), a line
    per norm (and further keys): the failure rate k/n against lr; at rate 1/2 the lr at
    which half the seeds fail with its 95% interval."""
    pk, lk = data["panel_keys"], data["line_keys"]
    panels = list(dict.fromkeys(pv for pv, *_ in data["rows"]))
    ncol = min(len(panels), 3)
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.0 * ncol + 0.4, 3.9 * nrow + 1.1),
                             squeeze=False, sharey=True)
    lines = list(dict.fromkeys(lv for _, lv, *_ in data["rows"]))
    rest = [tuple(v for k, v in zip(lk, lv) if k != "norm") for lv in lines]
    rest_order = list(dict.fromkeys(rest))
    handles, labels = {}, {}
    lrs = data["lrs"]
    clipped = False
    for pi, pv in enumerate(panels):
        ax = axes[pi // ncol][pi % ncol]
        rows = [x for x in data["rows"] if x[0] == pv]
        for k, (_, lv, rates, seeds, half) in enumerate(rows):
            d = dict(zip(lk, lv))
            color = norm_color(d["norm"]) if "norm" in d else EXTRA_COLORS[k % 6]
            ls, marker = LINE_STYLES[rest_order.index(rest[lines.index(lv)]) % len(LINE_STYLES)]
            xs = sorted(rates)
            off = 1 + 0.03 * (lines.index(lv) - (len(lines) - 1) / 2)  # dodge coincident lines
            ys = [rates[x][0] / rates[x][1] for x in xs]
            (h,) = ax.plot(np.array(xs) * off, ys, color=color, ls=ls, marker=marker, lw=1.6,
                           ms=5)
            g, lo, hi, n, cens = half
            if n and not cens == n:
                clipped |= draw_half_interval(ax, g, lo, hi, color, cens, (lrs[0] / 2, lrs[-1] * 2))
            labels.setdefault(lv, ", ".join(norm_label(v) if k2 == "norm" else f"{k2}={v}"
                                            for k2, v in zip(lk, lv)) or "runs")
            handles.setdefault(lv, h)
        ax.axhline(0.5, color="#999999", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlim(lrs[0] / 2, lrs[-1] * 2)  # an interval wider than the grid is cut and marked
        ax.set_xticks(lrs)
        ax.set_xticklabels([f"{x:g}" for x in lrs], rotation=45 if len(lrs) > 6 else 0)
        ax.minorticks_off()
        ax.set_ylim(-0.04, 1.04)
        ax.set_xlabel("learning rate (log axis)")
        if pi % ncol == 0:
            ax.set_ylabel("failure rate (failed / runs)")
        fixed = [f"{k}={sw.runs[k].iloc[0]}" for k in ("model", "optimizer")
                 if k in sw.runs and k not in pk]
        ax.set_title(", ".join([f"{k}={v}" for k, v in zip(pk, pv)] + fixed) or sw.name,
                     fontsize=10)
        ax.grid(alpha=0.3)
    for pi in range(len(panels), nrow * ncol):
        axes[pi // ncol][pi % ncol].set_visible(False)
    title = [f"Failure rate against learning rate (fail: diverged, a failure, or accuracy < {FAIL_ACC:g})",
             "◆ = lr at which half the seeds fail (geometric mean over seeds, 95% t interval; "
             "hollow: some seeds censored)"]
    if clipped:
        title.append("◁ ▷ = the interval runs off the axis (too few seeds to bound it)")
    # Wrapped to the figure's width, so a one-panel figure does not cut its title.
    text = "\n".join(textwrap.fill(t, int(fig.get_figwidth() * 13)) for t in title)
    fig.suptitle(text, fontsize=10)
    bottom_legend(fig, [handles[lv] for lv in lines], [labels[lv] for lv in lines],
                  ncol=min(len(lines), 4))
    nrow_leg = math.ceil(len(lines) / 4)
    # tight_layout makes room for the suptitle itself, however many lines it has.
    fig.tight_layout(rect=(0, (0.3 + 0.25 * nrow_leg) / fig.get_figheight(), 1, 1))
    finish(fig, os.path.join(out, "failure_rate.png"))


def fig_batch_size(sw, out):
    """Returns the other varying keys each point is at its best of."""
    bss = sort_values(sw.runs["batch-size"], "batch-size")
    data = best_of_others(sw, "batch-size")
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    for k, n in enumerate(sw.norms):
        xs, ms, ss = [], [], []
        for v in bss:
            if (n, v) in data:
                m, s, _ = mean_std(data[(n, v)][1]["final_test_acc"])
                xs.append(float(v))
                ms.append(m)
                ss.append(0 if math.isnan(s) else s)
        if not xs:
            continue
        off = 1 + 0.025 * (k - (len(sw.norms) - 1) / 2)  # small dodge so error bars show
        ax.errorbar(np.array(xs) * off, ms, yerr=ss, color=norm_color(n), marker="o", lw=1.6,
                    capsize=3, label=norm_label(n))
    ax.set_xscale("log", base=2)
    ax.set_xticks([float(v) for v in bss])
    ax.set_xticklabels(bss)
    ax.minorticks_off()
    ax.set_xlabel("batch size (samples, log₂ axis)")
    ax.set_ylabel("final test accuracy (mean ± std over seeds)")
    rest = [k for k in sw.others if k != "batch-size"]
    extra = f"\neach point at its best {', '.join(rest)}" if rest else ""
    ax.set_title(f"Final test accuracy vs batch size{extra}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="norm")
    fig.tight_layout()
    finish(fig, os.path.join(out, "batch-size.png"))
    return rest


def fig_init(sw, out):
    """Returns the other varying keys each bar is at its best of."""
    inits = sort_values(sw.runs["init"], "init")
    data = best_of_others(sw, "init")
    norms = sw.norms
    width = 0.8 / len(norms)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(inits) * max(1, len(norms) / 2) + 2),
                                    5.0))
    for k, n in enumerate(norms):
        for i, v in enumerate(inits):
            if (n, v) not in data:
                continue
            acc = data[(n, v)][1]["final_test_acc"].values
            m, s, _ = mean_std(acc)
            x = i + (k - (len(norms) - 1) / 2) * width
            ax.bar(x, m, width * 0.9, yerr=0 if math.isnan(s) else s, color=norm_color(n),
                   alpha=0.85, capsize=2, label=norm_label(n) if i == 0 else None)
            ax.scatter(x + jitter(len(acc), width * 0.25), acc, color="black", s=8, zorder=3)
    ax.set_xticks(range(len(inits)))
    ax.set_xticklabels(inits, rotation=20 if max(len(s) for s in inits) > 10 else 0,
                       ha="right" if max(len(s) for s in inits) > 10 else "center")
    ax.set_xlabel("initialization scheme")
    ax.set_ylabel("final test accuracy (bar = mean, dots = seeds)")
    ax.set_ylim(0, 1.0)
    rest = [k for k in sw.others if k != "init"]
    extra = f"\neach bar at its best {', '.join(rest)}" if rest else ""
    ax.set_title(f"Final test accuracy per initialization × norm{extra}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="norm")
    fig.tight_layout()
    finish(fig, os.path.join(out, "init.png"))
    return rest


# ---------------------------------------------------------------------------------------------
# Claim measurements: activations, batch statistics, evaluation modes, step time

def fig_activations(percentiles, label, out):
    """percentiles: the list of stats.activation_percentiles; label: the setting shown."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, (n, runs, layer, kind, g) in zip(axes, percentiles):
        if g is None:
            ax.text(0.5, 0.5, "no activation rows", ha="center", transform=ax.transAxes)
            continue
        color = norm_color(n)
        ax.fill_between(g.index, g["p15"], g["p85"], color=color, alpha=0.12, lw=0)
        mk = "o" if len(g) <= FEW_POINTS else None
        ax.plot(g.index, g["p85"], color=color, lw=1.2, ls="--", marker=mk, label="85th percentile")
        ax.plot(g.index, g["p50"], color=color, lw=2.0, marker=mk, label="50th percentile (median)")
        ax.plot(g.index, g["p15"], color=color, lw=1.2, ls=":", marker=mk, label="15th percentile")
        ax.set_title(f"{norm_label(n)}: layer {layer} ({kind} output), "
                     f"{len(runs)} seed{'s' if len(runs) != 1 else ''}", fontsize=10)
        ax.set_xlabel("training step (updates)")
        ax.set_ylabel("pre-activation value (input to the nonlinearity)")
        ax.grid(alpha=0.3)
    fig.suptitle("Hidden pre-activation percentiles over training (Ioffe & Szegedy 2015, "
                 f"Fig. 1(b,c) style)\nlast hidden layer, fixed probe batch, mean over seeds; "
                 f"{label}", fontsize=10)
    styles = [plt.Line2D([], [], color="black", lw=1.2, ls="--"),
              plt.Line2D([], [], color="black", lw=2.0),
              plt.Line2D([], [], color="black", lw=1.2, ls=":")]
    bottom_legend(fig, styles, ["85th percentile", "50th percentile (median)",
                                "15th percentile"], ncol=3)
    fig.tight_layout(rect=(0, 0.07, 1, 0.92))
    finish(fig, os.path.join(out, "activations.png"))


def fig_batchstats(keys, j, batches, out):
    """keys, j: stats.batchstats_joined; batches: the batch sizes in j, sorted."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0))
    handles, labels = draw_batchstats_lines(axes, keys, j)
    b = np.geomspace(min(batches), max(batches), 100)
    refs = [(1 / np.sqrt(b), "iid Gaussian: 1/√B"), (np.sqrt(2 * b - 1) / b,
                                                      "iid Gaussian: √(2B−1)/B")]
    titles = ["Batch mean: RMS error / population std",
              "Batch variance: RMS error / population variance"]
    for ax, (ref, ref_label), title in zip(axes, refs, titles):
        ax.plot(b, ref, color="black", ls="--", lw=1.2, label=ref_label, zorder=4)
        ax.set_yscale("log")
        log2_batch_axis(ax, batches, "batch size B (samples, log₂ axis)")
        lo, hi = ax.get_ylim()
        log_y_ticks(ax, lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_ylabel("RMS relative error (log axis)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="upper right", frameon=False, fontsize=9)
    n_seeds = j.groupby(keys + ["layer", "batch"])["run_id"].nunique()
    seeds = f"{n_seeds.min()}" if n_seeds.min() == n_seeds.max() else \
        f"{n_seeds.min()}–{n_seeds.max()}"
    fig.suptitle("Error of batch statistics against the whole training split, per "
                 f"batch-norm layer input (mean over {seeds} seeds)", fontsize=10.5)
    long = any(len(x) > 22 for x in labels)
    ncol = min(len(labels), 3 if long else 5)
    bottom_legend(fig, handles, labels, ncol=ncol, title="model, layer (index in the model)")
    nrow_leg = math.ceil(len(labels) / ncol)
    fig.tight_layout(rect=(0, (0.05 + 0.035 * nrow_leg) * 5.0 / fig.get_figheight(), 1, 0.97))
    finish(fig, os.path.join(out, "batchstats.png"))


def draw_batchstats_lines(axes, keys, j):
    """A line per model and layer (mean over seeds) on the mean and variance panels: a
    colour per line, a line style per model. Returns the legend handles and labels."""
    lines = ordered_groups(j, keys + ["layer"])
    colors = [NORM_COLORS["batch"]] + EXTRA_COLORS + ["#7f7f7f", "#aec7e8", "#ffbb78"]
    models = list(dict.fromkeys(v[:-1] for v, _ in lines))
    handles, labels = [], []
    for i, (values, g) in enumerate(lines):
        ls, marker = LINE_STYLES[models.index(values[:-1]) % len(LINE_STYLES)]
        m = g.groupby("batch")[["mean_err", "var_err"]].mean()
        color = colors[i % len(colors)]
        for ax, col in zip(axes, ["mean_err", "var_err"]):
            (h,) = ax.plot(m.index, m[col], color=color, ls=ls, marker=marker, ms=4.5, lw=1.5,
                           alpha=0.85)
        name = group_label(keys, values[:-1])
        labels.append((f"{name}, " if name else "") + f"layer {int(values[-1])}")
        handles.append(h)
    return handles, labels


def fig_batchstat_slopes(keys, rows, out):
    """rows: stats.batchstat_slope_rows. Per model and layer, the per-seed slopes of
    log(err) against log(B) (dots) and their mean with its 95% t interval, for the mean and
    variance errors; the iid reference slopes dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(max(8.0, 1.1 * len(rows) + 5.5), 4.8),
                             squeeze=False)
    names = [(group_label(keys, vals) + ", " if group_label(keys, vals) else "")
             + f"layer {layer}" for vals, layer, *_ in rows]
    titles = ["Batch mean error: slope of log(err) on log(B)",
              "Batch variance error: slope of log(err) on log(B)"]
    for ax, col, ci_i, title in zip(axes[0], ["slope_mean_err", "slope_var_err"], [3, 4],
                                    titles):
        for x, row in enumerate(rows):
            g, ci = row[2], row[ci_i]
            vals = g[col].dropna().values
            ax.scatter(x + jitter(len(vals), 0.12), vals, color="#888888", s=14, zorder=3)
            m, lo, hi, n = ci
            if n:
                err = None if math.isnan(lo) else [[m - lo], [hi - m]]
                ax.errorbar([x + 0.25], [m], yerr=err, color=NORM_COLORS["batch"],
                            marker="o", ms=6, capsize=4, lw=1.8, zorder=4)
            if col == "slope_var_err" and not math.isnan(row[5]):
                ax.hlines(row[5], x - 0.35, x + 0.4, color="black", ls="--", lw=1.0)
        if col == "slope_mean_err":
            ax.axhline(-0.5, color="black", ls="--", lw=1.0, label="iid: −1/2")
            lo, hi = ax.get_ylim()
            pad = 0.08 * max(hi - lo, 0.01)
            ax.set_ylim(min(lo, -0.5 - pad), max(hi, -0.5 + pad))
        else:
            ax.plot([], [], color="black", ls="--", lw=1.0,
                    label="iid Gaussian √(2B−1)/B fitted on the same B")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(names, rotation=30 if len(rows) > 3 else 0,
                           ha="right" if len(rows) > 3 else "center", fontsize=8.5)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylabel("slope (grey: seeds; blue: mean, 95% t interval)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="best", frameon=False, fontsize=8.5)
    fig.suptitle("Batch-statistic error against batch size: least-squares slope on log-log "
                 f"axes per seed (n_eff at B={NEFF_BATCH} in the table)", fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    finish(fig, os.path.join(out, "batchstat_slopes.png"))


def fig_eval_stats(data, out):
    """data: stats.eval_stats_data."""
    keys, modes, batches, groups = data
    fig, ax = plt.subplots(figsize=(8.6, 5.0))
    for gi, (values, g) in enumerate(groups):
        ls, marker = LINE_STYLES[gi % len(LINE_STYLES)]
        name = group_label(keys, values)
        for k, mode in enumerate(modes):
            s = g[g["eval-stats"] == mode].groupby("eval_batch_n")["final_test_acc"]
            if s.ngroups == 0:
                continue
            color = EVAL_STATS_COLORS.get(mode, EXTRA_COLORS[(k + 1) % len(EXTRA_COLORS)])
            mlabel = EVAL_STATS_LABELS.get(mode, mode)
            ax.plot(s.mean().index, s.mean(), color=color, ls=ls, marker=marker, lw=1.6,
                    label=(f"{name}: " if name else "") + mlabel)
            ax.fill_between(s.min().index, s.min(), s.max(), color=color, alpha=0.15, lw=0)
    log2_batch_axis(ax, batches, "evaluation batch size (eval-batch, log₂ axis)")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("final test accuracy (line = mean, band = min–max over seeds)")
    ax.set_title("Test accuracy by the statistics batch norm evaluates with:\n"
                 "running averages from training vs each evaluation batch's own statistics",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", frameon=True, framealpha=0.9, fontsize=9)
    fig.tight_layout()
    finish(fig, os.path.join(out, "eval_stats.png"))


def fig_step_time(t, cells, out, name):
    """t: the timings table; cells: stats.step_time_cells(t)."""
    panel_keys, group_keys, norms, cells = cells
    panels = list(dict.fromkeys(c[0] for c in cells))
    groups = {p: list(dict.fromkeys(c[1] for c in cells if c[0] == p)) for p in panels}
    ng = max(len(g) for g in groups.values())
    w = max(4.6, 0.55 * len(norms) * ng + 1.6)
    fig, axes = plt.subplots(1, len(panels), figsize=(w * len(panels) + 0.4, 5.2),
                             squeeze=False)
    for ax, p in zip(axes[0], panels):
        draw_step_time_panel(ax, [c for c in cells if c[0] == p], groups[p], norms)
        ax.set_xticks(range(len(groups[p])))
        ax.set_xticklabels([", ".join(("batch " + str(v)) if k == "batch-size" else f"{k}={v}"
                                      for k, v in zip(group_keys, gv)) or "—"
                            for gv in groups[p]])
        ax.set_xlim(-0.6, len(groups[p]) - 0.4)
        ax.set_ylabel("training step time (ms, median per repeat)")
        ax.set_title(group_label(panel_keys, p) or name, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=norm_color(n)) for n in norms]
    bottom_legend(fig, handles, [norm_label(n) for n in norms], ncol=len(norms))
    reps = step_time_repeats(t, panel_keys, group_keys)
    fig.suptitle(f"Training step time per norm: bar = mean over {reps} repeats, whiskers = "
                 "min–max;\nlabel = overhead against no norm (mean over repeats)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    finish(fig, os.path.join(out, "step_time.png"))


def draw_step_time_panel(ax, cells, groups, norms):
    """Bars (mean over repeats, whiskers min-max) per group and norm, labelled with the
    overhead against no norm."""
    width = 0.8 / len(norms)
    top = 0
    for _, gv, n, ms, over in cells:
        x = groups.index(gv) + (norms.index(n) - (len(norms) - 1) / 2) * width
        m = ms.mean()
        ax.bar(x, m, width * 0.9, color=norm_color(n), alpha=0.9,
               yerr=[[m - ms.min()], [ms.max() - m]], capsize=3,
               error_kw={"lw": 1, "ecolor": "#222222"})
        top = max(top, ms.max())
        if over is not None and len(over):
            v = 100 * over.mean()
            ax.annotate(f"{v:+.1f}%" if abs(v) < 9.95 else f"{v:+.0f}%", (x, ms.max()),
                        xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.15)
