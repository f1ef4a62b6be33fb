#!/usr/bin/env bash
# The nightly's history steps, in order; .github/workflows/nightly.yml runs
# this script, and so can any other CI (README, "Regression history"):
#   1. speed gate: every benchmark case, with repeats, against the history's
#      own spread on this machine (or the newest record of another machine,
#      relative to the probes; on the first night, results/bench/normlab.csv
#      with the old ratio-only check at 50%); exit 1 names the cases clearly slower;
#   2. record tonight's bench CSV and claims folder into the history (the
#      commit of this build; a re-run of the same commit replaces its record);
#   3. history show: change points of every series over commits, one PNG per
#      series; exit 1 names the series and the commit of a regression that
#      begins at one of the last RECENT commits.
# Every step runs even when an earlier one failed; the exit status is 1 if any
# failed. With GITHUB_STEP_SUMMARY set, the failing lines go to the job summary.
# Usage: scripts/nightly_history.sh HISTORY ARTIFACTS [CLAIMS_DIR]
# Env: NORMLAB (build/normlab), BENCH_ARGS ("--suite all --threads 1 --repeats 5
#      --min-time 0.1"), TOLERANCE (0.1: the practical threshold), RECENT (2: a step is
#      found once a commit after it is recorded, so the night after it happened).
set -uo pipefail
cd "$(dirname "$0")/.."
hist=${1:?usage: nightly_history.sh HISTORY ARTIFACTS [CLAIMS_DIR]}
art=${2:?usage: nightly_history.sh HISTORY ARTIFACTS [CLAIMS_DIR]}
claims=${3:-}
bin=${NORMLAB:-build/normlab}
read -r -a bench_args <<<"${BENCH_ARGS:---suite all --threads 1 --repeats 5 --min-time 0.1}"
mkdir -p "$art" "$hist"
status=0
summary() { [ -n "${GITHUB_STEP_SUMMARY:-}" ] && printf '%s\n' "$@" >>"$GITHUB_STEP_SUMMARY"; return 0; }
# tee into FILE through a fresh temporary beside it and a rename: whatever stands at
# FILE (a symlink planted in the artifacts folder) is replaced, never written through;
# a directory there is refused. Its status is tee's, or 1 if the rename fails.
tee_to() {
  local tmp rc
  tmp=$(mktemp "$1.XXXXXX") || return 1
  tee "$tmp"
  rc=$?
  chmod 0644 "$tmp"
  mv -fT -- "$tmp" "$1" || { rm -f -- "$tmp"; rc=1; }
  return $rc
}

# The first night (no bench record yet): the committed single-run baseline, by the
# ratio alone and its old tolerance, as before the history existed.
compare=("$hist" "${TOLERANCE:-0.1}")
compgen -G "$hist/*/*.bench.csv" >/dev/null || compare=(results/bench/normlab.csv 0.5)
echo "== 1. speed gate against ${compare[0]}"
if ! "$bin" bench "${bench_args[@]}" --csv "$art/bench.csv" --compare "${compare[0]}" \
     --tolerance "${compare[1]}" 2>&1 | tee_to "$art/gate.txt"; then
  status=1
  summary "### Speed gate failed at commit $("$bin" --version | sed 's/.*(\([^,]*\),.*/\1/')" '```' \
          "$(grep -E 'SLOWER|^against|^flagged|case\(s\) slower' "$art/gate.txt")" '```'
fi

echo "== 2. record into $hist"
inputs=()
[ -f "$art/bench.csv" ] && inputs+=("$art/bench.csv")
[ -n "$claims" ] && [ -f "$claims/claims.csv" ] && inputs+=("$claims")
if ((${#inputs[@]})) && ! "$bin" history record "${inputs[@]}" --history "$hist" --replace; then
  status=1
  summary "### history record failed (see the log)"
fi

echo "== 3. history show"
if ! "$bin" history show --history "$hist" --plots "$art/history" --recent "${RECENT:-2}" 2>&1 | tee_to "$art/history.txt"; then
  status=1
  summary "### Regressions in the history" '```' "$(sed -n '/regression(s) in the last/,$p' "$art/history.txt")" '```'
fi
exit $status
