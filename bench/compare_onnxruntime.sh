#!/usr/bin/env bash
# Inference, digits against ONNX Runtime on digits' own export: test images per second
# (forward pass and argmax) at batch 1 and 1024, for the seed network and [512,512], on CPU.
# digits' figure is `digits bench`'s infer_sps (the path `eval` and `predict` take); ONNX
# Runtime runs the `digits export --format onnx` of the same network with 2 threads (the
# cores here). Each round measures everything once, taking turns; the table keeps each
# one's best round. Not a test: a comparison anyone can rerun.
#
#   pip install -r interop/requirements.txt            # onnxruntime, numpy
#   cargo build --release --features flex              # ndarray and flex
#   bench/compare_onnxruntime.sh                       # 3 rounds; the table goes to stdout
#
# Settings (environment): DIGITS (the binary; default target/release/digits, or
# $CARGO_TARGET_DIR/release/digits), PYTHON (python3), BACKENDS ("ndarray flex"), WIDTHS
# ("16,16 512,512"), BATCHES ("1,1024"), BENCH_SECONDS per figure (1), ROUNDS (3),
# ORT_THREADS (2).
#
# CANDIDATES replaces DIGITS and BACKENDS to compare builds or settings in the same alternating
# run: one candidate per line, "column|backend|command", e.g. digits' kernels against Burn's
# operations in one binary:
#   CANDIDATES='flex|flex|target/release/digits
#   flex, Burn'"'"'s ops|flex|env DIGITS_KERNELS=burn target/release/digits'
set -euo pipefail
cd "$(dirname "$0")/.."
DIGITS="${DIGITS:-${CARGO_TARGET_DIR:-target}/release/digits}"
PYTHON="${PYTHON:-python3}"
BACKENDS="${BACKENDS:-ndarray flex}"
WIDTHS="${WIDTHS:-16,16 512,512}"
BATCHES="${BATCHES:-1,1024}"
SECONDS_EACH="${BENCH_SECONDS:-1}"
ROUNDS="${ROUNDS:-${1:-3}}"
THREADS="${ORT_THREADS:-2}"
if [ -z "${CANDIDATES:-}" ]; then
  CANDIDATES=$(for backend in $BACKENDS; do echo "digits $backend|$backend|$DIGITS"; done)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One exported network per width (its weights do not change the speed: a short run).
for width in $WIDTHS; do
  "$DIGITS" train config/mlp.toml --dashboard off --out "$work/$width" --set data.source=sample \
    --set "model.hidden=[$width]" --set training.epochs=1 --set data.train_limit=1000 >/dev/null
  "$DIGITS" export "$work/$width" --format onnx >/dev/null
done

results="$work/results"
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for width in $WIDTHS; do
    while IFS='|' read -r column backend command; do
      [ -n "$column" ] || continue
      # shellcheck disable=SC2086 # the command may carry `env VAR=value` words
      $command bench config/mlp.toml --backend "$backend" --json --rounds 1 \
        --seconds "$SECONDS_EACH" --batch-sizes "$BATCHES" --set data.source=sample \
        --set "model.hidden=[$width]" < /dev/null \
        | sed "s|^{|{\"who\":\"$column\",\"hidden\":\"$width\",|" >> "$results"
    done <<< "$CANDIDATES"
    "$PYTHON" bench/onnxruntime_infer.py "$work/$width/model.onnx" --batch-sizes "$BATCHES" \
      --seconds "$SECONDS_EACH" --rounds 1 --threads "$THREADS" \
      | sed "s|^{|{\"who\":\"onnxruntime\",\"hidden\":\"$width\",|" >> "$results"
  done
done

"$PYTHON" - "$results" "$THREADS" <<'PY'
import json, sys
best, whos = {}, []
for line in open(sys.argv[1]):
    row = json.loads(line)
    key = (row["who"], row["hidden"], row["batch_size"])
    best[key] = max(best.get(key, 0), row["infer_sps"])
    if row["who"] != "onnxruntime" and row["who"] not in whos:
        whos.append(row["who"])
import onnxruntime
print(f"| hidden | batch | ONNX Runtime {onnxruntime.__version__} ({sys.argv[2]} threads) | "
      + " | ".join(whos) + " |")
print("|---|---|---|" + "---|" * len(whos))
for width, batch in sorted({(k[1], k[2]) for k in best}, key=lambda wb: (int(wb[0].split(",")[0]), wb[1])):
    ort = best.get(("onnxruntime", width, batch))
    cells = []
    for who in whos:
        sps = best.get((who, width, batch))
        cells.append(f"{sps:,.0f} ({sps / ort:.2f}×)" if sps and ort else "-")
    print(f"| [{width}] | {batch} | {ort:,.0f} | " + " | ".join(cells) + " |")
PY
