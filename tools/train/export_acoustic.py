"""Inference weights of an acoustic-model checkpoint, in the reference's names, for `mellow convert
matcha`: a plain one (RUN/last.pt of train_acoustic.py, with `--hparams` for the mel statistics)
or an F0-conditioned one (train_pitched.py's last.pt or pitched_weights.pt, which carry their own
statistics). Plain torch, no matcha-tts needed.

    python tools/train/export_acoustic.py tools/train/checkpoints/acoustic_last.pt \
        --hparams tools/train/acoustic_hparams.json -o runs/acoustic/weights.safetensors
    python tools/train/export_acoustic.py tools/train/checkpoints/pitched_last.pt \
        -o runs/pitched/weights.safetensors

An F0-conditioned model adds, under `pitch.`: the projection of (log-F0, voiced, harmonic comb)
into the prior (`pitch.proj`), the frame-level pitch predictor (`pitch.predictor`), the comb's
mel filterbank (`pitch.comb_basis`), and as one-element tensors the log-F0 statistics, the
comb's bin spacing in Hz, gain and sharpness (from the
checkpoint, or for checkpoints written before it kept them, the run's pitch.json beside it:
RUN/pitch.json or CHECKPOINT.json).
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

# The comb's sharpness when a checkpoint does not say (train_pitched.CombMel's default).
COMB_SHARPNESS = 8.0


def plain_weights(state, hparams):
    if hparams is None:
        raise SystemExit("a plain checkpoint needs --hparams (the run's hparams.json, with the mel statistics)")
    stats = json.load(open(hparams))["data_statistics"]
    weights = {k: v for k, v in state.items() if k.startswith(("encoder.", "decoder.estimator."))}
    weights["mel_mean"] = torch.tensor(stats["mel_mean"])
    weights["mel_std"] = torch.tensor(stats["mel_std"])
    return weights


def run_settings(checkpoint_path, checkpoint):
    """The pitch statistics and comb settings of a pitched checkpoint."""
    if "comb" in checkpoint:
        return checkpoint["pitch"], checkpoint["comb"]
    here = os.path.dirname(os.path.abspath(checkpoint_path))
    for path in (os.path.splitext(checkpoint_path)[0] + ".json", os.path.join(here, "pitch.json")):
        if os.path.exists(path):
            run = json.load(open(path))
            return run["f0"], {"gain": run.get("comb_gain", 1.0), "sharpness": COMB_SHARPNESS,
                               "features": run.get("features", "plain")}
    raise SystemExit(f"{checkpoint_path}: no comb settings in it and no pitch.json beside it")


def pitched_weights(state, checkpoint_path, checkpoint):
    f0, comb = run_settings(checkpoint_path, checkpoint)
    weights = {}
    for k, v in state.items():
        if k.startswith(("matcha.encoder.", "matcha.decoder.estimator.")) or k in ("matcha.mel_mean", "matcha.mel_std"):
            weights[k[len("matcha."):]] = v
        elif k.startswith("pitch_proj."):
            weights["pitch.proj." + k[len("pitch_proj."):]] = v
        elif k.startswith("pitch_predictor."):
            weights["pitch.predictor." + k[len("pitch_predictor."):]] = v
    if comb.get("features", "comb") != "comb" and weights["pitch.proj.weight"].shape[1] != 2:
        raise SystemExit("the pitch projection's width does not match its features")
    scalar = lambda x: torch.tensor([float(x)])  # noqa: E731
    weights["pitch.log_f0_mean"] = scalar(f0["log_f0_mean"])
    weights["pitch.log_f0_std"] = scalar(f0["log_f0_std"])
    if weights["pitch.proj.weight"].shape[1] > 2:
        # The comb's mel filterbank and bin spacing as the model was trained with them.
        weights["pitch.comb_basis"] = state["comb.basis"]
        weights["pitch.comb_bin_hz"] = scalar(state["comb.freqs"][1])
        weights["pitch.comb_gain"] = scalar(comb["gain"])
        weights["pitch.comb_sharpness"] = scalar(comb["sharpness"])
    return weights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--hparams", help="a plain run's hparams.json (holds the mel statistics)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    state = checkpoint["model"]
    if "pitch_proj.weight" in state:
        weights = pitched_weights(state, args.checkpoint, checkpoint)
    else:
        weights = plain_weights(state, args.hparams)
    weights = {k: v.float().contiguous() for k, v in weights.items()}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_file(weights, args.output + ".tmp")
    os.replace(args.output + ".tmp", args.output)
    print(f"{len(weights)} tensors -> {args.output}")


if __name__ == "__main__":
    main()
