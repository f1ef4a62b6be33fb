#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer pass: builds an instrumented
# normlab in build-asan/ and runs the unit tests (the PyTorch reference checks,
# finite differences, allocation counts, the fuzz corpus replays; not the
# 2,000-replication calibration simulation) and a short command-line subset
# (train, sweep resume, shards, interrupts, bad input) under it. Any sanitizer
# report fails its test.
# Usage: bash scripts/sanitize.sh   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNORMLAB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd build-asan
ctest --output-on-failure -j"$(nproc)" \
  -E "calibration|cli_claims|cli_slurm|cli_kernel|cli_report|bench_|cli_sweep_(progress|lock|random|jobs|fresh)|interop"
