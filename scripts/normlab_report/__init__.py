"""normlab_report: a normlab results folder -> typed DataFrames, report.md, report.html
and PNG figures.

The Python API (docs/python.md):

    import normlab_report
    r = normlab_report.load("results/lr-norm")   # runs, curves, activations, batchstats,
    r.runs.groupby(["norm", "lr"]).final_test_acc.mean()   # timings, claims; manifest

Modules, in import order: conventions (norm order, names, colours), load (reading and
checking the CSV files and manifest), api (load(DIR)), stats (the numbers), figures
(matplotlib), markdown (tables and the report's sections), html (report.html), cli (the
command line, `main`). scripts/report.py is the command-line entry point; it makes sure
pandas and matplotlib are there.
"""
from .api import Results, load  # noqa: F401
from .load import ReportError  # noqa: F401


def main(argv=None):
    """The report command line (scripts/report.py); imported on use, so load() needs no
    matplotlib."""
    from .cli import main as cli_main
    return cli_main(argv)
