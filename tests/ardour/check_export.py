"""Checks a DAW export of the Mellow instrument against the phrase Mellow renders by itself.

    python3 check_export.py EXPORT.wav REFERENCE.wav [--note-at SECONDS]

The export must hold the phrase starting at the note's time (within 10 ms: the onset of each file
is the first 5 ms window louder than -40 dB below its own loudest window) at a plausible level
(peak between -30 and 0 dBFS), and not be silent. Standard library only.
"""
import argparse
import math
import struct
import sys


def read_wav(path):
    """Mono samples (channels averaged) in [-1, 1] and the rate, for PCM 16/24/32 and float32."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        sys.exit(f"{path}: not a WAV file")
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            samples = body
        pos += 8 + size + (size & 1)
    if fmt is None or samples is None:
        sys.exit(f"{path}: no fmt or data chunk")
    tag, channels, rate, bits = fmt
    width = bits // 8
    n = len(samples) // width
    if tag == 3 and bits == 32:
        values = struct.unpack(f"<{n}f", samples[:n * 4])
    elif tag == 1 and bits == 16:
        values = [v / 32768 for v in struct.unpack(f"<{n}h", samples[:n * 2])]
    elif tag == 1 and bits == 32:
        values = [v / 2 ** 31 for v in struct.unpack(f"<{n}i", samples[:n * 4])]
    elif tag == 1 and bits == 24:
        values = [int.from_bytes(samples[i:i + 3], "little", signed=True) / 2 ** 23 for i in range(0, n * 3, 3)]
    else:
        sys.exit(f"{path}: unsupported WAV format {fmt}")
    mono = [sum(values[i:i + channels]) / channels for i in range(0, len(values) - channels + 1, channels)]
    return mono, rate


def onset(x, rate):
    """Start of the first 5 ms window within 40 dB of the loudest one, in seconds."""
    w = max(1, rate // 200)
    rms = [math.sqrt(sum(v * v for v in x[i:i + w]) / w) for i in range(0, len(x) - w + 1, w)]
    loudest = max(rms) if rms else 0.0
    if loudest <= 0:
        return None
    first = next(i for i, r in enumerate(rms) if r >= loudest * 0.01)
    return first * w / rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("export")
    ap.add_argument("reference")
    ap.add_argument("--note-at", type=float, default=0.0)
    args = ap.parse_args()
    x, rate = read_wav(args.export)
    ref, ref_rate = read_wav(args.reference)
    peak = max((abs(v) for v in x), default=0.0)
    if peak == 0.0:
        sys.exit(f"{args.export}: silent")
    got, want = onset(x, rate), args.note_at + onset(ref, ref_rate)
    peak_db = 20 * math.log10(peak)
    print(f"{args.export}: {len(x) / rate:.2f} s at {rate} Hz, peak {peak_db:.1f} dBFS, "
          f"phrase onset {got * 1e3:.1f} ms (expected {want * 1e3:.1f} ms)")
    failures = []
    if abs(got - want) > 0.010:
        failures.append(f"the phrase starts at {got * 1e3:.1f} ms, not {want * 1e3:.1f} ms (±10 ms)")
    if not -30.0 <= peak_db <= 0.0:
        failures.append(f"implausible level: peak {peak_db:.1f} dBFS")
    if failures:
        sys.exit(f"{args.export}: " + "; ".join(failures))


if __name__ == "__main__":
    main()
