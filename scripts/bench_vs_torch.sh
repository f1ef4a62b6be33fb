#!/usr/bin/env bash
# normlab vs PyTorch, side by side in one invocation: both benchmarks run
# interleaved (normlab, torch, normlab, torch, ...) at the same thread count,
# each case keeps its best median over the rounds, and the table of
# speed-ups (torch time / normlab time) goes to stdout and results/bench/.
# Usage: scripts/bench_vs_torch.sh [--threads N] [--rounds R] [--suite S] [--min-time T] [--filter A,B,...]
# --filter keeps the cases whose name contains any of the comma-separated texts
# (as `normlab bench --filter`), e.g. --filter cnn,rnn; such a run leaves
# results/bench/normlab.csv (the full --compare baseline) alone.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=1 rounds=2 suite=all min_time=0.3 filter=
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) echo "bench_vs_torch: unknown option $1 (allowed: --threads, --rounds, --suite, --min-time, --filter)" >&2; exit 2 ;;
  esac
done
bin=build/normlab
[ -x "$bin" ] || { echo "bench_vs_torch: $bin not built; run bash scripts/setup.sh" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: normlab" >&2
  OPENBLAS_NUM_THREADS=$threads "$bin" bench --suite "$suite" --threads "$threads" --min-time "$min_time" \
    --filter "$filter" --csv "$tmp/normlab-$r.csv" >/dev/null
  echo "round $r/$rounds: pytorch" >&2
  /usr/bin/python3 scripts/bench_torch.py --suite "$suite" --threads "$threads" --min-time "$min_time" \
    --filter "$filter" --csv "$tmp/torch-$r.csv" 2>/dev/null
done
mkdir -p results/bench
/usr/bin/python3 scripts/bench_table.py "$tmp" "$threads" results/bench ${filter:+--partial}
