"""Does a vocoder play the pitch a mel holds? Real mels of speech re-synthesised at other pitches
(tools/corpus/augment_pitch.py) go through `mellow render --mel ... [--vocoder V]`; Praat measures
the F0 of each result against the unshifted utterance's, frame by frame (floor 40, ceiling 600 Hz).
A vocoder that ignores the mel's harmonics plays every shift at its own favourite pitch, and no
acoustic model's pitch control can be heard through it.

    python tools/eval/vocoder_follows_pitch.py --corpus corpus --shifted corpus-shifted \
        [--vocoder FILE|phase] [--utterances 5] [--mellow target/release/mellow]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import parselmouth
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
import train_acoustic as base  # noqa: E402
from matcha.utils.audio import mel_spectrogram  # noqa: E402


def track(path):
    pitch = parselmouth.Sound(path).to_pitch_ac(time_step=0.01, pitch_floor=40, pitch_ceiling=600)
    return pitch.selected_array["frequency"]


def vocoded(wav, mellow, vocoder, tmp):
    audio = torch.from_numpy(base.read_wav(wav))
    mel = mel_spectrogram(audio.unsqueeze(0), 1024, 80, 22050, 256, 1024, 0, 8000, center=False)[0]
    npy, out = os.path.join(tmp, "m.npy"), os.path.join(tmp, "v.wav")
    np.save(npy, mel.numpy().astype(np.float32))
    cmd = [mellow, "render", "--mel", npy, "-o", out] + (["--vocoder", vocoder] if vocoder else [])
    subprocess.run(cmd, check=True, capture_output=True)
    return track(out)


def shift_st(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    both = (a > 0) & (b > 0)
    return float(np.median(12 * np.log2(b[both] / a[both]))) if both.sum() >= 10 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--shifted", required=True)
    ap.add_argument("--vocoder", help="a vocoder file or `phase` (default: the built-in voice's)")
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--utterances", type=int, default=5)
    args = ap.parse_args()
    names = sorted(f for f in os.listdir(os.path.join(args.shifted, "wavs")) if f.endswith(".wav"))
    sources = sorted({n.split("_p")[0] for n in names})[: args.utterances]
    shifts = sorted({int(n.split("_p")[1][:-4]) for n in names})
    tmp = tempfile.mkdtemp()
    rows = {s: ([], []) for s in shifts}
    for src in sources:
        reference = vocoded(os.path.join(args.corpus, "wavs", src + ".wav"), args.mellow, args.vocoder, tmp)
        for s in shifts:
            path = os.path.join(args.shifted, "wavs", f"{src}_p{s:+d}.wav")
            if os.path.exists(path):
                rows[s][0].append(shift_st(track(os.path.join(args.corpus, "wavs", src + ".wav")), track(path)))
                rows[s][1].append(shift_st(reference, vocoded(path, args.mellow, args.vocoder, tmp)))
    print(f"vocoder: {args.vocoder or 'built-in'}; {len(sources)} utterances; median frame-paired shift (st)")
    for s in shifts:
        given, played = rows[s]
        print(f"asked {s:+3d}: in the audio {np.nanmedian(given):+6.2f}, played by the vocoder {np.nanmedian(played):+6.2f}")


if __name__ == "__main__":
    main()
