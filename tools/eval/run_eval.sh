#!/usr/bin/env bash
# Side-by-side evaluation of Mellow's built-in voice and Piper with the shared harness
# (../shared/eval: RTF per call and warm, WER with whisper-base / tiny.en / pocketsphinx, DNSMOS).
#
#   bash tools/eval/run_eval.sh [SENTENCES] [extra mellow render options...]
#
# EVAL_DIR points at the harness (default: ../shared/eval); run its setup.sh once first.
# ASR picks the recognisers (default: whisper-base,whisper-tiny.en,pocketsphinx); REPEAT the rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
EVAL_DIR="${EVAL_DIR:-$ROOT/../shared/eval}"
EVAL_HOME="${EVAL_HOME:-$HOME/.cache/tts-eval}"
PY="$EVAL_HOME/.venv/bin/python"
S="${1:-$EVAL_DIR/sentences_dev.txt}"
shift || true
MELLOW="$ROOT/target/release/mellow"
[ -x "$MELLOW" ] || cargo build --release -p mellow-cli --manifest-path "$ROOT/Cargo.toml"
NAME="mellow${*:+-$(echo "$*" | tr -c 'a-zA-Z0-9' '_')}"
"$PY" "$EVAL_DIR/evaluate.py" --name "$NAME" --sentences "$S" --repeat "${REPEAT:-1}" \
  --asr "${ASR:-whisper-base,whisper-tiny.en,pocketsphinx}" \
  --cmd "$MELLOW render $* -o {out}" \
  --batch-cmd "$MELLOW render $* --input {list} --out-dir {outdir}" \
  --model-files "$MELLOW"
