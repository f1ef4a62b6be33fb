#!/usr/bin/python3
"""The documentation matches the binary. Usage: docs_cli.py NORMLAB_BIN CASE

keys-doc: docs/keys.md is `normlab keys --markdown` byte for byte (regenerate it with
  `build/normlab keys --markdown > docs/keys.md`), and names every run key.
bench-columns: every column of `normlab bench`'s table and CSV is explained in
  `normlab bench --help`, in docs/bench.md and in the Markdown `--csv X.csv` writes beside
  it (X.md).
readme-verdicts: scripts/readme_verdicts.py, run on results/claims-full/claims.csv with
  --beside results/baseline/claims.csv (the quick profile),
  leaves README.md unchanged (its verdict table is the script's output); a claims.csv
  its folder's manifest does not vouch for (edited, or no manifest) is refused with
  exit 2, as the table or beside it, and README.md is not written.
links: every relative link of README.md and docs/*.md points at a file of the
  project, and no page cites a file outside it (an absolute /home, /work or /root path).
"""
import glob
import os
import re
import subprocess
import sys

BIN, CASE = sys.argv[1], sys.argv[2]
ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def run(args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stderr}")
    return p.stdout


def case_keys_doc():
    want = run(["keys", "--markdown"])
    have = open(os.path.join(ROOT, "docs", "keys.md")).read()
    check(have == want, "docs/keys.md differs from `normlab keys --markdown`: regenerate it with "
                        "`build/normlab keys --markdown > docs/keys.md`")
    listed = run(["keys"]).split("\n")
    names = [ln.split()[0] for ln in listed if ln.strip()]
    check(len(names) > 40 and all(f"| `{n}` |" in have for n in names), "a run key missing from keys.md")


def case_bench_columns():
    help_text = run(["bench", "--help"])
    doc = open(os.path.join(ROOT, "docs", "bench.md")).read()
    table = ["median ms", "min-max ms", "runs", "samples/s", "GB/s", "GFLOP/s", "%triad", "%sgemm", "gemm%"]
    csv = ["median_s", "min_s", "max_s", "repeats", "samples_per_s", "gb_per_s", "gflop_per_s",
           "gemm_part_gflop_per_s"]
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        run(["bench", "--suite", "probe", "--min-time", "0.01", "--csv", os.path.join(tmp, "b.csv")])
        md = open(os.path.join(tmp, "b.md")).read()  # the CSV's companion Markdown
        check("| probe/triad |" in md, "b.md lacks the table")
    for c in table + csv:
        check(c in help_text, f"bench --help does not explain {c!r}")
        check(c in doc, f"docs/bench.md does not explain {c!r}")
        check(c in md, f"the CSV's companion b.md does not explain {c!r}")


def case_links():
    pages = [os.path.join(ROOT, "README.md")] + glob.glob(os.path.join(ROOT, "docs", "*.md"))
    for page in pages:
        text = open(page).read()
        rel = os.path.relpath(page, ROOT)
        check(not re.search(r"(?<![\w.])/(home|work|root)/", text), f"{rel} cites an absolute path")
        check("design.md" not in text, f"{rel} cites a file outside the project")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"\w+:", target):
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            check(os.path.exists(path), f"{rel}: link {target} points at nothing")


def case_readme_verdicts():
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "README.md")
        shutil.copy(os.path.join(ROOT, "README.md"), copy)
        p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "readme_verdicts.py"),
                            os.path.join(ROOT, "results", "claims-full", "claims.csv"), "--readme", copy,
                            "--beside", os.path.join(ROOT, "results", "baseline", "claims.csv")],
                           capture_output=True, text=True)
        check(p.returncode == 0, p.stderr)
        check(open(copy).read() == open(os.path.join(ROOT, "README.md")).read(),
              "README.md's verdict table is not what scripts/readme_verdicts.py writes")
        # A claims.csv its folder's manifest does not vouch for is refused, as the main table or
        # beside it, and the README is left as it was.
        bad = os.path.join(tmp, "bad")
        os.makedirs(bad)
        shutil.copy(os.path.join(ROOT, "results", "claims-full", "manifest.json"), bad)
        text = open(os.path.join(ROOT, "results", "claims-full", "claims.csv")).read()
        edited = text.replace(",supported,", ",not supported,", 1)
        check(edited != text, "no verdict to edit")
        lone = os.path.join(tmp, "lone")
        os.makedirs(lone)
        for folder, content, want in ((bad, edited, "is not the one"), (lone, text, "manifest.json")):
            with open(os.path.join(folder, "claims.csv"), "w") as f:
                f.write(content)
            for args in ([os.path.join(folder, "claims.csv")],
                         [os.path.join(ROOT, "results", "claims-full", "claims.csv"), "--beside",
                          os.path.join(folder, "claims.csv")]):
                p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "readme_verdicts.py"),
                                    *args, "--readme", copy], capture_output=True, text=True)
                check(p.returncode == 2 and want in p.stderr and folder in p.stderr,
                      f"{args}: exit {p.returncode}, stderr {p.stderr}")
                check(open(copy).read() == open(os.path.join(ROOT, "README.md")).read(), "a refused table was written")


{"readme-verdicts": case_readme_verdicts, "keys-doc": case_keys_doc, "bench-columns": case_bench_columns, "links": case_links}[CASE]()
print("ok", CASE)
