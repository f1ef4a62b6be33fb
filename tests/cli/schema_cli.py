#!/usr/bin/python3
"""Command-line tests of the key schema (lib/train/key_schema.cpp): every value a
user gives (a train option, a run file, an experiment's run and meta keys,
--set, [random], the options slurm writes into its scripts) is checked by one
spec and refused with exit 2 and a message naming the place, key and what is
allowed, before anything is written; and generated Slurm scripts run no part of
a value as a command.
Usage: schema_cli.py NORMLAB_BIN CASE"""
import re
import os
import subprocess
import sys
import tempfile

from csv_rows import write

BIN = sys.argv[1]
CASE = sys.argv[2]
BL = "blobs:n=600,test=400,dim=16,classes=4"
E1 = f'dataset = "{BL}"\nwidths = [16]\nsteps = 5\nlr = [0.1, 0.2]\n'
TRAIN = ["train", "--dataset", BL, "--widths", "16", "--steps", "5", "-q"]


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def normlab(args, expect=0, cwd=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd)
    if p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\n"
                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def refused(args, needles, cwd=None):
    """Exit 2 with every needle in the message, and short (no stack of library text)."""
    p = normlab(args, expect=2, cwd=cwd)
    for n in needles:
        check(n in p.stderr, f"{args}: message lacks {n!r}:\n{p.stderr}")
    for raw in ("stoi", "stoll", "stod", "type_error", "terminate"):
        check(raw not in p.stderr, f"{args}: a library's error reached the user:\n{p.stderr}")
    return p


def case_experiment_meta(tmp):
    """Reproduction 13: a key that is present is never ignored, a wrong type never
    replaced by its default; the same for every place a key can be given."""
    out = os.path.join(tmp, "S")
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    cases = [
        ("seed = 7\n", ["seed", "seeds = [7]"]),
        ('lr_scale_with_batch = "yes"\n', ["lr-scale-with-batch", "expected true or false", "is a string"]),
        ('lr_reference_batch = "abc"\nlr_scale_with_batch = true\n', ["lr-reference-batch", "expected an integer"]),
        ("lr-scale-with-batch = 1\n", ["lr-scale-with-batch", "true or false"]),
        ("lr_reference_batch = 0\nlr_scale_with_batch = true\n", ["lr-reference-batch", "out of range", "1 to 2147483647"]),
        ("lr_reference_batch = 64\n", ["lr_reference_batch", "lr_scale_with_batch = true"]),
        ("description = 5\n", ["description", "expected a string"]),
        ('eval_every = "5"\n', ["eval-every", "expected an integer", "is a string"]),
        ("batch_size = 32.0\n", ["batch-size", "expected an integer", "is a float"]),
        ('nesterov = "true"\n', ["nesterov", "expected true or false"]),
        ("norm = 1\n", ["norm", "expected a string", "none, batch, layer"]),
        ('norm = ["batch", "weird"]\n', ["norm", "unknown value 'weird'", "none, batch, layer"]),
        ("threads = [1, 2]\n", ["threads", "one value"]),
        ("seed = [1, 2]\n", ["seed", "seeds"]),
        ('[random]\nsamples = "4"\nlr = { uniform = [0.1, 0.2] }\n', ["random.samples", "expected an integer"]),
        ("[random]\nsamples = 2.5\nlr = { uniform = [0.1, 0.2] }\n", ["random.samples", "expected an integer"]),
        ('[random]\nsamples = 2\nseed = "x"\nlr = { uniform = [0.1, 0.2] }\n', ["random.seed", "expected an integer"]),
        ("[random]\nlr = { uniform = [0.1, 0.2] }\n", ["random.samples", "missing"]),
        ("[[include]]\nseed = 7\n", ["seed", "seeds"]),
        ("[profile.p]\nseed = 7\n", ["seed", "seeds"]),
    ]
    for i, (extra, needles) in enumerate(cases):
        exp = write(os.path.join(tmp, f"m{i}.toml"), E1 + extra)
        args = ["sweep", exp, "--out", out] + (["--profile", "p"] if "[profile.p]" in extra else [])
        p = refused(args, needles)
        check(exp + ":" in p.stderr or "lr_reference_batch" in extra, f"{extra!r}: no file:line:\n{p.stderr}")
    refused(["sweep", e1, "--out", out, "--set", "seed=7"], ["--set seed", "--set seeds=[7]"])
    check(not os.path.exists(out), "a refused experiment wrote its folder")
    # What the messages point to works: seeds = [7] runs seed 7, and a scaled lr is applied.
    ok = write(os.path.join(tmp, "ok.toml"), E1 + "seeds = [7]\nlr_scale_with_batch = true\nlr_reference_batch = 32\n")
    p = normlab(["sweep", ok, "--dry-run"])
    # seed is shared by every run: named once, in the log line; lr varies: in each run's label.
    check("every run:" in p.stderr and "seed=7" in p.stderr.split("every run:")[1], p.stderr)
    check(re.search(r"lr=0\.2\b", p.stdout) and re.search(r"lr=0\.4\b", p.stdout), p.stdout)


def case_set_lists(tmp):
    """--set takes a list as the file would (an axis), checked by the same spec."""
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    p = normlab(["sweep", e1, "--dry-run", "--set", "lr=[0.1,0.3,0.5]"])
    lines = p.stdout.strip().splitlines()
    check(len(lines) == 3 and "lr=0.3" in lines[1] and "lr=0.5" in lines[2], p.stdout)
    p = normlab(["sweep", e1, "--dry-run", "--set", "widths=[[16],[32, 8]]"])
    check(len(p.stdout.strip().splitlines()) == 4 and "widths=32,8" in p.stdout, p.stdout)
    p = normlab(["sweep", e1, "--dry-run", "--set", "widths=[32, 8]"])
    check(len(p.stdout.strip().splitlines()) == 2 and "widths=32,8" in p.stderr, p.stdout + p.stderr)
    p = normlab(["sweep", e1, "--dry-run", "--set", "seeds=[3, 4]", "--set", "optimizer=momentum", "--set",
                 "nesterov=yes"])
    check(len(p.stdout.strip().splitlines()) == 4 and "nesterov=true" in p.stderr, p.stdout + p.stderr)
    for s, needles in [("lr=[0.1,abc]", ["--set lr", "lr"]), ("lr=[0.1,", ["--set lr", "TOML list"]),
                       ("lr=[]", ["lr", "empty list"]), ("lr=0.1x", ["--set lr", "'0.1x'", "not a number"]),
                       ("steps=5x", ["--set steps", "not an integer"]), ("norm=[\"batch\", 3]", ["norm", "expected a string"]),
                       ("threads=[1,2]", ["threads", "one value"]), ("threads=300", ["threads", "1 to 256"])]:
        refused(["sweep", e1, "--dry-run", "--set", s], needles)


def case_integers(tmp):
    """Reproduction 14: integers parsed whole and in range, never clamped or cut."""
    out = os.path.join(tmp, "o")
    refused(TRAIN + ["--seed", "18446744073709551615", "--out", out], ["seed", "out of range", "0 to 9223372036854775807"])
    refused(TRAIN + ["--seed", "99999999999999999999999abc", "--out", out], ["seed", "not an integer"])
    for opt, val in [("--seed", "7x"), ("--seed", "0x10"), ("--seed", " 7"), ("--steps", "5.0"), ("--batch-size", "1e3"),
                     ("--widths", "16x"), ("--widths", "16,,8"), ("--stat-batches", "1"), ("--groups", "0")]:
        refused(TRAIN + [opt, val, "--out", out], [opt[2:]])
    run = write(os.path.join(tmp, "run.toml"), 'seed = "99abc"\n')
    refused(TRAIN + ["--config", run, "--out", out], [run + ":1:", "seed", "expected an integer"])
    run = write(os.path.join(tmp, "big.toml"), "seed = 18446744073709551615\n")
    refused(TRAIN + ["--config", run, "--out", out], [run + ":1:"])
    check(not os.path.exists(out), "a refused train wrote results")
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    for shard in ["1/2x", "0/2/7", "2/2", "-1/2", "1/0", "1", "a/b", "1/ 2", "0/99999999999"]:
        refused(["sweep", e1, "--dry-run", "--shard", shard], ["--shard", f"'{shard}'", "0 <= i < n"])
    sl = os.path.join(tmp, "job")
    normlab(["slurm", e1, "--out", sl, "--tasks", "2"])
    for r in ["0-1x", "1-0", "2", "x", "0,", "-1"]:
        refused(["slurm", e1, "--out", sl, "--resubmit", r], ["--resubmit", "0..1"])
    for opt, val in [("--array-parallelism", "-3"), ("--array-parallelism", "0"), ("--tasks", "1x"), ("--tasks", "0"),
                     ("--jobs", "300"), ("--jobs", "0"), ("--signal-seconds", "0"), ("--max-array-size", "0"),
                     ("--cpus-per-task", "-1")]:
        refused(["slurm", e1, "--out", os.path.join(tmp, "bad"), opt, val], [opt])
    check(not os.path.exists(os.path.join(tmp, "bad")), "a refused slurm wrote files")


def case_init_nonfinite(tmp):
    """Reproduction 15: a non-finite init parameter is refused, not run as a diverged run."""
    out = os.path.join(tmp, "o")
    for init in ["constant:inf", "normal:nan", "uniform:-inf", "constant:1e999", "he-normal:nan", "constant:1x"]:
        refused(TRAIN + ["--init", init, "--out", out], ["init", init, "finite"])
    run = write(os.path.join(tmp, "run.toml"), 'init = "constant:inf"\n')
    refused(TRAIN + ["--config", run, "--out", out], [run + ":1:", "init"])
    e = write(os.path.join(tmp, "e.toml"), E1 + 'init = ["default", "normal:nan"]\n')
    refused(["sweep", e, "--out", out], [e + ":5:", "normal:nan", "finite"])
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    refused(["sweep", e1, "--out", out, "--set", "init=constant:inf"], ["--set init", "finite"])
    refused(["slurm", e1, "--out", out, "--set", "init=constant:inf"], ["--set init", "finite"])
    for key, val in [("bn-momentum", "nan"), ("bn-momentum", "keras:inf"), ("lr", "inf"), ("eps", "nan")]:
        refused(TRAIN + [f"--{key}", val, "--out", out], [key])
    check(not os.path.exists(out), "a refused run wrote results")


def case_slurm_cpus(tmp):
    """Reproduction 16: what the array tasks would refuse is refused by slurm first."""
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    bad = os.path.join(tmp, "bad")
    refused(["slurm", e1, "--cpus-per-task", "600", "--out", bad], ["--cpus-per-task", "600", "1 to 256", "up to 256"])
    refused(["slurm", e1, "--cpus-per-task", "600", "--jobs", "2", "--out", bad], ["--cpus-per-task", "up to 513"])
    refused(["slurm", e1, "--jobs", "257", "--out", bad], ["--jobs"])
    refused(["slurm", e1, "--set", "threads=600", "--out", bad], ["--set threads", "1 to 256"])
    refused(["slurm", e1, "--set", "epochs=1e12", "--out", bad], ["epochs", "limit of 1000000000000 steps"])
    check(not os.path.exists(bad), "a refused slurm wrote files")
    ok = os.path.join(tmp, "ok")
    normlab(["slurm", e1, "--cpus-per-task", "600", "--jobs", "3", "--out", ok])
    script = open(os.path.join(ok, "slurm", "array-0.sbatch")).read()
    check("--jobs 3 --threads 200" in script, script)
    # A list passed on with --set is checked at slurm time and written quoted.
    ok2 = os.path.join(tmp, "ok2")
    normlab(["slurm", e1, "--set", "lr=[0.1, 0.3, 0.5]", "--out", ok2])
    import json
    check(json.load(open(os.path.join(ok2, "slurm", "job.json")))["runs"] == 3, "--set list not applied")
    script = open(os.path.join(ok2, "slurm", "array-0.sbatch")).read()
    check("--set 'lr=[0.1, 0.3, 0.5]'" in script, script)
    refused(["slurm", e1, "--set", "lr=[0.1, -3]", "--out", bad], ["--set lr", "lr > 0"])


def case_epochs_limit(tmp):
    """The weak spot: --epochs 1e12 and a swept 5e9 are refused before any run."""
    out = os.path.join(tmp, "o")
    for extra in [["--epochs", "1e12"], ["--epochs", "1e12", "--steps", "5"], ["--epochs", "5e11"]]:
        refused(["train", "--dataset", BL, "--widths", "16", *extra, "--out", out], ["epochs", "limit"])
    run = write(os.path.join(tmp, "run.toml"), "epochs = 1e12\n")
    refused(["train", "--dataset", BL, "--config", run, "--out", out], [run + ":1:", "epochs", "limit of 1000000000000 steps"])
    e = write(os.path.join(tmp, "e.toml"), f'dataset = "{BL}"\nwidths = [16]\nepochs = [1, 5e11]\n')
    refused(["sweep", e, "--out", out], ["epochs", "limit", "epochs up to"])
    check(not os.path.exists(out), "a refused run wrote results")


def case_bool_flags(tmp):
    """A boolean key is a flag: --nesterov alone means true; --nesterov false works too."""
    for extra, want in [(["--nesterov"], "true"), (["--nesterov", "false"], "false"), (["--nesterov=true"], "true"),
                        (["--nesterov", "--affine", "false"], "true")]:
        out = os.path.join(tmp, "n" + str(len(os.listdir(tmp))))
        normlab(TRAIN + ["--optimizer", "momentum", "--norm", "batch", *extra, "--out", out])
        import json
        got = json.load(open(os.path.join(out, "manifest.json")))["config_resolved"]
        check(got["nesterov"] == want, f"{extra}: nesterov={got['nesterov']}")
        if "--affine" in extra:
            check(got["affine"] == "false", f"{extra}: affine={got['affine']}")
    refused(TRAIN + ["--nesterov", "maybe", "--out", os.path.join(tmp, "x")], ["nesterov", "'maybe'", "true, false"])


def case_run_ids_unchanged(tmp):
    """The schema changes no canonical text: a committed sweep's experiment still
    expands to exactly the run ids in its runs.csv."""
    import csv
    import json
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    for d in ["results/lr-norm", "results/baseline/init-sensitivity", "results/baseline/batch-stat-noise"]:
        e = json.load(open(os.path.join(root, d, "manifest.json")))["experiment"]
        args = ["sweep", e["path"], "--dry-run"] + (["--profile", e["profile"]] if e.get("profile") else [])
        p = normlab(args, cwd=root)
        now = sorted(line.split()[1] for line in p.stdout.strip().splitlines())
        with open(os.path.join(root, d, "runs.csv"), newline="") as f:
            have = sorted(r["run_id"] for r in csv.DictReader(f))
        check(now == have, f"{d}: {len(set(now) ^ set(have))} run ids differ from the committed runs.csv")


HOSTILE = ["short\ntouch X", "a\rtouch X", "$(touch X)", "`touch X`", "; touch X", "a'b\"c", "a b"]


def scripts_are_inert(job, tmp):
    """Every script parses (bash -n); the merge script and one array task, run by bash
    with a stub scontrol, create no file X (the sweep and merge themselves run)."""
    sd = os.path.join(job, "slurm")
    scripts = [os.path.join(sd, f) for f in sorted(os.listdir(sd)) if f.endswith(".sbatch")]
    for s in scripts:
        p = subprocess.run(["bash", "-n", s], capture_output=True, text=True)
        check(p.returncode == 0, f"bash -n {s}: {p.stderr}")
        for line in open(s).read().splitlines():
            check("touch X" not in line or "'" in line or line.startswith("#"), f"{s}: a bare command line: {line!r}")
    work = os.path.join(tmp, "work")
    os.makedirs(work, exist_ok=True)
    stub = write(os.path.join(tmp, "stub", "scontrol"), "#!/bin/sh\nexit 0\n")
    os.chmod(stub, 0o755)
    env = dict(os.environ, PATH=os.path.dirname(stub) + ":" + os.environ["PATH"], SLURM_ARRAY_TASK_ID="0")
    for s in [os.path.join(sd, "array-0.sbatch"), os.path.join(sd, "merge.sbatch")]:
        subprocess.run(["bash", s], capture_output=True, text=True, cwd=work, env=env, timeout=300)
    for d in (work, tmp, os.getcwd()):
        check(not os.path.exists(os.path.join(d, "X")), f"a script created {d}/X")


def case_slurm_injection(tmp):
    """Reproduction 11: no value becomes a command in a generated script. A value
    with a control character is refused naming its option; the others are refused
    by their format (#SBATCH fields) or written quoted, so the scripts run as meant."""
    e1 = write(os.path.join(tmp, "e1.toml"), E1)
    job = os.path.join(tmp, "job")
    opts = ["--partition", "--time", "--account", "--sbatch-arg", "--out", "--profile", "--set"]
    for v in HOSTILE:
        for opt in opts:
            val = {"--sbatch-arg": "--comment=" + v, "--set": "dataset=" + v, "--out": os.path.join(tmp, "o", v)}.get(opt, v)
            args = ["slurm", e1, opt, val] + ([] if opt == "--out" else ["--out", job])
            p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=tmp)
            if any(c in v for c in "\n\r"):
                check(p.returncode == 2 and opt in p.stderr and "control character" in p.stderr,
                      f"{opt} {v!r}: exit {p.returncode}\n{p.stderr}")
            elif p.returncode == 0:
                scripts_are_inert(val if opt == "--out" else job, tmp)
            else:
                check(p.returncode == 2 and opt.lstrip("-") in p.stderr, f"{opt} {v!r}: exit {p.returncode}\n{p.stderr}")
            check(not os.path.exists(os.path.join(tmp, "X")), f"{opt} {v!r} created X")
    # The experiment path, and --out with spaces, quotes and $( ): written quoted.
    for name in ["e\n1.toml", "e\r1.toml"]:
        bad = write(os.path.join(tmp, name), E1)
        refused(["slurm", bad, "--out", job], ["experiment", "control character"])
    for name in ["$(touch X).toml", "a b'c.toml", "`touch X`;.toml"]:
        exp = write(os.path.join(tmp, "exps", name), 'name = "e1"\n' + E1)  # the stem is no plain name
        out = os.path.join(tmp, "out $(touch X) 'q'", name.replace(".toml", ""))
        normlab(["slurm", exp, "--out", out, "--tasks", "2", "--time", "1-00:30", "--partition", "gpu,short",
                 "--sbatch-arg=--comment=$(touch${IFS}X)`touch`"], cwd=tmp)
        scripts_are_inert(out, tmp)
        text = open(os.path.join(out, "slurm", "array-0.sbatch")).read()
        check(f'#SBATCH --output="{out}/slurm/logs/%A_%a.log"' in text, text)
    for opt, val, needle in [("--time", "1:00:00x", "Slurm time format"), ("--partition", "-x", "letters"),
                             ("--account", "a b", "letters"), ("--sbatch-arg", "mem=4G", "starting with '-'"),
                             ("--sbatch-arg", "--comment=a#b", "comment"), ("--out", os.path.join(tmp, "100%"), "%"),
                             ("--out", os.path.join(tmp, 'a"b'), "quoting")]:
        refused(["slurm", e1, opt, val] + ([] if opt == "--out" else ["--out", job]), [opt, needle])


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](tmp)
print(f"PASS {CASE}")
