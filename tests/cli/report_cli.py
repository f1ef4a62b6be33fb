#!/usr/bin/python3
"""Tests of scripts/report.py against a small synthetic sweep it runs itself:
sections and figures present, summary-table numbers recomputed independently from
runs.csv (with the csv module, not pandas), a partial sweep reported as partial, and
error cases (non-zero exit, message naming the file or column). claim-figures writes
small claim directories by hand (batchstats.csv, a runs.csv varying eval-stats, a timing
sweep with timings.csv and no runs.csv) and recomputes the numbers of their tables.
Usage: report_cli.py NORMLAB_BIN CASE"""
import csv
import json
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
