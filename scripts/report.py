#!/usr/bin/python3
"""Turn a normlab sweep directory into a readable report: report.md plus PNG figures.

Usage: scripts/report.py SWEEP_DIR [--out DIR]

Reads only the CSV contract of a sweep directory (the layout in lib/results/run_files.h):
  runs.csv         one row per run: run_id, every config key, then status, failure and the
                   summary (final/best test accuracy, losses, steps/seconds to target, ...)
  curves.csv       run_id, step, epoch, samples, split (train|test), loss, accuracy, ...
  activations.csv  run_id, step, layer, kind, mean, std, p15, p50, p85, ...
  manifest.json    the experiment, its expanded runs, build and dataset provenance
and, when present, the files of claim measurements:
  batchstats.csv   run_id, step, layer, batch, draws, mean_err, var_err: per run, batch-norm
                   layer (its index in the model) and batch size, the RMS error of `draws`
                   batch means (relative to the population std) and batch variances
                   (relative to the population variance) against the whole training split
                   -> batchstats.png, beside the closed forms for iid Gaussian values;
                   with two or more batch sizes also batchstat_slopes.png (see below)
  timings.csv      run_id, every config key, then median_s, min_s, samples_per_s: one
                   training step timed per configuration and repeat (the seed) -> step_time.png.
                   A timing sweep has only timings.csv and manifest.json (no runs.csv): its
                   report holds the provenance, grid, dataset and step times and skips every
                   section that needs runs.csv.
A runs.csv whose `lr` takes several (positive) values gets failure_rate.png: the failure rate
against lr per setting (a panel per model x optimizer where they vary, a line per norm), the
lr at which half the seeds fail, and batch norm against none when norm takes both values.
A runs.csv whose `eval-stats` takes several values (running = the running averages, batch =
each evaluation batch's own statistics) gets eval_stats.png: final test accuracy against
`eval-batch` per evaluation mode.

Statistics (all stated again in the report):
  - a "setting" is one combination of the config keys that vary in the sweep, seed excluded;
    every mean +- std is over the seeds of one setting, std is the sample std (ddof=1);
  - accuracies average every run that did not error (a diverged run counts with the
    accuracy it ended at), the generalization gap only runs that ended ok and not collapsed;
  - steps/seconds to target average the runs that reached the target ("reached k/n");
  - target: the sweep's target-acc when it is > 0, else derived as 90% of the lowest
    per-norm best mean best-test-accuracy, and steps to it are read from curves.csv;
  - a norm's "best setting" has the highest mean final test accuracy; the "shared setting"
    is the one all norms ran that maximizes the lowest per-norm mean final test accuracy;
  - batch-statistic errors: a line per model and layer is the mean over seeds; the table
    averages each run's layers first, then gives mean +- std over seeds;
  - 95% intervals are t intervals over seeds: mean ± t(0.975, n−1)·s/√n (s: sample std);
  - failure rate against lr: a run that did not error fails when its status is diverged, or
    its failure is non-empty (e.g. collapsed), or its accuracy (final_val_acc when the run
    has one, else final_test_acc) is below 0.5 or missing; per setting (the varying keys but
    lr and seed) and lr the rate failed/runs. Per seed lr* is the first grid lr at which the
    run fails with every larger lr failing too; a seed whose largest lr does not fail is
    censored above the grid and enters one grid step above it (a lower bound, marked >=).
    The half-fail lr is the geometric mean of lr* over seeds with the 95% t interval of
    log10 lr*, given as lr values; batch − none is the per-seed (paired) difference of
    log10 lr* in decades, with its 95% t interval;
  - batch-statistic slopes: per run and batch-norm layer (at its last measured step) the
    least-squares slope of log(err) on log(batch), for mean_err and var_err (iid values:
    1/sqrt(B), slope -1/2; sqrt(2B-1)/B, whose fitted slope on the same batch sizes is shown,
    tends to -1/2); effective samples per channel n_eff = 1/mean_err^2 at B = 32, and
    n_eff/32 (1 for iid values, between 1 and H*W for a conv layer); per model and layer
    the mean over seeds with its 95% t interval;
  - step time: mean over repeats of the per-repeat median, whiskers min-max over repeats;
    overhead: per repeat, the time with the norm divided by the same repeat's time with
    norm "none", minus 1; the mean over repeats, their range in brackets.

The code is the package normlab_report beside this file (conventions, load, stats,
figures, markdown, cli); this file checks for pandas and matplotlib, then runs its main.

Exit codes: 0 report written; 2 bad input (missing directory, missing or malformed CSV,
absent column), with the file and column named.
"""
import os
import sys

# The PATH python3 may be a build without pandas/matplotlib: use Debian's interpreter.
try:
    import pandas as pd  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError:
    _SYS = "/usr/bin/python3"
    if (os.path.exists(_SYS) and os.path.realpath(sys.executable) != os.path.realpath(_SYS)
            and not os.environ.get("NORMLAB_REPORT_REEXEC")):
        os.environ["NORMLAB_REPORT_REEXEC"] = "1"
        os.execv(_SYS, [_SYS, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit("report.py: needs pandas and matplotlib "
             "(Debian: apt-get install python3-pandas python3-matplotlib)")

# The package sits beside this file: importable whatever the working directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from normlab_report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
