"""CSV comparison with the time columns dropped: the columns that may differ
between two runs of the same config and seed (wall-clock and memory)."""
import csv

TIME_COLS = {"seconds_to_target", "train_seconds", "samples_per_s", "peak_rss_mb", "elapsed_s"}


def rows(path):
    """Header and rows of a CSV with the time columns dropped."""
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    keep = [i for i, c in enumerate(r[0]) if c not in TIME_COLS]
    return [[row[i] for i in keep] for row in r]
