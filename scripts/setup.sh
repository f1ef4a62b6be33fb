#!/usr/bin/env bash
# Installs what normlab needs from Debian's packages (only what is missing),
# then configures and builds it in build/. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake git pkg-config ca-certificates
  libcli11-dev libspdlog-dev libfmt-dev libboost-dev doctest-dev
  libopenblas-dev libeigen3-dev nlohmann-json3-dev libtomlplusplus-dev zlib1g-dev libssl-dev
  python3 python3-numpy python3-torch python3-pandas python3-matplotlib python3-markdown chromium
  dataset-fashion-mnist
  slurmctld slurmd slurm-client munge tmux
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Commands that may come from outside Debian's packages (a node install ships its own npm).
command -v curl >/dev/null || missing+=(curl)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The test build: test-only hooks compiled in (the speed gate's detection test needs them).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNORMLAB_TEST_HOOKS=ON ${NORMLAB_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
