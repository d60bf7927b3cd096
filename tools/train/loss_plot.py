"""RUN/losses.csv → RUN/losses.png for the training scripts: each loss smoothed over a fiftieth of
the run (those in `raw`, evaluated only now and then, as they are), log scale."""
import csv
import os

import numpy as np


def plot(run, keys, raw=()):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(os.path.join(run, "losses.csv"))))
    if not rows:
        return
    step = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4))
    for key in keys:
        vals = np.array([float(r[key]) for r in rows])
        k = 1 if key in raw else max(1, len(vals) // 50)
        smooth = np.convolve(vals, np.ones(k) / k, mode="valid")
        ax.plot(step[k - 1:], smooth, label=key)
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(run, "losses.png"), dpi=90)
    plt.close(fig)
