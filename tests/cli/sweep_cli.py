#!/usr/bin/python3
"""Command-line tests of `normlab sweep` and `normlab merge`: kill -9 and resume,
shards and merge, --jobs, --fresh, --dry-run, bad experiment files.
Usage: sweep_cli.py NORMLAB_BIN CASE

Every comparison is between parsed CSVs with the time columns removed: all
other fields, the header and the row order must be identical."""
import csv
import json
import re
import os
import signal
import subprocess
import sys
import tempfile
import time

from csv_rows import TIME_COLS, rows, write, run_ids, ledger

BIN = sys.argv[1]
CASE = sys.argv[2]
CSVS = ["runs.csv", "curves.csv", "activations.csv", "batchstats.csv"]

# 4 norms x 2 learning rates x 2 seeds = 16 runs of a few tenths of a second each.
GRID = """\
# sweep_cli.py test grid
dataset = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"
model = "mlp"
widths = [32, 16]
batch_size = 32
epochs = 4
norm = ["none", "batch", "layer", "group"]
lr = [
  0.03,   # multi-line list with comments
  0.1,
]
seeds = 2
"""
GRID_RUNS = 16


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def sweep(args, expect=0):
    p = subprocess.run([BIN, "sweep", *args], capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"FAIL: sweep exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def merge(args, expect=0):
    p = subprocess.run([BIN, "merge", *args], capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"FAIL: merge exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stderr:\n{p.stderr}")
    return p






def same_csvs(a, b):
    for f in CSVS:
        ra, rb = rows(os.path.join(a, f)), rows(os.path.join(b, f))
        check(ra[0] == rb[0], f"{f}: headers differ between {a} and {b}")
        check(len(ra) == len(rb), f"{f}: {len(ra) - 1} rows in {a}, {len(rb) - 1} in {b}")
        for i, (x, y) in enumerate(zip(ra, rb)):
            check(x == y, f"{f}: row {i} differs between {a} and {b}:\n  {x}\n  {y}")


def sound(d, expect_runs=GRID_RUNS):
    """A complete sweep directory: every run once, every run's rows present."""
    ids = run_ids(d)
    check(len(ids) == expect_runs, f"{d}/runs.csv has {len(ids)} runs, expected {expect_runs}")
    check(len(set(ids)) == len(ids), f"{d}/runs.csv lists a run_id twice")
    for f in ["curves.csv", "activations.csv"]:
        with open(os.path.join(d, f), newline="") as fh:
            seen = {r["run_id"] for r in csv.DictReader(fh)}
        check(seen == set(ids), f"{d}/{f}: run_ids do not match runs.csv")
    with open(os.path.join(d, "runs.csv"), newline="") as fh:
        for r in csv.DictReader(fh):
            check(r["status"] in ("ok", "diverged"), f"run {r['run_id']}: status {r['status']}")
    with open(os.path.join(d, "manifest.json")) as fh:
        m = json.load(fh)
    check([r["run_id"] for r in m["runs"]] == ids, f"{d}/manifest.json: runs differ from runs.csv")
    check(m["grid_hash"] and m["experiment"]["text"], f"{d}/manifest.json lacks the experiment")


def reference(tmp, exp):
    """An uninterrupted sweep of the whole grid."""
    ref = os.path.join(tmp, "ref")
    sweep([exp, "--out", ref, "--jobs", "2", "-q"])
    sound(ref)
    return ref


def case_dry_run(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    p = sweep([exp, "--dry-run"])
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    check(len(lines) == GRID_RUNS, f"--dry-run listed {len(lines)} runs, expected {GRID_RUNS}:\n{p.stdout}")
    check(not os.path.exists(os.path.join(tmp, "results")), "--dry-run wrote results")
    # Listed in grid order with the run_ids the sweep writes.
    listed = [l.split()[1] for l in lines]
    check(len(set(listed)) == GRID_RUNS, "--dry-run lists a run_id twice")
    check(all("norm=" in l for l in lines[4:]), "--dry-run lines show the keys that differ")
    ref = reference(tmp, exp)
    check(listed == run_ids(ref), "--dry-run run_ids/order differ from runs.csv")
    # The shard listing is the matching subset.
    p0 = sweep([exp, "--dry-run", "--shard", "1/3"])
    l0 = [l.split()[1] for l in p0.stdout.splitlines() if l.strip()]
    check(l0 == listed[1::3], "--dry-run --shard 1/3 is not every third run from the second")
    # What the sweep would refuse, the dry run refuses too (exit 2, nothing written),
    # and an option it would ignore is refused, not dropped.
    groups = write(os.path.join(tmp, "groups.toml"), GRID.replace("seeds = 2", "groups = 5\nseeds = 2"))
    p = sweep([groups, "--dry-run"], expect=2)
    check("groups" in p.stderr and "5" in p.stderr, f"--dry-run listed runs whose model cannot be built:\n{p.stderr}")
    for opt in (["--jobs", "2"], ["--threads", "1"]):
        p = sweep([exp, "--dry-run", *opt], expect=2)
        check(opt[0] in p.stderr, f"--dry-run {opt[0]}: the refusal does not name it:\n{p.stderr}")
    sweep([exp, "--dry-run", "--fresh", "--shard", "1/2"], expect=2)
    os.makedirs(os.path.join(tmp, "changed"))
    changed = write(os.path.join(tmp, "changed", "grid.toml"), GRID.replace("epochs = 4", "epochs = 3"))
    p = sweep([changed, "--dry-run", "--out", ref], expect=2)
    check("other fixed settings" in p.stderr, f"--dry-run into a folder of other fixed settings:\n{p.stderr}")
    p = sweep([changed, "--dry-run", "--out", ref, "--force-new"])
    check(ref + "-2" in p.stderr and not os.path.exists(ref + "-2"),
          f"--dry-run --force-new names the new folder and creates nothing:\n{p.stderr}")
    other = write(os.path.join(tmp, "other.toml"), GRID.replace("# sweep_cli.py test grid", 'name = "other"'))
    sweep([other, "--dry-run", "--out", ref], expect=2)
    sweep([other, "--dry-run", "--out", ref, "--force"])
    check(not os.path.exists(os.path.join(tmp, "results")), "a refused --dry-run wrote results")


def case_kill_resume(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    ref = reference(tmp, exp)
    out = os.path.join(tmp, "killed")
    parts = os.path.join(out, "parts")
    cmd = [BIN, "sweep", exp, "--out", out, "--jobs", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline:
        done = len([f for f in os.listdir(parts) if f.endswith(".runs.csv")]) \
            if os.path.isdir(parts) else 0
        if done >= 3 or proc.poll() is not None:
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check(proc.returncode == -signal.SIGKILL, f"the sweep finished before the kill (exit {proc.returncode})")
    done = len([f for f in os.listdir(parts) if f.endswith(".runs.csv")])
    check(0 < done < GRID_RUNS, f"kill did not land mid-sweep: {done} of {GRID_RUNS} runs complete")
    # A killed sweep has not assembled: runs.csv, if any, is an older one and never partial.
    if os.path.exists(os.path.join(out, "runs.csv")):
        check(len(run_ids(out)) < GRID_RUNS, "runs.csv complete after a kill")
    # A half-written part of a run that did not finish must not be trusted: plant
    # garbage .tmp files for a run with no part, as a kill during a write leaves them.
    pending = [r for r in run_ids(ref)
               if not os.path.exists(os.path.join(parts, r + ".runs.csv"))]
    check(pending, "no pending run left after the kill")
    victim = pending[0]
    for kind in ["curves", "activations", "batchstats", "runs"]:
        write(os.path.join(parts, f"{victim}.{kind}.csv.tmp"), "run_id\nGARBAGE,HALF-A-ROW")
    p = sweep(cmd[2:])
    check("GARBAGE" not in p.stderr, "resume read a .tmp file")
    sound(out)
    for f in CSVS:
        check("GARBAGE" not in open(os.path.join(out, f)).read(), f"{f} holds a row from a .tmp file")
    same_csvs(ref, out)
    # Resuming a complete sweep runs nothing and changes nothing.
    before = {f: rows(os.path.join(out, f)) for f in CSVS}
    p = sweep(cmd[2:-1])
    check("ran 0, skipped 16" in p.stderr, f"a complete sweep should skip every run:\n{p.stderr}")
    for f in CSVS:
        check(rows(os.path.join(out, f)) == before[f], f"{f} changed on a no-op resume")


def case_shard_merge(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    ref = reference(tmp, exp)
    a, b, c = (os.path.join(tmp, x) for x in ("shard0", "shard1", "merged"))
    sweep([exp, "--out", a, "--shard", "0/2", "--jobs", "1", "-q"])
    sweep([exp, "--out", b, "--shard", "1/2", "--jobs", "2", "-q"])
    check(len(run_ids(a)) == GRID_RUNS // 2 and len(run_ids(b)) == GRID_RUNS // 2,
          "each of 2 shards holds half the runs")
    check(not set(run_ids(a)) & set(run_ids(b)), "shards overlap")
    merge([a, b, "--out", c])
    sound(c)
    same_csvs(ref, c)
    with open(os.path.join(c, "manifest.json")) as fh:
        check(json.load(fh)["merged_from"] == [a, b], "merged manifest names its shards")
    # Merging again, or a shard with itself, de-duplicates by run_id.
    c2 = os.path.join(tmp, "merged2")
    merge([a, b, a, ref, "--out", c2])
    sound(c2)
    same_csvs(ref, c2)
    # One shard missing: exit 1, the missing runs reported.
    p = merge([a, "--out", os.path.join(tmp, "half")], expect=1)
    check("missing" in p.stderr and str(GRID_RUNS // 2) in p.stderr,
          f"merge with a shard missing should say {GRID_RUNS // 2} runs are missing:\n{p.stderr}")
    # Shards of different experiments: exit 2, naming both.
    other = write(os.path.join(tmp, "other.toml"), GRID.replace("0.03", "0.05"))
    d = os.path.join(tmp, "otherdir")
    sweep([other, "--out", d, "--shard", "1/2", "-q"])
    p = merge([a, d, "--out", os.path.join(tmp, "bad")], expect=2)
    check(a in p.stderr and d in p.stderr and "'grid'" in p.stderr and "'other'" in p.stderr,
          f"mismatched merge should name both directories and experiments:\n{p.stderr}")
    check(not os.path.exists(os.path.join(tmp, "bad", "runs.csv")), "mismatched merge wrote runs.csv")


def case_jobs(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    one, two = os.path.join(tmp, "j1"), os.path.join(tmp, "j2")
    sweep([exp, "--out", one, "--jobs", "1", "-q"])
    sweep([exp, "--out", two, "--jobs", "2", "-q"])
    sound(one)
    sound(two)
    same_csvs(one, two)


def case_run_error(tmp):
    # Runs that fail while training (test-only switch: group-norm runs throw at step 3)
    # are recorded with status error and their message, the other runs complete, the
    # sweep exits 1; a rerun retries only the failed runs and matches a clean sweep.
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out, ref = os.path.join(tmp, "out"), os.path.join(tmp, "ref")
    p = subprocess.run([BIN, "sweep", exp, "--out", out, "-q"], capture_output=True, text=True,
                       env=dict(os.environ, NORMLAB_FAULT_THROW_NORM="group"))
    check(p.returncode == 1, f"a sweep with failed runs should exit 1, got {p.returncode}:\n{p.stderr}")
    with open(os.path.join(out, "runs.csv"), newline="") as f:
        runs = list(csv.DictReader(f))
    status = [(r["norm"], r["status"]) for r in runs]
    check(len(runs) == GRID_RUNS, f"runs.csv should hold every run, has {len(runs)}")
    check(all((s == "error") == (n == "group") for n, s in status), f"statuses: {status}")
    check(all("injected fault" in r["message"] for r in runs if r["status"] == "error"), "error message missing")
    p = sweep([exp, "--out", out])
    check("ran 4, skipped 12" in p.stderr, f"a rerun should retry only the 4 failed runs:\n{p.stderr}")
    sweep([exp, "--out", ref, "-q"])
    same_csvs(ref, out)


def case_fresh(tmp):
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out = os.path.join(tmp, "out")
    sweep([exp, "--out", out, "-q"])
    old_parts = sorted(os.listdir(os.path.join(out, "parts")))
    before = {f: rows(os.path.join(out, f)) for f in CSVS}
    p = sweep([exp, "--out", out, "--fresh"])
    check("ran 16, skipped 0" in p.stderr, f"--fresh should rerun every run:\n{p.stderr}")
    old = os.path.join(out, "parts.old-1")
    check(os.path.isdir(old), "--fresh did not move the old parts to parts.old-1")
    check(sorted(os.listdir(old)) == old_parts, "parts.old-1 does not hold the old parts")
    sound(out)
    for f in CSVS:
        check(rows(os.path.join(out, f)) == before[f], f"{f}: a fresh rerun gave different results")
    sweep([exp, "--out", out, "--fresh", "-q"])
    check(os.path.isdir(os.path.join(out, "parts.old-2")), "a second --fresh must not overwrite parts.old-1")


def case_set_and_profile(tmp):
    exp = write(os.path.join(tmp, "grid.toml"),
                GRID + '\n[profile.quick]\nnorm = ["batch", "layer"]\nseeds = 1\n')
    p = sweep([exp, "--dry-run", "--profile", "quick"])
    check(len(p.stdout.splitlines()) == 4, f"profile quick: 2 norms x 2 lr x 1 seed:\n{p.stdout}")
    p = sweep([exp, "--dry-run", "--set", "lr=0.5", "--set", "norm=layer"])
    lines = p.stdout.splitlines()
    check(len(lines) == 2, f"--set collapses the lr and norm axes (2 seeds left):\n{p.stdout}")
    # The runs share lr and norm now: named once, in the dry-run's "every run:" line.
    shared = p.stderr.split("every run:")[-1]
    check("lr=0.5" in shared and "norm=layer" in shared and all("seed=" in l for l in lines),
          f"--set not applied:\n{p.stdout}{p.stderr}")
    p = sweep([exp, "--dry-run", "--set", "learning_rate=0.5"], expect=2)
    check("--set learning_rate" in p.stderr and "unknown key" in p.stderr, f"--set unknown key:\n{p.stderr}")
    p = sweep([exp, "--dry-run", "--set", "lr=fast"], expect=2)
    check("--set lr" in p.stderr and "fast" in p.stderr, f"--set bad value:\n{p.stderr}")
    p = sweep([exp, "--dry-run", "--set", "seeds=two"], expect=2)
    check("seeds" in p.stderr, f"--set seeds=two:\n{p.stderr}")
    p = sweep([exp, "--dry-run", "--profile", "nope"], expect=2)
    check(exp in p.stderr and "nope" in p.stderr and "quick" in p.stderr,
          f"unknown profile should name the file, the profile and the defined ones:\n{p.stderr}")


# Bad experiment files: (file text, [strings the message must hold]). "{f}" is
# the file's path; each line-numbered message must name FILE:LINE: and the key.
HEAD = 'dataset = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"\nwidths = [32, 16]\n'
BAD = {
    "unknown-key": (HEAD + "learning_rate = 0.1\n", ["{f}:3:", "learning_rate", "unknown key"]),
    "wrong-type": (HEAD + 'lr = "fast"\n', ["{f}:3:", "lr", "fast"]),
    "wrong-type-in-list": (HEAD + "lr = [0.1,\n  true]\n", ["{f}:4:", "lr"]),
    "empty-list": (HEAD + "norm = []\n", ["{f}:3:", "norm", "empty list"]),
    "invalid-norm": (HEAD + 'norm = ["batch", "weird"]\n', ["{f}:3:", "norm", "weird",
                                                           "none, batch, layer, group"]),
    "zero-lr": (HEAD + "lr = 0\n", ["{f}:3:", "lr"]),
    "negative-lr": (HEAD + "lr = [0.1, -0.5]\n", ["{f}:3:", "lr", "-0.5"]),
    "bad-seeds": (HEAD + 'seeds = "three"\n', ["{f}:3:", "seeds"]),
    "several": (HEAD + 'learning_rate = 0.1\nnorm = "weird"\nbatch_size = "big"\nepochs = []\n',
                ["{f}:3:", "learning_rate", "{f}:5:", "batch-size", "big", "{f}:6:", "epochs"]),
    "several-values": (HEAD + 'norm = "weird"\nlr = -1\n', ["{f}:3:", "norm", "{f}:4:", "lr"]),
    "syntax": (HEAD + "lr = [0.1, 0.2\nnorm = 'batch'\n", ["{f}:4:"]),
    "exclude-unknown-key": (HEAD + "norm = ['batch', 'layer']\n[[exclude]]\nnrom = 'batch'\n",
                            ["{f}:5:", "nrom"]),
    "random-bad-range": (HEAD + "[random]\nsamples = 3\nlr = { log_uniform = [0, 1] }\n",
                         ["{f}:5:", "lr", "log_uniform"]),
    "unknown-table": (HEAD + "[sweep]\nlr = 0.1\n", ["{f}:3:", "sweep"]),
}


def case_bad_input(tmp):
    for name, (text, needles) in BAD.items():
        f = write(os.path.join(tmp, f"{name}.toml"), text)
        out = os.path.join(tmp, name)
        p = sweep([f, "--out", out], expect=2)
        for n in needles:
            n = n.format(f=f)
            check(n in p.stderr, f"{name}: message does not name '{n}':\n{p.stderr}")
        check(not os.path.exists(out), f"{name}: created the sweep directory")


def case_groups_not_dividing(tmp):
    # groups=5 divides neither 32 nor 16: found when the models are built, before any run.
    f = write(os.path.join(tmp, "groups.toml"),
              HEAD + 'norm = ["batch", "group"]\ngroups = 5\nlr = [0.1, 0.2]\nseeds = 2\n')
    out = os.path.join(tmp, "groups")
    p = sweep([f, "--out", out], expect=2)
    for n in [f, "groups", "5"]:
        check(n in p.stderr, f"groups: message does not name '{n}':\n{p.stderr}")
    check(p.stderr.count("norm=group") == 1, f"groups: one problem per distinct model:\n{p.stderr}")
    check(not os.path.exists(os.path.join(out, "runs.csv")), "groups: runs.csv written")
    parts = os.path.join(out, "parts")
    check(not os.path.isdir(parts) or not os.listdir(parts), "groups: a run was started")


def case_random(tmp):
    f = write(os.path.join(tmp, "rnd.toml"),
              HEAD + 'norm = ["batch", "layer"]\n[random]\nsamples = 5\nseed = 7\n'
                     'lr = { log_uniform = [1e-3, 1.0] }\n')
    p1 = sweep([f, "--dry-run"])
    p2 = sweep([f, "--dry-run"])
    check(p1.stdout == p2.stdout, "random mode is not deterministic")
    lines = p1.stdout.splitlines()
    check(len(lines) == 10, f"5 draws x 2 norms:\n{p1.stdout}")
    lrs = {float(tok[3:]) for l in lines for tok in l.split() if tok.startswith("lr=")}
    check(len(lrs) == 5 and all(1e-3 <= x <= 1.0 for x in lrs), f"lr draws {sorted(lrs)}")


# Runs of about a second each, so a signal or a second writer lands mid-run.
SLOW = GRID.replace("epochs = 4", "epochs = 200")




def start_slow(tmp, out, extra=()):
    exp = write(os.path.join(tmp, "slow.toml"), SLOW)
    proc = subprocess.Popen([BIN, "sweep", exp, "--out", out, "--jobs", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parts = os.path.join(out, "parts")
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if os.path.isdir(parts) and len([f for f in os.listdir(parts) if f.endswith(".runs.csv")]) >= 2:
            break
        time.sleep(0.05)
    check(proc.poll() is None, "the slow sweep ended before it could be interrupted")
    return exp, proc


def case_interrupt(tmp):
    """SIGTERM and SIGINT: one line saying what finished and how to resume, exit 143 / 130,
    the run in flight abandoned with nothing of it kept; the resume gives the same bytes."""
    for sig, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        out = os.path.join(tmp, f"sig{int(sig)}")
        exp, proc = start_slow(tmp, out)
        # Signal just after a part appears, so a run has just started: a signal in the last
        # moments of a run (its final evaluation and write) lets it finish, abandoning none.
        parts = os.path.join(out, "parts")
        count = lambda: len([f for f in os.listdir(parts) if f.endswith(".runs.csv")])
        seen, deadline = count(), time.time() + 60
        while count() == seen and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        check(proc.returncode == code, f"exit {proc.returncode} after signal {int(sig)}, expected {code}:\n{err}")
        check(f"stopped by signal {int(sig)}" in err and "Run the same command again to resume" in err,
              f"no resume line:\n{err}")
        rec = ledger(out)[0]
        check(rec["state"] == "interrupted" and rec["abandoned"], f"ledger {rec}")
        for rid in rec["abandoned"]:
            check(not [f for f in os.listdir(os.path.join(out, "parts")) if f.startswith(rid)],
                  f"abandoned run {rid} left a part")
        st = json.loads(subprocess.run([BIN, "status", out, "--json"], capture_output=True, text=True).stdout)
        check(st["counts"]["preempted"] == len(rec["abandoned"]) and st["counts"]["pending"] > 0,
              f"status after the interruption: {st['counts']}")
    sweep([exp, "--out", out, "--jobs", "2", "-q"])
    check(ledger(out)[0]["preemptions"] == 1, f"ledger after the resume: {ledger(out)[0]}")
    same_csvs(reference(tmp, exp), out)
    p = subprocess.run([BIN, "status", out], capture_output=True, text=True)
    check(p.returncode == 0 and "every run is complete" in p.stdout, f"status:\n{p.stdout}{p.stderr}")


def case_lock(tmp):
    """A second writer of the same runs is refused (exit 2, naming the first); a
    distinct shard of the same directory is not."""
    out = os.path.join(tmp, "locked")
    exp, proc = start_slow(tmp, out, ["--shard", "0/2"])
    same = sweep([exp, "--out", out, "--shard", "0/2", "-q"], expect=2)
    check("is being written by another normlab process" in same.stderr and "shard 0/2" in same.stderr,
          f"message:\n{same.stderr}")
    whole = sweep([exp, "--out", out, "-q"], expect=2)
    check("is being written by" in whole.stderr, f"an unsharded writer beside a shard:\n{whole.stderr}")
    sweep([exp, "--out", out, "--shard", "1/2", "-q"])  # the other shard runs beside it
    proc.wait(timeout=300)
    check(proc.returncode == 0, f"the first writer failed: {proc.stderr.read()}")
    sweep([exp, "--out", out, "-q"])  # free again once it ended
    sound(out)


def case_progress(tmp):
    """On a terminal: one redrawn progress line. Elsewhere: a plain log line per run,
    naming the run's config."""
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    plain = sweep([exp, "--out", os.path.join(tmp, "plain"), "--jobs", "2"])
    check("\r" not in plain.stderr and "[" + "#" not in plain.stderr, "a progress bar without a terminal")
    check(re.search(r"\[\d+/16\] norm=\w+ lr=[\d.]+ seed=\d \([0-9a-f]{16}\) ok", plain.stderr),
          f"log lines should name the config:\n{plain.stderr}")
    cmd = f"{BIN} sweep {exp} --out {os.path.join(tmp, 'tty')} --jobs 2"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    # Bytes, not text: text mode would turn the bar's carriage returns into newlines.
    tty = subprocess.run(["script", "-qfec", cmd, "/dev/null"], capture_output=True, env=env)
    out = tty.stdout.decode()
    check(tty.returncode == 0, f"under a pseudo-terminal: exit {tty.returncode}\n{out}")
    check("\r\x1b[K[" in out and "16/16" in out and "eta" in out and "#" * 24 in out,
          f"no progress bar on a terminal:\n{out!r}")
    check(not re.search(r"\[\d+/16\] norm=", out), "per-run log lines on a terminal")
    ci = subprocess.run(["script", "-qfec", cmd.replace("/tty", "/tty-ci"), "/dev/null"], capture_output=True,
                        env=dict(env, CI="true")).stdout.decode()
    check("#" * 24 not in ci and re.search(r"\[\d+/16\] norm=", ci), "CI=true keeps plain lines")


def case_shared_dir_shards(tmp):
    """The README's shell form: shards started together into one directory, then one
    merge into it, give the reference bytes."""
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out = os.path.join(tmp, "shared")
    procs = [subprocess.Popen([BIN, "sweep", exp, "--out", out, "--shard", f"{i}/4", "--jobs", "1", "-q"],
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        check(p.returncode == 0, f"a shard failed: {err}")
    merge([out, "--out", out])
    same_csvs(reference(tmp, exp), out)
    st = json.loads(subprocess.run([BIN, "status", out, "--json"], capture_output=True, text=True).stdout)
    check(st["counts"]["done"] == GRID_RUNS and st["tasks"] == 4, f"status: {st['counts']}, tasks {st['tasks']}")


def case_slurm_scripts(tmp):
    """normlab slurm without a cluster: the scripts it writes (offset arrays above
    MaxArraySize, append logs, the USR1 trap that requeues its own task, the merge
    job), --resubmit for a shard list, and bad input exiting 2 before any file."""
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out = os.path.join(tmp, "job")
    p = subprocess.run([BIN, "slurm", exp, "--out", out, "--tasks", "5", "--max-array-size", "2",
                        "--array-parallelism", "2", "--time", "00:30:00", "--sbatch-arg=--mem=1G"],
                       capture_output=True, text=True)
    check(p.returncode == 0, p.stderr)
    sd = os.path.join(out, "slurm")
    arrays = sorted(f for f in os.listdir(sd) if f.startswith("array-"))
    check(arrays == ["array-0.sbatch", "array-2.sbatch", "array-4.sbatch"], f"arrays {arrays}")
    a2 = open(os.path.join(sd, "array-2.sbatch")).read()
    for needle in ["#SBATCH --array=0-1%2", "--open-mode=append", "%A_%a.log", "#SBATCH --signal=B:USR1@120",
                   "#SBATCH --time=00:30:00", "#SBATCH --mem=1G", "shard=$((SLURM_ARRAY_TASK_ID + 2))",
                   "--shard \"$shard/5\"", "trap requeue USR1 TERM",
                   'scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"']:
        check(needle in a2, f"array-2.sbatch lacks {needle!r}:\n{a2}")
    check("#SBATCH --array=0%2" in open(os.path.join(sd, "array-4.sbatch")).read(), "the last block holds shard 4")
    m = open(os.path.join(sd, "merge.sbatch")).read()
    check(f"merge '{out}' --out '{out}'" in m, f"merge job:\n{m}")
    check("--dependency=afterok:" in p.stdout, f"printed commands:\n{p.stdout}")
    job = json.load(open(os.path.join(sd, "job.json")))
    check(job["tasks"] == 5 and job["runs"] == GRID_RUNS, f"job.json {job}")
    st = json.loads(subprocess.run([BIN, "status", out, "--json"], capture_output=True, text=True).stdout)
    check(st["counts"]["pending"] == GRID_RUNS and st["unfinished_shards"] == [0, 1, 2, 3, 4]
          and "--resubmit 0-4" in st["resubmit"], f"status of an unsubmitted job: {st}")
    r = subprocess.run([BIN, "slurm", exp, "--out", out, "--resubmit", "1,3-4", "--max-array-size", "1001"],
                       capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)
    check("#SBATCH --array=1,3-4" in open(os.path.join(sd, "array-0-resubmit.sbatch")).read(), "resubmit list")
    badout = ["--out", os.path.join(tmp, "bad")]
    for bad, needle in ((["--tasks", "99", *badout], "--tasks"), (["--resubmit", "7", "--out", out], "--resubmit"),
                        (["--set", "norm=weird", *badout], "norm")):
        q = subprocess.run([BIN, "slurm", exp, *bad], capture_output=True, text=True)
        check(q.returncode == 2 and needle in q.stderr, f"{bad}: exit {q.returncode}\n{q.stderr}")
    check(not os.path.exists(os.path.join(tmp, "bad", "slurm", "array-0.sbatch")), "bad input wrote scripts")


def case_grow(tmp):
    """Adding seeds or values runs exactly the new runs and keeps the old bytes; a
    changed fixed key exits 2 with a diff, and --force-new starts over beside it."""
    exp = write(os.path.join(tmp, "grid.toml"), GRID)
    out = os.path.join(tmp, "grow")
    sweep([exp, "--out", out, "--jobs", "2", "-q"])
    before = {f: rows(os.path.join(out, f)) for f in CSVS}
    bigger = write(os.path.join(tmp, "grid.toml"), GRID.replace("seeds = 2", "seeds = 3").replace("  0.1,\n", "  0.1,\n  0.3,\n"))
    p = sweep([bigger, "--out", out, "--jobs", "2"])
    check("ran 20, skipped 16" in p.stderr and "16 kept, 20 new" in p.stderr, f"growth log:\n{p.stderr}")
    after = {f: rows(os.path.join(out, f)) for f in CSVS}
    old_ids = {r[0] for r in before["runs.csv"][1:]}
    for f in CSVS:  # every old row is still there, byte for byte
        kept = [r for r in after[f][1:] if r[0] in old_ids]
        check(kept == before[f][1:], f"{f}: the old runs' rows changed when the sweep grew")
    check(len(after["runs.csv"]) - 1 == 36, f"{len(after['runs.csv']) - 1} runs after growing to 36")
    changed = write(os.path.join(tmp, "grid.toml"), GRID.replace("epochs = 4", "epochs = 5"))
    p = sweep([changed, "--out", out], expect=2)
    check("epochs: 4 -> 5" in p.stderr and "--force-new" in p.stderr, f"no diff:\n{p.stderr}")
    check({f: rows(os.path.join(out, f)) for f in CSVS} == after, "a refused change touched the results")
    p = sweep([changed, "--out", out, "--force-new", "-q"])
    check(os.path.exists(out + "-2/runs.csv") and len(run_ids(out + "-2")) == GRID_RUNS, "--force-new output")
    check({f: rows(os.path.join(out, f)) for f in CSVS} == after, "--force-new touched the old directory")


LONG_GRID = """\
dataset = "blobs:n=4000,test=400,dim=16,classes=4"
model = "mlp"
widths = [256, 256]
steps = 4000
eval_every = 2000
lr = [0.01, 0.02, 0.05]
seeds = 1
"""


TMUX_CALLS = [0]


def tmux_frames(cmd, seconds, every=0.25):
    """Runs cmd in a detached tmux pane; returns (elapsed, pane text) every `every` s.
    Each call has its own tmux server (-L): a new session on the socket of a server
    still exiting after the previous call's kill fails with "server exited unexpectedly"."""
    TMUX_CALLS[0] += 1
    tmux = ["tmux", "-L", f"nl{os.getpid()}-{TMUX_CALLS[0]}"]
    session = "nl"
    subprocess.run(tmux + ["new-session", "-d", "-s", session, "-x", "220", "-y", "12",
                           f"env -u CI {cmd}; sleep 60"], check=True)
    frames, t0 = [], time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            time.sleep(every)
            pane = subprocess.run(tmux + ["capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            frames.append((time.monotonic() - t0, pane))
    finally:
        subprocess.run(tmux + ["kill-server"], capture_output=True)
    return frames


def case_live_progress(tmp):
    """On a terminal (tmux): the bar is drawn within 2 s of the start and moves
    within a run (its step count rises before any run has finished), the running
    count is the number of jobs; `train` draws a step bar with the loss. Off a
    terminal: a line per run in flight every NORMLAB_PROGRESS_SECONDS, naming it."""
    if subprocess.run(["sh", "-c", "command -v tmux"], capture_output=True).returncode != 0:
        sys.exit(77)
    exp = write(os.path.join(tmp, "long.toml"), LONG_GRID)
    bar = re.compile(r"\[[#.]{24}\] (\d+)/3  running (\d)  failed 0  diverged 0  \S+ steps/s  eta \S+"
                     r"(?:  \| lr=[\d.]+ (\d+)/4000 loss \S+)?")
    frames = tmux_frames(f"{BIN} sweep {exp} --out {os.path.join(tmp, 'tty')} --jobs 2", 20)
    first = next(((t, m) for t, pane in frames if (m := bar.search(pane))), None)
    check(first is not None and first[0] <= 2.0,
          f"no progress bar within 2 s: {first and first[0]} s\n{frames[:8]!r}")
    within = [(t, int(m.group(1)), int(m.group(2)), int(m.group(3)))
              for t, pane in frames if (m := bar.search(pane)) and m.group(3)]
    moving = [w for w in within if w[1] == 0 and 0 < w[3] < 4000]
    check(len({w[3] for w in moving}) >= 2,
          f"the bar did not move within the first runs (done 0, step rising):\n{within[:10]}")
    check(all(w[2] == 2 for w in moving), f"running should be 2 with --jobs 2 while 3 runs wait: {moving[:5]}")
    print("frame:", next(pane for t, pane in frames if bar.search(pane)).strip().splitlines()[-1])
    # train: a step bar with the current loss
    frames = tmux_frames(f"{BIN} train --dataset blobs:n=4000,test=400,dim=16,classes=4 --widths 256,256 "
                         f"--steps 4000 --eval-every 2000 --lr 0.01 --out {os.path.join(tmp, 'train')}", 6)
    steps = [int(m.group(1)) for t, pane in frames
             if (m := re.search(r"\[[#.]{24}\] step (\d+)/4000  loss [\d.e+-]+  \S+ steps/s  eta", pane))]
    check(len(set(steps)) >= 2, f"train shows no moving step bar:\n{frames[-1][1]!r}")
    # off a terminal: periodic lines naming each run in flight
    env = dict(os.environ, NORMLAB_PROGRESS_SECONDS="1")
    p = subprocess.run([BIN, "sweep", exp, "--out", os.path.join(tmp, "plain"), "--jobs", "2"],
                       capture_output=True, text=True, env=env)
    check(p.returncode == 0, p.stderr)
    check(re.search(r"info lr=[\d.]+: step \d+/4000, loss \S+, \S+ steps/s, eta \S+", p.stderr),
          f"no periodic line naming a run in flight:\n{p.stderr}")
    check("\r" not in p.stderr, "a redrawn bar off a terminal")
    bad = subprocess.run([BIN, "sweep", exp, "--out", os.path.join(tmp, "bad")], capture_output=True, text=True,
                         env=dict(os.environ, NORMLAB_PROGRESS_SECONDS="0"))
    check(bad.returncode == 2 and "NORMLAB_PROGRESS_SECONDS='0'" in bad.stderr and
          not os.path.exists(os.path.join(tmp, "bad")), f"bad interval: {bad.returncode} {bad.stderr}")


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](tmp)
print(f"PASS {CASE}")
