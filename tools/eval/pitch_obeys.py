"""Does an F0-conditioned acoustic model (tools/train/train_pitched.py) speak the pitch it is given?

For the last corpus utterances (their phonemes and teacher durations), the model decodes a mel
under several pitch curves: the utterance's own F0 shifted by -7, -4, 0, +4, +7 semitones, a
monotone at 120 Hz and a glide from 100 to 220 Hz. A vocoder renders each mel (`mellow render
--mel ... --vocoder FILE`; `--vocoder built-in`: the built-in harmonic vocoder, which reads the F0
from the mel), Praat's autocorrelation tracker (ceiling 400 Hz, floor `--floor`, 60 Hz by default)
measures the F0 of the result, and the script prints the median frame-paired error in semitones
against the asked curve (frames voiced in both), and for the shifts the median measured shift
against the unshifted render.

    python tools/eval/pitch_obeys.py --run runs/pitched --corpus corpus --vocoder built-in \
        [--utterances 5] [--steps 4] [--floor 40] [--mellow target/release/mellow]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import parselmouth
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
import train_acoustic as base  # noqa: E402
from train_pitched import PitchedMatcha, attach_pitch  # noqa: E402
from matcha.utils.model import fix_len_compatibility, generate_path, sequence_mask  # noqa: E402

HOP, RATE = 256, 22050


def curves(pitch, f0_stats, frames):
    """Named pitch features [2, T] to ask for."""
    mean, std = f0_stats["log_f0_mean"], f0_stats["log_f0_std"]
    lf0, voiced = pitch[0].clone(), pitch[1].clone()
    out = {}
    for s in (-7, -4, 0, 4, 7):
        shifted = torch.where(voiced > 0, lf0 + s * math.log(2) / 12 / std, lf0)
        out[f"shift {s:+d}"] = torch.stack([shifted, voiced])
    mono = torch.full_like(lf0, (math.log(120.0) - mean) / std) * voiced
    out["monotone 120 Hz"] = torch.stack([mono, voiced])
    hz = torch.from_numpy(np.geomspace(100.0, 220.0, frames)).float()
    out["glide 100-220 Hz"] = torch.stack([((torch.log(hz) - mean) / std) * voiced, voiced])
    return out


def asked_hz(feat, f0_stats):
    lf0, voiced = feat[0].numpy(), feat[1].numpy()
    return np.where(voiced > 0, np.exp(lf0 * f0_stats["log_f0_std"] + f0_stats["log_f0_mean"]), 0.0)


def measured_hz(wav, frames, floor=60.0):
    snd = parselmouth.Sound(wav)
    pitch = snd.to_pitch_ac(time_step=HOP / RATE, pitch_floor=floor, pitch_ceiling=400)
    times = (np.arange(frames) * HOP + HOP / 2) / RATE
    return np.nan_to_num(np.array([pitch.get_value_at_time(t) for t in times]), nan=0.0)


def semitones(a, b):
    both = (a > 0) & (b > 0)
    return 12 * np.log2(b[both] / a[both])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--vocoder", required=True,
                    help="a vocoder file that plays the pitch its mel holds, or `built-in` for the built-in "
                         "voice's harmonic vocoder (its F0 read from the mel)")
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--utterances", type=int, default=5)
    ap.add_argument("--floor", type=float, default=60.0,
                    help="Praat's pitch floor in Hz (seven semitones below a 89 Hz voice is 59 Hz)")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--temperature", type=float, default=0.667)
    args = ap.parse_args()

    torch.set_num_threads(1)
    data = torch.load(os.path.join(args.run, "features.pt"))
    items, stats = data["items"], data["stats"]
    items, f0_stats = attach_pitch(items, args.corpus)
    with open(os.path.join(args.run, "pitch.json")) as f:
        described = json.load(f)
    features = described.get("features", "plain")
    model = PitchedMatcha(base.model_config(256), stats, features, f0_stats,
                          comb_gain=described.get("comb_gain", 1.0))
    state = torch.load(os.path.join(args.run, "last.pt"), map_location="cpu")
    model.load_state_dict(state["model"])
    model.eval()
    m = model.matcha
    # The last utterances of the corpus, moderately long, as a fixed test set.
    chosen = [it for it in items if 150 <= it["mel"].shape[1] <= 500][-args.utterances:]
    results = {}
    tmp = tempfile.mkdtemp()
    for n, it in enumerate(chosen):
        x = it["ids"].unsqueeze(0)
        x_len = torch.tensor([x.shape[1]])
        frames = it["mel"].shape[1]
        padded = fix_len_compatibility(frames)  # the U-Net halves the length once
        with torch.no_grad():
            mu_x, _, x_mask = m.encoder(x, x_len, None)
            y_mask = sequence_mask(torch.tensor([frames]), padded).unsqueeze(1).to(x_mask)
            attn = generate_path(it["durations"].float().unsqueeze(0), (x_mask.unsqueeze(-1) * y_mask.unsqueeze(2)).squeeze(1))
            mu_y = torch.matmul(attn.transpose(1, 2), mu_x.transpose(1, 2)).transpose(1, 2)
            measured = {}
            for name, feat in curves(it["pitch"], f0_stats, frames).items():
                torch.manual_seed(0)
                feat_padded = torch.nn.functional.pad(feat, (0, padded - frames)).unsqueeze(0)
                mu = mu_y + model.pitch_condition(feat_padded) * y_mask
                mel = m.decoder(mu, y_mask, args.steps, temperature=args.temperature)
                mel = mel[0, :, :frames] * stats["mel_std"] + stats["mel_mean"]
                npy = os.path.join(tmp, f"{n}.npy")
                np.save(npy, mel.numpy().astype(np.float32))
                wav = os.path.join(tmp, f"{n}.wav")
                vocoder = [] if args.vocoder == "built-in" else ["--vocoder", args.vocoder]
                subprocess.run([args.mellow, "render", "--mel", npy, *vocoder, "-o", wav], check=True)
                got = measured_hz(wav, frames, args.floor)
                measured[name] = got
                err = semitones(asked_hz(feat, f0_stats), got)
                results.setdefault(name, []).append(float(np.median(np.abs(err))) if len(err) else float("nan"))
            for s in (-7, -4, 4, 7):
                shift = semitones(measured["shift +0"], measured[f"shift {s:+d}"])
                results.setdefault(f"measured shift for {s:+d}", []).append(float(np.median(shift)) if len(shift) else float("nan"))
    print(json.dumps({"step": state["step"], "steps": args.steps, "utterances": len(chosen)}))
    for name, values in results.items():
        label = "median |error| st" if name.startswith(("shift", "mono", "glide")) else "median st"
        print(f"{name:24} {label}: {np.nanmedian(values):+.2f}  (per utterance {', '.join(f'{v:+.2f}' for v in values)})")


if __name__ == "__main__":
    main()
