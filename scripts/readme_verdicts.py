#!/usr/bin/env python3
"""Write the README's verdict table from a claims.csv (normlab claims output).

Usage: scripts/readme_verdicts.py CLAIMS_CSV [--readme README.md] [--beside OTHER_CSV]

claims.csv has one summary row per claim (empty `cell`) and one row per cell:
id, cell, n, mean, ci_low, ci_high, margin, verdict, why, seeds_needed, ...
The table gets one row per claim: its verdict, then every cell as
"cell: mean [ci_low, ci_high] short-verdict" (an infinite end is "?"), and the margin m. With --readme,
the text between the lines "<!-- verdicts:begin -->" and "<!-- verdicts:end -->"
is replaced; without, the table is printed. --beside OTHER_CSV (e.g. the quick
profile's claims.csv on the MNIST 10k subset) adds a column with each claim's
verdict there and its cell counts (S/N/I/U), and marks "differs" where a cell
both decide (S or N) has another verdict. Only the standard library is used.
Each claims.csv is read only when it is its claims folder's own: the folder's
manifest.json records its SHA-256 (`files`), and the bytes match.
Exit codes: 0 written; 2 bad input (missing file, column or markers; a claims.csv
its folder's manifest does not vouch for).
"""
import csv
import hashlib
import io
import json
import os
import sys

from normlab_report.atomic import write_text


def num(s):
    return float(s) if s not in ("", None) else None


def fmt(v):
    if v is None:
        return "?"
    a = abs(v)
    if a != 0 and (a < 0.001 or a >= 1000):
        return f"{v:+.3g}"
    return f"{v:+.3f}" if a < 10 else f"{v:+.1f}"


LETTER = {"supported": "S", "not supported": "N", "inconclusive": "I", "untestable": "U"}


def short(row):
    v = row["verdict"]
    if v == "supported":
        out = "S"
    elif v == "not supported":
        out = {"opposite": "N, opposite", "too small": "N, too small",
               "equivalent": "N, no practical difference"}.get(row["why"], "N")
    elif v == "untestable":
        out = f"U, {row['why']}" if row.get("why") else "U"
    else:
        need = row.get("seeds_needed", "")
        out = f"I, ~{need} seeds" if need not in ("", "-1", "0") else "I"
    # Holm's correction changed the cell's own decision: show both.
    own = row.get("verdict_unadjusted", "")
    if own and own != v and v != "untestable":
        out += f"; {LETTER.get(own, own)} before Holm"
    if row.get("method") and row["method"] != "t":
        out += f"; {row['method']}"
    return out


def fail(msg):
    print(f"readme_verdicts: {msg}", file=sys.stderr)
    sys.exit(2)


def verified_text(path):
    """The text of PATH, a claims.csv whose folder's manifest.json records its SHA-256."""
    manifest = os.path.join(os.path.dirname(os.path.abspath(path)), "manifest.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
        with open(manifest) as f:
            recorded = (json.load(f).get("files") or {}).get(os.path.basename(path))
    except OSError as e:
        fail(f"{e.filename}: {e.strerror} (a claims.csv is read with its folder's manifest.json)")
    except ValueError as e:
        fail(f"{manifest}: not JSON ({e})")
    if recorded is None:
        fail(f"{manifest}: records no SHA-256 for {os.path.basename(path)} (files), so {path} is not trusted")
    if hashlib.sha256(data).hexdigest() != recorded:
        fail(f"{path}: its SHA-256 is not the one {manifest} records: the file changed after normlab wrote it")
    return data.decode()


def read_rows(path):
    rows = list(csv.DictReader(io.StringIO(verified_text(path), newline="")))
    need = {"id", "cell", "mean", "ci_low", "ci_high", "margin", "verdict", "why"}
    if not rows or not need <= set(rows[0]):
        print(f"readme_verdicts: {path}: needs columns {', '.join(sorted(need))}", file=sys.stderr)
        sys.exit(2)
    return rows


def beside_text(cid, cells, other):
    """The other table's verdict of claim cid, its S/N/I/U cell counts, and the cells both decide differently."""
    theirs = {r["cell"]: r for r in other if r["id"] == cid}
    if "" not in theirs:
        return "not run"
    counts = [sum(1 for c, r in theirs.items() if c and r["verdict"] == v) for v in LETTER]
    text = f"{theirs[''][ 'verdict'].split(':')[0]} ({'/'.join(str(n) for n in counts)})"
    decided = ("supported", "not supported")
    differ = [c["cell"] for c in cells if c["cell"] in theirs and c["verdict"] in decided
              and theirs[c["cell"]]["verdict"] in decided and theirs[c["cell"]]["verdict"] != c["verdict"]]
    return text + (f"; differs: {', '.join(differ)}" if differ else "")


def table(path, beside=None):
    rows = read_rows(path)
    other = read_rows(beside) if beside else None
    out = ["| claim | verdict | cells: mean [95% interval] (S supported, N not supported, I inconclusive, "
           "U untestable; the interval is t unless named) | m |" + (" quick profile (S/N/I/U) |" if other else ""),
           "|---|---|---|---|" + ("---|" if other else "")]
    order = []
    for r in rows:
        if r["id"] not in order:
            order.append(r["id"])
    for cid in order:
        mine = [r for r in rows if r["id"] == cid]
        head = next((r for r in mine if r["cell"] == ""), mine[0])
        cells = [r for r in mine if r["cell"] != ""]
        text = "; ".join(f"{c['cell']}: {fmt(num(c['mean']))} [{fmt(num(c['ci_low']))}, {fmt(num(c['ci_high']))}] "
                         f"{short(c)}" for c in cells)
        out.append(f"| {cid} | {head['verdict'].split(':')[0]} | {text} | {head['margin']} |" +
                   (f" {beside_text(cid, cells, other)} |" if other else ""))
    return "\n".join(out) + "\n"


def main(argv):
    args, opts = [], {}
    i = 1
    while i < len(argv):
        if argv[i] in ("--readme", "--beside") and i + 1 < len(argv) and argv[i] not in opts:
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    t = table(args[0], opts.get("--beside"))
    if "--readme" not in opts:
        sys.stdout.write(t)
        return 0
    readme = opts["--readme"]
    begin, end = "<!-- verdicts:begin -->", "<!-- verdicts:end -->"
    text = open(readme).read()
    if begin not in text or end not in text:
        print(f"readme_verdicts: {readme}: no {begin} ... {end} markers", file=sys.stderr)
        return 2
    a, rest = text.split(begin, 1)
    _, b = rest.split(end, 1)
    write_text(readme, a + begin + "\n" + t + end + b)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
