#!/usr/bin/env bash
# libFuzzer pass over the input readers (tests/fuzz): builds the targets with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/, fuzzes
# one target or all of them for SECONDS each, then merges the inputs that found
# new coverage back into the committed corpus (tests/fuzz/corpus/TARGET, each
# at most MAX_LEN bytes). Crashes, timeouts and out-of-memory inputs are saved
# under build-fuzz/crashes/TARGET/; the script exits 1 if any target found one.
# Usage: bash scripts/fuzz.sh [TARGET|all] [SECONDS]   (default: all, 600)
#   TARGET: idx experiment safetensors csv dataset_spec
#   env: MAX_LEN (default 4096), CXX (default clang++), NICE (e.g. "nice -n 19")
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="idx experiment safetensors csv dataset_spec"
which="${1:-all}"
secs="${2:-600}"
max_len="${MAX_LEN:-4096}"
nice_cmd=${NICE:-}
if [ "$which" = all ]; then targets=$ALL; else targets=$which; fi
for t in $targets; do
  case " $ALL " in *" $t "*) ;; *) echo "fuzz.sh: unknown target '$t' (allowed: $ALL)" >&2; exit 2 ;; esac
done

$nice_cmd cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DNORMLAB_FUZZ=ON >/dev/null
$nice_cmd cmake --build build-fuzz -j"${JOBS:-$(nproc)}" --target $(printf 'fuzz_%s ' $targets) >/dev/null

# A sanitizer report is fatal; leaks are findings too.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
found=0
summary=()
for t in $targets; do
  exe="$PWD/build-fuzz/tests/fuzz/fuzz_$t"
  corpus="$PWD/tests/fuzz/corpus/$t"
  work="$PWD/build-fuzz/fuzz-work/$t"      # everything found this run; the merge keeps the useful part
  crashes="$PWD/build-fuzz/crashes/$t"
  log="$PWD/build-fuzz/fuzz-$t.log"
  mkdir -p "$work" "$crashes"
  echo "== fuzz_$t: ${secs}s, log $log"
  # -timeout: one input taking longer is a hang, saved as timeout-*.
  set +e
  (cd "$crashes" && exec $nice_cmd "$exe" -max_total_time="$secs" -max_len="$max_len" -timeout=10 \
     -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$corpus") >"$log" 2>&1 &
  pid=$!
  wait $pid
  rc=$?
  # The target's scratch file (tests/fuzz/fuzz_util.h) outlives a crash or a libFuzzer exit.
  rm -f "/dev/shm/normlab_fuzz_${t}_$pid" "${TMPDIR:-/tmp}/normlab_fuzz_${t}_$pid"
  set -e
  # The last status line (#N DONE/pulse cov: ft: corp: exec/s) and the final stats.
  status=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  n_crash=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  # Merge: only inputs that add coverage go into the committed corpus.
  before=$(find "$corpus" -type f | wc -l)
  $nice_cmd "$exe" -merge=1 -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 "$corpus" "$work" >>"$log" 2>&1 || true
  after=$(find "$corpus" -type f | wc -l)
  line="fuzz_$t: execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${before}->${after} findings=${n_crash} (exit ${rc})"
  echo "$line"
  summary+=("$line")
  if [ "$rc" -ne 0 ] || [ "$n_crash" -gt 0 ]; then
    found=1
    echo "   see $log and $crashes/"
  fi
done
echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $found
