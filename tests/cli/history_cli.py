#!/usr/bin/python3
"""Command-line tests of the regression history (`normlab history record|show`)
and of the noise-aware speed gate (`normlab bench --compare`, --baseline-binary,
the NORMLAB_BENCH_SLOWDOWN test hook). Each case asserts real behaviour: the
refusals (exit 2, naming the file or option, nothing written), what a record
holds, the change points `show` names, and, with real timing runs, the gate's
false alarms and its detection of an injected slowdown.
Usage: history_cli.py NORMLAB_BIN CASE"""
import csv
import hashlib
import json
import glob
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from csv_rows import tree

BIN = sys.argv[1]
CASE = sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINE = os.path.join(ROOT, "results", "baseline")
TINY = ["bench", "--suite", "norm", "--filter", "128x1024", "--min-time", "0.01"]


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, expect=0, env=None, cwd=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd or ROOT,
                       env=None if env is None else dict(os.environ, **env))
    if expect is not None and p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def refused(args, *words, cwd=None):
    p = normlab(args, expect=2, cwd=cwd)
    for w in words:
        check(w in p.stderr, f"{args}: message lacks {w!r}:\n{p.stderr}")
    return p


def bench_csv(path, cases, triad=0.01, sgemm=0.001):
    """A bench CSV by hand: probes plus {case: [repeat seconds]}."""
    with open(path, "w") as f:
        f.write("suite,name,median_s,min_s,samples_per_s,gb_per_s,gflop_per_s,gemm_part_gflop_per_s,repeats_s\n")
        f.write(f"probe,probe/triad,{triad},{triad},0,40,0,0,{triad}\n")
        f.write(f"probe,probe/sgemm-512x784x128,{sgemm},{sgemm},0,0,100,0,{sgemm}\n")
        for name, reps in cases.items():
            med = statistics.median(reps)
            f.write(f"norm,{name},{med},{min(reps)},0,0,0,0,{';'.join(str(r) for r in reps)}\n")
    return path


def records(hist, kind):
    return sorted(glob.glob(os.path.join(hist, "*", f"*.{kind}.csv")))


def case_record_bench(tmp):
    """A bench CSV becomes one record: every case with all its repeats, the
    fingerprint and the commit; twice is refused unless --replace; no temp files left."""
    hist = os.path.join(tmp, "h")
    b = bench_csv(os.path.join(tmp, "b.csv"), {"norm/x": [1e-3, 1.1e-3, 0.9e-3], "norm/y": [2e-3, 2.1e-3]})
    normlab(["history", "record", b, "--history", hist, "--commit", "abc1234", "--date", "2026-01-01T00:00:00Z"])
    [f] = records(hist, "bench")
    rows = list(csv.DictReader(open(f)))
    check([(r["case"], r["repeat"], float(r["seconds"])) for r in rows if not r["case"].startswith("probe/")] ==
          [("norm/x", "1", 1e-3), ("norm/x", "2", 1.1e-3), ("norm/x", "3", 0.9e-3), ("norm/y", "1", 2e-3),
           ("norm/y", "2", 2.1e-3)], f"repeats not all recorded: {rows}")
    r0 = rows[0]
    check(r0["commit"] == "abc1234" and r0["date"] == "2026-01-01T00:00:00Z", f"commit/date: {r0}")
    check(r0["cpu"] and int(r0["cores"]) >= 1 and r0["blas_kernel"] and float(r0["triad_gb_s"]) == 40 and
          float(r0["sgemm_gflop_s"]) == 100, f"fingerprint: {r0}")
    check(os.path.basename(os.path.dirname(f)) == r0["machine"], "the folder is the machine id")
    before = tree(hist)
    refused(["history", "record", b, "--history", hist, "--commit", "abc1234"], "recorded already", "--replace", f)
    check(tree(hist) == before, "a refused record changed the history")
    b2 = bench_csv(os.path.join(tmp, "b2.csv"), {"norm/x": [5e-3, 5e-3, 5e-3]})
    normlab(["history", "record", b2, "--history", hist, "--commit", "abc1234", "--replace"])
    check(len(list(csv.DictReader(open(f)))) == 5, "--replace did not replace the record")
    check(not glob.glob(os.path.join(hist, "**", "*.tmp.*"), recursive=True), "temporary files left")
    # A record edited, renamed or copied by hand is not trusted: show refuses it, naming the file.
    normlab(["history", "show", "--history", hist], expect=0)
    moved = os.path.join(os.path.dirname(f), "def5678.bench.csv")
    shutil.copy(f, moved)
    refused(["history", "show", "--history", hist], moved, "renamed or copied by hand")
    os.remove(moved)
    text = open(f).read()
    open(f, "w").write(text.replace("norm/x,1,", "norm/x,1,").replace(",abc1234,", ",abc1234,", 1)
                       + text.splitlines()[-1].replace("abc1234", "ffff999", 1) + "\n")
    refused(["history", "show", "--history", hist], f, "column 'commit'")
    open(f, "w").write(text.replace("seconds", "secs", 1))
    refused(["history", "show", "--history", hist], f, "header")


def case_record_refusals(tmp):
    """Unverified input is not recorded: a bench CSV with a bad repeat, a
    duplicated case or no probes; a claims folder that fails `normlab verify`; a bad
    commit name. Exit 2 naming the file, and the history untouched."""
    hist = os.path.join(tmp, "h")
    good = bench_csv(os.path.join(tmp, "g.csv"), {"norm/x": [1e-3, 1e-3, 1e-3]})
    normlab(["history", "record", good, "--history", hist, "--commit", "c0000"])
    before = tree(hist)
    bad = bench_csv(os.path.join(tmp, "bad.csv"), {"norm/x": [1e-3, -1, 1e-3]})
    refused(["history", "record", bad, "--history", hist, "--commit", "c1111"], "bad.csv", "repeats_s")
    text = open(good).read()
    dup = os.path.join(tmp, "dup.csv")
    open(dup, "w").write(text + text.splitlines()[-1] + "\n")
    refused(["history", "record", dup, "--history", hist, "--commit", "c1111"], "dup.csv", "twice")
    noprobe = os.path.join(tmp, "noprobe.csv")
    open(noprobe, "w").write("\n".join(l for l in text.splitlines() if "probe/" not in l) + "\n")
    refused(["history", "record", noprobe, "--history", hist, "--commit", "c1111"], "noprobe.csv", "probe/triad")
    claims = os.path.join(tmp, "claims")
    shutil.copytree(BASELINE, claims)
    lines = open(os.path.join(claims, "claims.csv")).read().splitlines(True)
    open(os.path.join(claims, "claims.csv"), "w").write("".join(lines + [lines[2]]))  # a cell twice
    reseal(claims)  # as a writer that repeated the cell would have recorded it
    # the good bench CSV beside it: nothing of either is written
    refused(["history", "record", good, claims, "--history", hist, "--commit", "c1111"], "normlab verify",
            "repeats claim")
    refused(["history", "record", good, "--history", hist, "--commit", "../x"], "--commit", "'../x'")
    sweep = os.path.join(tmp, "run")
    normlab(["train", "--dataset", "blobs:n=600,test=400,dim=16,classes=4", "--widths", "16", "--steps", "5",
             "--out", sweep, "-q"])
    refused(["history", "record", sweep, "--history", hist, "--commit", "c1111"], "is a sweep folder")
    check(tree(hist) == before, "a refused record changed the history")


def case_record_claims(tmp):
    """A claims folder (verified) becomes a claims record with every cell: mean,
    interval, n, decision and the rule's tolerance."""
    hist = os.path.join(tmp, "h")
    normlab(["history", "record", BASELINE, "--history", hist, "--commit", "c0000", "--date", "2026-01-01"])
    [f] = records(hist, "claims")
    got = list(csv.DictReader(open(f)))
    want = list(csv.DictReader(open(os.path.join(BASELINE, "claims.csv"))))
    check(len(got) == len(want), f"{len(got)} cells recorded of {len(want)}")
    for g, w in zip(got, want):
        check((g["claim"], g["cell"], g["n"], g["decision"]) == (w["id"], w["cell"], w["n"], w["verdict"]),
              f"cell differs: {g} vs {w}")
        for a, b in [("mean", "mean"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("tolerance", "tolerance")]:
            check((g[a] == "" and w[b] == "") or math.isclose(float(g[a]), float(w[b]), rel_tol=1e-6),
                  f"{a}: {g[a]} vs {w[b]}")


def synthetic_history(tmp, commits, step_at, step, noise=0.02, seed=1):
    """A history of `commits` bench records, case norm/x with a planted step."""
    import random
    rnd = random.Random(seed)
    hist = os.path.join(tmp, "h")
    for c in range(commits):
        level = 1e-3 * (1 + step if c >= step_at else 1)
        reps = [level * math.exp(rnd.gauss(0, noise)) for _ in range(5)]
        flat = [2e-3 * math.exp(rnd.gauss(0, noise)) for _ in range(5)]
        b = bench_csv(os.path.join(tmp, f"b{c}.csv"), {"norm/x": reps, "norm/flat": flat})
        normlab(["history", "record", b, "--history", hist, "--commit", f"c{c:04d}",
                 "--date", f"2026-01-{c + 1:02d}T00:00:00Z"])
    return hist


def case_show_step(tmp):
    """show names the commit of a planted 20% slowdown (size, confidence), none in
    the flat series, writes a PNG per series, and exits 1 while the step is among
    the last --recent commits, 0 once it is older."""
    hist = synthetic_history(tmp, 16, 12, 0.20)
    plots = os.path.join(tmp, "plots")
    p = normlab(["history", "show", "--history", hist, "--plots", plots, "--recent", "4"], expect=1)
    check("c0012 +2" in p.stdout and "REGRESSION" in p.stdout, f"step not named:\n{p.stdout}")
    flat = [l for l in p.stdout.split("\n\n") if "norm/flat" in l]
    check(flat and "change points: none" in p.stdout.split("norm/flat")[1].split("\n")[1], f"flat series:\n{p.stdout}")
    check("commit c0012" in p.stderr and "norm/x" in p.stderr, f"exit message lacks the commit:\n{p.stderr}")
    pngs = glob.glob(os.path.join(plots, "*.png"))
    check(len(pngs) == 2, f"expected 2 PNGs, got {pngs}")
    # Its own folder is written again; a folder with other files (a sweep's, a user's) is refused
    # before anything changes, and so is a file.
    normlab(["history", "show", "--history", hist, "--plots", plots, "--recent", "4"], expect=1)
    for name, content in [("notes.md", "mine\n"), ("series.csv", "x,y\n1,2\n")]:
        other = os.path.join(tmp, "other-" + name)
        os.makedirs(other)
        with open(os.path.join(other, name), "w") as f:
            f.write(content)
        refused(["history", "show", "--history", hist, "--plots", other], "--plots: " + other)
        check(os.listdir(other) == [name] and open(os.path.join(other, name)).read() == content,
              f"{other}: changed by a refused --plots")
    refused(["history", "show", "--history", hist, "--plots", os.path.join(other, name)], "is not a folder")
    # Its own folder holding a file it did not write is refused too: a user's notes, or a
    # file named like the PNG of a series the earlier --plots did not draw (here norm/x's).
    one = os.path.join(tmp, "plots-one")
    normlab(["history", "show", "--history", hist, "--plots", one, "--case", "flat", "--recent", "4"], expect=0)
    flat_png = [f for f in os.listdir(one) if f.endswith(".png")]
    x_png = sorted(set(os.listdir(plots)) - set(flat_png) - {"series.csv", "steps.csv"})
    check(len(flat_png) == 1 and len(x_png) == 1 and len(os.listdir(one)) == 3, f"{one}: {os.listdir(one)}")
    for name in [x_png[0], "notes.md"]:
        with open(os.path.join(one, name), "w") as f:
            f.write("mine\n")
        refused(["history", "show", "--history", hist, "--plots", one, "--recent", "4"], f"holds {name}")
        check(open(os.path.join(one, name)).read() == "mine\n", f"{name}: replaced by a refused --plots")
        os.remove(os.path.join(one, name))
    normlab(["history", "show", "--history", hist, "--plots", one, "--recent", "4"], expect=1)
    check(sorted(os.listdir(one)) == sorted(os.listdir(plots)), f"{one}: {os.listdir(one)}")
    # One of its own files replaced by a symlink (a PNG, or series.csv pointing at a copy of
    # itself) is refused: the plots would be written through the link.
    victim = os.path.join(tmp, "victim.txt")
    for name in [x_png[0], "series.csv"]:
        with open(victim, "w") as f:
            f.write(open(os.path.join(one, name), "rb").read().decode("latin-1") if name == "series.csv" else "mine\n")
        before = open(victim, "rb").read()
        os.replace(os.path.join(one, name), os.path.join(tmp, "saved-" + name))
        os.symlink(victim, os.path.join(one, name))
        refused(["history", "show", "--history", hist, "--plots", one, "--recent", "4"],
                "no series.csv of its own" if name == "series.csv" else f"holds {name}, a symlink")
        check(open(victim, "rb").read() == before, f"{name}: written through a symlink")
        os.remove(os.path.join(one, name))
        os.replace(os.path.join(tmp, "saved-" + name), os.path.join(one, name))
    # Two series whose names map to one file name (norm/y, norm_y): each gets its own PNG.
    h2 = os.path.join(tmp, "h2")
    for c in range(3):
        b = bench_csv(os.path.join(tmp, f"y{c}.csv"), {"norm/y": [1e-3] * 5, "norm_y": [2e-3] * 5})
        normlab(["history", "record", b, "--history", h2, "--commit", f"y{c:04d}", "--date", f"2026-02-0{c + 1}T00:00:00Z"])
    two = os.path.join(tmp, "plots-two")
    normlab(["history", "show", "--history", h2, "--plots", two], expect=0)
    pngs = sorted(f for f in os.listdir(two) if f.endswith(".png"))
    check(len(pngs) == 2, f"norm/y and norm_y: one PNG replaced the other: {pngs}")
    normlab(["history", "show", "--history", hist, "--recent", "2"], expect=0)
    normlab(["history", "show", "--history", hist, "--case", "flat", "--recent", "16"], expect=0)
    refused(["history", "show", "--history", hist, "--case", "nosuch"], "--case 'nosuch'")
    refused(["history", "show", "--history", os.path.join(tmp, "empty")], "holds no records")


def reseal(d):
    """The top manifest's claims.csv checksum made to match the fabricated claims.csv,
    so that verify sees the fabricated night as written (sweep/store.h)."""
    mf = os.path.join(d, "manifest.json")
    m = json.load(open(mf))
    m["files"]["claims.csv"] = hashlib.sha256(open(os.path.join(d, "claims.csv"), "rb").read()).hexdigest()
    open(mf, "w").write(json.dumps(m, indent=2) + "\n")


def case_show_claims(tmp):
    """A claim cell whose mean steps beyond its rule's tolerance, and one whose
    decision changes, are regressions naming the commit, though each night's
    claims run passed on its own."""
    hist = os.path.join(tmp, "h")
    src = list(csv.DictReader(open(os.path.join(BASELINE, "claims.csv"))))
    cell = next(r for r in src if r["cell"] and r["tolerance"] and r["mean"] and r["id"] == "regularization")
    other = next(r for r in src if r["cell"] and r["id"] == "placement")
    for c in range(6):
        d = os.path.join(tmp, f"cl{c}")
        shutil.copytree(BASELINE, d)
        rows = [dict(r) for r in src]
        for r in rows:
            if r is not None and (r["id"], r["cell"]) == (cell["id"], cell["cell"]) and c >= 4:
                r["mean"] = str(float(r["mean"]) + 2 * float(r["tolerance"]))
            if (r["id"], r["cell"]) == (other["id"], other["cell"]) and c >= 5:
                r["verdict"] = "flipped"
        with open(os.path.join(d, "claims.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(src[0].keys()))
            w.writeheader()
            w.writerows(rows)
        reseal(d)  # a night that measured these means, not an edit of the baseline
        normlab(["history", "record", d, "--history", hist, "--commit", f"c{c:04d}",
                 "--date", f"2026-02-{c + 1:02d}"])
        shutil.rmtree(d)
    p = normlab(["history", "show", "--history", hist, "--claim", "regularization", "--recent", "2"], expect=1)
    check(f"commit c0004: regularization | {cell['cell']}" in p.stdout, f"mean step not named:\n{p.stdout}")
    p = normlab(["history", "show", "--history", hist, "--claim", "placement", "--recent", "1"], expect=1)
    check(f"commit c0005: placement | {other['cell']} decision changed" in p.stdout, f"flip not named:\n{p.stdout}")
    normlab(["history", "show", "--history", hist, "--claim", "lr-tolerance"], expect=0)


def repeat_noise(paths):
    """Median over cases and files of the sd of log time between a case's repeats."""
    return statistics.median(statistics.stdev([math.log(float(x)) for x in r["repeats_s"].split(";")])
                             for p in paths for r in csv.DictReader(open(p)) if not r["name"].startswith("probe/"))


def noise_of(paths):
    """(within, between, worst): the median over cases of the sd of log time between a
    run's repeats and between runs' medians, and the largest between-runs sd of any
    case (a case whose runs fall into a slow and a fast mode: its noise, not the
    median case's, decides whether the gate can hold its false-alarm bound)."""
    within, meds = [], {}
    for p in paths:
        for r in csv.DictReader(open(p)):
            if r["name"].startswith("probe/"):
                continue
            reps = [math.log(float(x)) for x in r["repeats_s"].split(";")]
            within.append(statistics.stdev(reps))
            meds.setdefault(r["name"], []).append(statistics.median(reps))
    between = [statistics.stdev(v) for v in meds.values()]
    return statistics.median(within), statistics.median(between), max(between)


# The largest noise test_history_gate.cpp simulates the gate under (0.040, a loaded
# machine), where its A/A bound (at most 1 flag in 20) was shown: beyond it the A/A count
# says more about the machine than the gate (a shared 2-core VM measured 0.10-0.14 and drew
# 0-8 false alarms in 20 from run to run; at 0.048 it drew 2).
NOISE_ENVELOPE = 0.04


def recorded_history(tmp):
    """A history of 5 records of this binary (TINY, 5 repeats each): its folder and the bench CSVs."""
    hist = os.path.join(tmp, "h")
    runs = []
    for i in range(5):
        out = os.path.join(tmp, f"base{i}.csv")
        normlab(TINY + ["--repeats", "5", "--csv", out])
        normlab(["history", "record", out, "--history", hist, "--commit", f"base{i}", "--date", f"2026-01-0{i + 1}"])
        runs.append(out)
    return hist, runs


def case_aa_real(tmp):
    """20 A/A comparisons of this binary, through the gate, with real timings of
    the 4 norm cases of shape 128x1024 (5 repeats each): the history holds 5
    runs of the same binary (5 records), each comparison uses the history's own
    spread on this machine. At most 1 of the 20 may flag. Prints the count and
    the measured noise (the figures test_history_gate.cpp simulates with)."""
    hist, runs = recorded_history(tmp)
    flagged = []
    for i in range(20):
        out = os.path.join(tmp, f"aa{i}.csv")
        p = normlab(TINY + ["--repeats", "5", "--csv", out, "--compare", hist, "--tolerance", "0.1"], expect=None)
        check(p.returncode in (0, 1), f"gate exit {p.returncode}:\n{p.stderr}")
        check("history" in p.stdout, f"the history-spread test was not used:\n{p.stdout}")
        if p.returncode == 1:
            flagged.append((i, [l for l in p.stdout.splitlines() if "SLOWER" in l]))
        runs.append(out)
    within, between, worst = noise_of(runs)
    print(f"A/A: {len(flagged)} of 20 comparisons flagged {flagged}")
    print(f"measured noise (sd of log time): {within:.4f} between repeats within a run, "
          f"{between:.4f} between runs' medians ({worst:.4f} for the noisiest case)")
    if max(within, between, worst) > NOISE_ENVELOPE:
        print(f"SKIP: this machine's timing noise ({max(within, between, worst):.3f}) is outside the envelope the gate "
              f"is designed and simulated for (sd <= {NOISE_ENVELOPE}, test_history_gate.cpp); the count above "
              "is not evidence about the gate here")
        sys.exit(77)
    check(len(flagged) <= 1, f"{len(flagged)} false alarms in 20 A/A comparisons")


def case_slowdown_real(tmp):
    """The test hook NORMLAB_BENCH_SLOWDOWN makes one norm case 20% slower: the
    gate flags that case and no other against the same binary without the hook,
    interleaved (--baseline-binary, 8 rounds of one process each). Unflagged on a
    machine noisier than NOISE_ENVELOPE (its repeats' spread), it reports itself
    skipped, as aa-real does."""
    # TMPDIR: a folder of its own, so that what the rounds leave in it is seen.
    scratch = os.path.join(tmp, "scratch")
    os.makedirs(scratch)
    slow = {"NORMLAB_BENCH_SLOWDOWN": "norm/bn-fwd/128x1024=20", "TMPDIR": scratch}
    out = os.path.join(tmp, "slow.csv")
    p = normlab(TINY + ["--repeats", "8", "--baseline-binary", BIN, "--tolerance", "0.05", "--csv", out],
                expect=None, env=slow)
    check(os.listdir(scratch) == [], f"the interleaved rounds left files in TMPDIR: {os.listdir(scratch)}")
    within = repeat_noise([out]) if os.path.exists(out) else 0.0
    if p.returncode == 0 and within > NOISE_ENVELOPE:
        print(f"SKIP: the 20% slowdown went unflagged on a machine whose timing noise ({within:.3f}) is outside the "
              f"envelope the gate is designed for (sd <= {NOISE_ENVELOPE}):\n{p.stdout}")
        sys.exit(77)
    check(p.returncode == 1, f"exit {p.returncode}, expected 1 (the slowdown flagged)\n{p.stdout}\n{p.stderr}")
    lines = [l for l in p.stdout.splitlines() if "SLOWER" in l]
    check(len(lines) == 1 and lines[0].startswith("norm/bn-fwd/128x1024"), f"flagged: {lines}\n{p.stdout}")
    check("mann-whitney" in p.stdout and "interleaved" in p.stdout, p.stdout)
    print("\n".join(l for l in p.stdout.splitlines() if "mann-whitney" in l))
    refused(TINY + ["--repeats", "2", "--baseline-binary", BIN], "--repeats >= 3")
    refused(TINY + ["--baseline-binary", BIN, "--compare", BIN, "--repeats", "3"], "--baseline-binary and --compare")


def case_transient_real(tmp):
    """A slowdown in the first timing only (the hook's @first: a burst of load
    during one case's timing) is timed again and not confirmed: exit 0, the
    case marked "not confirmed"; the same slowdown in every timing is
    confirmed (exit 1, SLOWER). Both against a history of this binary (the
    history-spread test, in this process) and interleaved with a baseline
    binary (Mann-Whitney, child processes). Without the second timing the
    transient fails the gate (the first timing's p and ratio are printed and
    checked to flag it). Skipped, as aa-real, on a machine noisier than
    NOISE_ENVELOPE. The slowdown doubles the case's time: single processes on a
    shared machine run any norm case up to about 1.55x its usual time (seen on
    this VM in 2026-12), and a 40% slowdown let such a round of the baseline
    binary overlap the slowed ones in an interleaved first timing (CI check,
    2026-12-05: ratio 1.40, Holm p 0.13, unflagged). Sensitivity to smaller
    slowdowns is slowdown-real's (20%); this case tests the second timing."""
    hist, runs = recorded_history(tmp)
    noise = max(noise_of(runs))
    if noise > NOISE_ENVELOPE:
        print(f"SKIP: this machine's timing noise ({noise:.3f}) is outside the envelope "
              f"(sd <= {NOISE_ENVELOPE})")
        sys.exit(77)
    case = "norm/bn-fwd/128x1024"

    def line_of(stdout):
        lines = [l for l in stdout.splitlines()
                 if l.startswith(case + " ") and ("history" in l.split() or "mann-whitney" in l.split())]
        check(len(lines) == 1, f"no gate line for {case}:\n{stdout}")
        return lines[0]

    def first_flags(line, tol):
        f = line.split()
        ratio, p_holm = float(f[1]), float(f[3])
        return ratio > 1 + tol and p_holm <= 0.05

    modes = [("history", ["--compare", hist, "--tolerance", "0.1"], 0.1),
             ("interleaved", ["--baseline-binary", BIN, "--tolerance", "0.1"], 0.1)]
    for name, extra, tol in modes:
        reps = "5" if name == "history" else "6"
        p = normlab(TINY + ["--repeats", reps] + extra, expect=None, env={"NORMLAB_BENCH_SLOWDOWN": case + "=100@first"})
        line = line_of(p.stdout)
        check(first_flags(line, tol), f"{name}: the first timing did not flag the 100% transient (nothing to confirm):\n"
              f"{p.stdout}")
        check(p.returncode == 0 and "not confirmed" in line,
              f"{name}: a transient was not dismissed by the second timing (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        print(f"{name} transient: {line}")
        p = normlab(TINY + ["--repeats", reps] + extra, expect=None, env={"NORMLAB_BENCH_SLOWDOWN": case + "=100"})
        line = line_of(p.stdout)
        check(p.returncode == 1 and line.endswith("SLOWER"),
              f"{name}: a lasting 100% slowdown was not confirmed (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
        check(float(line.split()[5]) > 1.1, f"{name}: the second timing's ratio is not shown:\n{line}")
        print(f"{name} lasting:   {line}")
    refused_env = normlab(TINY + ["--repeats", "3", "--compare", hist], expect=2,
                          env={"NORMLAB_BENCH_SLOWDOWN": case + "=100@later"})
    check("@first" in refused_env.stderr, refused_env.stderr)


def case_nightly_symlinks(tmp):
    """scripts/nightly_history.sh writes its logs (gate.txt, history.txt) into the
    artifacts folder through a temporary and a rename: a symlink planted at either
    is replaced by the log, and the file it pointed at keeps its bytes; the other
    steps still run (bench CSV recorded, history shown)."""
    hist, art = os.path.join(tmp, "hist"), os.path.join(tmp, "art")
    os.makedirs(art)
    victims = {}
    for name in ("gate.txt", "history.txt"):
        victims[name] = os.path.join(tmp, "victim-" + name)
        with open(victims[name], "wb") as f:
            f.write(b"not the nightly's\n")
        os.symlink(victims[name], os.path.join(art, name))
    env = dict(os.environ, NORMLAB=BIN, BENCH_ARGS=" ".join(TINY[1:] + ["--repeats", "1"]))
    env.pop("GITHUB_STEP_SUMMARY", None)
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "nightly_history.sh"), hist, art],
                       capture_output=True, text=True, env=env)
    check(p.returncode in (0, 1), f"exit {p.returncode}:\n{p.stdout}\n{p.stderr}")
    for name, victim in victims.items():
        check(open(victim, "rb").read() == b"not the nightly's\n", f"{name}: written through a symlink")
        log = os.path.join(art, name)
        check(os.path.isfile(log) and not os.path.islink(log), f"{name}: not a file of its own")
        check(os.path.getsize(log) > 0, f"{name}: empty")
    check(len(records(hist, "bench")) == 1, f"tonight's bench not recorded:\n{p.stdout}\n{p.stderr}")
    check("norm/" in open(os.path.join(art, "gate.txt")).read(), "gate.txt lacks the bench's cases")


def case_seeded(tmp):
    """The committed seeded history (results/history, scripts/seed_history.sh;
    nothing is rebuilt here): `history show` names the OpenBLAS kernel pin,
    901b010, as a slowdown step of the dense layer's forward series (before it,
    each commit ran OpenBLAS's native kernel), and its record holds every
    repeat of the session (at least 5 per case). (dense-fwdbwd is left out: its
    repeats on the busy machine spread too widely for a step to be clear.)"""
    hist = os.path.join(ROOT, "results", "history")
    pin = "901b010661fe"
    p = normlab(["history", "show", "--history", hist, "--case", "layers/dense-fwd/"], expect=None)
    blocks = [b for b in p.stdout.split("\nlayers/") if "dense" in b.split("\n")[0]]
    check(len(blocks) == 1, f"expected 1 series (dense-fwd):\n{p.stdout}")
    for b in blocks:
        steps = b.split("change points: ")[1].split("\n")[0]
        check(f"{pin} +" in steps, f"the pin {pin} is not a slowdown step of this series:\n{b}")
    rows = list(csv.DictReader(open(glob.glob(os.path.join(hist, "*", pin + ".bench.csv"))[0])))
    reps = {}
    for r in rows:
        reps[r["case"]] = reps.get(r["case"], 0) + 1
    check(min(reps.values()) >= 5, f"{pin}: fewer than 5 repeats in {reps}")
    print("\n".join(b.split("\n")[0] + ": " + b.split("change points: ")[1].split("\n")[0] for b in blocks))


CASES = {n[len("case_"):].replace("_", "-"): f for n, f in globals().items() if n.startswith("case_")}

if CASE not in CASES:
    sys.exit(f"unknown case {CASE} (known: {' '.join(CASES)})")
with tempfile.TemporaryDirectory() as tmp:
    CASES[CASE](tmp)
print(f"PASS {CASE}")
