#!/usr/bin/python3
"""Runs every row of docs/errors.md whose input is a `normlab ...` command and
checks its exit code and that each `quoted` word of its message column is in
the output. Usage: errors_doc.py NORMLAB_BIN DOCS/errors.md"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

BIN, DOC = sys.argv[1], sys.argv[2]
BLOBS = "blobs:n=600,test=400,dim=16,classes=4"
GRID = f'dataset = "{BLOBS}"\nwidths = [32, 16]\nnorm = ["batch", "layer"]\n'

rows = []
for line in open(DOC):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 4 and cells[0].startswith("`normlab "):
        rows.append((cells[0].strip("`"), int(cells[1]), re.findall(r"`([^`]+)`", cells[2])))
if len(rows) < 30:
    sys.exit(f"FAIL: only {len(rows)} runnable rows found in {DOC}")

failures = []
with tempfile.TemporaryDirectory() as tmp:
    grid = os.path.join(tmp, "grid.toml")
    with open(grid, "w") as f:
        f.write(GRID)
    os.symlink(os.path.join(tmp, "loop"), os.path.join(tmp, "loop"))  # TMP/loop: a symbolic link loop
    for cmd, code, needles in rows:
        subst = lambda s: s.replace("BLOBS", BLOBS).replace("GRID", grid).replace("TMP", tmp)
        args = [subst(a) for a in shlex.split(cmd)[1:]]
        out = os.path.join(tmp, "out")
        if args[0] in ("train", "sweep") and "--out" not in args:
            args += ["--out", out]
        p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=tmp, timeout=60)
        text = p.stdout + p.stderr
        missing = [n for n in needles if subst(n) not in text]
        if p.returncode != code or missing:
            failures.append(f"{cmd}: exit {p.returncode} (documented {code}); missing {missing}\n{text}")
        if os.path.exists(os.path.join(out, "runs.csv")):
            failures.append(f"{cmd}: wrote results")
if failures:
    sys.exit("FAIL:\n" + "\n".join(failures))
print(f"PASS {len(rows)} documented errors")
