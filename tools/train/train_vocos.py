"""Train a small Vocos vocoder (ConvNeXt backbone + ISTFT head, arXiv 2306.00814) on two CPU cores,
by regression alone: no discriminator, which would train far too slowly here. Two stages:

1. From the teacher corpus (tools/corpus/make_corpus.py): mel → the teacher's audio. Losses: the
   head's complex spectrum against the target's at the head's own frames (power-law compressed,
   phase included), the output's log-magnitudes at three STFT resolutions, and its log-mel.
2. `--init STAGE1/last.pt --predicted-mels P --vocoder-targets V`: from the acoustic model's own
   mels (tools/train/predicted_mels.py) to what the teacher's GAN-trained HiFi-GAN decoder makes of
   those same mels (tools/train/vocoder_targets.py). The target is then a function of the input, so
   regression need not average over what the mel leaves open (the teacher's audio given the
   acoustic model's mel): the student learns the teacher vocoder's phase and sharpness, on the mels
   it will be given at run time.

    python tools/train/train_vocos.py --corpus corpus --run runs/vocos --max-steps 9593 --schedule-steps 16000 \
        --threads 1
    python tools/train/train_vocos.py --corpus corpus --run runs/vocos-distilled --init runs/vocos/last.pt \
        --predicted-mels runs/predicted-mels --vocoder-targets runs/vocoder-targets --lr 4e-4 --max-steps 12000

Each stage resumes from RUN/last.pt when it exists. Writes RUN/losses.csv, RUN/losses.png and, at
every checkpoint, RUN/vocos.safetensors in the reference's names (`backbone.*`, `head.out.*`), with
the mel normalisation folded into the first layer so that it takes the raw log-mel;
`mellow convert vocos RUN/vocos.safetensors -o vocoder.safetensors` makes the Mellow vocoder.
"""
import argparse
import csv
import json
import os
import random
import time
import wave

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from loss_plot import plot
from mel_filters import mel_filters

SEED = 4242
RATE, N_FFT, HOP, N_MELS, F_MAX = 22050, 1024, 256, 80, 8000
SEGMENT_FRAMES = 48
RESOLUTIONS = [(512, 128), (1024, 256), (2048, 512)]


def read_wav(path):
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0


class LogMel(torch.nn.Module):
    """Matcha-TTS's front end (the one the acoustic model and the engine use): reflect padding of
    (n_fft - hop) / 2, uncentred STFT, magnitude, Slaney mel filters, natural log clamped at 1e-5."""

    def __init__(self):
        super().__init__()
        basis = mel_filters(rate=RATE, n_fft=N_FFT, n_mels=N_MELS, fmax=F_MAX)
        self.register_buffer("basis", torch.from_numpy(basis).float())
        self.register_buffer("window", torch.hann_window(N_FFT))

    def forward(self, audio):  # [B, S] -> [B, 80, S / hop]
        pad = (N_FFT - HOP) // 2
        y = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(y, N_FFT, HOP, N_FFT, self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)
        return torch.log(torch.clamp(self.basis @ mag, min=1e-5))


class ConvNeXtBlock(torch.nn.Module):
    def __init__(self, dim, intermediate, layer_scale):
        super().__init__()
        self.dwconv = torch.nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = torch.nn.Linear(dim, intermediate)
        self.pwconv2 = torch.nn.Linear(intermediate, dim)
        self.gamma = torch.nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x):  # [B, C, T]
        h = self.dwconv(x).transpose(1, 2)
        h = self.pwconv2(F.gelu(self.pwconv1(self.norm(h)))) * self.gamma
        return x + h.transpose(1, 2)


class Vocos(torch.nn.Module):
    """`vocos.models.VocosBackbone` + `vocos.heads.ISTFTHead(padding="same")`, same parameter names."""

    def __init__(self, dim, intermediate, layers):
        super().__init__()
        self.backbone = torch.nn.Module()
        self.backbone.embed = torch.nn.Conv1d(N_MELS, dim, 7, padding=3)
        self.backbone.norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.backbone.convnext = torch.nn.ModuleList(
            [ConvNeXtBlock(dim, intermediate, 1.0 / layers) for _ in range(layers)])
        self.backbone.final_layer_norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.head = torch.nn.Module()
        self.head.out = torch.nn.Linear(dim, N_FFT + 2)
        self.register_buffer("window", torch.hann_window(N_FFT))

    def spectrum(self, mel):  # [B, 80, T] (normalised) -> complex [B, n_fft/2+1, T]
        x = self.backbone.embed(mel)
        x = self.backbone.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.backbone.convnext:
            x = block(x)
        x = self.head.out(self.backbone.final_layer_norm(x.transpose(1, 2))).transpose(1, 2)
        log_mag, phase = x.chunk(2, dim=1)
        mag = torch.clamp(torch.exp(log_mag), max=1e2)
        return torch.polar(mag, phase)

    def istft(self, spec):  # "same" padding: frame t covers samples [t*hop - pad, t*hop - pad + n_fft)
        frames = torch.fft.irfft(spec, N_FFT, dim=1, norm="backward") * self.window[None, :, None]
        t = spec.shape[-1]
        length = (t - 1) * HOP + N_FFT
        y = F.fold(frames, (1, length), (1, N_FFT), stride=(1, HOP))[:, 0, 0]
        env = F.fold(self.window.square().expand(1, t, -1).transpose(1, 2), (1, length), (1, N_FFT),
                     stride=(1, HOP)).squeeze()
        pad = (N_FFT - HOP) // 2
        return y[:, pad:-pad] / env[pad:-pad].clamp(min=1e-11)


def frame_spectrum(audio, window):
    """The target's spectrum at the head's frames (the inverse of `Vocos.istft`'s framing)."""
    pad = (N_FFT - HOP) // 2
    y = F.pad(audio.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    return torch.stft(y, N_FFT, HOP, N_FFT, window, center=False, return_complex=True)


def compressed(spec):
    return spec * (spec.abs() + 1e-4).pow(-0.7)


def log_magnitudes(audio, n_fft, hop):
    spec = torch.stft(audio, n_fft, hop, n_fft, torch.hann_window(n_fft, device=audio.device), return_complex=True)
    return torch.log(torch.clamp(spec.abs(), min=1e-5)), spec.abs()


def losses(model, logmel, given, audio, mel, stats):
    """`given`: the input mel; `audio` and its log-mel `mel`: the target."""
    spec = model.spectrum((given - stats["mel_mean"]) / stats["mel_std"])
    out = model.istft(spec)
    target_spec = frame_spectrum(audio, model.window)
    # Distance of power-law compressed spectra (|S|^0.3, phase kept) on the head's own frames, so
    # that loud harmonics do not drown the rest: this is what teaches the phase.
    complex_loss = (compressed(spec) - compressed(target_spec)).abs().mean()
    stft_loss = 0.0
    for n_fft, hop in RESOLUTIONS:
        lp, mp = log_magnitudes(out, n_fft, hop)
        lt, mt = log_magnitudes(audio, n_fft, hop)
        stft_loss = stft_loss + F.l1_loss(lp, lt) + torch.norm(mt - mp) / torch.norm(mt).clamp(min=1e-5)
    mel_loss = F.l1_loss(logmel(out), mel)
    return complex_loss, stft_loss / len(RESOLUTIONS), mel_loss


def prepare(corpus, cache, logmel):
    """Teacher audio and its log-mel for every utterance, cached as one file."""
    if os.path.exists(cache):
        return torch.load(cache)
    with open(os.path.join(corpus, "alignments.jsonl")) as f:
        ids = sorted(json.loads(line)["id"] for line in f)
    items = []
    with torch.no_grad():
        for utt in ids:
            audio = torch.from_numpy(read_wav(os.path.join(corpus, "wavs", utt + ".wav")))
            frames = len(audio) // HOP
            if frames <= SEGMENT_FRAMES:
                continue
            audio = audio[: frames * HOP]
            items.append({"id": utt, "audio": audio, "mel": logmel(audio.unsqueeze(0))[0]})
    all_mel = torch.cat([it["mel"] for it in items], dim=1)
    data = {"items": items, "stats": {"mel_mean": all_mel.mean().item(), "mel_std": all_mel.std().item()}}
    torch.save(data, cache)
    return data


def load_vocoder_targets(items, mels, targets, logmel):
    """Inputs from the acoustic model (tools/train/predicted_mels.py) and, as targets, a teacher
    vocoder's audio for exactly those mels (tools/train/vocoder_targets.py): the items that have
    both, with `given` the input and `audio`/`mel` the target."""
    kept = []
    with torch.no_grad():
        for it in items:
            mel_path = os.path.join(mels, it["id"] + ".npy")
            wav_path = os.path.join(targets, it["id"] + ".wav")
            if not (os.path.exists(mel_path) and os.path.exists(wav_path)):
                continue
            given = torch.from_numpy(np.load(mel_path)).float()
            audio = torch.from_numpy(read_wav(wav_path))
            if given.shape != it["mel"].shape or len(audio) != given.shape[1] * HOP:
                continue
            kept.append({"id": it["id"], "given": given, "audio": audio, "mel": logmel(audio.unsqueeze(0))[0]})
    return kept


def batch(items, size, rng, device):
    """Segments: input mels, target audio, target log-mels."""
    given, audios, mels = [], [], []
    for _ in range(size):
        it = items[rng.randrange(len(items))]
        start = rng.randrange(it["mel"].shape[1] - SEGMENT_FRAMES)
        given.append(it.get("given", it["mel"])[:, start:start + SEGMENT_FRAMES])
        mels.append(it["mel"][:, start:start + SEGMENT_FRAMES])
        audios.append(it["audio"][start * HOP:(start + SEGMENT_FRAMES) * HOP])
    return torch.stack(given).to(device), torch.stack(audios).to(device), torch.stack(mels).to(device)


def export(model, run, stats, hp):
    """Inference weights in the reference's names; the normalisation folded into `backbone.embed`."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k != "window"}
    w, b = state["backbone.embed.weight"], state["backbone.embed.bias"]
    state["backbone.embed.weight"] = w / stats["mel_std"]
    state["backbone.embed.bias"] = b - (w * (stats["mel_mean"] / stats["mel_std"])).sum(dim=(1, 2))
    tmp = os.path.join(run, "vocos.safetensors.tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp)
    os.replace(tmp, os.path.join(run, "vocos.safetensors"))
    with open(os.path.join(run, "hparams.json"), "w") as f:
        json.dump({**hp, "data_statistics": stats}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=768)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--schedule-steps", type=int, default=None,
                    help="steps of the learning-rate schedule (default: --max-steps)")
    ap.add_argument("--init", default=None, help="start from this checkpoint's weights (stage 1's last.pt)")
    ap.add_argument("--predicted-mels", default=None,
                    help="inputs: the acoustic model's mels (tools/train/predicted_mels.py)")
    ap.add_argument("--vocoder-targets", default=None,
                    help="targets: a teacher vocoder's audio for those mels (tools/train/vocoder_targets.py)")
    ap.add_argument("--checkpoint-minutes", type=float, default=5)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    logmel = LogMel().to(args.device)
    data = prepare(args.corpus, os.path.join(args.run, "features.pt"), logmel.cpu())
    logmel = logmel.to(args.device)
    items, stats = data["items"], data["stats"]
    if args.predicted_mels or args.vocoder_targets:
        if not (args.predicted_mels and args.vocoder_targets):
            raise SystemExit("--predicted-mels and --vocoder-targets go together")
        items = load_vocoder_targets(items, args.predicted_mels, args.vocoder_targets, logmel.cpu())
        logmel = logmel.to(args.device)
        print(f"{len(items)} acoustic-model mels with their teacher-vocoder audio")
    held_out, train = items[:16], items[16:]
    hp = {"dim": args.dim, "intermediate_dim": args.intermediate, "num_layers": args.layers,
          "n_fft": N_FFT, "hop_length": HOP, "padding": "same", "sample_rate": RATE}
    torch.manual_seed(SEED)
    model = Vocos(args.dim, args.intermediate, args.layers).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99))
    step = 0
    last = os.path.join(args.run, "last.pt")
    if os.path.exists(last):
        state = torch.load(last, map_location=args.device, weights_only=False)  # our own checkpoint
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        print(f"resumed at step {step}")
    elif args.init:
        model.load_state_dict(torch.load(args.init, map_location=args.device, weights_only=False)["model"])
        print(f"weights from {args.init}")
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(train)} utterances, {params / 1e6:.2f} M parameters, stats {stats}", flush=True)

    log_path = os.path.join(args.run, "losses.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "complex", "stft", "mel", "held_out_mel", "seconds"])

    def held_out_mel():
        model.eval()
        with torch.no_grad():
            vals = []
            for it in held_out:
                mel = it["mel"].unsqueeze(0).to(args.device)
                given = it.get("given", it["mel"]).unsqueeze(0).to(args.device)
                out = model.istft(model.spectrum((given - stats["mel_mean"]) / stats["mel_std"]))
                vals.append(F.l1_loss(logmel(out), mel).item())
        model.train()
        return float(np.mean(vals))

    def checkpoint():
        tmp = last + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, tmp)
        os.replace(tmp, last)
        export(model, args.run, stats, hp)
        log.flush()
        plot(args.run, ("complex", "stft", "mel", "held_out_mel"), raw=("held_out_mel",))
        print(f"checkpoint at step {step}", flush=True)

    start = last_ckpt = time.time()
    held = float("nan")
    model.train()
    while step < args.max_steps and (time.time() - start) / 60 < args.max_minutes:
        # The batch depends only on the step, so a resumed run sees what an unbroken one would.
        rng = random.Random(SEED * 1_000_003 + step)
        given, audio, mel = batch(train, args.batch_size, rng, args.device)
        t0 = time.time()
        complex_loss, stft_loss, mel_loss = losses(model, logmel, given, audio, mel, stats)
        loss = complex_loss + stft_loss + 15.0 * mel_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        # Cosine decay over the schedule's steps (or 20 000 when the run is bounded by time).
        total = args.schedule_steps or (args.max_steps if args.max_steps < 10**9 else 20_000)
        for g in opt.param_groups:
            g["lr"] = float(args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(step / total, 1.0)))))
        if step % 250 == 0:
            held = held_out_mel()
        writer.writerow([step, f"{complex_loss.item():.5f}", f"{stft_loss.item():.5f}", f"{mel_loss.item():.5f}",
                         f"{held:.5f}", f"{time.time() - t0:.3f}"])
        if step % 50 == 0:
            print(f"step {step} complex {complex_loss.item():.4f} stft {stft_loss.item():.4f} "
                  f"mel {mel_loss.item():.4f} held-out mel {held:.4f} ({time.time() - t0:.2f} s/step)", flush=True)
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
    checkpoint()


if __name__ == "__main__":
    main()
