#!/usr/bin/env bash
# The training page's speed per config, with and without WebAssembly SIMD (simd128): builds the
# site of RUN twice (the second module with `-C target-feature=-simd128`, in its own target
# folder), serves each with `digits web --serve`, and has headless Chromium train each config
# (bench/train_page.py). One JSON line per config and build. Not a test: a comparison anyone can
# rerun.
#
#   pip install -r web/requirements.txt               # selenium; Debian: chromium chromium-driver
#   bench/train_page.sh artifacts/mlp/run-1           # any finished run: the site is made of it
#
# Settings (environment): DIGITS (the binary; default $CARGO_TARGET_DIR/release/digits or
# target/release/digits), PYTHON (python3), EPOCHS (3), CONFIGS ("mlp.toml mlp-relu.toml
# mlp-batchnorm.toml mlp-layernorm.toml deep-sigmoid.toml cnn-small.toml"), BUILDS
# ("simd128 none").
set -euo pipefail
cd "$(dirname "$0")/.."
run="${1:?usage: bench/train_page.sh RUN_DIR}"
DIGITS="${DIGITS:-${CARGO_TARGET_DIR:-target}/release/digits}"
PYTHON="${PYTHON:-python3}"
EPOCHS="${EPOCHS:-3}"
CONFIGS="${CONFIGS:-mlp.toml mlp-relu.toml mlp-batchnorm.toml mlp-layernorm.toml deep-sigmoid.toml cnn-small.toml}"
BUILDS="${BUILDS:-simd128 none}"
work=$(mktemp -d)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT

for build in $BUILDS; do
  target="${CARGO_TARGET_DIR:-target}"
  flags=()
  if [ "$build" = none ]; then
    # A user's RUSTFLAGS win over the target's flags `digits web` sets.
    target="$target/wasm-without-simd"
    flags=(env RUSTFLAGS="-C target-feature=-simd128")
  fi
  # ${flags[@]+...}: an empty array is "unbound" to `set -u` in older bash.
  ${flags[@]+"${flags[@]}"} env CARGO_TARGET_DIR="$target" "$DIGITS" web "$run" \
    --out "$work/$build" --serve --port 0 > "$work/$build.log" &
  server=$!
  until url=$(grep -o 'http://[^ ]*' "$work/$build.log"); do
    kill -0 "$server" 2>/dev/null || { cat "$work/$build.log" >&2; exit 1; }
    sleep 1
  done
  # shellcheck disable=SC2086 # one word per config
  "$PYTHON" bench/train_page.py "${url}train.html" "$EPOCHS" $CONFIGS \
    | sed "s|^{|{\"build\":\"$build\",|"
  kill "$server"
  server=""
done
