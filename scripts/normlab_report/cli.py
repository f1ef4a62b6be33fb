"""The command line: SWEEP_DIR [--out DIR] [--html] -> report.md and figures (and with --html
report.html, one self-contained page), exit 0 or 2; a claims directory (claims.csv, no
runs.csv) gets its forest plot, forest.png (and pages forest-2.png, ...), and with --html
its claims.md as report.html."""
import argparse
import os
import sys

from .forest import write_forest
from .html import write_html
from .load import ReportError, Sweep, TimingSweep
from .markdown import write_report, write_timing_report
from .stats import annotate_sweep, annotate_timing_sweep


def open_sweep(sweep_dir):
    """The sweep, read and annotated, and whether it is a timing sweep (timings.csv and
    no runs.csv)."""
    p = lambda f: os.path.join(sweep_dir, f)  # noqa: E731
    timing = os.path.isdir(sweep_dir) and not os.path.exists(p("runs.csv")) \
        and os.path.exists(p("timings.csv"))
    if timing:
        sw = TimingSweep(sweep_dir)
        annotate_timing_sweep(sw)
    else:
        sw = Sweep(sweep_dir)
        annotate_sweep(sw)
    sw.dir_shown = sweep_dir.rstrip("/")
    exp = (sw.manifest or {}).get("experiment") or {}
    sw.name = exp.get("name") or os.path.basename(os.path.abspath(sweep_dir))
    return sw, timing


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="report.py",
        description="Write report.md and PNG figures for a normlab sweep directory.")
    ap.add_argument("sweep_dir", metavar="SWEEP_DIR", help="directory written by normlab sweep")
    ap.add_argument("--out", metavar="DIR", help="where report.md and figures go "
                                                 "(default: SWEEP_DIR)")
    ap.add_argument("--html", action="store_true",
                    help="also write report.html: the report as one self-contained page "
                         "(figures embedded, no scripts, no network requests)")
    args = ap.parse_args(argv)
    p = lambda f: os.path.join(args.sweep_dir, f)  # noqa: E731
    if os.path.exists(p("claims.csv")) and not os.path.exists(p("runs.csv")):
        # A claims directory: the forest plot of every cell, from claims.csv.
        try:
            print(write_forest(args.sweep_dir, args.out))
            if args.html:
                print(write_html(p("claims.md"), args.out))
        except ReportError as e:
            print(f"report.py: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        sw, timing = open_sweep(args.sweep_dir)
        out = args.out or args.sweep_dir
        path, figs = (write_timing_report if timing else write_report)(sw, out)
        if args.html:
            figs = figs + [os.path.basename(write_html(path, out))]
    except ReportError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 2
    print(path)
    for f in figs:
        print(os.path.join(out, f))
    if sw.partial:
        print(f"report.py: warning: partial sweep: {len(sw.runs)} of {sw.expected} runs",
              file=sys.stderr)
    return 0
