#!/usr/bin/env bash
# The main job: set up and build, fetch MNIST (full MNIST when the network
# allows, else the offline 10k subset, which every output says), run the quick
# profile of the claims suite, and point to its report.
# Usage: bash scripts/reproduce_claims.sh [OUT_DIR]   (default results/claims-quick)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/claims-quick}"
bash scripts/setup.sh
build/normlab data fetch mnist
# A rerun resumes: runs already in $out are not repeated.
build/normlab claims --profile quick --out "$out"
echo
echo "claims: the verdicts and their numbers are in $out/claims.md"
echo "        (a forest plot of every cell, then one section per claim: rule, per-cell intervals,"
echo "        figures in $out/ID/report.md);"
echo "        the committed quick baseline (results/baseline) was made on the MNIST 10k subset;"
echo "        on that data, build/normlab claims --out $out --baseline results/baseline compares with it"
