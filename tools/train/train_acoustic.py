"""Train Mellow's acoustic model (Matcha-TTS encoder, duration predictor and flow-matching decoder,
built from the PyPI `matcha-tts` modules) on a teacher corpus from tools/corpus/make_corpus.py,
using the teacher's per-phoneme durations (default) or, with `--alignment mas`, none: monotonic
alignment search on the model's own prior, as for recordings that come without alignments.

    python tools/train/train_acoustic.py --corpus corpus --run runs/acoustic [--device cuda]
        [--max-minutes 90] [--threads 1] [--alignment teacher|mas]

Resumes from RUN/last.pt when it exists. Writes RUN/losses.csv, RUN/losses.png and, at every
checkpoint, RUN/weights.safetensors (inference weights in the reference's names) and
RUN/hparams.json; `mellow convert matcha RUN/weights.safetensors --phoneme-map ...` makes the voice.
"""
import argparse
import csv
import json
import math
import os
import random
import subprocess
import time
import wave

import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file

from loss_plot import plot


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mas import maximum_path_batch  # noqa: E402


def _alignment_search(value, mask):
    """Matcha's `monotonic_align.maximum_path(value, mask)` ([B, T_text, T_mel] tensors) done by our
    own search (tools/train/mas.py)."""
    m = mask.detach().cpu().numpy()
    paths = maximum_path_batch(value.detach().cpu().float().numpy(), m[:, :, 0].sum(axis=1), m[:, 0].sum(axis=1))
    return torch.from_numpy(paths).to(device=value.device, dtype=value.dtype)


# matcha-tts ships its alignment search as a Cython extension built against numpy 1, which does not
# load here; our own search takes its place (used with `--alignment mas`).
_mas = types.ModuleType("matcha.utils.monotonic_align")
_mas.maximum_path = _alignment_search
sys.modules.setdefault("matcha.utils.monotonic_align", _mas)
import matcha.utils  # noqa: E402

matcha.utils.monotonic_align = _mas

from matcha.models.matcha_tts import MatchaTTS  # noqa: E402
from matcha.utils.audio import mel_spectrogram  # noqa: E402
from matcha.utils.model import fix_len_compatibility  # noqa: E402

SEED = 1234


class Params(dict):
    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as e:
            raise AttributeError(key) from e


def model_config(n_vocab):
    """Sizes chosen to train on two CPU cores and to run far faster than real time."""
    encoder = Params(
        encoder_type="RoPE Encoder",
        encoder_params=Params(n_feats=80, n_channels=160, filter_channels=512, filter_channels_dp=192,
                              n_heads=2, n_layers=4, kernel_size=3, p_dropout=0.1, spk_emb_dim=64,
                              n_spks=1, prenet=True),
        duration_predictor_params=Params(filter_channels_dp=192, kernel_size=3, p_dropout=0.1),
    )
    decoder = Params(channels=[128, 128], dropout=0.05, attention_head_dim=64, n_blocks=1, num_mid_blocks=1,
                     num_heads=2, act_fn="snakebeta")
    cfm = Params(name="CFM", solver="euler", sigma_min=1e-4)
    return dict(n_vocab=n_vocab, n_spks=1, spk_emb_dim=64, n_feats=80, encoder=encoder, decoder=decoder, cfm=cfm)


def read_wav(path):
    """Mono audio at 22 050 Hz as floats (other rates, widths and layouts through librosa)."""
    try:
        with wave.open(path, "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (22050, 1, 2):
                return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    except wave.Error:
        pass
    import librosa

    audio, _ = librosa.load(path, sr=22050, mono=True)
    return audio.astype(np.float32)


def transcripts(corpus, mellow):
    """Ids of every utterance of an LJSpeech-style folder (`metadata.csv`: id|text[|normalised
    text]), phonemised by Mellow's own front end and mapped to the teacher's ids, as the built-in
    voice's corpus was."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
    from make_corpus import phonemize_lines, to_ids

    metadata = os.path.join(corpus, "metadata.csv")
    if not os.path.exists(metadata):
        sys.exit(f"{corpus} has neither alignments.jsonl nor metadata.csv (id|text per line)")
    with open(metadata, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("|") for line in f if line.strip()]
    bad = next((n for n, r in enumerate(rows, 1) if len(r) < 2 or not r[0].strip()), None)
    if bad is not None:
        sys.exit(f"{metadata}:{bad}: expected id|text")
    texts = [r[2] if len(r) > 2 and r[2].strip() else r[1] for r in rows]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "joe_phonemes.json")) as f:
        id_map = json.load(f)["phoneme_id_map"]
    return [{"id": r[0], "ids": to_ids(p, id_map), "durations": None}
            for r, p in zip(rows, phonemize_lines(texts, mellow)) if p]


def prepare(corpus, cache, mellow="target/release/mellow"):
    """Log-mels (Matcha's front end), ids and, where the corpus has them (`alignments.jsonl`, from
    make_corpus.py), per-id durations for every utterance, cached as one file."""
    if os.path.exists(cache):
        return torch.load(cache)
    items = []
    aligned = os.path.join(corpus, "alignments.jsonl")
    if os.path.exists(aligned):
        with open(aligned) as f:
            rows = [json.loads(line) for line in f]
    else:
        rows = transcripts(corpus, mellow)
    rows.sort(key=lambda r: r["id"])
    for r in rows:
        path = os.path.join(corpus, "wavs", r["id"] + ".wav")
        if not os.path.exists(path):
            sys.exit(f"{path} is missing (utterance {r['id']})")
        audio = torch.from_numpy(read_wav(path))
        mel = mel_spectrogram(audio.unsqueeze(0), 1024, 80, 22050, 256, 1024, 0, 8000, center=False)[0]
        if r["durations"] is not None and mel.shape[1] != sum(r["durations"]):
            continue
        # The search gives every id at least one frame.
        if mel.shape[1] < len(r["ids"]):
            continue
        items.append({"id": r["id"], "ids": torch.tensor(r["ids"]), "mel": mel.half(),
                      "durations": None if r["durations"] is None else torch.tensor(r["durations"])})
    if not items:
        sys.exit(f"{corpus}: no utterance to train on (none with speech as long as its phonemes)")
    all_frames = torch.cat([it["mel"].float() for it in items], dim=1)
    stats = {"mel_mean": all_frames.mean().item(), "mel_std": all_frames.std().item()}
    data = {"items": items, "stats": stats}
    torch.save(data, cache)
    return data


def batches(items, frames_per_batch, rng):
    """Length-bucketed batches of about `frames_per_batch` mel frames."""
    order = sorted(range(len(items)), key=lambda i: items[i]["mel"].shape[1] + rng.random() * 40)
    out, cur, longest = [], [], 0
    for i in order:
        n = items[i]["mel"].shape[1]
        if cur and max(longest, n) * (len(cur) + 1) > frames_per_batch:
            out.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def collate(items, idx, stats, device):
    sel = [items[i] for i in idx]
    tx = max(len(s["ids"]) for s in sel)
    ty = fix_len_compatibility(max(s["mel"].shape[1] for s in sel))
    x = torch.zeros(len(sel), tx, dtype=torch.long)
    dur = torch.zeros(len(sel), 1, tx)
    y = torch.zeros(len(sel), 80, ty)
    for b, s in enumerate(sel):
        x[b, : len(s["ids"])] = s["ids"]
        if s["durations"] is not None:
            dur[b, 0, : len(s["durations"])] = s["durations"].float()
        y[b, :, : s["mel"].shape[1]] = (s["mel"].float() - stats["mel_mean"]) / stats["mel_std"]
    x_len = torch.tensor([len(s["ids"]) for s in sel])
    y_len = torch.tensor([s["mel"].shape[1] for s in sel])
    return [t.to(device) for t in (x, x_len, y, y_len, dur)]


def export(model, run, hp, stats):
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if k.startswith(("encoder.", "decoder.estimator.")) or k in ("mel_mean", "mel_std")}
    weights["mel_mean"] = torch.tensor(stats["mel_mean"])
    weights["mel_std"] = torch.tensor(stats["mel_std"])
    save_file(weights, os.path.join(run, "weights.safetensors.tmp"))
    os.replace(os.path.join(run, "weights.safetensors.tmp"), os.path.join(run, "weights.safetensors"))
    with open(os.path.join(run, "hparams.json"), "w") as f:
        json.dump({**hp, "data_statistics": stats}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-minutes", type=float, default=1e9)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--frames-per-batch", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--checkpoint-minutes", type=float, default=10)
    ap.add_argument("--alignment", choices=["teacher", "mas"], default="teacher",
                    help="per-phoneme durations from the teacher, or found by monotonic alignment search")
    ap.add_argument("--mellow", default="target/release/mellow",
                    help="phonemises a folder without alignments.jsonl (an LJSpeech-style metadata.csv)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    data = prepare(args.corpus, os.path.join(args.run, "features.pt"), args.mellow)
    items, stats = data["items"], data["stats"]
    if args.alignment == "teacher" and any(it["durations"] is None for it in items):
        sys.exit(f"{args.corpus} has no alignments.jsonl (per-phoneme durations): train it with --alignment mas")
    n_vocab = 256  # the teacher's id space (piper num_symbols)
    hp = model_config(n_vocab)
    torch.manual_seed(SEED)
    model = MatchaTTS(**hp, data_statistics=stats, out_size=None, prior_loss=True,
                      use_precomputed_durations=args.alignment == "teacher").to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    step, epoch = 0, 0
    last = os.path.join(args.run, "last.pt")
    if os.path.exists(last):
        state = torch.load(last, map_location=args.device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, epoch = state["step"], state["epoch"]
        print(f"resumed at step {step}")
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(items)} utterances, {params / 1e6:.2f} M parameters, stats {stats}")

    log_path = os.path.join(args.run, "losses.csv")
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "epoch", "dur_loss", "prior_loss", "diff_loss", "seconds"])

    def checkpoint():
        tmp = last + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch}, tmp)
        os.replace(tmp, last)
        export(model, args.run, hp, stats)
        log.flush()
        plot(args.run, ("dur_loss", "prior_loss", "diff_loss"))
        print(f"checkpoint at step {step}", flush=True)

    start = time.time()
    last_ckpt = time.time()
    model.train()
    done = False
    while not done:
        rng = random.Random(SEED + epoch)
        random.seed(SEED * 7 + epoch)
        torch.manual_seed(SEED * 13 + epoch)
        for idx in batches(items, args.frames_per_batch, rng):
            x, x_len, y, y_len, dur = collate(items, idx, stats, args.device)
            t0 = time.time()
            dur_loss, prior_loss, diff_loss, _ = model(x, x_len, y, y_len,
                                                       durations=dur if args.alignment == "teacher" else None)
            loss = dur_loss + prior_loss + diff_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            writer.writerow([step, epoch, f"{dur_loss.item():.5f}", f"{prior_loss.item():.5f}",
                             f"{diff_loss.item():.5f}", f"{time.time() - t0:.3f}"])
            if step % 50 == 0:
                print(f"step {step} epoch {epoch} dur {dur_loss.item():.3f} prior {prior_loss.item():.3f} "
                      f"diff {diff_loss.item():.3f} ({time.time() - t0:.2f} s/step)", flush=True)
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
