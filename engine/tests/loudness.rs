//! Loudness normalisation, measured with the engine's BS.1770 meter on what the built-in voice
//! speaks: the level asked for, peaks under -1 dBTP, `off` gives the raw level, a stream the
//! same samples as a render, and the committed calibration is what the voice measures today.

use mellow_engine::audio::loudness::{integrated_loudness, true_peak_db};
use mellow_engine::synth::loudness::measure_reference;
use mellow_engine::synth::{Loudness, DEFAULT_LOUDNESS};
use mellow_engine::voice::embedded::default_voice;
use mellow_engine::{SynthesisOptions, Synthesizer};

const SENTENCES: [&str; 4] = [
    "A quiet morning settled over the harbour as the boats went out.",
    "Is the library open on Sundays, or only during the week?",
    "Turn left at the second light.",
    "The invoice for three hundred and twelve dollars arrived on the fourth of May, two weeks late.",
];

fn synthesizer() -> Synthesizer {
    let voice = default_voice()
        .expect("this build embeds the default voice")
        .expect("the embedded voice loads");
    Synthesizer::new(&voice, None).expect("the voice builds")
}

fn speak(synth: &mut Synthesizer, text: &str, loudness: Option<Loudness>) -> (Vec<f32>, u32) {
    let opts = SynthesisOptions {
        loudness,
        ..Default::default()
    };
    let audio = synth.speak_text(text, &opts).expect("speaks");
    (audio.samples, audio.sample_rate)
}

#[test]
fn speech_comes_out_at_the_asked_loudness_under_the_true_peak_ceiling() {
    let mut synth = synthesizer();
    // At louder targets (-16) the peak limiter holds the ceiling and the level falls short by
    // about a decibel (the harmonic vocoder's peaks stand high above its loudness).
    for target in [None, Some(-23.0f32), Some(-26.0)] {
        let asked = target.unwrap_or(DEFAULT_LOUDNESS);
        let mut levels = Vec::new();
        for text in SENTENCES {
            let (samples, rate) = speak(&mut synth, text, target.map(Loudness::Target));
            let lufs = integrated_loudness(&samples, rate).expect("speech is not silence");
            levels.push(lufs);
            // Each utterance within 2.5 LU: a stream cannot measure before it plays, so the
            // level comes from the voice's calibration (see synth::loudness).
            assert!(
                (lufs - asked as f64).abs() < 2.5,
                "{text}: {lufs:.2} LUFS for {asked}"
            );
            let peak = true_peak_db(&samples);
            assert!(
                peak <= -1.0,
                "{text}: true peak {peak:.2} dBTP at {asked} LUFS"
            );
        }
        let mean = levels.iter().sum::<f64>() / levels.len() as f64;
        assert!(
            (mean - asked as f64).abs() < 1.2,
            "mean {mean:.2} LUFS for {asked}"
        );
    }
}

#[test]
fn off_is_the_raw_level_and_a_target_is_a_gain_on_it() {
    let mut synth = synthesizer();
    let text = SENTENCES[0];
    let (raw, rate) = speak(&mut synth, text, Some(Loudness::Raw));
    let reference = synth
        .loudness_reference()
        .expect("the built-in voice is calibrated");
    // -30 LUFS is below the raw level: no peak reaches the ceiling, so it is a pure gain.
    let (quiet, _) = speak(&mut synth, text, Some(Loudness::Target(-30.0)));
    let gain = 10f32.powf((-30.0 - reference) / 20.0);
    assert_eq!(raw.len(), quiet.len());
    let worst = raw
        .iter()
        .zip(&quiet)
        .map(|(r, q)| (r * gain - q).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-6, "{worst}");
    let raw_lufs = integrated_loudness(&raw, rate).unwrap();
    assert!(
        (raw_lufs - reference as f64).abs() < 3.0,
        "{raw_lufs} vs {reference}"
    );
}

#[test]
fn the_committed_calibration_is_what_the_voice_measures() {
    let mut synth = synthesizer();
    let stored = synth
        .loudness_reference()
        .expect("the built-in voice is calibrated");
    let measured = measure_reference(&mut synth).expect("measures");
    assert!(
        (stored - measured).abs() < 0.1,
        "stored {stored:.2} LUFS, measured {measured:.2}: recalibrate with \
         `mellow convert loudness --tensors engine/voices/default-tuning.safetensors`"
    );
}
