#!/usr/bin/env bash
# The main job: set up and build, fetch MNIST (full MNIST when the network
# allows, else the offline 10k subset, which the output says), and train the
# seed MLP 784-128-64-10 with batch norm for one epoch. Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build/normlab data fetch mnist
build/normlab train --dataset mnist --model mlp --norm batch --epochs 1 --out results/demo --force
echo "demo: results in results/demo/ (runs.csv, curves.csv, activations.csv, manifest.json)"
