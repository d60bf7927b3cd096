"""Measures `mellow sing` against the singing bars: each note's F0 (Praat) over the voice's range
and an octave above it, a full pitch bend, and how long the vowel of notes from 80 ms to 4 s
lasts against the note-off. (Intelligibility: run the shared harness with a `mellow sing
--lyrics {text} --tune ...` command; see docs/singing.md.)

    python tools/eval/sing_eval.py [--mellow target/release/mellow] [--mellow-args '--vocoder F'] [--json]
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile

import numpy as np
import parselmouth
import soundfile as sf

from sing_pitch import measure

# The built-in voice speaks at 70-200 Hz (Praat, dev sentences): A2 (110 Hz) to A3 sits in it,
# A3 to A4 (440 Hz) an octave above.
RANGES = {
    "voice range A2-A3": "A2 C3 E3 G3 A3 F3 D3 B2 C3 E3",
    "octave above A3-A4": "A3 C4 E4 G4 A4 F4 D4 B3 C4 E4",
}
LYRIC = "la la la la la la la la la la"


EXTRA = []


def sing(mellow, out_dir, name, args):
    wav = os.path.join(out_dir, name + ".wav")
    notes = os.path.join(out_dir, name + ".json")
    subprocess.run([mellow, "sing", *args, *EXTRA, "-o", wav, "--notes-out", notes], check=True,
                   stderr=subprocess.DEVNULL)
    return wav, notes


def midi_file(path, notes, bends, bpm=120, ticks=480):
    """A one-track Standard MIDI File: notes (beat, beats, key), bends (beat, -1..1)."""
    events = [(0, bytes([0xFF, 0x51, 0x03]) + int(60e6 / bpm).to_bytes(3, "big"))]
    for beat, beats, key in notes:
        events.append((round(beat * ticks), bytes([0x90, key, 100])))
        events.append((round((beat + beats) * ticks), bytes([0x80, key, 0])))
    for beat, amount in bends:
        value = max(0, min(16383, round(8192 + amount * 8191)))
        events.append((round(beat * ticks), bytes([0xE0, value & 0x7F, value >> 7])))
    events.sort(key=lambda e: e[0])
    body, last = b"", 0
    for tick, data in events:
        delta, vlq = tick - last, []
        last = tick
        vlq.append(delta & 0x7F)
        while delta > 0x7F:
            delta >>= 7
            vlq.append((delta & 0x7F) | 0x80)
        body += bytes(reversed(vlq)) + data
    body += b"\x00\xFF\x2F\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks))
        f.write(b"MTrk" + struct.pack(">I", len(body)) + body)


def pitch_bars(mellow, out_dir):
    result = {}
    for name, tune in RANGES.items():
        wav, notes = sing(mellow, out_dir, name.split()[0], ["--lyrics", LYRIC, "--tune", tune, "--bpm", "90"])
        errs = np.array([r["error_st"] for r in measure(wav, notes)])
        ok = errs[~np.isnan(errs)]
        result[name] = {"notes": len(errs), "voiced": int(len(ok)),
                        "median_abs_st": round(float(np.median(np.abs(ok))), 3),
                        "max_abs_st": round(float(np.max(np.abs(ok))), 3),
                        "within_0.3": round(float(np.mean(np.abs(errs) <= 0.3)), 3)}
    return result


def bend_bar(mellow, out_dir):
    path = os.path.join(out_dir, "bend.mid")
    # One note (C3) of four beats at 120 bpm, bent fully up at beat 2.
    midi_file(path, [(0.2, 4.0, 48)], [(2.2, 1.0)])
    wav, _ = sing(mellow, out_dir, "bend", ["--lyrics", "la", "--midi", path])
    pitch = parselmouth.Sound(wav).to_pitch_ac(time_step=0.005, pitch_floor=50, pitch_ceiling=600)
    t, f0 = pitch.xs(), pitch.selected_array["frequency"]
    before = np.median(f0[(t > 0.4) & (t < 1.0) & (f0 > 0)])
    after = np.median(f0[(t > 1.4) & (t < 2.0) & (f0 > 0)])
    return {"asked_st": 2.0, "measured_st": round(float(12 * np.log2(after / before)), 3)}


def length_bar(mellow, out_dir):
    lengths = [0.08, 0.15, 0.3, 0.6, 1.0, 2.0, 4.0]
    notes, beat = [], 0.5
    for length in lengths:
        notes.append((beat, length * 2, 50))  # 120 bpm: a beat is 0.5 s
        beat += length * 2 + 1.5
    path = os.path.join(out_dir, "lengths.mid")
    midi_file(path, notes, [])
    wav, notes_json = sing(mellow, out_dir, "lengths", ["--lyrics", " ".join(["la"] * len(lengths)), "--midi", path])
    x, rate = sf.read(wav)
    window = int(rate * 0.005)
    peak = np.abs(x).max()
    rows = []
    for n in json.load(open(notes_json))["notes"]:
        lo, hi = int(n["start"] * rate), min(len(x), int((n["end"] + 0.3) * rate))
        loud = [at for at in range(lo, hi, window) if np.abs(x[at:at + window]).max() > 0.01 * peak]
        end = (loud[-1] + window) / rate
        rows.append({"length_s": round(n["end"] - n["start"], 3), "sound_end_minus_note_off_ms": round((end - n["end"]) * 1000, 1)})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--mellow-args", default="", help="extra sing options, e.g. '--vocoder FILE'")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    EXTRA.extend(args.mellow_args.split())
    with tempfile.TemporaryDirectory() as out_dir:
        result = {"pitch": pitch_bars(args.mellow, out_dir), "bend": bend_bar(args.mellow, out_dir),
                  "lengths": length_bar(args.mellow, out_dir)}
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
