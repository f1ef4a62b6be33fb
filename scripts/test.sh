#!/usr/bin/env bash
# Builds normlab and runs every test through ctest (unit tests, PyTorch
# reference checks, command-line tests). Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)"
