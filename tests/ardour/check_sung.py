"""Checks a DAW export of the Mellow instrument in sing mode: the melody of
mellow_test_melody.lua, each note sung at its pitch from its note-on.

    python3 check_sung.py EXPORT.wav [--latency SECONDS]

For each note: quiet in the 50 ms before it is due; its first sound (the first sample louder
than 1e-4) within 1 ms of the note-on, plus `--latency` where the host
does not compensate the plugin's reported latency; the median F0 over the middle of the note
within 0.3 semitones of the key; sound still 20 ms before the note-off. Standard library only.
"""
import argparse
import math
import sys

from check_export import read_wav

# key, note-on, note-off in seconds: as in mellow_test_melody.lua
NOTES = [(48, 0.3, 0.8), (55, 1.3, 1.8), (60, 2.3, 2.8)]
QUIET = 1e-4


def f0_track(x, rate, lo=60.0, hi=400.0):
    """F0 in Hz of 40 ms frames every 10 ms (normalised autocorrelation on the signal decimated to
    about 12 kHz, parabolic peak), None where unvoiced."""
    step = max(1, rate // 12000)
    y = [sum(x[i:i + step]) / step for i in range(0, len(x) - step + 1, step)]
    r = rate / step
    frame, hop = int(0.04 * r), int(0.01 * r)
    lags = range(int(r / hi), int(r / lo) + 1)
    out = []
    for start in range(0, len(y) - frame - lags[-1], hop):
        a = y[start:start + frame]
        energy = sum(v * v for v in a)
        if energy <= 1e-9:
            out.append(None)
            continue
        scores = []
        for lag in lags:
            b = y[start + lag:start + lag + frame]
            scores.append(sum(p * q for p, q in zip(a, b)) / math.sqrt(energy * sum(v * v for v in b) + 1e-12))
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] < 0.6 or best in (0, len(scores) - 1):
            out.append(None)
            continue
        s0, s1, s2 = scores[best - 1], scores[best], scores[best + 1]
        shift = 0.5 * (s0 - s2) / (s0 - 2 * s1 + s2) if s0 - 2 * s1 + s2 != 0 else 0.0
        out.append(r / (lags[best] + shift))
    return out


def semitones(hz):
    return 69 + 12 * math.log2(hz / 440)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export")
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    x, rate = read_wav(args.export)
    failures = []
    for key, on, off in NOTES:
        due = round((on + args.latency) * rate)
        end = round((off + args.latency) * rate)
        # The note before has died away 50 ms before this one is due.
        before = max((abs(v) for v in x[due - round(0.05 * rate):due]), default=0)
        if before > QUIET:
            failures.append(f"key {key}: sound in the 50 ms before its time ({before:.4f})")
            continue
        first = next((i for i in range(due - round(0.05 * rate), len(x)) if abs(x[i]) > QUIET), None)
        if first is None:
            failures.append(f"key {key}: silent")
            continue
        onset_ms = (first - due) * 1000 / rate
        middle = x[due + round(0.15 * rate):end - round(0.02 * rate)]
        f0 = sorted(f for f in f0_track(middle, rate) if f)
        sung = semitones(f0[len(f0) // 2]) if len(f0) >= 5 else None
        held = max((abs(v) for v in x[end - round(0.03 * rate):end - round(0.02 * rate)]), default=0)
        print(f"key {key}: first sound {onset_ms:+.2f} ms from its due time, sung "
              + (f"{sung:.2f}" if sung else "unvoiced") + f", {len(f0)} voiced frames, "
              f"peak 20-30 ms before note-off {held:.3f}")
        if abs(onset_ms) > 1.0:
            failures.append(f"key {key}: first sound {onset_ms:+.2f} ms from its due time")
        if sung is None or abs(sung - key) > 0.3:
            failures.append(f"key {key}: sung {sung}")
        if held < 0.01:
            failures.append(f"key {key}: silent before its note-off")
    if failures:
        sys.exit(f"{args.export}: " + "; ".join(failures))
    print(f"{args.export}: every note on time and in tune")


if __name__ == "__main__":
    main()
