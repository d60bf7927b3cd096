"""Does `--pitch N` move the fundamental by N semitones and leave the formants where they were?

Each sentence is rendered at 0 and at each shift with the same seed; Praat measures F0 (floor 40,
ceiling 600 Hz) frame by frame against the unshifted render (frames voiced in both; the median of
12·log2 of the ratio per sentence, then the median over sentences), and F1 and F2 (Burg, at most
5 formants below 5 000 Hz, over the voiced frames) as a ratio of the unshifted render's medians.
When the lengths differ (a tape-speed shift keeps them within a fraction of a percent), the
frames are paired by relative time.

    python tools/eval/pitch_shift.py --sentences ../shared/eval/sentences_dev.txt \
        [--mellow target/release/mellow] [--shifts -12 -7 -4 4 7 12] [-- extra render options]
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import parselmouth

from sentence_file import read_sentences


def f0_track(path):
    return parselmouth.Sound(path).to_pitch_ac(time_step=0.01, pitch_floor=40, pitch_ceiling=600).selected_array["frequency"]


def formants(path, f0):
    """Median F1 and F2 over the frames voiced in `f0` (10 ms frames)."""
    snd = parselmouth.Sound(path)
    burg = snd.to_formant_burg(time_step=0.01, max_number_of_formants=5, maximum_formant=5000)
    f1, f2 = [], []
    for i, f in enumerate(f0):
        if f <= 0:
            continue
        t = burg.xmin + 0.01 * i + 0.005
        a, b = burg.get_value_at_time(1, t), burg.get_value_at_time(2, t)
        if np.isfinite(a) and np.isfinite(b):
            f1.append(a)
            f2.append(b)
    return (float(np.median(f1)), float(np.median(f2))) if len(f1) >= 10 else (float("nan"), float("nan"))


def paired_shift(base, shifted):
    """Median semitone shift over frames voiced in both, pairing frames by relative time."""
    idx = np.round(np.arange(len(shifted)) * (len(base) - 1) / max(len(shifted) - 1, 1)).astype(int)
    a, b = base[idx], shifted
    both = (a > 0) & (b > 0)
    return float(np.median(12 * np.log2(b[both] / a[both]))) if both.sum() >= 10 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--shifts", type=float, nargs="+", default=[-12, -7, -4, 4, 7, 12])
    ap.add_argument("--limit", type=int, default=12, help="sentences used")
    ap.add_argument("extra", nargs="*", help="more `mellow render` options (after --)")
    args = ap.parse_args()
    sentences = read_sentences(args.sentences)[: args.limit]
    tmp = tempfile.mkdtemp()

    def render(i, text, shift):
        out = os.path.join(tmp, f"{i:03d}_{shift:+g}.wav")
        subprocess.run([args.mellow, "render", text, "-o", out, "--pitch", f"{shift:g}", *args.extra],
                       check=True, capture_output=True)
        return out

    base = {}
    for i, s in enumerate(sentences):
        path = render(i, s, 0)
        f0 = f0_track(path)
        base[i] = (f0, formants(path, f0))
    print(f"{'shift':>6} {'measured':>9} {'error':>6} {'F1 ratio':>9} {'F2 ratio':>9}")
    for shift in args.shifts:
        measured, f1r, f2r = [], [], []
        for i, s in enumerate(sentences):
            path = render(i, s, shift)
            f0 = f0_track(path)
            measured.append(paired_shift(base[i][0], f0))
            f1, f2 = formants(path, f0)
            f1r.append(f1 / base[i][1][0])
            f2r.append(f2 / base[i][1][1])
        m = float(np.nanmedian(measured))
        print(f"{shift:+6g} {m:+9.2f} {abs(m - shift):6.2f} {np.nanmedian(f1r):9.3f} {np.nanmedian(f2r):9.3f}", flush=True)


if __name__ == "__main__":
    main()
