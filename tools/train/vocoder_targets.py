"""A teacher vocoder's audio for a folder of mels (tools/train/predicted_mels.py): targets that are a
deterministic function of the inputs, for `train_vocos.py --vocoder-targets`. A student trained to
reproduce the teacher audio from the acoustic model's mels must guess what those mels lost, and
blurs; trained to reproduce a vocoder from the same mels it need not.

    python tools/train/vocoder_targets.py --mels runs/predicted-mels --vocoder teacher-vocoder.safetensors \
        --out runs/vocoder-targets [--mellow target/release/mellow] [--jobs 2]

Re-running skips the files that exist.
"""
import argparse
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mels", required=True)
    ap.add_argument("--vocoder", required=True, help="a Mellow vocoder file (the teacher)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    ids = sorted(f[:-4] for f in os.listdir(args.mels) if f.endswith(".npy"))

    def render(utt):
        target = os.path.join(args.out, utt + ".wav")
        if not os.path.exists(target):
            subprocess.run([args.mellow, "render", "--mel", os.path.join(args.mels, utt + ".npy"),
                            "--vocoder", args.vocoder, "-o", target], check=True,
                           env={**os.environ, "RAYON_NUM_THREADS": "1"})

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(render, ids))
    print(f"{len(ids)} targets in {args.out}")


if __name__ == "__main__":
    main()
