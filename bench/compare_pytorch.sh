#!/usr/bin/env bash
# digits and PyTorch side by side on CPU: the same MLP (ReLU, cross-entropy, SGD 0.1), the same
# data (the bundled sample), at several widths and batch sizes. Each round runs every
# measurement once, taking turns, so a machine's drift (±15 % here) hits all alike; the table
# keeps each one's best round. Not a test: a comparison anyone can rerun. NETWORK=cnn compares
# config/cnn.toml's CNN instead (bench/pytorch_cnn.py; Adam, augmentation off on both sides),
# WIDTHS then being the convolution blocks' channels.
#
#   pip install torch --index-url https://download.pytorch.org/whl/cpu   # PyTorch, CPU build
#   cargo build --release --features flex                               # ndarray and flex
#   bench/compare_pytorch.sh                  # 3 rounds; the table goes to stdout
#   NETWORK=cnn BENCH_SECONDS=3 bench/compare_pytorch.sh 2
#
# Settings (environment): DIGITS (the binary; default target/release/digits, or
# $CARGO_TARGET_DIR/release/digits), BACKENDS ("ndarray flex"), WIDTHS ("16,16 128,128 512,512
# 2048,2048"; for a CNN "8,16 32,64"), BATCHES ("32,128"), BENCH_SECONDS per figure (1), ROUNDS
# (3), CONFIG (the base config, config/mlp.toml, where ReLU and a rate of 0.1 are set on top; for
# a CNN config/cnn.toml), PYTHON (the Python with PyTorch, python3). Each digits figure is
# `digits bench`'s learner_train_sps: the real training path (Burn's Learner, our loop, metrics
# with per-layer gradient norms); PyTorch's is a plain training loop.
#
# CANDIDATES replaces DIGITS and BACKENDS to compare builds in the same alternating run: one
# candidate per line, "column|backend|command", e.g.
#   CANDIDATES='ndarray|ndarray|/tmp/digits-plain
#   ndarray+openblas 1t|ndarray|env OPENBLAS_NUM_THREADS=1 /tmp/digits-openblas'
set -euo pipefail
cd "$(dirname "$0")/.."
DIGITS="${DIGITS:-${CARGO_TARGET_DIR:-target}/release/digits}"
BACKENDS="${BACKENDS:-ndarray flex}"
NETWORK="${NETWORK:-mlp}"
case "$NETWORK" in
  mlp) WIDTHS="${WIDTHS:-16,16 128,128 512,512 2048,2048}"; CONFIG="${CONFIG:-config/mlp.toml}" ;;
  cnn) WIDTHS="${WIDTHS:-8,16 32,64}"; CONFIG="${CONFIG:-config/cnn.toml}" ;;
  *) echo "NETWORK is mlp or cnn, not '$NETWORK'" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-python3}"
BATCHES="${BATCHES:-32,128}"
SECONDS_EACH="${BENCH_SECONDS:-1}"
ROUNDS="${ROUNDS:-${1:-3}}"
if [ -z "${CANDIDATES:-}" ]; then
  CANDIDATES=$(for backend in $BACKENDS; do echo "digits $backend|$backend|$DIGITS"; done)
fi
results=$(mktemp)
trap 'rm -f "$results"' EXIT

for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  for width in $WIDTHS; do
    case "$NETWORK" in
      mlp) sets=(--set "model.hidden=[$width]" --set model.activation=relu
                 --set training.learning_rate=0.1)
           torch=(bench/pytorch_mlp.py --hidden "$width") ;;
      cnn) sets=(--set "model.conv=[$width]" --set 'data.augment={}')
           torch=(bench/pytorch_cnn.py --conv "$width") ;;
    esac
    while IFS='|' read -r column backend command; do
      [ -n "$column" ] || continue
      # shellcheck disable=SC2086 # the command may carry `env VAR=value` words
      $command bench "$CONFIG" --backend "$backend" --json --rounds 1 \
        --seconds "$SECONDS_EACH" --batch-sizes "$BATCHES" --set data.source=sample \
        "${sets[@]}" < /dev/null \
        | sed "s|^{|{\"who\":\"$column\",\"hidden\":\"$width\",|" >> "$results"
    done <<< "$CANDIDATES"
    "$PYTHON" "${torch[@]}" --batch-sizes "$BATCHES" \
      --seconds "$SECONDS_EACH" --rounds 1 2>/dev/null \
      | sed "s/^{/{\"who\":\"pytorch\",\"hidden_text\":\"$width\",/" >> "$results"
  done
done

python3 - "$results" "$NETWORK" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row["who"] == "pytorch":
        key, sps = ("pytorch", row["hidden_text"], row["batch_size"]), row["train_sps"]
        best.setdefault("threads", row["threads"]); best.setdefault("torch", row["framework"])
    else:
        key, sps = (row["who"], row["hidden"], row["batch_size"]), row["learner_train_sps"]
    best[key] = max(best.get(key, 0), sps)
whos = []  # in the order first measured: the order of CANDIDATES
for line in open(sys.argv[1]):
    who = json.loads(line)["who"]
    if who != "pytorch" and who not in whos:
        whos.append(who)
print(f"| {'hidden' if sys.argv[2] == 'mlp' else 'conv'} | batch | {best['torch']} ({best['threads']} threads) | " + " | ".join(whos) + " |")
print("|---|---|---|" + "---|" * len(whos))
for width, batch in sorted({(k[1], k[2]) for k in best if isinstance(k, tuple)},
                           key=lambda wb: (int(wb[0].split(",")[0]), wb[1])):
    torch = best.get(("pytorch", width, batch))
    cells = []
    for who in whos:
        sps = best.get((who, width, batch))
        ratio = f" ({sps / torch:.2f}×)" if sps and torch else ""
        cells.append(f"{sps:,.0f}{ratio}" if sps else "-")
    print(f"| [{width}] | {batch} | {torch:,.0f} | " + " | ".join(cells) + " |")
PY
