"""The command line: SWEEP_DIR [--out DIR] [--html] -> report.md and figures (and with --html
report.html, one self-contained page), exit 0 or 2; a claims directory (claims.csv, no
runs.csv) gets its forest plot, forest.png (and pages forest-2.png, ...), and with --html
its claims.md as report.html."""
import argparse
import hashlib
import os
import re
import sys

from .forest import write_forest
from .html import write_html
from .load import ReportError, Sweep, TimingSweep
from .markdown import write_report, write_timing_report
from .stats import annotate_sweep, annotate_timing_sweep


def shown_dir(sweep_dir, out):
    """Where the report says its CSVs came from: "this folder's CSVs" when it is written
    into the sweep directory, else the directory relative to the report's folder (a
    report committed with its results names no path of the machine that drew it)."""
    if os.path.abspath(out) == os.path.abspath(sweep_dir):
        return "this folder's CSVs"
    return f"`{os.path.relpath(sweep_dir, out)}`"


STAMP = re.compile(r"<!-- report stamp: ([0-9a-f]{64}) -->")
CODE_DIR = os.path.dirname(os.path.abspath(__file__))


def report_stamp(sweep_dir, out, html):
    """SHA-256 of what a report is drawn from: this package's code (and report.py), every
    CSV, JSON and Markdown file at the top of SWEEP_DIR except the report itself, where it
    is written, whether it has a page, and the versions of the plotting libraries. Equal stamps draw the same report. None when a
    file cannot be read (the report then says why, as it would without a stamp)."""
    try:
        return stamp_of(sweep_dir, out, html)
    except OSError:
        return None


def stamp_of(sweep_dir, out, html):
    h = hashlib.sha256()

    def add(label, path):
        h.update(label.encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())

    code = [os.path.join(CODE_DIR, f) for f in sorted(os.listdir(CODE_DIR)) if f.endswith(".py")]
    code.append(os.path.join(os.path.dirname(CODE_DIR), "report.py"))
    for path in code:
        if os.path.exists(path):
            add("code/" + os.path.basename(path), path)
    for name in sorted(os.listdir(sweep_dir)):
        path = os.path.join(sweep_dir, name)
        if name.endswith((".csv", ".json", ".md")) and name != "report.md" and os.path.isfile(path):
            add("input/" + name, path)
    h.update(f"out={os.path.relpath(out, sweep_dir)} html={bool(html)}".encode())
    h.update(f" libs={library_versions()}".encode())
    return h.hexdigest()


def library_versions():
    """The libraries that draw the figures and format the tables: another version may
    draw other bytes, so it is part of the stamp."""
    import matplotlib
    import numpy
    import pandas
    return f"matplotlib {matplotlib.__version__}, numpy {numpy.__version__}, pandas {pandas.__version__}"


def up_to_date(out, stamp, html, stamped="report.md"):
    """Whether OUT/STAMPED (report.md; a claims directory's report.html) was drawn from
    exactly this stamp, and every figure it shows and its page are there."""
    try:
        with open(os.path.join(out, stamped), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return False
    m = STAMP.search(text)
    figures = re.findall(r"\]\(([\w.-]+\.png)\)", text)
    return bool(m) and m.group(1) == stamp and (not html or os.path.exists(os.path.join(out, "report.html"))) \
        and all(os.path.exists(os.path.join(out, f)) for f in figures)


STORE_FILES = ("manifest.json", "runs.csv", "claims.csv", "timings.csv")


def check_out(sweep_dir, out):
    """--out must not be another results folder: its report.md and figures (drawn from its
    own CSVs) would be replaced by this folder's."""
    if out is None or os.path.abspath(out) == os.path.abspath(sweep_dir):
        return
    held = [f for f in STORE_FILES if os.path.exists(os.path.join(out, f))]
    if held:
        raise ReportError(f"--out {out}: a results folder of its own (it holds {', '.join(held)}); its report and "
                          f"figures would be replaced by those of {sweep_dir}. Give a folder that holds no results")


def open_sweep(sweep_dir, out):
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
    sw.dir_shown = shown_dir(sweep_dir, out)
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
    ap.add_argument("--if-changed", action="store_true",
                    help="draw nothing when report.md was drawn by this code from these same "
                         "files (its stamp matches)")
    args = ap.parse_args(argv)
    p = lambda f: os.path.join(args.sweep_dir, f)  # noqa: E731
    try:
        check_out(args.sweep_dir, args.out)
    except ReportError as e:
        print(f"report.py: error: {e}", file=sys.stderr)
        return 2
    if os.path.exists(p("claims.csv")) and not os.path.exists(p("runs.csv")):
        # A claims directory: the forest plot of every cell, from claims.csv.
        out = args.out or args.sweep_dir
        stamp = report_stamp(args.sweep_dir, out, args.html)
        if args.if_changed and args.html and up_to_date(out, stamp, True, "report.html") \
                and os.path.exists(os.path.join(out, "forest.png")):
            print(f"{os.path.join(out, 'report.html')}: up to date")
            return 0
        try:
            print(write_forest(args.sweep_dir, args.out))
            if args.html:
                print(write_html(p("claims.md"), args.out, stamp))
        except ReportError as e:
            print(f"report.py: error: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        out = args.out or args.sweep_dir
        stamp = report_stamp(args.sweep_dir, out, args.html) if os.path.isdir(args.sweep_dir) else None
        if args.if_changed and stamp and up_to_date(out, stamp, args.html):
            print(f"{os.path.join(out, 'report.md')}: up to date")
            return 0
        sw, timing = open_sweep(args.sweep_dir, out)
        sw.stamp = stamp
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
