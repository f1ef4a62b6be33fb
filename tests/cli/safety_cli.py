#!/usr/bin/python3
"""Command-line tests that nothing is lost and nothing broken is trusted:
damaged part files are run again, sweep and merge do not overwrite other
results, bad numbers and files exit 2 before any run.
Usage: safety_cli.py NORMLAB_BIN CASE"""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile

from csv_rows import rows, write, run_ids
from argv import last_wins

BIN = sys.argv[1]
CASE = sys.argv[2]
CSVS = ["runs.csv", "curves.csv", "activations.csv", "batchstats.csv"]
DATA = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"

# 3 norms x 2 learning rates = 6 short runs.
GRID = f"""\
dataset = "{DATA}"
model = "mlp"
widths = [32, 16]
batch_size = 32
epochs = 2
norm = ["none", "batch", "layer"]
lr = [0.03, 0.1]
"""
GRID_RUNS = 6


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, expect=0, env=None):
    if args[:1] == ["train"]:  # TRAIN + overrides: a key given again replaces TRAIN's (train refuses a key twice)
        args = ["train", *last_wins(args[1:])]
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       env=None if env is None else dict(os.environ, **env))
    if p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p






def same_csvs(a, b):
    for f in CSVS:
        ra, rb = rows(os.path.join(a, f)), rows(os.path.join(b, f))
        check(ra == rb, f"{f} differs between {a} and {b}")


def no_footer(d):
    for f in CSVS:
        check("#part" not in open(os.path.join(d, f)).read(), f"{d}/{f} holds a part footer line")


def damage(parts, ids):
    """Four kinds of damage, one run each: emptied, cut to 300 bytes, random
    bytes, and a whole part of an older column layout (no checksum line)."""
    p = lambda i, kind: os.path.join(parts, f"{ids[i]}.{kind}.csv")
    open(p(0, "runs"), "w").close()
    with open(p(1, "curves"), "rb") as f:
        head = f.read(300)
    check(len(head) == 300, "curves part shorter than 300 bytes")
    with open(p(1, "curves"), "wb") as f:
        f.write(head)
    with open(p(2, "runs"), "wb") as f:
        f.write(random.Random(1).randbytes(500))
    text = open(p(3, "activations")).read()
    write(p(3, "activations"), "".join(l for l in text.splitlines(True) if not l.startswith("#")))


def case_damaged_parts(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    ref, out = os.path.join(tmp, "ref"), os.path.join(tmp, "out")
    normlab(["sweep", exp, "--out", ref, "-q"])
    normlab(["sweep", exp, "--out", out, "-q"])
    no_footer(out)
    same_csvs(ref, out)
    ids = run_ids(out)
    damage(os.path.join(out, "parts"), ids)
    p = normlab(["sweep", exp, "--out", out])
    check(f"ran 4, skipped {GRID_RUNS - 4}" in p.stderr, f"the 4 damaged runs should run again:\n{p.stderr}")
    for i in range(4):
        check(f"run {ids[i]}: not trusted" in p.stderr, f"the log should name damaged run {ids[i]}:\n{p.stderr}")
    check(f"{GRID_RUNS} of {GRID_RUNS} runs" in p.stderr, p.stderr)
    no_footer(out)
    same_csvs(ref, out)
    # A part whose checksum matches but whose columns are not today's is not trusted either.
    part = os.path.join(out, "parts", ids[5] + ".runs.csv")
    lines = open(part).read().splitlines(True)
    import hashlib
    content = lines[0].replace("run_id,", "run_id,old_column,", 1) + "".join(lines[1:-1])
    sealed_by = lines[-1][:lines[-1].rindex(" sha256=")]  # "#part run_id=ID numerics=NUM"
    write(part, content + f"{sealed_by} sha256=" + hashlib.sha256(content.encode()).hexdigest() + "\n")
    p = normlab(["sweep", exp, "--out", out])
    check("ran 1," in p.stderr and "current layout" in p.stderr, p.stderr)
    same_csvs(ref, out)


def case_store_symlinks(tmp):
    """A results folder whose ledger file, parts/ or ledger/ folder is a symlink is refused
    (exit 2, naming it) before any run: results or checksums would be written through
    the link into another file or folder, which stays as it was."""
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out = os.path.join(tmp, "out")
    normlab(["sweep", exp, "--out", out, "-q"])
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere)
    victim = write(os.path.join(elsewhere, "victim.txt"), "mine\n")
    for own in ["ledger/parts.sha256", "parts", "ledger"]:
        path = os.path.join(out, own)
        saved = os.path.join(tmp, "saved-" + own.replace("/", "-"))
        os.replace(path, saved)
        os.symlink(victim if own.endswith(".sha256") else elsewhere, path)
        before = sorted(os.listdir(elsewhere))
        p = normlab(["sweep", exp, "--out", out], expect=2)
        check(f"{path} is a symlink" in p.stderr, f"sweep with {own} a symlink: {p.stderr}")
        p = normlab(["verify", out], expect=1)  # verify reports it as a violation of the folder
        check(f"{path} is a symlink" in p.stdout, f"verify with {own} a symlink: {p.stdout}")
        check(open(victim).read() == "mine\n" and sorted(os.listdir(elsewhere)) == before,
              f"{own}: written through a symlink: {os.listdir(elsewhere)}")
        os.remove(path)
        os.replace(saved, path)
    p = normlab(["sweep", exp, "--out", out])
    check(f"skipped {GRID_RUNS}" in p.stderr, f"the folder, restored, should resume with nothing to run:\n{p.stderr}")


def case_damaged_merge(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    ref, a, b = (os.path.join(tmp, x) for x in ("ref", "a", "b"))
    normlab(["sweep", exp, "--out", ref, "-q"])
    normlab(["sweep", exp, "--out", a, "--shard", "0/2", "-q"])
    normlab(["sweep", exp, "--out", b, "--shard", "1/2", "-q"])
    damage(os.path.join(a, "parts"), run_ids(a)[:3] + run_ids(a)[:1])
    # Only damaged copies of three runs: merge leaves them out, says so, exits 1.
    m = os.path.join(tmp, "m")
    p = normlab(["merge", a, b, "--out", m], expect=1)
    check("3 run(s) missing" in p.stderr and "not used" in p.stderr, p.stderr)
    check(len(run_ids(m)) == GRID_RUNS - 3, f"merged runs.csv: {len(run_ids(m))} rows")
    no_footer(m)
    # A whole copy elsewhere is taken instead, and the merge is complete.
    p = normlab(["merge", a, b, ref, "--out", m])
    same_csvs(ref, m)
    no_footer(m)


def snapshot(d):
    return {f: open(os.path.join(d, f)).read() for f in ["runs.csv", "manifest.json"]}


def case_overwrite_guard(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    other = write(os.path.join(tmp, "other.toml"), GRID.replace("0.03", "0.05"))
    train, a = os.path.join(tmp, "train"), os.path.join(tmp, "a")
    normlab(["train", "--dataset", DATA, "--widths", "32,16", "--epochs", "1", "--out", train, "-q"])
    normlab(["sweep", exp, "--out", a, "-q"])
    held = {train: snapshot(train), a: snapshot(a)}
    # A train run's directory and another experiment's sweep: exit 2, nothing replaced.
    p = normlab(["sweep", exp, "--out", train], expect=2)
    check(train in p.stderr and "train" in p.stderr and "--force" in p.stderr, p.stderr)
    p = normlab(["sweep", other, "--out", a], expect=2)
    check(a in p.stderr and "'grid'" in p.stderr and "'other'" in p.stderr and "--force" in p.stderr, p.stderr)
    b0, b1, m = (os.path.join(tmp, x) for x in ("b0", "b1", "m"))
    normlab(["sweep", other, "--out", b0, "--shard", "0/2", "-q"])
    normlab(["sweep", other, "--out", b1, "--shard", "1/2", "-q"])
    p = normlab(["merge", b0, b1, "--out", a], expect=2)
    check(a in p.stderr and "'grid'" in p.stderr and "--force" in p.stderr, p.stderr)
    p = normlab(["merge", b0, b1, "--out", train], expect=2)
    check(train in p.stderr and "train" in p.stderr, p.stderr)
    for d, snap in held.items():
        check(snapshot(d) == snap, f"{d} was changed by a refused command")
    # The same experiment resumes into its own directory, and may grow.
    p = normlab(["sweep", exp, "--out", a])
    check(f"ran 0, skipped {GRID_RUNS}" in p.stderr, p.stderr)
    grown = write(os.path.join(tmp, "grid.toml"), GRID + "seeds = 2\n")
    p = normlab(["sweep", grown, "--out", a])
    check(f"ran {GRID_RUNS}, skipped {GRID_RUNS}" in p.stderr, p.stderr)
    # Merging the same experiment again into its merged directory is fine.
    normlab(["merge", b0, b1, "--out", m])
    # --force writes there anyway; the parts already there stay.
    normlab(["sweep", other, "--out", a, "--force", "-q"])
    check(len(run_ids(a)) == GRID_RUNS, "forced sweep of other")
    check(len(os.listdir(os.path.join(a, "parts"))) >= 4 * (2 * GRID_RUNS + 2), "forced sweep removed parts")
    normlab(["merge", b0, b1, "--out", train, "--force"])


TRAIN = ["train", "--dataset", DATA, "--widths", "32,16", "--batch-size", "32", "--epochs", "1", "-q"]
# Numbers a key cannot hold: (extra args, strings the message must hold, strings it must not).
NUMBERS = {
    "batch-wraps": (["--batch-size", "4294967360"], ["batch-size", "4294967360", "out of range", "1 to 2147483647"], []),
    "groups-wraps": (["--norm", "group", "--groups", "4294967304"], ["groups", "out of range", "1 to 2147483647"], []),
    "batch-huge": (["--batch-size", "99999999999999999999999"], ["batch-size", "out of range"], ["not an integer"]),
    "widths-wrap": (["--widths", "32,4294967312"], ["widths", "4294967312", "out of range"], []),
    "seed-negative": (["--seed", "-1"], ["seed", "0 to 9223372036854775807"], []),
    "threads": (["--threads", "100000"], ["threads", "1 to 256"], []),
    "epochs-overflow": (["--epochs", "1e19"], ["epochs", "limit of 1000000000000 steps"], []),
    "epochs-too-many-steps": (["--epochs", "1e11"], ["epochs", "limit", "epochs up to"], []),
    "steps-huge": (["--steps", "10000000000000"], ["steps", "out of range", "0 to 1000000000000"], []),
    "lr-underflow": (["--lr", "1e-320"], ["lr", "1e-320", "out of range"], ["not a number"]),
    "lr-overflow": (["--lr", "1e400"], ["lr", "out of range"], ["not a number"]),
}


def case_numbers(tmp):
    for name, (extra, needles, absent) in NUMBERS.items():
        out = os.path.join(tmp, name)
        p = normlab(TRAIN + extra + ["--out", out], expect=2)
        for n in needles:
            check(n in p.stderr, f"{name}: message does not hold '{n}':\n{p.stderr}")
        for n in absent:
            check(n not in p.stderr, f"{name}: message should not say '{n}':\n{p.stderr}")
        check(not os.path.exists(out), f"{name}: wrote {out}")
    # The same keys in an experiment file, before any run.
    exp = write(os.path.join(tmp, "wrap.toml"), GRID + "seeds = 1\ngroups = 4294967304\n")
    p = normlab(["sweep", exp, "--out", os.path.join(tmp, "wrap")], expect=2)
    check(f"{exp}:9:" in p.stderr and "groups" in p.stderr and "out of range" in p.stderr, p.stderr)
    check(not os.path.exists(os.path.join(tmp, "wrap")), "sweep with a wrapping value created its directory")
    # Threads and jobs: a limit named, not a 300-digit range, and no thread started.
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    for opt, val in [("--threads", "100000"), ("--jobs", "100000"), ("--jobs", "0"), ("--jobs", "-2")]:
        p = normlab(["sweep", exp, "--out", os.path.join(tmp, "j"), opt, val], expect=2)
        check(opt in p.stderr and "1 to 256" in p.stderr and len(p.stderr) < 300, f"sweep {opt} {val}:\n{p.stderr}")
    p = normlab(["claims", "--jobs", "0", "--only", "placement"], expect=2)
    check("--jobs" in p.stderr and "1 to 256" in p.stderr, p.stderr)
    p = normlab(["bench", "--threads", "100000"], expect=2)
    check("--threads" in p.stderr and "1 to 256" in p.stderr, p.stderr)
    check(not os.path.exists(os.path.join(tmp, "j")), "a refused sweep created its directory")


def case_bench_options(tmp):
    for args, needle in [(["--min-time", "-1"], "--min-time"), (["--min-time", "nan"], "--min-time"),
                         (["--min-time", "0"], "--min-time"), (["--tolerance", "-5"], "--tolerance"),
                         (["--tolerance", "nan"], "--tolerance")]:
        p = normlab(["bench", "--suite", "probe", *args], expect=2)
        check(needle in p.stderr and "allowed" in p.stderr, f"bench {args}:\n{p.stderr}")
        check("probe/" not in p.stdout, f"bench {args} timed something")
    # A filter that matches no case is a typo, refused before anything is timed.
    for args in (["--suite", "norm", "--filter", "nosuch"], ["--suite", "all", "--filter", "nosuch"],
                 ["--suite", "probe", "--filter", "triad"]):
        p = normlab(["bench", *args], expect=2)
        check("--filter" in p.stderr and "matches no case" in p.stderr and "probe/" not in p.stdout,
              f"bench {args}:\n{p.stdout}{p.stderr}")
    # A comma-separated filter keeps the cases that contain any of its texts, and
    # a step case carries its roofline bound and the multiple of it (CSV and table).
    csv_path = os.path.join(tmp, "bench.csv")
    p = normlab(["bench", "--suite", "step", "--filter", "step/mlp-none/b8,step/cnn-deep-bn/b2", "--min-time", "0.01",
                 "--csv", csv_path])
    with open(csv_path, newline="") as f:
        got = list(csv.DictReader(f))
    names = [r["name"] for r in got if not r["name"].startswith("probe/")]
    check(names == ["step/mlp-none/b8", "step/cnn-deep-bn/b2"], f"comma filter kept {names}")
    for r in got:
        b, x = float(r["bound_s"]), float(r["x_bound"])
        if r["name"].startswith("probe/"):
            check(b == 0 and x == 0, f"a probe has a bound: {r}")
        else:
            check(b > 0 and abs(x - float(r["median_s"]) / b) <= 0.01 * x, f"bound columns of {r}")
    check("xbound" in p.stdout.splitlines()[0], f"no xbound column in the table:\n{p.stdout}")
    # A baseline binary whose bench run fails is named with its exit code and the
    # command it was run as (an older normlab without bench --repeats fails so).
    fake = os.path.join(tmp, "old-normlab")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\nexit 3\n")
    os.chmod(fake, 0o755)
    p = normlab(["bench", "--suite", "norm", "--filter", "128x1024", "--min-time", "0.01", "--repeats", "3",
                 "--baseline-binary", fake], expect=1)
    check("exit 3" in p.stderr and "--repeats 3" in p.stderr and fake in p.stderr,
          f"failing baseline binary: exit {p.returncode}\n{p.stderr}")
    # A case's full name, as the table and CSV show it, selects that case in
    # every suite (norm and layer cases were once matched without their suite).
    full = ["norm/bn-fwd/128x1024", "layers/dense-fwdbwd/512x784x128", "step/mlp-bn/b8"]
    p = normlab(["bench", "--filter", ",".join(full), "--min-time", "0.01", "--csv", csv_path])
    with open(csv_path, newline="") as f:
        names = [r["name"] for r in csv.DictReader(f) if not r["name"].startswith("probe/")]
    check(names == full, f"full-name filter kept {names}, expected {full}")
    p = normlab(["bench", "--suite", "norm", "--filter", "norm/", "--min-time", "0.01", "--csv", csv_path])
    with open(csv_path, newline="") as f:
        names = [r["name"] for r in csv.DictReader(f) if not r["name"].startswith("probe/")]
    check(len(names) == 10 and all(n.startswith("norm/") for n in names), f"suite-prefix filter kept {names}")


def idx(dims, payload):
    import struct
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(payload)


def case_no_test_images(tmp):
    d = os.path.join(tmp, "idx")
    os.makedirs(d)
    for split, n in (("train", 20), ("t10k", 0)):
        with open(os.path.join(d, split + "-images-idx3-ubyte"), "wb") as f:
            f.write(idx([n, 4, 4], [(i * 7) % 256 for i in range(n * 16)]))
        with open(os.path.join(d, split + "-labels-idx1-ubyte"), "wb") as f:
            f.write(idx([n], [i % 10 for i in range(n)]))
    out = os.path.join(tmp, "t")
    p = normlab(["train", "--dataset", "idx:" + d, "--batch-size", "4", "--out", out], expect=2)
    check("dataset" in p.stderr and "no test images" in p.stderr and "at least 1" in p.stderr, p.stderr)
    check(not os.path.exists(out), "a run with no test images wrote results")
    exp = write(os.path.join(tmp, "e.toml"), f'dataset = "idx:{d}"\nbatch_size = 4\nlr = [0.1, 0.2]\n')
    p = normlab(["sweep", exp, "--out", out], expect=2)
    check("no test images" in p.stderr, p.stderr)
    check(not os.path.exists(os.path.join(out, "runs.csv")), "a sweep with no test images wrote runs.csv")


def case_two_spellings(tmp):
    run = write(os.path.join(tmp, "run.toml"), "norm = 'batch'\nbatch-size = 16\nlr = 0.1\nbatch_size = 32\n")
    out = os.path.join(tmp, "t")
    p = normlab(TRAIN + ["--config", run, "--out", out], expect=2)
    check(f"{run}:4:" in p.stderr and f"{run}:2:" in p.stderr and "batch_size" in p.stderr
          and "batch-size" in p.stderr, p.stderr)
    check(not os.path.exists(out), "train with a key given twice wrote results")
    # A list in a run file is a sweep axis, not a value train can take.
    lst = write(os.path.join(tmp, "list.toml"), "norm = 'batch'\nlr = [0.1, 0.2]\n")
    p = normlab(TRAIN + ["--config", lst, "--out", out], expect=2)
    check(f"{lst}:2:" in p.stderr and "lr" in p.stderr and "normlab sweep" in p.stderr, p.stderr)
    exp = write(os.path.join(tmp, "e.toml"), GRID + "batch-size = [32, 64]\n")
    p = normlab(["sweep", exp, "--out", out], expect=2)
    check(f"{exp}:8:" in p.stderr and f"{exp}:4:" in p.stderr, p.stderr)
    check(not os.path.exists(out), "sweep with a key given twice created its directory")


def case_experiment_file(tmp):
    # Run from tmp: the default output directory is results/NAME under the working directory.
    work = os.path.join(tmp, "work")
    os.makedirs(work)
    def sweep_here(args, expect):
        p = subprocess.run([BIN, "sweep", *args], capture_output=True, text=True, cwd=work)
        check(p.returncode == expect, f"sweep {args}: exit {p.returncode}, expected {expect}:\n{p.stderr}")
        return p
    p = sweep_here(["/dev/null"], 2)
    check("/dev/null" in p.stderr and "no keys" in p.stderr, p.stderr)
    for name in ["../../escape", "a/b", ".."]:
        exp = write(os.path.join(tmp, "esc.toml"), f'name = "{name}"\n' + GRID)
        p = sweep_here([exp], 2)
        check(f"{exp}:1:8: name: '{name}'" in p.stderr, p.stderr)
    check(os.listdir(work) == [] and sorted(os.listdir(tmp)) == ["esc.toml", "work"],
          f"a refused experiment wrote files: {os.listdir(tmp)} {os.listdir(work)}")


def case_concurrent_shards(tmp):
    # Two shards in one directory at once, several times: both finish (no clash of
    # temporary names while assembling), every part is whole, no temporary file is left.
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    for i in range(4):
        out = os.path.join(tmp, f"out{i}")
        procs = [subprocess.Popen([BIN, "sweep", exp, "--out", out, "--shard", f"{k}/2", "--jobs", "1", "-q"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in (0, 1)]
        for pr in procs:
            _, err = pr.communicate()
            check(pr.returncode == 0, f"round {i}: a shard exited {pr.returncode}:\n{err}")
        p = normlab(["sweep", exp, "--out", out])
        check(f"ran 0, skipped {GRID_RUNS}" in p.stderr, p.stderr)
        left = [f for d in (out, os.path.join(out, "parts")) for f in os.listdir(d) if ".tmp" in f]
        check(not left, f"temporary files left: {left}")


def case_limits(tmp):
    # A grid too big to run is refused from its size alone, before it is expanded
    # (seeds = 4294967296 used to fill memory), and so is --dry-run; the limit is
    # NORMLAB_MAX_RUNS.
    out = os.path.join(tmp, "out")
    big = write(os.path.join(tmp, "seeds.toml"), GRID + "seeds = 4294967296\n")
    for extra in ([], ["--dry-run"]):
        p = normlab(["sweep", big, "--out", out, *extra], expect=2)
        check(f"{big}:8:" in p.stderr and "seeds" in p.stderr and "4294967296" in p.stderr
              and "limit of 100000 runs" in p.stderr and "NORMLAB_MAX_RUNS" in p.stderr, p.stderr)
    p = normlab(["sweep", write(os.path.join(tmp, "wide.toml"), GRID + "seeds = 99999999999999999999\n"),
                 "--out", out], expect=2)
    check("wide.toml:8:" in p.stderr, p.stderr)
    lrs = ", ".join(f"{0.001 * (i + 1):.6g}" for i in range(2000))
    wide = write(os.path.join(tmp, "lrs.toml"), GRID.replace("lr = [0.03, 0.1]", f"lr = [{lrs}]") + "seeds = 200\n")
    p = normlab(["sweep", wide, "--out", out, "--dry-run"], expect=2)
    check(f"{wide}:" in p.stderr and "1200000 runs" in p.stderr and "limit of 100000 runs" in p.stderr
          and "NORMLAB_MAX_RUNS=1200000" in p.stderr, p.stderr)
    rnd = write(os.path.join(tmp, "rnd.toml"), GRID.replace("lr = [0.03, 0.1]\n", "") +
                "[random]\nsamples = 4294967296\nlr = { log_uniform = [0.01, 1.0] }\n")
    p = normlab(["sweep", rnd, "--out", out, "--dry-run"], expect=2)
    check("random.samples" in p.stderr and "limit of 100000 runs" in p.stderr, p.stderr)
    # The limit can be lowered and raised, and a bad value of it is named.
    p = normlab(["sweep", wide, "--out", out, "--dry-run", "--set", "seeds=1"], expect=2,
                env={"NORMLAB_MAX_RUNS": "1000"})
    check("6000 runs" in p.stderr and "limit of 1000 runs" in p.stderr, p.stderr)
    p = normlab(["sweep", big, "--out", out], expect=2, env={"NORMLAB_MAX_RUNS": "lots"})
    check("NORMLAB_MAX_RUNS" in p.stderr and "'lots'" in p.stderr and "whole number" in p.stderr, p.stderr)
    grid = write(os.path.join(tmp, "grid.toml"), GRID)
    p = normlab(["sweep", grid, "--out", out, "--dry-run"], env={"NORMLAB_MAX_RUNS": str(GRID_RUNS)})
    check(f"{GRID_RUNS} runs" in p.stderr, p.stderr)
    # A model too big for memory: refused from the layer shapes, before it is built.
    for extra, needles in [(["--widths", "32,100000000"], ["widths=32,100000000"]),
                           (["--eval-batch", "2000000000"], ["eval-batch=2000000000"])]:
        p = normlab(TRAIN + extra + ["--out", out], expect=2)
        for n in needles + ["model memory", "MiB", "limit of 8192 MiB", "NORMLAB_MAX_MEMORY_MB"]:
            check(n in p.stderr, f"{extra}: message does not hold '{n}':\n{p.stderr}")
    p = normlab(TRAIN + ["--out", out], expect=2, env={"NORMLAB_MAX_MEMORY_MB": "0"})
    check("NORMLAB_MAX_MEMORY_MB" in p.stderr and "'0'" in p.stderr, p.stderr)
    huge = write(os.path.join(tmp, "huge.toml"), GRID.replace("widths = [32, 16]", "widths = [[32, 16], [32, 100000000]]"))
    p = normlab(["sweep", huge, "--out", out], expect=2)
    check("model memory" in p.stderr and "widths=32,100000000" in p.stderr, p.stderr)
    check(not os.path.exists(out), "a refused command created its output directory")


def case_file_too_large(tmp):
    # Under `ulimit -f` a write fails with EFBIG (SIGXFSZ is ignored): the message
    # names the path and the reason, no temporary file is left, earlier results stay.
    out = os.path.join(tmp, "t")
    args = ["train", *last_wins(TRAIN[1:] + ["--epochs", "10", "--eval-every", "1", "--out", out])]
    normlab(args)
    before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}
    check(len(before["curves.csv"]) > 16 * 1024, f"curves.csv is only {len(before['curves.csv'])} bytes")
    cmd = " ".join(subprocess.list2cmdline([a]) for a in [BIN, *args])
    p = subprocess.run(["bash", "-c", f"ulimit -f 8; exec {cmd}"], capture_output=True, text=True)
    check(p.returncode == 1, f"exit {p.returncode} under ulimit -f:\n{p.stderr}")
    check("File too large" in p.stderr and os.path.join(out, "curves.csv") in p.stderr
          and len(p.stderr.strip().splitlines()) == 1, p.stderr)
    check(sorted(os.listdir(out)) == sorted(before), f"files left: {os.listdir(out)}")
    check({f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)} == before,
          "earlier results changed")
    # A sweep: each part is small, the assembled CSVs are not.
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    s = os.path.join(tmp, "s")
    normlab(["sweep", exp, "--out", s, "-q"])
    held = snapshot(s)
    grown = write(os.path.join(tmp, "grid.toml"), GRID + "seeds = 2\n")
    cmd = subprocess.list2cmdline([BIN, "sweep", grown, "--out", s, "-q"])
    p = subprocess.run(["bash", "-c", f"ulimit -f 8; exec {cmd}"], capture_output=True, text=True)
    check(p.returncode == 1 and "File too large" in p.stderr and s in p.stderr, f"exit {p.returncode}:\n{p.stderr}")
    left = [f for d in (s, os.path.join(s, "parts")) for f in os.listdir(d) if ".tmp" in f]
    check(not left, f"temporary files left: {left}")
    check(snapshot(s)["runs.csv"] == held["runs.csv"], "runs.csv changed by a failed write")


def case_disk_full(tmp):
    # A full file system (a small tmpfs; skipped where it cannot be mounted).
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt], capture_output=True).returncode:
        print("SKIP: cannot mount a tmpfs")
        sys.exit(77)
    try:
        out = os.path.join(mnt, "t")
        p = normlab(TRAIN + ["--epochs", "10", "--eval-every", "1", "--out", out], expect=1)
        check("No space left on device" in p.stderr and out in p.stderr, p.stderr)
        check(not [f for f in os.listdir(out) if ".tmp" in f], f"temporary files left: {os.listdir(out)}")
    finally:
        subprocess.run(["umount", mnt])


def case_out_paths(tmp):
    # Paths that cannot take the results are refused before training, for root too.
    file = write(os.path.join(tmp, "file"), "x\n")
    long_name = os.path.join(tmp, "n" * 300)
    long_path = os.path.join(tmp, *(["d" * 200] * 25))
    bad_dirs = [(file, "it is a file, not a directory"), (file + "/sub", "Not a directory"),
                ("", "empty path"), (long_name, "File name too long"), (long_path, "File name too long"),
                ("/proc/normlab-out", "cannot write to /proc/normlab-out")]
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    for d, reason in bad_dirs:
        for cmd in (TRAIN + ["--out", d], ["sweep", exp, "--out", d, "-q"]):
            p = normlab(cmd, expect=2)
            check("--out" in p.stderr and reason in p.stderr and "filesystem" not in p.stderr
                  and "ran " not in p.stderr and "what()" not in p.stderr, f"{cmd}:\n{p.stderr}")
    shards = [os.path.join(tmp, f"b{k}") for k in (0, 1)]
    for k, b in enumerate(shards):
        normlab(["sweep", exp, "--out", b, "--shard", f"{k}/2", "-q"])
    p = normlab(["merge", *shards, "--out", file + "/sub"], expect=2)
    check("--out" in p.stderr and "Not a directory" in p.stderr, p.stderr)
    # --save-weights and --log-file, before any training.
    out = os.path.join(tmp, "t")
    for opt, path, reason in [("--save-weights", os.path.join(tmp, "missing", "w.safetensors"), "does not exist"),
                              ("--save-weights", file + "/w.safetensors", "is a file, not a directory"),
                              ("--save-weights", tmp, "it is a directory"),
                              ("--log-file", file + "/x.log", "is a file, not a directory"),
                              ("--log-file", tmp, "it is a directory")]:
        p = normlab(TRAIN + ["--out", out, opt, path], expect=2)
        check(opt in p.stderr and reason in p.stderr and "step" not in p.stderr, f"{opt} {path}:\n{p.stderr}")
        check(not os.path.exists(os.path.join(out, "runs.csv")), f"{opt} {path}: trained anyway")
    # Weights inside --out (created by the run) are fine.
    normlab(TRAIN + ["--out", out, "--save-weights", os.path.join(out, "w.safetensors")])
    check(os.path.exists(os.path.join(out, "w.safetensors")), "weights not written")
    # The data directory, before any download.
    p = normlab(["data", "fetch", "mnist"], expect=2, env={"NORMLAB_DATA": file + "/data"})
    check("NORMLAB_DATA" in p.stderr and "Not a directory" in p.stderr, p.stderr)
    p = normlab(["data", "fetch", "mnist"], expect=2, env={"NORMLAB_DATA": file})
    check("NORMLAB_DATA" in p.stderr and "not a directory" in p.stderr, p.stderr)
    # claims --out
    claims_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "experiments", "claims")
    p = normlab(["claims", "--dir", claims_dir, "--only", "placement", "--out", file + "/c"], expect=2)
    check("--out" in p.stderr and "Not a directory" in p.stderr, p.stderr)
    check(open(file).read() == "x\n", "the regular file was changed")


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](tmp)
print(f"PASS {CASE}")
