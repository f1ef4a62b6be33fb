"""normlab_report.load(DIR): a results folder as typed pandas DataFrames.

Documented in docs/python.md. Works on every folder normlab writes: a train run,
a sweep or merge, one claim's folder and a claims folder (claims.csv, one
sub-folder per claim). Every table is read by the same checked readers the
report uses (load.py), so a malformed file raises ReportError naming the file,
the column and the line."""
import os
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from .load import (ACTS_NUMERIC, ACTS_REQUIRED, BATCHSTATS_NUMERIC, BATCHSTATS_REQUIRED,
                   CURVES_NUMERIC, CURVES_REQUIRED, RUNS_NUMERIC, RUNS_NUMERIC_OPTIONAL,
                   RUNS_REQUIRED, ReportError, read_csv, read_manifest, read_timings)


@dataclass
class Results:
    """One results folder. Tables are None when the folder has no such file."""
    dir: str
    kind: str                                # the manifest's kind: train, sweep, merge, claim, claims
    manifest: Optional[dict]                 # manifest.json as a dict (None when absent)
    runs: Optional[pd.DataFrame] = None      # runs.csv: a row per run
    curves: Optional[pd.DataFrame] = None    # curves.csv: a row per (run, step, split)
    activations: Optional[pd.DataFrame] = None  # activations.csv: a row per (run, step, layer)
    batchstats: Optional[pd.DataFrame] = None   # batchstats.csv: a row per (run, layer, batch)
    timings: Optional[pd.DataFrame] = None   # timings.csv (compute-overhead): a row per config
    claims: Optional[pd.DataFrame] = None    # claims.csv: a row per claim (cell "") and per cell
    config_keys: list = field(default_factory=list)  # runs.csv's config columns, in order

    def claim(self, claim_id):
        """A claims folder's claim ID, loaded from its sub-folder."""
        path = os.path.join(self.dir, claim_id)
        if not os.path.isdir(path):
            raise ReportError(f"{path}: no such claim folder")
        return load(path)

    def with_config(self, table):
        """TABLE (curves, activations, batchstats) joined with each run's config keys."""
        df = getattr(self, table)
        if df is None:
            raise ReportError(f"{self.dir}: no {table} table")
        return df.merge(self.runs[["run_id"] + self.config_keys], on="run_id", how="left")


def _typed(df, skip=()):
    """Columns whose every non-empty value is a number become numbers (integers as
    Int64); the rest stay text. Empty cells are missing values."""
    for c in df.columns:
        if c in skip or df[c].dtype != object:
            continue
        raw = df[c].astype(str).str.strip()
        vals = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
        if (vals.isna() & (raw != "") & (raw.str.lower() != "nan")).any():
            continue  # text: a norm, a widths list "128,64", a dataset spec
        if vals.notna().any() and (vals.dropna() % 1 == 0).all() and vals.abs().max() < 2**53:
            df[c] = vals.astype("Int64")
        else:
            df[c] = vals.astype(float)
    return df


def load(path):
    """The results folder PATH as a Results. Raises ReportError (naming the file) when
    PATH is not a normlab results folder or a file in it is malformed."""
    if not os.path.isdir(path):
        raise ReportError(f"{path}: not a directory (expected a normlab results folder)")
    p = lambda f: os.path.join(path, f)  # noqa: E731
    manifest = read_manifest(p("manifest.json"))
    kind = (manifest or {}).get("kind") or (manifest or {}).get("command") or ""
    r = Results(dir=path, kind=kind, manifest=manifest)
    if os.path.exists(p("claims.csv")):
        r.claims = _typed(pd.read_csv(p("claims.csv"), dtype=str, keep_default_na=False),
                          skip=("id", "cell", "verdict", "why"))
        r.kind = r.kind or "claims"
    if os.path.exists(p("runs.csv")):
        r.runs = _typed(read_csv(p("runs.csv"), RUNS_REQUIRED, RUNS_NUMERIC, RUNS_NUMERIC_OPTIONAL),
                        skip=("run_id", "status", "failure", "message"))
        cols = list(r.runs.columns)
        r.config_keys = [c for c in cols[:cols.index("status")] if c != "run_id"]
    readers = {"curves": ("curves.csv", CURVES_REQUIRED, CURVES_NUMERIC),
               "activations": ("activations.csv", ACTS_REQUIRED, ACTS_NUMERIC),
               "batchstats": ("batchstats.csv", BATCHSTATS_REQUIRED, BATCHSTATS_NUMERIC)}
    for name, (f, req, num) in readers.items():
        if os.path.exists(p(f)):
            setattr(r, name, _typed(read_csv(p(f), req, num), skip=("run_id", "split", "kind")))
    if os.path.exists(p("timings.csv")):
        r.timings = _typed(read_timings(p("timings.csv")), skip=("run_id",))
    if r.runs is None and r.claims is None and r.timings is None:
        raise ReportError(f"{path}: not a normlab results folder (no runs.csv, claims.csv or "
                          "timings.csv)")
    return r
