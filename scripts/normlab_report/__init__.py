"""normlab_report: a normlab sweep directory -> report.md and PNG figures.

Modules, in import order: conventions (norm order, names, colours), load (reading and
checking the CSV files and manifest), stats (the numbers), figures (matplotlib),
markdown (tables and the report's sections), cli (the command line, `main`).
scripts/report.py is the entry point; it makes sure pandas and matplotlib are there.
"""
from .cli import main  # noqa: F401
