#!/usr/bin/python3
"""normlab_report.load (docs/python.md) on the committed folders. Usage: python_api.py CASE

load: a claim folder (results/baseline/covariate-shift) gives runs, curves,
activations and batchstats with numeric metrics and config columns typed (lr
float, batch-size integer, widths text); a claims folder (results/baseline) gives
claims.csv typed and each claim through .claim(id); a folder that is not a
results folder, or a malformed runs.csv, raises ReportError naming the file.
example: scripts/examples/covariate_shift_figure.py (under 30 lines) writes its
PNG from the DataFrames."""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import normlab_report  # noqa: E402
import pandas as pd  # noqa: E402

CASE = sys.argv[1]
CLAIM = os.path.join(ROOT, "results", "baseline", "covariate-shift")


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def case_load():
    r = normlab_report.load(CLAIM)
    check(isinstance(r.batchstats, pd.DataFrame), "batchstats not loaded")  # header only here
    for t in ("runs", "curves", "activations"):
        check(isinstance(getattr(r, t), pd.DataFrame) and len(getattr(r, t)) > 0, f"{t} not loaded")
    check(r.claims is None and r.timings is None, "tables that are not in the folder")
    check(isinstance(r.manifest, dict) and "datasets" in r.manifest, "manifest not a dict")
    rt = r.runs.dtypes
    check(rt["lr"] == float and rt["final_test_acc"] == float, f"metrics not float: {rt['lr']}")
    check(str(rt["batch-size"]) == "Int64" and rt["widths"] == object and rt["norm"] == object,
          f"config types: {rt['batch-size']} {rt['widths']} {rt['norm']}")
    check(r.config_keys[0] == "dataset" and "status" not in r.config_keys, f"config_keys {r.config_keys}")
    check(set(r.runs.norm) >= {"none", "batch"}, "norms")
    c = r.with_config("curves")
    check(len(c) == len(r.curves) and "norm" in c.columns and c.accuracy.dtype == float, "with_config")
    claims = normlab_report.load(os.path.join(ROOT, "results", "baseline"))
    check(claims.kind == "claims" and claims.runs is None, f"claims folder kind {claims.kind}")
    ct = claims.claims
    check(ct["mean"].dtype == float and str(ct["n"].dtype) == "Int64" and ct["verdict"].dtype == object,
          f"claims.csv types {ct.dtypes.to_dict()}")
    check(len(claims.claim("placement").runs) > 0, ".claim(id)")
    with tempfile.TemporaryDirectory() as tmp:
        for bad, needle in [(tmp, "not a normlab results folder"), (os.path.join(tmp, "nope"), "not a directory")]:
            try:
                normlab_report.load(bad)
                sys.exit(f"FAIL: load({bad}) did not raise")
            except normlab_report.ReportError as e:
                check(needle in str(e), str(e))
        d = os.path.join(tmp, "d")
        shutil.copytree(CLAIM, d)
        with open(os.path.join(d, "runs.csv"), "a") as f:
            f.write("x,y\n")
        try:
            normlab_report.load(d)
            sys.exit("FAIL: a malformed runs.csv loaded")
        except normlab_report.ReportError as e:
            check("runs.csv" in str(e), str(e))


def case_example():
    script = os.path.join(ROOT, "scripts", "examples", "covariate_shift_figure.py")
    lines = [ln for ln in open(script) if ln.strip()]
    check(len(lines) < 30, f"the example has {len(lines)} lines")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cs.png")
        subprocess.run(["/usr/bin/python3", script, CLAIM, out], check=True, capture_output=True)
        check(open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(out) > 10000, "no PNG written")


{"load": case_load, "example": case_example}[CASE]()
print("ok", CASE)
