#!/usr/bin/env python3
"""Phase 3 of seed_history.sh: which commits and cases to record.

Usage: seed_history_collect.py RUNS_DIR ROUNDS "PATTERN ..." COMMIT ...

RUNS_DIR holds COMMIT.runR.csv, one bench CSV per commit and round (R = 1..ROUNDS).
A commit is kept when all its rounds produced a readable bench CSV (header
starting suite,name,median_s) with at least one case name containing each
PATTERN; the others are named on stderr and skipped. The recorded cases are
those every kept commit has (plus the probes); the ones left out are named.
Writes RUNS_DIR/bench-COMMIT.csv for each kept commit: the columns every bench
version writes, median_s the median over rounds, repeats_s each round's median;
prints the kept commits, one a line, in the order given.
"""
import csv
import os
import statistics
import sys

COLUMNS = ["suite", "name", "median_s", "min_s", "samples_per_s", "gb_per_s", "gflop_per_s"]


def read_runs(folder, commit, rounds):
    """[{name: row}] per round, or a reason the commit cannot be used."""
    tables = []
    for r in range(1, rounds + 1):
        path = os.path.join(folder, f"{commit}.run{r}.csv")
        if not os.path.exists(path):
            return None, f"round {r} wrote no CSV"
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or any(c not in rows[0] for c in COLUMNS):
            return None, f"round {r}: CSV lacks one of the columns {','.join(COLUMNS)}"
        tables.append({row["name"]: row for row in rows})
    return tables, ""


def main():
    folder, rounds, patterns, commits = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
    kept = {}
    for c in commits:
        tables, why = read_runs(folder, c, rounds)
        if tables is not None:
            missing = [p for p in patterns if not any(p in name for t in tables[:1] for name in t)]
            if missing:
                tables, why = None, f"no case matching {', '.join(missing)}"
        if tables is None:
            print(f"skip {c}: {why}", file=sys.stderr)
            continue
        kept[c] = tables
    if not kept:
        sys.exit("seed_history: no commit produced the chosen cases")
    common = set.intersection(*(set(t) for tables in kept.values() for t in tables))
    every = set().union(*(set(t) for tables in kept.values() for t in tables))
    for name in sorted(every - common):
        print(f"case {name} left out: not produced by every kept commit and round", file=sys.stderr)
    for c, tables in kept.items():
        write_commit(os.path.join(folder, f"bench-{c}.csv"), tables, [n for n in tables[0] if n in common])
        print(c)


def write_commit(path, tables, names):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS + ["repeats_s"])
        w.writeheader()
        for name in names:
            reps = [t[name]["median_s"] for t in tables]
            row = {k: tables[0][name][k] for k in COLUMNS}
            row["median_s"] = repr(statistics.median(float(x) for x in reps))
            row["repeats_s"] = ";".join(reps)
            w.writerow(row)


if __name__ == "__main__":
    main()
