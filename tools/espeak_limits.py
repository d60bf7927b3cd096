"""Find the inputs on which the system's libespeak-ng aborts, by experiment.

Each probe runs espeak_TextToPhonemes (as Mellow calls it) in a child process, so a crash only
ends the child. For each family of input it reports the smallest repeat count that crashes, with
and without the cutting Mellow's front end applies (words of at most 48 characters, periods read
as spaces). The results are in docs/espeak-limits.md.

    python3 tools/espeak_limits.py            # needs only libespeak-ng and espeak-ng-data
"""
import ctypes
import subprocess
import sys

CHILD = r"""
import ctypes, sys
lib = ctypes.CDLL("libespeak-ng.so.1")
assert lib.espeak_Initialize(2, 0, None, 0x8000) > 0
lib.espeak_SetVoiceByName(b"en-us")
lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
buf = ctypes.create_string_buffer(sys.stdin.buffer.read())
p = ctypes.c_void_p(ctypes.addressof(buf))
while p.value and lib.espeak_TextToPhonemes(ctypes.byref(p), 1, 2) is not None:
    pass
"""

MAX_WORD_CHARS = 48

FAMILIES = {
    "s' (stacked 's suffixes)": lambda n: "s'" * n,
    "dog + 's": lambda n: "dog" + "'s" * n,
    "kind + ness": lambda n: "kind" + "ness" * n,
    "kind + ness's": lambda n: "kind" + "ness's" * n,
    "dotted letters w.": lambda n: "w." * n,
    "dotted letters across words w.w.": lambda n: "w.w. " * n,
    "one letter a": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "apostrophes": lambda n: "'" * n,
    "percent signs": lambda n: "%" * n,
    "words": lambda n: "word " * n,
}


def crashes(text):
    r = subprocess.run([sys.executable, "-c", CHILD], input=text.encode(), capture_output=True)
    return r.returncode != 0


def guarded(text):
    """What Mellow's front end hands espeak-ng (text/espeak.rs, survivable_clause)."""
    words = text.replace(".", " ").split()
    return " ".join(w[i:i + MAX_WORD_CHARS] for w in words for i in range(0, len(w), MAX_WORD_CHARS))


def first_crash(make, transform=lambda t: t):
    prev = 1
    for n in [1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2000]:
        if crashes(transform(make(n))):
            return next(m for m in range(prev, n + 1) if crashes(transform(make(m))))
        prev = n
    return None


if __name__ == "__main__":
    print(f"{'family':36} {'crashes from':>14} {'chars':>7} {'after the guard':>16}")
    for name, make in FAMILIES.items():
        n = first_crash(make)
        g = first_crash(make, guarded)
        print(f"{name:36} {n or '-':>14} {len(make(n)) if n else '-':>7} {g or 'never (≤2000)':>16}", flush=True)
