#!/usr/bin/python3
"""Turn a normlab sweep directory into a readable report: report.md plus PNG figures.

Usage: scripts/report.py SWEEP_DIR [--out DIR]

Reads only the CSV contract of a sweep directory (see ../shared/design.md, "Outputs"):
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
                   -> batchstats.png, beside the closed forms for iid Gaussian values
  timings.csv      run_id, every config key, then median_s, min_s, samples_per_s: one
                   training step timed per configuration and repeat (the seed) -> step_time.png.
                   A timing sweep has only timings.csv and manifest.json (no runs.csv): its
                   report holds the provenance, grid, dataset and step times and skips every
                   section that needs runs.csv.
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
