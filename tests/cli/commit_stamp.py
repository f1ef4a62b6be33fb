#!/usr/bin/python3
"""The build's commit stamp (cmake/commit_stamp.cmake) follows the git state of
the source tree at build time, not at configure time.
Usage: commit_stamp.py SCRIPT [NORMLAB_BIN SOURCE_DIR]

In a throwaway repository: the stamp is HEAD's 12-hex hash; a commit changes it;
an edit to a tracked file appends "-dirty", and so does a staged one; an edit
under results/ does not; untracked files do not; without git it is "unknown";
an unchanged state leaves the generated file's bytes and time untouched.
With a binary: its --version names the commit the script gives for the source
tree now (the build is current: ctest runs after a build)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SCRIPT = sys.argv[1]
fails = []


def check(ok, what):
    if not ok:
        fails.append(what)
        print("FAIL:", what)


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout.strip()


def stamp(src, out):
    subprocess.run(["cmake", f"-DSRC={src}", f"-DOUT={out}", "-P", SCRIPT], check=True)
    m = re.search(r'build_commit = "([^"]*)"', open(out).read())
    return m.group(1) if m else None


with tempfile.TemporaryDirectory() as tmp:
    repo, out = os.path.join(tmp, "src"), os.path.join(tmp, "gen", "build_commit.cpp")
    os.makedirs(os.path.join(repo, "results"))
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    open(os.path.join(repo, "a.cpp"), "w").write("int a;\n")
    open(os.path.join(repo, "results", "runs.csv"), "w").write("x\n1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "one")
    head = git(repo, "rev-parse", "--short=12", "HEAD")
    check(stamp(repo, out) == head, f"clean tree: expected {head}")

    before = os.stat(out).st_mtime_ns
    os.utime(out, ns=(before - 10**9, before - 10**9))
    stamp(repo, out)
    check(os.stat(out).st_mtime_ns == before - 10**9, "an unchanged state rewrote the generated file")

    open(os.path.join(repo, "results", "runs.csv"), "a").write("2\n")
    open(os.path.join(repo, "new.cpp"), "w").write("int n;\n")
    check(stamp(repo, out) == head, "an edit under results/ or an untracked file marked the build dirty")

    open(os.path.join(repo, "a.cpp"), "a").write("int b;\n")
    check(stamp(repo, out) == head + "-dirty", "an edited tracked file did not mark the build dirty")
    git(repo, "add", "a.cpp")
    check(stamp(repo, out) == head + "-dirty", "a staged edit did not mark the build dirty")

    git(repo, "commit", "-q", "-m", "two")
    head2 = git(repo, "rev-parse", "--short=12", "HEAD")
    check(head2 != head and stamp(repo, out) == head2, f"after a commit: expected {head2}")

    shutil.rmtree(os.path.join(repo, ".git"))
    check(stamp(repo, out) == "unknown", "without git: expected unknown")

if len(sys.argv) > 3:
    with tempfile.TemporaryDirectory() as tmp:
        now = stamp(sys.argv[3], os.path.join(tmp, "c.cpp"))
    version = subprocess.run([sys.argv[2], "--version"], capture_output=True, text=True).stdout
    check(f"({now}," in version, f"normlab --version '{version.strip()}' does not name the source tree's {now}")

if fails:
    sys.exit(1)
print("ok")
