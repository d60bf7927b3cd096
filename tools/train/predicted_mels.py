"""The built-in acoustic model's mels for every utterance of a teacher corpus, with the teacher's
own durations (so that frame t of the mel lines up with frame t of the teacher's audio): what a
vocoder is given at run time, for `train_vocos.py --predicted-mels`.

    python tools/train/predicted_mels.py --corpus corpus --out runs/predicted-mels \
        [--mellow target/release/mellow] [--jobs 2]

Each utterance is rendered by `mellow render --conditioning` at the voice's default settings with
its own seed (its index), and its mel written as OUT/ID.npy. Re-running skips the mels that exist.
"""
import argparse
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor


def render(mellow, row, seed, out):
    target = os.path.join(out, row["id"] + ".npy")
    if os.path.exists(target):
        return
    with tempfile.TemporaryDirectory() as tmp:
        cond = os.path.join(tmp, "c.json")
        with open(cond, "w") as f:
            json.dump({"ids": row["ids"], "durations": row["durations"]}, f)
        subprocess.run([mellow, "render", "--conditioning", cond, "--seed", str(seed), "-o",
                        os.path.join(tmp, "x.wav"), "--mel-out", target], check=True,
                       env={**os.environ, "RAYON_NUM_THREADS": "1"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.corpus, "alignments.jsonl")) as f:
        rows = sorted((json.loads(line) for line in f), key=lambda r: r["id"])
    with ThreadPoolExecutor(args.jobs) as pool:
        for _ in pool.map(lambda ir: render(args.mellow, ir[1], ir[0], args.out), enumerate(rows)):
            pass
    print(f"{len(rows)} mels in {args.out}")


if __name__ == "__main__":
    main()
