"""Inference weights of an acoustic-model checkpoint (RUN/last.pt of train_acoustic.py), in the
reference's names, for `mellow convert matcha`: what train_acoustic.py writes at every checkpoint,
made again from the checkpoint alone (plain torch, no matcha-tts needed).

    python tools/train/export_acoustic.py tools/train/checkpoints/acoustic_last.pt \
        --hparams tools/train/acoustic_hparams.json -o runs/acoustic/weights.safetensors
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--hparams", required=True, help="the run's hparams.json (holds the mel statistics)")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    state = torch.load(args.checkpoint, map_location="cpu")["model"]
    stats = json.load(open(args.hparams))["data_statistics"]
    weights = {k: v.contiguous() for k, v in state.items() if k.startswith(("encoder.", "decoder.estimator."))}
    weights["mel_mean"] = torch.tensor(stats["mel_mean"])
    weights["mel_std"] = torch.tensor(stats["mel_std"])
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_file(weights, args.output + ".tmp")
    os.replace(args.output + ".tmp", args.output)
    print(f"{len(weights)} tensors -> {args.output}")


if __name__ == "__main__":
    main()
