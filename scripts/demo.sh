#!/usr/bin/env bash
# The main job: set up and build, fetch MNIST (full MNIST when the network
# allows, else the offline 10k subset, which every output says), run the quick
# profile of the learning-rate x normalization sweep, and render its report.
# Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build/normlab data fetch mnist
build/normlab sweep experiments/lr-norm.toml --profile quick --out results/demo
/usr/bin/python3 scripts/report.py results/demo
echo
echo "demo: the report is results/demo/report.md (figures beside it); the data are"
echo "      results/demo/runs.csv, curves.csv, activations.csv and manifest.json"
