#!/usr/bin/python3
"""Command-line tests of the registered rule (`normlab claims`, claims/registration.h).
Usage: claims_rule_cli.py NORMLAB_BIN CASE

Each case copies one committed claim folder (results/claims-full/covariate-shift,
registered under the current claim file) and its claim file, then evaluates it
with --evaluate-only (nothing is trained):
changed-margin: a margin edited in the copied claim file is refused (exit 2,
  naming the claim file, both hashes and [[amendment]]), and the folder is left
  byte for byte; with an [[amendment]] from the registered hash to the new one it
  is evaluated, and claims.md lists the amendment.
changed-settings: the same for a setting, not the rule: the full profile's lr
  (a run key) and its seeds.
bad-amendment: an [[amendment]] with an unknown key, a wrong type or a short
  hash is exit 2 naming the file and the key, before anything changes.
unregistered: a folder whose manifest records no rule hash is refused unless
  --accept-unregistered, which registers the current hash and marks the claim
  in claims.md as registered after its results.
baseline: --baseline G where G's folder of the claim registered another hash than
  the (edited) claim file's is refused before any run, naming G's manifest; so is a
  G whose folder records no hash.
committed: every committed claims folder (results/claims-full, results/baseline)
  records the hash of its current claim file, and was computed by a binary its
  commit reproduces (no reproducibility note; the exceptions are in UNREPRODUCIBLE).
until-decided: a tiny claim (tests/fixtures/claims-tiny: blobs data, 20 steps, 3 seeds;
  cells batch and group vs none, group at a large lr so that its cell is noisy) with
  --until-decided --max-seeds 6: at the first look (3 seeds) the batch cell is decided
  and the group cell is not, so the rounds add seeds to the none and group runs only;
  the manifest records the design (looks 3, 4, 5, 6) and the added seeds, claims.md
  names the looks, `normlab verify` passes on the folder, --evaluate-only gives the
  same claims.csv, and another --max-seeds on that folder is refused (exit 2), as is
  a cap below the grid's seeds on a new folder.
until-decided-amended: the tiny claim run --until-decided, then its grid changed (steps
  20 -> 24, so every run id changes): without an [[amendment]] the re-run is refused (exit 2);
  with one, the re-run goes ahead, warns that the old grid's added seeds are not carried
  over, and the new manifest's added seeds all copy runs of the amended grid (the folder
  verifies). The variant without an amendment, a manifest whose added seeds name a run
  the grid does not hold, is still refused (exit 2) and changes nothing.
until-decided-extended: the tiny claim run --until-decided, then its grid extended (lr 0.05 ->
  0.05, 0.02: every old run id stays): under the amendment, --evaluate-only is refused (exit 2,
  the folder unchanged), since the seeds added until decided lack the new lr; so is
  `--only other` into the same folder, which evaluates tiny again. A re-run copies each added
  seed onto the new runs of the arm it was added to (no arm without added seeds gains any),
  so every seed of an arm covers the arm's whole grid; claims.md's workload counts the runs that
  re-run trained (not the ones it found complete); the folder verifies and --evaluate-only
  then gives the same claims.csv.
only-keeps-others: `claims --only A` into a folder that already holds claim B
  keeps B's rows in claims.csv and claims.md (B is evaluated again, its folder
  untouched), both when A runs (two tiny claims) and under --evaluate-only, each with its
  workload line in claims.md (runs, training time, samples/s per model); when B's
  folder cannot be evaluated (a run missing from runs.csv, or its rule changed with
  no amendment), --only A is refused (exit 2, naming B and the reason) before
  anything runs or changes; so is any run when B's claim file is gone (its folder
  would lose its rows).
beside: --beside O shows O's verdicts beside the evaluated ones in claims.md (a column per
  claim and per cell, and the count of cells both decide): with O a copy whose one cell
  verdict is flipped, that cell is marked as differing and listed; with an unchanged copy,
  every cell both decide agrees. O is read, never written. A folder that is not a claims
  store (no manifest, or another kind's), a claims.csv verdict outside the allowed values,
  a repeated row, a missing column, and the output folder itself are refused (exit 2, naming the file and the allowed values) before the
  output folder changes.
test-reads: a claim whose rule reads test at every evaluation point (es_test_acc,
  best_test_acc, steps_to_target, or select-on test, whose plateau reads the test curve) with a grid that sets eval-between = val is refused (exit 2, naming the
  file, the key and what reads test) before its output folder exists.
ignored-options: --list and --rule-hashes read the claim files and nothing else, so every
  option they would ignore (--out, --baseline, --beside, --jobs, --no-report, --evaluate-only,
  --accept-unregistered, --until-decided, --max-seeds, --profile; and --only or
  --rule-hashes beside --list) is exit 2 naming both options, and --out is not created;
  alone (and --rule-hashes with --only, its ids repeated or comma-separated) they exit 0."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from csv_rows import tree

BIN, CASE = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLAIM = "covariate-shift"

# Committed results whose binary had uncommitted changes (its stamp ends in -dirty), so that
# no commit reproduces it, as folder -> reason; each stays listed until its claim is re-run
# from a clean build. Empty since every such folder was re-run.
UNREPRODUCIBLE: dict = {}


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, expect=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=ROOT)
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def setup(tmp):
    """A claims dir holding a copy of the claim file, and a copy of its committed full folder."""
    d, out = os.path.join(tmp, "claims"), os.path.join(tmp, "full")
    os.makedirs(d)
    shutil.copy(os.path.join(ROOT, "experiments", "claims", CLAIM + ".toml"), d)
    shutil.copytree(os.path.join(ROOT, "results", "claims-full", CLAIM), os.path.join(out, CLAIM))
    cmd = ["claims", "--dir", d, "--profile", "full", "--only", CLAIM, "--evaluate-only", "--no-report", "--out", out]
    return os.path.join(d, CLAIM + ".toml"), out, cmd


def edit(path, old, new):
    text = open(path).read()
    check(old in text, f"{old!r} not in {path}")
    with open(path, "w") as f:
        f.write(text.replace(old, new, 1))


def rule_hash(claim_dir):
    p = normlab(["claims", "--dir", claim_dir, "--only", CLAIM, "--rule-hashes"])
    return p.stdout.split()[-1]


def registered(out):
    with open(os.path.join(out, CLAIM, "manifest.json")) as f:
        return json.load(f)["rule_registration"]["hash"]


AMEND = """
[[amendment]]
date = "2026-12-03"
what = "{what}"
why = "a test of the amendment record"
replaced = "supported"
from_hash = "{a}"
to_hash = "{b}"
"""


def refused_then_amended(tmp, edits, what):
    f, out, cmd = setup(tmp)
    before_hash = registered(out)
    with open(os.path.join(out, CLAIM, "manifest.json")) as fh:
        evaluated = json.load(fh)["rule_hash_evaluated"]  # the registered hash, or the amendment chain's end
    check(evaluated == rule_hash(os.path.dirname(f)), "the committed folder is not evaluated under its claim file")
    for old, new in edits:
        edit(f, old, new)
    after_hash = rule_hash(os.path.dirname(f))
    check(after_hash != before_hash, f"{what}: the hash did not change")
    before = tree(out)
    p = normlab(cmd, expect=2)
    for want in (f, before_hash, after_hash, "[[amendment]]", "from_hash", "to_hash"):
        check(want in p.stderr, f"{what}: the refusal does not name {want!r}:\n{p.stderr}")
    check(tree(out) == before, f"{what}: a refused evaluation changed {out}")
    with open(f, "a") as fh:
        fh.write(AMEND.format(what=what, a=before_hash, b=after_hash))
    p = normlab(cmd, expect=None)
    # The amended settings may no longer match the folder's grid (then a run is needed): that
    # refusal is the grid's, not the rule's.
    if p.returncode == 2:
        check("records grid" in p.stderr and "amendment" not in p.stderr, f"{what}: amended and still refused:\n{p.stderr}")
        return
    check(p.returncode == 0, f"{what}: exit {p.returncode}\n{p.stderr}")
    md = open(os.path.join(out, "claims.md")).read()
    check(what in md and "a test of the amendment record" in md and f"`{before_hash}` → `{after_hash}`" in md,
          f"{what}: claims.md does not list the amendment")
    check(registered(out) == before_hash, "the registered hash was rewritten by an amendment")
    with open(os.path.join(out, CLAIM, "manifest.json")) as fh:
        m = json.load(fh)
    check(m["rule_hash_evaluated"] == after_hash and m["amendments_applied"][0]["to_hash"] == after_hash,
          "the manifest does not record the amended hash it was evaluated under")


def claim_ids(out):
    import csv
    with open(os.path.join(out, "claims.csv"), newline="") as f:
        return sorted({r["id"] for r in csv.DictReader(f)})



def tiny_until_decided(tmp):
    """The tiny claim run --until-decided (cap 6) into a fresh folder: its claims dir, claim file,
    output folder, command, manifest path and the seeds the run added."""
    d = os.path.join(tmp, "claims")
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "claims-tiny"), d)
    f = os.path.join(d, "tiny.toml")
    out = os.path.join(tmp, "tiny")
    cmd = ["claims", "--dir", d, "--out", out, "--no-report", "-j", "2", "--until-decided", "--max-seeds", "6"]
    normlab(cmd)
    mpath = os.path.join(out, "tiny", "manifest.json")
    with open(mpath) as fh:
        old_added = json.load(fh)["sequential"]["added"]
    check(old_added, "the first run added no seeds; the test needs an undecided cell")
    return d, f, out, cmd, mpath, old_added


def until_decided_amended(tmp):
    """See until-decided-amended in the module text."""
    import csv
    d, f, out, cmd, mpath, old_added = tiny_until_decided(tmp)
    p = normlab(["claims", "--dir", d, "--only", "tiny", "--rule-hashes"])
    before_hash = p.stdout.split()[-1]
    edit(f, "steps = 20", "steps = 24")
    p = normlab(["claims", "--dir", d, "--only", "tiny", "--rule-hashes"])
    after_hash = p.stdout.split()[-1]
    snap = tree(out)
    p = normlab(cmd, expect=2)
    check("[[amendment]]" in p.stderr and tree(out) == snap, f"an unamended grid change was not refused:\n{p.stderr}")
    with open(f, "a") as fh:
        fh.write(AMEND.format(what="steps 20 -> 24", a=before_hash, b=after_hash))
    p = normlab(cmd)
    check("not carried over" in p.stderr, f"no warning about the old grid's added seeds:\n{p.stderr}")
    with open(mpath) as fh:
        m = json.load(fh)
    with open(os.path.join(out, "tiny", "runs.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    grid_ids = {r["run_id"] for r in rows if int(r["seed"]) < 3}
    added = m.get("sequential", {}).get("added", [])
    check(all(a[0] in grid_ids for a in added), f"added seeds copy runs outside the amended grid: {added}")
    check(not {a[0] for a in old_added} & {r["run_id"] for r in rows}, "a run of the old grid is still in runs.csv")
    check(m["rule_hash_evaluated"] == after_hash, "the manifest does not record the amended hash")
    normlab(["verify", out])
    # Damage without an amendment: an added seed naming a run the grid does not hold.
    if not added:
        m.setdefault("sequential", {"n0": 3, "cap": 6, "looks": [3, 4, 5, 6]})["added"] = []
    m["sequential"]["added"] = added + [["00000000deadbeef", 5]]
    with open(mpath, "w") as fh:
        json.dump(m, fh, indent=2)
    snap = tree(out)
    p = normlab(cmd, expect=2)
    check("which its grid does not hold" in p.stderr and tree(out) == snap,
          f"a damaged sequential record was not refused, or the refusal changed the folder:\n{p.stderr}")
    print(f"old grid: {len(old_added)} added seeds dropped; amended grid: {len(added)} added")

def until_decided_extended(tmp):
    """See until-decided-extended in the module text."""
    import csv
    d, f, out, cmd, mpath, old_added = tiny_until_decided(tmp)
    before_hash = normlab(["claims", "--dir", d, "--only", "tiny", "--rule-hashes"]).stdout.split()[-1]
    edit(f, "lr = [0.05]", "lr = [0.05, 0.02]")
    after_hash = normlab(["claims", "--dir", d, "--only", "tiny", "--rule-hashes"]).stdout.split()[-1]
    with open(f, "a") as fh:
        fh.write(AMEND.format(what="lr 0.05 -> 0.05, 0.02", a=before_hash, b=after_hash))
    # Evaluating the old seeds on the smaller grid is refused, directly and as a kept claim.
    snap = tree(out)
    p = normlab(["claims", "--dir", d, "--out", out, "--no-report", "--evaluate-only"], expect=2)
    check("run without --evaluate-only" in p.stderr and tree(out) == snap,
          f"--evaluate-only evaluated added seeds without the extended grid's runs:\n{p.stderr}")
    other = os.path.join(d, "other.toml")
    shutil.copy(f, other)
    edit(other, 'id = "tiny"', 'id = "other"')
    p = normlab(["claims", "--dir", d, "--out", out, "--no-report", "--only", "other"], expect=2)
    check("tiny" in p.stderr and tree(out) == snap, f"--only other kept tiny's incomplete seeds:\n{p.stderr}")
    os.remove(other)
    # A re-run completes the added seeds' arms (and claims.md counts only the runs it trained).
    with open(os.path.join(out, "tiny", "runs.csv")) as fh:
        n_before = sum(1 for _ in fh) - 1
    p = normlab(cmd)
    check("copy the seeds added until decided" in p.stderr, f"no note of the copied seeds:\n{p.stderr}")
    with open(os.path.join(out, "tiny", "runs.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    lrs = {}
    for r in rows:
        lrs.setdefault((r["norm"], int(r["seed"])), set()).add(float(r["lr"]))
    for (norm, seed), have in sorted(lrs.items()):
        want = {3.0} if norm == "group" else {0.05, 0.02}
        check(have == want, f"arm {norm}, seed {seed}: lrs {sorted(have)}, the arm's grid is {sorted(want)}")
    added_arms = {norm for (norm, seed) in lrs if seed >= 3}
    check("batch" not in added_arms and "none" in added_arms,
          f"seeds were added to arms {sorted(added_arms)}; the test expects none (the group cell's control) only")
    trained = re.findall(r"which trained (\d+) of them", open(os.path.join(out, "claims.md")).read())
    check(trained == [str(len(rows) - n_before)],
          f"claims.md says the re-run trained {trained}; it trained {len(rows) - n_before} runs")
    normlab(["verify", out])
    csv_before = open(os.path.join(out, "claims.csv")).read()
    normlab(["claims", "--dir", d, "--out", out, "--no-report", "--evaluate-only"])
    check(open(os.path.join(out, "claims.csv")).read() == csv_before, "--evaluate-only changed claims.csv")
    print(f"{len(old_added)} seeds added before the extension; arms with added seeds: {sorted(added_arms)}")

def reseal(d):
    """d's manifest records its claims.csv and claims.md as they are now, as a writer of
    the edited verdicts would have recorded them (--beside and --baseline read only
    tables that match their manifest: sweep/store.h)."""
    mf = os.path.join(d, "manifest.json")
    with open(mf) as f:
        m = json.load(f)
    m["files"] = {t: hashlib.sha256(open(os.path.join(d, t), "rb").read()).hexdigest()
                  for t in ("claims.csv", "claims.md") if os.path.exists(os.path.join(d, t))}
    with open(mf, "w") as f:
        json.dump(m, f)


def beside(tmp):
    import csv
    _, out, cmd = setup(tmp)
    normlab(cmd)
    other = os.path.join(tmp, "other")
    shutil.copytree(out, other)
    with open(os.path.join(other, "manifest.json")) as f:
        m = json.load(f)
    m["identity"]["profile"] = "quick"
    with open(os.path.join(other, "manifest.json"), "w") as f:
        json.dump(m, f)
    # An unchanged copy: every cell decided in both agrees.
    p = normlab(cmd + ["--beside", other])
    md = open(os.path.join(out, "claims.md")).read()
    check("| quick profile |" in md, "claims.md has no quick-profile column")
    agree = re.search(r"Cells decided \(supported or not supported\) both here and in the quick profile: (\d+); "
                      r"they agree in (\d+)\.", md)
    check(agree and agree.group(1) == agree.group(2) and int(agree.group(1)) >= 1,
          "claims.md does not count the agreeing cells:\n" + md[:3000])
    check("**differs**" not in md, "an unchanged copy was marked as differing")
    # One cell verdict flipped in the other folder: that cell differs.
    path = os.path.join(other, "claims.csv")
    rows = list(csv.reader(open(path, newline="")))
    head = rows[0]
    vi, ci = head.index("verdict"), head.index("cell")
    cell_row = next(r for r in rows[1:] if r[ci] and r[vi] in ("supported", "not supported"))
    was = cell_row[vi]
    cell_row[vi] = "not supported" if was == "supported" else "supported"
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    reseal(other)
    before_other = tree(other)
    normlab(cmd + ["--beside", other])
    md = open(os.path.join(out, "claims.md")).read()
    check("**differs**" in md and f"`{cell_row[ci]}`: {was} here, {cell_row[vi]} in the quick profile" in md,
          "the flipped cell is not marked and listed as differing:\n" + md[:3000])
    check(tree(other) == before_other, "--beside wrote to the other folder")
    # Refusals: exit 2, naming the file, before the output folder changes.
    before = tree(out)
    bad = os.path.join(tmp, "bad")
    shutil.copytree(other, bad)
    os.remove(os.path.join(bad, "manifest.json"))
    p = normlab(cmd + ["--beside", bad], expect=2)
    check("manifest.json" in p.stderr, "a folder without a manifest: the message names no manifest:\n" + p.stderr)
    shutil.copy(os.path.join(other, "manifest.json"), bad)
    cell_row[vi] = "maybe"
    with open(os.path.join(bad, "claims.csv"), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    reseal(bad)
    p = normlab(cmd + ["--beside", bad], expect=2)
    check("claims.csv" in p.stderr and "'maybe'" in p.stderr and "not supported" in p.stderr,
          "a bad verdict: the message names no file, value or allowed values:\n" + p.stderr)
    # Variants: a repeated cell row, a missing column, a store of another kind.
    with open(os.path.join(bad, "claims.csv"), "w", newline="") as f:
        cell_row[vi] = was
        csv.writer(f, lineterminator="\n").writerows(rows + [cell_row])
    reseal(bad)
    p = normlab(cmd + ["--beside", bad], expect=2)
    check("repeats" in p.stderr, "a repeated row was not refused by name:\n" + p.stderr)
    with open(os.path.join(bad, "claims.csv"), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([r[:vi] + r[vi + 1:] for r in rows])
    reseal(bad)
    p = normlab(cmd + ["--beside", bad], expect=2)
    check("no column 'verdict'" in p.stderr, "a missing column was not refused by name:\n" + p.stderr)
    shutil.copy(os.path.join(other, "claims.csv"), bad)
    m["kind"] = "sweep"
    with open(os.path.join(bad, "manifest.json"), "w") as f:
        json.dump(m, f)
    reseal(bad)
    p = normlab(cmd + ["--beside", bad], expect=2)
    check("not a claims store" in p.stderr, "a sweep store's manifest was not refused:\n" + p.stderr)
    p = normlab(cmd + ["--beside", out], expect=2)
    check("output folder" in p.stderr, "--beside the output folder itself was not refused:\n" + p.stderr)
    check(tree(out) == before, "a refused --beside changed the output folder")
    print("beside: agreement counted, the flipped cell listed, 6 refusals")


def only_keeps_others(tmp):
    # Two tiny claims (a copy of the fixture under a second id), each run with --only in turn.
    d, out = os.path.join(tmp, "claims"), os.path.join(tmp, "out")
    os.makedirs(d)
    src = os.path.join(ROOT, "tests", "fixtures", "claims-tiny", "tiny.toml")
    shutil.copy(src, d)
    with open(src) as f:
        text = f.read()
    with open(os.path.join(d, "tiny2.toml"), "w") as f:
        f.write(text.replace('id = "tiny"', 'id = "tiny2"').replace("seeds = 3", "seeds = 2"))
    cmd = ["claims", "--dir", d, "--out", out, "--no-report", "-j", "2", "--only"]
    normlab(cmd + ["tiny"])
    check(claim_ids(out) == ["tiny"], f"after --only tiny: {claim_ids(out)}")
    rows_tiny = [l for l in open(os.path.join(out, "claims.csv")) if l.startswith("tiny,")]
    before = tree(os.path.join(out, "tiny"))
    p = normlab(cmd + ["tiny2"])
    check(claim_ids(out) == ["tiny", "tiny2"], f"--only tiny2 dropped tiny's rows: {claim_ids(out)}\n{p.stderr}")
    check([l for l in open(os.path.join(out, "claims.csv")) if l.startswith("tiny,")] == rows_tiny,
          "tiny's rows changed when only tiny2 ran")
    check(tree(os.path.join(out, "tiny")) == before, "--only tiny2 wrote into tiny's folder")
    md = open(os.path.join(out, "claims.md")).read()
    check("## tiny\n" in md and "## tiny2\n" in md, "claims.md does not hold both claims")
    # Each claim's workload: tiny has 3 seeds x 3 runs, tiny2 2 seeds x 3 runs; samples/s per model.
    work = re.findall(r"\*\*Workload:\*\* (\d+) runs on `blobs[^`]*`, [0-9.]+ s of training.*samples/s per model: mlp \d+", md)
    check(work == ["9", "6"], f"claims.md's workload lines: {work}")
    with open(os.path.join(out, "manifest.json")) as f:
        check(json.load(f)["claims"] == ["tiny", "tiny2"], "the folder's manifest does not list both claims")
    normlab(cmd + ["tiny2", "--evaluate-only"])
    check(claim_ids(out) == ["tiny", "tiny2"], "--only tiny2 --evaluate-only dropped tiny's rows")
    # tiny's folder damaged in two ways, each refused before anything changes.
    runs = os.path.join(out, "tiny", "runs.csv")
    good = open(runs).read()
    for what, damage, undo in (
            ("a run missing", lambda: open(runs, "w").write("".join(good.splitlines(True)[:-1])),
             lambda: open(runs, "w").write(good)),
            ("rule changed", lambda: edit(os.path.join(d, "tiny.toml"), "margin = -0.8", "margin = -0.7"),
             lambda: edit(os.path.join(d, "tiny.toml"), "margin = -0.7", "margin = -0.8"))):
        damage()
        snap = tree(out)
        p = normlab(cmd + ["tiny2"], expect=2)
        check("tiny" in p.stderr and "not selected" in p.stderr and "--only" in p.stderr,
              f"{what}: the refusal does not name the other claim:\n{p.stderr}")
        check(tree(out) == snap, f"{what}: a refused --only changed {out}")
        undo()
    normlab(cmd + ["tiny2"])
    check(claim_ids(out) == ["tiny", "tiny2"], "after the damage was undone")
    # A claim folder whose claim file is gone (renamed, or not in --dir) would lose its rows too.
    os.rename(os.path.join(d, "tiny2.toml"), os.path.join(tmp, "tiny2.toml"))
    snap = tree(out)
    for extra in ([], ["--only", "tiny"]):
        base = [a for a in cmd if a != "--only"]
        p = normlab(base + extra, expect=2)
        check("tiny2" in p.stderr and "no claim file" in p.stderr, f"an orphaned claim folder was not refused:\n{p.stderr}")
        check(tree(out) == snap, "a refused run changed the folder")


with tempfile.TemporaryDirectory() as tmp:
    if CASE == "changed-margin":
        refused_then_amended(tmp, [("margin = 0.1", "margin = 0.12")], "margin 0.1 -> 0.12")
    elif CASE == "changed-settings":
        refused_then_amended(os.path.join(tmp), [("lr = 0.5", "lr = 0.4")], "lr 0.5 -> 0.4")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, exist_ok=True)
        refused_then_amended(tmp, [("[profile.full]", "[profile.full]\nseeds = 6")], "full seeds 5 -> 6")
    elif CASE == "bad-amendment":
        for bad, key in ((AMEND.replace("why =", "reason ="), "reason"),
                         (AMEND.replace('replaced = "supported"', "replaced = 1"), "amendment.replaced"),
                         (AMEND.replace('from_hash = "{a}"', 'from_hash = "abc"'), "amendment.from_hash"),
                         (AMEND.replace('date = "2026-12-03"', 'date = "yesterday"'), "amendment.date")):
            f, out, cmd = setup(tmp)
            with open(f, "a") as fh:
                fh.write(bad.format(what="w", a="0123456789abcdef", b="fedcba9876543210"))
            before = tree(out)
            p = normlab(cmd, expect=2)
            check(f in p.stderr and key in p.stderr, f"the refusal does not name the file and {key}:\n{p.stderr}")
            check(tree(out) == before, "a refused evaluation changed the folder")
            shutil.rmtree(tmp)
            os.makedirs(tmp)
    elif CASE == "test-reads":
        # A rule that reads test at every evaluation point (early stopping's es_test_acc, steps to
        # target) refuses a grid that evaluates test only at step 0 and the end: exit 2, naming
        # the file, the key and what reads test, before anything is written.
        # rnn-norm's copy reads best_test_acc instead of final_test_acc (the best of all test points);
        # init-sensitivity's copy drops its select-on = "val", so that its plateau reads test (the default).
        for cid, reads in (("regularization", "es_test_acc"), ("convergence-speed", "steps_to_target"),
                           ("init-sensitivity", "select-on test"), ("rnn-norm", "best_test_acc")):
            d = os.path.join(tmp, cid)
            os.makedirs(d)
            f = os.path.join(d, cid + ".toml")
            with open(os.path.join(ROOT, "experiments", "claims", cid + ".toml")) as src, open(f, "w") as dst:
                text = src.read()
                if cid == "init-sensitivity":
                    line = 'select-on = "val"   # the split the plateau reads: validation, not test\n'
                    check(line in text, "init-sensitivity's select-on line moved")
                    text = text.replace(line, "", 1)
                if cid == "rnn-norm":
                    check('column = "final_test_acc"' in text, "rnn-norm's column moved")
                    text = text.replace('column = "final_test_acc"', 'column = "best_test_acc"', 1)
                dst.write('eval_between = "val"\n' + text)
            out = os.path.join(tmp, cid + "-out")
            p = normlab(["claims", "--dir", d, "--only", cid, "--out", out], expect=2)
            check(f in p.stderr and "eval-between" in p.stderr and reads in p.stderr and "eval-between = all" in p.stderr,
                  f"{cid}: the refusal does not name the file, the key and {reads}:\n{p.stderr}")
            check(not os.path.exists(out), f"{cid}: a refused claims run created its folder")
    elif CASE == "unregistered":
        f, out, cmd = setup(tmp)
        mpath = os.path.join(out, CLAIM, "manifest.json")
        with open(mpath) as fh:
            m = json.load(fh)
        for k in ("rule_registration", "rule_hash_evaluated", "amendments_applied"):
            m.pop(k, None)
        with open(mpath, "w") as fh:
            json.dump(m, fh, indent=2)
        before = tree(out)
        p = normlab(cmd, expect=2)
        check("records no rule hash" in p.stderr and "--accept-unregistered" in p.stderr, p.stderr)
        check(tree(out) == before, "a refused evaluation changed the folder")
        normlab(cmd + ["--accept-unregistered"])
        check(registered(out) == rule_hash(os.path.dirname(f)), "--accept-unregistered did not register the hash")
        md = open(os.path.join(out, "claims.md")).read()
        check("**after its results**" in md, "claims.md does not mark the legacy registration")
        normlab(cmd)  # registered now: no flag needed
        check("**after its results**" in open(os.path.join(out, "claims.md")).read(), "the legacy mark was lost")
    elif CASE == "committed":
        # Every committed result is evaluated under its claim file's rule. One exception, for the
        # full profile only: a re-run registered by the file's last amendments and not finished
        # yet (it can take sessions); the result then holds the from_hash of one of them, and
        # the amendments after it chain to the file's hash.
        import tomllib
        hashes = dict(l.split() for l in normlab(["claims", "--rule-hashes"]).stdout.splitlines())
        for d in ("claims-full", "baseline"):
            for cid, h in hashes.items():
                with open(os.path.join(ROOT, "results", d, cid, "manifest.json")) as fh:
                    m = json.load(fh)
                with open(os.path.join(ROOT, "experiments", "claims", cid + ".toml"), "rb") as fh:
                    amendments = tomllib.load(fh).get("amendment") or []
                chain, at = set(), h
                for a in reversed(amendments):
                    if a.get("to_hash") != at:
                        break
                    at = a.get("from_hash")
                    chain.add(at)
                pending = d == "claims-full" and m.get("rule_hash_evaluated") in chain
                check(m.get("rule_hash_evaluated") == h or pending, f"results/{d}/{cid}: evaluated under "
                      f"{m.get('rule_hash_evaluated')}, the claim file hashes to {h}")
                check("rule_registration" in m, f"results/{d}/{cid}: no rule_registration")
        # Every committed result was computed by a binary its commit reproduces: no reproducibility
        # note (uncommitted changes, a test hook, an unpinned kernel), except the results listed in
        # UNREPRODUCIBLE with the reason, until they are re-run; a listed result that has become
        # clean fails too, so the list stays true.
        found = {}
        listed = subprocess.run(["git", "-C", ROOT, "ls-files", "results"], capture_output=True, text=True,
                                check=True).stdout.split()
        for rel in (p for p in listed if p.endswith("manifest.json")):
            with open(os.path.join(ROOT, rel)) as fh:
                build = json.load(fh).get("build")
            if build is None:
                continue
            stamp = build.get("git_commit", "")
            if not re.fullmatch(r"[0-9a-f]{12}", stamp) or build.get("reproducibility"):
                found[os.path.dirname(rel)] = f"{stamp} {build.get('reproducibility')}"
        unexplained = sorted(set(found) - set(UNREPRODUCIBLE))
        check(not unexplained, "committed results made by a binary no commit reproduces: "
              + "; ".join(f"{d}: {found[d]}" for d in unexplained))
        stale = sorted(set(UNREPRODUCIBLE) - set(found))
        check(not stale, f"UNREPRODUCIBLE lists results that are clean now: {stale}")
    elif CASE == "baseline":
        f, _, _ = setup(tmp)
        g = os.path.join(tmp, "g")
        shutil.copytree(os.path.join(ROOT, "results", "baseline", CLAIM), os.path.join(g, CLAIM))
        for t in ("claims.csv", "claims.md", "manifest.json"):  # the sealed summary
            shutil.copy(os.path.join(ROOT, "results", "baseline", t), g)
        registered_hash = registered(g)
        edit(f, "margin = 0.1", "margin = 0.12")
        out = os.path.join(tmp, "o")
        cmd = ["claims", "--dir", os.path.dirname(f), "--only", CLAIM, "--no-report", "--out", out, "--baseline", g]
        p = normlab(cmd, expect=2)
        for want in (os.path.join(g, CLAIM, "manifest.json"), registered_hash, "[[amendment]]"):
            check(want in p.stderr, f"the baseline refusal does not name {want!r}:\n{p.stderr}")
        check(not os.path.exists(out), "a refused --baseline run created --out")
        edit(f, "margin = 0.12", "margin = 0.1")
        mpath = os.path.join(g, CLAIM, "manifest.json")
        with open(mpath) as fh:
            m = json.load(fh)
        m.pop("rule_registration")
        with open(mpath, "w") as fh:
            json.dump(m, fh)
        p = normlab(cmd, expect=2)
        check("records no rule hash" in p.stderr and not os.path.exists(out), p.stderr)
    elif CASE == "beside":
        beside(tmp)
    elif CASE == "ignored-options":
        out = os.path.join(tmp, "never")
        existing = os.path.join(ROOT, "results", "baseline")
        given = [["--out", out], ["--baseline", existing], ["--beside", existing], ["--jobs", "2"],
                 ["--no-report"], ["--evaluate-only"], ["--accept-unregistered"], ["--until-decided"],
                 ["--until-decided", "--max-seeds", "6"], ["--profile", "full"]]
        for mode in ("--list", "--rule-hashes"):
            for extra in given + ([["--only", CLAIM], ["--rule-hashes"]] if mode == "--list" else []):
                p = normlab(["claims", mode] + extra, expect=2)
                check(mode in p.stderr and extra[0] in p.stderr,
                      f"claims {mode} {' '.join(extra)}: the refusal does not name both options:\n{p.stderr}")
                check(not os.path.exists(out), f"claims {mode} {' '.join(extra)} created --out")
        check(CLAIM in normlab(["claims", "--list"]).stdout, "claims --list does not list the claims")
        p = normlab(["claims", "--rule-hashes", "--only", CLAIM])
        check(p.stdout.split()[0] == CLAIM and len(p.stdout.splitlines()) == 1, p.stdout)
        # --only takes ids repeated or comma-separated, the same selection either way.
        both = [l.split()[0] for l in normlab(["claims", "--rule-hashes", "--only", f"{CLAIM},placement"]).stdout.splitlines()]
        again = normlab(["claims", "--rule-hashes", "--only", CLAIM, "--only", "placement"]).stdout
        check(sorted(both) == sorted([CLAIM, "placement"]) and [l.split()[0] for l in again.splitlines()] == both,
              f"--only {CLAIM},placement: {both}")
        p = normlab(["claims", "--rule-hashes", "--only", f"{CLAIM},nosuch"], expect=2)
        check("unknown claim 'nosuch'" in p.stderr, p.stderr)
    elif CASE == "only-keeps-others":
        only_keeps_others(tmp)
    elif CASE == "until-decided":
        import csv
        d = os.path.join(ROOT, "tests", "fixtures", "claims-tiny")
        out = os.path.join(tmp, "tiny")
        cmd = ["claims", "--dir", d, "--out", out, "--no-report", "-j", "2"]
        p = normlab(cmd + ["--until-decided", "--max-seeds", "6"])
        check("round 1:" in p.stderr, f"no round of added seeds:\n{p.stderr}")
        with open(os.path.join(out, "tiny", "runs.csv"), newline="") as f:
            seeds = {}
            for r in csv.DictReader(f):
                seeds.setdefault(r["norm"], set()).add(int(r["seed"]))
        check(seeds["batch"] == {0, 1, 2}, f"seeds were added to the decided batch cell's runs: {seeds}")
        check(len(seeds["group"]) > 3 and seeds["none"] == seeds["group"],
              f"the undecided group cell's runs (group and none) did not get the same added seeds: {seeds}")
        with open(os.path.join(out, "tiny", "manifest.json")) as f:
            q = json.load(f)["sequential"]
        check(q["looks"] == [3, 4, 5, 6] and q["cap"] == 6 and len(q["added"]) == 2 * (len(seeds["group"]) - 3),
              f"the manifest's sequential record: {q}")
        with open(os.path.join(out, "claims.csv"), newline="") as f:
            cells = {r["cell"]: r for r in csv.DictReader(f) if r["cell"]}
        check(cells["batch"]["n"] == "3" and cells["batch"]["verdict"] == "supported", f"batch cell: {cells['batch']}")
        check(cells["group"]["verdict"] != "inconclusive" or cells["group"]["n"] == "6", f"group cell: {cells['group']}")
        md = open(os.path.join(out, "claims.md")).read()
        check("looks at 3, 4, 5, 6 seeds (cap 6)" in md and "look 1)" in md, "claims.md does not name the looks")
        print(f"seeds per norm: { {k: sorted(v) for k, v in seeds.items()} }; group cell n = {cells['group']['n']}, "
              f"{cells['group']['verdict']}")
        normlab(["verify", out])
        before = open(os.path.join(out, "claims.csv")).read()
        normlab(cmd + ["--evaluate-only"])
        check(open(os.path.join(out, "claims.csv")).read() == before, "--evaluate-only gave another claims.csv")
        snap = tree(out)
        p = normlab(cmd + ["--until-decided", "--max-seeds", "8"], expect=2)
        check("--max-seeds" in p.stderr and "fixed the cap at 6" in p.stderr, p.stderr)
        check(tree(out) == snap, "a refused --max-seeds changed the folder")
        fresh = os.path.join(tmp, "fresh")
        p = normlab(["claims", "--dir", d, "--out", fresh, "--no-report", "--until-decided", "--max-seeds", "2"], expect=2)
        check("--max-seeds: 2 is below claim tiny's 3 seeds" in p.stderr and not os.path.exists(fresh), p.stderr)
    elif CASE == "until-decided-amended":
        until_decided_amended(tmp)
    elif CASE == "until-decided-extended":
        until_decided_extended(tmp)
    else:
        sys.exit(f"unknown case {CASE}")
print(f"PASS {CASE}")
