#!/usr/bin/python3
"""Tests of scripts/report.py against a small synthetic sweep it runs itself:
sections and figures present, summary-table numbers recomputed independently from
runs.csv (with the csv module, not pandas), a partial sweep reported as partial, and
error cases (non-zero exit, message naming the file or column). claim-figures writes
small claim directories by hand (batchstats.csv, a runs.csv varying eval-stats, a timing
sweep with timings.csv and no runs.csv, an lr sweep with failures of every kind) and
recomputes the numbers of their tables: batch-statistic means, slopes and n_eff; failure
rate per lr and the lr at which half the seeds fail, against per-seed values worked out
by hand.
Usage: report_cli.py NORMLAB_BIN CASE"""
import csv
import json
import math
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


def case_eval_between(tmp):
    """Runs that evaluate test only at step 0 and the end (eval-between = val): the learning
    curves and the derived target read validation, evaluated at every point; the target is
    90% of the lowest per-norm mean best_val_acc; the default sweep reads test."""
    text = (SMALL.replace("seed=3", "seed=3,val=0.2").replace("seeds = 1", "seeds = 2")
            .replace("epochs = 1", "epochs = 2\neval_every = 5"))
    for between in ("all", "val"):
        d = sweep(os.path.join(tmp, between), text + f'eval_between = "{between}"\n', "small")
        report([d])
        with open(os.path.join(d, "report.md")) as f:
            md = f.read()
        runs = read_csv(os.path.join(d, "runs.csv"))
        col = "best_val_acc" if between == "val" else "best_test_acc"
        best = min(statistics.mean(float(r[col]) for r in runs if r["norm"] == n) for n in ("none", "batch"))
        m = re.search(r"\*\*Target accuracy: ([0-9.]+)\*\* — derived", md)
        check(m is not None and abs(float(m.group(1)) - int(0.9 * best * 1000) / 1000) < 1.5e-3,
              f"eval-between {between}: target {m and m.group(1)}, expected ~{int(0.9 * best * 1000) / 1000} from {col}")
        lead = "Validation accuracy and loss" if between == "val" else "Test accuracy and training loss"
        check(lead in md, f"eval-between {between}: the learning curves should say '{lead}'")
        check(os.path.exists(os.path.join(d, "learning-curves.png")), "learning-curves.png missing")


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



def case_stamp(tmp):
    # report.md ends in the stamp of what drew it; --if-changed draws nothing when the
    # code and the folder's files are those of the stamp, and draws again when either
    # changed, or a figure it shows is gone. The report names no machine path.
    d = sweep(tmp, SMALL, "small")
    md_path = os.path.join(d, "report.md")

    def draw(*extra):
        p = report([d, "--if-changed", *extra])
        return "up to date" not in p.stdout

    check(draw(), "first report: not drawn")
    md = open(md_path).read()
    check(re.search(r"<!-- report stamp: [0-9a-f]{64} -->", md), "report.md has no stamp")
    named = lambda text: re.search(re.escape(os.path.abspath(d)) + r"[`/ ]", text)  # noqa: E731 (not small.toml)
    check(not named(md), "report.md names the machine's folder path")
    check("from this folder's CSVs" in md, "report.md does not say where its numbers come from")
    before = os.stat(md_path).st_mtime_ns
    check(not draw(), "unchanged folder and code: drawn again")
    check(os.stat(md_path).st_mtime_ns == before, "unchanged: report.md rewritten")
    # A changed input file.
    rewrite(os.path.join(d, "manifest.json"), lambda t: t + " ")
    check(draw(), "manifest.json changed: not drawn again")
    # A figure removed.
    fig = re.findall(r"\]\(([\w.-]+\.png)\)", open(md_path).read())
    check(fig, "the report shows no figure")
    os.remove(os.path.join(d, fig[0]))
    check(draw(), f"{fig[0]} removed: not drawn again")
    check(os.path.exists(os.path.join(d, fig[0])), f"{fig[0]} not drawn")
    check(not draw(), "unchanged again: drawn")
    # Another page (--html) is another stamp.
    check(draw("--html"), "--html: not drawn")
    # Changed code: a copy of the scripts with one module's comment changed.
    code = os.path.join(tmp, "code")
    shutil.copytree(os.path.dirname(REPORT), code, ignore=shutil.ignore_patterns("__pycache__"))
    rewrite(os.path.join(code, "normlab_report", "figures.py"), lambda t: t + "\n# changed\n")
    p = subprocess.run([os.path.join(code, "report.py"), d, "--if-changed", "--html"], capture_output=True, text=True)
    check(p.returncode == 0 and "up to date" not in p.stdout, f"changed code: not drawn again\n{p.stdout}{p.stderr}")
    # Another matplotlib (or pandas, numpy) may draw other bytes: another stamp.
    draw("--html")  # back to this code's stamp
    check(not draw("--html"), "unchanged with --html: drawn")
    shim = os.path.join(tmp, "shim")
    os.makedirs(shim)
    with open(os.path.join(shim, "sitecustomize.py"), "w") as f:
        f.write("import matplotlib\nmatplotlib.__version__ = '0.0-other'\n")
    p = subprocess.run([REPORT, d, "--if-changed", "--html"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": shim})
    check(p.returncode == 0 and "up to date" not in p.stdout, f"another matplotlib: not drawn again\n{p.stdout}{p.stderr}")
    # A report written elsewhere names the folder relative to itself.
    out = os.path.join(tmp, "elsewhere", "r")
    report([d, "--out", out])
    md = open(os.path.join(out, "report.md")).read()
    check("from `../../small`" in md and not named(md), "--out: the folder is not named relative to the report")
    # --out another results folder: refused, its report untouched.
    other = sweep(tmp, SMALL.replace("report-small", "other"), "other")
    report([other])
    before = open(os.path.join(other, "report.md")).read()
    p = report([d, "--out", other], expect=1)
    check(p.returncode == 2 and "a results folder of its own" in p.stderr and "manifest.json" in p.stderr,
          f"--out another results folder: exit {p.returncode}\n{p.stderr}")
    check(open(os.path.join(other, "report.md")).read() == before, "the other folder's report.md changed")


def case_symlinks(tmp):
    """Every file a report writes is replaced, never written through: a symlink at a
    figure, at report.md, or at a temporary name a writer once used (report.md.tmp)
    leaves its target as it was."""
    d = sweep(tmp, SMALL, "small")
    out = os.path.join(tmp, "r")
    report([d, "--out", out, "--html"])
    fig = re.findall(r"\]\(([\w.-]+\.png)\)", open(os.path.join(out, "report.md")).read())
    check(fig, "the report shows no figure")
    links = [fig[0], "report.md", "report.html", "report.md.tmp", "report.html.tmp", fig[0] + ".tmp"]
    victims = {}
    for name in links:
        victim = os.path.join(tmp, "victim-" + name)
        with open(victim, "w") as f:
            f.write("mine\n")
        victims[name] = victim
        path = os.path.join(out, name)
        if os.path.exists(path):
            os.remove(path)
        os.symlink(victim, path)
    report([d, "--out", out, "--html"])
    for name, victim in victims.items():
        check(open(victim).read() == "mine\n", f"{name}: the report wrote through a symlink")
    for name in [fig[0], "report.md", "report.html"]:
        path = os.path.join(out, name)
        check(not os.path.islink(path) and os.path.getsize(path) > 0, f"{name}: not drawn as a file of its own")
    check(not [f for f in os.listdir(out) if ".tmp." in f], f"temporary files left: {os.listdir(out)}")


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


# ---------------------------------------------------------------------------------------------
# Claim directories, written by hand (no normlab run): batchstats.csv, eval-stats, timings.csv

RUN_KEYS = ["run_id", "dataset", "model", "norm", "batch-size", "eval-batch", "eval-stats",
            "target-acc", "seed"]
RUN_RESULTS = ["status", "failure", "final_test_acc", "best_test_acc", "final_train_loss",
               "final_test_loss", "final_train_acc", "steps_to_target", "seconds_to_target"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_sweep(d, runs):
    """runs: dicts of config values and final_test_acc; writes runs.csv, curves.csv, an
    empty activations.csv and a manifest listing the runs."""
    os.makedirs(d)
    rows, curves = [], []
    for r in runs:
        acc = r["final_test_acc"]
        rows.append([r["run_id"], "blobs", r["model"], "batch", "64", r["eval-batch"],
                     r["eval-stats"], "0.5", r["seed"], "ok", "", acc, acc, "0.3", "0.35",
                     acc, "10", "0.1"])
        for step, a in [(0, 0.1), (10, float(acc))]:
            for split in ["train", "test"]:
                curves.append([r["run_id"], step, split, 2.3 - a, a, step / 100])
    write_csv(os.path.join(d, "runs.csv"), RUN_KEYS + RUN_RESULTS, rows)
    write_csv(os.path.join(d, "curves.csv"),
              ["run_id", "step", "split", "loss", "accuracy", "elapsed_s"], curves)
    write_csv(os.path.join(d, "activations.csv"),
              ["run_id", "step", "layer", "kind", "p15", "p50", "p85"], [])
    write_manifest(d, [r["run_id"] for r in runs])


def write_manifest(d, ids):
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"experiment": {"name": os.path.basename(d)},
                   "runs": [{"run_id": i, "config": {}} for i in ids]}, f)


def report_md(d):
    p = report([d])
    with open(os.path.join(d, "report.md")) as f:
        return f.read(), p


def check_png(d, name, p, md):
    path = os.path.join(d, name)
    check(os.path.exists(path), f"figure {name} missing")
    with open(path, "rb") as fh:
        check(fh.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG")
    check(f"]({name})" in md, f"report.md does not embed {name}")
    check(path in p.stdout, f"stdout does not list {name}")


def batchstat_dir(tmp):
    """2 models x 2 seeds; mlp has batch-norm layers 1 and 4, cnn 2, 6 and 9; batch sizes
    2, 8, 32; plus one row of a run that is not in runs.csv."""
    d = os.path.join(tmp, "batch-stat-noise")
    runs, stats = [], []
    for model, layers in [("mlp", [1, 4]), ("cnn", [2, 6, 9])]:
        for seed in [0, 1]:
            rid = f"{model}{seed}"
            runs.append({"run_id": rid, "model": model, "eval-batch": "1000",
                         "eval-stats": "running", "seed": str(seed),
                         "final_test_acc": "0.9"})
            for layer in layers:
                for b in [2, 8, 32]:
                    f = 1 + 0.03 * seed + 0.011 * layer + (0.05 if model == "cnn" else 0)
                    stats.append([rid, 100, layer, b, 200, round(f / b ** 0.5, 6),
                                  round(1.1 * f * (2 * b - 1) ** 0.5 / b, 6)])
    stats.append(["stranger", 100, 1, 2, 200, 9.0, 9.0])
    write_sweep(d, runs)
    write_csv(os.path.join(d, "batchstats.csv"),
              ["run_id", "step", "layer", "batch", "draws", "mean_err", "var_err"], stats)
    return d, stats


def eval_stats_dir(tmp):
    d = os.path.join(tmp, "train-vs-inference")
    runs = []
    for eb in ["1", "16", "256"]:
        for mode in ["running", "batch"]:
            for seed in [0, 1, 2]:
                acc = 0.93 + 0.01 * seed if mode == "running" else \
                    {"1": 0.1, "16": 0.7, "256": 0.9}[eb] + 0.02 * seed ** 2
                runs.append({"run_id": f"{eb}-{mode}-{seed}", "model": "mlp", "eval-batch": eb,
                             "eval-stats": mode, "seed": str(seed),
                             "final_test_acc": f"{acc:.4f}"})
    write_sweep(d, runs)
    write_csv(os.path.join(d, "batchstats.csv"),  # as normlab writes it without stat-batches
              ["run_id", "step", "layer", "batch", "draws", "mean_err", "var_err"], [])
    return d, runs


# An lr sweep: model mlp, optimizer x norm, lr 0.01-10 (momentum without 10), seeds 0-2,
# plus one errored run. Per (optimizer, norm, lr): one string per seed 0, 1, 2 of what the
# run gives: "." ok (val 0.9), "d" diverged, "c" collapsed (status ok, failure collapsed),
# "v" val acc 0.3 (fails), "t" no val acc and test acc 0.3 (fails: test is the fallback),
# "T" val acc 0.8 and test acc 0.3 (does not fail: val is used when present).
LR_RUNS = {
    ("sgd", "none"): {"0.01": "..t", "0.1": ".v.", "1": "cdd", "10": "ddd"},
    ("sgd", "batch"): {"0.01": "...", "0.1": "T..", "1": "...", "10": "d.c"},
    ("momentum", "none"): {"0.01": "...", "0.1": "...", "1": "dvd"},
    ("momentum", "batch"): {"0.01": "...", "0.1": "...", "1": "..."},
}
# By hand, per seed: the first lr from which every larger lr fails; None: censored (enters
# one grid step above the largest lr: 100 for sgd, 10 for momentum).
LR_STAR = {("sgd", "none"): [1, 0.1, 1], ("sgd", "batch"): [10, None, 10],
           ("momentum", "none"): [1, 1, 1], ("momentum", "batch"): [None, None, None]}
LR_RATES = {("sgd", "none"): ["1/3", "1/3", "3/3", "3/3"],
            ("sgd", "batch"): ["0/3", "0/3", "0/3", "2/3"],
            ("momentum", "none"): ["0/3", "0/3", "3/3", "—"],
            ("momentum", "batch"): ["0/3", "0/3", "0/3", "—"]}


def lr_failure_dir(tmp):
    d = os.path.join(tmp, "lr-tolerance")
    os.makedirs(d)
    keys = ["run_id", "dataset", "model", "optimizer", "norm", "lr", "target-acc", "seed"]
    results = ["status", "failure", "final_val_acc"] + RUN_RESULTS[2:]
    rows, curves = [], []
    kinds = {".": ("ok", "", "0.9", "0.9"), "d": ("diverged", "explosion", "0.1", "0.1"),
             "c": ("ok", "collapsed", "0.1", "0.1"), "v": ("ok", "", "0.3", "0.9"),
             "t": ("ok", "", "", "0.3"), "T": ("ok", "", "0.8", "0.3")}
    for (opt, norm), per_lr in LR_RUNS.items():
        for lr, seeds in per_lr.items():
            for seed, k in enumerate(seeds):
                status, failure, val, test = kinds[k]
                rid = f"{opt}-{norm}-{lr}-{seed}"
                rows.append([rid, "blobs", "mlp", opt, norm, lr, "0.5", str(seed), status,
                             failure, val, test, test, "0.3", "0.35", test, "10", "0.1"])
                curves.append([rid, 10, "test", 0.5, test, 0.1])
    rows.append(["err", "blobs", "mlp", "sgd", "none", "10", "0.5", "3", "error", "", "", "",
                 "", "", "", "", "", ""])
    write_csv(os.path.join(d, "runs.csv"), keys + results, rows)
    write_csv(os.path.join(d, "curves.csv"),
              ["run_id", "step", "split", "loss", "accuracy", "elapsed_s"], curves)
    write_csv(os.path.join(d, "activations.csv"),
              ["run_id", "step", "layer", "kind", "p15", "p50", "p85"], [])
    write_manifest(d, [r[0] for r in rows])
    return d


def t_interval(xs):
    """mean, low, high: 95% t interval, t(0.975) from the table for n = 2 and 3."""
    m = statistics.mean(xs)
    h = {2: 12.706, 3: 4.303}[len(xs)] * statistics.stdev(xs) / len(xs) ** 0.5
    return m, m - h, m + h


def lsq_slope(xs, ys):
    mx, my = statistics.mean(xs), statistics.mean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def parse_ci(cell):
    """'m [lo, hi]' (values may carry ×, +, ≥) -> floats."""
    got = re.findall(r"[-+]?[0-9.]+(?:e[-+]?[0-9]+)?", cell)
    return [float(x) for x in got]


TIMING_KEYS = ["run_id", "dataset", "model", "norm", "batch-size", "threads", "seed"]


def timing_dir(tmp):
    d = os.path.join(tmp, "compute-overhead")
    os.makedirs(d)
    rows = []
    base = {"mlp": 0.001, "cnn": 0.013}
    extra = {"none": 0.0, "batch": 0.05, "layer": 0.08, "group": 0.3}
    for model in ["mlp", "cnn"]:
        for bs in ["32", "128"]:
            for norm in ["none", "batch", "layer", "group"]:
                for seed in [0, 1, 2]:
                    t = base[model] * int(bs) / 128 * \
                        (1 + extra[norm] * (1.5 if model == "cnn" else 1) * (128 / int(bs))) * \
                        (1 + 0.013 * ((seed * 7 + len(norm) + int(bs)) % 5))
                    rows.append([f"{model}-{bs}-{norm}-{seed}", "blobs", model, norm, bs, "1",
                                 seed, f"{t:.7g}", f"{0.98 * t:.7g}", f"{int(bs) / t:.6g}"])
    write_csv(os.path.join(d, "timings.csv"),
              TIMING_KEYS + ["median_s", "min_s", "samples_per_s"], rows)
    write_manifest(d, [r[0] for r in rows])
    return d, [dict(zip(TIMING_KEYS + ["median_s"], r)) for r in rows]


def case_claim_figures(tmp):
    os.makedirs(tmp)
    # 1. batchstats.csv: figure, and the table's per-model means over seeds of each run's
    # mean over its layers.
    d, stats = batchstat_dir(tmp)
    md, p = report_md(d)
    check_png(d, "batchstats.png", p, md)
    check(not os.path.exists(os.path.join(d, "eval_stats.png")),
          "eval-stats does not vary: no eval_stats.png")
    check("1 row(s) of batchstats.csv" in md, "the row of an unknown run is not reported")
    table = md_table_after(md, "### Batch-statistic noise")
    check([r["batch"] for r in table] == ["2", "8", "32"], f"batch rows {table}")
    for row in table:
        b = int(row["batch"])
        for model in ["mlp", "cnn"]:
            for col, i in [("mean err", 5), ("var err", 6)]:
                per_seed = []
                for seed in [0, 1]:
                    vals = [s[i] for s in stats if s[0] == f"{model}{seed}" and s[3] == b]
                    per_seed.append(statistics.mean(vals))
                m, s = parse_ms(row[f"{model}: {col}"])
                ctx = f"batch {b}, {model}: {col}"
                check(close(m, statistics.mean(per_seed), 3), f"{ctx}: {m} vs {per_seed}")
                check(close(s, statistics.stdev(per_seed), 3), f"{ctx}: std {s} vs {per_seed}")
        check(close(float(row["iid Gaussian: 1/√B"]), b ** -0.5, 3), f"batch {b}: 1/sqrt(B)")
        check(close(float(row["iid Gaussian: √(2B−1)/B"]), (2 * b - 1) ** 0.5 / b, 3),
              f"batch {b}: sqrt(2B-1)/B")

    # 1b. The slopes of log(err) on log(B) per model and layer: mean_err = f/√B gives -1/2;
    # var_err = 1.1 f √(2B−1)/B the iid slope on B = 2, 8, 32; n_eff = 1/mean_err² at B=32.
    check_png(d, "batchstat_slopes.png", p, md)
    table = md_table_after(md, "### Batch-statistic error slope")
    check([(r["model"], r["layer"]) for r in table] ==
          [("mlp", "1"), ("mlp", "4"), ("cnn", "2"), ("cnn", "6"), ("cnn", "9")],
          f"slope rows {table}")
    bs = [2, 8, 32]
    iid_var = lsq_slope([math.log(b) for b in bs],
                        [math.log((2 * b - 1) ** 0.5 / b) for b in bs])
    for row in table:
        ctx = f"slopes {row['model']} layer {row['layer']}"
        layer = int(row["layer"])
        runs = [s for s in stats if s[0].startswith(row["model"]) and s[2] == layer]
        for col, i, want in [("mean err slope", 5, -0.5), ("var err slope", 6, iid_var)]:
            at = lambda seed, b: next(s[i] for s in runs  # noqa: E731
                                      if s[0] == f"{row['model']}{seed}" and s[3] == b)
            per_seed = [lsq_slope([math.log(b) for b in bs], [math.log(at(seed, b)) for b in bs])
                        for seed in [0, 1]]
            got = parse_ci(row[col])
            check(close(got[0], want, 3) and close(got[0], statistics.mean(per_seed), 3),
                  f"{ctx}: {col} {row[col]} vs {want:.4f}")
        check(close(float(row["iid var slope"]), iid_var, 3), f"{ctx}: iid var slope")
        neff = [1 / next(s[5] for s in runs if s[0] == f"{row['model']}{seed}" and s[3] == 32) ** 2
                for seed in [0, 1]]
        for cell, scale, digits in [(row["n_eff at B=32"], 1, 1), (row["n_eff/32"], 32, 2)]:
            got = parse_ci(cell)
            want = [v / scale for v in t_interval(neff)]
            check(len(got) == 3 and all(close(g, w, digits) for g, w in zip(got, want)),
                  f"{ctx}: n_eff {cell} vs {want}")

    # 2. eval-stats varies: figure, table of means per mode and their difference.
    d, runs = eval_stats_dir(tmp)
    md, p = report_md(d)
    check_png(d, "eval_stats.png", p, md)
    check(not os.path.exists(os.path.join(d, "batchstats.png")),
          "batchstats.csv without rows: no batchstats.png")
    table = md_table_after(md, "### Evaluation statistics")
    check([r["eval batch"] for r in table] == ["1", "16", "256"], f"eval batch rows {table}")
    for row in table:
        acc = {mode: [float(r["final_test_acc"]) for r in runs
                      if r["eval-batch"] == row["eval batch"] and r["eval-stats"] == mode]
               for mode in ["running", "batch"]}
        ctx = f"eval batch {row['eval batch']}"
        for mode, col in [("running", "running averages"), ("batch", "batch statistics")]:
            m, s = parse_ms(row[col])
            check(close(m, statistics.mean(acc[mode]), 3), f"{ctx}: {col} {m} vs {acc[mode]}")
            check(close(s, statistics.stdev(acc[mode]), 3), f"{ctx}: {col} std {s}")
        diff = statistics.mean(acc["running"]) - statistics.mean(acc["batch"])
        check(close(float(row["running − batch"]), diff, 3), f"{ctx}: difference vs {diff}")

    # 3. timings.csv and no runs.csv: a timing report with the step-time figure and the
    # overhead against norm none, per repeat, recomputed here.
    d, rows = timing_dir(tmp)
    md, p = report_md(d)
    check_png(d, "step_time.png", p, md)
    check("### Step time" in md and "## Summary" not in md, "timing report sections")
    check(not os.path.exists(os.path.join(d, "learning-curves.png")), "no learning curves")
    check("48 runs in the grid" in md and "PARTIAL" not in md, "grid count")
    table = md_table_after(md, "### Step time")
    check(len(table) == 16, f"step-time table has {len(table)} rows, expected 16")
    labels = {"none": "none", "batch": "batch norm", "layer": "layer norm",
              "group": "group norm"}
    for row in table:
        norm = next(n for n, l in labels.items() if l == row["norm"])
        sel = lambda n: {r["seed"]: float(r["median_s"]) for r in rows  # noqa: E731
                         if r["model"] == row["model"] and r["batch-size"] == row["batch-size"]
                         and r["norm"] == n}
        ctx = f"{row['model']}, batch {row['batch-size']}, {norm}"
        ms = [1000 * t for t in sel(norm).values()]
        check(len(ms) == 3, f"{ctx}: {len(ms)} repeats")
        m, s = parse_ms(row["step time (ms)"])
        check(abs(m - statistics.mean(ms)) <= 1e-3 * statistics.mean(ms),
              f"{ctx}: step time {m} vs {ms}")
        if norm == "none":
            check(row["overhead vs none"] == "—", f"{ctx}: overhead of none itself")
            continue
        none, t = sel("none"), sel(norm)
        over = [100 * (t[k] / none[k] - 1) for k in sorted(t)]
        got = re.fullmatch(r"([+-][0-9.]+)% \(([+-][0-9.]+) … ([+-][0-9.]+)\)",
                           row["overhead vs none"])
        check(got is not None, f"{ctx}: overhead cell {row['overhead vs none']!r}")
        for g, want in zip(got.groups(), [statistics.mean(over), min(over), max(over)]):
            check(close(float(g), want, 1), f"{ctx}: overhead {g}% vs {want:.3f}% ({over})")

    # 4. An lr sweep: the failure rate per lr, the lr at which half the seeds fail and the
    # batch − none difference, against the per-seed values worked out by hand above.
    ld = lr_failure_dir(tmp)
    md, p = report_md(ld)
    check_png(ld, "failure_rate.png", p, md)
    check("validation accuracy (`final_val_acc`) for 41 runs and test accuracy "
          "(`final_test_acc`) for the 1 without one" in md, "accuracy source not stated")
    check("1 errored run(s) are left out" in md, "errored run not reported")
    labels = {"none": "none", "batch": "batch norm"}
    table = md_table_after(md, "### Failure rate against learning rate")
    check(len(table) == 4, f"failure-rate table has {len(table)} rows")
    for row in table:
        key = (row["optimizer"], next(n for n, l in labels.items() if l == row["norm"]))
        got = [row[c] for c in ["0.01", "0.1", "1", "10"]]
        check(got == LR_RATES[key], f"failure rates {key}: {got} vs {LR_RATES[key]}")
    text = md[md.index("**The lr at which half the seeds fail.**"):]
    half = md_table_after(text, "**The lr at which half the seeds fail.**")
    log_star = {}
    for row in half:
        key = (row["optimizer"], next(n for n, l in labels.items() if l == row["norm"]))
        top = 100 if key[0] == "sgd" else 10
        logs = [math.log10(v if v is not None else top) for v in LR_STAR[key]]
        log_star[key] = logs
        cens = sum(v is None for v in LR_STAR[key])
        cell = row["half-fail lr [95% interval]"]
        ctx = f"half-fail lr {key}: {cell}"
        check(row["censored"] == f"{cens}/3", f"{ctx}: censored {row['censored']}")
        if cens == 3:
            check(cell == "> 1 (every seed censored)", ctx)
            continue
        check(cell.startswith("≥") == (cens > 0), f"{ctx}: lower-bound mark")
        want = [10 ** v for v in t_interval(logs)]
        got = parse_ci(cell)
        check(len(got) == 3 and all(abs(g - w) <= 0.006 * w for g, w in zip(got, want)),
              f"{ctx} vs {want}")
    # sgd by hand: log10 lr* none 0, -1, 0 -> 10^(-1/3) = 0.464 [0.0171, 12.6]
    check("0.464 [0.0171, 12.6]" in md, "sgd/none half-fail lr worked out by hand")
    diff = md_table_after(text[text.index("**Batch norm against none:**"):],
                          "**Batch norm against none:**")
    check([r["optimizer"] for r in diff] == ["sgd", "momentum"], f"difference rows {diff}")
    for row in diff:
        opt = row["optimizer"]
        d_ = [b - a for a, b in zip(log_star[(opt, "none")], log_star[(opt, "batch")])]
        want = t_interval(d_)
        got = parse_ci(row["batch − none (decades) [95% interval]"])
        check(len(got) == 3 and all(close(g, w, 2) for g, w in zip(got, want)),
              f"difference {opt}: {got} vs {want}")
        cens = {"sgd": "1/3", "momentum": "3/3"}[opt]
        check(row["pairs with a censored seed"] == cens, f"difference {opt}: censored pairs")
    # sgd by hand: differences 1, 3, 1 decades -> +1.67 [-1.20, +4.54]
    check("+1.67 [-1.20, +4.54]" in md, "sgd difference worked out by hand")

    # Malformed claim files: exit 2 naming the file and the column.
    path = os.path.join(d, "timings.csv")
    edit_rows(path, lambda r: r[:3] + [r[3][:-3] + ["fast"] + r[3][-2:]] + r[4:])
    expect_error([d], path, "'median_s'", "fast", "line 4")
    rewrite(path, lambda t: t.replace(",median_s,", ",median,", 1))
    expect_error([d], path, "'median_s'")
    d, _ = batchstat_dir(os.path.join(tmp, "bad"))
    path = os.path.join(d, "batchstats.csv")
    edit_rows(path, lambda r: r[:2] + [r[2][:6] + ["n/a"]] + r[3:])
    expect_error([d], path, "'var_err'", "line 3")


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](os.path.join(tmp, "out"))
print(f"PASS {CASE}")
