"""Reading a sweep directory: the CSV column lists, CSV and manifest readers whose errors
name the file and the column, and the Sweep / TimingSweep tables as read."""
import csv
import json
import os

import numpy as np
import pandas as pd

RUNS_REQUIRED = ["run_id", "norm", "seed", "status", "failure", "final_test_acc",
                 "best_test_acc", "final_train_loss", "final_test_loss", "final_train_acc",
                 "steps_to_target", "seconds_to_target", "target-acc"]
RUNS_NUMERIC = ["seed", "final_test_acc", "best_test_acc", "final_train_loss",
                "final_test_loss", "final_train_acc", "steps_to_target", "seconds_to_target",
                "target-acc"]
RUNS_NUMERIC_OPTIONAL = ["diverge_step", "train_seconds", "samples_per_s", "loss_auc",
                         "final_val_acc", "best_val_acc", "pred_flip_rate"]
CURVES_REQUIRED = ["run_id", "step", "split", "loss", "accuracy", "elapsed_s"]
CURVES_NUMERIC = ["step", "loss", "accuracy", "elapsed_s"]
ACTS_REQUIRED = ["run_id", "step", "layer", "kind", "p15", "p50", "p85"]
ACTS_NUMERIC = ["step", "layer", "p15", "p50", "p85"]

BATCHSTATS_REQUIRED = ["run_id", "layer", "batch", "mean_err", "var_err"]
BATCHSTATS_NUMERIC = ["layer", "batch", "mean_err", "var_err"]
TIMINGS_REQUIRED = ["run_id", "norm", "seed", "median_s"]
TIMINGS_NUMERIC = ["seed", "median_s"]
TIMINGS_NUMERIC_OPTIONAL = ["min_s", "samples_per_s", "gemm_flops", "norm_flops", "norm_bytes"]
TIMINGS_RESULTS = ["median_s", "min_s", "samples_per_s", "gemm_flops", "norm_flops",
                   "norm_bytes"]  # the columns after the config keys


class ReportError(Exception):
    pass


def read_header(path):
    """The column names of a CSV file, checked to exist and be non-empty."""
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
    return names


def to_numbers(path, df, columns):
    """Convert columns to floats in place; a non-number names its line."""
    for c in columns:
        raw = df[c].str.strip()
        vals = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
        bad = (raw != "") & vals.isna() & (raw.str.lower() != "nan")
        if bad.any():
            i = int(np.flatnonzero(bad.values)[0])
            raise ReportError(f"{path}: column '{c}': line {i + 2}: "
                              f"'{df[c].iloc[i]}' is not a number")
        df[c] = vals


def read_csv(path, required, numeric, optional_numeric=()):
    names = read_header(path)
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
    to_numbers(path, df, list(numeric) + [c for c in optional_numeric if c in df.columns])
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


def read_timings(path):
    """timings.csv: run_id, the config keys, then median_s, min_s, samples_per_s and
    (newer files) gemm_flops, norm_flops, norm_bytes."""
    t = read_csv(path, TIMINGS_REQUIRED, TIMINGS_NUMERIC, TIMINGS_NUMERIC_OPTIONAL)
    t["norm"] = t["norm"].astype(str)
    return t


def timing_config_keys(t):
    cols = list(t.columns)
    end = min(cols.index(c) for c in TIMINGS_RESULTS if c in cols)
    return [c for c in cols[:end] if c != "run_id"]


class TimingSweep:
    """A timing sweep: timings.csv and manifest.json, no runs.csv. It carries what the
    provenance, grid and dataset sections read, with `runs` the timings table.
    stats.annotate_timing_sweep adds the grid fields."""

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


class Sweep:
    """The tables of a training sweep, read and checked; stats.annotate_sweep adds the
    run classes, grid fields and target."""

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
        self.runs["norm"] = self.runs["norm"].astype(str)
