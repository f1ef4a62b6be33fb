"""The numbers of a report: run classes, grid keys, the target accuracy, settings and
their best / shared choice, means over seeds and the per-figure data (curves,
stability grid, failure rate against lr and the lr at which half the seeds fail,
activation percentiles, batch statistics and their error slopes against batch size,
evaluation modes, step-time cells). Intervals are 95% t intervals over seeds,
mean ± t(0.975, n−1) · s / √n, with the quantile from a table (no scipy needed)."""
import math
import os

import numpy as np
import pandas as pd

from .conventions import EVAL_STATS_LABELS, as_number, norm_label, sort_values
from .load import timing_config_keys

TARGET_FRACTION = 0.9
FAIL_ACC = 0.5      # a run whose accuracy ends below this fails (failure-rate section)
NEFF_BATCH = 32     # the batch size the effective samples per channel are read at

# t quantiles t(0.975, df) for df = 1..30; beyond, the Cornish-Fisher expansion (error < 1e-3).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def mean_std(x):
    x = pd.Series(x, dtype=float).dropna()
    if len(x) == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan"), len(x)


def t975(df):
    """The 0.975 quantile of Student's t with df degrees of freedom."""
    if df <= len(T975):
        return T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_ci(x):
    """(mean, low, high, n) of the 95% t interval over x (NaNs dropped); the interval is
    NaN below two values."""
    x = pd.Series(x, dtype=float).dropna()
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    if n < 2:
        return m, float("nan"), float("nan"), 1
    h = t975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return m, m - h, m + h, n


# ---------------------------------------------------------------------------------------------
# The sweep annotated: run classes, grid keys, target

def annotate_sweep(sw):
    """Add to a load.Sweep the run classes, the grid fields and the target."""
    classify_runs(sw.runs)
    grid_keys(sw)
    set_target(sw)


def annotate_timing_sweep(sw):
    grid_keys(sw, "timings.csv")


def classify_runs(r):
    r["errored"] = r["status"] == "error"
    r["diverged"] = r["status"] == "diverged"
    r["collapsed"] = r["failure"] == "collapsed"
    r["clean"] = (r["status"] == "ok") & (r["failure"] == "")
    r["gap_loss"] = (r["final_test_loss"] - r["final_train_loss"]).where(r["clean"])
    r["gap_acc"] = (r["final_train_acc"] - r["final_test_acc"]).where(r["clean"])
    for c in ["final_test_acc", "best_test_acc"]:
        r[c + "_ok"] = r[c].where(~r["errored"])


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


def set_target(sw):
    """Set sw.target (None when it varies per run), target_source, target_per_run and the
    runs' tt_steps / tt_seconds to it."""
    r = sw.runs
    given = r["target-acc"].dropna()
    given = given[given > 0]
    sw.target_per_run = False
    if len(given) != len(r):
        derive_target(sw)
        return
    if given.nunique() == 1:
        sw.target = float(given.iloc[0])
        sw.target_source = "the sweep's `target-acc`"
    else:
        sw.target = None
        sw.target_per_run = True
        sw.target_source = "each run's own `target-acc` (it varies)"
    r["tt_steps"] = r["steps_to_target"].where(r["steps_to_target"] >= 0)
    r["tt_seconds"] = r["seconds_to_target"].where(r["seconds_to_target"] >= 0)


def claim_target(sw):
    """The target normlab's claim rule derived (claims.csv beside the claim's directory,
    the claim's own row), or None for a sweep that is not a claim's."""
    path = os.path.join(os.path.dirname(os.path.abspath(sw.dir)), "claims.csv")
    name = ((sw.manifest or {}).get("experiment") or {}).get("name")
    if not name or not os.path.exists(path):
        return None
    try:
        t = pd.read_csv(path, keep_default_na=False, dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if not {"id", "cell", "target"} <= set(t.columns):
        return None
    row = t[(t["id"] == name) & (t["cell"] == "")]
    if len(row) != 1 or row["target"].iloc[0] == "":
        return None
    return float(row["target"].iloc[0])


def curve_split(sw):
    """The split whose curves the report reads: test; or val when the runs evaluated test
    only at step 0 and the end (eval-between = val), since val is evaluated at every point."""
    r = sw.runs
    if "eval-between" in r.columns and (r["eval-between"].astype(str) == "val").any():
        return "val"
    return "test"


def derive_target(sw):
    """The claim rule's target when this sweep is a claim's (read from claims.csv, never
    derived again); otherwise 90% of the lowest per-norm best mean best accuracy on the
    curve split (curve_split). Steps to it from curves.csv."""
    r = sw.runs
    target = claim_target(sw)
    if target is not None:
        sw.target = target
        sw.target_source = ("the claim's rule, as normlab derived it (`target` in claims.csv: its fraction "
                            "x the lowest group's mean best test accuracy); steps to it are read from curves.csv")
        hits_from_curves(sw)
        return
    per_norm = []
    ok = r[~r["errored"]]
    best = f"best_{curve_split(sw)}_acc"
    for n in sw.norms:
        sub = ok[ok["norm"] == n]
        if len(sub):
            by = sub.groupby(sw.others, sort=False)[best].mean() \
                if sw.others else pd.Series([sub[best].mean()])
            per_norm.append((n, float(by.max())))
    low = min(per_norm, key=lambda t: t[1]) if per_norm else ("none", 0.0)
    sw.target = math.floor(TARGET_FRACTION * low[1] * 1000) / 1000
    sw.target_source = (f"derived from the data: {TARGET_FRACTION:.0%} of the lowest "
                        f"per-norm best mean best-{curve_split(sw)}-accuracy ({norm_label(low[0])}, "
                        f"{low[1]:.3f}), since the sweep's `target-acc` is 0; "
                        "steps to it are read from curves.csv")
    hits_from_curves(sw)


def hits_from_curves(sw):
    """Each run's first evaluation on the curve split at or above sw.target: its step and seconds."""
    r = sw.runs
    test = sw.curves[sw.curves["split"] == curve_split(sw)].sort_values(["run_id", "step"])
    hit = test[test["accuracy"] >= sw.target - 1e-12].groupby("run_id").first()
    r["tt_steps"] = r["run_id"].map(hit["step"])
    r["tt_seconds"] = r["run_id"].map(hit["elapsed_s"])


def eval_resolution(sw):
    """(the most common step interval between test evaluations or None, the fraction of
    runs that reached the target at their first evaluation after step 0)."""
    split = curve_split(sw)
    diffs = (sw.curves[sw.curves["split"] == split].sort_values(["run_id", "step"])
             .groupby("run_id")["step"].diff().dropna())
    interval = int(diffs.mode().iloc[0]) if len(diffs) else None
    test = sw.curves[(sw.curves["split"] == split) & (sw.curves["step"] > 0)]
    first = test.groupby("run_id")["step"].min()
    tt = sw.runs.set_index("run_id")["tt_steps"].dropna()
    at_first = (tt == first.reindex(tt.index)).mean() if len(tt) else 0
    return interval, at_first


# ---------------------------------------------------------------------------------------------
# Settings: combinations of the varying keys

def settings(sw, runs=None):
    """(values tuple over sw.vary, DataFrame) per setting, in sorted grid order."""
    runs = sw.runs if runs is None else runs
    if not sw.vary:
        return [((), runs)]
    groups = {k: g for k, g in runs.groupby(sw.vary, sort=False)}
    order = [sort_values(runs[k], k) for k in sw.vary]

    def rank(key):
        key = key if isinstance(key, tuple) else (key,)
        return tuple(order[i].index(v) for i, v in enumerate(key))
    return [((k if isinstance(k, tuple) else (k,)), groups[k])
            for k in sorted(groups, key=rank)]


def best_setting(sw, norm, runs=None, fix=None):
    """The other-key values (tuple over sw.others) with the highest mean final test
    accuracy for this norm, restricted to runs matching fix {key: value}."""
    runs = sw.runs if runs is None else runs
    sub = runs[(runs["norm"] == norm) & ~runs["errored"]]
    for k, v in (fix or {}).items():
        sub = sub[sub[k] == v]
    if len(sub) == 0:
        return None
    if not sw.others:
        return ()
    m = sub.groupby(sw.others, sort=False)["final_test_acc"].mean()
    best = m.idxmax()
    return best if isinstance(best, tuple) else (best,)


def shared_setting(sw, norms):
    """The other-key values that every norm in norms ran, maximizing the lowest
    per-norm mean final test accuracy."""
    if not sw.others:
        return ()
    ok = sw.runs[~sw.runs["errored"] & sw.runs["norm"].isin(norms)]
    m = ok.groupby(["norm"] + sw.others)["final_test_acc"].mean().unstack("norm")
    m = m.reindex(columns=norms).dropna()
    if len(m) == 0:
        return None
    best = m.min(axis=1).idxmax()
    return best if isinstance(best, tuple) else (best,)


def select(sw, norm, others):
    r = sw.runs
    sel = r[r["norm"] == norm]
    for k, v in zip(sw.others, others):
        sel = sel[sel[k] == v]
    return sel


def comparison_panels(sw):
    """[(kind, shared setting)]: "best" (each norm at its own best setting), then "shared"
    when other keys vary and some setting was run by every norm."""
    panels = [("best", None)]
    if sw.others:
        shared = shared_setting(sw, sw.norms)
        if shared is not None:
            panels.append(("shared", shared))
    return panels


def panel_runs(sw, kind, shared):
    """(position in sw.norms, norm, setting, runs, errored runs included) per norm that
    has a setting in this panel."""
    out = []
    for xi, n in enumerate(sw.norms):
        setting = best_setting(sw, n) if kind == "best" else shared
        if setting is not None:
            out.append((xi, n, setting, select(sw, n, setting)))
    return out


def convergence_rows(sw):
    """(panel kind, norm, setting, runs that did not error) per convergence-figure column."""
    return [(kind, n, setting, runs[~runs["errored"]])
            for kind, shared in comparison_panels(sw)
            for _, n, setting, runs in panel_runs(sw, kind, shared)]


def best_of_others(sw, key):
    """Per (norm, value of key): the runs of the best setting of the remaining keys."""
    out = {}
    for n in sw.norms:
        for v in sort_values(sw.runs[key], key):
            s = best_setting(sw, n, fix={key: v})
            if s is not None:
                runs = select(sw, n, s)
                out[(n, v)] = (s, runs[~runs["errored"]])
    return out


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


# ---------------------------------------------------------------------------------------------
# Per-figure data

def curves_for(sw, runs, split, col):
    """Mean and std over runs of a curve column, per step."""
    c = sw.curves[(sw.curves["split"] == split) & sw.curves["run_id"].isin(runs["run_id"])]
    if len(c) == 0:
        return None
    g = c.groupby("step")[col]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0), "n": g.count()})


def stability_grid(sw):
    """lrs, and per (norm, lr) cell the mean final test accuracy (NaN: not run), the
    diverged, collapsed and total counts of the runs that did not error."""
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
    return lrs, acc, div, col, cnt


def activation_percentiles(sw, pair):
    """The pair's shared setting (None when there is none, then no rows) and per norm of
    the pair at it: (norm, runs, layer, kind, per-step mean p15/p50/p85 of the last hidden
    layer); layer, kind and percentiles None when the runs have no activation rows."""
    shared = shared_setting(sw, pair)
    if shared is None:
        return None, []
    out = []
    for n in pair:
        runs = select(sw, n, shared)
        runs = runs[~runs["errored"]]
        a = sw.acts[sw.acts["run_id"].isin(runs["run_id"])]
        if len(a) == 0:
            out.append((n, runs, None, None, None))
            continue
        # The last hidden pre-activation: the highest layer index in each run.
        a = a[a["layer"] == a.groupby("run_id")["layer"].transform("max")]
        layer, kind = int(a["layer"].iloc[0]), a["kind"].iloc[0]
        out.append((n, runs, layer, kind, a.groupby("step")[["p15", "p50", "p85"]].mean()))
    return shared, out


def batchstats_joined(sw):
    """batchstats.csv rows of runs that did not error, with the line keys and seed from
    runs.csv; the count of rows whose run_id is not in runs.csv."""
    keys = line_groups(sw, skip=())
    runs = sw.runs[~sw.runs["errored"]][["run_id", "seed"] + keys]
    bs = sw.batchstats
    unknown = int((~bs["run_id"].isin(sw.runs["run_id"])).sum())
    return keys, bs.merge(runs, on="run_id", how="inner"), unknown


def batchstats_per_run(j, keys):
    """Per run and batch size the mean error over the run's layers, grouped by keys."""
    per_run = j.groupby(keys + ["run_id", "batch"], sort=False)[["mean_err", "var_err"]] \
        .mean().reset_index()
    return ordered_groups(per_run, keys)


def eval_stats_drawn(sw):
    r = sw.runs
    return ("eval-stats" in r and r["eval-stats"].nunique() > 1 and "eval-batch" in r
            and all((as_number(v) or 0) > 0 for v in r["eval-batch"])
            and bool((~r["errored"]).any()))


def eval_stats_data(sw):
    """The runs that did not error (eval_batch_n: eval-batch as a number), the line keys,
    the eval-stats modes (known ones first), the eval batch sizes and the line groups."""
    r = sw.runs[~sw.runs["errored"]].copy()
    r["eval_batch_n"] = r["eval-batch"].astype(float)
    keys = line_groups(sw, skip=("eval-stats", "eval-batch"))
    modes = sort_values(r["eval-stats"])
    modes = [m for m in EVAL_STATS_LABELS if m in modes] + \
        [m for m in modes if m not in EVAL_STATS_LABELS]
    batches = sorted(r["eval_batch_n"].unique())
    return keys, modes, batches, ordered_groups(r, keys)


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


def step_time_repeats(t, panel_keys, group_keys):
    """The repeat count per configuration: "5", or "3–5" when it differs."""
    reps = t.groupby(["norm"] + panel_keys + group_keys)["seed"].nunique()
    return f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}–{reps.max()}"


# ---------------------------------------------------------------------------------------------
# Failure rate against learning rate

def lr_failure_drawn(sw):
    """lr varies over positive numbers and some run did not error."""
    r = sw.runs
    return ("lr" in sw.others and all((as_number(v) or 0) > 0 for v in r["lr"])
            and bool((~r["errored"]).any()))


def mark_failures(sw):
    """The runs that did not error, with lr_n (lr as a number), acc_used (final_val_acc
    where the run has one, else final_test_acc), acc_source ("val" or "test") and fail:
    diverged, or a non-empty failure, or acc_used below FAIL_ACC (or missing)."""
    r = sw.runs[~sw.runs["errored"]].copy()
    r["lr_n"] = r["lr"].astype(float)
    acc = r["final_test_acc"]
    src = pd.Series("test", index=r.index)
    if "final_val_acc" in r:
        has = r["final_val_acc"].notna()
        acc = r["final_val_acc"].where(has, acc)
        src = src.where(~has, "val")
    r["acc_used"] = acc
    r["acc_source"] = src
    r["fail"] = r["diverged"] | (r["failure"] != "") | ~(acc >= FAIL_ACC)
    return r


def first_failing_lr(lrs, fails):
    """(lr, censored) for one seed: lrs ascending with their fail flags. lr is the first grid
    lr from which every larger lr fails too; when the largest lr does not fail the seed is
    censored and lr is one grid step above the largest (its ratio to the one below it)."""
    if not fails[-1]:
        step = lrs[-1] / lrs[-2] if len(lrs) > 1 else 10.0
        return lrs[-1] * step, True
    i = len(fails) - 1
    while i > 0 and fails[i - 1]:
        i -= 1
    return lrs[i], False


def lr_failure_data(sw):
    """The failure rate per setting and lr and the lr at which half the seeds fail.
    Returns a dict: runs (mark_failures), panel_keys (model, optimizer where they vary),
    line_keys (the other setting keys, norm first), lrs (every grid lr), rows: per setting
    (panel values, line values, {lr: (failed, runs)}, per-seed DataFrame seed/lr_star/
    censored, half-fail (geometric mean, low, high, seeds, censored)), and diffs: per
    setting of the keys other than norm, the paired batch − none difference in decades
    (mean, low, high, pairs, pairs with a censored seed), when norm has both values."""
    r = mark_failures(sw)
    keys = [k for k in sw.vary if k != "lr"]
    panel_keys = [k for k in ("model", "optimizer") if k in keys]
    line_keys = [k for k in keys if k not in panel_keys]
    rows = []
    for pv, pg in ordered_groups(r, panel_keys):
        for lv, g in ordered_groups(pg, line_keys):
            rates = {lr: (int(s["fail"].sum()), len(s)) for lr, s in g.groupby("lr_n")}
            seeds = []
            for seed, s in g.sort_values("lr_n").groupby("seed"):
                lr_star, cens = first_failing_lr(list(s["lr_n"]), list(s["fail"]))
                seeds.append({"seed": seed, "lr_star": lr_star, "censored": cens})
            seeds = pd.DataFrame(seeds, columns=["seed", "lr_star", "censored"])
            m, lo, hi, n = mean_ci(np.log10(seeds["lr_star"]))
            half = (10 ** m, 10 ** lo, 10 ** hi, n, int(seeds["censored"].sum()))
            rows.append((pv, lv, rates, seeds, half))
    diffs = []
    if "norm" in line_keys and {"batch", "none"} <= set(r["norm"]):
        rest = [k for k in line_keys if k != "norm"]
        by = {}
        for pv, lv, _, seeds, _ in rows:
            d = dict(zip(line_keys, lv))
            by[(pv, tuple(d[k] for k in rest), d["norm"])] = seeds.set_index("seed")
        for (pv, rv, norm), b in by.items():
            if norm != "batch" or (pv, rv, "none") not in by:
                continue
            a = by[(pv, rv, "none")]
            paired = b.index.intersection(a.index)
            d = np.log10(b.loc[paired, "lr_star"]) - np.log10(a.loc[paired, "lr_star"])
            cens = int((b.loc[paired, "censored"] | a.loc[paired, "censored"]).sum())
            diffs.append((pv, rv, *mean_ci(d), cens))
    return {"runs": r, "panel_keys": panel_keys, "line_keys": line_keys,
            "rest_keys": [k for k in line_keys if k != "norm"],
            "lrs": sorted(r["lr_n"].unique()), "rows": rows, "diffs": diffs}


# ---------------------------------------------------------------------------------------------
# Batch-statistic error slopes

def batchstat_slopes(sw):
    """(keys, per-run table) for the batch-statistic slopes: per run and batch-norm layer
    (at the run's last measured step), the least-squares slope of log(err) against
    log(batch) for mean_err and var_err over the batch sizes with a positive error, and
    n_eff = 1/mean_err² at batch NEFF_BATCH (NaN when that batch was not measured).
    None when no run has two batch sizes."""
    keys, j, _ = batchstats_joined(sw)
    if len(j) == 0:
        return None
    if "step" in j and j["step"].notna().any():
        j = j[j["step"] == j.groupby("run_id")["step"].transform("max")]
    out = []
    for vals, g in j.groupby(keys + ["layer", "run_id", "seed"], sort=False):
        g = g.groupby("batch")[["mean_err", "var_err"]].mean().reset_index()
        row = dict(zip(keys + ["layer", "run_id", "seed"], vals))
        for col in ["mean_err", "var_err"]:
            ok = g[(g[col] > 0) & np.isfinite(g[col])]
            row[f"slope_{col}"] = (float(np.polyfit(np.log(ok["batch"]), np.log(ok[col]), 1)[0])
                                   if ok["batch"].nunique() > 1 else float("nan"))
        at = g[g["batch"] == NEFF_BATCH]["mean_err"]
        row["n_eff"] = float(1 / at.iloc[0] ** 2) if len(at) and at.iloc[0] > 0 else float("nan")
        row["batches"] = tuple(sorted(g["batch"]))
        out.append(row)
    t = pd.DataFrame(out)
    if t[["slope_mean_err", "slope_var_err"]].notna().to_numpy().sum() == 0:
        return None
    return keys, t


def iid_var_slope(batches):
    """The least-squares slope of log(√(2B−1)/B) against log B over these batch sizes: what
    iid Gaussian values give for the variance error on this grid (→ −1/2 for large B)."""
    b = np.array(sorted(set(batches)), dtype=float)
    if len(b) < 2:
        return float("nan")
    return float(np.polyfit(np.log(b), np.log(np.sqrt(2 * b - 1) / b), 1)[0])


def batchstat_slope_rows(keys, t):
    """Per model (keys) and layer, in grid order: (values, layer, per-run rows, mean_ci of
    the mean-error slope, of the variance-error slope, the iid variance slope over the
    layer's batch sizes, mean_ci of n_eff)."""
    rows = []
    for vals, g in ordered_groups(t, keys + ["layer"]):
        batches = [b for bs in g["batches"] for b in bs]
        rows.append((vals[:-1], int(vals[-1]), g, mean_ci(g["slope_mean_err"]),
                     mean_ci(g["slope_var_err"]), iid_var_slope(batches), mean_ci(g["n_eff"])))
    return rows


def init_scales(values):
    """{init value: scale} when every value is SCHEME:SCALE of one scheme with a positive
    numeric scale and at least two scales; else None."""
    out, schemes = {}, set()
    for v in values:
        scheme, _, scale = str(v).partition(":")
        x = as_number(scale)
        if not x or x <= 0:
            return None
        schemes.add(scheme)
        out[v] = float(x)
    return out if len(schemes) == 1 and len(set(out.values())) > 1 else None


INIT_NEAR_BEST = 0.02  # accuracy within this of a seed's best counts as "as good as the best"


def init_width_rows(sw):
    """Per line group (the varying keys but init, norm and seed) and norm: per seed, the
    width in decades of the init-scale range whose final test accuracy is within
    INIT_NEAR_BEST of that seed's best (the contiguous run of grid scales around the best),
    and the worst accuracy over the scales. Returns (keys, [(values, norm, widths, worsts,
    bests)]) with one entry per seed in each list, or None when init is not a scale sweep."""
    r = sw.runs[~sw.runs["errored"]]
    scales = init_scales(sort_values(r["init"], "init")) if "init" in r else None
    if scales is None:
        return None
    keys = line_groups(sw, skip=("init", "norm", "seed"))
    rows = []
    for values, g in ordered_groups(r, keys):
        for n in sort_values(g["norm"], "norm"):
            widths, worsts, bests = [], [], []
            for _, s in g[g["norm"] == n].groupby("seed"):
                acc = s.assign(scale=s["init"].map(scales)).groupby("scale")["final_test_acc"].mean()
                acc = acc.sort_index()
                if len(acc) < len(set(scales.values())):
                    continue  # a seed missing a scale has no width
                a, x, best = acc.to_numpy(), acc.index.to_numpy(), int(acc.to_numpy().argmax())
                lo = hi = best
                while lo > 0 and a[lo - 1] >= a[best] - INIT_NEAR_BEST:
                    lo -= 1
                while hi < len(a) - 1 and a[hi + 1] >= a[best] - INIT_NEAR_BEST:
                    hi += 1
                widths.append(math.log10(x[hi] / x[lo]))
                worsts.append(float(a.min()))
                bests.append(float(a[best]))
            if widths:
                rows.append((values, n, widths, worsts, bests))
    return keys, rows


DRIFT_VIEWS = [("", "all units, train mode"), ("unit_", "unit 0, train mode"),
               ("eval_", "all units, eval mode")]


def run_drift(a, prefix):
    """The claims engine's activation_drift of one run's rows (its last hidden layer, in
    step order) for one view: the path length of the 15th/50th/85th percentiles over the
    evaluation points over 3 x their mean 15-85 spread."""
    p = a[[f"{prefix}p15", f"{prefix}p50", f"{prefix}p85"]].to_numpy(dtype=float)
    spread = float((p[:, 2] - p[:, 0]).mean())
    moved = float(np.abs(np.diff(p, axis=0)).sum())
    return moved / (3 * spread) if spread > 0 else 0.0


def drift_view_rows(sw):
    """Per line group and norm: per run, the drift of each view (DRIFT_VIEWS) whose columns
    activations.csv has. Returns (keys, views, [(values, norm, {prefix: [drift per run]})])."""
    acts = sw.acts
    views = [(p, label) for p, label in DRIFT_VIEWS if all(f"{p}p{q}" in acts for q in (15, 50, 85))]
    if len(acts) == 0 or len(views) < 2:
        return None
    last = acts[acts["layer"] == acts.groupby("run_id")["layer"].transform("max")]
    by_run = {rid: g.sort_values("step") for rid, g in last.groupby("run_id")}
    keys = line_groups(sw, skip=("norm", "seed"))
    rows = []
    r = sw.runs[~sw.runs["errored"]]
    for values, g in ordered_groups(r, keys):
        for n in sort_values(g["norm"], "norm"):
            ids = [i for i in g[g["norm"] == n]["run_id"] if i in by_run]
            if ids:
                rows.append((values, n, {p: [run_drift(by_run[i], p) for i in ids] for p, _ in views}))
    return keys, views, rows
