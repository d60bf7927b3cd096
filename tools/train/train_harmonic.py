"""Train an F0-aware harmonic-plus-noise vocoder (DDSP-style, arXiv 2001.04643) on spectral losses
alone, so it trains on our CPU cores without a discriminator.

Each mel frame gives, through a small ConvNeXt network, two spectral envelopes over 0-11 025 Hz:
one for the harmonics and one for filtered noise. The harmonics sit at exact multiples of F0 (a
sine bank whose phase is the running integral of F0), each as loud as the harmonic envelope at its
frequency, so the pitch is whatever F0 says and the formants stay where the envelope puts them; the
noise is white noise shaped by the noise envelope in the STFT domain. F0 comes from the training
data's Praat track (tools/corpus/extract_f0.py) while training and, at run time, either from the
acoustic model or from the vocoder's own F0 estimator (a second small network over the mel alone,
trained here against the same track), so a plain mel vocodes too.

Data: LJSpeech-style folders with `wavs/` and `f0/` (extract_f0.py), e.g. the teacher corpus and
its WORLD re-synthesis at other pitches (tools/corpus/augment_pitch.py), so that the envelope
learns to stay put while F0 moves.

    python tools/train/train_harmonic.py --corpus corpus --corpus corpus-shifted --run runs/harmonic \
        --threads 2 --max-minutes 60

Then, as the Vocos was, fine-tune it on what it is given at run time: the acoustic model's own mels
for the teacher corpus, rendered with the corpus's durations so that they line up with its audio
(tools/train/predicted_mels.py). Those mels are smoother than a recording's; the target stays the
recording and its F0 track, so the envelopes learn what the smooth mel leaves out. A pitch-shifted
copy gets its original's mel: the acoustic model speaks at the voice's own pitch whatever F0 the
vocoder is asked to play, so the envelope must come out right from a mel whose harmonics do not
match that F0 (sung notes an octave above the voice came out 9-19 semitones off to Praat without
this). Where the folder holds a shifted copy's own mel (an F0-conditioned model's, rendered at the
copy's F0 by `predicted_mels.py --with-f0`), that mel is its input instead. Most of each batch
(`--predicted-share`) comes from such pairs, the rest from the recordings' own mels:

    python tools/train/train_harmonic.py --corpus corpus --corpus corpus-shifted --run runs/harmonic-predicted \
        --init runs/harmonic/last.pt --predicted-mels runs/predicted-mels --predicted-share 0.8 --lr 3e-4 \
        --schedule-steps 5000 --max-steps 5000 --threads 1

An adversarial fine-tune (`--adversarial WEIGHT`, tools/train/spectral_gan.py) adds a small
multi-resolution spectrogram discriminator to those losses; it judges magnitudes only, so the
phases the engine spreads at run time are not asked for. The weight is the adversarial loss's
against the spectral ones (feature matching gets twice it); the discriminator learns alone for
`--disc-warmup` steps first:

    python tools/train/train_harmonic.py --corpus corpus --run runs/harmonic-gan \
        --init runs/harmonic-predicted/last.pt --predicted-mels runs/predicted-mels --predicted-share 0.8 \
        --adversarial 0.02 --lr 1e-4 --schedule-steps 20000 --threads 2

Resumes from RUN/last.pt. Writes RUN/losses.csv, RUN/losses.png and RUN/harmonic.safetensors
(inference weights, the mel normalisation folded in) with RUN/hparams.json.
"""
import argparse
import csv
import json
import math
import os
import random
import re
import shutil
import time
import wave

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from loss_plot import plot
from mel_filters import mel_filters
from spectral_gan import MultiResolutionDiscriminator, discriminator_loss, generator_losses
from train_vocos import ConvNeXtBlock

SEED = 4242
RATE, N_FFT, HOP, N_MELS, F_MAX = 22050, 1024, 256, 80, 8000
NYQUIST = RATE / 2
SEGMENT_FRAMES = 48
RESOLUTIONS = [(512, 128), (1024, 256), (2048, 512)]
# Log-F0 normalisation of the F0 estimator's output (natural log of Hz).
LOG_F0_MEAN, LOG_F0_STD = math.log(100.0), 0.5


def read_wav(path):
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


class LogMel(torch.nn.Module):
    """Matcha-TTS's front end without its reflect padding: the caller gives (n_fft - hop) / 2
    samples of context on each side, so a segment's mel equals the whole utterance's there."""

    def __init__(self):
        super().__init__()
        basis = mel_filters(rate=RATE, n_fft=N_FFT, n_mels=N_MELS, fmax=F_MAX)
        self.register_buffer("basis", torch.from_numpy(basis).float())
        self.register_buffer("window", torch.hann_window(N_FFT))

    def forward(self, audio):  # [B, S + n_fft - hop] -> [B, 80, S / hop]
        spec = torch.stft(audio, N_FFT, HOP, N_FFT, self.window, center=False, return_complex=True)
        mag = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)
        return torch.log(torch.clamp(self.basis @ mag, min=1e-5))


class Backbone(torch.nn.Module):
    """Frames in, features per frame out: an embedding convolution and ConvNeXt blocks."""

    def __init__(self, inputs, dim, intermediate, layers):
        super().__init__()
        self.embed = torch.nn.Conv1d(inputs, dim, 7, padding=3)
        self.norm = torch.nn.LayerNorm(dim, eps=1e-6)
        self.convnext = torch.nn.ModuleList(ConvNeXtBlock(dim, intermediate, 1.0 / 8) for _ in range(layers))
        self.final_layer_norm = torch.nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):  # [B, inputs, T] -> [B, T, dim]
        h = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            h = block(h)
        return self.final_layer_norm(h.transpose(1, 2))


class HarmonicVocoder(torch.nn.Module):
    def __init__(self, dim, intermediate, layers, bins, harmonics, f0_dim, f0_layers):
        super().__init__()
        self.bins, self.harmonics = bins, harmonics
        self.backbone = Backbone(N_MELS + 2, dim, intermediate, layers)
        self.envelopes = torch.nn.Linear(dim, 2 * bins)
        self.pitch = Backbone(N_MELS, f0_dim, 3 * f0_dim, f0_layers)
        self.pitch_out = torch.nn.Linear(f0_dim, 2)

    def estimate_f0(self, mel):
        """Normalised mel [B, 80, T] → (F0 in Hz [B, T], voiced probability [B, T])."""
        out = self.pitch_out(self.pitch(mel))
        log_f0 = out[..., 0] * LOG_F0_STD + LOG_F0_MEAN
        return torch.exp(log_f0), torch.sigmoid(out[..., 1]), out

    def envelopes_for(self, mel, f0, voiced):
        """Log-amplitude envelopes [B, bins, T] for the harmonics and the noise."""
        log_f0 = torch.where(voiced > 0.5, (torch.log(f0.clamp(min=1.0)) - LOG_F0_MEAN) / LOG_F0_STD, 0.0)
        x = torch.cat([mel, log_f0.unsqueeze(1), voiced.unsqueeze(1)], dim=1)
        env = self.envelopes(self.backbone(x)).transpose(1, 2)
        return env[:, : self.bins], env[:, self.bins:]

    def forward(self, mel, f0, voiced, noise):
        harmonic_env, noise_env = self.envelopes_for(mel, f0, voiced)
        return synthesise(f0, voiced, harmonic_env, noise_env, self.harmonics, noise)


def sample_envelope(env, freq):
    """`env` [B, bins, T] over 0..Nyquist, read at frequencies `freq` [B, K, T] by linear
    interpolation (clamped at the ends)."""
    bins = env.shape[1]
    pos = (freq / NYQUIST * (bins - 1)).clamp(0, bins - 1)
    lo = pos.floor().long().clamp(max=bins - 2)
    t = pos - lo
    a = torch.gather(env, 1, lo)
    b = torch.gather(env, 1, lo + 1)
    return a * (1 - t) + b * t


def fill_unvoiced(f0, voiced):
    """F0 through unvoiced frames (the nearest voiced value), so the phase runs on smoothly."""
    out = f0.clone()
    for row in range(f0.shape[0]):
        v = voiced[row] > 0.5
        if v.sum() == 0:
            out[row] = 100.0
            continue
        idx = torch.arange(f0.shape[1])
        voiced_idx = idx[v]
        nearest = voiced_idx[torch.searchsorted(voiced_idx, idx).clamp(max=len(voiced_idx) - 1)]
        out[row] = torch.where(v, f0[row], f0[row, nearest])
    return out


def upsample(frames, samples):
    """Frame values [..., T] (frame t at sample t * HOP) → per sample [..., samples], linear."""
    shape = frames.shape
    flat = frames.reshape(-1, 1, shape[-1])
    # align_corners over (T - 1) hops, then hold the last value for the final hop.
    up = F.interpolate(flat, size=(shape[-1] - 1) * HOP + 1, mode="linear", align_corners=True)
    up = F.pad(up, (0, samples - up.shape[-1]), mode="replicate")
    return up.reshape(*shape[:-1], samples)


def synthesise(f0, voiced, harmonic_env, noise_env, harmonics, noise):
    """Harmonics at k·F0 shaped by the harmonic envelope, plus noise shaped by the noise envelope."""
    frames = f0.shape[1]
    samples = frames * HOP
    f0 = fill_unvoiced(f0, voiced)
    k = torch.arange(1, harmonics + 1, dtype=f0.dtype, device=f0.device).view(1, -1, 1)
    freq = k * f0.unsqueeze(1)  # [B, K, T]
    audible = (freq < 0.95 * NYQUIST).to(f0.dtype)
    amp = torch.exp(sample_envelope(harmonic_env, freq)) * audible * voiced.unsqueeze(1)
    f0_s = upsample(f0, samples)
    phase = 2 * math.pi * torch.cumsum(f0_s / RATE, dim=-1)
    amp_s = upsample(amp, samples)
    harmonic = (amp_s * torch.sin(k * phase.unsqueeze(1))).sum(1)
    # Noise: the white noise's STFT scaled bin by bin, frame by frame.
    window = torch.hann_window(N_FFT, device=f0.device)
    spec = torch.stft(noise, N_FFT, HOP, N_FFT, window, center=True, return_complex=True)
    bins = torch.linspace(0, NYQUIST, N_FFT // 2 + 1, device=f0.device)
    gain = torch.exp(sample_envelope(noise_env, bins.view(1, -1, 1).expand(f0.shape[0], -1, frames)))
    gain = F.pad(gain, (0, spec.shape[-1] - frames), mode="replicate")
    shaped = torch.istft(spec * gain, N_FFT, HOP, N_FFT, window, center=True, length=samples)
    return harmonic + shaped


def stft_losses(out, target):
    total = 0.0
    for n_fft, hop in RESOLUTIONS:
        window = torch.hann_window(n_fft, device=out.device)
        so = torch.stft(out, n_fft, hop, n_fft, window, return_complex=True).abs()
        st = torch.stft(target, n_fft, hop, n_fft, window, return_complex=True).abs()
        total = total + F.l1_loss(torch.log(so.clamp(min=1e-5)), torch.log(st.clamp(min=1e-5)))
        total = total + torch.norm(st - so) / torch.norm(st).clamp(min=1e-5)
    return total / len(RESOLUTIONS)


def load_items(corpora, predicted=None):
    """Every utterance with its 16-bit audio and its Praat F0 track at the mel frames, and, where
    `predicted` holds one of the same length, the acoustic model's mel for it (`given`)."""
    items = []
    for corpus in corpora:
        for name in sorted(os.listdir(os.path.join(corpus, "wavs"))):
            if not name.endswith(".wav"):
                continue
            utt = name[:-4]
            track = os.path.join(corpus, "f0", utt + ".npz")
            if not os.path.exists(track):
                continue
            audio = read_wav(os.path.join(corpus, "wavs", name))
            frames = len(audio) // HOP
            if frames <= SEGMENT_FRAMES + 4:
                continue
            f0 = np.load(track)
            item = {"id": utt, "audio": torch.from_numpy(audio),
                    "f0": torch.from_numpy(f0["f0"][:frames].astype(np.float32)),
                    "voiced": torch.from_numpy(f0["voiced"][:frames].astype(np.float32))}
            # A pitch-shifted copy (augment_pitch.py's `ID_p+7`) is given its own mel where
            # there is one (an F0-conditioned model told the shifted F0: harmonics where the
            # vocoder plays them), else the mel of its original: the mel at the voice's own
            # pitch, the F0 and audio moved, as when a plain decoder's voice shifts or sings.
            base = re.sub(r"_p[+-]\d+$", "", utt)
            if predicted and os.path.exists(os.path.join(predicted, utt + ".npy")):
                base = utt
            given = os.path.join(predicted, base + ".npy") if predicted else None
            if given and os.path.exists(given):
                mel = np.load(given)
                if mel.shape[0] == N_MELS and abs(mel.shape[1] - frames) <= 1:
                    mel = np.pad(mel[:, :frames], ((0, 0), (0, max(0, frames - mel.shape[1]))), mode="edge")
                    item["given"] = torch.from_numpy(mel.astype(np.float32))
                    item["given_pitch"] = base == utt
            items.append(item)
    return items


def batch(items, size, rng, logmel, predicted_share=0.0):
    """Segments: input mels, F0, voicing, target audio and the target's own mels. A share of the
    segments (`predicted_share`) comes from items with an acoustic-model mel, which is then the
    input; the others' input is the recording's mel."""
    pad = (N_FFT - HOP) // 2
    with_given = [it for it in items if "given" in it] if predicted_share > 0 else []
    context, audios, f0s, voiced, given, own_pitch = [], [], [], [], [], []
    for n in range(size):
        pool = with_given if with_given and n < round(size * predicted_share) else items
        it = pool[rng.randrange(len(pool))]
        frames = len(it["f0"])
        start = rng.randrange(frames - SEGMENT_FRAMES)
        audio = it["audio"].float() / 32768.0
        lo, hi = start * HOP - pad, (start + SEGMENT_FRAMES) * HOP + pad
        seg = audio[max(lo, 0): min(hi, len(audio))]
        seg = F.pad(seg, (max(0, -lo), max(0, hi - len(audio))))
        context.append(seg)
        audios.append(audio[start * HOP:(start + SEGMENT_FRAMES) * HOP])
        f0s.append(it["f0"][start:start + SEGMENT_FRAMES])
        voiced.append(it["voiced"][start:start + SEGMENT_FRAMES])
        given.append(it["given"][:, start:start + SEGMENT_FRAMES] if pool is with_given else None)
        own_pitch.append(1.0 if pool is not with_given or it["given_pitch"] else 0.0)
    with torch.no_grad():
        mel = logmel(torch.stack(context))
    inputs = torch.stack([g if g is not None else m for g, m in zip(given, mel)])
    # Which inputs hold the pitch of their target (the F0 estimator learns only from those).
    pitched = torch.tensor(own_pitch).unsqueeze(1)
    return inputs, torch.stack(audios), torch.stack(f0s), torch.stack(voiced), mel, pitched


def export(model, run, stats, hp):
    """Inference weights, with the mel normalisation folded into both embedding convolutions."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    for prefix, channels in (("backbone.embed", N_MELS), ("pitch.embed", N_MELS)):
        w, b = state[prefix + ".weight"], state[prefix + ".bias"]
        mel_w = w[:, :channels] / stats["mel_std"]
        state[prefix + ".bias"] = b - (w[:, :channels] * (stats["mel_mean"] / stats["mel_std"])).sum(dim=(1, 2))
        state[prefix + ".weight"] = torch.cat([mel_w, w[:, channels:]], dim=1)
    tmp = os.path.join(run, "harmonic.safetensors.tmp")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp)
    os.replace(tmp, os.path.join(run, "harmonic.safetensors"))
    with open(os.path.join(run, "hparams.json"), "w") as f:
        json.dump({**hp, "data_statistics": stats}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", action="append", required=True, help="a folder with wavs/ and f0/ (repeatable)")
    ap.add_argument("--run", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--batch-size", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--intermediate", type=int, default=576)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--bins", type=int, default=128)
    ap.add_argument("--harmonics", type=int, default=160)
    ap.add_argument("--f0-dim", type=int, default=128)
    ap.add_argument("--f0-layers", type=int, default=3)
    ap.add_argument("--schedule-steps", type=int, default=20_000)
    ap.add_argument("--checkpoint-minutes", type=float, default=5)
    ap.add_argument("--init", default=None, help="start from this run's last.pt (weights and mel statistics)")
    ap.add_argument("--predicted-mels", default=None,
                    help="the acoustic model's mels, ID.npy, for utterances of the corpora (tools/train/predicted_mels.py)")
    ap.add_argument("--predicted-share", type=float, default=0.5,
                    help="share of each batch taken from utterances with a predicted mel")
    ap.add_argument("--adversarial", type=float, default=0.0,
                    help="weight of the spectrogram discriminator's loss (0: spectral losses alone)")
    ap.add_argument("--disc-channels", type=int, default=8)
    ap.add_argument("--disc-warmup", type=int, default=200, help="steps the discriminator learns alone first")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    logmel = LogMel()
    items = load_items(args.corpus, args.predicted_mels)
    share = args.predicted_share if args.predicted_mels else 0.0
    if args.predicted_mels:
        print(f"{sum('given' in it for it in items)} utterances with a predicted mel", flush=True)
    rng0 = random.Random(SEED)
    rng0.shuffle(items)
    held_items, train = items[:24], items[24:]
    stats_path = os.path.join(args.run, "stats.json")
    if args.init and not os.path.exists(stats_path):
        # The initial weights were trained on mels normalised by their run's statistics: its
        # stats.json, or for a committed checkpoint (ID.pt) the ID_stats.json beside it.
        beside = [os.path.join(os.path.dirname(args.init), "stats.json"),
                  os.path.splitext(args.init)[0] + "_stats.json"]
        found = next((p for p in beside if os.path.exists(p)), None)
        if found is None:
            raise SystemExit(f"--init {args.init}: its mel statistics are missing (looked for {' and '.join(beside)})")
        shutil.copy(found, stats_path)
    if os.path.exists(stats_path):
        stats = json.load(open(stats_path))
    else:
        mel, _, _, _, _, _ = batch(train, 64, random.Random(SEED), logmel)
        stats = {"mel_mean": mel.mean().item(), "mel_std": mel.std().item()}
        json.dump(stats, open(stats_path, "w"))
    hp = {"dim": args.dim, "intermediate_dim": args.intermediate, "num_layers": args.layers,
          "bins": args.bins, "harmonics": args.harmonics, "f0_dim": args.f0_dim, "f0_layers": args.f0_layers,
          "hop_length": HOP, "n_fft": N_FFT, "sample_rate": RATE,
          "log_f0_mean": LOG_F0_MEAN, "log_f0_std": LOG_F0_STD}
    torch.manual_seed(SEED)
    model = HarmonicVocoder(args.dim, args.intermediate, args.layers, args.bins, args.harmonics,
                            args.f0_dim, args.f0_layers).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99))
    disc = disc_opt = None
    if args.adversarial > 0:
        disc = MultiResolutionDiscriminator(args.disc_channels).to(args.device)
        disc_opt = torch.optim.AdamW(disc.parameters(), lr=args.lr, betas=(0.8, 0.99))
    step = disc_step = 0
    last = os.path.join(args.run, "last.pt")
    if os.path.exists(last):
        state = torch.load(last, map_location=args.device, weights_only=False)  # our own checkpoint
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        if disc is not None and "disc" in state:
            disc.load_state_dict(state["disc"])
            disc_opt.load_state_dict(state["disc_opt"])
            disc_step = state["disc_step"]
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
        writer.writerow(["step", "stft", "mel", "f0", "voicing", "held_out_stft", "held_out_f0_cents", "seconds",
                         "disc", "adversarial", "matching"])

    def normalised(mel):
        return (mel - stats["mel_mean"]) / stats["mel_std"]

    def held_out():
        """Spectral loss and the F0 estimator's error in cents on voiced frames. The vocoder plays
        its own F0 where the input holds the target's pitch, the tracked F0 where it does not (a
        shifted copy given its original's mel: at run time that F0 comes from outside too)."""
        model.eval()
        with torch.no_grad():
            mel, audio, f0, voiced, _, pitched = batch(held_items, len(held_items), random.Random(SEED), logmel, share)
            mel = normalised(mel.to(args.device))
            est_f0, est_voiced, _ = model.estimate_f0(mel)
            gen = torch.Generator().manual_seed(SEED)
            noise = torch.randn(audio.shape, generator=gen).to(args.device)
            played = torch.where(pitched.to(args.device) > 0.5, est_f0, f0.to(args.device))
            out = model(mel, played, (est_voiced > 0.5).float(), noise)
            loss = stft_losses(out, audio.to(args.device)).item()
            both = (voiced > 0.5) & (est_voiced.cpu() > 0.5) & (pitched > 0.5)
            cents = (1200 * torch.log2(est_f0.cpu()[both] / f0[both])).abs().median().item() if both.any() else float("nan")
        model.train()
        return loss, cents

    def checkpoint():
        tmp = last + ".tmp"
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step}
        if disc is not None:
            state.update(disc=disc.state_dict(), disc_opt=disc_opt.state_dict(), disc_step=disc_step)
        torch.save(state, tmp)
        os.replace(tmp, last)
        export(model, args.run, stats, hp)
        log.flush()
        plot(args.run, ("stft", "mel", "f0", "voicing", "held_out_stft"), raw=("held_out_stft",))
        print(f"checkpoint at step {step}", flush=True)

    start = last_ckpt = time.time()
    held, cents = float("nan"), float("nan")
    model.train()
    while step < args.max_steps and (time.time() - start) / 60 < args.max_minutes:
        # The batch and the noise depend only on the step, so a resumed run sees what an unbroken one would.
        rng = random.Random(SEED * 1_000_003 + step)
        mel, audio, f0, voiced, target_mel, pitched = batch(train, args.batch_size, rng, logmel, share)
        gen = torch.Generator().manual_seed(SEED + step)
        noise = torch.randn(audio.shape, generator=gen)
        mel, audio, f0, voiced, noise, target_mel, pitched = (
            t.to(args.device) for t in (mel, audio, f0, voiced, noise, target_mel, pitched))
        t0 = time.time()
        nmel = normalised(mel)
        # The synthesiser learns with the tracked F0; the estimator learns that F0 from the mel.
        out = model(nmel, f0, voiced, noise)
        stft_loss = stft_losses(out, audio)
        pad = (N_FFT - HOP) // 2
        out_mel = logmel(F.pad(out, (pad, pad), mode="reflect"))
        mel_loss = F.l1_loss(out_mel, target_mel)
        _, _, raw = model.estimate_f0(nmel)
        target = (torch.log(f0.clamp(min=1.0)) - LOG_F0_MEAN) / LOG_F0_STD
        f0_weight = voiced * pitched
        f0_loss = ((raw[..., 0] - target).abs() * f0_weight).sum() / f0_weight.sum().clamp(min=1)
        voicing_loss = F.binary_cross_entropy_with_logits(raw[..., 1], voiced)
        loss = stft_loss + mel_loss + f0_loss + 0.5 * voicing_loss
        d_loss = adv_loss = fm_loss = torch.zeros(())
        if disc is not None:
            d_loss = discriminator_loss(disc(audio), disc(out.detach()))
            disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            disc_opt.step()
            disc_step += 1
            if disc_step > args.disc_warmup:
                with torch.no_grad():
                    real = disc(audio)
                adv_loss, fm_loss = generator_losses(real, disc(out))
                loss = loss + args.adversarial * (adv_loss + 2 * fm_loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for g in opt.param_groups:
            g["lr"] = float(args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(step / args.schedule_steps, 1.0)))))
        if step % 250 == 0:
            held, cents = held_out()
        writer.writerow([step, f"{stft_loss.item():.5f}", f"{mel_loss.item():.5f}", f"{f0_loss.item():.5f}",
                         f"{voicing_loss.item():.5f}", f"{held:.5f}", f"{cents:.1f}", f"{time.time() - t0:.3f}",
                         f"{d_loss.item():.5f}", f"{adv_loss.item():.5f}", f"{fm_loss.item():.5f}"])
        if step % 25 == 0:
            print(f"step {step} stft {stft_loss.item():.4f} mel {mel_loss.item():.4f} f0 {f0_loss.item():.4f} "
                  f"voicing {voicing_loss.item():.4f} held-out stft {held:.4f} f0 {cents:.0f} cents "
                  + (f"disc {d_loss.item():.3f} adv {adv_loss.item():.3f} fm {fm_loss.item():.3f} " if disc is not None else "") +
                  f"({time.time() - t0:.2f} s/step)", flush=True)
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
    checkpoint()


if __name__ == "__main__":
    main()
