"""Measures what SSML and the timings promise, on WAVs rendered by `mellow render`:

- word timestamps: each dev sentence rendered with `--timings`, transcribed by faster-whisper
  (whisper-base, word timestamps); words paired where their normalised spelling matches in order;
  the median absolute difference of start times, per sentence and over all pairs; and against
  pocketsphinx's forced alignment of the same words (sentences whose written words are all in its
  dictionary), a second aligner that hears 10 ms frames;
- `<break time="500ms"/>`: the silence between the words around it, measured on the WAV (the
  longest run of 5 ms frames more than 40 dB below the render's peak, between the two words);
- `<prosody rate="50%">`: the span's length against the same words unmarked (from the timings);
- `<prosody pitch="+4st">`: the span's median F0 (Praat) against the same words unmarked;
- `<say-as interpret-as="characters">SSML</say-as>`: what whisper hears.

Run with the shared eval environment (faster-whisper and parselmouth):

    ~/.cache/tts-eval/.venv/bin/python tools/eval/directing.py \
        --sentences ../shared/eval/sentences_dev.txt [--mellow target/release/mellow] \
        [--eval-dir ../shared/eval] [-- extra render options]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import parselmouth
import soundfile

from sentence_file import read_sentences


def render(mellow, text, out, extra, ssml=False):
    cmd = [mellow, "render", text, "-o", out, "--timings"] + (["--ssml"] if ssml else []) + extra
    subprocess.run(cmd, check=True, capture_output=True)
    with open(out[:-4] + ".json", encoding="utf-8") as f:
        return json.load(f)


def norm(word):
    return re.sub(r"[^a-z0-9']", "", word.lower())


def whisper_model(eval_dir):
    sys.path.insert(0, eval_dir)
    import evaluate  # noqa: E402  (the shared harness: it assembles whisper-base once)
    from faster_whisper import WhisperModel

    return WhisperModel(str(evaluate._whisper_dir("whisper-base")), device="cpu", compute_type="int8", cpu_threads=2)


def heard_words(model, wav):
    segments, _ = model.transcribe(wav, language="en", beam_size=5, word_timestamps=True)
    return [(w.word.strip(), w.start, w.end) for s in segments for w in s.words]


def pair_words(ours, heard):
    """Pairs our words with whisper's where the normalised spellings match, in order."""
    import difflib

    a = [norm(w["text"]) for w in ours]
    b = [norm(w) for w, _, _ in heard]
    pairs = []
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            pairs.append((ours[block.a + k], heard[block.b + k]))
    return pairs


def pocketsphinx_starts(wav, words):
    """Forced alignment of `words` (lower case, in CMUdict) to `wav`: each word's start."""
    from pocketsphinx import Decoder
    from scipy.signal import resample_poly

    decoder = Decoder(lm=None, samprate=16000, loglevel="FATAL")
    if any(not decoder.lookup_word(w) for w in words):
        return None
    x, rate = soundfile.read(wav)
    pcm = (np.clip(resample_poly(x, 16000, rate), -1, 1) * 32767).astype(np.int16).tobytes()
    decoder.set_align_text(" ".join(words))
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    return [s.start_frame / 100 for s in decoder.seg() if s.word not in ("<s>", "</s>", "<sil>", "(NULL)")]


def longest_silence(wav, start_s, end_s, floor_db=-40.0, frame_s=0.005):
    samples, rate = soundfile.read(wav)
    peak = np.max(np.abs(samples)) + 1e-9
    hop = int(frame_s * rate)
    lo, hi = int(start_s * rate), int(end_s * rate)
    region = samples[lo:hi]
    frames = len(region) // hop
    rms = np.sqrt(np.mean(region[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    quiet = 20 * np.log10(rms / peak) < floor_db
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best * frame_s


def median_f0(wav, start_s, end_s):
    pitch = parselmouth.Sound(wav).to_pitch_ac(time_step=0.01, pitch_floor=60, pitch_ceiling=400)
    f0 = pitch.selected_array["frequency"]
    times = pitch.xs()
    voiced = f0[(times >= start_s) & (times <= end_s) & (f0 > 0)]
    return float(np.median(voiced)) if len(voiced) else float("nan")


def word_span(timings, first, last):
    words = timings["words"]
    i = next(k for k, w in enumerate(words) if norm(w["text"]) == first)
    j = next(k for k, w in enumerate(words) if k >= i and norm(w["text"]) == last)
    return words[i]["start_seconds"], words[j]["end_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", required=True)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--eval-dir", default="../shared/eval")
    ap.add_argument("extra", nargs="*")
    args = ap.parse_args()
    model = whisper_model(args.eval_dir)
    tmp = tempfile.mkdtemp()
    wav = lambda name: os.path.join(tmp, name + ".wav")  # noqa: E731

    diffs, signed, per_sentence, aligned = [], [], [], []
    for n, text in enumerate(read_sentences(args.sentences)):
        timings = render(args.mellow, text, wav(f"s{n}"), args.extra)
        pairs = pair_words(timings["words"], heard_words(model, wav(f"s{n}")))
        d = [abs(ours["start_seconds"] - start) for ours, (_, start, _) in pairs]
        signed += [ours["start_seconds"] - start for ours, (_, start, _) in pairs]
        diffs += d
        spoken = [re.sub(r"[^a-z']", "", w["text"].lower()) for w in timings["words"]]
        starts = pocketsphinx_starts(wav(f"s{n}"), spoken) if all(spoken) else None
        if starts and len(starts) == len(spoken):
            aligned += [abs(w["start_seconds"] - s) for w, s in zip(timings["words"], starts)]
        per_sentence.append(float(np.median(d)) if d else float("nan"))
        print(f"sentence {n}: {len(pairs)}/{len(timings['words'])} words paired, median |start diff| {per_sentence[-1] * 1000:.0f} ms")
    print(f"word starts: median |diff| {np.median(diffs) * 1000:.0f} ms over {len(diffs)} words "
          f"(p90 {np.percentile(diffs, 90) * 1000:.0f} ms; median of sentence medians {np.nanmedian(per_sentence) * 1000:.0f} ms; "
          f"ours minus whisper's: median {np.median(signed) * 1000:+.0f} ms)")
    print(f"word starts against pocketsphinx's forced alignment: median |diff| {np.median(aligned) * 1000:.0f} ms over {len(aligned)} words")

    # Words that end and start voiced, so the silence on the WAV is the break's own (a final
    # "th" or "s" is quieter than the threshold and would count as silence).
    for n, (before, after) in enumerate([("here", "and"), ("home", "where"), ("now", "or")]):
        t = render(args.mellow, f'I will wait {before} <break time="500ms"/> {after} then go on.', wav(f"break{n}"), args.extra, ssml=True)
        (_, end), (start, _) = word_span(t, before, before), word_span(t, after, after)
        gap = longest_silence(wav(f"break{n}"), end - 0.15, start + 0.15)
        print(f"break 500ms between \"{before}\" and \"{after}\": silence on the WAV {gap * 1000:.0f} ms; word end to word start {(start - end) * 1000:.0f} ms")

    words = "these four words"
    plain = render(args.mellow, f"I will say {words} slowly.", wav("rate0"), args.extra)
    slow = render(args.mellow, f'I will say <prosody rate="50%">{words}</prosody> slowly.', wav("rate50"), args.extra, ssml=True)
    (p0, p1), (s0, s1) = word_span(plain, "these", "words"), word_span(slow, "these", "words")
    print(f"prosody rate 50%: span {p1 - p0:.3f} s → {s1 - s0:.3f} s, ×{(s1 - s0) / (p1 - p0):.3f}")

    high = render(args.mellow, f'I will say <prosody pitch="+4st">{words}</prosody> slowly.', wav("pitch4"), args.extra, ssml=True)
    (h0, h1) = word_span(high, "these", "words")
    shift = 12 * np.log2(median_f0(wav("pitch4"), h0, h1) / median_f0(wav("rate0"), p0, p1))
    print(f"prosody pitch +4st: median F0 moved {shift:+.2f} semitones")

    render(args.mellow, 'Spell <say-as interpret-as="characters">SSML</say-as> for me.', wav("sayas"), args.extra, ssml=True)
    print("say-as characters SSML: whisper hears \"" + " ".join(w for w, _, _ in heard_words(model, wav("sayas"))) + "\"")


if __name__ == "__main__":
    main()
