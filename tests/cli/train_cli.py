#!/usr/bin/python3
"""Command-line tests of `normlab train`: files, columns, determinism,
divergence, bad input. Usage: train_cli.py NORMLAB_BIN CASE"""
import csv
import math
import os
import subprocess
import sys
import tempfile

from argv import last_wins
from csv_rows import TIME_COLS

BIN = sys.argv[1]
CASE = sys.argv[2]
DATA = "blobs:n=600,test=400,dim=16,classes=4,noise=1.0,seed=3"
BASE = ["--dataset", DATA, "--model", "mlp", "--widths", "32,16", "--norm", "batch",
        "--batch-size", "32", "--epochs", "2", "--eval-every", "10", "--seed", "5", "--quiet"]


def run(args, expect=0):
    # BASE + overrides: a key given again replaces BASE's (train refuses a key given twice)
    p = subprocess.run([BIN, "train", *last_wins(args)], capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"FAIL: exit {p.returncode}, expected {expect}\nargs: {args}\nstderr:\n{p.stderr}")
    return p


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def strip_time(rows):
    return [{k: v for k, v in r.items() if k not in TIME_COLS} for r in rows]


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def case_files_and_columns(tmp):
    run(BASE + ["--out", tmp])
    for f in ["runs.csv", "curves.csv", "activations.csv", "manifest.json"]:
        check(os.path.exists(os.path.join(tmp, f)), f"{f} missing")
    runs = read(os.path.join(tmp, "runs.csv"))
    check(len(runs) == 1, "runs.csv must have one row")
    # `status` on a train folder says what it is (it used to print a raw JSON exception).
    st = subprocess.run([BIN, "status", tmp], capture_output=True, text=True)
    check(st.returncode == 0 and "one `normlab train` run" in st.stdout and runs[0]["run_id"] in st.stdout,
          f"status on a train folder: exit {st.returncode}\n{st.stdout}{st.stderr}")
    # ... and on a claims folder, with a manifest (a new one) or without (the committed baseline)
    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results")
    for d in ("baseline", "claims-full"):
        st = subprocess.run([BIN, "status", os.path.join(results, d)], capture_output=True, text=True)
        check(st.returncode == 0 and "a claims suite's results" in st.stdout,
              f"status on results/{d}: exit {st.returncode}\n{st.stdout}{st.stderr}")
    r = runs[0]
    for col in ["run_id", "dataset", "norm", "lr", "seed", "status", "final_test_acc",
                "best_test_acc", "final_train_loss", "final_test_loss", "steps_to_target",
                "seconds_to_target", "diverge_step", "loss_auc", "samples_per_s", "peak_rss_mb"]:
        check(col in r, f"runs.csv lacks column {col}")
    check(r["status"] == "ok", "status should be ok")
    check(0.0 <= float(r["final_test_acc"]) <= 1.0, "accuracy out of [0,1]")
    check(float(r["best_test_acc"]) >= float(r["final_test_acc"]), "best < final")
    curves = read(os.path.join(tmp, "curves.csv"))
    check(list(curves[0].keys()) == ["run_id", "step", "epoch", "samples", "split", "loss",
                                     "accuracy", "grad_norm", "lr", "elapsed_s", "hidden_wnorm"],
          f"curves.csv header {list(curves[0].keys())}")
    for c in curves:
        int(c["step"]); int(c["samples"]); float(c["loss"]); float(c["accuracy"])
        check(c["split"] in ("train", "test"), "split must be train|test (no val split here)")
        check(c["run_id"] == r["run_id"], "run_id mismatch")
    acts = read(os.path.join(tmp, "activations.csv"))
    check(len(acts) > 0, "no activation rows")
    for a in acts:
        check(float(a["p15"]) <= float(a["p50"]) <= float(a["p85"]), "percentiles not ordered")
        if a["kind"] == "batchnorm":
            float(a["bn_running_mean"]); float(a["bn_running_var"])


def case_step_zero(tmp):
    run(BASE + ["--out", tmp])
    curves = read(os.path.join(tmp, "curves.csv"))
    zero = [c for c in curves if c["step"] == "0"]
    check(sorted(c["split"] for c in zero) == ["test", "train"], "step 0 evaluated on both splits")
    check(all(c["samples"] == "0" for c in zero), "step 0 has seen no samples")
    # Before any update, a 4-class net with small init is near chance: loss near ln 4.
    test0 = [c for c in zero if c["split"] == "test"][0]
    check(abs(float(test0["loss"]) - math.log(4)) < 0.5, f"step-0 loss {test0['loss']}")
    last = [c for c in curves if c["split"] == "test"][-1]
    check(float(last["loss"]) < float(test0["loss"]), "training did not reduce the test loss")


def case_deterministic(tmp):
    outs = []
    cnn = ["--dataset", "synthetic-images:n=256,test=64,classes=10,seed=2", "--model", "cnn-small",
           "--widths", "8,16", "--epochs", "1"]
    for i, (threads, extra) in enumerate([("1", []), ("1", []), ("2", []), ("1", cnn), ("2", cnn)]):
        d = os.path.join(tmp, f"r{i}")
        run(BASE + extra + ["--threads", threads, "--out", d])
        outs.append(d)
    for group in (outs[:3], outs[3:]):
        for f in ["runs.csv", "curves.csv", "activations.csv"]:
            a = strip_time(read(os.path.join(group[0], f)))
            for other in group[1:]:
                b = strip_time(read(os.path.join(other, f)))
                check(a == b, f"{f} differs between {group[0]} and {other}")


def case_eval_schedule_invisible(tmp):
    """How often a run is evaluated never changes its training: the final metrics of runs
    with stochastic layers (dropout 0.5, noisy BN's per-step draws, ghost BN) and of plain BN
    are the same bytes evaluated once at the end, every 7 steps or about 20 times, also with
    precise or batch evaluation statistics, and with the loss-landscape probe at every
    evaluation (five train-mode forwards and backwards at moved weights). (The
    activation probe at each evaluation runs a train-mode forward: it used to draw dropout
    masks and noise from the training streams.)"""
    final = ["status", "final_test_acc", "final_train_loss", "final_test_loss", "final_train_acc", "steps_done"]
    for extra in (["--dropout", "0.5", "--norm", "none"], ["--dropout", "0.5"], ["--norm", "noisy-batch"],
                  ["--norm", "ghost-batch", "--ghost-batch", "8"], [],
                  # evaluation that runs training batches (precise statistics) or batch statistics
                  ["--dropout", "0.5", "--eval-stats", "precise"], ["--norm", "noisy-batch", "--eval-stats", "batch"]):
        got = []
        for every, probe, count in (("1000000", "false", "0"), ("7", "false", "0"), ("0", "false", "0"),
                                    ("7", "true", "0"), ("0", "false", "3")):
            d = os.path.join(tmp, f"e{len(got)}_{'_'.join(extra) or 'bn'}")
            base = ["--dataset", DATA, "--model", "mlp", "--widths", "32,16", "--batch-size", "32", "--epochs", "2"]
            run(base + (extra if "--norm" in extra else extra + ["--norm", "batch"]) +
                ["--eval-every", every] + (["--eval-count", count] if every == "0" else []) +
                ["--landscape", probe, "--seed", "5", "--quiet", "--out", d])
            row = read(os.path.join(d, "runs.csv"))[0]
            got.append({k: row[k] for k in final})
            if count != "0":  # T = 2 epochs of 18 full batches (600 images, batch 32) = 36: every 36 // 3 = 12 steps
                steps = sorted({int(r["step"]) for r in read(os.path.join(d, "curves.csv"))})
                check(steps == [0, 12, 24, 36], f"--eval-count 3 evaluated at steps {steps}")
        check(got[0] == got[1] == got[2] == got[3] == got[4],
              f"{extra}: the final metrics depend on --eval-every or --landscape:\n{got}")


def case_eval_train(tmp):
    """eval-train = N evaluates the first N training images at each point: the train rows'
    accuracy is a multiple of 1/N, the validation and test rows and the training itself are
    untouched. 0 is the whole split, which the default (4096) is too on 600 images."""
    args = BASE + ["--lr", "0.05"]
    got = {}
    for n in ("default", "0", "7", "4096"):
        d = os.path.join(tmp, n)
        run(args + ([] if n == "default" else ["--eval-train", n]) + ["--out", d])
        got[n] = ([{k: v for k, v in r.items() if k != "run_id"} for r in strip_time(read(os.path.join(d, "curves.csv")))],
                  strip_time(read(os.path.join(d, "runs.csv")))[0])
    rows = lambda n, split: [r for r in got[n][0] if r["split"] == split]
    no_key = lambda r: {k: v for k, v in r.items() if k not in ("eval-train", "run_id")}
    check(got["default"][1]["eval-train"] == "4096" and got["7"][1]["eval-train"] == "7", "eval-train column")
    check(got["default"][0] == got["4096"][0] and got["default"][0] == got["0"][0],
          "eval-train 0 (the whole split) and 4096 (above its 600 images) should give the default's curves")
    check(no_key(got["default"][1]) == no_key(got["0"][1]), "eval-train 0: runs.csv differs from the default's")
    check(rows("7", "test") == rows("default", "test"), "eval-train changed the test rows")
    train7 = rows("7", "train")
    check(len(train7) == len(rows("default", "train")) > 2, "train rows")
    for r in train7:
        k = float(r["accuracy"]) * 7
        check(abs(k - round(k)) < 1e-6, f"eval-train 7: train accuracy {r['accuracy']} is not a multiple of 1/7")
    check([r["loss"] for r in train7] != [r["loss"] for r in rows("default", "train")],
          "eval-train 7: the train loss is the whole split's")
    for k in ("final_test_acc", "final_test_loss", "steps_done", "status"):
        check(got["7"][1][k] == got["default"][1][k], f"eval-train 7 changed {k}")
    run(BASE + ["--eval-train", "-1", "--out", os.path.join(tmp, "bad")], expect=2)
    p = run(BASE + ["--eval-train", "many", "--out", os.path.join(tmp, "bad")], expect=2)
    check("eval-train" in p.stderr and "0 to 2147483647" in p.stderr, f"eval-train refusal: {p.stderr}")
    check(not os.path.exists(os.path.join(tmp, "bad")), "a refused run created its directory")


def case_eval_between(tmp):
    """eval-between = val evaluates validation alone between step 0 and the last point:
    the validation rows, the training and every final metric are the default's; train and
    test rows exist at step 0 and the end only; best_test_acc is the best of those two. A
    diverged run's final test metrics are step 0's. Refused (exit 2, nothing written) without
    a validation split, with target-acc, and for a value outside all, val; the same spec
    refuses it in a sweep's TOML before any run."""
    val_data = DATA.replace("noise=1.0", "noise=1.0,val=0.2")
    args = [a if a != DATA else val_data for a in BASE] + ["--lr", "0.05"]
    got = {}
    for mode in ("all", "val"):
        d = os.path.join(tmp, mode)
        run(args + ["--eval-between", mode, "--out", d])
        got[mode] = ([{k: v for k, v in r.items() if k != "run_id"} for r in strip_time(read(os.path.join(d, "curves.csv")))],
                     strip_time(read(os.path.join(d, "runs.csv")))[0])
    rows = lambda m, split: [r for r in got[m][0] if r["split"] == split]
    check(len(rows("all", "val")) > 3 and rows("val", "val") == rows("all", "val"), "eval-between val: validation rows differ")
    last = rows("all", "test")[-1]["step"]
    for split in ("train", "test"):
        check([r["step"] for r in rows("val", split)] == ["0", last], f"eval-between val: {split} rows at "
              f"{[r['step'] for r in rows('val', split)]}, expected steps 0 and {last}")
        check(rows("val", split) == [rows("all", split)[0], rows("all", split)[-1]], f"eval-between val: {split} values")
    check(got["val"][1]["eval-between"] == "val" and got["all"][1]["eval-between"] == "all", "eval-between column")
    for k, v in got["all"][1].items():
        if k not in ("eval-between", "best_test_acc", "run_id"):
            check(got["val"][1][k] == v, f"eval-between val changed {k}: {got['val'][1][k]} vs {v}")
    check(float(got["val"][1]["best_test_acc"]) == max(float(r["accuracy"]) for r in rows("val", "test")),
          "eval-between val: best_test_acc is not the best of its test rows")
    # a diverged run: its final test metrics are step 0's, the one full evaluation before it
    d = os.path.join(tmp, "diverged")
    run(args + ["--eval-between", "val", "--lr", "1e6", "--norm", "none", "--out", d])
    r, t = read(os.path.join(d, "runs.csv"))[0], [c for c in read(os.path.join(d, "curves.csv")) if c["split"] == "test"]
    check(r["status"] == "diverged" and len(t) == 1 and t[0]["step"] == "0", f"diverged: {r['status']}, test rows {t}")
    check(float(r["final_test_acc"]) == float(t[0]["accuracy"]), "diverged: final_test_acc is not step 0's")
    # refusals
    bad = os.path.join(tmp, "bad")
    p = run(BASE + ["--eval-between", "val", "--out", bad], expect=2)
    check("eval-between" in p.stderr and "val=F" in p.stderr, f"no validation split: {p.stderr}")
    p = run(args + ["--eval-between", "val", "--target-acc", "0.5", "--out", bad], expect=2)
    check("eval-between" in p.stderr and "target-acc" in p.stderr, f"with target-acc: {p.stderr}")
    p = run(args + ["--eval-between", "test", "--out", bad], expect=2)
    check("eval-between" in p.stderr and "all, val" in p.stderr, f"unknown value: {p.stderr}")
    check(not os.path.exists(bad), "a refused run created its directory")
    toml = os.path.join(tmp, "sweep.toml")
    with open(toml, "w") as f:
        f.write(f'dataset = "{DATA}"\nmodel = "mlp"\nwidths = [8]\nsteps = 5\nlr = [0.1, 0.2]\n'
                f'eval_between = ["all", "val"]\n')
    p = subprocess.run([BIN, "sweep", toml, "--out", bad, "--quiet"], capture_output=True, text=True)
    check(p.returncode == 2 and "eval-between" in p.stderr and toml in p.stderr, f"sweep: exit {p.returncode}\n{p.stderr}")
    check(not os.path.exists(bad), "a refused sweep created its directory")


def case_divergence(tmp):
    run(BASE + ["--lr", "1e6", "--norm", "none", "--out", tmp])
    r = read(os.path.join(tmp, "runs.csv"))[0]
    check(r["status"] == "diverged", f"status {r['status']}")
    step = int(r["diverge_step"])
    check(step >= 1, "divergence step recorded")
    for c in read(os.path.join(tmp, "curves.csv")):
        check(int(c["step"]) < step, "curve row at or after the divergence step")
        check(all(math.isfinite(float(c[k])) for k in ("loss", "accuracy", "grad_norm")),
              "non-finite value in curves")


def case_eval_uses_running_stats(tmp):
    accs = []
    for eb in ["1", "1000"]:
        d = os.path.join(tmp, eb)
        run(BASE + ["--eval-batch", eb, "--out", d])
        accs.append([(c["step"], c["accuracy"], float(c["loss"]))
                     for c in read(os.path.join(d, "curves.csv")) if c["split"] == "test"])
    # Batch statistics at eval batch 1 would normalize every feature to beta: accuracy would
    # collapse. With running statistics each sample's output is independent of its batch, up to
    # float rounding in the matrix products (gemv vs gemm), hence the loss tolerance.
    for (s1, a1, l1), (s2, a2, l2) in zip(*accs):
        check(s1 == s2 and a1 == a2, f"step {s1}: accuracy {a1} at eval batch 1, {a2} at 1000")
        check(abs(l1 - l2) <= 1e-5 * abs(l2), f"step {s1}: loss {l1} vs {l2}")
    check(float(accs[0][-1][1]) > 0.8, "the trained net should be accurate at eval batch 1")
    # The same training evaluated with each batch's own statistics: at eval batch 1 every
    # dense BN feature normalizes to its beta, so the prediction no longer depends on the input.
    d = os.path.join(tmp, "batch-stats")
    run(BASE + ["--eval-batch", "1", "--eval-stats", "batch", "--stat-batches", "2,64", "--out", d])
    last = [c for c in read(os.path.join(d, "curves.csv")) if c["split"] == "test"][-1]
    check(float(last["accuracy"]) < 0.3, f"batch statistics at eval batch 1 gave accuracy {last['accuracy']}")
    # batchstats.csv: one row per BN layer and size; the error falls with the batch size.
    rows = read(os.path.join(d, "batchstats.csv"))
    layers = sorted({r["layer"] for r in rows})
    check(len(rows) == 2 * len(layers) and len(layers) >= 1, f"batchstats rows: {len(rows)}")
    for l in layers:
        e = {r["batch"]: (float(r["mean_err"]), float(r["var_err"])) for r in rows if r["layer"] == l}
        check(e["2"][0] > 3 * e["64"][0] and e["2"][1] > 3 * e["64"][1], f"layer {l}: errors {e}")


BAD = {
    "lr": (["--lr", "0"], "lr"),
    "negative-lr": (["--lr", "-0.1"], "lr"),
    "batch-too-big": (["--batch-size", "100000"], "batch-size"),
    "widths": (["--model", "cnn", "--widths", "8,8", "--dataset", "synthetic-images:n=64,test=32"],
               "widths"),
    "groups": (["--norm", "group", "--groups", "5"], "groups"),
    "dataset": (["--dataset", "imagenet"], "imagenet"),
    "norm": (["--norm", "weird"], "none, batch, layer, group"),
    "init": (["--init", "magic"], "init"),
    "unknown-option": (["--learning-rate", "0.1"], "learning-rate"),
    "not-a-number": (["--lr", "fast"], "lr"),
    "eval-stats": (["--eval-stats", "mean"], "running, batch"),
    "stat-batches": (["--stat-batches", "1,4"], "stat-batches"),
    "stat-batches-too-big": (["--stat-batches", "100000"], "stat-batches"),
    "dropout": (["--dropout", "1.5"], "dropout: '1.5' is out of range (allowed: 0 <= dropout < 1)"),
    "ghost-batch-zero": (["--norm", "ghost-batch", "--ghost-batch", "0"],
                         "ghost-batch: '0' is out of range (allowed: 1 to 2147483647)"),
    "ghost-batch-chunk-of-one": (["--norm", "ghost-batch", "--ghost-batch", "3", "--batch-size", "64"],
                                 "ghost-batch: 3 splits a batch of 64"),
    "renorm-rmax": (["--norm", "batch-renorm", "--renorm-rmax", "0.5"], "renorm-rmax: '0.5' is out of range (allowed: renorm-rmax >= 1)"),
    "renorm-dmax": (["--norm", "batch-renorm", "--renorm-dmax", "-1"], "renorm-dmax"),
    "noise-scale": (["--norm", "noisy-batch", "--noise-scale", "0.5"], "noise-scale: '0.5' is out of range (allowed: noise-scale >= 1)"),
    "precise-batches": (["--eval-stats", "precise", "--precise-batches", "0"], "precise-batches"),
    "norm-variants-named": (["--norm", "weird"], "ghost-batch, batch-renorm, noisy-batch"),
    "eval-stats-precise-named": (["--eval-stats", "mean"], "running, batch, precise"),
    "rnn-ghost": (["--model", "rnn", "--widths", "16", "--norm", "ghost-batch"], "rnn normalizes with none, batch, layer or group"),
    "rnn-dropout": (["--model", "rnn", "--widths", "16", "--dropout", "0.3"], "dropout: rnn"),
    "rnn-precise": (["--model", "rnn", "--widths", "16", "--eval-stats", "precise"], "precise is not available for rnn"),
}


def case_bad_input(tmp):
    for name, (extra, needle) in BAD.items():
        p = run(BASE + extra + ["--out", os.path.join(tmp, name)], expect=2)
        check(needle in p.stderr, f"{name}: message does not name '{needle}':\n{p.stderr}")
        check(not os.path.exists(os.path.join(tmp, name, "runs.csv")), f"{name}: wrote results")


def case_out_dir_guard(tmp):
    run(BASE + ["--out", tmp])
    before = open(os.path.join(tmp, "runs.csv")).read()
    p = run(BASE + ["--lr", "0.05", "--out", tmp], expect=2)
    check("--force" in p.stderr, "message should mention --force")
    check(open(os.path.join(tmp, "runs.csv")).read() == before, "earlier result was overwritten")
    run(BASE + ["--lr", "0.05", "--out", tmp, "--force"])


def case_config_file(tmp):
    os.makedirs(tmp)
    cfg = os.path.join(tmp, "run.toml")
    with open(cfg, "w") as f:
        f.write('# a run file\nnorm = "layer"\nlr = 0.05\nwidths = [32, 16]\n')
    run(BASE + ["--config", cfg, "--out", os.path.join(tmp, "a")])
    r = read(os.path.join(tmp, "a", "runs.csv"))[0]
    check(r["lr"] == "0.05", "config lr not applied")
    check(r["norm"] == "batch", "command line must win over the file")
    with open(cfg, "w") as f:
        f.write('norm = "layer"\nlearning_rate = 0.05\n')
    p = run(BASE + ["--config", cfg, "--out", os.path.join(tmp, "b")], expect=2)
    check(f"{cfg}:2:" in p.stderr and "learning_rate" in p.stderr, f"file:line and key:\n{p.stderr}")


def case_validation_split(tmp):
    """val=F in the dataset spec: val rows in curves.csv at every evaluation, the
    summary columns read from them; eval-subset limits val and test to N images."""
    data = DATA.replace("test=400", "test=400,val=0.25")
    args = [a if a != DATA else data for a in BASE]
    run(args + ["--eval-subset", "50", "--out", os.path.join(tmp, "v")])
    r = read(os.path.join(tmp, "v", "runs.csv"))[0]
    curves = read(os.path.join(tmp, "v", "curves.csv"))
    val = [c for c in curves if c["split"] == "val"]
    test = [c for c in curves if c["split"] == "test"]
    check(len(val) == len(test) > 2, f"{len(val)} val and {len(test)} test rows")
    check([c["step"] for c in val] == [c["step"] for c in test], "val evaluated at every test step")
    check(r["final_val_acc"] == val[-1]["accuracy"], "final_val_acc is the last val evaluation")
    check(float(r["best_val_acc"]) == max(float(c["accuracy"]) for c in val), "best_val_acc is the best")
    check(r["final_val_loss"] == val[-1]["loss"], "final_val_loss is the last val evaluation")
    for c in val + test:  # 50 images: accuracies are multiples of 1/50
        check(abs(float(c["accuracy"]) * 50 - round(float(c["accuracy"]) * 50)) < 1e-4,
              f"eval-subset 50 not applied: accuracy {c['accuracy']}")
    # No val split: the columns are empty and there are no val rows. eval-subset at its
    # default leaves the run id as it was before the key existed.
    run(BASE + ["--out", os.path.join(tmp, "n")])
    run(BASE + ["--eval-subset", "0", "--out", os.path.join(tmp, "z")])
    n = read(os.path.join(tmp, "n", "runs.csv"))[0]
    check(n["final_val_acc"] == n["best_val_acc"] == n["final_val_loss"] == "", "val columns empty without val")
    check(all(c["split"] != "val" for c in read(os.path.join(tmp, "n", "curves.csv"))), "no val rows")
    check(n["run_id"] == read(os.path.join(tmp, "z", "runs.csv"))[0]["run_id"], "eval-subset 0 is the default")
    check(n["run_id"] != r["run_id"], "a val split is another run")
    run(BASE + ["--eval-subset", "-1", "--out", os.path.join(tmp, "bad")], expect=2)


def case_variants(tmp):
    """dropout, the batch-norm variants and eval-stats=precise end to end."""
    def go(name, extra):
        d = os.path.join(tmp, name)
        run(BASE + extra + ["--out", d])
        return {f: read(os.path.join(d, f)) for f in ["runs.csv", "curves.csv", "activations.csv"]}

    def same(a, b, files=("runs.csv", "curves.csv", "activations.csv"), drop=()):
        cut = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in strip_time(rows)]
        return all(cut(a[f]) == cut(b[f]) for f in files)

    base = go("base", [])
    variants = {
        "dropout": ["--dropout", "0.3"],
        "ghost": ["--norm", "ghost-batch", "--ghost-batch", "8"],
        "renorm": ["--norm", "batch-renorm", "--renorm-warmup", "20"],
        "noisy": ["--norm", "noisy-batch", "--dropout", "0.2"],
        "precise": ["--eval-stats", "precise", "--precise-batches", "5"],
    }
    for name, extra in variants.items():
        a, b = go(name, extra), go(name + "2", extra + ["--threads", "2"])
        check(same(a, b), f"{name}: same seed, different results (threads 1 and 2)")
        r = a["runs.csv"][0]
        check(r["status"] == "ok" and float(r["final_test_acc"]) > 0.5,
              f"{name}: did not train ({r['status']}, acc {r['final_test_acc']})")
        check(r["run_id"] != base["runs.csv"][0]["run_id"], f"{name}: same run_id as the default run")
        check(not same(a, base, ("curves.csv",), ("run_id",)), f"{name}: no effect on the curves")
    # The defaults of keys this run uses, written out, are the default run: same run_id, same bytes.
    explicit = go("explicit", ["--dropout", "0", "--bn-momentum", "0.1", "--eps", "1e-05", "--affine", "true"])
    check(same(explicit, base), "explicit defaults differ from the default run")
    # The variants' keys are not used by batch norm: given, even at their defaults, each is refused
    # (exit 2, nothing written), not ignored.
    unused = ["--ghost-batch", "32", "--renorm-rmax", "3", "--renorm-dmax", "5", "--renorm-warmup", "0",
              "--noise-mean", "0.5", "--noise-scale", "2", "--precise-batches", "100"]
    d = os.path.join(tmp, "unused")
    p = run(BASE + unused + ["--out", d], expect=2)
    for k in unused[::2]:
        check(f"{k}: given, but it applies only when" in p.stderr, f"{k} not named:\n{p.stderr}")
    check(not os.path.exists(d), "a refused run wrote results")
    # Limits that switch a variant off give batch norm, bit for bit.
    ident = {"K>=batch": ["--norm", "ghost-batch", "--ghost-batch", "32"],
             "rmax1": ["--norm", "batch-renorm", "--renorm-rmax", "1", "--renorm-dmax", "0"],
             "nonoise": ["--norm", "noisy-batch", "--noise-mean", "0", "--noise-scale", "1"]}
    for name, extra in ident.items():
        # (The activation probe's batch of 256 does go through ghost chunks of 32, so for
        # K>=batch only the training and its evaluations are batch norm's.)
        files = ("runs.csv", "curves.csv") if name == "K>=batch" else ("runs.csv", "curves.csv", "activations.csv")
        check(same(go(name, extra), base, files, drop=("run_id", "norm", "ghost-batch", "renorm-rmax",
                                                       "renorm-dmax", "noise-mean", "noise-scale")),
              f"{name}: differs from batch norm")
    # Precise statistics change only the evaluations: training, hence the probe, is untouched.
    p = go("precise3", ["--eval-stats", "precise", "--precise-batches", "5"])
    check(same(p, base, ("activations.csv",), ("run_id",)), "precise evaluation changed training")


def case_scale_hidden(tmp):
    """scale-hidden = C: with batch norm after every hidden layer, hidden weights started at
    C x and stepped at C^2 x lr are the same function (van Laarhoven 2017: BN(C W x) = BN(W x),
    its gradient is 1/C as large), so the losses match the unscaled run's up to BN's eps and
    rounding; without a norm they do not. At the default the run is the default run byte for
    byte, run_id included. Bad combinations exit 2 before any run, naming the key."""
    def losses(name, extra):
        d = os.path.join(tmp, name)
        # Evaluated with each batch's own statistics: the running averages start at (0, 1)
        # whatever the scale, so eval-mode batch norm is not scale-invariant until they settle.
        run(BASE + ["--optimizer", "momentum", "--lr", "0.05", "--eval-stats", "batch"] + extra + ["--out", d])
        rows = read(os.path.join(d, "curves.csv"))
        return [float(r["loss"]) for r in rows if r["split"] == "train"], read(os.path.join(d, "runs.csv"))[0]

    base, base_run = losses("base", [])
    for c in ("4", "0.5"):  # (a smaller C makes BN's eps count more: 0.25 gave 1.3e-3)
        scaled, run_c = losses("bn" + c, ["--scale-hidden", c])
        worst = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(scaled, base))
        check(len(scaled) == len(base) >= 5 and worst < 1e-3,
              f"batch norm, scale-hidden {c}: losses differ from the unscaled run by {worst:.2e} (relative)")
        check(run_c["run_id"] != base_run["run_id"], f"scale-hidden {c}: same run_id as the default run")
    # The hidden weight norm: C times the unscaled run's at every evaluation (the same function,
    # every hidden weight C times as large), and runs.csv's is curves.csv's last.
    def wnorms(name):
        return [float(r["hidden_wnorm"]) for r in read(os.path.join(tmp, name, "curves.csv")) if r["split"] == "train"]
    for c in ("4", "0.5"):
        ratio = [a / b for a, b in zip(wnorms("bn" + c), wnorms("base"))]
        check(all(abs(q / float(c) - 1) < 1e-3 for q in ratio),
              f"batch norm, scale-hidden {c}: hidden_wnorm / unscaled = {ratio}, expected {c} throughout")
    check(float(base_run["hidden_wnorm"]) == wnorms("base")[-1], "runs.csv hidden_wnorm is not curves.csv's last")
    none, _ = losses("none", ["--norm", "none"])
    none4, none4_run = losses("none4", ["--norm", "none", "--scale-hidden", "4"])
    gap = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(none4, none))
    check(gap > 0.1 or none4_run["status"] != "ok",
          f"no norm, scale-hidden 4: losses within {gap:.2e} of the unscaled run; the check cannot tell")
    _, one = losses("one", ["--scale-hidden", "1"])
    check(strip_time([one]) == strip_time([base_run]), "scale-hidden 1 differs from the default run")
    for extra, want in ((["--scale-hidden", "2", "--optimizer", "adam"], "allowed optimizers: sgd, momentum"),
                        (["--scale-hidden", "2", "--model", "rnn"], "allowed models: mlp, cnn, cnn-small, cnn-deep"),
                        (["--scale-hidden", "0"], "scale-hidden")):
        d = os.path.join(tmp, "bad")
        p = run(BASE + extra + ["--out", d], expect=2)
        check(want in p.stderr and "scale-hidden" in p.stderr and not os.path.exists(d),
              f"{extra}: no clear error naming scale-hidden and '{want}':\n{p.stderr}")


def case_hidden_wnorm(tmp):
    """hidden_wnorm (runs.csv, curves.csv) is sqrt of the summed squared norms of the hidden conv
    kernels and dense weights, biases and the output layer left out: recomputed with numpy from
    the saved weights of a cnn-deep run (three conv layers, then the output layer); empty for the
    rnn, the resnet and cnn-plain, whose hidden weights sit inside a layer or inside blocks.
    activations.csv's weight_norm: per probed layer, the norm of the weight producing it."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    import numpy as np
    from make_fixtures import read_safetensors
    w = os.path.join(tmp + "-w.safetensors")
    args = ["--dataset", "fashion-mnist:n=128", "--batch-size", "32", "--steps", "4", "--eval-every", "2", "--quiet"]
    run(args + ["--model", "cnn-deep", "--norm", "group", "--out", tmp, "--save-weights", w])
    tensors = read_safetensors(w)[0]
    convs = sorted((k for k, v in tensors.items() if k.endswith(".weight") and v.ndim == 4), key=lambda k: int(k.split(".")[0]))
    check(len(convs) == 3, f"cnn-deep: conv kernels {convs}")
    want = float(np.sqrt(sum((tensors[k].astype(np.float64) ** 2).sum() for k in convs)))
    got = float(read(os.path.join(tmp, "runs.csv"))[0]["hidden_wnorm"])
    check(abs(got - want) <= 1e-6 * want, f"cnn-deep hidden_wnorm {got}, numpy on the saved weights {want}")
    # activations.csv's weight_norm, per layer at the last step: each group norm row carries the
    # norm of the conv kernel right before it
    last = [r for r in read(os.path.join(tmp, "activations.csv")) if r["step"] == "4"]
    check([r["kind"] for r in last] == ["groupnorm"] * 3, f"cnn-deep probe rows {[r['kind'] for r in last]}")
    for r, k in zip(last, convs):
        want_l = float(np.sqrt((tensors[k].astype(np.float64) ** 2).sum()))
        check(int(k.split(".")[0]) == int(r["layer"]) - 1 and abs(float(r["weight_norm"]) - want_l) <= 1e-6 * want_l,
              f"cnn-deep layer {r['layer']} weight_norm {r['weight_norm']}, numpy on {k} {want_l}")
    # without a norm the rows are the dense layers themselves; the output layer has no row
    d = tmp + "-mlp"
    run(args + ["--model", "mlp", "--widths", "16,8", "--norm", "none", "--out", d, "--save-weights", d + ".st"])
    tensors = read_safetensors(d + ".st")[0]
    last = [r for r in read(os.path.join(d, "activations.csv")) if r["step"] == "4"]
    dense = sorted((k for k, v in tensors.items() if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))
    check([r["layer"] for r in last] == [k.split(".")[0] for k in dense[:-1]], f"mlp probe rows {last}, weights {dense}")
    for r, k in zip(last, dense):
        want_l = float(np.sqrt((tensors[k].astype(np.float64) ** 2).sum()))
        check(abs(float(r["weight_norm"]) - want_l) <= 1e-6 * want_l, f"mlp {k}: weight_norm {r['weight_norm']} vs {want_l}")
    for model in ("rnn", "resnet", "cnn-plain"):
        d = tmp + "-" + model
        extra = ["--widths", "8,8,8"] if model != "rnn" else []
        run(args + ["--model", model, "--norm", "layer", "--out", d] + extra)
        check(read(os.path.join(d, "runs.csv"))[0]["hidden_wnorm"] == "", f"{model}: hidden_wnorm should be empty")
        check(all(r["hidden_wnorm"] == "" for r in read(os.path.join(d, "curves.csv"))),
              f"{model}: curves hidden_wnorm not empty")
        if model == "rnn":  # its weights sit inside the recurrent layer
            check(all(r["weight_norm"] == "" for r in read(os.path.join(d, "activations.csv"))),
                  f"{model}: activations weight_norm not empty")


with tempfile.TemporaryDirectory() as tmp:
    globals()["case_" + CASE.replace("-", "_")](os.path.join(tmp, "out"))
print(f"PASS {CASE}")
