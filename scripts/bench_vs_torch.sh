#!/usr/bin/env bash
# normlab vs PyTorch, side by side in one invocation: both benchmarks run
# interleaved (normlab, torch, normlab, torch, ...) at the same thread count,
# each case keeps its best median over the rounds, and the table of
# speed-ups (torch time / normlab time) goes to stdout and results/bench/.
# Usage: scripts/bench_vs_torch.sh [--threads N] [--rounds R] [--suite S] [--min-time T] [--filter A,B,...] [--torch-isa avx2]
# --filter keeps the cases whose name contains any of the comma-separated texts
# (as `normlab bench --filter`), e.g. --filter cnn,rnn; such a run leaves
# results/bench/normlab.csv (the full --compare baseline) alone.
# --torch-isa avx2 runs PyTorch held to the instruction set normlab's pinned
# kernel uses (ATEN_CPU_CAPABILITY, DNNL_MAX_CPU_ISA and OPENBLAS_CORETYPE for
# its process only), so that the table compares the kernels at equal vector
# width; it goes to results/bench/vs_torch_avx2.{md,csv}, normlab.csv untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=1 rounds=2 suite=all min_time=0.3 filter= torch_isa=
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --suite) suite=$2; shift 2 ;;
    --min-time) min_time=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --torch-isa) torch_isa=$2; shift 2
      [ "$torch_isa" = avx2 ] || { echo "bench_vs_torch: --torch-isa '$torch_isa' (allowed: avx2)" >&2; exit 2; } ;;
    *) echo "bench_vs_torch: unknown option $1 (allowed: --threads, --rounds, --suite, --min-time, --filter, --torch-isa)" >&2; exit 2 ;;
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
  torch_env=()
  [ -n "$torch_isa" ] && torch_env=(ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell)
  env "${torch_env[@]}" /usr/bin/python3 scripts/bench_torch.py --suite "$suite" --threads "$threads" --min-time "$min_time" \
    --filter "$filter" --csv "$tmp/torch-$r.csv" 2>/dev/null
done
mkdir -p results/bench
/usr/bin/python3 scripts/bench_table.py "$tmp" "$threads" results/bench ${filter:+--partial} \
  ${torch_isa:+--torch-isa "$torch_isa"} --normlab-version "$("$bin" --version)"
