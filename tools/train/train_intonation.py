"""Train an intonation predictor for an acoustic model: each phoneme's pitch (mean log-F0 over its
voiced frames) from the model's own text encoder, which stays frozen. This is FastPitch's pitch
predictor (arXiv 2006.06873: two convolutions over the encoder's states, one value per symbol);
the engine joins the values into a smooth F0 curve (straight lines between phoneme centres) that
an F0-aware vocoder plays, and that `--pitch`, `--pitch-range` and conditioning files move.

Data: a corpus from tools/corpus/make_corpus.py (phoneme ids and durations per utterance) with F0
from tools/corpus/extract_f0.py. Only utterances at their own pitch are read.

    python tools/train/train_intonation.py --corpus corpus --run runs/intonation \
        [--acoustic tools/train/checkpoints/acoustic_last.pt] [--device cpu|cuda] \
        [--threads 1] [--epochs 16] [--max-minutes N] [--teacher-length 1.019]

Resumes from RUN/last.pt. Writes RUN/losses.csv, RUN/losses.png, RUN/report.json (held-out
error and intonation span, predicted against recorded) and RUN/intonation.safetensors (what
`mellow convert intonation` adds to a voice file).
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
from safetensors.torch import save_file
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
import train_acoustic as base  # noqa: E402
from loss_plot import plot  # noqa: E402
from matcha.models.matcha_tts import MatchaTTS  # noqa: E402
from train_pitched import attach_pitch  # noqa: E402

HELD_OUT = 100


class IntonationPredictor(nn.Module):
    """Encoder states [B, C, N] -> normalised log-F0 per phoneme [B, N]."""

    def __init__(self, channels=160, hidden=256, kernel=3, dropout=0.1):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, hidden, kernel, padding=kernel // 2)
        self.norm1 = nn.LayerNorm(hidden)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.norm2 = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, mask):
        x = self.drop(self.norm1(torch.relu(self.conv1(h * mask)).transpose(1, 2))).transpose(1, 2)
        x = self.drop(self.norm2(torch.relu(self.conv2(x * mask)).transpose(1, 2)))
        return self.out(x).squeeze(-1) * mask.squeeze(1)


def encoder_states(encoder, ids):
    """The text encoder's states before its output projections ([1, C, N])."""
    x = ids.unsqueeze(0)
    x_len = torch.tensor([x.shape[1]])
    h = encoder.emb(x) * math.sqrt(encoder.n_channels)
    h = h.transpose(1, -1)
    mask = torch.ones(1, 1, x.shape[1])
    h = encoder.prenet(h, mask)
    return encoder.encoder(h, mask), x_len


def phoneme_targets(item):
    """Per phoneme: mean normalised log-F0 over its voiced frames, and how many frames those are."""
    lf0, voiced = item["pitch"][0], item["pitch"][1]
    bounds = np.concatenate([[0], np.cumsum(item["durations"].numpy())])
    target = torch.zeros(len(item["ids"]))
    weight = torch.zeros(len(item["ids"]))
    for i in range(len(item["ids"])):
        a, b = int(bounds[i]), int(bounds[i + 1])
        v = voiced[a:b] > 0
        if v.any():
            target[i] = lf0[a:b][v].mean()
            weight[i] = float(v.sum())
    return target, weight


def frame_curve(values, durations):
    """Straight lines between phoneme centres (held before the first and after the last): the
    engine's `acoustic::intonation::frame_curve`."""
    d = np.asarray(durations, dtype=np.float64)
    centres = np.cumsum(d) - d / 2
    frames = np.arange(int(d.sum())) + 0.5
    return np.interp(frames, centres, np.asarray(values, dtype=np.float64))


def span_semitones(log_f0_hz):
    """p10-p90 of a log-F0 curve (natural log of Hz), in semitones."""
    if len(log_f0_hz) < 10:
        return float("nan")
    p10, p90 = np.percentile(log_f0_hz, [10, 90])
    return float((p90 - p10) * 12 / math.log(2))


def evaluate(predictor, items, f0_stats):
    """Held-out error (semitones, frame by frame on voiced frames) and spans, predicted and
    recorded (medians over utterances)."""
    predictor.eval()
    errors, spans, own_spans = [], [], []
    std, mean = f0_stats["log_f0_std"], f0_stats["log_f0_mean"]
    with torch.no_grad():
        for it in items:
            n = len(it["ids"])
            pred = predictor(it["hidden"].float().unsqueeze(0), torch.ones(1, 1, n))[0].numpy()
            curve = frame_curve(pred * std + mean, it["durations"].numpy())
            voiced = it["pitch"][1].numpy()[: len(curve)] > 0
            true = it["pitch"][0].numpy()[: len(curve)] * std + mean
            errors.append(float(np.median(np.abs(curve[voiced] - true[voiced])) * 12 / math.log(2)))
            spans.append(span_semitones(curve[voiced]))
            own_spans.append(span_semitones(true[voiced]))
    predictor.train()
    return {"median_abs_error_st": float(np.nanmedian(errors)), "span_st": float(np.nanmedian(spans)),
            "recorded_span_st": float(np.nanmedian(own_spans))}


def load_acoustic(path, stats=None):
    """The acoustic model whose encoder the predictor reads (frozen)."""
    model = MatchaTTS(**base.model_config(256), data_statistics=stats or {"mel_mean": 0.0, "mel_std": 1.0},
                      out_size=None, prior_loss=True, use_precomputed_durations=True)
    state = torch.load(path, map_location="cpu", weights_only=False)
    weights = {k: v.float() for k, v in state["model"].items()}
    if "pitch_proj.weight" in weights:
        # An F0-conditioned model (train_pitched.py): its encoder is the Matcha part's.
        weights = {k[len("matcha."):]: v for k, v in weights.items() if k.startswith("matcha.")}
    model.load_state_dict(weights)
    return model.eval()


def duration_scale(model, items):
    """How much longer the recorded phonemes are than the model's duration predictor makes them
    (rounded to the nearest frame, as the voice does): a regression in the log domain falls
    short of the mean, so the voice speaks faster than its teacher without this factor."""
    predicted = recorded = 0.0
    with torch.no_grad():
        for it in items:
            h = it["hidden"].float().unsqueeze(0)
            logw = model.encoder.proj_w(h, torch.ones(1, 1, h.shape[-1]))[0, 0]
            predicted += torch.round(torch.exp(logw)).sum().item()
            recorded += it["durations"].sum().item()
    return recorded / predicted


def export(predictor, path, f0_stats, step, report):
    """The weights (f16) and the voice's log-F0 statistics; `range_scale` is how much wider the
    recorded intonation spans than the predicted one on held-out text (a regression pulls its
    values towards the mean): the engine's `--pitch-range 1` plays that, the voice's own span.
    `prosody.duration_scale` corrects the acoustic model's durations the same way."""
    weights = {f"intonation.{k}": v.detach().cpu().half().contiguous() for k, v in predictor.state_dict().items()}
    weights["intonation.log_f0_mean"] = torch.tensor([f0_stats["log_f0_mean"]])
    weights["intonation.log_f0_std"] = torch.tensor([f0_stats["log_f0_std"]])
    weights["intonation.range_scale"] = torch.tensor([report["recorded_span_st"] / report["span_st"]])
    weights["prosody.duration_scale"] = torch.tensor([report["duration_scale"]])
    save_file(weights, path + ".tmp", metadata={"step": str(step)})
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--acoustic", default=os.path.join(os.path.dirname(__file__), "checkpoints", "acoustic_last.pt"),
                    help="the acoustic model whose encoder the predictor reads (train_acoustic.py last.pt, "
                         "or train_pitched.py's last.pt / pitched_weights.pt)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=16, help="passes over the corpus (the committed predictor: 16)")
    ap.add_argument("--max-minutes", type=float, default=1e9, help="stop earlier (resumable)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--export-only", action="store_true", help="write the files from RUN/last.pt and stop")
    ap.add_argument("--teacher-length", type=float, default=1.0,
                    help="how much longer the teacher speaks at its defaults than in the corpus "
                         "(tools/eval/teacher_length.py; the committed voice: 1.019)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    states_path = os.path.join(args.run, "states.pt")
    if os.path.exists(states_path):
        cached = torch.load(states_path)
        items, f0_stats = cached["items"], cached["f0_stats"]
    else:
        data = base.prepare(args.corpus, os.path.join(args.run, "features.pt"))
        items, f0_stats = attach_pitch(data["items"], args.corpus)
        model = load_acoustic(args.acoustic, data["stats"])
        with torch.no_grad():
            for it in items:
                h, _ = encoder_states(model.encoder, it["ids"])
                it["hidden"] = h[0].half()
                it["target"], it["weight"] = phoneme_targets(it)
                del it["mel"]
        torch.save({"items": items, "f0_stats": f0_stats}, states_path)
        os.remove(os.path.join(args.run, "features.pt"))
    train, held = items[:-HELD_OUT], items[-HELD_OUT:]
    acoustic = load_acoustic(args.acoustic)
    channels = items[0]["hidden"].shape[0]

    torch.manual_seed(base.SEED)
    predictor = IntonationPredictor(channels).to(args.device)
    opt = torch.optim.AdamW(predictor.parameters(), lr=args.lr, weight_decay=1e-4)
    step, epoch = 0, 0
    last = os.path.join(args.run, "last.pt")
    if os.path.exists(last):
        state = torch.load(last, map_location=args.device)
        predictor.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, epoch = state["step"], state["epoch"]
        print(f"resumed at step {step}")
    print(f"{len(train)} utterances to learn from, {len(held)} held out")

    log_path = os.path.join(args.run, "losses.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "epoch", "pitch_loss", "seconds"])

    def checkpoint():
        torch.save({"model": predictor.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch},
                   last + ".tmp")
        os.replace(last + ".tmp", last)
        bias = duration_scale(acoustic, held)
        report = {"step": step, "epoch": epoch, **evaluate(predictor, held, f0_stats),
                  "duration_bias": bias, "teacher_length": args.teacher_length,
                  "duration_scale": bias * args.teacher_length}
        export(predictor, os.path.join(args.run, "intonation.safetensors"), f0_stats, step, report)
        with open(os.path.join(args.run, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
        log.flush()
        plot(args.run, ("pitch_loss",))
        print(f"checkpoint: {report}", flush=True)

    if args.export_only:
        checkpoint()
        return
    start = time.time()
    done = epoch >= args.epochs
    while not done:
        rng = random.Random(base.SEED + epoch)
        order = list(range(len(train)))
        rng.shuffle(order)
        for b in range(0, len(order), args.batch):
            sel = [train[i] for i in order[b:b + args.batch]]
            n = max(len(s["ids"]) for s in sel)
            h = torch.zeros(len(sel), channels, n)
            mask = torch.zeros(len(sel), 1, n)
            target = torch.zeros(len(sel), n)
            weight = torch.zeros(len(sel), n)
            for k, s in enumerate(sel):
                m = len(s["ids"])
                h[k, :, :m] = s["hidden"].float()
                mask[k, 0, :m] = 1
                target[k, :m] = s["target"]
                weight[k, :m] = s["weight"]
            t0 = time.time()
            pred = predictor(h.to(args.device), mask.to(args.device))
            weight = weight.to(args.device)
            loss = torch.sum(weight * (pred - target.to(args.device)) ** 2) / weight.sum().clamp(min=1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            writer.writerow([step, epoch, f"{loss.item():.5f}", f"{time.time() - t0:.3f}"])
            if (time.time() - start) / 60 > args.max_minutes:
                done = True
                break
        else:
            epoch += 1
            done = epoch >= args.epochs
            if epoch % 5 == 0 and not done:
                checkpoint()
    checkpoint()


if __name__ == "__main__":
    main()
