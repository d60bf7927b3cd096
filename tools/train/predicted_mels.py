"""The built-in acoustic model's mels for every utterance of a teacher corpus, with the teacher's
own durations (so that frame t of the mel lines up with frame t of the teacher's audio): what a
vocoder is given at run time, for `train_vocos.py --predicted-mels`.

    python tools/train/predicted_mels.py --corpus corpus --out runs/predicted-mels \
        [--mellow target/release/mellow] [--jobs 2]

Each utterance is rendered by `mellow render --conditioning` at the voice's default settings with
its own seed (its index), and its mel written as OUT/ID.npy. Re-running skips the mels that exist.

With `--voice` another voice file renders them (an F0-conditioned one, say), and `--with-f0` tells
it each utterance's own F0 as a frame-by-frame `pitch_hz` curve (the corpus's Praat track from
tools/corpus/extract_f0.py, unvoiced frames bridged in log-F0), so that the mel holds the
harmonics of the pitch its recording has. With several `--corpus` folders (the corpus and its
WORLD-shifted copies, say) every utterance of each is rendered, the shifted ones at their own
shifted pitch:

    python tools/train/predicted_mels.py --corpus corpus --corpus corpus-shifted --out runs/pitched-mels \
        --voice runs/pitched-voice.safetensors --with-f0
"""
import argparse
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# The F0 a conditioning file may ask for (engine/src/conditioning.rs, F0_HZ).
F0_HZ = (30.0, 1000.0)


def own_f0(corpus, row):
    """The utterance's Praat F0 in Hz, one value per frame of its durations, unvoiced frames
    bridged by straight lines in log-F0 (the decoder's own voicing predictor says which frames
    are voiced); None when the track is missing or holds no voiced frame."""
    path = os.path.join(corpus, "f0", row["id"] + ".npz")
    if not os.path.exists(path):
        return None
    track = np.load(path)
    f0, voiced = track["f0"].astype(np.float64), track["voiced"].astype(bool) & (track["f0"] > 0)
    if not voiced.any():
        return None
    frames = int(round(sum(row["durations"])))
    f0 = np.pad(f0, (0, max(0, frames - len(f0))))[:frames]
    voiced = np.pad(voiced, (0, max(0, frames - len(voiced))))[:frames]
    at = np.arange(frames)
    log_f0 = np.interp(at, at[voiced], np.log(f0[voiced]))
    return [round(float(v), 2) for v in np.clip(np.exp(log_f0), *F0_HZ)]


def render(mellow, voice, corpus, row, seed, out, with_f0):
    target = os.path.join(out, row["id"] + ".npy")
    if os.path.exists(target):
        return
    conditioning = {"ids": row["ids"], "durations": row["durations"]}
    if with_f0:
        curve = own_f0(corpus, row)
        if curve is None:
            return
        conditioning["pitch_hz"] = curve
    with tempfile.TemporaryDirectory() as tmp:
        cond = os.path.join(tmp, "c.json")
        with open(cond, "w") as f:
            json.dump(conditioning, f)
        command = [mellow, "render", "--conditioning", cond, "--seed", str(seed), "-o",
                   os.path.join(tmp, "x.wav"), "--mel-out", target]
        if voice:
            command += ["--voice", voice]
        subprocess.run(command, check=True, env={**os.environ, "RAYON_NUM_THREADS": "1"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", action="append", required=True,
                    help="a folder with alignments.jsonl (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--voice", default=None, help="a voice file to render with (default: the built-in voice)")
    ap.add_argument("--with-f0", action="store_true",
                    help="tell the voice each utterance's own F0 from CORPUS/f0/ (an F0-conditioned voice)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for corpus in args.corpus:
        if not os.path.isfile(os.path.join(corpus, "alignments.jsonl")):
            ap.error(f"--corpus {corpus}: no alignments.jsonl (tools/corpus/make_corpus.py writes one)")
        if args.with_f0 and not os.path.isdir(os.path.join(corpus, "f0")):
            ap.error(f"--with-f0: {corpus} has no f0/ folder (run tools/corpus/extract_f0.py --data {corpus})")
    jobs = []
    for corpus in args.corpus:
        with open(os.path.join(corpus, "alignments.jsonl")) as f:
            rows = sorted((json.loads(line) for line in f), key=lambda r: r["id"])
        # Seeds count on from corpus to corpus, so the first corpus keeps the seeds it had alone.
        jobs += [(corpus, row, len(jobs) + i) for i, row in enumerate(rows)]
    with ThreadPoolExecutor(args.jobs) as pool:
        for _ in pool.map(lambda job: render(args.mellow, args.voice, job[0], job[1], job[2], args.out,
                                             args.with_f0), jobs):
            pass
    written = sum(os.path.exists(os.path.join(args.out, row["id"] + ".npy")) for _, row, _ in jobs)
    print(f"{written} of {len(jobs)} mels in {args.out}")


if __name__ == "__main__":
    main()
