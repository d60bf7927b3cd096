"""Train an F0-conditioned acoustic model: Mellow's Matcha-style model whose frame-level prior also
carries the pitch (log-F0 and voicing), plus a pitch predictor that gives that pitch for plain text.

The pitch enters where the decoder already looks: the frame-level prior `mu_y` that conditions the
flow-matching estimator gets `pitch_proj([log-F0 normalised, voiced])` added (a 1x1 convolution,
2 -> n_feats, zero at the start so a plain model warm-starts unchanged). The prior loss stays on the
text-only prior, so the pitch channel is free to carry what the text cannot. The pitch predictor
(convolutions over the text-only frame prior) learns log-F0 and voicing per frame; at inference it
gives the curve for plain text, and users replace or shift it.

Data: a corpus from tools/corpus/make_corpus.py with F0 from tools/corpus/extract_f0.py. Durations:
the teacher's (`--alignment teacher`, default) or monotonic alignment search on the model's own
prior (`--alignment mas`, tools/train/mas.py), for recordings without alignments.

    python tools/train/train_pitched.py --corpus corpus [--corpus corpus-shifted] --run runs/pitched \
        [--init tools/train/checkpoints/acoustic_last.pt] [--alignment teacher|mas] \
        [--device cpu|cuda] [--threads 1] [--max-minutes 90]

Resumes from RUN/last.pt (weights and optimiser). Writes RUN/losses.csv, RUN/losses.png and
RUN/pitched_weights.pt (the weights in f16 and the step: what is committed; `--init` continues
from it with a fresh optimiser).
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
import train_acoustic as base  # noqa: E402  (also installs the alignment-search stand-in)
from loss_plot import plot  # noqa: E402
from mas import maximum_path  # noqa: E402
from mel_filters import mel_filters  # noqa: E402
from matcha.models.components.flow_matching import CFM  # noqa: E402,F401
from matcha.models.matcha_tts import MatchaTTS  # noqa: E402
from matcha.utils.model import duration_loss, generate_path, sequence_mask  # noqa: E402

HOP = 256


class PitchPredictor(nn.Module):
    """Frame-level log-F0 (normalised) and voicing logit from the text-only frame prior."""

    def __init__(self, channels=80, hidden=192, layers=4, kernel=5):
        super().__init__()
        blocks, c = [], channels
        for i in range(layers):
            blocks += [nn.Conv1d(c, hidden, kernel, padding=(kernel // 2) * (1 + i % 2), dilation=1 + i % 2),
                       nn.ReLU(), nn.GroupNorm(1, hidden)]
            c = hidden
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv1d(hidden, 2, 1)

    def forward(self, mu_y, mask):
        # [B, n_feats, T] -> [B, 2, T]: (log-F0 normalised, voicing logit)
        return self.out(self.body(mu_y * mask)) * mask


class CombMel(nn.Module):
    """Each frame's F0 as the mel spectrum of a harmonic comb at that F0 (log, 0 where unvoiced):
    the pitch in the terms the decoder already works in, bin by bin, rather than as one number it
    must learn to spread over the harmonics."""

    def __init__(self, f0_stats, n_fft=1024, n_mels=80, rate=22050, fmax=8000.0, sharpness=8, gain=1.0):
        super().__init__()
        basis = mel_filterbank(n_mels, n_fft, rate, fmax)
        self.register_buffer("basis", torch.from_numpy(basis).float())  # [n_mels, n_fft/2 + 1]
        self.register_buffer("freqs", torch.linspace(0.0, rate / 2, n_fft // 2 + 1))
        self.mean, self.std, self.sharpness = f0_stats["log_f0_mean"], f0_stats["log_f0_std"], sharpness
        # At gain 1 the comb adds about 0.14 to the prior's low bands, whose own values span ~1.
        self.gain = gain

    def forward(self, pitch):
        # [B, 2, T] (log-F0 normalised, voiced) -> [B, n_mels, T]
        f0 = torch.exp(pitch[:, 0] * self.std + self.mean).clamp(min=20.0)
        voiced = pitch[:, 1]
        comb = (0.5 + 0.5 * torch.cos(2 * math.pi * self.freqs / f0.unsqueeze(-1))) ** self.sharpness
        mel = torch.log1p(100.0 * (comb * voiced.unsqueeze(-1)) @ self.basis.T) / 4.0
        return self.gain * mel.transpose(1, 2)


class PitchedMatcha(nn.Module):
    def __init__(self, hp, stats, features="plain", f0_stats=None, band_weight=1.0, comb_gain=1.0, copy_flag=False):
        super().__init__()
        self.matcha = MatchaTTS(**hp, data_statistics=stats, out_size=None, prior_loss=True,
                                use_precomputed_durations=True)
        n_feats = hp["n_feats"]
        self.comb = CombMel(f0_stats, n_mels=n_feats, gain=comb_gain) if features == "comb" else None
        extra = n_feats if self.comb is not None else 0
        # With `copy_flag`, one more input, last: 1 on the pitch-shifted copies, 0 on the
        # recordings, so the decoder can put what the re-synthesis adds on the flag rather than on
        # the pitch; the voice always speaks with it at 0 (the conversion drops its column).
        self.copy_flag = copy_flag
        self.pitch_proj = nn.Conv1d(2 + extra + int(copy_flag), n_feats, 1)
        nn.init.zeros_(self.pitch_proj.weight)
        nn.init.zeros_(self.pitch_proj.bias)
        if self.comb is not None:
            # The comb goes straight into the prior at first: a strong, bin-by-bin pitch signal.
            with torch.no_grad():
                self.pitch_proj.weight[:, 2:2 + n_feats, 0].copy_(torch.eye(n_feats))
        self.pitch_predictor = PitchPredictor(n_feats)
        # Flow-matching loss weight per mel band: `band_weight` below 1 kHz, where a voice's
        # harmonics are resolved (the only bands where the pitch shows), 1 above; mean 1.
        centres = mel_band_centres(n_feats)
        weights = torch.where(centres < 1000.0, torch.tensor(float(band_weight)), torch.tensor(1.0))
        self.register_buffer("band_weights", (weights / weights.mean()).view(1, -1, 1), persistent=False)

    def pitch_condition(self, pitch, natural=None):
        """What the pitch adds to the frame prior: [B, 2, T] -> [B, n_feats, T]."""
        if self.comb is not None:
            pitch = torch.cat([pitch, self.comb(pitch)], dim=1)
        if self.copy_flag:
            copy = (1.0 - natural).view(-1, 1, 1).expand(-1, 1, pitch.shape[-1])
            pitch = torch.cat([pitch, copy], dim=1)
        return self.pitch_proj(pitch)

    def forward(self, x, x_len, y, y_len, pitch, natural, durations=None):
        """`natural` [B]: 1 for utterances at their own pitch, 0 for shifted copies (the pitch
        predictor learns from the first only: a shift is the user's, not the text's)."""
        m = self.matcha
        mu_x, logw, x_mask = m.encoder(x, x_len, None)
        y_mask = sequence_mask(y_len, y.shape[-1]).unsqueeze(1).to(x_mask)
        attn_mask = x_mask.unsqueeze(-1) * y_mask.unsqueeze(2)
        if durations is None:
            attn = mas_alignment(mu_x, y, attn_mask, m.n_feats)
        else:
            attn = generate_path(durations.squeeze(1), attn_mask.squeeze(1))
        logw_ = torch.log(1e-8 + torch.sum(attn.unsqueeze(1), -1)) * x_mask
        dur_loss = duration_loss(logw, logw_, x_len)
        mu_y = torch.matmul(attn.squeeze(1).transpose(1, 2), mu_x.transpose(1, 2)).transpose(1, 2)
        prior_loss = torch.sum(0.5 * ((y - mu_y) ** 2 + math.log(2 * math.pi)) * y_mask)
        prior_loss = prior_loss / (torch.sum(y_mask) * m.n_feats)
        # pitch: [B, 2, T] (log-F0 normalised, voiced 0/1)
        conditioned = mu_y + self.pitch_condition(pitch, natural) * y_mask
        diff_loss = flow_matching_loss(m.decoder, y, y_mask, conditioned, self.band_weights)
        predicted = self.pitch_predictor(mu_y.detach(), y_mask)
        own = y_mask * natural.view(-1, 1, 1)
        voiced = pitch[:, 1:2] * own
        f0_loss = torch.sum(torch.abs(predicted[:, :1] - pitch[:, :1]) * voiced) / voiced.sum().clamp(min=1)
        vuv_loss = nn.functional.binary_cross_entropy_with_logits(predicted[:, 1:2], pitch[:, 1:2],
                                                                  reduction="none")
        vuv_loss = torch.sum(vuv_loss * own) / own.sum().clamp(min=1)
        return dur_loss, prior_loss, diff_loss, f0_loss, vuv_loss


def mel_filterbank(n_mels, n_fft=1024, rate=22050, fmax=8000.0):
    """The model's mel filterbank, [n_mels, n_fft / 2 + 1] (as Matcha's mel_spectrogram)."""
    return mel_filters(rate=rate, n_fft=n_fft, n_mels=n_mels, fmax=fmax)


def mel_band_centres(n_mels, n_fft=1024, rate=22050, fmax=8000.0):
    """Centre frequency of each mel band of the model's filterbank, in Hz."""
    basis = mel_filterbank(n_mels, n_fft, rate, fmax)
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    return torch.from_numpy((basis * freqs).sum(1) / basis.sum(1)).float()


def flow_matching_loss(cfm, x1, mask, mu, band_weights):
    """Matcha's conditional flow-matching loss (CFM.compute_loss) with a weight per mel band."""
    t = torch.rand([mu.shape[0], 1, 1], device=mu.device, dtype=mu.dtype)
    z = torch.randn_like(x1)
    y = (1 - (1 - cfm.sigma_min) * t) * z + t * x1
    u = x1 - (1 - cfm.sigma_min) * z
    err = (cfm.estimator(y, mask, mu, t.squeeze(), None) - u) ** 2 * band_weights
    return torch.sum(err) / (torch.sum(mask) * u.shape[1])


def mas_alignment(mu_x, y, attn_mask, n_feats):
    """Alignment by monotonic alignment search on the Gaussian log-likelihood of the frames."""
    with torch.no_grad():
        const = -0.5 * math.log(2 * math.pi) * n_feats
        factor = -0.5 * torch.ones_like(mu_x)
        y_square = torch.matmul(factor.transpose(1, 2), y ** 2)
        y_mu_double = torch.matmul(2.0 * (factor * mu_x).transpose(1, 2), y)
        mu_square = torch.sum(factor * (mu_x ** 2), 1).unsqueeze(-1)
        log_prior = (y_square - y_mu_double + mu_square + const).cpu().numpy()
        mask = attn_mask.squeeze(1).cpu().numpy()
        paths = [maximum_path(lp, int(m[:, 0].sum()), int(m[0].sum())) for lp, m in zip(log_prior, mask)]
        return torch.from_numpy(np.stack(paths)).to(mu_x)


def frame_pitch(f0_path, frames, f0_stats):
    """[2, frames] pitch features at the mel's frames (Matcha's mel without centring: frame t is
    centred on sample t * 256 + 128, half way between two F0 frames)."""
    d = np.load(f0_path)
    f0 = d["f0"].astype(np.float64)
    a, b = f0[:-1], f0[1:]
    both = (a > 0) & (b > 0)
    mid = np.where(both, np.sqrt(np.maximum(a, 1e-3) * np.maximum(b, 1e-3)), np.maximum(a, b))
    mid = np.pad(mid, (0, max(0, frames - len(mid))))[:frames]
    voiced = (mid > 0).astype(np.float32)
    lf0 = np.where(voiced > 0, (np.log(np.maximum(mid, 1e-3)) - f0_stats["log_f0_mean"]) / f0_stats["log_f0_std"], 0.0)
    return torch.from_numpy(np.stack([lf0, voiced]).astype(np.float32))


def attach_pitch(items, corpus, f0_stats=None):
    """Items with their pitch features, normalised with `f0_stats` (default: the corpus's own)."""
    if f0_stats is None:
        with open(os.path.join(corpus, "f0", "stats.json")) as f:
            f0_stats = json.load(f)
    kept = []
    for it in items:
        path = os.path.join(corpus, "f0", it["id"] + ".npz")
        if os.path.exists(path):
            it["pitch"] = frame_pitch(path, it["mel"].shape[1], f0_stats)
            kept.append(it)
    return kept, f0_stats


def collate(items, idx, stats, device):
    x, x_len, y, y_len, dur = base.collate(items, idx, stats, device)
    pitch = torch.zeros(len(idx), 2, y.shape[-1])
    for b, i in enumerate(idx):
        p = items[i]["pitch"]
        pitch[b, :, : p.shape[1]] = p
    # Shifted copies (augment_pitch.py) are named ID_p+N / ID_p-N.
    natural = torch.tensor([0.0 if "_p" in items[i]["id"] else 1.0 for i in idx])
    return x, x_len, y, y_len, dur, pitch.to(device), natural.to(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, action="append",
                    help="a corpus folder; repeat to train on several (e.g. the corpus and its pitch-shifted copy)")
    ap.add_argument("--run", required=True)
    ap.add_argument("--init", help="a plain acoustic checkpoint (train_acoustic.py last.pt) to start from")
    ap.add_argument("--alignment", choices=["teacher", "mas"], default="teacher")
    ap.add_argument("--pitch-features", choices=["plain", "comb"], default="plain",
                    help="plain: (log-F0, voiced) through a 1x1 convolution; comb: also a harmonic comb's mel")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--max-steps", type=int, default=10 ** 9)
    ap.add_argument("--frames-per-batch", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--comb-gain", type=float, default=1.0,
                    help="scale of the harmonic comb (--pitch-features comb) added to the prior")
    ap.add_argument("--band-weight", type=float, default=1.0,
                    help="flow-matching loss weight of the mel bands below 1 kHz, where the harmonics "
                         "show, against 1 above (normalised to mean 1)")
    ap.add_argument("--copy-flag", action="store_true",
                    help="tell the decoder which utterances are pitch-shifted copies (0 at synthesis)")
    ap.add_argument("--encoder-from",
                    help="a plain acoustic checkpoint whose text encoder (and duration predictor) replaces "
                         "the model's and stays frozen: the voice keeps its durations and the intonation "
                         "predictor trained on that encoder")
    ap.add_argument("--checkpoint-minutes", type=float, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    # The first corpus sets the mel and F0 statistics; the others are read with them.
    items, stats, f0_stats = [], None, None
    for n, corpus in enumerate(args.corpus):
        cache = os.path.join(args.run, "features.pt" if n == 0 else f"features-{n}.pt")
        data = base.prepare(corpus, cache)
        stats = stats or data["stats"]
        with_pitch, corpus_f0 = attach_pitch(data["items"], corpus, f0_stats)
        f0_stats = f0_stats or corpus_f0
        items += with_pitch
    hp = base.model_config(256)
    torch.manual_seed(base.SEED)
    model = PitchedMatcha(hp, stats, args.pitch_features, f0_stats, args.band_weight, args.comb_gain,
                          args.copy_flag).to(args.device)
    step, epoch = 0, 0
    last = os.path.join(args.run, "last.pt")
    if os.path.exists(last):
        state = torch.load(last, map_location=args.device)
        model.load_state_dict(state["model"])
        step, epoch = state["step"], state["epoch"]
        print(f"resumed at step {step}")
    elif args.init:
        state = torch.load(args.init, map_location=args.device, weights_only=False)
        weights = {k: v.float() for k, v in state["model"].items()}
        if "pitch_proj.weight" in weights:
            # A pitched checkpoint (its weights only: the optimiser starts afresh).
            have, want = weights["pitch_proj.weight"].shape[1], model.pitch_proj.weight.shape[1]
            if want == have + 1 and args.copy_flag:
                # The copy flag's column starts at zero: the model starts as it was.
                w = weights["pitch_proj.weight"]
                weights["pitch_proj.weight"] = torch.cat([w, torch.zeros_like(w[:, :1])], dim=1)
            model.load_state_dict(weights)
            step, epoch = state["step"], state.get("epoch", 0)
        else:
            model.matcha.load_state_dict(weights)
        print(f"started from {args.init} (step {state['step']})")
    if args.encoder_from:
        plain = torch.load(args.encoder_from, map_location=args.device, weights_only=False)["model"]
        encoder = {k[len("encoder."):]: v.float() for k, v in plain.items() if k.startswith("encoder.")}
        if not os.path.exists(last):
            model.matcha.encoder.load_state_dict(encoder)
        for p in model.matcha.encoder.parameters():
            p.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    if os.path.exists(last):
        opt.load_state_dict(state["opt"])
    with open(os.path.join(args.run, "pitch.json"), "w") as f:
        json.dump({"f0": f0_stats, "frame_centre": "sample t * 256 + 128", "alignment": args.alignment,
                   "features": args.pitch_features, "comb_gain": args.comb_gain, "copy_flag": args.copy_flag,
                   "encoder_from": args.encoder_from}, f, indent=1)
    print(f"{len(items)} utterances with pitch, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")

    log_path = os.path.join(args.run, "losses.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    names = ("dur_loss", "prior_loss", "diff_loss", "f0_loss", "vuv_loss")
    if new_log:
        writer.writerow(["step", "epoch", *names, "seconds"])

    def checkpoint():
        tmp = last + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch}, tmp)
        os.replace(tmp, last)
        log.flush()
        plot(args.run, names)
        compact(os.path.join(args.run, "pitched_weights.pt"))
        print(f"checkpoint at step {step}", flush=True)

    def compact(path):
        """The weights in f16 with the step: small enough to commit, enough to go on with --init."""
        half = {k: v.detach().half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        comb = {"features": args.pitch_features, "gain": args.comb_gain, "copy_flag": args.copy_flag,
                "sharpness": float(model.comb.sharpness) if model.comb is not None else 0.0}
        torch.save({"model": half, "step": step, "epoch": epoch, "pitch": f0_stats, "comb": comb}, path + ".tmp")
        os.replace(path + ".tmp", path)

    start = last_ckpt = time.time()
    model.train()
    if args.encoder_from:
        model.matcha.encoder.eval()  # frozen: no dropout either
    done = False
    while not done:
        rng = random.Random(base.SEED + epoch)
        random.seed(base.SEED * 7 + epoch)
        torch.manual_seed(base.SEED * 13 + epoch)
        for idx in base.batches(items, args.frames_per_batch, rng):
            x, x_len, y, y_len, dur, pitch, natural = collate(items, idx, stats, args.device)
            t0 = time.time()
            losses = model(x, x_len, y, y_len, pitch, natural,
                           durations=dur if args.alignment == "teacher" else None)
            loss = sum(losses)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            writer.writerow([step, epoch, *(f"{v.item():.5f}" for v in losses), f"{time.time() - t0:.3f}"])
            if step % 50 == 0:
                print(f"step {step} epoch {epoch} " + " ".join(f"{n} {v.item():.3f}" for n, v in zip(names, losses))
                      + f" ({time.time() - t0:.2f} s/step)", flush=True)
            if time.time() - last_ckpt > args.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = time.time()
            if (time.time() - start) / 60 > args.max_minutes or step >= args.max_steps:
                done = True
                break
        else:
            epoch += 1
    checkpoint()


if __name__ == "__main__":
    main()
