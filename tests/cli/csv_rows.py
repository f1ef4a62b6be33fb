"""Shared helpers of the command-line tests: CSV comparison with the time columns
dropped (the columns that may differ between two runs of the same config and seed:
wall-clock and memory), and reading a sweep directory's run ids and shard ledger."""
import csv
import json
import os

TIME_COLS = {"seconds_to_target", "train_seconds", "samples_per_s", "peak_rss_mb", "elapsed_s"}


def rows(path):
    """Header and rows of a CSV with the time columns dropped."""
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    keep = [i for i, c in enumerate(r[0]) if c not in TIME_COLS]
    return [[row[i] for i in keep] for row in r]


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_ids(d):
    """The run ids of a sweep directory's runs.csv, in file order."""
    with open(os.path.join(d, "runs.csv"), newline="") as f:
        return [r["run_id"] for r in csv.DictReader(f)]


def ledger(out):
    """The shard records in a sweep directory's ledger/, by file name."""
    d = os.path.join(out, "ledger")
    recs = []
    for f in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if f.endswith(".json"):
            with open(os.path.join(d, f)) as fh:
                recs.append(json.load(fh))
    return recs


def tree(d, times=False):
    """Every file under d (path -> bytes, or (bytes, mtime in ns) with times): compared
    before and after a refused command, or one that should leave files as they were."""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                data = fh.read()
            out[os.path.relpath(p, d)] = (data, os.stat(p).st_mtime_ns) if times else data
    return out
