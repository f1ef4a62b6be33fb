#!/usr/bin/env bash
# Seeds a regression history with commits of REF, each measured now from its
# own build, all in one session.
#
# Which commits (the union; the history orders them by commit date):
#   1. the last N commits of REF (git log -n N);
#   2. kernel commits: every non-merge commit since `normlab bench` exists
#      (the commit that added cmd/bench.cpp) that changed at least
#      KERNEL_MIN_LINES (10) lines of the files holding the timed cases'
#      arithmetic (KERNEL_PATHS below: BN/LN/GN core, dense, conv, the GEMM
#      wrapper, the BLAS kernel choice), each with its first parent, so that
#      a step lands between a commit and its parent; smaller edits there (an
#      include, a comment, a check) are not speed changes;
#   3. a backbone: every BACKBONE-th first-parent commit of REF since bench
#      exists, so levels between the kernel commits are measured too;
#   4. every commit already holding a bench record in HISTORY, re-measured
#      (--replace) so that no series mixes two sessions' timings (a session's
#      machine load reads as a step otherwise).
# Commits before bench exists have no `normlab bench` and are never selected.
#
# Phase 1 builds each commit (git archive into one fixed folder under
# $SEED_DIR: no .git there, so every build's commit stamp reads "unknown" and
# ccache's relative paths hit across commits; target normlab; nice) and keeps
# its binary, in priority order: FIRST, 2, 4, 1, 3. A commit that does not
# build, or whose build would start after BUILD_MINUTES, is skipped and named.
# Phase 2 times them in RUNS rounds; each round runs every commit's binary once
# (one process: one repeat), in a new shuffled order, so drift of the machine
# while seeding (other jobs starting, stopping) spreads over all commits
# instead of reading as a step between them. The bench runs at normal
# priority (one thread: under nice, on a machine whose cores are busy, it
# would time the scheduler's share rather than the code), with the
# environment cleared of OpenBLAS and normlab kernel settings: each commit
# picks its own BLAS kernel (before 901b010, OpenBLAS's native one).
# Phase 3 keeps a commit only when every round's run succeeded and produced at
# least one case of each CASES pattern (old commits may lack cases or columns:
# they are skipped and named), records only the cases every kept commit has,
# each commit's runs as one bench CSV with repeats_s, by THIS checkout's
# normlab with the commit's hash and date.
# Usage: scripts/seed_history.sh N [HISTORY]
# Env: REF (HEAD), SEED_DIR (/tmp/normlab-seed), RUNS (5), BACKBONE (25; 0: none),
#      KERNELS (1; 0: none), KERNEL_MIN_LINES (10), RECORDED (1; 0: do not
#      re-measure HISTORY's commits), FIRST (commits to build before all others),
#      BUILD_MINUTES (no limit), BENCH ("--suite all --filter fwd --min-time
#      0.05": the norm and layer cases, through a filter every bench version
#      reads), CASES ("norm/ layers/dense layers/conv"), LIST_ONLY (1: print
#      the selection and stop)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: seed_history.sh N [HISTORY]}
hist=${2:-results/history}
seed=${SEED_DIR:-/tmp/normlab-seed}
ref=${REF:-HEAD}
read -r -a bench <<<"${BENCH:---suite all --filter fwd --min-time 0.05}"
read -r -a cases <<<"${CASES:-norm/ layers/dense layers/conv}"
runs=${RUNS:-5}
me=$(pwd)
# The arithmetic of the timed cases: BN/LN/GN statistics and affine, dense and
# conv layers, the GEMM wrapper and the BLAS kernel choice.
KERNEL_PATHS=(lib/nn/norm_core.cpp lib/nn/dense.cpp lib/nn/conv2d.cpp lib/tensor/gemm.cpp lib/tensor/blas_kernel.cpp)

first_bench() { git log --diff-filter=A --format=%H --reverse "$ref" -- cmd/bench.cpp | head -1; }

kernel_lines() {  # lines a commit changed in KERNEL_PATHS
  git diff --numstat "$1^" "$1" -- "${KERNEL_PATHS[@]}" | awk '{s += $1 + $2} END {print s + 0}'
}

# Prints the selected commits (full hashes), one group after another in build
# priority: FIRST, kernel commits and their parents, recorded commits, the last
# N, the backbone; a commit already printed is not printed again.
select_commits() {
  local fb c; fb=$(first_bench)
  {
    for c in ${FIRST:-}; do git rev-parse "$c^{commit}"; done
    if [ "${KERNELS:-1}" = 1 ]; then
      for c in $(git log --no-merges --reverse --format=%H "$fb^..$ref" -- "${KERNEL_PATHS[@]}"); do
        [ "$(kernel_lines "$c")" -ge "${KERNEL_MIN_LINES:-10}" ] || continue
        git merge-base --is-ancestor "$fb" "$c^" 2>/dev/null && git rev-parse "$c^"
        echo "$c"
      done
    fi
    if [ "${RECORDED:-1}" = 1 ] && [ -d "$hist" ]; then
      find "$hist" -name '*.bench.csv' -printf '%f\n' | sed 's/\.bench\.csv$//' |
        while read -r c; do git rev-parse -q --verify "$c^{commit}" || echo "not in this repository, left as is: $c" >&2; done |
        xargs -r git show -s --format='%ct %H' | sort -n | awk '{print $2}'
    fi
    git log --reverse --format=%H -n "$n" "$ref"
    [ "${BACKBONE:-25}" -gt 0 ] && git log --first-parent --format=%H "$fb^..$ref" | awk -v k="${BACKBONE:-25}" 'NR % k == 1'
  } | awk '!seen[$0]++' | cut -c1-12
}

# Phase 1: one binary per commit, in the order given, until BUILD_MINUTES have
# passed; prints the commits that have a binary.
build_all() {
  local wt=$seed/wt c stop=$(( $(date +%s) + 60 * ${BUILD_MINUTES:-100000} ))
  for c in "$@"; do
    if [ ! -x "$seed/bin/$c" ]; then
      if [ "$(date +%s)" -ge "$stop" ]; then
        echo "skip $c: not built within BUILD_MINUTES=${BUILD_MINUTES}" >&2
        continue
      fi
      rm -rf "$wt" && mkdir -p "$wt"
      git archive "$c" | tar -x -C "$wt"
      if ! (cd "$wt" && nice cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
              -DCMAKE_C_COMPILER_LAUNCHER=ccache >"$seed/log/$c.build" 2>&1 &&
            nice cmake --build build -j2 --target normlab >>"$seed/log/$c.build" 2>&1); then
        echo "skip $c: does not build (log: $seed/log/$c.build)" >&2
        continue
      fi
      cp "$wt/build/normlab" "$seed/bin/$c"
      echo "built $c $(date -u +%H:%M:%S)" >&2
    fi
    echo "$c"
  done
  rm -rf "$wt"
}

# Phase 2: interleaved rounds, shuffled by a fixed seed per round.
measure_all() {
  local r c
  for r in $(seq "$runs"); do
    for c in $(printf '%s\n' "$@" | shuf --random-source=<(yes "$r")); do
      env -u OPENBLAS_CORETYPE -u NORMLAB_BLAS_KERNEL -u OPENBLAS_NUM_THREADS -u NORMLAB_BENCH_SLOWDOWN \
        "$seed/bin/$c" bench "${bench[@]}" --csv "$seed/runs/$c.run$r.csv" >"$seed/log/$c.run$r" 2>&1 ||
        echo "round $r: $c failed (log: $seed/log/$c.run$r)" >&2
    done
    echo "round $r of $runs done $(date -u +%H:%M:%S)" >&2
  done
}

mkdir -p "$seed/bin" "$seed/runs" "$seed/log"
export CCACHE_BASEDIR=$seed CCACHE_DIR=${CCACHE_DIR:-$HOME/.ccache}
mapfile -t commits < <(select_commits)
echo "${#commits[@]} commits selected: ${commits[*]}" >&2
[ "${LIST_ONLY:-0}" = 1 ] && exit 0
mapfile -t built < <(build_all "${commits[@]}")
rm -f "$seed"/runs/*.csv
measure_all "${built[@]}"
# Phase 3: which commits and cases to record; one bench CSV per kept commit.
mapfile -t kept < <(/usr/bin/python3 scripts/seed_history_collect.py "$seed/runs" "$runs" "${cases[*]}" "${built[@]}")
for c in "${kept[@]}"; do
  "$me/build/normlab" history record "$seed/runs/bench-$c.csv" --history "$hist" --commit "$c" \
      --date "$(git show -s --format=%cI "$c")" --replace
done
echo "${#kept[@]} of ${#commits[@]} selected commits recorded in $hist" >&2
