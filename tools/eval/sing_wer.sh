#!/usr/bin/env bash
# Intelligibility of singing with the shared harness: the dev sentences sung one syllable per
# quarter note at 100 bpm on a scale, in the voice's own range (A2-E3) and at its top (C3-G3),
# three seeds each (a word is about one point of WER on these sentences), beside the same
# sentences spoken. whisper-base.
#
#   bash tools/eval/sing_wer.sh [SENTENCES]
#
# EVAL_DIR points at the harness (default: ../shared/eval); run its setup.sh once first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
EVAL_DIR="${EVAL_DIR:-$ROOT/../shared/eval}"
EVAL_HOME="${EVAL_HOME:-$HOME/.cache/tts-eval}"
PY="$EVAL_HOME/.venv/bin/python"
S="${1:-$EVAL_DIR/sentences_dev.txt}"
MELLOW="$ROOT/target/release/mellow"
[ -x "$MELLOW" ] || cargo build --release -p mellow-cli --manifest-path "$ROOT/Cargo.toml"
wer() {  # NAME COMMAND
  "$PY" "$EVAL_DIR/evaluate.py" --name "$1" --sentences "$S" --asr whisper-base --no-mos \
    --cmd "$2" | tail -1 | grep -oP 'WER=\K[0-9.]+'
}
echo "spoken: WER $(wer spoken "$MELLOW render -o {out}")"
for tune in "A2 B2 C3 D3 E3 D3 C3 B2" "C3 D3 E3 F3 G3 F3 E3 D3"; do
  results=()
  for seed in 0 1 2; do
    results+=("$(wer "sung-${tune// /}-$seed" \
      "$MELLOW sing --seed $seed --lyrics {text} --tune '$tune' --bpm 100 -o {out}")")
  done
  mean=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; print(f'{sum(v)/len(v):.4f}')" "${results[@]}")
  echo "sung on \"$tune\": WER ${results[*]} (mean $mean)"
done
