"""Monotonic alignment search (Glow-TTS, arXiv 2005.11129, section 3.2), our own implementation.

Given the log-likelihood of every mel frame under every phoneme's prior, find the monotonic,
surjective alignment with the highest total: frames go to phonemes in order, every phoneme gets at
least one frame. Dynamic programming over frames, vectorised over phonemes with NumPy (the
matcha-tts wheel's Cython version does not load here):

    Q[i, j] = value[i, j] + max(Q[i, j - 1], Q[i - 1, j - 1])

then a backtrack from the last phoneme at the last frame. Durations are the column sums of the
path. `python tools/train/mas.py` checks it against exhaustive search on small random cases.
"""
import itertools

import numpy as np

NEG = -1e9


def maximum_path(value, text_len=None, mel_len=None):
    """Best monotonic path through `value` [T_text, T_mel] (numpy, any float dtype), restricted to
    the first `text_len` rows and `mel_len` columns; returns a 0/1 array of the same shape."""
    value = np.asarray(value, dtype=np.float64)
    t_text = value.shape[0] if text_len is None else int(text_len)
    t_mel = value.shape[1] if mel_len is None else int(mel_len)
    path = np.zeros(value.shape, dtype=np.int32)
    if t_text == 0 or t_mel == 0:
        return path
    if t_mel < t_text:
        raise ValueError(f"{t_mel} frames cannot cover {t_text} phonemes")
    v = value[:t_text, :t_mel]
    q = np.full((t_text, t_mel), NEG)
    q[0, 0] = v[0, 0]
    for j in range(1, t_mel):
        stay = q[:, j - 1]
        advance = np.concatenate(([NEG], q[:-1, j - 1]))
        q[:, j] = v[:, j] + np.maximum(stay, advance)
        # Phoneme i cannot be reached before frame i.
        if j < t_text - 1:
            q[j + 1:, j] = NEG
    i = t_text - 1
    for j in range(t_mel - 1, -1, -1):
        path[i, j] = 1
        if i > 0 and (i == j or q[i - 1, j - 1] >= q[i, j - 1]):
            i -= 1
    return path


def maximum_path_batch(values, text_lens, mel_lens):
    """[B, T_text, T_mel] → [B, T_text, T_mel] paths, each within its own lengths."""
    return np.stack([maximum_path(v, t, m) for v, t, m in zip(values, text_lens, mel_lens)])


def durations(path):
    """Frames per phoneme of a path [T_text, T_mel]."""
    return path.sum(axis=-1)


def _exhaustive(value):
    t_text, t_mel = value.shape
    best, best_d = -np.inf, None
    # Every split of t_mel frames into t_text runs of at least one frame.
    for cuts in itertools.combinations(range(1, t_mel), t_text - 1):
        bounds = (0,) + cuts + (t_mel,)
        total = sum(value[i, bounds[i]:bounds[i + 1]].sum() for i in range(t_text))
        if total > best:
            best, best_d = total, [bounds[i + 1] - bounds[i] for i in range(t_text)]
    return best, best_d


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    for case in range(300):
        t_text = int(rng.integers(1, 6))
        t_mel = int(rng.integers(t_text, 11))
        value = rng.normal(size=(t_text, t_mel))
        path = maximum_path(value)
        assert (path.sum(axis=0) == 1).all(), "every frame belongs to one phoneme"
        d = durations(path)
        assert (d >= 1).all() and d.sum() == t_mel
        starts = np.argmax(path, axis=1)
        assert (np.diff(starts) > 0).all(), "monotonic"
        best, best_d = _exhaustive(value)
        assert np.isclose((value * path).sum(), best), (case, d, best_d)
    # Padding beyond the lengths stays unaligned.
    p = maximum_path_batch(rng.normal(size=(2, 4, 9)), [3, 4], [7, 9])
    assert p[0, 3].sum() == 0 and p[0, :, 7:].sum() == 0 and p[1].sum() == 9
    print("maximum_path matches exhaustive search on 300 random cases")
