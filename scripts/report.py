#!/usr/bin/python3
"""Turn a normlab sweep directory into a readable report: report.md plus PNG figures.

Usage: scripts/report.py SWEEP_DIR [--out DIR]

Reads only the CSV contract of a sweep directory (see ../shared/design.md, "Outputs"):
  runs.csv         one row per run: run_id, every config key, then status, failure and the
                   summary (final/best test accuracy, losses, steps/seconds to target, ...)
  curves.csv       run_id, step, epoch, samples, split (train|test), loss, accuracy, ...
  activations.csv  run_id, step, layer, kind, mean, std, p15, p50, p85, ...
  manifest.json    the experiment, its expanded runs, build and dataset provenance
and, when present, the files of claim measurements:
  batchstats.csv   run_id, step, layer, batch, draws, mean_err, var_err: per run, batch-norm
                   layer (its index in the model) and batch size, the RMS error of `draws`
                   batch means (relative to the population std) and batch variances
                   (relative to the population variance) against the whole training split
                   -> batchstats.png, beside the closed forms for iid Gaussian values
  timings.csv      run_id, every config key, then median_s, min_s, samples_per_s: one
                   training step timed per configuration and repeat (the seed) -> step_time.png.
                   A timing sweep has only timings.csv and manifest.json (no runs.csv): its
                   report holds the provenance, grid, dataset and step times and skips every
                   section that needs runs.csv.
A runs.csv whose `eval-stats` takes several values (running = the running averages, batch =
each evaluation batch's own statistics) gets eval_stats.png: final test accuracy against
`eval-batch` per evaluation mode.

Statistics (all stated again in the report):
  - a "setting" is one combination of the config keys that vary in the sweep, seed excluded;
    every mean +- std is over the seeds of one setting, std is the sample std (ddof=1);
  - accuracies average every run that did not error (a diverged run counts with the
    accuracy it ended at), the generalization gap only runs that ended ok and not collapsed;
  - steps/seconds to target average the runs that reached the target ("reached k/n");
  - target: the sweep's target-acc when it is > 0, else derived as 90% of the lowest
    per-norm best mean best-test-accuracy, and steps to it are read from curves.csv;
  - a norm's "best setting" has the highest mean final test accuracy; the "shared setting"
    is the one all norms ran that maximizes the lowest per-norm mean final test accuracy;
  - batch-statistic errors: a line per model and layer is the mean over seeds; the table
    averages each run's layers first, then gives mean +- std over seeds;
  - step time: mean over repeats of the per-repeat median, whiskers min-max over repeats;
    overhead: per repeat, the time with the norm divided by the same repeat's time with
    norm "none", minus 1; the mean over repeats, their range in brackets.

Exit codes: 0 report written; 2 bad input (missing directory, missing or malformed CSV,
absent column), with the file and column named.
"""
import os
import sys

# The PATH python3 may be a build without pandas/matplotlib: use Debian's interpreter.
try:
    import pandas as pd  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError:
    _SYS = "/usr/bin/python3"
    if (os.path.exists(_SYS) and os.path.realpath(sys.executable) != os.path.realpath(_SYS)
            and not os.environ.get("NORMLAB_REPORT_REEXEC")):
        os.environ["NORMLAB_REPORT_REEXEC"] = "1"
        os.execv(_SYS, [_SYS, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit("report.py: needs pandas and matplotlib "
             "(Debian: apt-get install python3-pandas python3-matplotlib)")

import argparse
import csv
import datetime
import json
import math
import textwrap

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

plt = None  # matplotlib.pyplot, imported (headless) once the inputs have been checked


def load_pyplot():
    global plt
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot
    plt = matplotlib.pyplot

# ---------------------------------------------------------------------------------------------
# Conventions

NORM_ORDER = ["none", "batch", "layer", "group"]
NORM_COLORS = {"none": "#4d4d4d", "batch": "#1f77b4", "layer": "#ff7f0e", "group": "#2ca02c"}
EXTRA_COLORS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
NORM_LABELS = {"none": "none", "batch": "batch norm", "layer": "layer norm", "group": "group norm"}

RUNS_REQUIRED = ["run_id", "norm", "seed", "status", "failure", "final_test_acc",
                 "best_test_acc", "final_train_loss", "final_test_loss", "final_train_acc",
                 "steps_to_target", "seconds_to_target", "target-acc"]
RUNS_NUMERIC = ["seed", "final_test_acc", "best_test_acc", "final_train_loss",
                "final_test_loss", "final_train_acc", "steps_to_target", "seconds_to_target",
                "target-acc"]
RUNS_NUMERIC_OPTIONAL = ["diverge_step", "train_seconds", "samples_per_s", "loss_auc"]
CURVES_REQUIRED = ["run_id", "step", "split", "loss", "accuracy", "elapsed_s"]
CURVES_NUMERIC = ["step", "loss", "accuracy", "elapsed_s"]
ACTS_REQUIRED = ["run_id", "step", "layer", "kind", "p15", "p50", "p85"]
ACTS_NUMERIC = ["step", "layer", "p15", "p50", "p85"]

BATCHSTATS_REQUIRED = ["run_id", "layer", "batch", "mean_err", "var_err"]
BATCHSTATS_NUMERIC = ["layer", "batch", "mean_err", "var_err"]
TIMINGS_REQUIRED = ["run_id", "norm", "seed", "median_s"]
TIMINGS_NUMERIC = ["seed", "median_s"]
TIMINGS_NUMERIC_OPTIONAL = ["min_s", "samples_per_s"]
TIMINGS_RESULTS = ["median_s", "min_s", "samples_per_s"]  # the columns after the config keys

EVAL_STATS_LABELS = {"running": "running averages", "batch": "batch statistics"}
EVAL_STATS_COLORS = {"running": "#1f77b4", "batch": "#d62728"}
LINE_STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]

FIGURES = ["learning-curves.png", "convergence.png", "stability.png", "batch-size.png",
           "init.png", "activations.png", "batchstats.png", "eval_stats.png", "step_time.png"]
TARGET_FRACTION = 0.9


class ReportError(Exception):
    pass


def norm_color(norm, _extra={}):
    if norm in NORM_COLORS:
        return NORM_COLORS[norm]
    if norm not in _extra:
        _extra[norm] = EXTRA_COLORS[len(_extra) % len(EXTRA_COLORS)]
    return _extra[norm]


def norm_label(norm):
    return NORM_LABELS.get(norm, norm)


# ---------------------------------------------------------------------------------------------
# Reading, with errors that name the file and the column

def read_csv(path, required, numeric, optional_numeric=()):
    if not os.path.exists(path):
        raise ReportError(f"{path}: file not found (a sweep directory holds runs.csv, "
                          "curves.csv, activations.csv and manifest.json)")
    try:
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ReportError(f"{path}: cannot read as CSV: {e}")
    if not header or all(not h.strip() for h in header):
        raise ReportError(f"{path}: malformed CSV: empty file, no header row")
    # A repeated column name (older runs.csv files had "steps" twice) gets _run on its
    # second occurrence, so nothing is silently dropped.
    names, seen = [], set()
    for h in header:
        names.append(h + "_run" if h in seen else h)
        seen.add(h)
    missing = [c for c in required if c not in names]
    if missing:
        raise ReportError(f"{path}: missing required column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)}")
    try:
        df = pd.read_csv(path, header=0, names=names, dtype=str, keep_default_na=False,
                         on_bad_lines="error")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise ReportError(f"{path}: malformed CSV: {str(e).strip()}")
    # pandas pads a short row (a writer killed mid-row) silently: count the fields.
    with open(path, newline="") as f:
        reader = csv.reader(f)
        for row in reader:
            if row and len(row) != len(names):
                raise ReportError(f"{path}: malformed CSV: line {reader.line_num} has "
                                  f"{len(row)} fields, the header {len(names)}")
    for c in list(numeric) + [c for c in optional_numeric if c in df.columns]:
        raw = df[c].str.strip()
        vals = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
        bad = (raw != "") & vals.isna() & (raw.str.lower() != "nan")
        if bad.any():
            i = int(np.flatnonzero(bad.values)[0])
            raise ReportError(f"{path}: column '{c}': line {i + 2}: "
                              f"'{df[c].iloc[i]}' is not a number")
        df[c] = vals
    return df


def read_manifest(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: malformed JSON: {e}")
    if not isinstance(m, dict):
        raise ReportError(f"{path}: malformed manifest: top level is not an object")
    return m


# ---------------------------------------------------------------------------------------------
# Small helpers

def as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def sort_values(values, key=None):
    """Grid values in a natural order: norms canonically, numbers numerically."""
    values = list(dict.fromkeys(values))
    if key == "norm":
        return sorted(values, key=lambda v: (NORM_ORDER.index(v) if v in NORM_ORDER
                                             else len(NORM_ORDER), v))
    if all(as_number(v) is not None for v in values):
        return sorted(values, key=lambda v: float(v))
    return values


def mean_std(x):
    x = pd.Series(x, dtype=float).dropna()
    if len(x) == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan"), len(x)


def fmt_ms(x, digits=3, kind="f"):
    m, s, n = mean_std(x)
    if n == 0:
        return "—"
    spec = f"{{:.{digits}{kind}}}"
    if n == 1:
        return spec.format(m)
    return f"{spec.format(m)} ± {spec.format(s)}"


def fmt_seconds(x):
    m, s, n = mean_std(x)
    if n == 0:
        return "—"
    if n == 1:
        return f"{m:.3g}"
    return f"{m:.3g} ± {s:.2g}"


def md_escape(s):
    return str(s).replace("|", "\\|")


def md_table(header, rows, align=None):
    out = ["| " + " | ".join(md_escape(h) for h in header) + " |"]
    align = align or ["---"] * len(header)
    out.append("| " + " | ".join(align) + " |")
    for r in rows:
        out.append("| " + " | ".join(md_escape(c) for c in r) + " |")
    return "\n".join(out)


def setting_label(keys, values):
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values))


# ---------------------------------------------------------------------------------------------
# The sweep, loaded and annotated

def grid_keys(sw, table="runs.csv"):
    """Set sw.vary, others, norms, seeds and the partial-sweep fields from sw.runs (one row
    per run: runs.csv, or timings.csv for a timing sweep), sw.config_keys and sw.manifest."""
    r = sw.runs
    # Keys that vary (seed apart), in a stable order: norm first, then file order.
    vary = [k for k in sw.config_keys if k != "seed" and r[k].nunique() > 1]
    sw.vary = (["norm"] if "norm" in vary else []) + [k for k in vary if k != "norm"]
    sw.others = [k for k in sw.vary if k != "norm"]
    sw.norms = sort_values(r["norm"], "norm")
    sw.seeds = sort_values(r["seed"].dropna().astype(int).astype(str))

    # Partial sweeps: runs the manifest lists that the table lacks.
    sw.expected = None
    sw.missing_ids = []
    if sw.manifest and isinstance(sw.manifest.get("runs"), list):
        ids = [x.get("run_id") for x in sw.manifest["runs"] if isinstance(x, dict)]
        sw.expected = len(ids)
        present = set(r["run_id"])
        sw.missing_ids = [i for i in ids if i not in present]
        extra = present - set(ids)
        if extra:
            sw.warnings.append(f"{len(extra)} run(s) in {table} are not in "
                               "manifest.json (merged from another grid?).")
    sw.partial = bool(sw.missing_ids)


def read_timings(path):
    """timings.csv: run_id, the config keys, then median_s, min_s, samples_per_s."""
    t = read_csv(path, TIMINGS_REQUIRED, TIMINGS_NUMERIC, TIMINGS_NUMERIC_OPTIONAL)
    t["norm"] = t["norm"].astype(str)
    return t


def timing_config_keys(t):
    cols = list(t.columns)
    end = min(cols.index(c) for c in TIMINGS_RESULTS if c in cols)
    return [c for c in cols[:end] if c != "run_id"]


class TimingSweep:
    """A timing sweep: timings.csv and manifest.json, no runs.csv. It carries what the
    provenance, grid and dataset sections read, with `runs` the timings table."""

    def __init__(self, sweep_dir):
        self.dir = sweep_dir
        p = lambda f: os.path.join(sweep_dir, f)  # noqa: E731
        self.runs_path = p("timings.csv")
        self.runs = self.timings = read_timings(self.runs_path)
        if not self.runs["median_s"].notna().any():
            raise ReportError(f"{self.runs_path}: no timings (header only, or no "
                              "'median_s' value)")
        self.manifest = read_manifest(p("manifest.json"))
        self.warnings = []
        if self.manifest is None:
            self.warnings.append("manifest.json is missing: the grid, commit and dataset "
                                 "provenance below come from timings.csv alone.")
        self.config_keys = timing_config_keys(self.runs)
        grid_keys(self, "timings.csv")


class Sweep:
    def __init__(self, sweep_dir):
        if not os.path.exists(sweep_dir):
            raise ReportError(f"{sweep_dir}: sweep directory not found")
        if not os.path.isdir(sweep_dir):
            raise ReportError(f"{sweep_dir}: not a directory (expected a sweep directory)")
        self.dir = sweep_dir
        p = lambda f: os.path.join(sweep_dir, f)  # noqa: E731
        self.runs_path = p("runs.csv")
        self.runs = read_csv(self.runs_path, RUNS_REQUIRED, RUNS_NUMERIC, RUNS_NUMERIC_OPTIONAL)
        if len(self.runs) == 0:
            raise ReportError(f"{self.runs_path}: no runs (header only)")
        self.curves = read_csv(p("curves.csv"), CURVES_REQUIRED, CURVES_NUMERIC)
        self.acts = read_csv(p("activations.csv"), ACTS_REQUIRED, ACTS_NUMERIC)
        self.batchstats = (read_csv(p("batchstats.csv"), BATCHSTATS_REQUIRED,
                                    BATCHSTATS_NUMERIC, ["step", "draws"])
                           if os.path.exists(p("batchstats.csv")) else None)
        self.timings = read_timings(p("timings.csv")) if os.path.exists(p("timings.csv")) \
            else None
        self.manifest = read_manifest(p("manifest.json"))
        self.warnings = []
        if self.manifest is None:
            self.warnings.append("manifest.json is missing: the grid, commit and dataset "
                                 "provenance below come from runs.csv alone.")

        cols = list(self.runs.columns)
        self.config_keys = [c for c in cols[:cols.index("status")] if c != "run_id"]
        r = self.runs
        r["norm"] = r["norm"].astype(str)
        r["errored"] = r["status"] == "error"
        r["diverged"] = r["status"] == "diverged"
        r["collapsed"] = r["failure"] == "collapsed"
        r["clean"] = (r["status"] == "ok") & (r["failure"] == "")
        r["gap_loss"] = (r["final_test_loss"] - r["final_train_loss"]).where(r["clean"])
        r["gap_acc"] = (r["final_train_acc"] - r["final_test_acc"]).where(r["clean"])
        for c in ["final_test_acc", "best_test_acc"]:
            r[c + "_ok"] = r[c].where(~r["errored"])

        grid_keys(self)
        self._target()

    # -- target accuracy ------------------------------------------------------------------
    def _target(self):
        r = self.runs
        given = r["target-acc"].dropna()
        given = given[given > 0]
        self.target_per_run = False
        if len(given) == len(r) and given.nunique() == 1:
            self.target = float(given.iloc[0])
            self.target_source = "the sweep's `target-acc`"
            r["tt_steps"] = r["steps_to_target"].where(r["steps_to_target"] >= 0)
            r["tt_seconds"] = r["seconds_to_target"].where(r["seconds_to_target"] >= 0)
            return
        if len(given) == len(r):
            self.target = None
            self.target_per_run = True
            self.target_source = "each run's own `target-acc` (it varies)"
            r["tt_steps"] = r["steps_to_target"].where(r["steps_to_target"] >= 0)
            r["tt_seconds"] = r["seconds_to_target"].where(r["seconds_to_target"] >= 0)
            return
        # Derive: 90% of the lowest per-norm best mean best-test-accuracy.
        per_norm = []
        ok = r[~r["errored"]]
        for n in self.norms:
            sub = ok[ok["norm"] == n]
            if len(sub):
                by = sub.groupby(self.others, sort=False)["best_test_acc"].mean() \
                    if self.others else pd.Series([sub["best_test_acc"].mean()])
                per_norm.append((n, float(by.max())))
        low = min(per_norm, key=lambda t: t[1]) if per_norm else ("none", 0.0)
        self.target = math.floor(TARGET_FRACTION * low[1] * 1000) / 1000
        self.target_source = (f"derived from the data: {TARGET_FRACTION:.0%} of the lowest "
                              f"per-norm best mean best-test-accuracy ({norm_label(low[0])}, "
                              f"{low[1]:.3f}), since the sweep's `target-acc` is 0; "
                              "steps to it are read from curves.csv")
        test = self.curves[self.curves["split"] == "test"].sort_values(["run_id", "step"])
        hit = test[test["accuracy"] >= self.target - 1e-12].groupby("run_id").first()
        r["tt_steps"] = r["run_id"].map(hit["step"])
        r["tt_seconds"] = r["run_id"].map(hit["elapsed_s"])

    # -- settings -------------------------------------------------------------------------
    def settings(self, runs=None):
        """(values tuple over self.vary, DataFrame) per setting, in sorted grid order."""
        runs = self.runs if runs is None else runs
        if not self.vary:
            return [((), runs)]
        groups = {k: g for k, g in runs.groupby(self.vary, sort=False)}
        order = [sort_values(runs[k], k) for k in self.vary]

        def rank(key):
            key = key if isinstance(key, tuple) else (key,)
            return tuple(order[i].index(v) for i, v in enumerate(key))
        return [((k if isinstance(k, tuple) else (k,)), groups[k])
                for k in sorted(groups, key=rank)]

    def best_setting(self, norm, runs=None, fix=None):
        """The other-key values (tuple over self.others) with the highest mean final test
        accuracy for this norm, restricted to runs matching fix {key: value}."""
        runs = self.runs if runs is None else runs
        sub = runs[(runs["norm"] == norm) & ~runs["errored"]]
        for k, v in (fix or {}).items():
            sub = sub[sub[k] == v]
        if len(sub) == 0:
            return None
        if not self.others:
            return ()
        m = sub.groupby(self.others, sort=False)["final_test_acc"].mean()
        best = m.idxmax()
        return best if isinstance(best, tuple) else (best,)

    def shared_setting(self, norms):
        """The other-key values that every norm in norms ran, maximizing the lowest
        per-norm mean final test accuracy."""
        if not self.others:
            return ()
        ok = self.runs[~self.runs["errored"] & self.runs["norm"].isin(norms)]
        m = ok.groupby(["norm"] + self.others)["final_test_acc"].mean().unstack("norm")
        m = m.reindex(columns=norms).dropna()
        if len(m) == 0:
            return None
        best = m.min(axis=1).idxmax()
        return best if isinstance(best, tuple) else (best,)

    def select(self, norm, others):
        r = self.runs
        sel = r[r["norm"] == norm]
        for k, v in zip(self.others, others):
            sel = sel[sel[k] == v]
        return sel


# ---------------------------------------------------------------------------------------------
# Figures

def finish(fig, path):
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bottom_legend(fig, handles, labels, ncol=None, title=None):
    fig.legend(handles, labels, loc="lower center", ncol=ncol or min(len(labels), 4),
               frameon=False, title=title, bbox_to_anchor=(0.5, 0.0))


def curves_for(sw, runs, split, col):
    """Mean and std over runs of a curve column, per step."""
    c = sw.curves[(sw.curves["split"] == split) & sw.curves["run_id"].isin(runs["run_id"])]
    if len(c) == 0:
        return None
    g = c.groupby("step")[col]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0), "n": g.count()})


def fig_learning_curves(sw, out):
    rows = [("best", "each norm at its best setting")]
    shared = None
    if sw.others:
        shared = sw.shared_setting(sw.norms)
        if shared is not None:
            rows.append(("shared", "all norms at the shared setting "
                         f"{setting_label(sw.others, shared)}"))
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.9 * len(rows) + 0.9), squeeze=False)
    handles, labels = {}, {}
    log_loss = False
    for ri, (kind, title) in enumerate(rows):
        for n in sw.norms:
            setting = sw.best_setting(n) if kind == "best" else shared
            if setting is None:
                continue
            runs = sw.select(n, setting)
            runs = runs[~runs["errored"]]
            lab = norm_label(n)
            if kind == "best" and sw.others:
                lab += f" ({setting_label(sw.others, setting)})"
            for ci, (split, col) in enumerate([("test", "accuracy"), ("train", "loss")]):
                c = curves_for(sw, runs, split, col)
                if c is None:
                    continue
                ax = axes[ri][ci]
                color = norm_color(n)
                (h,) = ax.plot(c.index, c["mean"], color=color, lw=1.8)
                ax.fill_between(c.index, c["mean"] - c["std"], c["mean"] + c["std"],
                                color=color, alpha=0.18, lw=0)
                if col == "loss" and c["mean"].max() > 20 * max(c["mean"].min(), 1e-9):
                    log_loss = True
                if ri == 0:
                    handles.setdefault(n, h)
                labels.setdefault((ri, n), lab)
        axes[ri][0].set_title(textwrap.fill(f"Test accuracy — {title}", 62, break_on_hyphens=False), fontsize=10)
        axes[ri][1].set_title(textwrap.fill(f"Training loss — {title}", 62, break_on_hyphens=False), fontsize=10)
        axes[ri][0].set_ylabel("test accuracy (fraction correct)")
        axes[ri][1].set_ylabel("training loss (cross-entropy, eval mode)")
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
    text = ("Test accuracy and training loss (measured in eval mode on a fixed training "
            "subset) against training steps; each line is the mean over seeds, the band "
            "±1 std. Top row: each norm at its best setting (highest mean final test "
            "accuracy)")
    if len(rows) > 1:
        text += (f"; bottom row: every norm at the shared setting "
                 f"{setting_label(sw.others, shared)}")
    return text + "."


def jitter(n, width=0.18, seed=0):
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-width, width, n)


def fig_convergence(sw, out):
    panels = [("best", "each norm at its best setting")]
    shared = None
    if sw.others:
        shared = sw.shared_setting(sw.norms)
        if shared is not None:
            panels.append(("shared", f"shared setting: {setting_label(sw.others, shared)}"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.9), squeeze=False)
    axes = axes[0]
    table = []
    # One y scale for both panels, from the runs they show.
    shown = []
    for kind, _ in panels:
        for n in sw.norms:
            setting = sw.best_setting(n) if kind == "best" else shared
            if setting is not None:
                shown.append(sw.select(n, setting)["tt_steps"])
    shown = pd.concat(shown) if shown else pd.Series(dtype=float)
    ymax = float(shown.max()) if shown.notna().any() else 1.0
    any_missed = bool(shown.isna().any())
    for ax, (kind, title) in zip(axes, panels):
        ticks = []
        for xi, n in enumerate(sw.norms):
            setting = sw.best_setting(n) if kind == "best" else shared
            if setting is None:
                continue
            runs = sw.select(n, setting)
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
            table.append((kind, n, setting, runs))
        ax.set_xticks([t[0] for t in ticks])
        ax.set_xticklabels([t[1] for t in ticks])
        ax.set_xlim(-0.6, len(sw.norms) - 0.4)
        ax.set_ylim(0, ymax * (1.22 if any_missed else 1.1))
        if any_missed:
            ax.axhline(ymax * 1.12, color="#999999", lw=0.6, ls=":")
            ax.text(-0.55, ymax * 1.12, "× = not reached", ha="left", va="bottom",
                    fontsize=7.5, color="#666666")
        ax.set_ylabel("steps to target accuracy (updates)")
        ax.set_xlabel("normalization", labelpad=18)
        ax.set_title(textwrap.fill(title, 55, break_on_hyphens=False), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    tgt = f"{sw.target:.3f}" if sw.target is not None else "per run"
    fig.suptitle(f"Convergence speed: steps to test accuracy ≥ {tgt} "
                 "(dots = seeds, bar = mean of those reached)", fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    finish(fig, os.path.join(out, "convergence.png"))
    return table


def fig_stability(sw, out):
    lrs = sort_values(sw.runs["lr"], "lr")
    norms = sw.norms
    acc = np.full((len(norms), len(lrs)), np.nan)
    div = np.zeros_like(acc)
    col = np.zeros_like(acc)
    cnt = np.zeros_like(acc)
    for i, n in enumerate(norms):
        for j, lr in enumerate(lrs):
            sub = sw.runs[(sw.runs["norm"] == n) & (sw.runs["lr"] == lr) & ~sw.runs["errored"]]
            if len(sub):
                acc[i, j] = sub["final_test_acc"].mean()
                div[i, j] = sub["diverged"].sum()
                col[i, j] = sub["collapsed"].sum()
                cnt[i, j] = len(sub)
    w = max(6.0, 1.05 * len(lrs) + 2.6)
    fig, ax = plt.subplots(figsize=(w, 1.0 * len(norms) + 2.2))
    im = ax.imshow(acc, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(len(norms)):
        for j in range(len(lrs)):
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
    rows = []
    for i, n in enumerate(norms):
        row = [norm_label(n)]
        for j in range(len(lrs)):
            if np.isnan(acc[i, j]):
                row.append("—")
            else:
                bad = int(div[i, j] + col[i, j])
                row.append(f"{acc[i, j]:.3f} ({bad}/{int(cnt[i, j])})")
        rows.append(row)
    return md_table(["norm \\ lr"] + lrs, rows)


def best_of_others(sw, key):
    """Per (norm, value of key): the runs of the best setting of the remaining keys."""
    out = {}
    for n in sw.norms:
        for v in sort_values(sw.runs[key], key):
            s = sw.best_setting(n, fix={key: v})
            if s is not None:
                runs = sw.select(n, s)
                out[(n, v)] = (s, runs[~runs["errored"]])
    return out


def fig_batch_size(sw, out):
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


def fig_activations(sw, out):
    pair = ["none", "batch"]
    shared = sw.shared_setting(pair)
    if shared is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    drift = []
    for ax, n in zip(axes, pair):
        runs = sw.select(n, shared)
        runs = runs[~runs["errored"]]
        a = sw.acts[sw.acts["run_id"].isin(runs["run_id"])]
        if len(a) == 0:
            ax.text(0.5, 0.5, "no activation rows", ha="center", transform=ax.transAxes)
            continue
        # The last hidden pre-activation: the highest layer index in each run.
        a = a[a["layer"] == a.groupby("run_id")["layer"].transform("max")]
        layer, kind = int(a["layer"].iloc[0]), a["kind"].iloc[0]
        g = a.groupby("step")[["p15", "p50", "p85"]].mean()
        color = norm_color(n)
        ax.fill_between(g.index, g["p15"], g["p85"], color=color, alpha=0.12, lw=0)
        ax.plot(g.index, g["p85"], color=color, lw=1.2, ls="--", label="85th percentile")
        ax.plot(g.index, g["p50"], color=color, lw=2.0, label="50th percentile (median)")
        ax.plot(g.index, g["p15"], color=color, lw=1.2, ls=":", label="15th percentile")
        ax.set_title(f"{norm_label(n)}: layer {layer} ({kind} output), "
                     f"{len(runs)} seed{'s' if len(runs) != 1 else ''}", fontsize=10)
        ax.set_xlabel("training step (updates)")
        ax.set_ylabel("pre-activation value (input to the nonlinearity)")
        ax.grid(alpha=0.3)
        spread0 = float(g["p85"].iloc[0] - g["p15"].iloc[0])
        rel = (g["p50"] - g["p50"].iloc[0]).abs() / spread0 if spread0 > 0 else None
        drift.append([norm_label(n), f"{layer} ({kind})", f"{g['p50'].iloc[0]:.3f}",
                      f"{g['p50'].iloc[-1]:.3f}", f"{spread0:.3f}",
                      f"{float(g['p85'].iloc[-1] - g['p15'].iloc[-1]):.3f}",
                      f"{float(rel.iloc[-1]):.3f}" if rel is not None else "—",
                      f"{float(rel.max()):.3f}" if rel is not None else "—"])
    label = setting_label(sw.others, shared) if sw.others else "the sweep's setting"
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
    return label, md_table(["norm", "layer", "median at step 0", "median at end",
                            "p85−p15 at step 0", "p85−p15 at end",
                            "|median drift| / initial spread, end", "… max over training"],
                           drift)


def group_label(keys, values):
    """'mlp' for the model alone, 'mlp, norm=batch' with further keys."""
    return ", ".join(str(v) if k == "model" else f"{k}={v}" for k, v in zip(keys, values))


def line_groups(sw, skip):
    """The keys that split lines: model (even when fixed, it names the line), then every
    other varying key not in skip."""
    keys = ["model"] if "model" in sw.runs else []
    return keys + [k for k in sw.vary if k != "model" and k not in skip]


def ordered_groups(df, keys):
    """(values tuple, DataFrame) per combination of keys, in sorted grid order."""
    if not keys:
        return [((), df)]
    order = [sort_values(df[k], k) for k in keys]
    groups = {(k if isinstance(k, tuple) else (k,)): g
              for k, g in df.groupby(keys if len(keys) > 1 else keys[0], sort=False)}
    return [(k, groups[k]) for k in sorted(
        groups, key=lambda key: tuple(order[i].index(v) for i, v in enumerate(key)))]


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


def batchstats_joined(sw):
    """batchstats.csv rows of runs that did not error, with the line keys and seed from
    runs.csv; the count of rows whose run_id is not in runs.csv."""
    keys = line_groups(sw, skip=())
    runs = sw.runs[~sw.runs["errored"]][["run_id", "seed"] + keys]
    bs = sw.batchstats
    unknown = int((~bs["run_id"].isin(sw.runs["run_id"])).sum())
    return keys, bs.merge(runs, on="run_id", how="inner"), unknown


def fig_batchstats(sw, out):
    keys, j, unknown = batchstats_joined(sw)
    if len(j) == 0:
        return None, unknown
    batches = sorted(float(b) for b in j["batch"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0))
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

    # Table: per run, the mean over its layers; then mean +- std over seeds.
    per_run = j.groupby(keys + ["run_id", "batch"], sort=False)[["mean_err", "var_err"]] \
        .mean().reset_index()
    models = ordered_groups(per_run, keys)
    header = ["batch"]
    for values, _ in models:
        name = group_label(keys, values)
        header += [f"{name}: mean err" if name else "mean err",
                   f"{name}: var err" if name else "var err"]
    header += ["iid Gaussian: 1/√B", "iid Gaussian: √(2B−1)/B"]
    rows = []
    for bv in batches:
        row = [f"{bv:g}"]
        for _, g in models:
            g = g[g["batch"] == bv]
            row += [fmt_ms(g["mean_err"]), fmt_ms(g["var_err"])]
        row += [f"{1 / math.sqrt(bv):.3f}", f"{math.sqrt(2 * bv - 1) / bv:.3f}"]
        rows.append(row)
    return md_table(header, rows), unknown


def eval_stats_drawn(sw):
    r = sw.runs
    return ("eval-stats" in r and r["eval-stats"].nunique() > 1 and "eval-batch" in r
            and all((as_number(v) or 0) > 0 for v in r["eval-batch"])
            and bool((~r["errored"]).any()))


def fig_eval_stats(sw, out):
    r = sw.runs[~sw.runs["errored"]].copy()
    r["eval_batch_n"] = r["eval-batch"].astype(float)
    keys = line_groups(sw, skip=("eval-stats", "eval-batch"))
    modes = sort_values(r["eval-stats"])
    modes = [m for m in EVAL_STATS_LABELS if m in modes] + \
        [m for m in modes if m not in EVAL_STATS_LABELS]
    batches = sorted(r["eval_batch_n"].unique())
    groups = ordered_groups(r, keys)
    fig, ax = plt.subplots(figsize=(8.6, 5.0))
    table = []
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
        for bv in batches:
            cells = [g[(g["eval-stats"] == mode) & (g["eval_batch_n"] == bv)]["final_test_acc"]
                     for mode in modes]
            if not any(len(c) for c in cells):
                continue
            row = ([name] if keys else []) + [f"{bv:g}"] + [fmt_ms(c) for c in cells]
            if "running" in modes and "batch" in modes:
                a, b = (cells[modes.index(x)] for x in ("running", "batch"))
                row.append(f"{a.mean() - b.mean():+.3f}" if len(a) and len(b) else "—")
            table.append(row)
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
    header = (["model"] if keys else []) + ["eval batch"] + \
        [EVAL_STATS_LABELS.get(m, f"`{m}`") for m in modes]
    if "running" in modes and "batch" in modes:
        header.append("running − batch")
    return md_table(header, table)


def step_time_cells(t):
    """Per (panel values, group values, norm): the per-repeat times in ms and overheads
    against norm "none" in the same repeat. Panels are models, groups batch size and the
    other varying keys."""
    keys = timing_config_keys(t)
    vary = [k for k in keys if k not in ("seed", "norm") and t[k].nunique() > 1]
    panel_keys = ["model"] if "model" in t else []
    group_keys = (["batch-size"] if "batch-size" in t else []) + \
        [k for k in vary if k not in ("model", "batch-size")]
    t = t[t["median_s"].notna()]
    norms = sort_values(t["norm"], "norm")
    cells = []
    for pv, pg in ordered_groups(t, panel_keys):
        for gv, g in ordered_groups(pg, group_keys):
            base = g[g["norm"] == "none"].groupby("seed")["median_s"].mean()
            for n in norms:
                sub = g[g["norm"] == n]
                if len(sub) == 0:
                    continue
                per_seed = sub.groupby("seed")["median_s"].mean()
                paired = per_seed.index.intersection(base.index)
                over = (per_seed[paired] / base[paired] - 1) if n != "none" else None
                cells.append((pv, gv, n, sub["median_s"] * 1000, over))
    return panel_keys, group_keys, norms, cells


def fmt_overhead(over):
    if over is None or len(over) == 0:
        return "—"
    s = f"{100 * over.mean():+.1f}%"
    if len(over) > 1:
        s += f" ({100 * over.min():+.1f} … {100 * over.max():+.1f})"
    return s


def fig_step_time(t, out, name):
    panel_keys, group_keys, norms, cells = step_time_cells(t)
    panels = list(dict.fromkeys(c[0] for c in cells))
    groups = {p: list(dict.fromkeys(c[1] for c in cells if c[0] == p)) for p in panels}
    ng = max(len(g) for g in groups.values())
    w = max(4.6, 0.55 * len(norms) * ng + 1.6)
    fig, axes = plt.subplots(1, len(panels), figsize=(w * len(panels) + 0.4, 5.2),
                             squeeze=False)
    width = 0.8 / len(norms)
    for ax, p in zip(axes[0], panels):
        top = 0
        for pv, gv, n, ms, over in cells:
            if pv != p:
                continue
            x = groups[p].index(gv) + (norms.index(n) - (len(norms) - 1) / 2) * width
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
    reps = t.groupby(["norm"] + panel_keys + group_keys)["seed"].nunique()
    reps = f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}–{reps.max()}"
    fig.suptitle(f"Training step time per norm: bar = mean over {reps} repeats, whiskers = "
                 "min–max;\nlabel = overhead against no norm (mean over repeats)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))
    finish(fig, os.path.join(out, "step_time.png"))

    rows = []
    for pv, gv, n, ms, over in cells:
        m, s, k = mean_std(ms)
        d = max(0, 3 - math.floor(math.log10(m))) if m > 0 else 3  # 4 significant digits
        rows.append([group_label(panel_keys, pv) or "—",
                     ", ".join(str(v) for v in gv) or "—", norm_label(n),
                     f"{m:.{d}f}" + (f" ± {s:.{d}f}" if k > 1 else ""),
                     f"{ms.min():.{d}f} – {ms.max():.{d}f}", fmt_overhead(over)])
    header = ["model", ", ".join(f"`{k}`" for k in group_keys) or "setting", "norm",
              "step time (ms)", "range (ms)", "overhead vs none"]
    return md_table(header, rows)


def step_time_section(t, out, name):
    table = fig_step_time(t, out, name)
    return ["### Step time\n", "![Training step time per norm](step_time.png)\n",
            "Time of one full training step (forward, backward, update) on a fixed batch, "
            "from timings.csv: per configuration and repeat (the seed) the median over the "
            "repeat's timed steps; bars are the mean over repeats, whiskers the fastest and "
            "slowest repeat. Overhead vs none: per repeat, the step time with the norm "
            "divided by the same repeat's step time without a norm, minus 1; mean over "
            "repeats, in brackets the lowest and highest repeat. Step time ± is the sample "
            "std over repeats.\n", table + "\n"]


# ---------------------------------------------------------------------------------------------
# The report

def provenance(sw):
    m = sw.manifest or {}
    exp = m.get("experiment") or {}
    build = m.get("build") or {}
    rows = []

    def add(k, v):
        if v not in (None, ""):
            rows.append([k, v])
    add("experiment", f"`{exp.get('name', sw.name)}`")
    add("experiment file", f"`{exp['path']}`" if exp.get("path") else None)
    add("profile", exp.get("profile") or "none")
    if exp.get("set"):
        add("overrides (--set)", ", ".join(f"`{k}={v}`" for k, v in exp["set"].items()))
    add("grid hash", f"`{m['grid_hash']}`" if m.get("grid_hash") else None)
    add("commit", f"`{build['git_commit']}`" if build.get("git_commit") else "unknown")
    add("build", ", ".join(str(build[k]) for k in ["normlab_version", "compiler", "cxx_flags",
                                                    "linear_algebra"] if build.get(k)))
    add("host", build.get("host"))
    add("started", m.get("started"))
    add("finished", m.get("finished"))
    return md_table(["", ""], rows)


def dataset_section(sw):
    m = sw.manifest or {}
    ds = m.get("datasets") or []
    lines = []
    if not ds:
        names = sort_values(sw.runs["dataset"]) if "dataset" in sw.runs else []
        return ("Dataset provenance not recorded (no manifest); runs.csv names: "
                + ", ".join(f"`{n}`" for n in names)), False
    rows = []
    subset = False
    for d in ds:
        is_sub = bool(d.get("subset"))
        subset |= is_sub
        rows.append([f"`{d.get('name', '?')}`", d.get("source", "?"),
                     f"{d.get('train', '?'):,}" if isinstance(d.get("train"), int)
                     else d.get("train", "?"),
                     f"{d.get('test', '?'):,}" if isinstance(d.get("test"), int)
                     else d.get("test", "?"),
                     "**SUBSET**" if is_sub else "full",
                     f"`{str(d.get('checksum', ''))[:16]}…`" if d.get("checksum") else "—"])
    lines.append(md_table(["dataset", "source", "train", "test", "subset", "sha256"], rows))
    return "\n".join(lines), subset


def grid_section(sw):
    lines = []
    m = sw.manifest or {}
    configs = [x.get("config", {}) for x in m.get("runs", []) if isinstance(x, dict)]
    rows = []
    for k in sw.vary:
        vals = sort_values([c[k] for c in configs if k in c] or list(sw.runs[k]), k)
        rows.append([f"`{k}`", ", ".join(vals), str(len(vals))])
    if rows:
        lines.append("Keys that vary (each setting is one combination of them):\n")
        lines.append(md_table(["key", "values", "count"], rows))
    else:
        lines.append("No key varies apart from the seed.")
    lines.append("")
    lines.append(f"**Seeds:** {', '.join(sw.seeds)} ({len(sw.seeds)} per setting).")
    fixed = [k for k in sw.config_keys if k not in sw.vary and k != "seed"]
    interesting = [k for k in fixed if k not in ("eval-batch", "diverge-factor")]
    fx = ", ".join(f"`{k}={sw.runs[k].iloc[0]}`" if sw.runs[k].iloc[0] != ""
                   else f"`{k}` (model default)" for k in interesting)
    lines.append("")
    lines.append(f"**Fixed:** {fx}.")
    return "\n".join(lines)


def counts_section(sw):
    r = sw.runs
    n = len(r)
    parts = [f"{n} run{'s' if n != 1 else ''} in runs.csv",
             f"{int((r['status'] == 'ok').sum())} ok",
             f"{int(r['diverged'].sum())} diverged",
             f"{int(r['collapsed'].sum())} collapsed (finished at chance accuracy)",
             f"{int(r['errored'].sum())} errored"]
    if sw.expected is not None:
        parts.insert(0, f"{sw.expected} runs in the grid")
    return "**Runs:** " + "; ".join(parts) + "."


def summary_table(sw):
    keys = sw.vary
    header = [f"`{k}`" for k in keys] + [
        "runs", "final test acc", "best test acc", "steps to target", "seconds to target",
        "diverged", "collapsed", "gap: test − train loss", "gap: train − test acc"]
    rows = []
    for values, g in sw.settings():
        ok = g[~g["errored"]]
        reached = int(ok["tt_steps"].notna().sum())
        row = list(values) + [
            f"{len(ok)}" + (f" (+{int(g['errored'].sum())} error)" if g["errored"].any() else ""),
            fmt_ms(ok["final_test_acc"]), fmt_ms(ok["best_test_acc"]),
            (fmt_ms(ok["tt_steps"], 0) + f" ({reached}/{len(ok)})") if len(ok) else "—",
            fmt_seconds(ok["tt_seconds"]),
            f"{int(g['diverged'].sum())}/{len(g)}", f"{int(g['collapsed'].sum())}/{len(g)}",
            fmt_ms(g["gap_loss"]), fmt_ms(g["gap_acc"])]
        rows.append(row)
    return md_table(header, rows)


def budget_note(sw):
    """Batch-size comparisons depend on the budget: say which one the runs had."""
    steps = sw.runs["steps"] if "steps" in sw.runs else pd.Series(dtype=str)
    if len(steps) and all(as_number(v) and float(v) > 0 for v in steps):
        return (f" Budget: a fixed number of steps ({', '.join(sort_values(steps))}), so every "
                "batch size gets the same number of updates.")
    if "epochs" in sw.runs:
        return (f" Budget: fixed epochs ({', '.join(sort_values(sw.runs['epochs']))}), so larger "
                "batches take fewer steps; a large-batch deficit may be the budget, not the "
                "normalization.")
    return ""


def start_report(out):
    """Prepare `out`: pyplot loaded, no stale figure from an earlier report of another sweep."""
    load_pyplot()
    os.makedirs(out, exist_ok=True)
    for f in FIGURES:
        p = os.path.join(out, f)
        if os.path.exists(p):
            os.remove(p)


def experiment_block(m):
    """The experiment file as given, folded, or nothing when the manifest lacks it."""
    exp_text = (m.get("experiment") or {}).get("text")
    if not exp_text:
        return []
    return ["<details><summary>Experiment file as given</summary>\n\n```toml\n"
            + exp_text.rstrip() + "\n```\n\n</details>\n"]


def finish_report(out, L):
    """Writes report.md atomically; returns its path."""
    path = os.path.join(out, "report.md")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(L))
    os.replace(tmp, path)
    return path


def write_report(sw, out):
    start_report(out)
    m = sw.manifest or {}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    L.append(f"# normlab report: {sw.name}\n")
    L.append(f"Generated by `scripts/report.py` on {now} from `{sw.dir_shown}`. "
             "Figures are PNG files beside this report.\n")
    if sw.partial:
        L.append(f"> [!WARNING]\n> **PARTIAL SWEEP:** {len(sw.runs)} of {sw.expected} runs "
                 f"finished; {len(sw.missing_ids)} run(s) of the grid are missing from "
                 "runs.csv. Every number below covers only the finished runs; resume the "
                 "sweep (`normlab sweep FILE --out DIR`) for the rest.\n")
    ds_text, subset = dataset_section(sw)
    if subset:
        L.append("> [!CAUTION]\n> **DATASET IS A SUBSET, NOT THE FULL DATASET.** "
                 + "; ".join(f"{d.get('name')}: {d.get('source')}"
                             for d in m.get("datasets", []) if d.get("subset"))
                 + ". Accuracies are not comparable with published full-dataset numbers.\n")
    for w in sw.warnings:
        L.append(f"> [!NOTE]\n> {w}\n")

    L.append("## What was run\n")
    L.append(provenance(sw) + "\n")
    L.append(counts_section(sw) + "\n")
    L.append("### Grid\n")
    L.append(grid_section(sw) + "\n")
    L.append("### Dataset\n")
    L.append(ds_text + "\n")
    L.extend(experiment_block(m))

    L.append("## Summary\n")
    if sw.target is not None:
        L.append(f"**Target accuracy: {sw.target:.3f}** — {sw.target_source}.\n")
    else:
        L.append(f"**Target accuracy:** {sw.target_source}.\n")
    L.append("Mean ± sample std over seeds per setting (one value: a single run). "
             "Accuracies include diverged runs at the accuracy they stopped with; steps and "
             "seconds to target average the runs that reached it (reached k/n); the "
             "generalization gap averages runs that ended ok and not collapsed. Errored runs "
             "are excluded and counted.\n")
    L.append(summary_table(sw) + "\n")

    L.append("## Figures\n")
    figs = []
    text = fig_learning_curves(sw, out)
    figs.append("learning-curves.png")
    L.append("### Learning curves\n")
    L.append(f"![Learning curves](learning-curves.png)\n\n{text}\n")

    conv = fig_convergence(sw, out)
    figs.append("convergence.png")
    L.append("### Convergence speed\n")
    L.append("![Convergence speed](convergence.png)\n")
    rows = []
    for kind, n, setting, runs in conv:
        reached = runs["tt_steps"].notna()
        rows.append(["best" if kind == "best" else "shared", norm_label(n),
                     setting_label(sw.others, setting) if sw.others else "—",
                     f"{int(reached.sum())}/{len(runs)}", fmt_ms(runs["tt_steps"], 0),
                     fmt_seconds(runs["tt_seconds"])])
    tgt = f"{sw.target:.3f}" if sw.target is not None else "each run's target"
    diffs = (sw.curves[sw.curves["split"] == "test"].sort_values(["run_id", "step"])
             .groupby("run_id")["step"].diff().dropna())
    res = " Resolution: steps are counted at evaluation points"
    res += (f", typically every {int(diffs.mode().iloc[0])} steps." if len(diffs) else ".")
    test = sw.curves[(sw.curves["split"] == "test") & (sw.curves["step"] > 0)]
    first = test.groupby("run_id")["step"].min()
    tt = sw.runs.set_index("run_id")["tt_steps"].dropna()
    at_first = (tt == first.reindex(tt.index)).mean() if len(tt) else 0
    if at_first > 0.5:
        res += (f" **Coarse:** {at_first:.0%} of the runs that reached the target did so at "
                "their first evaluation after step 0, so this comparison is limited by the "
                "evaluation interval; evaluate more often (`eval-every`) to separate them.")
    L.append(f"Steps to reach test accuracy {tgt} per norm, one dot per seed, × for a seed "
             "that never reached it." + res + "\n")
    L.append(md_table(["setting", "norm", "values", "reached", "steps to target",
                       "seconds to target"], rows) + "\n")

    if "lr" in sw.others:
        table = fig_stability(sw, out)
        figs.append("stability.png")
        L.append("### Stability: learning rate × norm\n")
        L.append("![Stability heatmap](stability.png)\n")
        L.append("Mean final test accuracy per cell; in brackets the runs that diverged or "
                 "collapsed out of the runs in the cell.\n")
        L.append(table + "\n")
    if "batch-size" in sw.others and all(as_number(v) for v in sw.runs["batch-size"]):
        rest = fig_batch_size(sw, out)
        figs.append("batch-size.png")
        L.append("### Batch size\n")
        L.append("![Accuracy vs batch size](batch-size.png)\n")
        lr_note = ""
        if (m.get("experiment") or {}).get("text", "").find("lr_scale_with_batch") >= 0:
            lr_note = " The learning rate is scaled with the batch size (`lr_scale_with_batch`)."
        L.append("Final test accuracy against batch size, mean ± std over seeds"
                 + (f", each point at the best {', '.join(rest)} for that norm and batch size"
                    if rest else "") + "." + lr_note + budget_note(sw) + "\n")
    if "init" in sw.others:
        rest = fig_init(sw, out)
        figs.append("init.png")
        L.append("### Initialization\n")
        L.append("![Accuracy per init](init.png)\n")
        L.append("Final test accuracy per initialization scheme and norm"
                 + (f", each at the best {', '.join(rest)}" if rest else "") + ".\n")
    if "none" in sw.norms and "batch" in sw.norms and len(sw.acts):
        res = fig_activations(sw, out)
        if res:
            figs.append("activations.png")
            label, table = res
            L.append("### Hidden pre-activation distribution: none vs batch norm\n")
            L.append("![Pre-activation percentiles](activations.png)\n")
            L.append("The 15th, 50th and 85th percentiles of the last hidden layer's "
                     "pre-activation (the input to its nonlinearity: the linear output without "
                     "normalization, the batch-norm output with it) on a fixed probe batch, "
                     f"averaged over seeds, at {label}. The drift of the median is measured "
                     "relative to the initial 15–85 spread, since unnormalized values are "
                     "larger.\n")
            L.append(table + "\n")
    table, unknown = (fig_batchstats(sw, out) if sw.batchstats is not None
                      and len(sw.batchstats) else ("", 0))
    if table is None:
        L.append("### Batch-statistic noise\n")
        L.append(f"Not drawn: none of the {len(sw.batchstats)} rows of batchstats.csv "
                 "belongs to a run of runs.csv that did not error.\n")
    elif table:
        figs.append("batchstats.png")
        L.append("### Batch-statistic noise\n")
        L.append("![Error of batch statistics vs batch size](batchstats.png)\n")
        L.append("From batchstats.csv: after training, the input of each batch-norm layer is "
                 "computed over the whole training split (the population); at each batch size "
                 "B, batches are drawn and their per-channel mean and variance compared with "
                 "the population's, as batch norm computes them in training. The error is the "
                 "RMS over draws and channels, of the mean relative to the population std, of "
                 "the variance relative to the population variance. Dashed: the closed forms "
                 "for B iid Gaussian values. Table: per run the mean over its batch-norm "
                 "layers, then mean ± std over seeds."
                 + (f" {unknown} row(s) of batchstats.csv name a run_id that is not in "
                    "runs.csv and are left out." if unknown else "") + "\n")
        L.append(table + "\n")
    if eval_stats_drawn(sw):
        table = fig_eval_stats(sw, out)
        figs.append("eval_stats.png")
        L.append("### Evaluation statistics: running averages vs batch statistics\n")
        L.append("![Test accuracy vs evaluation batch size](eval_stats.png)\n")
        L.append("Final test accuracy against the evaluation batch size, per `eval-stats`: "
                 "`running` evaluates with the running averages kept in training, `batch` "
                 "normalizes each evaluation batch with its own mean and variance, so a "
                 "prediction depends on the rest of its batch. Mean ± std over seeds; "
                 "running − batch is the difference of the means.\n")
        L.append(table + "\n")
    if sw.timings is not None and sw.timings["median_s"].notna().any():
        L.extend(step_time_section(sw.timings, out, sw.name))
        figs.append("step_time.png")
    skipped = []
    if "lr" not in sw.others:
        skipped.append("the stability heatmap (lr does not vary)")
    if "batch-size" not in sw.others or not all(as_number(v) for v in sw.runs["batch-size"]):
        skipped.append("accuracy vs batch size (batch-size does not vary)")
    if "init" not in sw.others:
        skipped.append("accuracy per init (init does not vary)")
    if not ("none" in sw.norms and "batch" in sw.norms):
        skipped.append("the pre-activation percentiles (needs both none and batch)")
    if skipped:
        L.append("Not drawn, by what this sweep varies: " + "; ".join(skipped) + ".\n")

    L.append("## Definitions\n")
    L.append("- **diverged**: the loss became NaN/Inf or exceeded `diverge-factor` times its "
             "initial value; the run stopped there. **collapsed**: the run finished but at "
             "chance accuracy with the loss near ln(classes); it counts as unstable too.\n"
             "- **final / best test accuracy**: at the last evaluation / the best over all "
             "evaluations, in eval mode (running statistics for batch norm).\n"
             "- **gap**: final test loss − final train loss, and final train accuracy − final "
             "test accuracy (train measured in eval mode on a fixed training subset).\n"
             "- **best setting** of a norm: the combination of varying keys with the highest "
             "mean final test accuracy; **shared setting**: the combination every norm ran "
             "whose lowest per-norm mean final test accuracy is highest.\n"
             "- Colours are fixed per norm across figures: " + ", ".join(
                 f"{norm_label(n)} {NORM_COLORS[n]}" for n in NORM_ORDER) + ".\n")
    return finish_report(out, L), figs


def write_timing_report(sw, out):
    """The report of a timing sweep (timings.csv, no runs.csv)."""
    start_report(out)
    m = sw.manifest or {}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    L.append(f"# normlab report: {sw.name}\n")
    L.append(f"Generated by `scripts/report.py` on {now} from `{sw.dir_shown}`. "
             "Figures are PNG files beside this report.\n")
    L.append("A timing sweep: timings.csv holds step times from the benchmark harness and "
             "there is no runs.csv, so nothing here is about accuracy or training curves.\n")
    if sw.partial:
        L.append(f"> [!WARNING]\n> **PARTIAL SWEEP:** {len(sw.runs)} of {sw.expected} "
                 f"configurations timed; {len(sw.missing_ids)} of the grid are missing from "
                 "timings.csv. Every number below covers only those timed.\n")
    ds_text, subset = dataset_section(sw)
    if subset:
        L.append("> [!NOTE]\n> The dataset is a subset ("
                 + "; ".join(f"{d.get('name')}: {d.get('source')}"
                             for d in m.get("datasets", []) if d.get("subset"))
                 + "); step times depend only on the batch shape.\n")
    for w in sw.warnings:
        L.append(f"> [!NOTE]\n> {w}\n")

    L.append("## What was run\n")
    L.append(provenance(sw) + "\n")
    n = len(sw.runs)
    L.append("**Timings:** " + (f"{sw.expected} runs in the grid; " if sw.expected is not None
                                else "") + f"{n} row{'s' if n != 1 else ''} in timings.csv "
             "(one per configuration and repeat).\n")
    L.append("### Grid\n")
    L.append(grid_section(sw).replace("per setting", "repeats per setting") + "\n")
    L.append("### Dataset\n")
    L.append(ds_text + "\n")
    L.extend(experiment_block(m))

    L.append("## Figures\n")
    L.extend(step_time_section(sw.runs, out, sw.name))
    L.append("Not drawn, without runs.csv: the summary table, learning curves, convergence, "
             "stability, batch-size, init and activation figures.\n")
    return finish_report(out, L), ["step_time.png"]


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="report.py",
        description="Write report.md and PNG figures for a normlab sweep directory.")
    ap.add_argument("sweep_dir", metavar="SWEEP_DIR", help="directory written by normlab sweep")
    ap.add_argument("--out", metavar="DIR", help="where report.md and figures go "
                                                 "(default: SWEEP_DIR)")
    args = ap.parse_args(argv)
    try:
        p = lambda f: os.path.join(args.sweep_dir, f)  # noqa: E731
        timing = os.path.isdir(args.sweep_dir) and not os.path.exists(p("runs.csv")) \
            and os.path.exists(p("timings.csv"))
        sw = TimingSweep(args.sweep_dir) if timing else Sweep(args.sweep_dir)
        sw.dir_shown = args.sweep_dir.rstrip("/")
        exp = (sw.manifest or {}).get("experiment") or {}
        sw.name = exp.get("name") or os.path.basename(os.path.abspath(args.sweep_dir))
        out = args.out or args.sweep_dir
        path, figs = (write_timing_report if timing else write_report)(sw, out)
    except ReportError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 2
    print(path)
    for f in figs:
        print(os.path.join(out, f))
    if sw.partial:
        print(f"report.py: warning: partial sweep: {len(sw.runs)} of {sw.expected} runs",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
