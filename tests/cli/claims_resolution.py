"""Every committed claims.csv (results/*/claims.csv): no cell is decided by an
interval narrower than its metric's resolution, and every cell names its
interval method and resolution.

A decided cell (supported or not supported, before or after Holm's correction)
needs ci_high - ci_low >= 2 x resolution (a half-width of at least the
resolution, around the interval's own estimate: the signed-rank interval is
centred on the pseudo-median, not the mean) and an interval holding its mean;
values are compared up to the CSV's printed precision (6 significant digits).
A file without the method and resolution columns fails."""
import csv
import glob
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
files = sorted(glob.glob(os.path.join(ROOT, "results", "*", "claims.csv")))
if not files:
    sys.exit("FAIL: no committed results/*/claims.csv")
bad, cells = [], 0
for path in files:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"verdict", "verdict_unadjusted", "ci_low", "ci_high", "method", "resolution", "mean"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"FAIL: {path}: needs columns {', '.join(sorted(need - set(rows[0] if rows else [])))}")
    for r in rows:
        if r["cell"] == "":
            continue
        cells += 1
        where = f"{os.path.relpath(path, ROOT)}: {r['id']} [{r['cell']}]"
        if r["method"] not in ("t", "signed-rank"):
            bad.append(f"{where}: method '{r['method']}'")
        decided = {"supported", "not supported"} & {r["verdict"], r["verdict_unadjusted"]}
        if not decided:
            continue
        res = float(r["resolution"] or 0)
        lo = float(r["ci_low"]) if r["ci_low"] else float("-inf")
        hi = float(r["ci_high"]) if r["ci_high"] else float("inf")
        mean = float(r["mean"])
        tol = 1e-5 * max(1.0, abs(mean), abs(lo) if lo > float("-inf") else 0, abs(hi) if hi < float("inf") else 0)
        if hi - lo < 2 * res - tol:
            bad.append(f"{where}: decided by [{lo:.6g}, {hi:.6g}], narrower than 2 x resolution {res:.6g}")
        elif not lo - tol <= mean <= hi + tol:
            bad.append(f"{where}: decided by [{lo:.6g}, {hi:.6g}], which does not hold its mean {mean:.6g}")
if bad:
    sys.exit("FAIL:\n" + "\n".join(bad))
print(f"PASS: {cells} cells in {len(files)} files")
