#!/usr/bin/env bash
# Seeds a regression history with the last N commits of REF, each measured now
# from its own build. Phase 1 builds each commit (a detached worktree under
# $SEED_DIR, target normlab only, ccache, nice) and keeps its binary. Phase 2
# times them in RUNS rounds; each round runs every commit's binary once (one
# process: one repeat), in a new shuffled order, so drift of the machine while
# seeding (other jobs starting, stopping) spreads over all commits instead of
# reading as a step between them. Each commit's runs become one bench CSV with
# repeats_s, recorded by THIS checkout's normlab with the commit's hash and date.
# Usage: scripts/seed_history.sh N [HISTORY]
# Env: REF (HEAD), SEED_DIR (/tmp/normlab-seed), BENCH ("--suite norm --min-time 0.05"), RUNS (5)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: seed_history.sh N [HISTORY]}
hist=${2:-results/history}
seed=${SEED_DIR:-/tmp/normlab-seed}
read -r -a bench <<<"${BENCH:---suite norm --min-time 0.05}"
runs=${RUNS:-5}
me=$(pwd)
mkdir -p "$seed/bin"
export CCACHE_BASEDIR=$seed CCACHE_DIR=${CCACHE_DIR:-$HOME/.ccache}
commits=$(git log --format=%h --abbrev=12 -n "$n" --reverse "${REF:-HEAD}")
for c in $commits; do  # phase 1: one binary per commit
  [ -x "$seed/bin/$c" ] && continue
  wt=$seed/wt
  git worktree add -q --detach "$wt" "$c"
  (cd "$wt" && nice cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null &&
   nice cmake --build build -j2 --target normlab >/dev/null 2>&1)
  cp "$wt/build/normlab" "$seed/bin/$c"
  git worktree remove --force "$wt"
done
for r in $(seq "$runs"); do  # phase 2: interleaved rounds, shuffled by a fixed seed per round
  for c in $(printf '%s\n' $commits | shuf --random-source=<(yes "$r")); do
    nice "$seed/bin/$c" bench "${bench[@]}" --csv "$seed/$c.run$r.csv" >/dev/null 2>&1
  done
done
for c in $commits; do
  /usr/bin/python3 - "$seed/bench-$c.csv" "$seed/$c".run*.csv <<'PY'
import csv, statistics, sys
out, paths = sys.argv[1], sys.argv[2:]
tables = [list(csv.DictReader(open(p))) for p in paths]
rows = tables[0]
with open(out, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=[k for k in rows[0] if k != "repeats_s"] + ["repeats_s"])
    w.writeheader()
    for i, r in enumerate(rows):
        assert all(t[i]["name"] == r["name"] for t in tables)
        reps = [t[i]["median_s"] for t in tables]
        r = {k: v for k, v in r.items() if k != "repeats_s"}
        r["median_s"] = repr(statistics.median(float(x) for x in reps))
        r["repeats_s"] = ";".join(reps)
        w.writerow(r)
PY
  "$me/build/normlab" history record "$seed/bench-$c.csv" --history "$hist" --commit "$c" \
      --date "$(git show -s --format=%cI "$c")" --replace
done
