#!/usr/bin/python3
"""Tests of scripts/report.py against a small synthetic sweep it runs itself:
sections and figures present, summary-table numbers recomputed independently from
runs.csv (with the csv module, not pandas), a partial sweep reported as partial, and
error cases (non-zero exit, message naming the file or column).
Usage: report_cli.py NORMLAB_BIN CASE"""
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
CASE = sys.argv[2]
REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "report.py")

# 4 norms x 2 lrs x 2 batch sizes x 2 inits x 2 seeds = 64 runs of a few hundredths of
# a second; lr 50 diverges for most norms.
GRID = """\
name = "report-test"
dataset = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"
model = "mlp"
widths = [32, 16]
groups = 4
epochs = 2
target_acc = 0.7
norm = ["none", "batch", "layer", "group"]
lr = [0.3, 50.0]
batch_size = [16, 64]
init = ["default", "he-normal"]
seeds = 2
"""
# One norm pair, one lr, 1 seed: enough for the error cases.
SMALL = """\
name = "report-small"
dataset = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"
model = "mlp"
widths = [32, 16]
epochs = 1
norm = ["none", "batch"]
lr = 0.3
seeds = 1
"""
SECTIONS = ["# normlab report: report-test", "## What was run", "### Grid", "### Dataset",
            "## Summary", "## Figures", "### Learning curves", "### Convergence speed",
            "### Stability: learning rate × norm", "### Batch size", "### Initialization",
            "### Hidden pre-activation distribution: none vs batch norm", "## Definitions"]
FIGURES = ["learning-curves.png", "convergence.png", "stability.png", "batch-size.png",
           "init.png", "activations.png"]


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def sweep(tmp, text, name):
    os.makedirs(tmp, exist_ok=True)
    d = os.path.join(tmp, name)
    toml = os.path.join(tmp, name + ".toml")
    with open(toml, "w") as f:
        f.write(text)
    p = subprocess.run([BIN, "sweep", toml, "--out", d, "--jobs", "2", "--quiet"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"sweep exit {p.returncode}\n{p.stderr}")
    return d


def report(args, expect=0, path_python=False):
    # path_python: start it with the PATH's python3 (here possibly a build without
    # pandas): the script must find /usr/bin/python3 itself. Otherwise through its
    # #!/usr/bin/python3 line.
    cmd = [shutil.which("python3") or "/usr/bin/python3", REPORT] if path_python else [REPORT]
    p = subprocess.run([*cmd, *args], capture_output=True, text=True)
    if expect == 0:
        check(p.returncode == 0, f"report.py exit {p.returncode}\nstderr:\n{p.stderr}")
    else:
        check(p.returncode != 0, f"report.py should fail for {args}\nstdout:\n{p.stdout}")
    return p


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, seen = [], set()
    for h in rows[0]:  # runs.csv has a config "steps" and a result "steps"
        header.append(h + "_run" if h in seen else h)
        seen.add(h)
    return [dict(zip(header, r)) for r in rows[1:]]


def md_table_after(text, heading):
    """Rows of the first Markdown table after a heading, as dicts by header."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("|"))
    table = []
    for l in lines[start:]:
        if not l.startswith("|"):
            break
        table.append([c.strip() for c in re.split(r"(?<!\\)\|", l.strip())[1:-1]])
    header = [h.strip("`") for h in table[0]]
    return [dict(zip(header, r)) for r in table[2:]]


def parse_ms(cell):
    """'0.958 ± 0.004 (2/2)' -> (0.958, 0.004); '0.9' -> (0.9, None); '—' -> (None, None)."""
    cell = re.sub(r"\s*\(.*\)$", "", cell)
    if cell == "—":
        return None, None
    parts = cell.split("±")
    return float(parts[0]), (float(parts[1]) if len(parts) > 1 else None)


def close(got, want, digits):
    return abs(got - want) <= 0.5 * 10 ** -digits + 1e-9


def make_report(tmp):
    d = sweep(tmp, GRID, "sweep")
    out = os.path.join(tmp, "report")
    p = report([d, "--out", out], path_python=True)
    with open(os.path.join(out, "report.md")) as f:
        return d, out, f.read(), p


def case_sections_and_figures(tmp):
    d, out, md, p = make_report(tmp)
    for s in SECTIONS:
        check(s in md, f"report.md lacks section {s!r}")
    for f in FIGURES:
        path = os.path.join(out, f)
        check(os.path.exists(path), f"figure {f} missing")
        with open(path, "rb") as fh:
            check(fh.read(8) == b"\x89PNG\r\n\x1a\n", f"{f} is not a PNG")
        check(f"]({f})" in md, f"report.md does not embed {f}")
        check(path in p.stdout, f"stdout does not list {f}")
    for s in ["0.700", "`norm`", "`lr`", "`batch-size`", "`init`", "0, 1", "blobs",
              "commit", "64 runs in the grid"]:
        check(s in md, f"report.md lacks {s!r}")
    check("PARTIAL" not in md, "complete sweep reported as partial")
    check("SUBSET" not in md.replace("| subset |", ""), "blobs is not a subset")


def case_summary_numbers(tmp):
    d, out, md, _ = make_report(tmp)
    runs = read_csv(os.path.join(d, "runs.csv"))
    table = md_table_after(md, "## Summary")
    check(len(table) == 32, f"summary has {len(table)} rows, expected 32 settings")
    keys = ["norm", "init", "lr", "batch-size"]
    checked_steps = 0
    for row in table:
        sel = [r for r in runs if all(r[k] == row[k] for k in keys)]
        check(len(sel) == 2, f"setting {[row[k] for k in keys]}: {len(sel)} runs")
        ctx = f"setting {[row[k] for k in keys]}"
        for col, field in [("final test acc", "final_test_acc"),
                           ("best test acc", "best_test_acc")]:
            vals = [float(r[field]) for r in sel]
            m, s = parse_ms(row[col])
            check(close(m, statistics.mean(vals), 3), f"{ctx}: {col} mean {m} vs {vals}")
            check(close(s, statistics.stdev(vals), 3), f"{ctx}: {col} std {s} vs {vals}")
        div = sum(r["status"] == "diverged" for r in sel)
        check(row["diverged"] == f"{div}/2", f"{ctx}: diverged {row['diverged']} vs {div}/2")
        col_ = sum(r["failure"] == "collapsed" for r in sel)
        check(row["collapsed"] == f"{col_}/2", f"{ctx}: collapsed {row['collapsed']}")
        steps = [float(r["steps_to_target"]) for r in sel if r["steps_to_target"] not in ("", "-1")]
        check(row["steps to target"].endswith(f"({len(steps)}/2)"),
              f"{ctx}: reached count in {row['steps to target']!r}, expected {len(steps)}/2")
        m, s = parse_ms(row["steps to target"])
        if steps:
            check(close(m, statistics.mean(steps), 0), f"{ctx}: steps {m} vs {steps}")
            checked_steps += 1
        else:
            check(m is None, f"{ctx}: steps shown but no run reached the target")
        clean = [r for r in sel if r["status"] == "ok" and r["failure"] == ""]
        gaps = [float(r["final_test_loss"]) - float(r["final_train_loss"]) for r in clean]
        m, s = parse_ms(row["gap: test − train loss"])
        if gaps:
            check(close(m, statistics.mean(gaps), 3), f"{ctx}: loss gap {m} vs {gaps}")
        else:
            check(m is None, f"{ctx}: loss gap shown without clean runs")
    check(checked_steps >= 8, f"only {checked_steps} settings reached the target")
    check(any(r["status"] == "diverged" for r in runs), "the test grid should diverge somewhere")


def case_derived_target(tmp):
    d = sweep(tmp, SMALL.replace("seeds = 1", "seeds = 2"), "small")
    p = report([d])
    with open(os.path.join(d, "report.md")) as f:
        md = f.read()
    runs = read_csv(os.path.join(d, "runs.csv"))
    best = min(statistics.mean(float(r["best_test_acc"]) for r in runs if r["norm"] == n)
               for n in ("none", "batch"))
    want = int(0.9 * best * 1000) / 1000
    m = re.search(r"\*\*Target accuracy: ([0-9.]+)\*\* — derived", md)
    check(m is not None, "derived target not printed")
    check(abs(float(m.group(1)) - want) < 1.5e-3, f"target {m.group(1)}, expected ~{want}")
    check("activations.png" in p.stdout, "none vs batch: activation figure expected")
    check("stability.png" not in p.stdout, "lr does not vary: no stability heatmap")


def case_partial(tmp):
    d = sweep(tmp, SMALL, "small")
    path = os.path.join(d, "runs.csv")
    with open(path) as f:
        lines = f.readlines()
    with open(path, "w") as f:
        f.writelines(lines[:-1])  # one of the two runs not finished
    p = report([d], path_python=True)
    with open(os.path.join(d, "report.md")) as f:
        md = f.read()
    check("PARTIAL SWEEP" in md and "1 of 2 runs" in md, "partial sweep not reported with counts")
    check("partial" in p.stderr, "no partial warning on stderr")


def expect_error(args, *needles):
    p = report(args, expect=1)
    check(p.returncode == 2, f"exit {p.returncode}, expected 2 for bad input {args}:\n{p.stderr}")
    for n in needles:
        check(n in p.stderr, f"message does not name {n!r}:\n{p.stderr}")


def broken_copy(tmp, name):
    src = os.path.join(tmp, "small")
    if not os.path.exists(src):
        sweep(tmp, SMALL, "small")
    dst = os.path.join(tmp, name)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("parts"))
    return dst


def rewrite(path, fn):
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(fn(text))


def edit_rows(path, fn):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(fn(rows))


def case_missing_files(tmp):
    os.makedirs(tmp)
    expect_error([os.path.join(tmp, "no-such-dir")], "no-such-dir", "not found")
    for f in ["runs.csv", "curves.csv", "activations.csv"]:
        d = broken_copy(tmp, "no-" + f)
        os.remove(os.path.join(d, f))
        expect_error([d], os.path.join(d, f), "not found")


def case_malformed(tmp):
    os.makedirs(tmp)
    d = broken_copy(tmp, "empty-runs")
    rewrite(os.path.join(d, "runs.csv"), lambda t: "")
    expect_error([d], os.path.join(d, "runs.csv"), "empty")

    d = broken_copy(tmp, "extra-field")
    rewrite(os.path.join(d, "curves.csv"), lambda t: t + "x,1,2,3,4,5,6,7,8,9,10,11,12\n")
    expect_error([d], os.path.join(d, "curves.csv"), "malformed")

    d = broken_copy(tmp, "truncated-row")  # a row cut short, as by a killed writer
    edit_rows(os.path.join(d, "runs.csv"), lambda rows: rows + [rows[1][:10]])
    expect_error([d], os.path.join(d, "runs.csv"), "line 4")

    d = broken_copy(tmp, "not-a-number")
    path = os.path.join(d, "runs.csv")

    def corrupt(rows):
        rows[2][rows[0].index("final_test_acc")] = "fast"
        return rows
    edit_rows(path, corrupt)
    expect_error([d], path, "'final_test_acc'", "fast", "line 3")

    d = broken_copy(tmp, "bad-manifest")
    rewrite(os.path.join(d, "manifest.json"), lambda t: t[: len(t) // 2])
    expect_error([d], os.path.join(d, "manifest.json"))


def case_missing_columns(tmp):
    os.makedirs(tmp)
    for f, col, new in [("runs.csv", "norm", "normalization"),
                        ("runs.csv", "status", "state"),
                        ("curves.csv", "accuracy", "acc"),
                        ("activations.csv", "p50", "median")]:
        d = broken_copy(tmp, f"no-{col}")
        rewrite(os.path.join(d, f), lambda t: t.replace(f",{col},", f",{new},", 1))
        expect_error([d], os.path.join(d, f), f"'{col}'")


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](os.path.join(tmp, "out"))
print(f"PASS {CASE}")
