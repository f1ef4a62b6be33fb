#!/usr/bin/python3
"""The installed layout works from any working folder. Usage: install_cli.py NORMLAB_BIN CASE

prefix-from-anywhere: `cmake --install` of this build into a temporary prefix
puts bin/normlab and share/normlab/{experiments,scripts,docs} there. From a
working folder outside the checkout, with no NORMLAB_SHARE_DIR set, the
installed binary lists the claims from PREFIX/share/normlab (not from the
checkout), runs a tiny sweep, the installed report.py renders its report, and
`slurm` writes a merge script that renders it with the installed report.py.
Its data folder is $XDG_DATA_HOME/normlab, else ~/.local/share/normlab.
NORMLAB_SHARE_DIR overrides the search, and a share folder without the claims
exits 2 naming the variable.
deb-package: `cpack -G DEB` builds normlab_*.deb; unpacked into a scratch root
(dpkg-deb -x), its binary lists the claims from ROOT/usr/share/normlab and
runs a tiny sweep with its report from /. Its control file declares the
shared-library and Python dependencies.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

BIN, CASE = sys.argv[1], sys.argv[2]
BUILD = os.path.dirname(os.path.abspath(BIN))
ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLAIMS = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "experiments", "claims")) if f.endswith(".toml"))
TINY = """\
name = "tiny"
dataset = "blobs:n=200,test=100,dim=8,classes=3,noise=1.0,seed=3"
model = "mlp"
widths = [8]
steps = 20
eval_every = 10
norm = ["none", "batch"]
lr = 0.1
seeds = 1
"""


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def run(args, cwd, expect=0, env=None):
    e = {k: v for k, v in os.environ.items() if k != "NORMLAB_SHARE_DIR"}
    e.update(env or {})
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=e)
    check(p.returncode == expect, f"{args}: exit {p.returncode}, expected {expect}\n{p.stdout[-2000:]}{p.stderr[-3000:]}")
    return p


def exercise(normlab, share, work, env=None):
    """The claims list, a tiny sweep and its report, from WORK (outside the checkout)."""
    listed = run([normlab, "claims", "--list"], work, env=env).stdout.split("\n")
    ids = sorted(line.split()[0] for line in listed if line.strip())
    check(ids == CLAIMS, f"claims --list gave {ids}, expected {CLAIMS}")
    check(all(line.split()[1].startswith(share) for line in listed if line.strip()),
          f"claims listed from outside {share}:\n" + "\n".join(listed))
    with open(os.path.join(work, "tiny.toml"), "w") as f:
        f.write(TINY)
    run([normlab, "sweep", "tiny.toml", "--out", "out", "-q"], work, env=env)
    run(["/usr/bin/python3", os.path.join(share, "scripts", "report.py"), "out"], work, env=env)
    check(os.path.isfile(os.path.join(work, "out", "report.md")), "report.md not written by the installed report.py")


def prefix_from_anywhere():
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", BUILD, "--prefix", prefix], tmp)
        normlab = os.path.join(prefix, "bin", "normlab")
        share = os.path.join(prefix, "share", "normlab")
        for rel in ["experiments/claims", "experiments/lr-norm.toml", "scripts/report.py",
                    "scripts/normlab_report/load.py", "docs/errors.md"]:
            check(os.path.exists(os.path.join(share, rel)), f"{rel} not installed under {share}")
        work = os.path.join(tmp, "elsewhere")
        os.makedirs(work)
        exercise(normlab, share, work)
        # An installed binary keeps its data in the user's data folder, not in the working one.
        home = os.path.join(tmp, "home")
        for env, want in [({"HOME": home, "NORMLAB_DATA": "", "XDG_DATA_HOME": ""},
                           os.path.join(home, ".local", "share", "normlab")),
                          ({"HOME": home, "NORMLAB_DATA": "", "XDG_DATA_HOME": os.path.join(tmp, "xdg")},
                           os.path.join(tmp, "xdg", "normlab"))]:
            out = run([normlab, "data", "info"], work, env=env).stdout
            check(f"data directory: {want}" in out, f"installed data folder, expected {want}:\n{out}")
        # slurm: the merge job renders the report with the installed script.
        run([normlab, "slurm", "tiny.toml", "--tasks", "1", "--out", "sl"], work)
        merge = open(os.path.join(work, "sl", "slurm", "merge.sbatch")).read()
        check(os.path.join(share, "scripts", "report.py") in merge, "merge.sbatch has no report step:\n" + merge)
        # The override, and a share folder without the claims.
        alt = os.path.join(tmp, "alt")
        shutil.copytree(share, alt)
        out = run([normlab, "claims", "--list"], work, env={"NORMLAB_SHARE_DIR": alt}).stdout
        check(alt in out, "NORMLAB_SHARE_DIR not used:\n" + out)
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        err = run([normlab, "claims", "--list"], work, expect=2, env={"NORMLAB_SHARE_DIR": empty}).stderr
        check("NORMLAB_SHARE_DIR" in err and "experiments/claims" in err, "exit-2 message:\n" + err)


def deb_package():
    if not shutil.which("dpkg-deb"):
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        run(["cpack", "-G", "DEB", "-B", tmp, "--config", os.path.join(BUILD, "CPackConfig.cmake")], tmp)
        debs = glob.glob(os.path.join(tmp, "normlab_*.deb"))
        check(len(debs) == 1, f"expected one normlab_*.deb, found {debs}")
        depends = run(["dpkg-deb", "-f", debs[0], "Depends"], tmp).stdout
        for dep in ["libopenblas", "libspdlog", "python3-pandas", "python3-matplotlib"]:
            check(dep in depends, f"Depends lacks {dep}: {depends}")
        root = os.path.join(tmp, "root")
        run(["dpkg-deb", "-x", debs[0], root], tmp)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        exercise(os.path.join(root, "usr", "bin", "normlab"), os.path.join(root, "usr", "share", "normlab"), work)


{"prefix-from-anywhere": prefix_from_anywhere, "deb-package": deb_package}[CASE]()
print("ok", CASE)
