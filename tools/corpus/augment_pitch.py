"""Pitch-shifted copies of an LJSpeech-style corpus, formants kept: WORLD analysis (the corpus's
own Praat F0 from tools/corpus/extract_f0.py when there is one, else Harvest; CheapTrick for the
spectral envelope, D4C for aperiodicity) and re-synthesis with the F0 multiplied by 2^(s/12) and
the envelope unchanged, so a model trained on them learns wide pitch without the "chipmunk"
formants of resampling. Durations stay those of the source utterance. (WORLD's faster DIO tracker
doubles this voice's F0 on many frames, which would shift by an octave more than asked.)

For each source utterance ID and each shift s it writes OUT/wavs/ID_p{s:+d}.wav, appends the
utterance to OUT/metadata.csv and OUT/alignments.jsonl (same phonemes and durations), so the
folder is itself a corpus for tools/corpus/extract_f0.py and the trainers.

    pip install pyworld numpy
    python tools/corpus/augment_pitch.py --corpus corpus --out corpus-shifted \
        --shifts -12 -7 -4 4 7 12 [--every 4] [--jobs 1]

`--every N` takes every Nth utterance. Re-running skips files that exist.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import wave

import numpy as np

RATE = 22050
HOP_MS = 256 / RATE * 1000  # WORLD frames at the acoustic model's hop


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768.0


def write_wav(path, x):
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def shift(job):
    src, f0_path, outs = job
    import pyworld

    x = read_wav(src)
    if f0_path and os.path.exists(f0_path):
        # Praat's F0 frames sit at t * 256 samples: WORLD's frame times at this frame period.
        given = np.load(f0_path)["f0"].astype(np.float64)
        t = np.arange(len(x) // 256 + 1) * HOP_MS / 1000
        f0 = np.pad(given, (0, max(0, len(t) - len(given))))[: len(t)]
    else:
        f0, t = pyworld.harvest(x, RATE, f0_floor=50.0, f0_ceil=500.0, frame_period=HOP_MS)
    sp = pyworld.cheaptrick(x, f0, t, RATE)
    ap = pyworld.d4c(x, f0, t, RATE)
    peak = np.max(np.abs(x)) or 1.0
    for path, semitones in outs:
        y = pyworld.synthesize(f0 * 2 ** (semitones / 12), sp, ap, RATE, frame_period=HOP_MS)[: len(x)]
        y = np.pad(y, (0, len(x) - len(y)))
        # Same peak as the source: loudness is not what changes.
        y *= peak / (np.max(np.abs(y)) or 1.0)
        write_wav(path, y)
    return src


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shifts", type=int, nargs="+", default=[-12, -7, -4, 4, 7, 12])
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "wavs"), exist_ok=True)
    with open(os.path.join(args.corpus, "alignments.jsonl")) as f:
        rows = sorted((json.loads(line) for line in f), key=lambda r: r["id"])[:: args.every]
    meta = {}
    with open(os.path.join(args.corpus, "metadata.csv"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            meta[parts[0]] = parts
    jobs, new_rows = [], []
    for r in rows:
        outs = []
        for s in args.shifts:
            out_id = f"{r['id']}_p{s:+d}"
            path = os.path.join(args.out, "wavs", out_id + ".wav")
            new_rows.append((out_id, r, meta.get(r["id"], [r["id"], ""])))
            if not os.path.exists(path):
                outs.append((path, s))
        if outs:
            f0_path = os.path.join(args.corpus, "f0", r["id"] + ".npz")
            jobs.append((os.path.join(args.corpus, "wavs", r["id"] + ".wav"), f0_path, outs))
    print(f"{len(rows)} utterances x {len(args.shifts)} shifts, {sum(len(o) for _, _, o in jobs)} to make",
          file=sys.stderr)
    with mp.Pool(args.jobs) as pool:
        for k, _ in enumerate(pool.imap_unordered(shift, jobs)):
            if (k + 1) % 50 == 0:
                print(f"{k + 1}/{len(jobs)}", file=sys.stderr, flush=True)
    made = [(i, r, m) for i, r, m in new_rows if os.path.exists(os.path.join(args.out, "wavs", i + ".wav"))]
    with open(os.path.join(args.out, "metadata.csv"), "w", encoding="utf-8") as f:
        for out_id, _, m in made:
            f.write("|".join([out_id, *m[1:]]) + "\n")
    with open(os.path.join(args.out, "alignments.jsonl"), "w") as f:
        for out_id, r, _ in made:
            f.write(json.dumps({**r, "id": out_id}, ensure_ascii=False) + "\n")
    print(f"{len(made)} utterances in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
