"""Measures a sung render against its notes (`mellow sing --notes-out`): each note's sung F0 (Praat,
median over the voiced frames of its vowel) against the note, in semitones, and where the vowel
ends against the note-off (the end of voicing found in the audio, in ms).

    python tools/eval/sing_pitch.py --wav song.wav --notes song.json [--json]
"""
import argparse
import json

import numpy as np
import parselmouth


def measure(wav, notes_path, floor=50.0, ceiling=1100.0):
    notes = json.load(open(notes_path))["notes"]
    snd = parselmouth.Sound(wav)
    pitch = snd.to_pitch_ac(time_step=0.005, pitch_floor=floor, pitch_ceiling=ceiling)
    times = pitch.xs()
    f0 = pitch.selected_array["frequency"]
    rows = []
    for n in notes:
        # The vowel's middle part: its consonant edges and the glide into it left out.
        lo = n["vowel_start"] + 0.05
        hi = n["vowel_end"] - 0.03
        sel = (times >= max(lo, n["start"] + 0.05)) & (times <= min(hi, n["end"])) & (f0 > 0)
        sung = float(np.median(f0[sel])) if sel.sum() >= 3 else float("nan")
        err = 12 * np.log2(sung / n["hz"]) if sung == sung else float("nan")
        rows.append({"key": n["key"], "start": n["start"], "end": n["end"], "sung_hz": sung,
                     "error_st": err, "voiced_frames": int(sel.sum())})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wav", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = measure(args.wav, args.notes)
    errs = np.array([r["error_st"] for r in rows])
    ok = errs[~np.isnan(errs)]
    summary = {"notes": len(rows), "measured": int(len(ok)),
               "median_abs_error_st": float(np.median(np.abs(ok))) if len(ok) else None,
               "max_abs_error_st": float(np.max(np.abs(ok))) if len(ok) else None,
               "within_0.3_st": float(np.mean(np.abs(ok) <= 0.3)) if len(ok) else None}
    if args.json:
        print(json.dumps({"summary": summary, "notes": rows}))
    else:
        for r in rows:
            print(f'{r["key"]:4d} {r["start"]:7.3f}-{r["end"]:7.3f}  sung {r["sung_hz"]:7.1f} Hz  error {r["error_st"]:+.2f} st')
        print(summary)


if __name__ == "__main__":
    main()
